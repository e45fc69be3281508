//! The "Mitarbeiterportal" tab: security code, contact address and invitation validity.

use std::ops::RangeInclusive;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mep24web_employee_import::is_valid_email;
use mep24web_entities::tenant_settings;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::error::Result;
use mep24web_platform::rights::{Allowed, need};
use mep24web_platform::{AppState, Error};
use minijinja::context;
use sea_orm::TransactionTrait;
use sea_orm::sea_query::Expr;
use serde::Deserialize;

use super::{FieldErrors, NoticeQuery, audit_trail, notice, parse_number, render, store};

pub(super) const PATH: &str = "/admin/einstellungen/mitarbeiterportal";

/// Invitation validity in days.
const INVITATION_VALID_DAYS: RangeInclusive<i32> = 1..=90;
/// Length of the security code in characters.
const SECURITY_CODE_CHARS: RangeInclusive<usize> = 4..=64;

/// The "Mitarbeiterportal" form as submitted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PortalForm {
    security_code: String,
    contact_email: String,
    invitation_valid_days: String,
}

/// Validated values of the "Mitarbeiterportal" tab.
#[derive(Debug, PartialEq, Eq)]
struct PortalSettings {
    security_code: String,
    contact_email: Option<String>,
    invitation_valid_days: i32,
}

impl PortalForm {
    fn validate(&self) -> std::result::Result<PortalSettings, FieldErrors> {
        let mut errors = FieldErrors::new();
        let code = self.security_code.trim();
        let code_ok = SECURITY_CODE_CHARS.contains(&code.chars().count())
            && !code.chars().any(char::is_control);
        if !code_ok {
            errors.insert("security_code", "settings.portal.error_security_code");
        }
        let email = self.contact_email.trim();
        if !email.is_empty() && !is_valid_email(email) {
            errors.insert("contact_email", "settings.portal.error_contact_email");
        }
        let days = parse_number(&self.invitation_valid_days, INVITATION_VALID_DAYS)
            .map_err(|_| {
                errors.insert(
                    "invitation_valid_days",
                    "settings.portal.error_invitation_valid_days",
                )
            })
            .ok();
        match days {
            Some(invitation_valid_days) if errors.is_empty() => Ok(PortalSettings {
                security_code: code.to_owned(),
                contact_email: (!email.is_empty()).then(|| email.to_owned()),
                invitation_valid_days,
            }),
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
        security_code => current.security_code,
        contact_email => current.contact_email,
        invitation_valid_days => current.invitation_valid_days.to_string(),
    };
    render(
        &auth,
        "admin/settings/portal.html",
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
    form: std::result::Result<Form<PortalForm>, FormRejection>,
) -> Result<Response> {
    let Form(form) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let settings = match form.validate() {
        Ok(settings) => settings,
        Err(errors) => {
            let typed = context! {
                security_code => form.security_code,
                contact_email => form.contact_email,
                invitation_valid_days => form.invitation_valid_days,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(
                &auth,
                "admin/settings/portal.html",
                typed,
                &errors,
                None,
                status,
            );
        }
    };
    let changes = [
        (
            tenant_settings::Column::SecurityCode,
            Expr::value(Some(settings.security_code.clone())),
        ),
        (
            tenant_settings::Column::ContactEmail,
            Expr::value(settings.contact_email.clone()),
        ),
        (
            tenant_settings::Column::InvitationValidDays,
            Expr::value(settings.invitation_valid_days),
        ),
    ];
    let before = store::load(&state.db, auth.tenant.id).await?;
    let txn = state.db.begin().await?;
    store::save(&txn, auth.tenant.id, changes).await?;
    let after = store::load(&txn, auth.tenant.id).await?;
    audit_trail::record_changes(&txn, &auth.account, client.0, &before, &after).await?;
    txn.commit().await?;
    // The security code and the address stay out of the log.
    tracing::info!(
        tenant_id = %auth.tenant.id,
        by_account_id = auth.account.id,
        invitation_valid_days = settings.invitation_valid_days,
        contact_email_set = settings.contact_email.is_some(),
        "portal settings saved"
    );
    Ok(Redirect::to(&format!("{PATH}?notice=saved")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_form_trims_and_accepts_empty_email() {
        let form = PortalForm {
            security_code: "  Apotheke-2026 ".to_owned(),
            contact_email: " ".to_owned(),
            invitation_valid_days: "90".to_owned(),
        };
        assert_eq!(
            form.validate(),
            Ok(PortalSettings {
                security_code: "Apotheke-2026".to_owned(),
                contact_email: None,
                invitation_valid_days: 90,
            })
        );
    }

    #[test]
    fn portal_form_rejects_each_field() {
        let form = PortalForm {
            security_code: "abc".to_owned(),
            contact_email: "planung(at)example.de".to_owned(),
            invitation_valid_days: "91".to_owned(),
        };
        let Err(errors) = form.validate() else {
            panic!("bad form accepted");
        };
        assert_eq!(
            errors.get("security_code"),
            Some(&"settings.portal.error_security_code")
        );
        assert_eq!(
            errors.get("contact_email"),
            Some(&"settings.portal.error_contact_email")
        );
        assert_eq!(
            errors.get("invitation_valid_days"),
            Some(&"settings.portal.error_invitation_valid_days")
        );
    }

    #[test]
    fn portal_form_rejects_long_code() {
        let form = PortalForm {
            security_code: "x".repeat(65),
            contact_email: String::new(),
            invitation_valid_days: "14".to_owned(),
        };
        assert!(form.validate().is_err());
        let form = PortalForm {
            security_code: "ü".repeat(64),
            contact_email: String::new(),
            invitation_valid_days: "14".to_owned(),
        };
        assert!(form.validate().is_ok());
    }
}
