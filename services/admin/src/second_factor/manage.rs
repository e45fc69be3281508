//! Two-factor login while it is on: its state, new recovery codes and turning it off.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::error::Result;
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::totp::check::{self, Rejection};
use mep24web_platform::totp::{self, SETUP_PATH, SetupPlanner, recovery};
use mep24web_platform::{AppState, Error, login, web};
use minijinja::context;
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};
use secrecy::SecretString;
use serde::Deserialize;

use super::{FieldErrors, back_to_page, render_codes, render_page, text};

/// Number of unused recovery codes at or below which the page suggests new ones.
const FEW_RECOVERY_CODES: u64 = 3;

/// The form that turns two-factor login off. The field names match the inputs of the state
/// page, which contains two forms with a code field each.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DisableForm {
    password: String,
    disable_code: String,
}

/// The form that replaces the recovery codes.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RenewForm {
    renew_code: String,
}

/// Renders the state page with the forms for new recovery codes and for turning it off.
/// `errors` uses the field names `renew_code`, `password` and `disable_code`.
pub(super) async fn render_status(
    state: &AppState,
    auth: &Authenticated,
    enabled_since: DateTime<Utc>,
    notice: Option<String>,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let tenant = &auth.tenant;
    let remaining = recovery::remaining(&state.db, tenant.id, auth.account.id).await?;
    let required = totp::account::required_for_planners(&state.db, tenant.id).await?;
    let since = enabled_since
        .with_timezone(&tenant.time_zone)
        .format("%d.%m.%Y %H:%M")
        .to_string();
    let base = web::base_context(tenant, Some(auth), "konto");
    render_page(
        "totp/status.html",
        status,
        context! {
            enabled_since => since,
            remaining => remaining,
            few_remaining => remaining <= FEW_RECOVERY_CODES,
            required => required,
            errors => errors,
            notice => notice,
            ..base
        },
    )
}

/// Replaces the recovery codes after a correct code from the app (or an unused recovery code),
/// records the audit event with the kind of code, and shows the new codes once.
pub(super) async fn renew(
    State(state): State<AppState>,
    SetupPlanner(auth): SetupPlanner,
    client: ClientIp,
    form: std::result::Result<Form<RenewForm>, FormRejection>,
) -> Result<Response> {
    let Form(form) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let Some(enabled_since) = enabled_since(&state, &auth).await? else {
        return Ok(back_to_page());
    };
    let outcome = check::check(&state.db, &auth.tenant, &auth.account, &form.renew_code).await?;
    let method = match outcome {
        Ok(method) => method,
        Err(rejection) => {
            log_rejection(&auth, rejection, "recovery code renewal");
            let Some(message) = rejection_text(rejection) else {
                return Ok(back_to_page());
            };
            let errors = FieldErrors::from([("renew_code", message)]);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_status(&state, &auth, enabled_since, None, &errors, status).await;
        }
    };

    let codes = recovery::generate();
    let txn = state.db.begin().await?;
    recovery::replace_all(&txn, auth.tenant.id, auth.account.id, &codes).await?;
    let action = AuditAction::RecoveryCodesRenewed;
    record_with_method(&txn, &auth, action, method, client).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %auth.tenant.id,
        account_id = auth.account.id,
        "recovery codes renewed"
    );
    render_codes(&auth, &codes, "totp.codes.renewed")
}

/// Turns two-factor login off after the correct password and a correct code, and records the
/// audit event with the kind of code. A wrong password or code counts towards the lockout. A
/// wrong password stops before the code is checked, so no recovery code is used up.
pub(super) async fn disable(
    State(state): State<AppState>,
    SetupPlanner(auth): SetupPlanner,
    client: ClientIp,
    form: std::result::Result<Form<DisableForm>, FormRejection>,
) -> Result<Response> {
    let Form(form) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let Some(enabled_since) = enabled_since(&state, &auth).await? else {
        return Ok(back_to_page());
    };
    let tenant = &auth.tenant;
    let account = &auth.account;
    let status = StatusCode::UNPROCESSABLE_ENTITY;

    if account.locked_until.is_some_and(|until| until > Utc::now()) {
        let errors = FieldErrors::from([("password", text("totp.status.error_locked"))]);
        return render_status(&state, &auth, enabled_since, None, &errors, status).await;
    }
    let password = SecretString::from(form.password);
    if !state
        .hasher
        .verify(&password, account.password_hash.as_deref())
        .await
    {
        login::record_failure(&state.db, tenant, account).await?;
        tracing::info!(
            tenant_id = %tenant.id,
            account_id = account.id,
            "two-factor disable rejected: wrong password"
        );
        let errors = FieldErrors::from([("password", text("totp.status.error_password"))]);
        return render_status(&state, &auth, enabled_since, None, &errors, status).await;
    }
    let method = match check::check(&state.db, tenant, account, &form.disable_code).await? {
        Ok(method) => method,
        Err(rejection) => {
            log_rejection(&auth, rejection, "two-factor disable");
            let Some(message) = rejection_text(rejection) else {
                return Ok(back_to_page());
            };
            let errors = FieldErrors::from([("disable_code", message)]);
            return render_status(&state, &auth, enabled_since, None, &errors, status).await;
        }
    };

    let txn = state.db.begin().await?;
    totp::account::disable(&txn, tenant.id, account.id).await?;
    record_with_method(&txn, &auth, AuditAction::TotpDisabled, method, client).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant.id,
        account_id = account.id,
        "two-factor login disabled by the planner"
    );
    Ok(Redirect::to(&format!("{SETUP_PATH}?notice=disabled")).into_response())
}

/// Returns when the signed-in planner turned two-factor login on, or `None` while it is off.
async fn enabled_since(state: &AppState, auth: &Authenticated) -> Result<Option<DateTime<Utc>>> {
    let row = totp::account::load(&state.db, auth.tenant.id, auth.account.id).await?;
    Ok(row.and_then(|row| row.totp_enabled_at))
}

/// Records an event of the planner on their own account, with the kind of code that confirmed
/// it (`totp` or `recovery_code`) as the detail `method`.
async fn record_with_method<C: ConnectionTrait>(
    conn: &C,
    auth: &Authenticated,
    action: AuditAction,
    method: check::Method,
    client: ClientIp,
) -> std::result::Result<(), DbErr> {
    let target = AuditTarget::account(&auth.account);
    let details = serde_json::json!({ "method": method.as_str() });
    audit::record_by(conn, &auth.account, action, target, client.0, details).await
}

/// Returns the message for a rejected code, or `None` when two-factor login is off by now and
/// the page should simply be shown again.
fn rejection_text(rejection: Rejection) -> Option<String> {
    match rejection {
        Rejection::Invalid | Rejection::Replayed => Some(text("totp.status.error_code")),
        Rejection::Locked => Some(text("totp.status.error_locked")),
        Rejection::NotEnabled => None,
    }
}

fn log_rejection(auth: &Authenticated, rejection: Rejection, action: &'static str) {
    tracing::info!(
        tenant_id = %auth.tenant.id,
        account_id = auth.account.id,
        reason = rejection.as_str(),
        action,
        "second factor rejected"
    );
}
