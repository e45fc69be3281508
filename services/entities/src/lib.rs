//! sea-orm entities for every table.
//!
//! Tenant-owned entities implement [`TenantOwned`], which the scoped repositories use to add the
//! tenant filter; code outside them never filters by tenant by hand.

pub mod account;
pub mod account_totp;
pub mod audit_event;
pub mod employee;
pub mod invitation;
pub mod org_unit;
pub mod outbox;
pub mod password_token;
pub mod platform_state;
pub mod recovery_code;
pub mod session;
pub mod tenant;
pub mod tenant_domain;
pub mod tenant_settings;
pub mod user_group;
pub mod user_group_right;

use sea_orm::EntityTrait;

/// An entity whose rows belong to one tenant through a `tenant_id` column.
pub trait TenantOwned: EntityTrait {
    /// Returns the `tenant_id` column.
    fn tenant_column() -> Self::Column;
}

macro_rules! tenant_owned {
    ($($module:ident),*) => {
        $(impl TenantOwned for $module::Entity {
            fn tenant_column() -> Self::Column {
                $module::Column::TenantId
            }
        })*
    };
}

tenant_owned!(
    account,
    account_totp,
    audit_event,
    employee,
    invitation,
    org_unit,
    outbox,
    password_token,
    recovery_code,
    session,
    tenant_domain,
    tenant_settings,
    user_group,
    user_group_right
);
