//! Self-service password reset by email, for employees and planners of tenants that turned it
//! on (Konfiguration → Einstellungen → Anmeldung).
//!
//! `/password/forgot` takes a username or an email address and always returns the same redirect,
//! whether or not an account matches, has an email address or the tenant allows the reset. The
//! lookup and the mail run in a background task after the response, so neither the page nor its
//! timing shows which accounts exist. The mail links to `/reset/{token}`, which
//! sets a new password once. A reset link is a `password_tokens` row with purpose `reset`,
//! stored as a hash, valid for [`VALID_MINUTES`], and a newer link replaces older ones.

use axum::routing::get;
use mep24web_platform::routes::{Access, RouteTable};

mod complete;
mod issue;
mod mail;
mod request;

/// The `password_tokens.purpose` of reset links.
const PURPOSE: &str = "reset";
/// Lifetime of a reset link, in minutes.
const VALID_MINUTES: i64 = 60;
/// Longest accepted username or email address in the request form, in characters.
const MAX_IDENTIFIER_CHARS: usize = 254;

/// Returns the routes `/password/forgot` and `/reset/{token}`.
pub fn routes() -> RouteTable {
    RouteTable::new()
        .get_post(
            "/password/forgot",
            get(request::show).post(request::submit),
            Access::Public,
        )
        .get_post(
            "/reset/{token}",
            get(complete::show).post(complete::submit),
            Access::Public,
        )
}
