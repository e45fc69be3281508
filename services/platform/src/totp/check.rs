//! Checking the second factor of a planner whose password was already verified: a TOTP code or
//! a recovery code, with the account's lockout.

use chrono::Utc;
use mep24web_entities::account;
use sea_orm::{ConnectionTrait, DbErr};

use super::account::{accept_step, load};
use super::code::{decode_secret, matching_step, normalize_code};
use super::recovery;
use crate::login::record_failure;
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
pub async fn check<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account: &account::Model,
    input: &str,
) -> Result<Result<Method, Rejection>, DbErr> {
    if account.locked_until.is_some_and(|until| until > Utc::now()) {
        return Ok(Err(Rejection::Locked));
    }
    let row = load(conn, tenant.id, account.id).await?;
    let key = row
        .filter(|row| row.totp_enabled_at.is_some())
        .and_then(|row| row.totp_secret)
        .and_then(|secret| decode_secret(&secret));
    let Some(key) = key else {
        return Ok(Err(Rejection::NotEnabled));
    };

    let rejection = if normalize_code(input).is_some() {
        match matching_step(&key, input, Utc::now().timestamp()) {
            Some(step) if accept_step(conn, tenant.id, account.id, step).await? => {
                return Ok(Ok(Method::Totp));
            }
            Some(_) => Rejection::Replayed,
            None => Rejection::Invalid,
        }
    } else if recovery::consume(conn, tenant.id, account.id, input).await? {
        return Ok(Ok(Method::RecoveryCode));
    } else {
        Rejection::Invalid
    };
    record_failure(conn, tenant, account).await?;
    Ok(Err(rejection))
}
