//! Helpers for server-rendered pages: the context every page template gets, and redirects.

use minijinja::Value;

use crate::TenantContext;
use crate::rights::{Grants, Right};
use crate::sessions::Authenticated;

/// Returns the base template context: `tenant` (name, customer number), `user` (display name,
/// the administrator flag and `can.<right code>` for each held right, or none) and `section` (which navigation entry is current).
pub fn base_context(tenant: &TenantContext, user: Option<&Authenticated>, section: &str) -> Value {
    let user = user.map(|signed_in| {
        minijinja::context! {
            display_name => signed_in.account.display_name,
            username => signed_in.account.username,
            is_planner => signed_in.is_planner(),
            is_administrator => signed_in.is_administrator(),
            can => rights_flags(&signed_in.grants),
        }
    });
    minijinja::context! {
        tenant => minijinja::context! {
            name => tenant.name,
            customer_number => tenant.customer_number,
        },
        user => user,
        section => section,
    }
}

/// Returns `{<right code>: true}` for each right held, for the navigation.
fn rights_flags(grants: &Grants) -> Value {
    Value::from_iter(
        Right::ALL
            .into_iter()
            .map(|right| (right.code(), grants.has(right))),
    )
}
