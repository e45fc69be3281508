//! The two-factor state of one account: enrollment, confirmation, the guard against reused
//! codes, disabling and the administrator's reset.
//!
//! States: no secret (off), a secret without `totp_enabled_at` (enrollment started, not yet
//! confirmed), and a secret with `totp_enabled_at` (on). Every statement goes through
//! [`Scoped`], so another tenant's account id changes nothing.

use chrono::Utc;
use mep24web_entities::{account, account_totp, tenant_settings};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter};

use super::code::generate_secret;
use super::recovery;
use crate::db::Scoped;
use crate::tenant::TenantId;

/// Account kind of planner users, the only kind with two-factor login.
const KIND_PLANNER: &str = "planner";

/// Loads the two-factor columns of an account of the tenant.
pub async fn load<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
) -> Result<Option<account_totp::Model>, DbErr> {
    Scoped::new(conn, tenant_id)
        .find_by_id::<account_totp::Entity>(account_id)
        .await
}

/// Returns true when the account is a planner with confirmed two-factor login, so a password
/// alone does not sign it in. Employee accounts always return false.
pub async fn is_required_at_login<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account: &account::Model,
) -> Result<bool, DbErr> {
    if account.kind != KIND_PLANNER {
        return Ok(false);
    }
    let row = load(conn, tenant_id, account.id).await?;
    Ok(row.is_some_and(|row| row.totp_enabled_at.is_some()))
}

/// Returns true when the tenant requires two-factor login for all planners.
pub async fn required_for_planners<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
) -> Result<bool, DbErr> {
    let settings = Scoped::new(conn, tenant_id)
        .find::<tenant_settings::Entity>()
        .one(conn)
        .await?;
    Ok(settings.is_some_and(|settings| settings.require_totp_for_planners))
}

/// Returns true when the account is a planner of a tenant that requires two-factor login and
/// has not set it up yet. Such a planner may only open the setup page.
pub async fn setup_required<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account: &account::Model,
) -> Result<bool, DbErr> {
    if account.kind != KIND_PLANNER || !required_for_planners(conn, tenant_id).await? {
        return Ok(false);
    }
    Ok(!is_required_at_login(conn, tenant_id, account).await?)
}

/// Returns the secret of an enrollment in progress, or starts one with a new secret. A secret
/// shown before stays, so reloading the page does not invalidate an app entry already scanned.
/// Returns `None` when two-factor login is already on or the account does not exist.
pub async fn start_enrollment<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
) -> Result<Option<String>, DbErr> {
    let Some(row) = load(conn, tenant_id, account_id).await? else {
        return Ok(None);
    };
    if row.totp_enabled_at.is_some() {
        return Ok(None);
    }
    if let Some(secret) = row.totp_secret {
        return Ok(Some(secret));
    }
    let secret = generate_secret();
    let stored = Scoped::new(conn, tenant_id)
        .update_many::<account_totp::Entity>()
        .col_expr(
            account_totp::Column::TotpSecret,
            Expr::value(Some(secret.clone())),
        )
        .filter(account_totp::Column::Id.eq(account_id))
        .filter(account_totp::Column::TotpSecret.is_null())
        .exec(conn)
        .await?;
    if stored.rows_affected == 1 {
        return Ok(Some(secret));
    }
    // A concurrent request stored a secret first; show that one.
    let row = load(conn, tenant_id, account_id).await?;
    Ok(row
        .filter(|row| row.totp_enabled_at.is_none())
        .and_then(|row| row.totp_secret))
}

/// Turns two-factor login on after the planner entered the code of `step` for `secret`, and
/// stores the hashes of the recovery codes. Returns false (and changes nothing) when the
/// enrollment is no longer the one the code was checked against. Run it in a transaction.
pub async fn confirm_enrollment<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    secret: &str,
    step: i64,
    recovery_codes: &[String],
) -> Result<bool, DbErr> {
    let enabled = Scoped::new(conn, tenant_id)
        .update_many::<account_totp::Entity>()
        .col_expr(account_totp::Column::TotpEnabledAt, Expr::value(Utc::now()))
        .col_expr(account_totp::Column::TotpLastStep, Expr::value(step))
        .filter(account_totp::Column::Id.eq(account_id))
        .filter(account_totp::Column::TotpSecret.eq(secret))
        .filter(account_totp::Column::TotpEnabledAt.is_null())
        .exec(conn)
        .await?;
    if enabled.rows_affected != 1 {
        return Ok(false);
    }
    recovery::replace_all(conn, tenant_id, account_id, recovery_codes).await?;
    Ok(true)
}

/// Records `step` as used when it is later than every step used before, and returns true.
/// Returns false for a step already used or older, so a code cannot be replayed within its
/// window. The check and the write are one statement, so concurrent requests with one code
/// cannot both succeed.
pub async fn accept_step<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    step: i64,
) -> Result<bool, DbErr> {
    let accepted = Scoped::new(conn, tenant_id)
        .update_many::<account_totp::Entity>()
        .col_expr(account_totp::Column::TotpLastStep, Expr::value(step))
        .filter(account_totp::Column::Id.eq(account_id))
        .filter(account_totp::Column::TotpEnabledAt.is_not_null())
        .filter(
            sea_orm::Condition::any()
                .add(account_totp::Column::TotpLastStep.is_null())
                .add(account_totp::Column::TotpLastStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(accepted.rows_affected == 1)
}

/// Turns two-factor login off: clears the secret and the used step and deletes the recovery
/// codes. Used by the planner (after password and code) and by an administrator's reset.
/// Returns false when the account does not exist in this tenant. Run it in a transaction.
pub async fn disable<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
) -> Result<bool, DbErr> {
    let cleared = Scoped::new(conn, tenant_id)
        .update_many::<account_totp::Entity>()
        .col_expr(
            account_totp::Column::TotpSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            account_totp::Column::TotpEnabledAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(
            account_totp::Column::TotpLastStep,
            Expr::value(Option::<i64>::None),
        )
        .filter(account_totp::Column::Id.eq(account_id))
        .exec(conn)
        .await?;
    recovery::delete_all(conn, tenant_id, account_id).await?;
    Ok(cleared.rows_affected == 1)
}
