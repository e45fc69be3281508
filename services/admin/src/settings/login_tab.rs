//! The "Anmeldung" tab: allowed failed logins, the lockout duration, whether accounts may
//! reset a forgotten password by email themselves, whether planners must use two-factor
//! login, and how many days the audit log keeps its events.

use std::ops::RangeInclusive;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mep24web_entities::tenant_settings;
use mep24web_platform::audit;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::error::Result;
use mep24web_platform::rights::{Allowed, need};
use mep24web_platform::{AppState, Error};
use minijinja::context;
use sea_orm::TransactionTrait;
use sea_orm::sea_query::Expr;
use serde::Deserialize;

use super::{FieldErrors, NoticeQuery, audit_trail, notice, parse_number, render, store};

pub(super) const PATH: &str = "/admin/einstellungen/anmeldung";

/// Allowed failed logins before an account is locked.
const MAX_FAILED_LOGINS: RangeInclusive<i32> = 1..=20;
/// Lockout duration in minutes: one minute up to one day.
const LOCKOUT_MINUTES: RangeInclusive<i32> = 1..=1440;

/// The "Anmeldung" form as submitted. Fields default to empty, so validation reports them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LoginForm {
    max_failed_logins: String,
    lockout_minutes: String,
    audit_retention_days: String,
    /// Present (any value) when the checkbox is ticked; browsers send nothing otherwise.
    self_service_reset: Option<String>,
    /// Present when the two-factor checkbox is ticked.
    require_totp_for_planners: Option<String>,
}

/// Validated values of the "Anmeldung" tab.
#[derive(Debug, PartialEq, Eq)]
struct LoginSettings {
    max_failed_logins: i32,
    lockout_minutes: i32,
    audit_retention_days: i32,
    self_service_reset: bool,
    require_totp_for_planners: bool,
}

impl LoginForm {
    fn validate(&self) -> std::result::Result<LoginSettings, FieldErrors> {
        let mut errors = FieldErrors::new();
        let max_failed_logins = parse_number(&self.max_failed_logins, MAX_FAILED_LOGINS)
            .map_err(|_| {
                errors.insert(
                    "max_failed_logins",
                    "settings.login.error_max_failed_logins",
                )
            })
            .ok();
        let lockout_minutes = parse_number(&self.lockout_minutes, LOCKOUT_MINUTES)
            .map_err(|_| errors.insert("lockout_minutes", "settings.login.error_lockout_minutes"))
            .ok();
        let audit_retention_days = parse_number(&self.audit_retention_days, audit::RETENTION_DAYS)
            .map_err(|_| errors.insert("audit_retention_days", "audit.settings.error_retention"))
            .ok();
        match (max_failed_logins, lockout_minutes, audit_retention_days) {
            (Some(max_failed_logins), Some(lockout_minutes), Some(audit_retention_days)) => {
                Ok(LoginSettings {
                    max_failed_logins,
                    lockout_minutes,
                    audit_retention_days,
                    self_service_reset: self.self_service_reset.is_some(),
                    require_totp_for_planners: self.require_totp_for_planners.is_some(),
                })
            }
            _ => Err(errors),
        }
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::ChangeSettings>,
    query: std::result::Result<Query<NoticeQuery>, QueryRejection>,
) -> Result<Response> {
    let current = store::load(&state.db, auth.tenant.id).await?;
    let form = context! {
        max_failed_logins => current.max_failed_logins.to_string(),
        lockout_minutes => current.lockout_minutes.to_string(),
        audit_retention_days => current.audit_retention_days.to_string(),
        self_service_reset => current.self_service_reset,
        require_totp_for_planners => current.require_totp_for_planners,
    };
    render(
        &auth,
        "admin/settings/login.html",
        form,
        &FieldErrors::new(),
        notice(query),
        StatusCode::OK,
    )
}

pub(super) async fn save(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::ChangeSettings>,
    client: ClientIp,
    form: std::result::Result<Form<LoginForm>, FormRejection>,
) -> Result<Response> {
    let Form(form) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let settings = match form.validate() {
        Ok(settings) => settings,
        Err(errors) => {
            let typed = context! {
                max_failed_logins => form.max_failed_logins,
                lockout_minutes => form.lockout_minutes,
                audit_retention_days => form.audit_retention_days,
                self_service_reset => form.self_service_reset.is_some(),
                require_totp_for_planners => form.require_totp_for_planners.is_some(),
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(
                &auth,
                "admin/settings/login.html",
                typed,
                &errors,
                None,
                status,
            );
        }
    };
    let changes = [
        (
            tenant_settings::Column::MaxFailedLogins,
            Expr::value(settings.max_failed_logins),
        ),
        (
            tenant_settings::Column::LockoutMinutes,
            Expr::value(settings.lockout_minutes),
        ),
        (
            tenant_settings::Column::SelfServiceReset,
            Expr::value(settings.self_service_reset),
        ),
        (
            tenant_settings::Column::RequireTotpForPlanners,
            Expr::value(settings.require_totp_for_planners),
        ),
        (
            tenant_settings::Column::AuditRetentionDays,
            Expr::value(settings.audit_retention_days),
        ),
    ];
    let before = store::load(&state.db, auth.tenant.id).await?;
    let txn = state.db.begin().await?;
    store::save(&txn, auth.tenant.id, changes).await?;
    let after = store::load(&txn, auth.tenant.id).await?;
    audit_trail::record_changes(&txn, &auth.account, client.0, &before, &after).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %auth.tenant.id,
        by_account_id = auth.account.id,
        max_failed_logins = settings.max_failed_logins,
        lockout_minutes = settings.lockout_minutes,
        self_service_reset = settings.self_service_reset,
        require_totp_for_planners = settings.require_totp_for_planners,
        audit_retention_days = settings.audit_retention_days,
        "login settings saved"
    );
    Ok(Redirect::to(&format!("{PATH}?notice=saved")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_form_accepts_bounds() {
        for (failed, minutes) in [("1", "1"), ("20", "1440"), (" 5 ", "15")] {
            let form = LoginForm {
                max_failed_logins: failed.to_owned(),
                lockout_minutes: minutes.to_owned(),
                audit_retention_days: "365".to_owned(),
                self_service_reset: None,
                require_totp_for_planners: None,
            };
            assert!(form.validate().is_ok(), "{failed}/{minutes} rejected");
        }
    }

    #[test]
    fn login_form_rejects_out_of_range_and_text() {
        for (failed, minutes) in [("0", "0"), ("21", "1441"), ("fünf", ""), ("-1", "1.5")] {
            let form = LoginForm {
                max_failed_logins: failed.to_owned(),
                lockout_minutes: minutes.to_owned(),
                audit_retention_days: "365".to_owned(),
                self_service_reset: None,
                require_totp_for_planners: None,
            };
            let Err(errors) = form.validate() else {
                panic!("{failed}/{minutes} accepted");
            };
            assert_eq!(
                errors.get("max_failed_logins"),
                Some(&"settings.login.error_max_failed_logins")
            );
            assert_eq!(
                errors.get("lockout_minutes"),
                Some(&"settings.login.error_lockout_minutes")
            );
        }
    }
}
