//! The cross-tenant and cross-right matrix, generated from the routers' own route tables
//! (`mep24web::pages::tenant_routes`, `mep24web_app_api::routes`).
//!
//! [`EXPECTED`] states the access of every route. A route in the table but not here, or here with
//! another access, fails [`every_route_has_a_matrix_entry`], so a new route cannot land without
//! saying who may call it. [`every_route_refuses_other_tenants_and_missing_rights`] then calls
//! each route on tenant A's host with tenant B's session, without a session, as a planner of A
//! whose group grants nothing, as an employee of A, and as A's administrator with B's ids, and
//! checks the status and that no row of either tenant changed.

use chrono::Utc;
use mep24web_entities::{
    account, account_totp, employee, invitation, org_unit, outbox, password_token, recovery_code,
    tenant_settings, user_group, user_group_right,
};
use mep24web_platform::rights::Right;
use mep24web_platform::routes::{Access, RouteEntry};
use mep24web_platform::sessions::SessionKind;
use mep24web_tests::accounts::{group_without_rights, insert_planner};
use mep24web_tests::{TestApp, TestTenant, location, spawn_app};
use reqwest::header::{AUTHORIZATION, COOKIE};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

/// Every route of a tenant host with its access; `"api:"` marks app API operations, relative to
/// `/api/app/v1` on the apex host.
const EXPECTED: &[(&str, &str, Access)] = &[
    ("GET", "/", Access::Public),
    ("GET", "/login", Access::Public),
    ("POST", "/login", Access::Public),
    ("POST", "/logout", Access::Public),
    ("GET", "/setup/{token}", Access::Public),
    ("POST", "/setup/{token}", Access::Public),
    ("GET", "/register/{token}", Access::Public),
    ("POST", "/register/{token}", Access::Public),
    ("GET", "/password/change", Access::SignedIn),
    ("POST", "/password/change", Access::SignedIn),
    ("GET", "/password/forgot", Access::Public),
    ("POST", "/password/forgot", Access::Public),
    ("GET", "/reset/{token}", Access::Public),
    ("POST", "/reset/{token}", Access::Public),
    ("GET", "/login/zwei-faktor", Access::Public),
    ("POST", "/login/zwei-faktor", Access::Public),
    ("GET", "/portal", Access::Employee),
    ("GET", "/admin", Access::Planner),
    ("GET", "/admin/stammdaten", VIEW),
    ("GET", "/admin/stammdaten/ebene/neu", EDIT),
    ("POST", "/admin/stammdaten/ebene/neu", EDIT),
    ("GET", "/admin/stammdaten/ebene/{id}", EDIT),
    ("POST", "/admin/stammdaten/ebene/{id}", EDIT),
    ("GET", "/admin/stammdaten/mitarbeiter/neu", EDIT),
    ("POST", "/admin/stammdaten/mitarbeiter/neu", EDIT),
    ("GET", "/admin/stammdaten/mitarbeiter/{id}", VIEW),
    ("POST", "/admin/stammdaten/mitarbeiter/{id}", EDIT),
    ("GET", "/admin/stammdaten/mitarbeiter/{id}/benutzer", LOGINS),
    (
        "POST",
        "/admin/stammdaten/mitarbeiter/{id}/benutzer",
        LOGINS,
    ),
    (
        "POST",
        "/admin/stammdaten/mitarbeiter/{id}/benutzer/passwort",
        LOGINS,
    ),
    (
        "POST",
        "/admin/stammdaten/mitarbeiter/{id}/benutzer/name",
        LOGINS,
    ),
    (
        "POST",
        "/admin/stammdaten/mitarbeiter/{id}/benutzer/aktiv",
        LOGINS,
    ),
    ("GET", "/admin/stammdaten/import", EDIT),
    ("POST", "/admin/stammdaten/import", EDIT),
    ("POST", "/admin/stammdaten/import/bestaetigen", EDIT),
    ("GET", "/admin/stammdaten/einladen", INVITE),
    ("POST", "/admin/stammdaten/einladen", INVITE),
    ("GET", "/admin/sicherheit/benutzer", USERS),
    ("GET", "/admin/sicherheit/benutzer/neu", USERS),
    ("POST", "/admin/sicherheit/benutzer/neu", USERS),
    ("GET", "/admin/sicherheit/benutzer/{id}", USERS),
    ("POST", "/admin/sicherheit/benutzer/{id}", USERS),
    (
        "POST",
        "/admin/sicherheit/benutzer/{id}/zwei-faktor/zuruecksetzen",
        USERS,
    ),
    ("GET", "/admin/sicherheit/gruppen", USERS),
    ("GET", "/admin/sicherheit/gruppen/neu", USERS),
    ("POST", "/admin/sicherheit/gruppen/neu", USERS),
    ("GET", "/admin/sicherheit/gruppen/{id}", USERS),
    ("POST", "/admin/sicherheit/gruppen/{id}", USERS),
    ("POST", "/admin/sicherheit/gruppen/{id}/loeschen", USERS),
    ("GET", "/admin/sicherheit/protokoll", AUDIT),
    ("GET", "/admin/konto/zwei-faktor", Access::Planner),
    ("POST", "/admin/konto/zwei-faktor", Access::Planner),
    (
        "POST",
        "/admin/konto/zwei-faktor/deaktivieren",
        Access::Planner,
    ),
    (
        "POST",
        "/admin/konto/zwei-faktor/wiederherstellungscodes",
        Access::Planner,
    ),
    ("GET", "/admin/einstellungen", SETTINGS),
    ("GET", "/admin/einstellungen/anmeldung", SETTINGS),
    ("POST", "/admin/einstellungen/anmeldung", SETTINGS),
    ("GET", "/admin/einstellungen/mitarbeiterportal", SETTINGS),
    ("POST", "/admin/einstellungen/mitarbeiterportal", SETTINGS),
    ("GET", "/lang/{code}", Access::Public),
    ("POST", "api:/login", Access::Public),
    ("GET", "api:/me", Access::AppToken),
    ("POST", "api:/logout", Access::AppToken),
    ("GET", "api:/openapi.json", Access::Public),
];

const VIEW: Access = Access::Right(Right::ViewMasterData);
const EDIT: Access = Access::Right(Right::EditMasterData);
const LOGINS: Access = Access::Right(Right::ManageEmployeeLogins);
const INVITE: Access = Access::Right(Right::InviteEmployees);
const USERS: Access = Access::Right(Right::ManageUsers);
const SETTINGS: Access = Access::Right(Right::ChangeSettings);
const AUDIT: Access = Access::Right(Right::ViewAuditLog);

/// Returns the route table as the routers build it, API operations marked with `"api:"`.
fn route_table() -> Vec<RouteEntry> {
    let mut entries = mep24web::pages::tenant_routes().into_parts().1;
    entries.extend(
        mep24web_app_api::routes()
            .into_parts()
            .1
            .into_iter()
            .map(|entry| RouteEntry {
                path: format!("api:{}", entry.path),
                ..entry
            }),
    );
    entries
}

#[test]
fn every_route_has_a_matrix_entry() {
    let table = route_table();
    for entry in &table {
        let expected = EXPECTED
            .iter()
            .find(|(method, path, _)| *method == entry.method.as_str() && *path == entry.path);
        let Some((_, _, access)) = expected else {
            panic!(
                "{} {} has no entry in the route matrix: add it to EXPECTED with the access it needs",
                entry.method, entry.path
            );
        };
        assert_eq!(
            *access, entry.access,
            "{} {} declares another access than the matrix",
            entry.method, entry.path
        );
    }
    for (method, path, _) in EXPECTED {
        assert!(
            table
                .iter()
                .any(|entry| entry.method.as_str() == *method && entry.path == *path),
            "{method} {path} is in the matrix but no longer a route"
        );
    }
}

/// Ids and sessions of one tenant.
struct Side {
    tenant: TestTenant,
    branch: i64,
    employee: i64,
    planner: i64,
    group: i64,
    group_key: String,
    admin_cookie: String,
    no_rights_cookie: String,
    employee_cookie: String,
    employee_token: String,
}

async fn side(app: &TestApp, slug: &str) -> Side {
    let tenant = app.create_tenant(slug, &format!("Apotheke {slug}")).await;
    let id = tenant.id.get();
    let root = org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    let now = Utc::now();
    let branch = org_unit::ActiveModel {
        tenant_id: Set(id),
        parent_id: Set(Some(root)),
        kind: Set("branch".to_owned()),
        name: Set("Filiale".to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id;
    let employee = employee::ActiveModel {
        tenant_id: Set(id),
        personnel_number: Set("1001".to_owned()),
        first_name: Set("Anna".to_owned()),
        last_name: Set("Schmidt".to_owned()),
        email: Set(Some(format!("anna@{slug}.example"))),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(branch),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id;
    let login = insert_planner(app, &tenant, "anna", "unused").await;
    let mut employee_login: account::ActiveModel = account::Entity::find_by_id(login)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .into();
    employee_login.kind = Set("employee".to_owned());
    employee_login.role = Set(None);
    employee_login.employee_id = Set(Some(employee));
    employee_login.update(app.db()).await.unwrap();

    let group_key = group_without_rights(app, &tenant).await;
    let group = user_group::Entity::find()
        .filter(user_group::Column::Key.eq(group_key.clone()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    let planner = insert_planner(app, &tenant, "ohne.rechte", &group_key).await;
    let admin = account::Entity::find()
        .filter(account::Column::TenantId.eq(id))
        .filter(account::Column::Role.eq("administrator"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    Side {
        admin_cookie: web_cookie(app, id, admin).await,
        no_rights_cookie: web_cookie(app, id, planner).await,
        employee_cookie: web_cookie(app, id, login).await,
        employee_token: app
            .new_session(tenant_id(id), login, SessionKind::App)
            .await,
        tenant,
        branch,
        employee,
        planner,
        group,
        group_key,
    }
}

async fn web_cookie(app: &TestApp, tenant: i64, account: i64) -> String {
    let token = app
        .new_session(tenant_id(tenant), account, SessionKind::Web)
        .await;
    format!("mep24web_session={token}")
}

fn tenant_id(id: i64) -> mep24web_platform::TenantId {
    mep24web_platform::TenantId::new(id)
}

/// Fills the path's placeholders with the ids of `ids`.
fn fill(path: &str, ids: &Side) -> String {
    let id = if path.starts_with("/admin/stammdaten/ebene/") {
        ids.branch
    } else if path.starts_with("/admin/stammdaten/mitarbeiter/") {
        ids.employee
    } else if path.starts_with("/admin/sicherheit/benutzer/") {
        ids.planner
    } else if path.starts_with("/admin/sicherheit/gruppen/") {
        ids.group
    } else {
        0
    };
    path.replace("{id}", &id.to_string())
        .replace("{token}", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ")
        .replace("{code}", "de")
}

/// Builds a form body that names `ids` wherever a form takes an id.
fn body(ids: &Side) -> Vec<(&'static str, String)> {
    vec![
        ("parent_id", ids.branch.to_string()),
        ("org_unit_id", ids.branch.to_string()),
        ("ebene", ids.branch.to_string()),
        ("mitarbeiter", ids.employee.to_string()),
        ("aktion", "alle".to_owned()),
        ("role", ids.group_key.clone()),
        ("name", "Geändert".to_owned()),
        ("personnel_number", "9999".to_owned()),
        ("first_name", "X".to_owned()),
        ("last_name", "Y".to_owned()),
        ("display_name", "X".to_owned()),
        ("username", "uebernommen".to_owned()),
        ("active", "nein".to_owned()),
        ("password", "Ein-langes-Passwort-77".to_owned()),
        ("password_repeat", "Ein-langes-Passwort-77".to_owned()),
        ("max_failed_logins", "20".to_owned()),
        ("lockout_minutes", "1".to_owned()),
        ("security_code", "GEAENDERT-1".to_owned()),
        ("invitation_valid_days", "30".to_owned()),
        ("retention_days", "30".to_owned()),
    ]
}

/// Returns every row of a tenant that a request could change, without the columns that
/// reading itself updates (the session's last use).
async fn rows(app: &TestApp, tenant: &TestTenant) -> String {
    let id = tenant.id.get();
    let db = app.db();
    macro_rules! all {
        ($entity:ident) => {
            sorted(
                $entity::Entity::find()
                    .filter($entity::Column::TenantId.eq(id))
                    .all(db)
                    .await
                    .unwrap(),
            )
        };
    }
    let mut sessions: Vec<(String, i64, &str)> = app
        .state()
        .sessions
        .list(db, Some(tenant.id))
        .await
        .unwrap()
        .into_iter()
        .map(|session| {
            let id = session.id.as_str().to_owned();
            (id, session.account_id, session.kind.as_str())
        })
        .collect();
    sessions.sort();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        all!(org_unit),
        all!(employee),
        all!(account),
        all!(user_group),
        all!(user_group_right),
        all!(invitation),
        all!(tenant_settings),
        all!(password_token),
        all!(outbox),
        all!(account_totp),
        all!(recovery_code),
        sessions,
    )
}

/// Returns the rows' debug texts in a stable order.
fn sorted<T: std::fmt::Debug>(rows: Vec<T>) -> Vec<String> {
    let mut texts: Vec<String> = rows.iter().map(|row| format!("{row:?}")).collect();
    texts.sort();
    texts
}

async fn call(
    app: &TestApp,
    method: &Method,
    url: &str,
    auth: Option<(reqwest::header::HeaderName, String)>,
    form: &[(&'static str, String)],
) -> reqwest::Response {
    let mut request = app.client().request(method.clone(), url);
    if let Some((name, value)) = auth {
        request = request.header(name, value);
    }
    if method == Method::POST {
        request = request.form(form);
    }
    request.send().await.unwrap()
}

fn is_login_redirect(response: &reqwest::Response) -> bool {
    response.status() == StatusCode::SEE_OTHER && location(response) == "/login"
}

#[tokio::test]
async fn every_route_refuses_other_tenants_and_missing_rights() {
    let app = spawn_app().await;
    let a = side(&app, "matrix-a").await;
    let b = side(&app, "matrix-b").await;
    let rows_a = rows(&app, &a.tenant).await;
    let rows_b = rows(&app, &b.tenant).await;

    for entry in route_table() {
        let what = format!("{} {}", entry.method, entry.path);
        if let Some(api_path) = entry.path.strip_prefix("api:") {
            if entry.access != Access::AppToken {
                continue;
            }
            let url = app.apex_url(&format!("/api/app/v1{api_path}"));
            let response = call(&app, &entry.method, &url, None, &[]).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{what} without token"
            );
            let web_cookie = Some((COOKIE, a.employee_cookie.clone()));
            let response = call(&app, &entry.method, &url, web_cookie, &[]).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{what} with a cookie"
            );
            let forged = Some((AUTHORIZATION, format!("Bearer {}x", b.employee_token)));
            let response = call(&app, &entry.method, &url, forged, &[]).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{what} forged token"
            );
            continue;
        }
        if entry.access == Access::Public {
            continue;
        }
        let url = app.tenant_url(&a.tenant.slug, &fill(&entry.path, &a));
        let form = body(&a);

        // Without a session and with every session of the other tenant: sent to the login.
        let mut cookies = vec![None];
        for cookie in [&b.admin_cookie, &b.no_rights_cookie, &b.employee_cookie] {
            cookies.push(Some((COOKIE, cookie.clone())));
        }
        for cookie in cookies {
            let response = call(&app, &entry.method, &url, cookie, &form).await;
            assert!(
                is_login_redirect(&response),
                "{what}: {}",
                response.status()
            );
        }

        let no_rights = Some((COOKIE, a.no_rights_cookie.clone()));
        let employee = Some((COOKIE, a.employee_cookie.clone()));
        let admin = Some((COOKIE, a.admin_cookie.clone()));
        match entry.access {
            Access::Right(_) => {
                let response = call(&app, &entry.method, &url, no_rights, &form).await;
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{what} without right"
                );
                let response = call(&app, &entry.method, &url, employee, &form).await;
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{what} as employee"
                );
            }
            Access::Planner => {
                let response = call(&app, &entry.method, &url, employee, &form).await;
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{what} as employee"
                );
            }
            Access::Employee => {
                let response = call(&app, &entry.method, &url, admin, &form).await;
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{what} as planner"
                );
            }
            Access::SignedIn | Access::Public | Access::AppToken => {}
        }

        // The administrator of A, with the ids of B in the path and in the form.
        if entry.path.contains("{id}") {
            let url = app.tenant_url(&a.tenant.slug, &fill(&entry.path, &b));
            let admin = Some((COOKIE, a.admin_cookie.clone()));
            let response = call(&app, &entry.method, &url, admin, &body(&b)).await;
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{what} with B's id"
            );
        }
        assert_eq!(
            rows(&app, &b.tenant).await,
            rows_b,
            "{what} changed tenant B"
        );
    }
    assert_eq!(
        rows(&app, &a.tenant).await,
        rows_a,
        "a refused request changed tenant A"
    );
}
