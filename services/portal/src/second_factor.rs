//! The code step of the login at `/login/zwei-faktor`, for planners with two-factor login.
//!
//! After a correct password such a planner gets no session, only a pending state (see
//! [`mep24web_platform::totp::pending`]) and its cookie. This page takes the code of the
//! authenticator app or a recovery code. Only a correct code creates the web session, with a
//! new id, and deletes the pending state. Wrong codes count towards the account's lockout.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mep24web_entities::account;
use mep24web_platform::audit;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::totp::check::{self, Method, Rejection};
use mep24web_platform::totp::{SETUP_PATH, pending};
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, TenantContext, login, sessions};
use sea_orm::TransactionTrait;
use serde::Deserialize;

use crate::forms::{self, Form, FormErrors};
use crate::signin;

/// Path of the code step.
const PATH: &str = "/login/zwei-faktor";

pub fn routes() -> RouteTable {
    RouteTable::new().get_post(PATH, get(show).post(submit), Access::Public)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CodeForm {
    code: String,
}

/// The step that follows a correct password.
pub enum CodeStep {
    /// The account has no two-factor login, so the login goes on as before.
    NotRequired,
    /// The redirect to the code step, which sets the pending-state cookie.
    Started(Response),
    /// The password or the active flag changed while the password was checked, so the login
    /// fails.
    AccountChanged,
}

/// Starts the code step when the account has two-factor login: creates the pending state,
/// replacing one the browser had, and returns the redirect that sets its cookie.
pub async fn begin_if_required(
    state: &AppState,
    tenant: &TenantContext,
    account: &account::Model,
    headers: &HeaderMap,
) -> Result<CodeStep, Error> {
    let required =
        mep24web_platform::totp::account::is_required_at_login(&state.db, tenant.id, account)
            .await?;
    if !required {
        return Ok(CodeStep::NotRequired);
    }
    let https = state.urls.is_https();
    let previous = pending::token_from(headers, https);
    let txn = state.db.begin().await?;
    let token =
        pending::create(&state.sessions, &txn, tenant, account, previous.as_deref()).await?;
    let Some(token) = token else {
        txn.rollback().await?;
        return Ok(CodeStep::AccountChanged);
    };
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant.id,
        account_id = account.id,
        "password accepted, second factor pending"
    );
    let mut response = Redirect::to(PATH).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, pending::cookie(&token, https));
    Ok(CodeStep::Started(response))
}

async fn show(
    State(state): State<AppState>,
    tenant: TenantContext,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let https = state.urls.is_https();
    let found = match pending::token_from(&headers, https) {
        Some(token) => pending::find(&state.sessions, &state.db, &tenant, &token).await?,
        None => None,
    };
    if found.is_none() {
        return Ok(back_to_login("second_factor_expired", https));
    }
    render(&tenant, StatusCode::OK, &FormErrors::default())
}

/// Checks the code. Success starts the web session, and a wrong code shows the form again with
/// status 401. A locked account or a pending state that is gone returns to the login form.
async fn submit(
    State(state): State<AppState>,
    tenant: TenantContext,
    client: ClientIp,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, Error> {
    let https = state.urls.is_https();
    let Some(token) = pending::token_from(&headers, https) else {
        return Ok(back_to_login("second_factor_expired", https));
    };
    let Some(pending_login) = pending::find(&state.sessions, &state.db, &tenant, &token).await?
    else {
        return Ok(back_to_login("second_factor_expired", https));
    };
    let account = &pending_login.account;

    let method = match check::check(&state.db, &tenant, account, &form.code).await? {
        Ok(method) => method,
        Err(rejection) => {
            tracing::info!(
                tenant_id = %tenant.id,
                account_id = account.id,
                reason = rejection.as_str(),
                "second factor rejected"
            );
            audit::record_second_factor_failure(&state.db, account, client.0, rejection.as_str())
                .await?;
            return match rejection {
                Rejection::Invalid | Rejection::Replayed => {
                    let mut errors = FormErrors::default();
                    errors.add("code", "totp.login.error");
                    render(&tenant, StatusCode::UNAUTHORIZED, &errors)
                }
                Rejection::Locked => {
                    sessions::revoke(&state.sessions, &state.db, tenant.id, &token).await?;
                    Ok(back_to_login("second_factor_locked", https))
                }
                Rejection::NotEnabled => {
                    sessions::revoke(&state.sessions, &state.db, tenant.id, &token).await?;
                    Ok(back_to_login("second_factor_expired", https))
                }
            };
        }
    };

    let previous = signin::session_token(&state, &headers);
    let txn = state.db.begin().await?;
    sessions::revoke(&state.sessions, &txn, tenant.id, &token).await?;
    let session = signin::start_session_after_login(
        &state.sessions,
        &txn,
        &tenant,
        account,
        previous.as_deref(),
    )
    .await?;
    let Some(session) = session else {
        // A password change or deactivation committed after the pending state was read. The
        // pending state is deleted already: Redis does not roll back.
        txn.rollback().await?;
        return Ok(back_to_login("second_factor_expired", https));
    };
    login::record_success(&txn, &tenant, account.id).await?;
    audit::record_login_success(&txn, account, client.0, "web", Some(method.as_str())).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant.id,
        account_id = account.id,
        kind = account.kind.as_str(),
        second_factor = method.as_str(),
        "login succeeded"
    );

    // After a recovery code the planner lands on the two-factor page, which shows how many
    // codes remain, unless a password change comes first.
    let target = if method == Method::RecoveryCode && !account.must_change_password {
        format!("{SETUP_PATH}?notice=recovery_code_used")
    } else {
        signin::landing_path(account).to_owned()
    };
    let mut response = signin::signed_in_redirect(&state, &target, &session, &account.language);
    response
        .headers_mut()
        .append(header::SET_COOKIE, pending::clear_cookie(https));
    Ok(response)
}

/// Redirects to the login form with a notice and removes the pending-state cookie.
fn back_to_login(notice: &str, https: bool) -> Response {
    let mut response = Redirect::to(&format!("/login?notice={notice}")).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, pending::clear_cookie(https));
    response
}

fn render(
    tenant: &TenantContext,
    status: StatusCode,
    errors: &FormErrors,
) -> Result<Response, Error> {
    let base = base_context(tenant, None, "login");
    let context = minijinja::context! {
        errors => errors.to_value(),
        ..base
    };
    forms::page(status, "totp/login.html", context)
}
