//! Database migrations, one file per change, applied in order by `mep24web migrate` and at start-up.

pub use sea_orm_migration::prelude::*;

mod m20261204_000001_initial;
mod m20261204_203000_invitation_code_failures;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_initial::Migration),
            Box::new(m20261204_203000_invitation_code_failures::Migration),
        ]
    }
}
