//! Row-level security on PostgreSQL: the second wall between tenants.
//!
//! Every tenant-owned table gets a policy that shows and accepts only rows whose `tenant_id`
//! equals the transaction setting `mep24web.tenant_id`. Code that must cross tenants (outbox
//! worker, app-token lookup, custom-domain lookup, operator tools) sets `mep24web.unscoped` to
//! `on` in its transaction instead. With neither setting, a query sees no rows. `FORCE` makes the
//! policies apply to the table owner too; only superusers and roles with `BYPASSRLS` skip them.
//! SQLite has no row-level security, so there the scoped repositories are the only wall.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_230000_row_level_security"
    }
}

/// The condition of every tenant policy.
pub const POLICY_CONDITION: &str = "tenant_id = NULLIF(current_setting('mep24web.tenant_id', true), '')::bigint \
     OR current_setting('mep24web.unscoped', true) = 'on'";

/// Enables and forces row-level security on one tenant-owned table with the tenant policy.
/// Later migrations that add a tenant-owned table call this too.
pub async fn enable_tenant_policy(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let conn = manager.get_connection();
    conn.execute_unprepared(&format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; \
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY; \
         CREATE POLICY tenant_isolation ON {table} \
         USING ({POLICY_CONDITION}) WITH CHECK ({POLICY_CONDITION});"
    ))
    .await?;
    Ok(())
}

/// Lists the tables of the current schema that have a `tenant_id` column: every tenant-owned
/// table that exists when this migration runs. PostgreSQL only.
pub async fn tenant_owned_tables(manager: &SchemaManager<'_>) -> Result<Vec<String>, DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(Vec::new());
    }
    let rows = manager
        .get_connection()
        .query_all(sea_orm_migration::sea_orm::Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'tenant_id' \
             ORDER BY table_name"
                .to_owned(),
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tenant_owned_tables(manager).await? {
            enable_tenant_policy(manager, &table).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for table in tenant_owned_tables(manager).await? {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "DROP POLICY IF EXISTS tenant_isolation ON {table}; \
                     ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; \
                     ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
                ))
                .await?;
        }
        Ok(())
    }
}
