//! Starting a web session after a successful login, setup or similar proof of identity, and the
//! cookies and redirect that go with it.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use mep24web_entities::account;
use mep24web_platform::i18n::Locale;
use mep24web_platform::sessions::{self, SessionKind, SessionStore};
use mep24web_platform::{AppState, TenantContext, TenantId};
use sea_orm::{ConnectionTrait, DbErr};

/// Lifetime of the `lang` cookie in seconds (one year), as the language switch sets it.
const LANGUAGE_COOKIE_SECONDS: u32 = 365 * 24 * 3600;

/// Returns the path of the account's area: the main program for planners, the portal for
/// employees.
pub fn area_path(account: &account::Model) -> &'static str {
    if account.kind == "planner" {
        "/admin"
    } else {
        "/portal"
    }
}

/// Returns the path a freshly signed-in account goes to: the password change when one is
/// required, else its area.
pub fn landing_path(account: &account::Model) -> &'static str {
    if account.must_change_password {
        "/password/change"
    } else {
        area_path(account)
    }
}

/// Returns the session token the browser sent, if any.
pub fn session_token(state: &AppState, headers: &HeaderMap) -> Option<String> {
    sessions::read_cookie(headers, sessions::cookie_name(state.urls.is_https()))
}

/// Returns the signed-in account of the browser's session on this tenant, if the session is
/// still valid.
pub async fn current_session(
    state: &AppState,
    tenant: &TenantContext,
    headers: &HeaderMap,
) -> Result<Option<sessions::Authenticated>, DbErr> {
    let Some(token) = session_token(state, headers) else {
        return Ok(None);
    };
    let outcome =
        sessions::authenticate(&state.sessions, &state.db, tenant, &token, SessionKind::Web)
            .await?;
    Ok(outcome.ok())
}

/// Creates a web session for the account and deletes the session the browser had before, so
/// the session id changes at every sign-in. Runs inside the caller's transaction, which itself
/// set the account's password. A login checks the password before its transaction and uses
/// [`start_session_after_login`] instead.
pub async fn start_session<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    previous_token: Option<&str>,
) -> Result<String, DbErr> {
    if let Some(previous) = previous_token {
        sessions::revoke(store, conn, tenant_id, previous).await?;
    }
    let issued = sessions::create(store, conn, tenant_id, account_id, SessionKind::Web).await?;
    Ok(issued.token)
}

/// Starts a web session like [`start_session`] for `checked`, the account as read when its
/// password was checked. Returns `None`, and starts nothing, when a password change or
/// deactivation committed since (see [`sessions::create_after_login`]).
pub async fn start_session_after_login<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant: &TenantContext,
    checked: &account::Model,
    previous_token: Option<&str>,
) -> Result<Option<String>, DbErr> {
    if let Some(previous) = previous_token {
        sessions::revoke(store, conn, tenant.id, previous).await?;
    }
    let kind = SessionKind::Web;
    let issued = sessions::create_after_login(store, conn, tenant, checked, kind).await?;
    Ok(issued.map(|issued| issued.token))
}

/// Builds the 303 redirect that sets the session cookie and the `lang` cookie from the account's
/// language.
pub fn signed_in_redirect(state: &AppState, target: &str, token: &str, language: &str) -> Response {
    let mut response = Redirect::to(target).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        sessions::session_cookie(token, state.urls.is_https()),
    );
    if let Some(cookie) = language_cookie(language) {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// Builds the `lang` cookie for an account's language. An unknown code falls back to German.
fn language_cookie(language: &str) -> Option<HeaderValue> {
    let locale = Locale::parse(language).unwrap_or_default();
    let value = format!(
        "lang={}; Path=/; Max-Age={LANGUAGE_COOKIE_SECONDS}; SameSite=Lax",
        locale.code()
    );
    HeaderValue::from_str(&value).ok()
}

/// Returns the tenant's access link, the address employees and planners log in at.
pub fn access_link(state: &AppState, tenant: &TenantContext) -> String {
    format!("{}/", state.urls.host_url(&tenant.primary_host))
}
