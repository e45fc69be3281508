//! Database migrations, one file per change, applied in order by `mep24web migrate` and at start-up.

pub use sea_orm_migration::prelude::*;

mod m20261204_000001_initial;
mod m20261204_203000_invitation_code_failures;
mod m20261204_220000_second_factor;
pub mod m20261204_230000_row_level_security;
mod m20261205_090000_self_service_reset;
mod m20261206_090000_audit_events;
mod m20261206_120000_one_open_invitation;
pub mod m20261207_090000_user_groups;
mod m20261208_090000_outbox_claims;
mod m20261209_090000_outbox_claim_order;
mod m20261210_090000_sessions_revoked_at;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_initial::Migration),
            Box::new(m20261204_203000_invitation_code_failures::Migration),
            Box::new(m20261204_220000_second_factor::Migration),
            Box::new(m20261204_230000_row_level_security::Migration),
            Box::new(m20261205_090000_self_service_reset::Migration),
            Box::new(m20261206_090000_audit_events::Migration),
            Box::new(m20261206_120000_one_open_invitation::Migration),
            Box::new(m20261207_090000_user_groups::Migration),
            Box::new(m20261208_090000_outbox_claims::Migration),
            Box::new(m20261209_090000_outbox_claim_order::Migration),
            Box::new(m20261210_090000_sessions_revoked_at::Migration),
        ]
    }
}
