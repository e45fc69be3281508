//! Counts wrong security codes per invitation, so the registration link stops working after
//! repeated guesses.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_203000_invitation_code_failures"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Invitations {
    Table,
    SecurityCodeFailures,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Invitations::Table)
                    .add_column(
                        ColumnDef::new(Invitations::SecurityCodeFailures)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Invitations::Table)
                    .drop_column(Invitations::SecurityCodeFailures)
                    .to_owned(),
            )
            .await
    }
}
