//! Setting up two-factor login: the secret as text, link and QR code, and the confirmation
//! with a first code, which turns it on and creates the recovery codes.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use mep24web_platform::audit::{self, AuditAction};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::error::Result;
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::totp::code::{decode_secret, matching_step, otpauth_uri};
use mep24web_platform::totp::{self, SetupPlanner, recovery};
use mep24web_platform::{AppState, Error, web};
use minijinja::context;
use sea_orm::TransactionTrait;

use super::{CodeForm, FieldErrors, back_to_page, qr, render_codes, render_page, text};

/// Renders the setup page. Starts the enrollment on first view. Later views show the same
/// secret until it is confirmed, so an app entry scanned earlier keeps working.
pub(super) async fn render_setup(
    state: &AppState,
    auth: &Authenticated,
    notice: Option<String>,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let tenant = &auth.tenant;
    let Some(secret) =
        totp::account::start_enrollment(&state.db, tenant.id, auth.account.id).await?
    else {
        // Two-factor login was turned on meanwhile in another window, so show its state.
        return Ok(back_to_page());
    };
    let uri = otpauth_uri(&auth.account.username, &tenant.slug, &secret);
    let required = totp::account::required_for_planners(&state.db, tenant.id).await?;
    let base = web::base_context(tenant, Some(auth), "konto");
    render_page(
        "totp/setup.html",
        status,
        context! {
            secret => grouped(&secret),
            otpauth_uri => uri,
            qr_code => qr::svg_data_uri(&uri),
            required => required,
            errors => errors,
            notice => notice,
            ..base
        },
    )
}

/// Confirms the setup with a code of the secret shown on the page. A correct code turns
/// two-factor login on, stores the hashes of ten new recovery codes and the audit event, and
/// shows the codes once.
pub(super) async fn confirm(
    State(state): State<AppState>,
    SetupPlanner(auth): SetupPlanner,
    client: ClientIp,
    form: std::result::Result<Form<CodeForm>, FormRejection>,
) -> Result<Response> {
    let Form(form) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let tenant_id = auth.tenant.id;
    let account_id = auth.account.id;
    let Some(secret) = totp::account::start_enrollment(&state.db, tenant_id, account_id).await?
    else {
        return Ok(back_to_page());
    };
    let step = decode_secret(&secret)
        .and_then(|key| matching_step(&key, &form.code, Utc::now().timestamp()));
    let Some(step) = step else {
        let errors = FieldErrors::from([("code", text("totp.setup.error_code"))]);
        return render_setup(
            &state,
            &auth,
            None,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };

    let codes = recovery::generate();
    let txn = state.db.begin().await?;
    let confirmed =
        totp::account::confirm_enrollment(&txn, tenant_id, account_id, &secret, step, &codes)
            .await?;
    if !confirmed {
        drop(txn);
        let errors = FieldErrors::from([("code", text("totp.setup.error_changed"))]);
        return render_setup(&state, &auth, None, &errors, StatusCode::CONFLICT).await;
    }
    audit::record_own(&txn, &auth.account, AuditAction::TotpEnabled, client.0).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        account_id,
        "two-factor login enabled"
    );
    render_codes(&auth, &codes, "totp.codes.enabled")
}

/// Splits a base32 secret into groups of four characters, the way apps accept it typed.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_splits_into_fours() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
        assert_eq!(grouped(""), "");
    }
}
