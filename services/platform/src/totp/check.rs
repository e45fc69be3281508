//! Checking the second factor of a planner whose password was already verified: a TOTP code or
//! a recovery code, with the account's lockout.

use chrono::{Duration, Utc};
use mep24web_entities::{account, tenant_settings};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter};

use super::account::{accept_step, load};
use super::code::{decode_secret, matching_step, normalize_code};
use super::recovery;
use crate::db::Scoped;
use crate::login::{DEFAULT_LOCKOUT_MINUTES, DEFAULT_MAX_FAILED_LOGINS};
use crate::tenant::TenantContext;

/// The kind of code that proved the second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// A code of the authenticator app.
    Totp,
    /// A recovery code, which is now used up.
    RecoveryCode,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

/// Reason a second factor was rejected, for logs and for the choice of message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not a current code of the app and no unused recovery code.
    Invalid,
    /// A current code whose time step was already used.
    Replayed,
    /// The account is locked after too many failed attempts, so nothing was checked.
    Locked,
    /// The account has no confirmed two-factor login (an administrator reset it meanwhile).
    NotEnabled,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid_code",
            Self::Replayed => "replayed_code",
            Self::Locked => "locked",
            Self::NotEnabled => "not_enabled",
        }
    }
}

/// Checks `input` as the account's second factor. A TOTP code is accepted once: its time step
/// is recorded, and that step and earlier ones are rejected afterwards. A recovery code is used
/// up. An invalid or replayed code counts as a failed login towards the tenant's lockout,
/// exactly like a wrong password. A locked account is rejected before any check.
///
/// The attempt is counted before the code is checked and given back when the code is right, so
/// parallel guesses cannot all be checked against a lock state read before any of them counted.
pub async fn check<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account: &account::Model,
    input: &str,
) -> Result<Result<Method, Rejection>, DbErr> {
    let scope = Scoped::new(conn, tenant.id);
    let now = Utc::now();
    // The count is read back in the same statement, because a concurrent lock resets it.
    let reserved = scope
        .update_many::<account::Entity>()
        .col_expr(
            account::Column::FailedAttempts,
            Expr::col(account::Column::FailedAttempts).add(1),
        )
        .filter(account::Column::Id.eq(account.id))
        .filter(
            account::Column::LockedUntil
                .is_null()
                .or(account::Column::LockedUntil.lte(now)),
        )
        .exec_with_returning(conn)
        .await?;
    let Some(attempts) = reserved.first().map(|row| row.failed_attempts) else {
        return Ok(Err(Rejection::Locked));
    };
    let (max_failed, lockout_minutes) = lockout_settings(conn, tenant).await?;
    if attempts > max_failed {
        // Parallel attempts used up the budget while this one waited.
        lock(conn, tenant, account.id, lockout_minutes).await?;
        return Ok(Err(Rejection::Locked));
    }

    let row = load(conn, tenant.id, account.id).await?;
    let key = row
        .filter(|row| row.totp_enabled_at.is_some())
        .and_then(|row| row.totp_secret)
        .and_then(|secret| decode_secret(&secret));
    let Some(key) = key else {
        release_attempt(conn, tenant, account.id).await?;
        return Ok(Err(Rejection::NotEnabled));
    };

    let rejection = if normalize_code(input).is_some() {
        match matching_step(&key, input, Utc::now().timestamp()) {
            Some(step) if accept_step(conn, tenant.id, account.id, step).await? => {
                release_attempt(conn, tenant, account.id).await?;
                return Ok(Ok(Method::Totp));
            }
            Some(_) => Rejection::Replayed,
            None => Rejection::Invalid,
        }
    } else if recovery::consume(conn, tenant.id, account.id, input).await? {
        release_attempt(conn, tenant, account.id).await?;
        return Ok(Ok(Method::RecoveryCode));
    } else {
        Rejection::Invalid
    };
    if attempts >= max_failed {
        lock(conn, tenant, account.id, lockout_minutes).await?;
    }
    Ok(Err(rejection))
}

/// Returns the tenant's allowed failed attempts and lockout minutes.
async fn lockout_settings<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
) -> Result<(i32, i32), DbErr> {
    let settings = Scoped::new(conn, tenant.id)
        .find::<tenant_settings::Entity>()
        .one(conn)
        .await?;
    Ok(
        settings.map_or((DEFAULT_MAX_FAILED_LOGINS, DEFAULT_LOCKOUT_MINUTES), |s| {
            (s.max_failed_logins, s.lockout_minutes)
        }),
    )
}

/// Gives back an attempt counted before a check that succeeded.
async fn release_attempt<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account_id: i64,
) -> Result<(), DbErr> {
    Scoped::new(conn, tenant.id)
        .update_many::<account::Entity>()
        .col_expr(
            account::Column::FailedAttempts,
            Expr::col(account::Column::FailedAttempts).sub(1),
        )
        .filter(account::Column::Id.eq(account_id))
        .filter(account::Column::FailedAttempts.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Locks the account for the tenant's lockout duration and starts a new count.
async fn lock<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account_id: i64,
    lockout_minutes: i32,
) -> Result<(), DbErr> {
    let until = Utc::now() + Duration::minutes(i64::from(lockout_minutes));
    Scoped::new(conn, tenant.id)
        .update_many::<account::Entity>()
        .col_expr(account::Column::LockedUntil, Expr::value(until))
        .col_expr(account::Column::FailedAttempts, Expr::value(0))
        .filter(account::Column::Id.eq(account_id))
        .exec(conn)
        .await?;
    tracing::warn!(
        tenant_id = %tenant.id,
        account_id,
        lockout_minutes,
        "account locked after repeated failed second factors"
    );
    Ok(())
}
