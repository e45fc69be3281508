//! Initial schema: tenants, settings, organization tree, employees, logins, tokens, sessions, outbox.
//!
//! Every tenant-owned table has `tenant_id NOT NULL` and a unique `(tenant_id, id)` key, and every
//! foreign key between tenant-owned tables includes `tenant_id`, so a row can never point at a row
//! of another tenant.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000001_initial"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
    CustomerNumber,
    Slug,
    Name,
    Status,
    PrimaryDomain,
    TimeZone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TenantDomains {
    Table,
    Id,
    TenantId,
    Domain,
    Verified,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PlatformState {
    Table,
    Key,
    Value,
}

#[derive(DeriveIden, Clone, Copy)]
enum TenantSettings {
    Table,
    TenantId,
    MaxFailedLogins,
    LockoutMinutes,
    SecurityCode,
    ContactEmail,
    InvitationValidDays,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrgUnits {
    Table,
    Id,
    TenantId,
    ParentId,
    Kind,
    Name,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Employees {
    Table,
    Id,
    TenantId,
    PersonnelNumber,
    FirstName,
    LastName,
    Email,
    Phone,
    EntryDate,
    ExitDate,
    OrgUnitId,
    Language,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
    TenantId,
    Kind,
    Username,
    UsernameKey,
    PasswordHash,
    DisplayName,
    Role,
    Email,
    EmployeeId,
    Active,
    MustChangePassword,
    FailedAttempts,
    LockedUntil,
    Language,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PasswordTokens {
    Table,
    Id,
    TenantId,
    AccountId,
    Purpose,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invitations {
    Table,
    Id,
    TenantId,
    EmployeeId,
    Email,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    ReplacedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    TenantId,
    AccountId,
    Kind,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Outbox {
    Table,
    Id,
    TenantId,
    Recipient,
    ReplyTo,
    Subject,
    BodyText,
    BodyHtml,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedAt,
    SentAt,
}

fn id_column<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn optional_timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn tenant_column<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

/// Builds the foreign key from `table.tenant_id` to `tenants.id`.
fn tenant_fk<T: IntoIden + Copy + 'static>(
    table: T,
    tenant_column: T,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, tenant_column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// Builds a composite foreign key `(tenant_id, column)` → `(tenant_id, id)` of another
/// tenant-owned table, the key that keeps references inside one tenant.
fn scoped_fk<T: IntoIden + Copy + 'static, P: IntoIden + Copy + 'static>(
    table: T,
    tenant_column: T,
    column: T,
    parent: P,
    parent_tenant: P,
    parent_id: P,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, (tenant_column, column))
        .to(parent, (parent_tenant, parent_id))
        .on_delete(on_delete)
        .to_owned()
}

async fn unique_index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: Vec<T>,
) -> Result<(), DbErr> {
    let mut index = Index::create().name(name).table(table).unique().to_owned();
    for column in columns {
        index.col(column);
    }
    manager.create_index(index).await
}

async fn plain_index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: Vec<T>,
) -> Result<(), DbErr> {
    let mut index = Index::create().name(name).table(table).to_owned();
    for column in columns {
        index.col(column);
    }
    manager.create_index(index).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(id_column(Tenants::Id))
                    .col(
                        ColumnDef::new(Tenants::CustomerNumber)
                            .big_integer()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Tenants::Slug)
                            .string_len(63)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Tenants::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Tenants::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Tenants::PrimaryDomain)
                            .string_len(253)
                            .null(),
                    )
                    .col(ColumnDef::new(Tenants::TimeZone).string_len(64).not_null())
                    .col(timestamp(Tenants::CreatedAt))
                    .col(timestamp(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantDomains::Table)
                    .col(id_column(TenantDomains::Id))
                    .col(tenant_column(TenantDomains::TenantId))
                    .col(
                        ColumnDef::new(TenantDomains::Domain)
                            .string_len(253)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(TenantDomains::Verified).boolean().not_null())
                    .col(timestamp(TenantDomains::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        TenantDomains::Table,
                        TenantDomains::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlatformState::Table)
                    .col(
                        ColumnDef::new(PlatformState::Key)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(PlatformState::Value)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantSettings::Table)
                    .col(
                        ColumnDef::new(TenantSettings::TenantId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(TenantSettings::MaxFailedLogins)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantSettings::LockoutMinutes)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantSettings::SecurityCode)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TenantSettings::ContactEmail)
                            .string_len(254)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TenantSettings::InvitationValidDays)
                            .integer()
                            .not_null(),
                    )
                    .col(timestamp(TenantSettings::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        TenantSettings::Table,
                        TenantSettings::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        let is_postgres =
            manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres;
        let parent_fk = || {
            scoped_fk(
                OrgUnits::Table,
                OrgUnits::TenantId,
                OrgUnits::ParentId,
                OrgUnits::Table,
                OrgUnits::TenantId,
                OrgUnits::Id,
                ForeignKeyAction::Cascade,
            )
            .name("fk_org_units_parent")
            .to_owned()
        };
        let mut org_units = Table::create()
            .table(OrgUnits::Table)
            .col(id_column(OrgUnits::Id))
            .col(tenant_column(OrgUnits::TenantId))
            .col(ColumnDef::new(OrgUnits::ParentId).big_integer().null())
            .col(ColumnDef::new(OrgUnits::Kind).string_len(16).not_null())
            .col(ColumnDef::new(OrgUnits::Name).string_len(100).not_null())
            .col(timestamp(OrgUnits::CreatedAt))
            .foreign_key(&mut tenant_fk(OrgUnits::Table, OrgUnits::TenantId))
            .to_owned();
        // The self-reference needs the unique (tenant_id, id) index. PostgreSQL checks that when
        // the key is created, so it is added afterwards. SQLite cannot add a key to an existing
        // table but checks the parent index only when rows change, so there it is declared inline.
        if !is_postgres {
            org_units.foreign_key(&mut parent_fk());
        }
        manager.create_table(org_units).await?;
        unique_index(
            manager,
            "ux_org_units_tenant_id",
            OrgUnits::Table,
            vec![OrgUnits::TenantId, OrgUnits::Id],
        )
        .await?;
        if is_postgres {
            manager.create_foreign_key(parent_fk()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Employees::Table)
                    .col(id_column(Employees::Id))
                    .col(tenant_column(Employees::TenantId))
                    .col(
                        ColumnDef::new(Employees::PersonnelNumber)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Employees::FirstName)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Employees::LastName)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Employees::Email).string_len(254).null())
                    .col(ColumnDef::new(Employees::Phone).string_len(40).null())
                    .col(ColumnDef::new(Employees::EntryDate).date().null())
                    .col(ColumnDef::new(Employees::ExitDate).date().null())
                    .col(
                        ColumnDef::new(Employees::OrgUnitId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Employees::Language).string_len(8).not_null())
                    .col(timestamp(Employees::CreatedAt))
                    .col(timestamp(Employees::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Employees::Table, Employees::TenantId))
                    .foreign_key(&mut scoped_fk(
                        Employees::Table,
                        Employees::TenantId,
                        Employees::OrgUnitId,
                        OrgUnits::Table,
                        OrgUnits::TenantId,
                        OrgUnits::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "ux_employees_tenant_id",
            Employees::Table,
            vec![Employees::TenantId, Employees::Id],
        )
        .await?;
        unique_index(
            manager,
            "ux_employees_personnel_number",
            Employees::Table,
            vec![Employees::TenantId, Employees::PersonnelNumber],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(id_column(Accounts::Id))
                    .col(tenant_column(Accounts::TenantId))
                    .col(ColumnDef::new(Accounts::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Accounts::Username).string_len(64).not_null())
                    .col(
                        ColumnDef::new(Accounts::UsernameKey)
                            .string_len(256)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Accounts::PasswordHash)
                            .string_len(256)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Accounts::DisplayName)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Accounts::Role).string_len(32).null())
                    .col(ColumnDef::new(Accounts::Email).string_len(254).null())
                    .col(ColumnDef::new(Accounts::EmployeeId).big_integer().null())
                    .col(ColumnDef::new(Accounts::Active).boolean().not_null())
                    .col(
                        ColumnDef::new(Accounts::MustChangePassword)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Accounts::FailedAttempts)
                            .integer()
                            .not_null(),
                    )
                    .col(optional_timestamp(Accounts::LockedUntil))
                    .col(ColumnDef::new(Accounts::Language).string_len(8).not_null())
                    .col(timestamp(Accounts::CreatedAt))
                    .col(timestamp(Accounts::UpdatedAt))
                    .col(optional_timestamp(Accounts::LastLoginAt))
                    .foreign_key(&mut tenant_fk(Accounts::Table, Accounts::TenantId))
                    .foreign_key(&mut scoped_fk(
                        Accounts::Table,
                        Accounts::TenantId,
                        Accounts::EmployeeId,
                        Employees::Table,
                        Employees::TenantId,
                        Employees::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "ux_accounts_tenant_id",
            Accounts::Table,
            vec![Accounts::TenantId, Accounts::Id],
        )
        .await?;
        unique_index(
            manager,
            "ux_accounts_username",
            Accounts::Table,
            vec![Accounts::TenantId, Accounts::UsernameKey],
        )
        .await?;
        unique_index(
            manager,
            "ux_accounts_employee",
            Accounts::Table,
            vec![Accounts::TenantId, Accounts::EmployeeId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordTokens::Table)
                    .col(id_column(PasswordTokens::Id))
                    .col(tenant_column(PasswordTokens::TenantId))
                    .col(
                        ColumnDef::new(PasswordTokens::AccountId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PasswordTokens::Purpose)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PasswordTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(timestamp(PasswordTokens::CreatedAt))
                    .col(timestamp(PasswordTokens::ExpiresAt))
                    .col(optional_timestamp(PasswordTokens::UsedAt))
                    .foreign_key(&mut tenant_fk(
                        PasswordTokens::Table,
                        PasswordTokens::TenantId,
                    ))
                    .foreign_key(&mut scoped_fk(
                        PasswordTokens::Table,
                        PasswordTokens::TenantId,
                        PasswordTokens::AccountId,
                        Accounts::Table,
                        Accounts::TenantId,
                        Accounts::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(id_column(Invitations::Id))
                    .col(tenant_column(Invitations::TenantId))
                    .col(
                        ColumnDef::new(Invitations::EmployeeId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Invitations::Email)
                            .string_len(254)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Invitations::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(timestamp(Invitations::CreatedAt))
                    .col(timestamp(Invitations::ExpiresAt))
                    .col(optional_timestamp(Invitations::UsedAt))
                    .col(optional_timestamp(Invitations::ReplacedAt))
                    .foreign_key(&mut tenant_fk(Invitations::Table, Invitations::TenantId))
                    .foreign_key(&mut scoped_fk(
                        Invitations::Table,
                        Invitations::TenantId,
                        Invitations::EmployeeId,
                        Employees::Table,
                        Employees::TenantId,
                        Employees::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "ix_invitations_employee",
            Invitations::Table,
            vec![Invitations::TenantId, Invitations::EmployeeId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(id_column(Sessions::Id))
                    .col(tenant_column(Sessions::TenantId))
                    .col(ColumnDef::new(Sessions::AccountId).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::Kind).string_len(8).not_null())
                    .col(
                        ColumnDef::new(Sessions::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(timestamp(Sessions::CreatedAt))
                    .col(timestamp(Sessions::ExpiresAt))
                    .col(timestamp(Sessions::LastSeenAt))
                    .foreign_key(&mut tenant_fk(Sessions::Table, Sessions::TenantId))
                    .foreign_key(&mut scoped_fk(
                        Sessions::Table,
                        Sessions::TenantId,
                        Sessions::AccountId,
                        Accounts::Table,
                        Accounts::TenantId,
                        Accounts::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "ix_sessions_account",
            Sessions::Table,
            vec![Sessions::TenantId, Sessions::AccountId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(id_column(Outbox::Id))
                    .col(tenant_column(Outbox::TenantId))
                    .col(ColumnDef::new(Outbox::Recipient).string_len(254).not_null())
                    .col(ColumnDef::new(Outbox::ReplyTo).string_len(254).null())
                    .col(ColumnDef::new(Outbox::Subject).string_len(300).not_null())
                    .col(ColumnDef::new(Outbox::BodyText).text().not_null())
                    .col(ColumnDef::new(Outbox::BodyHtml).text().not_null())
                    .col(ColumnDef::new(Outbox::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Outbox::Attempts).integer().not_null())
                    .col(timestamp(Outbox::NextAttemptAt))
                    .col(optional_timestamp(Outbox::LockedUntil))
                    .col(ColumnDef::new(Outbox::LastError).text().null())
                    .col(timestamp(Outbox::CreatedAt))
                    .col(optional_timestamp(Outbox::SentAt))
                    .foreign_key(&mut tenant_fk(Outbox::Table, Outbox::TenantId))
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "ix_outbox_due",
            Outbox::Table,
            vec![Outbox::Status, Outbox::NextAttemptAt],
        )
        .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outbox::Table.into_iden(),
            Sessions::Table.into_iden(),
            Invitations::Table.into_iden(),
            PasswordTokens::Table.into_iden(),
            Accounts::Table.into_iden(),
            Employees::Table.into_iden(),
            OrgUnits::Table.into_iden(),
            TenantSettings::Table.into_iden(),
            PlatformState::Table.into_iden(),
            TenantDomains::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
