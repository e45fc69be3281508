//! Adds `accounts.sessions_revoked_at`: when all of an account's sessions were last ended, by a
//! deactivation, a password reset or change, or a two-factor reset. A session created before it is
//! rejected, so a revocation holds even if the session store loses the deletion, as Redis can
//! after a crash or a failover to a replica that had not received it yet.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_090000_sessions_revoked_at"
    }
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    SessionsRevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(
                        ColumnDef::new(Accounts::SessionsRevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .drop_column(Accounts::SessionsRevokedAt)
                    .to_owned(),
            )
            .await
    }
}
