//! Konfiguration → Stammdaten: the organization tree, employee records and an employee's portal
//! login (tab "Benutzer"). Every route takes an [`Allowed`] extractor for the right it needs,
//! and every id in a path or form is looked up through [`Scoped`] and checked against the
//! right's [`Reach`], so another tenant's id and an employee outside a branch manager's branch
//! get the same 404 as a missing one.
//!
//! [`Allowed`]: mep24web_platform::rights::Allowed
//! [`Scoped`]: mep24web_platform::db::Scoped

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use mep24web_entities::{account, employee};
use mep24web_platform::db::Scoped;
use mep24web_platform::rights::{Reach, Right};
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::{Error, TenantId, i18n, sessions};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, QueryFilter, QuerySelect};
use serde::Serialize;

mod audit_trail;
mod employees;
mod forms;
mod login_settings;
mod login_tab;
mod overview;
pub(crate) mod tree;
mod units;

use forms::FieldErrors;
use tree::OrgTree;

/// Returns the routes under `/admin/stammdaten`, except import and invitations.
pub fn routes() -> RouteTable {
    let view = Access::Right(Right::ViewMasterData);
    let edit = Access::Right(Right::EditMasterData);
    let logins = Access::Right(Right::ManageEmployeeLogins);
    RouteTable::new()
        .get("/admin/stammdaten", get(overview::show), view)
        .get_post(
            "/admin/stammdaten/ebene/neu",
            get(units::new_form).post(units::create),
            edit,
        )
        .get_post(
            "/admin/stammdaten/ebene/{id}",
            get(units::rename_form).post(units::rename),
            edit,
        )
        .get_post(
            "/admin/stammdaten/mitarbeiter/neu",
            get(employees::new_form).post(employees::create),
            edit,
        )
        .route(
            "/admin/stammdaten/mitarbeiter/{id}",
            get(employees::edit_form).post(employees::update),
            &[(Method::GET, view), (Method::POST, edit)],
        )
        .get_post(
            "/admin/stammdaten/mitarbeiter/{id}/benutzer",
            get(login_tab::show).post(login_tab::create),
            logins,
        )
        .post(
            "/admin/stammdaten/mitarbeiter/{id}/benutzer/passwort",
            post(login_settings::set_password),
            logins,
        )
        .post(
            "/admin/stammdaten/mitarbeiter/{id}/benutzer/name",
            post(login_settings::change_username),
            logins,
        )
        .post(
            "/admin/stammdaten/mitarbeiter/{id}/benutzer/aktiv",
            post(login_settings::set_active),
            logins,
        )
}

/// A confirmation shown after a redirect, carried as `?hinweis=<code>` so the pages need no
/// flash cookie. Unknown codes show nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notice {
    UnitCreated,
    UnitRenamed,
    EmployeeCreated,
    EmployeeSaved,
    LoginCreated,
    PasswordSet,
    UsernameChanged,
    LoginActivated,
    LoginDeactivated,
}

impl Notice {
    const ALL: [Self; 9] = [
        Self::UnitCreated,
        Self::UnitRenamed,
        Self::EmployeeCreated,
        Self::EmployeeSaved,
        Self::LoginCreated,
        Self::PasswordSet,
        Self::UsernameChanged,
        Self::LoginActivated,
        Self::LoginDeactivated,
    ];

    fn code(self) -> &'static str {
        match self {
            Self::UnitCreated => "ebene-angelegt",
            Self::UnitRenamed => "ebene-umbenannt",
            Self::EmployeeCreated => "mitarbeiter-angelegt",
            Self::EmployeeSaved => "mitarbeiter-gespeichert",
            Self::LoginCreated => "benutzer-angelegt",
            Self::PasswordSet => "passwort-gesetzt",
            Self::UsernameChanged => "benutzername-geaendert",
            Self::LoginActivated => "benutzer-aktiviert",
            Self::LoginDeactivated => "benutzer-deaktiviert",
        }
    }

    fn message_key(self) -> &'static str {
        match self {
            Self::UnitCreated => "masterdata.notice.unit_created",
            Self::UnitRenamed => "masterdata.notice.unit_renamed",
            Self::EmployeeCreated => "masterdata.notice.employee_created",
            Self::EmployeeSaved => "masterdata.notice.employee_saved",
            Self::LoginCreated => "masterdata.notice.login_created",
            Self::PasswordSet => "masterdata.notice.password_set",
            Self::UsernameChanged => "masterdata.notice.username_changed",
            Self::LoginActivated => "masterdata.notice.login_activated",
            Self::LoginDeactivated => "masterdata.notice.login_deactivated",
        }
    }

    /// Returns the text for a `hinweis` query value, or `None` for a missing or unknown code.
    fn text_for(code: Option<&str>) -> Option<String> {
        let code = code?;
        Self::ALL
            .into_iter()
            .find(|notice| notice.code() == code)
            .map(|notice| text(notice.message_key()))
    }
}

/// Redirects (303) to a page of this area and shows the notice there.
fn redirect_with(path: &str, notice: Notice) -> Response {
    let separator = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{separator}hinweis={}", notice.code())).into_response()
}

/// Returns a locale text in the request's language.
fn text(key: &str) -> String {
    i18n::text(i18n::current_locale(), key)
}

/// Translates the inline errors of a form for the `field` macro.
fn error_texts(errors: &FieldErrors) -> BTreeMap<&'static str, String> {
    errors
        .iter()
        .map(|(field, key)| (*field, text(key)))
        .collect()
}

/// Wraps a page that shows a form again with its errors, with status 422.
fn unprocessable(page: Html<String>) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// Parses an id from a path or query. Anything but a positive number is a page that does not
/// exist.
fn parse_id(raw: &str) -> Result<i64, Error> {
    match raw.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(Error::NotFound),
    }
}

/// Loads the tenant's organization tree. A tenant without its organization node is broken
/// data, not a user error.
async fn load_tree<C: ConnectionTrait>(scope: &Scoped<'_, C>) -> Result<OrgTree, Error> {
    let tree = OrgTree::load(scope).await?;
    if tree.root().is_none() {
        return Err(Error::Internal(anyhow::anyhow!(
            "tenant {} has no organization node",
            scope.tenant_id()
        )));
    }
    Ok(tree)
}

/// Finds an employee of this tenant by the id in the path. An employee outside the planner's
/// reach is not found, exactly like another tenant's employee.
async fn find_employee<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    raw_id: &str,
    reach: &Reach,
) -> Result<employee::Model, Error> {
    let id = parse_id(raw_id)?;
    scope
        .find_by_id::<employee::Entity>(id)
        .await?
        .filter(|employee| reach.contains(employee.org_unit_id))
        .ok_or(Error::NotFound)
}

/// Checks inside a write transaction that the employee still lies within the reach, because
/// another planner may have moved them since the handler found them. On PostgreSQL the row
/// stays locked for update until the transaction ends, so a move waits for this write. On SQLite
/// the transaction already holds the database write lock. An employee moved out is not found.
async fn lock_employee_within<C: ConnectionTrait>(
    txn: &C,
    tenant_id: TenantId,
    employee_id: i64,
    reach: &Reach,
) -> Result<(), Error> {
    let mut query = Scoped::new(txn, tenant_id)
        .find::<employee::Entity>()
        .filter(employee::Column::Id.eq(employee_id));
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    match query.one(txn).await? {
        Some(employee) if reach.contains(employee.org_unit_id) => Ok(()),
        _ => Err(Error::NotFound),
    }
}

/// Finds the portal login of an employee, if one exists.
async fn find_login<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    employee_id: i64,
) -> Result<Option<account::Model>, Error> {
    Ok(scope
        .find::<account::Entity>()
        .filter(account::Column::Kind.eq("employee"))
        .filter(account::Column::EmployeeId.eq(employee_id))
        .one(scope.conn())
        .await?)
}

/// Portal status of an employee as the list and the "Benutzer" tab show it. An employee whose
/// exit date has passed counts as departed even with an active login, because
/// [`sessions::may_sign_in`] lets no departed employee in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum LoginStatus {
    None,
    Registered,
    Deactivated,
    Departed,
}

impl LoginStatus {
    fn of(exit_date: Option<NaiveDate>, login: Option<&account::Model>, today: NaiveDate) -> Self {
        if sessions::is_departed(exit_date, today) {
            return Self::Departed;
        }
        match login {
            None => Self::None,
            Some(login) if login.active => Self::Registered,
            Some(_) => Self::Deactivated,
        }
    }
}

/// Builds "First Last", the display name of an employee and of their login.
fn full_name(first_name: &str, last_name: &str) -> String {
    format!("{first_name} {last_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_codes_round_trip() {
        for notice in Notice::ALL {
            let found = Notice::ALL.into_iter().find(|n| n.code() == notice.code());
            assert_eq!(found, Some(notice));
            assert!(!text(notice.message_key()).starts_with("masterdata."));
        }
        assert_eq!(Notice::text_for(Some("unbekannt")), None);
        assert_eq!(Notice::text_for(None), None);
    }

    #[test]
    fn redirect_appends_notice() {
        let response = redirect_with("/admin/stammdaten?ebene=4", Notice::UnitCreated);
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()["location"],
            "/admin/stammdaten?ebene=4&hinweis=ebene-angelegt"
        );
    }

    #[test]
    fn parse_id_rejects_non_positive() {
        assert!(matches!(parse_id("12"), Ok(12)));
        for raw in ["0", "-3", "abc", "", "1e3", "99999999999999999999"] {
            assert!(matches!(parse_id(raw), Err(Error::NotFound)), "{raw}");
        }
    }

    #[test]
    fn status_prefers_departed() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default();
        let yesterday = NaiveDate::from_ymd_opt(2026, 12, 3);
        assert_eq!(
            LoginStatus::of(yesterday, None, today),
            LoginStatus::Departed
        );
        assert_eq!(LoginStatus::of(Some(today), None, today), LoginStatus::None);
    }
}
