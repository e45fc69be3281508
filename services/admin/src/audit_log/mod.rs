//! Konfiguration → Sicherheit → Protokoll: the tenant's audit log for administrators.
//!
//! The page lists events newest first, 50 per page, filtered by action, actor, target and a
//! date range in the tenant's time zone. It reads only through [`Scoped`], so another tenant's
//! events never appear.
//!
//! [`Scoped`]: mep24web_platform::db::Scoped

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mep24web_entities::audit_event;
use mep24web_platform::audit::AuditAction;
use mep24web_platform::error::Result;
use mep24web_platform::i18n::{self, Locale};
use mep24web_platform::rights::{Allowed, Right, need};
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::{AppState, templates, web};
use minijinja::{Value, context};

mod filter;
mod query;

use filter::{Filter, FilterQuery};

/// Path of the log page.
const PATH: &str = "/admin/sicherheit/protokoll";

/// Returns the route of the log page.
pub fn routes() -> RouteTable {
    RouteTable::new().get(PATH, get(show), Access::Right(Right::ViewAuditLog))
}

/// Shows one page of the log. A filter with an invalid date shows the form with the error and
/// no rows, with status 422.
async fn show(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::ViewAuditLog>,
    query: std::result::Result<Query<FilterQuery>, QueryRejection>,
) -> Result<Response> {
    let raw = query.map(|Query(q)| q).unwrap_or_default();
    let tenant = &auth.tenant;
    let locale = i18n::current_locale();
    let actions: Vec<Value> = AuditAction::ALL
        .iter()
        .map(|action| {
            context! {
                code => action.code(),
                name => i18n::text(locale, &format!("audit.action.{}", action.code())),
            }
        })
        .collect();
    let base = web::base_context(tenant, Some(&auth), "sicherheit");

    let filter: Filter = match raw.validate(tenant.time_zone) {
        Ok(filter) => filter,
        Err(errors) => {
            let errors: std::collections::BTreeMap<&str, String> = errors
                .iter()
                .map(|(field, key)| (*field, i18n::text(locale, key)))
                .collect();
            let page = templates::page(
                "admin/audit/log.html",
                context! { form => raw, actions => actions, errors => errors, rows => Vec::<Value>::new(), ..base },
            )?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };

    let page = query::load_page(&state.db, tenant.id, &filter).await?;
    let rows: Vec<Value> = page
        .events
        .iter()
        .map(|event| row(event, tenant.time_zone, locale))
        .collect();
    let previous_url = (page.page > 1).then(|| format!("{PATH}?{}", raw.with_page(page.page - 1)));
    let next_url =
        (page.page < page.pages).then(|| format!("{PATH}?{}", raw.with_page(page.page + 1)));
    let page_label = i18n::text_with(
        locale,
        "audit.log.page",
        &[
            ("page", &page.page.to_string()),
            ("pages", &page.pages.to_string()),
        ],
    );
    let html = templates::page(
        "admin/audit/log.html",
        context! {
            form => raw,
            actions => actions,
            rows => rows,
            page_label => page_label,
            previous_url => previous_url,
            next_url => next_url,
            ..base
        },
    )?;
    Ok(html.into_response())
}

/// Builds the table row of one event, with names and times as the user reads them.
fn row(event: &audit_event::Model, zone: chrono_tz::Tz, locale: Locale) -> Value {
    let action = match AuditAction::from_code(&event.action) {
        Some(action) => i18n::text(locale, &format!("audit.action.{}", action.code())),
        None => event.action.clone(),
    };
    let actor = event
        .actor_name
        .clone()
        .unwrap_or_else(|| i18n::text(locale, "audit.log.anonymous"));
    let target = match event.target_kind.as_str() {
        "username" => i18n::text(locale, "audit.log.unknown_username"),
        "settings" => i18n::text(locale, "audit.log.settings_target"),
        "import" => i18n::text(locale, "audit.log.import_target"),
        _ => event.target_name.clone().unwrap_or_default(),
    };
    context! {
        id => event.id,
        time => event.occurred_at.with_timezone(&zone).format("%d.%m.%Y %H:%M:%S").to_string(),
        action_code => event.action,
        action => action,
        actor => actor,
        target => target,
        source_ip => event.source_ip,
        details => details_text(&event.details),
    }
}

/// Renders the JSON details as `key: value` pairs separated by semicolons. Lists are joined
/// with commas, and a change `{"from": a, "to": b}` reads `a → b`, with `–` for no value. Text
/// that is not a JSON object is shown as stored.
fn details_text(details: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(details)
    else {
        return details.to_owned();
    };
    map.iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| format!("{key}: {}", plain(value)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "–".to_owned(),
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        serde_json::Value::Object(map) if is_change(map) => {
            format!("{} → {}", plain(&map["from"]), plain(&map["to"]))
        }
        other => other.to_string(),
    }
}

/// Returns true for an object with exactly the keys `from` and `to`.
fn is_change(map: &serde_json::Map<String, serde_json::Value>) -> bool {
    map.len() == 2 && map.contains_key("from") && map.contains_key("to")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_show_lists_and_skip_nulls() {
        let text = details_text(r#"{"fields":["lockout_minutes","security_code"],"method":null}"#);
        assert_eq!(text, "fields: lockout_minutes, security_code");
    }

    #[test]
    fn details_show_changes_with_arrow() {
        let text =
            details_text(r#"{"fields":["exit_date"],"exit_date":{"from":null,"to":"2026-12-31"}}"#);
        assert_eq!(text, "exit_date: – → 2026-12-31; fields: exit_date");
    }

    #[test]
    fn details_show_counts() {
        assert_eq!(
            details_text(r#"{"created":2,"updated":1}"#),
            "created: 2; updated: 1"
        );
    }
}
