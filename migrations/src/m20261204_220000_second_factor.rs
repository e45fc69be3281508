//! Two-factor login for planners: the TOTP secret and its state on `accounts`, the single-use
//! recovery codes, and the tenant setting that makes two-factor login mandatory for planners.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_220000_second_factor"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum TenantSettings {
    Table,
    RequireTotpForPlanners,
}

#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
    TenantId,
    /// Base32 secret, set when enrollment starts and before it is confirmed.
    TotpSecret,
    /// Time the planner confirmed enrollment with a code. `NULL` means two-factor login is off.
    TotpEnabledAt,
    /// The last accepted time step (Unix time / 30 s), so a code cannot be used twice.
    TotpLastStep,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecoveryCodes {
    Table,
    Id,
    TenantId,
    AccountId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

/// Adds one column to a table. SQLite takes one change per `ALTER TABLE`, so every column gets
/// its own statement.
async fn add_column<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(column.to_owned())
                .to_owned(),
        )
        .await
}

async fn drop_column<T: IntoIden + Copy + 'static, C: IntoIden + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    column: C,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            Accounts::Table,
            ColumnDef::new(Accounts::TotpSecret)
                .string_len(64)
                .null()
                .to_owned(),
        )
        .await?;
        add_column(
            manager,
            Accounts::Table,
            ColumnDef::new(Accounts::TotpEnabledAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        )
        .await?;
        add_column(
            manager,
            Accounts::Table,
            ColumnDef::new(Accounts::TotpLastStep)
                .big_integer()
                .null()
                .to_owned(),
        )
        .await?;
        add_column(
            manager,
            TenantSettings::Table,
            ColumnDef::new(TenantSettings::RequireTotpForPlanners)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(
                        ColumnDef::new(RecoveryCodes::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RecoveryCodes::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecoveryCodes::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecoveryCodes::CodeHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecoveryCodes::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecoveryCodes::UsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RecoveryCodes::Table, RecoveryCodes::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    // Includes tenant_id, so a code can never belong to another tenant's account.
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                RecoveryCodes::Table,
                                (RecoveryCodes::TenantId, RecoveryCodes::AccountId),
                            )
                            .to(Accounts::Table, (Accounts::TenantId, Accounts::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_recovery_codes_account_hash")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::TenantId)
                    .col(RecoveryCodes::AccountId)
                    .col(RecoveryCodes::CodeHash)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecoveryCodes::Table).to_owned())
            .await?;
        drop_column(
            manager,
            TenantSettings::Table,
            TenantSettings::RequireTotpForPlanners,
        )
        .await?;
        for column in [
            Accounts::TotpLastStep,
            Accounts::TotpEnabledAt,
            Accounts::TotpSecret,
        ] {
            drop_column(manager, Accounts::Table, column).await?;
        }
        Ok(())
    }
}
