//! The pending second-factor state between a correct password and the code.
//!
//! It is a row of `sessions` with kind `mfa` ([`SessionKind::SecondFactor`]), bound to one
//! tenant and one account, stored as a token hash and valid for
//! [`SECOND_FACTOR_MINUTES`](crate::sessions::SECOND_FACTOR_MINUTES). Its cookie has its own
//! name, so it never counts as a signed-in session: the session extractors only accept kind
//! `web`.

use axum::http::{HeaderMap, HeaderValue};
use mep24web_entities::account;
use sea_orm::{ConnectionTrait, DbErr};

use crate::sessions::{self, Authenticated, SECOND_FACTOR_MINUTES, SessionKind, SessionStore};
use crate::tenant::TenantContext;

/// Returns the cookie name. Under https the `__Host-` prefix makes browsers insist on `Secure`,
/// `Path=/` and no `Domain`.
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-mep24web_mfa"
    } else {
        "mep24web_mfa"
    }
}

/// Builds the `Set-Cookie` value of a new pending state: host-only, `HttpOnly`,
/// `SameSite=Lax`, `Secure` under https, and as short-lived as the state itself.
pub fn cookie(token: &str, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let value = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie_name(https),
        SECOND_FACTOR_MINUTES * 60
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Builds the `Set-Cookie` value that removes the pending-state cookie.
pub fn clear_cookie(https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let value = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        cookie_name(https)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Returns the pending-state token the browser sent, if any.
pub fn token_from(headers: &HeaderMap, https: bool) -> Option<String> {
    sessions::read_cookie(headers, cookie_name(https))
}

/// Creates a pending state for `checked`, the account whose password was just checked, and
/// returns its token, or `None` when the account changed since the check (see
/// [`sessions::create_after_login`]). A state the browser had before (`previous`) is deleted, so
/// each password step leaves at most one behind.
pub async fn create<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant: &TenantContext,
    checked: &account::Model,
    previous: Option<&str>,
) -> Result<Option<String>, DbErr> {
    if let Some(previous) = previous {
        sessions::revoke(store, conn, tenant.id, previous).await?;
    }
    let kind = SessionKind::SecondFactor;
    let issued = sessions::create_after_login(store, conn, tenant, checked, kind).await?;
    Ok(issued.map(|issued| issued.token))
}

/// Looks up a pending state of this tenant that has not expired and whose account may still
/// sign in. Another tenant's token, an expired one and a web session token are all `None`.
pub async fn find<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant: &TenantContext,
    token: &str,
) -> Result<Option<Authenticated>, DbErr> {
    let kind = SessionKind::SecondFactor;
    let outcome = sessions::authenticate(store, conn, tenant, token, kind).await?;
    Ok(outcome.ok())
}
