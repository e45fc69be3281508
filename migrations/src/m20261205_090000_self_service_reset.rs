//! Adds the tenant setting that allows employees and planners to reset a forgotten password by
//! email themselves. Off unless the tenant's administrator turns it on.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_090000_self_service_reset"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum TenantSettings {
    Table,
    SelfServiceReset,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TenantSettings::Table)
                    .add_column(
                        ColumnDef::new(TenantSettings::SelfServiceReset)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TenantSettings::Table)
                    .drop_column(TenantSettings::SelfServiceReset)
                    .to_owned(),
            )
            .await
    }
}
