//! Checking a username and password for a tenant, with lockout after repeated failures.
//!
//! Every failure (unknown user, wrong password, locked, deactivated, departed, suspended tenant)
//! returns the same [`LoginFailure`] to the caller, and an unknown user costs one hash verification
//! like a known one, so neither message nor timing reveals which accounts exist.

use chrono::{Duration, Utc};
use mep24web_entities::{account, tenant_settings};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, QueryFilter};
use secrecy::SecretString;

use crate::db::{Db, Scoped, begin_tenant};
use crate::passwords::PasswordHasher;
use crate::sessions::may_sign_in;
use crate::tenant::TenantContext;
use crate::{totp, username};

/// Default number of failed attempts before an account is locked.
pub const DEFAULT_MAX_FAILED_LOGINS: i32 = 5;
/// Default lockout duration in minutes.
pub const DEFAULT_LOCKOUT_MINUTES: i32 = 15;

/// The one outcome of every failed login; the reason goes to the log, never to the client.
#[derive(Debug, PartialEq, Eq)]
pub struct LoginFailure {
    pub reason: FailureReason,
}

/// Reason a login failed, for logs and tests only.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum FailureReason {
    UnknownUser,
    WrongPassword,
    Locked,
    Inactive,
    /// The password was right, but a password change or deactivation committed while it was
    /// checked (see [`crate::sessions::create_after_login`]).
    ChangedDuringLogin,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::Locked => "locked",
            Self::Inactive => "inactive",
            Self::ChangedDuringLogin => "changed_during_login",
        }
    }
}

/// Checks the credentials and returns the account on success.
///
/// For a planner with two-factor login the password alone does not complete the login: the
/// failure counter and the last login time stay as they are until the caller has checked the
/// second factor ([`crate::totp::check::check`]) and calls [`record_success`]. Otherwise a
/// correct password would reset the counter that wrong codes add to.
pub async fn authenticate(
    conn: &Db,
    hasher: &PasswordHasher,
    tenant: &TenantContext,
    username_input: &str,
    password: &SecretString,
) -> Result<Result<account::Model, LoginFailure>, DbErr> {
    let fail = |reason| {
        crate::metrics::count_login_failure(reason);
        Ok(Err(LoginFailure { reason }))
    };
    let key = username::key_of(username_input);
    let account = if key.is_empty() || key.len() > 256 || tenant.suspended {
        None
    } else {
        find_before_hashing(conn, tenant, &key).await?
    };
    let Some(account) = account else {
        hasher.verify(password, None).await;
        return fail(FailureReason::UnknownUser);
    };
    if let Err(reason) = check_password(conn, hasher, tenant, &account, password).await? {
        return fail(reason);
    }
    if !may_sign_in(conn, tenant, &account).await? {
        return fail(FailureReason::Inactive);
    }
    if totp::account::is_required_at_login(conn, tenant.id, &account).await? {
        return Ok(Ok(account));
    }
    record_success(conn, tenant, account.id).await?;
    Ok(Ok(account))
}

/// Finds the account by its username key. On PostgreSQL the read runs in a short transaction of
/// its own, which it commits, so a request whose first statement this is keeps no pooled
/// connection while it waits for the password hasher. The request's own transaction opens with
/// the next statement, after the hash. SQLite has no request transaction.
async fn find_before_hashing(
    db: &Db,
    tenant: &TenantContext,
    key: &str,
) -> Result<Option<account::Model>, DbErr> {
    let find = Scoped::new(db, tenant.id)
        .find::<account::Entity>()
        .filter(account::Column::UsernameKey.eq(key));
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return find.one(db).await;
    }
    let txn = begin_tenant(db.pool(), tenant.id).await?;
    let account = find.one(&txn).await?;
    txn.commit().await?;
    Ok(account)
}

/// Checks the password of a known account under the tenant's lockout: a locked account fails
/// whatever the password, a wrong password counts as a failed attempt, and an overlong one fails
/// like a wrong one. Every path costs one hash verification.
///
/// The lockout is read again after the verification, because parallel requests with wrong
/// passwords may have locked the account while this one waited for the hasher. Without that
/// check a burst of guesses would all be judged by the state before the first one failed.
pub async fn check_password<C: ConnectionTrait>(
    conn: &C,
    hasher: &PasswordHasher,
    tenant: &TenantContext,
    account: &account::Model,
    password: &SecretString,
) -> Result<Result<(), FailureReason>, DbErr> {
    let locked_before = is_locked(account);
    let verified = hasher
        .verify(password, account.password_hash.as_deref())
        .await;
    if locked_before {
        return Ok(Err(FailureReason::Locked));
    }
    if !verified {
        record_failure(conn, tenant, account).await?;
        return Ok(Err(FailureReason::WrongPassword));
    }
    let current = Scoped::new(conn, tenant.id)
        .find_by_id::<account::Entity>(account.id)
        .await?;
    if current.as_ref().is_none_or(is_locked) {
        return Ok(Err(FailureReason::Locked));
    }
    Ok(Ok(()))
}

/// Returns true while the account's lockout lasts.
fn is_locked(account: &account::Model) -> bool {
    account.locked_until.is_some_and(|until| until > Utc::now())
}

/// Completes a login: clears the failure counter and the lockout, records the login time and
/// counts the login in [`crate::metrics::LOGINS`].
pub async fn record_success<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account_id: i64,
) -> Result<(), DbErr> {
    let now = Utc::now();
    Scoped::new(conn, tenant.id)
        .update_many::<account::Entity>()
        .col_expr(account::Column::FailedAttempts, Expr::value(0))
        .col_expr(
            account::Column::LockedUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(account::Column::LastLoginAt, Expr::value(now))
        .filter(account::Column::Id.eq(account_id))
        .exec(conn)
        .await?;
    crate::metrics::count_login_success();
    Ok(())
}

/// Counts a failed attempt (a wrong password or a wrong second factor) and locks the account
/// once the tenant's limit is reached.
pub async fn record_failure<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account: &account::Model,
) -> Result<(), DbErr> {
    let scope = Scoped::new(conn, tenant.id);
    let settings = scope.find::<tenant_settings::Entity>().one(conn).await?;
    let (max_failed, lockout_minutes) = settings
        .map_or((DEFAULT_MAX_FAILED_LOGINS, DEFAULT_LOCKOUT_MINUTES), |s| {
            (s.max_failed_logins, s.lockout_minutes)
        });
    // The increment happens in the database so concurrent failures are all counted.
    scope
        .update_many::<account::Entity>()
        .col_expr(
            account::Column::FailedAttempts,
            Expr::col(account::Column::FailedAttempts).add(1),
        )
        .filter(account::Column::Id.eq(account.id))
        .exec(conn)
        .await?;
    let until = Utc::now() + Duration::minutes(i64::from(lockout_minutes));
    let locked = scope
        .update_many::<account::Entity>()
        .col_expr(account::Column::LockedUntil, Expr::value(until))
        .col_expr(account::Column::FailedAttempts, Expr::value(0))
        .filter(account::Column::Id.eq(account.id))
        .filter(account::Column::FailedAttempts.gte(max_failed))
        .exec(conn)
        .await?;
    if locked.rows_affected > 0 {
        crate::metrics::count_lockout();
        tracing::warn!(
            tenant_id = %tenant.id,
            account_id = account.id,
            lockout_minutes,
            "account locked after repeated failed logins"
        );
    }
    Ok(())
}
