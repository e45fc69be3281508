//! Records which outbox worker holds a claim on a mail, so several instances can send from one
//! outbox without sending a mail twice.
//!
//! A worker writes its random id into `claimed_by` together with the claim's `locked_until`. It
//! records the outcome of a delivery only while `claimed_by` still holds its id, so a worker whose
//! claim expired and was taken over cannot overwrite the new owner's result.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_090000_outbox_claims"
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    ClaimedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(ColumnDef::new(Outbox::ClaimedBy).string_len(36).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::ClaimedBy)
                    .to_owned(),
            )
            .await
    }
}
