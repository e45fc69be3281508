//! Keeps at most one open invitation (neither used nor replaced) per employee, so an employee
//! never holds two valid registration links.
//!
//! Sending runs already serialize per tenant and replace the previous invitation. The partial
//! unique index makes the database reject a second open row should any code path miss that.
//! Rows that concurrent runs left open before this migration are closed first: every open
//! invitation but the newest of its employee is marked replaced, with its own creation time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_120000_one_open_invitation"
    }
}

const INDEX: &str = "ux_invitations_open_per_employee";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        // Row-level security is forced on `invitations`, for the table owner too, so the clean-up
        // must see every tenant's rows. On PostgreSQL the migrations run in one transaction,
        // which scopes the setting.
        if postgres {
            conn.execute_unprepared("SELECT set_config('mep24web.unscoped', 'on', true)")
                .await?;
        }
        conn.execute_unprepared(
            "UPDATE invitations SET replaced_at = created_at \
             WHERE used_at IS NULL AND replaced_at IS NULL \
             AND id NOT IN (SELECT max(id) FROM invitations \
             WHERE used_at IS NULL AND replaced_at IS NULL \
             GROUP BY tenant_id, employee_id)",
        )
        .await?;
        if postgres {
            conn.execute_unprepared("SELECT set_config('mep24web.unscoped', '', true)")
                .await?;
        }
        conn.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX {INDEX} ON invitations (tenant_id, employee_id) \
             WHERE used_at IS NULL AND replaced_at IS NULL"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {INDEX}"))
            .await?;
        Ok(())
    }
}
