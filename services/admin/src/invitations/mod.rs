//! "Mitarbeiter einladen" under Konfiguration → Stammdaten: the employees of one level (the
//! organization or a branch) with their portal status, and sending invitation mails to the
//! ticked ones or to all who can be invited.

mod level;
mod mail;
mod send;
mod status;

use std::collections::HashSet;
use std::fmt::Write as _;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use mep24web_entities::tenant_settings;
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::error::Result;
use mep24web_platform::i18n::{self, Locale};
use mep24web_platform::rights::{Allowed, Reach, Right, need};
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, TenantContext, templates};
use serde::{Deserialize, Serialize};

use self::level::{Level, Member, members};
pub(crate) use self::send::end_open_invitations;
use self::send::{Outcome, Selection};
use self::status::PortalStatus;

const PATH: &str = "/admin/stammdaten/einladen";

/// Skipped ids carried in the redirect after sending, at most. The list only ever grows when
/// employees change between loading the page and sending, so the cap is rarely reached.
const MAX_SKIPPED_IN_URL: usize = 100;

/// Returns the routes of the invitation page.
pub fn routes() -> RouteTable {
    RouteTable::new().get_post(
        PATH,
        get(list).post(submit),
        Access::Right(Right::InviteEmployees),
    )
}

/// Query of the list page. `versendet` and `uebersprungen` come from the redirect after sending.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    ebene: Option<String>,
    #[serde(default)]
    versendet: Option<String>,
    /// Comma-separated employee ids that were chosen but could not be invited.
    #[serde(default)]
    uebersprungen: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::InviteEmployees>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response> {
    let Ok(Query(query)) = query else {
        return Err(Error::BadRequest("errors.bad_form"));
    };
    let level_id = match query.ebene.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| Error::NotFound)?),
    };
    let locale = i18n::current_locale();
    let notice = query
        .versendet
        .and_then(|count| count.trim().parse::<usize>().ok())
        .map(|count| sent_notice(locale, count));
    let skipped = query
        .uebersprungen
        .map(|ids| {
            ids.split(',')
                .filter_map(|id| id.trim().parse::<i64>().ok())
                .collect()
        })
        .unwrap_or_default();
    let page = PageState {
        notice,
        skipped,
        ..PageState::default()
    };
    render(&state, &auth, &reach, level_id, page, StatusCode::OK).await
}

async fn submit(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::InviteEmployees>,
    client: mep24web_platform::client_ip::ClientIp,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response> {
    let Ok(Form(pairs)) = form else {
        return Err(Error::BadRequest("errors.bad_form"));
    };
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
    };
    let level_id: i64 = value("ebene")
        .and_then(|id| id.parse().ok())
        .ok_or(Error::NotFound)?;
    let ticked = send::parse_ids(
        pairs
            .iter()
            .filter(|(key, _)| key == "mitarbeiter")
            .map(|(_, value)| value.as_str()),
    )
    .ok_or(Error::NotFound)?;
    let selection = if value("aktion") == Some("alle") {
        Selection::All
    } else {
        Selection::Chosen(ticked.clone())
    };

    let locale = i18n::current_locale();
    let alert_key =
        match send::invite(&state, &auth, client.0, level_id, &reach, &selection).await? {
            Outcome::Sent { count, skipped } => {
                let mut target = format!("{PATH}?ebene={level_id}&versendet={count}");
                if !skipped.is_empty() {
                    let ids: Vec<String> = skipped
                        .iter()
                        .take(MAX_SKIPPED_IN_URL)
                        .map(i64::to_string)
                        .collect();
                    let _ = write!(target, "&uebersprungen={}", ids.join(","));
                }
                return Ok(Redirect::to(&target).into_response());
            }
            Outcome::NothingChosen => "invitations.none_selected",
            Outcome::NoneInvitable => "invitations.none_invitable",
            Outcome::NoSecurityCode => "invitations.no_security_code",
        };
    let page = PageState {
        alert: Some(i18n::text(locale, alert_key)),
        ticked: ticked.into_iter().collect(),
        ..PageState::default()
    };
    render(
        &state,
        &auth,
        &reach,
        Some(level_id),
        page,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// Request-specific parts of the page: notice, alert, ticked boxes and skipped employees.
#[derive(Debug, Default)]
struct PageState {
    notice: Option<String>,
    alert: Option<String>,
    /// Employees that stay ticked after a failed submit.
    ticked: HashSet<i64>,
    skipped: Vec<i64>,
}

/// A row of the employee table.
#[derive(Debug, Serialize)]
struct MemberView {
    id: i64,
    personnel_number: String,
    name: String,
    email: Option<String>,
    unit: String,
    status: String,
    status_style: &'static str,
    invitable: bool,
    ticked: bool,
}

/// An entry of the level selector.
#[derive(Debug, Serialize)]
struct LevelChoice {
    id: i64,
    label: String,
}

async fn render(
    state: &AppState,
    auth: &Authenticated,
    reach: &Reach,
    level_id: Option<i64>,
    page: PageState,
    status: StatusCode,
) -> Result<Response> {
    let tenant = &auth.tenant;
    let locale = i18n::current_locale();
    let txn = db::begin_tenant(&state.db, tenant.id).await?;
    let scope = Scoped::new(&txn, tenant.id);
    let level = Level::load_within(&scope, level_id, reach).await?;
    let members = members(&scope, &level, tenant.today(), Utc::now()).await?;
    let settings = scope
        .find_by_id::<tenant_settings::Entity>(tenant.id.get())
        .await?
        .ok_or_else(|| anyhow::anyhow!("tenant {} has no settings row", tenant.id))?;
    txn.commit().await?;

    let rows: Vec<MemberView> = members
        .iter()
        .map(|member| member_view(locale, tenant, &level, member, &page.ticked))
        .collect();
    let skipped: Vec<&MemberView> = rows
        .iter()
        .filter(|row| page.skipped.contains(&row.id))
        .collect();
    let choices: Vec<LevelChoice> = level
        .choices()
        .into_iter()
        .map(|unit| LevelChoice {
            id: unit.id,
            label: level_label(locale, unit.kind.as_str(), &unit.name),
        })
        .collect();
    let count_invitable = rows.iter().filter(|row| row.invitable).count();
    let security_code_missing = settings
        .security_code
        .as_deref()
        .is_none_or(|code| code.trim().is_empty());

    let base = base_context(tenant, Some(auth), "stammdaten");
    let context = minijinja::context! {
        level => LevelChoice { id: level.unit.id, label: level.unit.name.clone() },
        choices => choices,
        members => rows,
        skipped => skipped,
        count_invitable => count_invitable,
        valid_days => settings.invitation_valid_days,
        security_code_missing => security_code_missing,
        notice => page.notice,
        alert => page.alert,
        path => PATH,
        ..base
    };
    Ok((
        status,
        templates::page("admin/invitations/list.html", context)?,
    )
        .into_response())
}

fn member_view(
    locale: Locale,
    tenant: &TenantContext,
    level: &Level,
    member: &Member,
    ticked: &HashSet<i64>,
) -> MemberView {
    let employee = &member.employee;
    let invitable = member.status.is_invitable();
    MemberView {
        id: employee.id,
        personnel_number: employee.personnel_number.clone(),
        name: format!("{} {}", employee.first_name, employee.last_name),
        email: employee.email.clone(),
        unit: level.path(employee.org_unit_id),
        status: status_text(locale, tenant, &member.status),
        status_style: member.status.style(),
        invitable,
        ticked: invitable && ticked.contains(&employee.id),
    }
}

fn status_text(locale: Locale, tenant: &TenantContext, status: &PortalStatus) -> String {
    let key = format!("invitations.status.{}", status.code());
    match status {
        PortalStatus::Invited {
            sent_at,
            expires_at,
        } => {
            let format = i18n::text(locale, "invitations.date_format");
            i18n::text_with(
                locale,
                &key,
                &[
                    ("sent", &format_local(*sent_at, tenant, &format)),
                    ("valid_until", &format_local(*expires_at, tenant, &format)),
                ],
            )
        }
        _ => i18n::text(locale, &key),
    }
}

fn level_label(locale: Locale, kind: &str, name: &str) -> String {
    let key = format!("invitations.level_kind.{kind}");
    i18n::text_with(locale, &key, &[("name", name)])
}

fn sent_notice(locale: Locale, count: usize) -> String {
    if count == 1 {
        i18n::text(locale, "invitations.sent_one")
    } else {
        i18n::text_with(locale, "invitations.sent", &[("count", &count.to_string())])
    }
}

/// Formats a point in time in the tenant's time zone with a strftime pattern from the locale
/// files, falling back to a fixed pattern if the locale's one is invalid.
fn format_local(at: DateTime<Utc>, tenant: &TenantContext, pattern: &str) -> String {
    let local = at.with_timezone(&tenant.time_zone);
    let mut text = String::new();
    if write!(text, "{}", local.format(pattern)).is_err() {
        text.clear();
        let _ = write!(text, "{}", local.format("%d.%m.%Y %H:%M"));
    }
    text
}
