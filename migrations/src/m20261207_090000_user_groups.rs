//! Adds user groups (Benutzergruppen) with their rights, and creates the built-in groups
//! Administrator and Planer for every existing tenant.
//!
//! A planner account keeps naming its group in `accounts.role`, which already held
//! `administrator` or `planer`: those become the keys of the built-in groups, so existing accounts
//! keep their access. Until now planners of the Planer role reached only the start page; the
//! built-in Planer group gets the master data, invitation and employee login rights, which the
//! product describes as the planner's work.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, TryGetable};

use crate::m20261204_230000_row_level_security::enable_tenant_policy;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_090000_user_groups"
    }
}

/// Rights of the built-in Planer group.
pub const PLANER_RIGHTS: [&str; 4] = [
    "masterdata_view",
    "masterdata_edit",
    "employees_invite",
    "employee_logins",
];

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrgUnits {
    Table,
    TenantId,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserGroups {
    Table,
    Id,
    TenantId,
    Key,
    Name,
    NameKey,
    Builtin,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserGroupRights {
    Table,
    Id,
    TenantId,
    GroupId,
    RightCode,
    OrgUnitId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserGroups::Table)
                    .col(
                        ColumnDef::new(UserGroups::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(UserGroups::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UserGroups::Key).string_len(32).not_null())
                    .col(ColumnDef::new(UserGroups::Name).string_len(100).not_null())
                    .col(
                        ColumnDef::new(UserGroups::NameKey)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(UserGroups::Builtin).boolean().not_null())
                    .col(
                        ColumnDef::new(UserGroups::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserGroups::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserGroups::Table, UserGroups::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "ux_user_groups_tenant_id",
                [UserGroups::TenantId, UserGroups::Id],
            ),
            (
                "ux_user_groups_key",
                [UserGroups::TenantId, UserGroups::Key],
            ),
            (
                "ux_user_groups_name",
                [UserGroups::TenantId, UserGroups::NameKey],
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(UserGroups::Table)
                        .col(columns[0])
                        .col(columns[1])
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(UserGroupRights::Table)
                    .col(
                        ColumnDef::new(UserGroupRights::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(UserGroupRights::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserGroupRights::GroupId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserGroupRights::RightCode)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserGroupRights::OrgUnitId)
                            .big_integer()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserGroupRights::Table, UserGroupRights::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                UserGroupRights::Table,
                                (UserGroupRights::TenantId, UserGroupRights::GroupId),
                            )
                            .to(UserGroups::Table, (UserGroups::TenantId, UserGroups::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                UserGroupRights::Table,
                                (UserGroupRights::TenantId, UserGroupRights::OrgUnitId),
                            )
                            .to(OrgUnits::Table, (OrgUnits::TenantId, OrgUnits::Id))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_user_group_rights_group_right")
                    .table(UserGroupRights::Table)
                    .col(UserGroupRights::TenantId)
                    .col(UserGroupRights::GroupId)
                    .col(UserGroupRights::RightCode)
                    .unique()
                    .to_owned(),
            )
            .await?;
        enable_tenant_policy(manager, "user_groups").await?;
        enable_tenant_policy(manager, "user_group_rights").await?;
        create_builtin_groups(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserGroupRights::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UserGroups::Table).to_owned())
            .await
    }
}

/// Creates Administrator and Planer, with the Planer rights, for every tenant that exists.
async fn create_builtin_groups(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .column(Tenants::Id)
        .from(Tenants::Table)
        .to_owned();
    let tenant_ids: Vec<i64> = conn
        .query_all(backend.build(&select))
        .await?
        .iter()
        .map(|row| i64::try_get_by(row, 0usize).map_err(DbErr::from))
        .collect::<Result<_, _>>()?;
    for tenant_id in tenant_ids {
        for (key, name) in [("administrator", "Administrator"), ("planer", "Planer")] {
            let insert = Query::insert()
                .into_table(UserGroups::Table)
                .columns([
                    UserGroups::TenantId,
                    UserGroups::Key,
                    UserGroups::Name,
                    UserGroups::NameKey,
                    UserGroups::Builtin,
                    UserGroups::CreatedAt,
                    UserGroups::UpdatedAt,
                ])
                .values_panic([
                    tenant_id.into(),
                    key.into(),
                    name.into(),
                    key.into(),
                    true.into(),
                    Expr::current_timestamp().into(),
                    Expr::current_timestamp().into(),
                ])
                .to_owned();
            conn.execute(backend.build(&insert)).await?;
        }
        for right in PLANER_RIGHTS {
            let group = Query::select()
                .column(UserGroups::Id)
                .from(UserGroups::Table)
                .and_where(Expr::col(UserGroups::TenantId).eq(tenant_id))
                .and_where(Expr::col(UserGroups::Key).eq("planer"))
                .to_owned();
            let insert = Query::insert()
                .into_table(UserGroupRights::Table)
                .columns([
                    UserGroupRights::TenantId,
                    UserGroupRights::GroupId,
                    UserGroupRights::RightCode,
                ])
                .values_panic([
                    tenant_id.into(),
                    SimpleExpr::SubQuery(None, Box::new(group.into_sub_query_statement())),
                    right.into(),
                ])
                .to_owned();
            conn.execute(backend.build(&insert)).await?;
        }
    }
    Ok(())
}
