//! Konfiguration → Einstellungen: the tenant's settings in two tabs.
//!
//! "Anmeldung" sets how many failed logins lock an account and for how long. The login code
//! reads both values at every failed attempt, so a change applies to the next attempt.
//! "Mitarbeiterportal" sets the security code that employees enter when they register, the
//! contact address for replies to invitation mails and how long invitations stay valid.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mep24web_platform::error::Result;
use mep24web_platform::rights::{Allowed, Right, need};
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::{i18n, templates, web};
use minijinja::{Value, context};
use serde::Deserialize;

mod audit_trail;
mod login_tab;
mod portal_tab;
mod store;

/// Field name → locale key of the message shown next to that field.
type FieldErrors = BTreeMap<&'static str, &'static str>;

/// Returns the routes of the settings tabs.
pub fn routes() -> RouteTable {
    let settings = Access::Right(Right::ChangeSettings);
    RouteTable::new()
        .get("/admin/einstellungen", get(first_tab), settings)
        .get_post(
            login_tab::PATH,
            get(login_tab::show).post(login_tab::save),
            settings,
        )
        .get_post(
            portal_tab::PATH,
            get(portal_tab::show).post(portal_tab::save),
            settings,
        )
}

/// The `?notice=saved` parameter of the redirect after saving.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: String,
}

/// Parses a whole number typed into a form and checks that it lies in `range`.
fn parse_number(raw: &str, range: RangeInclusive<i32>) -> std::result::Result<i32, ()> {
    let value: i32 = raw.trim().parse().map_err(|_| ())?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(())
    }
}

/// Opens the first tab.
async fn first_tab(_allowed: Allowed<need::ChangeSettings>) -> Redirect {
    Redirect::to(login_tab::PATH)
}

/// Returns the "Gespeichert." notice when the page was reached by the redirect after a save.
fn notice(query: std::result::Result<Query<NoticeQuery>, QueryRejection>) -> Option<String> {
    let saved = query.is_ok_and(|Query(q)| q.notice == "saved");
    saved.then(|| i18n::text(i18n::current_locale(), "common.saved"))
}

/// Renders a settings tab with the form values, the field errors and the notice.
fn render(
    auth: &Authenticated,
    template: &str,
    form: Value,
    errors: &FieldErrors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response> {
    let locale = i18n::current_locale();
    let errors: BTreeMap<&str, String> = errors
        .iter()
        .map(|(field, key)| (*field, i18n::text(locale, key)))
        .collect();
    let base = web::base_context(&auth.tenant, Some(auth), "einstellungen");
    let page = templates::page(
        template,
        context! { form => form, errors => errors, notice => notice, ..base },
    )?;
    Ok((status, page).into_response())
}
