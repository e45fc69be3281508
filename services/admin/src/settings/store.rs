//! Reading and writing the tenant's `tenant_settings` row.

use chrono::Utc;
use mep24web_entities::tenant_settings;
use mep24web_platform::TenantId;
use mep24web_platform::audit;
use mep24web_platform::db::{Scoped, is_unique_violation};
use mep24web_platform::login::{DEFAULT_LOCKOUT_MINUTES, DEFAULT_MAX_FAILED_LOGINS};
use mep24web_tenancy::provision::DEFAULT_INVITATION_DAYS;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};

/// Loads the tenant's settings row. Provisioning creates it, but should it be missing, the
/// defaults are shown and the first save creates it.
pub(super) async fn load<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
) -> std::result::Result<tenant_settings::Model, DbErr> {
    let scope = Scoped::new(db, tenant_id);
    let row = scope.find::<tenant_settings::Entity>().one(db).await?;
    Ok(row.unwrap_or_else(|| default_row(tenant_id)))
}

/// Writes the given columns of the tenant's settings row, creating the row first when it is
/// missing.
pub(super) async fn save<C: ConnectionTrait, const N: usize>(
    db: &C,
    tenant_id: TenantId,
    changes: [(tenant_settings::Column, SimpleExpr); N],
) -> std::result::Result<(), DbErr> {
    if update(db, tenant_id, changes.clone()).await? > 0 {
        return Ok(());
    }
    let defaults = default_row(tenant_id);
    let created = tenant_settings::ActiveModel {
        tenant_id: Set(defaults.tenant_id),
        max_failed_logins: Set(defaults.max_failed_logins),
        lockout_minutes: Set(defaults.lockout_minutes),
        security_code: Set(defaults.security_code),
        contact_email: Set(defaults.contact_email),
        invitation_valid_days: Set(defaults.invitation_valid_days),
        require_totp_for_planners: Set(defaults.require_totp_for_planners),
        self_service_reset: Set(defaults.self_service_reset),
        audit_retention_days: Set(defaults.audit_retention_days),
        updated_at: Set(defaults.updated_at),
    }
    .insert(db)
    .await;
    match created {
        Ok(_) => {}
        // A concurrent save created the row in the meantime.
        Err(error) if is_unique_violation(&error) => {}
        Err(error) => return Err(error),
    }
    update(db, tenant_id, changes).await?;
    Ok(())
}

/// Updates the given columns and `updated_at`, and returns the number of rows changed (0 or 1).
async fn update<C: ConnectionTrait, const N: usize>(
    db: &C,
    tenant_id: TenantId,
    changes: [(tenant_settings::Column, SimpleExpr); N],
) -> std::result::Result<u64, DbErr> {
    let scope = Scoped::new(db, tenant_id);
    let mut statement = scope
        .update_many::<tenant_settings::Entity>()
        .col_expr(tenant_settings::Column::UpdatedAt, Expr::value(Utc::now()));
    for (column, value) in changes {
        statement = statement.col_expr(column, value);
    }
    Ok(statement.exec(db).await?.rows_affected)
}

fn default_row(tenant_id: TenantId) -> tenant_settings::Model {
    tenant_settings::Model {
        tenant_id: tenant_id.get(),
        max_failed_logins: DEFAULT_MAX_FAILED_LOGINS,
        lockout_minutes: DEFAULT_LOCKOUT_MINUTES,
        security_code: None,
        contact_email: None,
        invitation_valid_days: DEFAULT_INVITATION_DAYS,
        require_totp_for_planners: false,
        self_service_reset: false,
        audit_retention_days: audit::DEFAULT_RETENTION_DAYS,
        updated_at: Utc::now(),
    }
}
