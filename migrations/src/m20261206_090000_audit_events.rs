//! Adds the per-tenant audit log (`audit_events`) and the tenant setting that says how many days
//! its rows are kept.
//!
//! The actor is stored as an id and a display name without a foreign key. The composite key
//! `(tenant_id, actor_account_id)` → `accounts (tenant_id, id)` could only clear the actor with
//! `ON DELETE SET NULL`, which would also clear the `NOT NULL` `tenant_id`, and a plain key to
//! `accounts (id)` would not keep the reference inside the tenant. The log must also outlive the
//! accounts it names, so the stored name is what the log page shows.

use sea_orm_migration::prelude::*;

use crate::m20261204_230000_row_level_security::enable_tenant_policy;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_090000_audit_events"
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
    AuditRetentionDays,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    OccurredAt,
    ActorAccountId,
    ActorName,
    Action,
    TargetKind,
    TargetId,
    TargetName,
    SourceIp,
    Details,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::ActorAccountId)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::ActorName)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::Action)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::TargetKind)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::TargetId).big_integer().null())
                    .col(
                        ColumnDef::new(AuditEvents::TargetName)
                            .string_len(200)
                            .null(),
                    )
                    .col(ColumnDef::new(AuditEvents::SourceIp).string_len(45).null())
                    .col(ColumnDef::new(AuditEvents::Details).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditEvents::Table, AuditEvents::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Serves the log page (newest first per tenant) and the retention delete.
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_tenant_occurred")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(TenantSettings::Table)
                    .add_column(
                        ColumnDef::new(TenantSettings::AuditRetentionDays)
                            .integer()
                            .not_null()
                            .default(365),
                    )
                    .to_owned(),
            )
            .await?;
        enable_tenant_policy(manager, "audit_events").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TenantSettings::Table)
                    .drop_column(TenantSettings::AuditRetentionDays)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}
