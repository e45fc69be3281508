//! The planner's own two-factor page at `/admin/konto/zwei-faktor`: setup with QR code and
//! confirmation, the recovery codes shown once, renewing the codes and turning two-factor login
//! off.
//!
//! Every handler takes [`SetupPlanner`](mep24web_platform::totp::SetupPlanner), so a planner
//! whose tenant requires two-factor login reaches this page before setting it up, while every
//! other page of the main program sends them here. The recovery codes are rendered in the
//! response to the POST that created them, not after a redirect, because only their hashes are
//! stored and no later request could show them.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mep24web_platform::error::Result;
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::totp::{self, SETUP_PATH, SetupPlanner, recovery};
use mep24web_platform::{AppState, Error, i18n, templates, web};
use minijinja::{Value, context};
use serde::Deserialize;

mod manage;
mod qr;
mod setup;

/// Path of the form that turns two-factor login off.
const DISABLE_PATH: &str = "/admin/konto/zwei-faktor/deaktivieren";
/// Path of the form that replaces the recovery codes.
const RENEW_PATH: &str = "/admin/konto/zwei-faktor/wiederherstellungscodes";

/// Returns the routes of the two-factor page.
pub fn routes() -> RouteTable {
    RouteTable::new()
        .get_post(SETUP_PATH, get(show).post(setup::confirm), Access::Planner)
        .post(DISABLE_PATH, post(manage::disable), Access::Planner)
        .post(RENEW_PATH, post(manage::renew), Access::Planner)
}

/// Field name → text of the message shown next to that field.
type FieldErrors = BTreeMap<&'static str, String>;

/// The `?notice=` parameter of the redirects to this page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: String,
}

/// The one-field form of the setup confirmation and the renewal of recovery codes.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CodeForm {
    code: String,
}

/// Shows the setup while two-factor login is off, and its state and settings while it is on.
async fn show(
    State(state): State<AppState>,
    SetupPlanner(auth): SetupPlanner,
    query: std::result::Result<Query<NoticeQuery>, QueryRejection>,
) -> Result<Response> {
    let tenant_id = auth.tenant.id;
    let row = totp::account::load(&state.db, tenant_id, auth.account.id)
        .await?
        .ok_or(Error::NotFound)?;
    let notice = match query.map(|Query(q)| q.notice).unwrap_or_default().as_str() {
        "disabled" => Some(text("totp.status.notice_disabled")),
        "recovery_code_used" => {
            let count = recovery::remaining(&state.db, tenant_id, auth.account.id).await?;
            Some(i18n::text_with(
                i18n::current_locale(),
                "totp.status.notice_recovery_used",
                &[("count", &count.to_string())],
            ))
        }
        _ => None,
    };
    match row.totp_enabled_at {
        Some(since) => {
            manage::render_status(
                &state,
                &auth,
                since,
                notice,
                &FieldErrors::new(),
                StatusCode::OK,
            )
            .await
        }
        None => {
            setup::render_setup(&state, &auth, notice, &FieldErrors::new(), StatusCode::OK).await
        }
    }
}

/// Renders the page with the recovery codes. `heading_key` names the sentence above them: the
/// setup just finished, or the codes were renewed. The page must not be cached.
fn render_codes(auth: &Authenticated, codes: &[String], heading_key: &str) -> Result<Response> {
    let base = web::base_context(&auth.tenant, Some(auth), "konto");
    let page = templates::page(
        "totp/recovery_codes.html",
        context! {
            codes => codes,
            notice => text(heading_key),
            ..base
        },
    )?;
    Ok(([(header::CACHE_CONTROL, "no-store")], page).into_response())
}

/// Renders a page of this area with `Cache-Control: no-store`, because it shows the secret or
/// account state.
fn render_page(template: &str, status: StatusCode, context: Value) -> Result<Response> {
    let page = templates::page(template, context)?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")], page).into_response())
}

/// Redirects to the two-factor page, which shows the current state.
fn back_to_page() -> Response {
    Redirect::to(SETUP_PATH).into_response()
}

fn text(key: &str) -> String {
    i18n::text(i18n::current_locale(), key)
}
