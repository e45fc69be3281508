//! `/password/forgot`: the form that requests a reset link.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, TenantContext, i18n};
use serde::Deserialize;
use tracing::Instrument;

use super::{MAX_IDENTIFIER_CHARS, issue};
use crate::attempt_limit;
use crate::forms::{self, Form, FormErrors};

const PATH: &str = "/password/forgot";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ForgotForm {
    identifier: String,
}

/// `?sent=1` after a request was accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SentQuery {
    sent: Option<String>,
}

pub(super) async fn show(
    tenant: TenantContext,
    Query(query): Query<SentQuery>,
) -> Result<Response, Error> {
    let sent = query.sent.is_some();
    render(&tenant, StatusCode::OK, "", sent, &FormErrors::default())
}

/// Accepts a request and returns the same redirect for every input that is not empty or too
/// long. The accounts are looked up and mailed in a background task.
pub(super) async fn submit(
    State(state): State<AppState>,
    tenant: TenantContext,
    client: ClientIp,
    Form(form): Form<ForgotForm>,
) -> Result<Response, Error> {
    if let Some(limited) = attempt_limit::reject_if_limited(&state, &tenant, client, PATH).await {
        return Ok(limited);
    }
    let identifier = form.identifier.trim();
    let mut errors = FormErrors::default();
    if identifier.is_empty() {
        errors.add("identifier", "login_security.forgot.missing");
    } else if identifier.chars().count() > MAX_IDENTIFIER_CHARS {
        errors.add("identifier", "login_security.forgot.too_long");
    }
    if !errors.is_empty() {
        let typed: String = form.identifier.chars().take(MAX_IDENTIFIER_CHARS).collect();
        return render(
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            &typed,
            false,
            &errors,
        );
    }

    let work = issue::send_reset_links(
        state.clone(),
        tenant.clone(),
        identifier.to_owned(),
        client.0,
    );
    tokio::spawn(work.instrument(tracing::Span::current()));
    Ok(Redirect::to(&format!("{PATH}?sent=1")).into_response())
}

fn render(
    tenant: &TenantContext,
    status: StatusCode,
    identifier: &str,
    sent: bool,
    errors: &FormErrors,
) -> Result<Response, Error> {
    let base = base_context(tenant, None, "login");
    let notice = sent.then(|| i18n::text(i18n::current_locale(), "login_security.forgot.sent"));
    let context = minijinja::context! {
        identifier => identifier,
        sent => sent,
        notice => notice,
        errors => errors.to_value(),
        ..base
    };
    forms::page(status, "login_security/forgot.html", context)
}
