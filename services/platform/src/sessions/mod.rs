//! Web sessions (cookie) and app tokens (bearer): random tokens stored as hashes, bound to one
//! tenant and one account, revoked by deleting them from the [`SessionStore`]: the database, or
//! Redis when it is configured.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Duration, Utc};
use mep24web_entities::{account, employee};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter};

use crate::db::Scoped;
use crate::error::Error;
use crate::rights::Grants;
use crate::state::AppState;
use crate::tenant::{TenantContext, TenantId};
use crate::tokens;
use crate::totp;

mod after_login;
mod redis_store;
mod store;

pub use after_login::create_after_login;
pub use redis_store::{RedisSessions, SessionStoreUnavailable};
pub use store::{SessionId, SessionStore, StoredSession};

/// Lifetime of a web session, in hours.
pub const WEB_SESSION_HOURS: i64 = 12;
/// Lifetime of an app token, in days.
pub const APP_TOKEN_DAYS: i64 = 90;
/// Lifetime of the pending state between a correct password and the second factor, in minutes.
pub const SECOND_FACTOR_MINUTES: i64 = 5;
/// Maximum number of sessions and app tokens an account keeps. A new one beyond it ends those
/// closest to expiry, so scripted logins cannot grow an account's sessions without bound.
pub const MAX_SESSIONS_PER_ACCOUNT: u64 = 100;

/// Kind of a session row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    Web,
    App,
    /// A login waiting for its second factor (see [`crate::totp::pending`]); it grants nothing.
    SecondFactor,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::App => "app",
            Self::SecondFactor => "mfa",
        }
    }

    /// Reads the name [`Self::as_str`] returns.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "web" => Some(Self::Web),
            "app" => Some(Self::App),
            "mfa" => Some(Self::SecondFactor),
            _ => None,
        }
    }

    /// Returns how long a session of this kind lasts from its creation.
    pub fn lifetime(self) -> Duration {
        match self {
            Self::Web => Duration::hours(WEB_SESSION_HOURS),
            Self::App => Duration::days(APP_TOKEN_DAYS),
            Self::SecondFactor => Duration::minutes(SECOND_FACTOR_MINUTES),
        }
    }
}

/// Returns the session cookie name; under https the `__Host-` prefix makes browsers insist on
/// `Secure`, `Path=/` and no `Domain`.
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-mep24web_session"
    } else {
        "mep24web_session"
    }
}

/// Builds the `Set-Cookie` value for a new session: host-only, `HttpOnly`, `SameSite=Lax`, and
/// `Secure` under https.
pub fn session_cookie(token: &str, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let value = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie_name(https),
        WEB_SESSION_HOURS * 3600
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Builds the `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let value = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        cookie_name(https)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Returns the value of a cookie from the request headers.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A new session: the token to hand to the client, and when it expires.
#[derive(Debug)]
pub struct Issued {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Creates a session and returns its token.
pub async fn create<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    kind: SessionKind,
) -> Result<Issued, DbErr> {
    let token = tokens::generate();
    let now = Utc::now();
    let expires_at = now + kind.lifetime();
    let session = StoredSession {
        id: SessionId::of_token(&token),
        tenant_id,
        account_id,
        kind,
        created_at: now,
        expires_at,
        last_seen_at: now,
    };
    store.insert(conn, &session).await?;
    Ok(Issued { token, expires_at })
}

/// Ends one session by its token.
pub async fn revoke<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant_id: TenantId,
    token: &str,
) -> Result<(), DbErr> {
    store
        .delete(conn, tenant_id, &SessionId::of_token(token))
        .await
}

/// Ends every web session and app token of an account, so deactivation takes effect on the
/// next request, and returns how many it ended. It also records the time on the account, so a
/// session created before it is rejected even if the store still has it.
pub async fn revoke_all_for_account<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
) -> Result<u64, DbErr> {
    record_revocation(conn, tenant_id, account_id, Utc::now()).await?;
    store
        .delete_for_account(conn, tenant_id, account_id, None)
        .await
}

/// Ends every session of an account except `keep`, the one the request came with, and returns
/// how many it ended.
pub async fn revoke_others<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    keep: &SessionId,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    record_revocation(conn, tenant_id, account_id, now).await?;
    // The kept session counts as created now, after the revocation.
    store.restamp(conn, tenant_id, keep, now).await?;
    store
        .delete_for_account(conn, tenant_id, account_id, Some(keep))
        .await
}

/// Records on the account that its sessions created before `at` are ended.
async fn record_revocation<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    Scoped::new(conn, tenant_id)
        .update_many::<account::Entity>()
        .col_expr(
            account::Column::SessionsRevokedAt,
            sea_orm::sea_query::Expr::value(Some(at)),
        )
        .filter(account::Column::Id.eq(account_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Returns true when the account's sessions were ended after `session` was created. Both times
/// are compared in whole milliseconds, the precision of the Redis store.
fn revoked_since(account: &account::Model, session: &StoredSession) -> bool {
    account.sessions_revoked_at.is_some_and(|revoked_at| {
        session.created_at.timestamp_millis() < revoked_at.timestamp_millis()
    })
}

/// A signed-in account with its session, for the current tenant.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub account: account::Model,
    /// The rights of a planner's user group, read with the session; empty for employees.
    pub grants: Grants,
    pub session_id: SessionId,
    pub tenant: TenantContext,
}

impl Authenticated {
    pub fn is_planner(&self) -> bool {
        self.account.kind == "planner"
    }

    /// Returns true for a member of the built-in Administrator group.
    pub fn is_administrator(&self) -> bool {
        self.is_planner() && self.grants.is_administrator()
    }
}

/// Reason a stored session or token is not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    Missing,
    Inactive,
}

/// Looks up a session token for the current tenant and checks that the account may still use
/// it: active, not departed, not expired. A session of another tenant is not found. A session
/// whose account lost access is deleted on the spot.
pub async fn authenticate<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant: &TenantContext,
    token: &str,
    kind: SessionKind,
) -> Result<Result<Authenticated, Rejection>, DbErr> {
    if !tokens::looks_valid(token) || tenant.suspended {
        return Ok(Err(Rejection::Missing));
    }
    let id = SessionId::of_token(token);
    let Some(session) = store.find(conn, Some(tenant.id), &id).await? else {
        return Ok(Err(Rejection::Missing));
    };
    if session.kind != kind {
        return Ok(Err(Rejection::Missing));
    }
    let now = Utc::now();
    if session.expires_at <= now {
        store.delete(conn, tenant.id, &id).await?;
        return Ok(Err(Rejection::Missing));
    }
    let Some(account) = Scoped::new(conn, tenant.id)
        .find_by_id::<account::Entity>(session.account_id)
        .await?
    else {
        return Ok(Err(Rejection::Missing));
    };
    if !may_sign_in(conn, tenant, &account).await? {
        revoke_all_for_account(store, conn, tenant.id, account.id).await?;
        return Ok(Err(Rejection::Inactive));
    }
    if revoked_since(&account, &session) {
        store.delete(conn, tenant.id, &id).await?;
        return Ok(Err(Rejection::Missing));
    }
    if now - session.last_seen_at > Duration::minutes(1) {
        store.touch(conn, &session, now).await?;
    }
    let grants = if account.kind == "planner" {
        Grants::load(conn, tenant.id, account.role.as_deref()).await?
    } else {
        Grants::default()
    };
    Ok(Ok(Authenticated {
        account,
        grants,
        session_id: id,
        tenant: tenant.clone(),
    }))
}

/// Returns true when the account is active and, for an employee, has not departed: access ends
/// after the exit date in the tenant's time zone.
pub async fn may_sign_in<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account: &account::Model,
) -> Result<bool, DbErr> {
    if !account.active || tenant.suspended {
        return Ok(false);
    }
    let Some(employee_id) = account.employee_id else {
        return Ok(true);
    };
    let employee = Scoped::new(conn, tenant.id)
        .find_by_id::<employee::Entity>(employee_id)
        .await?;
    Ok(match employee {
        Some(employee) => !is_departed(employee.exit_date, tenant.today()),
        None => false,
    })
}

/// Returns true when an employee with this exit date has departed by `today`.
pub fn is_departed(exit_date: Option<chrono::NaiveDate>, today: chrono::NaiveDate) -> bool {
    exit_date.is_some_and(|exit| exit < today)
}

async fn from_cookie<S>(parts: &mut Parts, state: &S) -> Result<Authenticated, Error>
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    let app = AppState::from_ref(state);
    let tenant = TenantContext::from_request_parts(parts, state).await?;
    let Some(token) = read_cookie(&parts.headers, cookie_name(app.urls.is_https())) else {
        return Err(Error::LoginRequired);
    };
    match authenticate(&app.sessions, &app.db, &tenant, &token, SessionKind::Web).await? {
        Ok(signed_in) => Ok(signed_in),
        Err(_) => Err(Error::LoginRequired),
    }
}

/// Any signed-in account, including one that must change its password first.
pub struct SignedIn(pub Authenticated);

impl<S> FromRequestParts<S> for SignedIn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(from_cookie(parts, state).await?))
    }
}

/// A signed-in planner user of the main program. A planner whose tenant requires two-factor
/// login and who has not set it up is sent to the setup page instead.
pub struct Planner(pub Authenticated);

impl<S> FromRequestParts<S> for Planner
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in = from_cookie(parts, state).await?;
        if signed_in.account.must_change_password {
            return Err(Error::MustChangePassword);
        }
        if !signed_in.is_planner() {
            return Err(Error::Forbidden);
        }
        let app = AppState::from_ref(state);
        if totp::account::setup_required(&app.db, signed_in.tenant.id, &signed_in.account).await? {
            return Err(Error::SecondFactorSetupRequired);
        }
        Ok(Self(signed_in))
    }
}

/// A signed-in employee of the portal.
pub struct Employee(pub Authenticated);

impl<S> FromRequestParts<S> for Employee
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in = from_cookie(parts, state).await?;
        if signed_in.account.must_change_password {
            return Err(Error::MustChangePassword);
        }
        if signed_in.is_planner() {
            return Err(Error::Forbidden);
        }
        Ok(Self(signed_in))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_cookie_finds_named_value() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; mep24web_session=abc; b=2"),
        );
        assert_eq!(
            read_cookie(&headers, "mep24web_session").as_deref(),
            Some("abc")
        );
        assert_eq!(read_cookie(&headers, "missing"), None);
    }

    #[test]
    fn session_cookie_is_host_only() {
        let cookie = session_cookie("tok", true);
        let text = cookie.to_str().unwrap();
        assert!(text.starts_with("__Host-mep24web_session=tok;"));
        assert!(text.contains("HttpOnly"));
        assert!(text.contains("SameSite=Lax"));
        assert!(text.contains("Secure"));
        assert!(!text.contains("Domain"));
        assert!(
            !session_cookie("tok", false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn departed_after_exit_date_only() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let yesterday = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert!(!is_departed(None, today));
        assert!(!is_departed(Some(today), today));
        assert!(is_departed(Some(yesterday), today));
    }
}
