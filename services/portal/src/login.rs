//! Login and logout at the access link, for planners and employees alike, and the start path
//! `/` that sends each visitor to their area.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mep24web_entities::tenant_settings;
use mep24web_platform::audit;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::Scoped;
use mep24web_platform::login::{self, DEFAULT_LOCKOUT_MINUTES, DEFAULT_MAX_FAILED_LOGINS};
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, TenantContext};
use sea_orm::TransactionTrait;
use secrecy::SecretString;
use serde::Deserialize;

use crate::attempt_limit;
use crate::forms::{self, Form, NoticeQuery};
use crate::second_factor::{self, CodeStep};
use crate::signin;

/// Maximum length of the username echoed back into the form after a failed login, in characters.
const MAX_ECHOED_USERNAME_CHARS: usize = 256;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .get("/", get(start), Access::Public)
        .get_post("/login", get(show).post(submit), Access::Public)
        .post("/logout", post(logout), Access::Public)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginForm {
    username: String,
    password: String,
}

/// Sends a signed-in visitor to their area and everyone else to the login form.
async fn start(
    State(state): State<AppState>,
    tenant: TenantContext,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let target = match signin::current_session(&state, &tenant, &headers).await? {
        Some(signed_in) => signin::landing_path(&signed_in.account),
        None => "/login",
    };
    Ok(Redirect::to(target).into_response())
}

async fn show(
    State(state): State<AppState>,
    tenant: TenantContext,
    headers: HeaderMap,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, Error> {
    if let Some(signed_in) = signin::current_session(&state, &tenant, &headers).await? {
        return Ok(Redirect::to(signin::landing_path(&signed_in.account)).into_response());
    }
    let notice = forms::notice_text(query.notice.as_deref());
    render(&state, &tenant, StatusCode::OK, "", false, notice).await
}

/// Checks the credentials. Every kind of failure renders the same message with status 401; an
/// attempt over the login attempt limits gets the 429 page before the password is looked at.
async fn submit(
    State(state): State<AppState>,
    tenant: TenantContext,
    client: ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, Error> {
    if let Some(limited) = attempt_limit::reject_if_limited(&state, &tenant, client, "/login").await
    {
        return Ok(limited);
    }
    let password = SecretString::from(form.password);
    let outcome =
        login::authenticate(&state.db, &state.hasher, &tenant, &form.username, &password).await?;
    let account = match outcome {
        Ok(account) => account,
        Err(failure) => {
            return failed(&state, &tenant, client, &form.username, failure.reason).await;
        }
    };
    let changed = login::FailureReason::ChangedDuringLogin;
    match second_factor::begin_if_required(&state, &tenant, &account, &headers).await? {
        CodeStep::NotRequired => {}
        CodeStep::Started(response) => return Ok(response),
        CodeStep::AccountChanged => {
            return failed(&state, &tenant, client, &form.username, changed).await;
        }
    }

    let previous = signin::session_token(&state, &headers);
    let txn = state.db.begin().await?;
    let token = signin::start_session_after_login(
        &state.sessions,
        &txn,
        &tenant,
        &account,
        previous.as_deref(),
    )
    .await?;
    let Some(token) = token else {
        txn.rollback().await?;
        return failed(&state, &tenant, client, &form.username, changed).await;
    };
    audit::record_login_success(&txn, &account, client.0, "web", Some("password")).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant.id,
        account_id = account.id,
        kind = account.kind.as_str(),
        "login succeeded"
    );
    Ok(signin::signed_in_redirect(
        &state,
        signin::landing_path(&account),
        &token,
        &account.language,
    ))
}

/// Logs and records a failed login and renders the form again with status 401.
async fn failed(
    state: &AppState,
    tenant: &TenantContext,
    client: ClientIp,
    username: &str,
    reason: login::FailureReason,
) -> Result<Response, Error> {
    tracing::info!(
        tenant_id = %tenant.id,
        reason = reason.as_str(),
        "login failed"
    );
    audit::record_login_failure(&state.db, tenant, username, client.0, reason.as_str()).await?;
    let typed: String = username.chars().take(MAX_ECHOED_USERNAME_CHARS).collect();
    render(state, tenant, StatusCode::UNAUTHORIZED, &typed, true, None).await
}

/// Ends the browser's session (if any), removes the cookie and returns to the login form.
async fn logout(
    State(state): State<AppState>,
    tenant: TenantContext,
    headers: HeaderMap,
) -> Result<Response, Error> {
    if let Some(token) = signin::session_token(&state, &headers) {
        sessions::revoke(&state.sessions, &state.db, tenant.id, &token).await?;
    }
    let mut response = Redirect::to("/login?notice=logged_out").into_response();
    response.headers_mut().append(
        axum::http::header::SET_COOKIE,
        sessions::clear_session_cookie(state.urls.is_https()),
    );
    Ok(response)
}

/// Renders the login form. The failure block depends only on the tenant, never on why the login
/// failed, so it reveals nothing about which accounts exist.
async fn render(
    state: &AppState,
    tenant: &TenantContext,
    status: StatusCode,
    username: &str,
    failed: bool,
    notice: Option<String>,
) -> Result<Response, Error> {
    let settings = Scoped::new(&state.db, tenant.id)
        .find::<tenant_settings::Entity>()
        .one(&state.db)
        .await?;
    let self_service_reset = settings.as_ref().is_some_and(|s| s.self_service_reset);
    let (max_failed_logins, lockout_minutes) = settings.map_or(
        (DEFAULT_MAX_FAILED_LOGINS, DEFAULT_LOCKOUT_MINUTES),
        |settings| (settings.max_failed_logins, settings.lockout_minutes),
    );
    let base = base_context(tenant, None, "login");
    let context = minijinja::context! {
        access_link => signin::access_link(state, tenant),
        username => username,
        failed => failed,
        notice => notice,
        max_failed_logins => max_failed_logins,
        lockout_minutes => lockout_minutes,
        self_service_reset => self_service_reset,
        ..base
    };
    forms::page(status, "portal/login.html", context)
}
