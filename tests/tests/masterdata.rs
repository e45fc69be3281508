//! End-to-end tests of the main program's start page and of Konfiguration → Stammdaten: the
//! organization tree, employee records and the employee's portal login on tab "Benutzer".
//!
//! The administrator signs in through the setup link of the new tenant. Employees sign in at
//! `/login` with the logins created on tab "Benutzer".

use chrono::{Duration, NaiveDate, Utc};
use mep24web_entities::{account, employee, org_unit};
use mep24web_tests::{TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use secrecy::SecretString;

const ADMIN_PASSWORD: &str = "Stammdaten-Pflege-2026";
const PLANNER_PASSWORD: &str = "Dienstplan-Herbst-2026";
const EMPLOYEE_PASSWORD: &str = "Kasse-Fruehling-2026";
const NEW_PASSWORD: &str = "Neues-Passwort-2027";
const SESSION_COOKIE: &str = "mep24web_session";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Escapes text the way minijinja's HTML auto-escaping does, to find it in a page.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// Returns the inline error paragraph the `field` macro renders for a field.
fn inline_error(field: &str, message: &str) -> String {
    format!("<p class=\"error\" id=\"e-{field}\">{}</p>", html(message))
}

fn assert_field_value(body: &str, field: &str, value: &str) {
    let start = format!("id=\"f-{field}\" name=\"{field}\"");
    let position = body
        .find(&start)
        .unwrap_or_else(|| panic!("no input {field} in page:\n{body}"));
    let rest = &body[position..];
    let end = rest.find('>').unwrap_or(rest.len());
    let tag = &rest[..end];
    let expected = format!("value=\"{}\"", html(value));
    assert!(
        tag.contains(&expected),
        "input {field} is {tag}, expected {expected}"
    );
}

/// Reads the session token from the `Set-Cookie` headers of a response.
fn session_token(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            value
                .strip_prefix(&format!("{SESSION_COOKIE}="))
                .and_then(|rest| rest.split(';').next())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no session cookie on {}", response.url()))
}

/// Returns the id that follows `marker` in a redirect target, e.g. `ebene=` or `mitarbeiter/`.
fn id_after(target: &str, marker: &str) -> i64 {
    let start = target
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {target}"))
        + marker.len();
    let digits: String = target[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no id after {marker} in {target}"))
}

fn url(app: &TestApp, tenant: &TestTenant, path: &str) -> String {
    app.tenant_url(&tenant.slug, path)
}

/// Sets the administrator's password through the setup link and returns the signed-in client
/// and its session token.
async fn sign_in_admin(app: &TestApp, tenant: &TestTenant) -> (reqwest::Client, String) {
    let client = app.client();
    let response = post_form(
        &client,
        &tenant.setup_link,
        &[
            ("password", ADMIN_PASSWORD),
            ("password_repeat", ADMIN_PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "setup link failed"
    );
    assert_eq!(location(&response), "/admin");
    let token = session_token(&response);
    (client, token)
}

/// Signs in at `/login` with a new client and returns the client and the redirect target.
async fn sign_in(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    password: &str,
) -> (reqwest::Client, reqwest::Response) {
    let client = app.client();
    let response = post_form(
        &client,
        &url(app, tenant, "/login"),
        &[("username", username), ("password", password)],
    )
    .await;
    (client, response)
}

/// Creates a tenant and signs its administrator in.
async fn tenant_with_admin(app: &TestApp, slug: &str, name: &str) -> (TestTenant, reqwest::Client) {
    let tenant = app.create_tenant(slug, name).await;
    let (client, _) = sign_in_admin(app, &tenant).await;
    (tenant, client)
}

async fn root_id(app: &TestApp, tenant: &TestTenant) -> i64 {
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Creates a node under `parent` through the form and returns its id.
async fn create_unit(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    parent: i64,
    name: &str,
) -> i64 {
    let parent = parent.to_string();
    let response = post_form(
        client,
        &url(app, tenant, "/admin/stammdaten/ebene/neu"),
        &[("parent_id", parent.as_str()), ("name", name)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "creating {name} failed"
    );
    let target = location(&response);
    assert!(target.ends_with("&hinweis=ebene-angelegt"), "{target}");
    id_after(&target, "ebene=")
}

/// Returns the fields of a valid employee form, which each test changes as it needs.
fn employee_fields(unit_id: i64) -> Vec<(&'static str, String)> {
    vec![
        ("personnel_number", "1001".to_owned()),
        ("first_name", "Anna".to_owned()),
        ("last_name", "Schmidt".to_owned()),
        ("email", "anna.schmidt@apotheke.example".to_owned()),
        ("phone", "06221 123456".to_owned()),
        ("entry_date", "01.03.2024".to_owned()),
        ("exit_date", String::new()),
        ("org_unit_id", unit_id.to_string()),
        ("language", "de".to_owned()),
    ]
}

fn with(fields: &[(&'static str, String)], name: &str, value: &str) -> Vec<(&'static str, String)> {
    fields
        .iter()
        .map(|(key, old)| {
            if *key == name {
                (*key, value.to_owned())
            } else {
                (*key, old.clone())
            }
        })
        .collect()
}

async fn post_fields(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&'static str, String)],
) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_form(client, url, &pairs).await
}

/// Creates an employee through the form and returns its id.
async fn create_employee(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    fields: &[(&'static str, String)],
) -> i64 {
    let response = post_fields(
        client,
        &url(app, tenant, "/admin/stammdaten/mitarbeiter/neu"),
        fields,
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "creating the employee failed"
    );
    let target = location(&response);
    assert!(
        target.ends_with("?hinweis=mitarbeiter-angelegt"),
        "{target}"
    );
    id_after(&target, "mitarbeiter/")
}

/// Creates a login on tab "Benutzer" and checks the redirect.
async fn create_login(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    employee_id: i64,
    username: &str,
    must_change: bool,
) {
    let mut fields = vec![
        ("username", username),
        ("password", EMPLOYEE_PASSWORD),
        ("password_repeat", EMPLOYEE_PASSWORD),
    ];
    if must_change {
        fields.push(("must_change", "ja"));
    }
    let response = post_form(
        client,
        &url(
            app,
            tenant,
            &format!("/admin/stammdaten/mitarbeiter/{employee_id}/benutzer"),
        ),
        &fields,
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "creating the login failed"
    );
    assert_eq!(
        location(&response),
        format!("/admin/stammdaten/mitarbeiter/{employee_id}/benutzer?hinweis=benutzer-angelegt")
    );
}

async fn find_employee(app: &TestApp, id: i64) -> employee::Model {
    employee::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("employee {id} not stored"))
}

async fn login_of(app: &TestApp, employee_id: i64) -> Option<account::Model> {
    account::Entity::find()
        .filter(account::Column::EmployeeId.eq(employee_id))
        .one(app.db())
        .await
        .unwrap()
}

async fn session_count(app: &TestApp, account_id: i64) -> usize {
    app.session_count(account_id).await
}

async fn units_of(app: &TestApp, tenant: &TestTenant) -> Vec<org_unit::Model> {
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .order_by_asc(org_unit::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

async fn employees_of(app: &TestApp, tenant: &TestTenant) -> Vec<employee::Model> {
    employee::Entity::find()
        .filter(employee::Column::TenantId.eq(tenant.id.get()))
        .order_by_asc(employee::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

async fn accounts_of(app: &TestApp, tenant: &TestTenant) -> Vec<account::Model> {
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .order_by_asc(account::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

/// Inserts a planner of the built-in Planer group and signs them in.
async fn sign_in_planner(app: &TestApp, tenant: &TestTenant) -> reqwest::Client {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PLANNER_PASSWORD))
        .await
        .unwrap();
    let now = Utc::now();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("planner".to_owned()),
        username: Set("petra.planer".to_owned()),
        username_key: Set("petra.planer".to_owned()),
        password_hash: Set(Some(hash)),
        display_name: Set("Petra Planer".to_owned()),
        role: Set(Some("planer".to_owned())),
        email: Set(None),
        employee_id: Set(None),
        active: Set(true),
        must_change_password: Set(false),
        failed_attempts: Set(0),
        locked_until: Set(None),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    let (client, response) = sign_in(app, tenant, "petra.planer", PLANNER_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
    client
}

/// A tenant with a branch, a department and one employee, ready for the tests of one area.
struct Fixture {
    tenant: TestTenant,
    admin: reqwest::Client,
    root: i64,
    branch: i64,
    department: i64,
    employee: i64,
}

async fn fixture(app: &TestApp, slug: &str) -> Fixture {
    let (tenant, admin) = tenant_with_admin(app, slug, &format!("Apotheke {slug}")).await;
    let root = root_id(app, &tenant).await;
    let branch = create_unit(app, &tenant, &admin, root, "Filiale Heidelberg").await;
    let department = create_unit(app, &tenant, &admin, branch, "Verkauf").await;
    let employee = create_employee(app, &tenant, &admin, &employee_fields(department)).await;
    Fixture {
        tenant,
        admin,
        root,
        branch,
        department,
        employee,
    }
}

// ---------------------------------------------------------------------------------------------
// Start page
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn start_page_as_administrator_shows_access_data() {
    let app = spawn_app().await;
    let (tenant, admin) = tenant_with_admin(&app, "markt", "Apotheke am Markt").await;

    let (status, body) = get_text(&admin, &url(&app, &tenant, "/admin")).await;

    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<h1>Willkommen, Administrator!</h1>"),
        "{body}"
    );
    let access_link = format!("http://markt.localhost:{}", app.port);
    assert!(
        body.contains(&format!(
            "<a id=\"access-link\" href=\"{}/\">{}</a>",
            html(&access_link),
            html(&access_link)
        )),
        "{body}"
    );
    assert!(body.contains(&format!(
        "<dd id=\"access-customer-number\">{}</dd>",
        tenant.customer_number
    )));
    assert!(body.contains(&format!(
        "In der App MEP24Team geben sie als Server localhost und als Kundennummer {} ein.",
        tenant.customer_number
    )));
    assert!(body.contains("href=\"/admin/stammdaten\">Stammdaten</a>: "));
    assert!(body.contains("href=\"/admin/sicherheit/benutzer\">Sicherheit</a>: "));
    assert!(body.contains("href=\"/admin/einstellungen/anmeldung\">Einstellungen</a>: "));
}

#[tokio::test]
async fn start_page_without_session_redirects_to_login() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("markt", "Apotheke am Markt").await;

    let response = app
        .client()
        .get(url(&app, &tenant, "/admin"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn masterdata_without_rights_returns_403() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    create_login(
        &app,
        &data.tenant,
        &data.admin,
        data.employee,
        "anna.schmidt",
        false,
    )
    .await;
    let planner = sign_in_planner(&app, &data.tenant).await;
    let no_rights = mep24web_tests::accounts::group_without_rights(&app, &data.tenant).await;
    mep24web_tests::accounts::set_group(&app, &data.tenant, "petra.planer", &no_rights).await;
    let units_before = units_of(&app, &data.tenant).await;
    let employees_before = employees_of(&app, &data.tenant).await;
    let accounts_before = accounts_of(&app, &data.tenant).await;

    let (status, body) = get_text(&planner, &url(&app, &data.tenant, "/admin")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<h1>Willkommen, Petra Planer!</h1>"));
    assert!(body.contains("Ihre Benutzergruppe hat keine Rechte in der Konfiguration."));
    assert!(!body.contains("href=\"/admin/stammdaten\">Stammdaten</a>: "));

    let employee = data.employee;
    let gets = [
        "/admin/stammdaten".to_owned(),
        format!("/admin/stammdaten?ebene={}", data.branch),
        format!("/admin/stammdaten/ebene/neu?uebergeordnet={}", data.root),
        format!("/admin/stammdaten/ebene/{}", data.branch),
        "/admin/stammdaten/mitarbeiter/neu".to_owned(),
        format!("/admin/stammdaten/mitarbeiter/{employee}"),
        format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer"),
    ];
    for path in &gets {
        let (status, _) = get_text(&planner, &url(&app, &data.tenant, path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "GET {path}");
    }
    let branch = data.branch.to_string();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/stammdaten/ebene/neu".to_owned(),
            vec![("parent_id", branch.as_str()), ("name", "Labor")],
        ),
        (
            format!("/admin/stammdaten/ebene/{}", data.branch),
            vec![("name", "Umbenannt")],
        ),
        (
            "/admin/stammdaten/mitarbeiter/neu".to_owned(),
            vec![
                ("personnel_number", "2000"),
                ("first_name", "X"),
                ("last_name", "Y"),
            ],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}"),
            vec![
                ("personnel_number", "9999"),
                ("first_name", "X"),
                ("last_name", "Y"),
            ],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/passwort"),
            vec![
                ("password", NEW_PASSWORD),
                ("password_repeat", NEW_PASSWORD),
            ],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/name"),
            vec![("username", "anders")],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/aktiv"),
            vec![("active", "nein")],
        ),
    ];
    for (path, fields) in &posts {
        let response = post_form(&planner, &url(&app, &data.tenant, path), fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
    }

    assert_eq!(units_of(&app, &data.tenant).await, units_before);
    assert_eq!(employees_of(&app, &data.tenant).await, employees_before);
    let accounts_after = accounts_of(&app, &data.tenant).await;
    // The planner's own login changed `last_login_at`, so compare the employee login only.
    let employee_login = |accounts: &[account::Model]| {
        accounts
            .iter()
            .find(|account| account.employee_id == Some(employee))
            .cloned()
    };
    assert_eq!(
        employee_login(&accounts_after),
        employee_login(&accounts_before)
    );
}

// ---------------------------------------------------------------------------------------------
// Organization tree
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_branch_and_department_shows_them_in_tree() {
    let app = spawn_app().await;
    let (tenant, admin) = tenant_with_admin(&app, "markt", "Apotheke am Markt").await;
    let root = root_id(&app, &tenant).await;

    let (status, body) = get_text(
        &admin,
        &url(
            &app,
            &tenant,
            &format!("/admin/stammdaten/ebene/neu?uebergeordnet={root}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<h1>Filiale anlegen</h1>"));
    assert!(body.contains("Übergeordnete Ebene: Apotheke am Markt"));

    let branch = create_unit(&app, &tenant, &admin, root, "  Filiale Heidelberg ").await;
    let department = create_unit(&app, &tenant, &admin, branch, "Verkauf").await;

    let units = units_of(&app, &tenant).await;
    let stored_branch = units.iter().find(|unit| unit.id == branch).unwrap();
    assert_eq!(stored_branch.kind, "branch");
    assert_eq!(stored_branch.name, "Filiale Heidelberg");
    assert_eq!(stored_branch.parent_id, Some(root));
    let stored_department = units.iter().find(|unit| unit.id == department).unwrap();
    assert_eq!(stored_department.kind, "department");
    assert_eq!(stored_department.parent_id, Some(branch));

    let (status, body) = get_text(
        &admin,
        &url(
            &app,
            &tenant,
            &format!("/admin/stammdaten?ebene={branch}&hinweis=ebene-angelegt"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<p class=\"notice\" role=\"status\">Die Ebene wurde angelegt.</p>"));
    assert!(body.contains(&format!(
        "<a href=\"/admin/stammdaten?ebene={branch}\" aria-current=\"page\">Filiale Heidelberg</a>"
    )));
    assert!(body.contains(&format!(
        "<a href=\"/admin/stammdaten?ebene={department}\">Verkauf</a>"
    )));
    assert!(body.contains(">Abteilung anlegen</a>"));
    assert!(!body.contains(">Filiale anlegen</a>"));
    assert!(body.contains(&format!(
        "href=\"/admin/stammdaten/einladen?ebene={branch}\">Mitarbeiter einladen</a>"
    )));
    assert!(body.contains("href=\"/admin/stammdaten/import\">Mitarbeiter importieren</a>"));

    let (_, body) = get_text(
        &admin,
        &url(
            &app,
            &tenant,
            &format!("/admin/stammdaten?ebene={department}"),
        ),
    )
    .await;
    assert!(!body.contains(">Abteilung anlegen</a>"));
    assert!(!body.contains(">Mitarbeiter einladen</a>"));
}

#[tokio::test]
async fn create_unit_with_bad_name_shows_inline_error() {
    let app = spawn_app().await;
    let (tenant, admin) = tenant_with_admin(&app, "markt", "Apotheke am Markt").await;
    let root = root_id(&app, &tenant).await;
    let branch = create_unit(&app, &tenant, &admin, root, "Filiale Heidelberg").await;
    create_unit(&app, &tenant, &admin, branch, "Verkauf").await;
    let other_branch = create_unit(&app, &tenant, &admin, root, "Filiale Bonn").await;
    let create_url = url(&app, &tenant, "/admin/stammdaten/ebene/neu");
    let units_before = units_of(&app, &tenant).await;

    let cases = [
        (
            root,
            "filiale HEIDELBERG",
            "Diesen Namen gibt es unter derselben übergeordneten Ebene schon. Bitte wählen Sie einen anderen.",
        ),
        (
            branch,
            " VERKAUF ",
            "Diesen Namen gibt es unter derselben übergeordneten Ebene schon. Bitte wählen Sie einen anderen.",
        ),
        (branch, "   ", "Bitte geben Sie einen Namen ein."),
    ];
    for (parent, name, message) in cases {
        let parent = parent.to_string();
        let response = post_form(
            &admin,
            &create_url,
            &[("parent_id", parent.as_str()), ("name", name)],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?}"
        );
        let body = response.text().await.unwrap();
        assert!(
            body.contains(&inline_error("name", message)),
            "{name:?}: {body}"
        );
        assert_field_value(&body, "name", name);
    }
    let long_name = "x".repeat(101);
    let response = post_form(
        &admin,
        &create_url,
        &[("parent_id", &root.to_string()), ("name", &long_name)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(&inline_error(
        "name",
        "Der Name darf höchstens 100 Zeichen lang sein."
    )));
    assert_eq!(units_of(&app, &tenant).await, units_before);

    // The same name under another branch is fine.
    create_unit(&app, &tenant, &admin, other_branch, "verkauf").await;
}

#[tokio::test]
async fn create_unit_under_department_returns_404() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let units_before = units_of(&app, &data.tenant).await;

    let (status, _) = get_text(
        &data.admin,
        &url(
            &app,
            &data.tenant,
            &format!(
                "/admin/stammdaten/ebene/neu?uebergeordnet={}",
                data.department
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for parent in [
        data.department.to_string(),
        "999999".to_owned(),
        "abc".to_owned(),
    ] {
        let response = post_form(
            &data.admin,
            &url(&app, &data.tenant, "/admin/stammdaten/ebene/neu"),
            &[("parent_id", parent.as_str()), ("name", "Labor")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "parent {parent}");
    }
    assert_eq!(units_of(&app, &data.tenant).await, units_before);
}

#[tokio::test]
async fn rename_unit_keeps_names_unique_among_siblings() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let kasse = create_unit(&app, &data.tenant, &data.admin, data.branch, "Kasse").await;
    let rename_url = url(
        &app,
        &data.tenant,
        &format!("/admin/stammdaten/ebene/{kasse}"),
    );

    let (status, body) = get_text(&data.admin, &rename_url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<h1>Abteilung umbenennen</h1>"));
    assert_field_value(&body, "name", "Kasse");

    let response = post_form(&data.admin, &rename_url, &[("name", "verkauf")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(&inline_error(
        "name",
        "Diesen Namen gibt es unter derselben übergeordneten Ebene schon. Bitte wählen Sie einen anderen."
    )));
    assert_field_value(&body, "name", "verkauf");

    let response = post_form(&data.admin, &rename_url, &[("name", "Kasse & Beratung")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("/admin/stammdaten?ebene={kasse}&hinweis=ebene-umbenannt")
    );
    let renamed = units_of(&app, &data.tenant)
        .await
        .into_iter()
        .find(|unit| unit.id == kasse)
        .unwrap();
    assert_eq!(renamed.name, "Kasse & Beratung");

    // A node may keep its own name with a different case.
    let response = post_form(&data.admin, &rename_url, &[("name", "KASSE & BERATUNG")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let root_url = url(
        &app,
        &data.tenant,
        &format!("/admin/stammdaten/ebene/{}", data.root),
    );
    let (_, body) = get_text(&data.admin, &root_url).await;
    assert!(body.contains("<h1>Organisation umbenennen</h1>"));
}

// ---------------------------------------------------------------------------------------------
// Employee records
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_employee_with_invalid_fields_keeps_input() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let employees_before = employees_of(&app, &data.tenant).await;
    let fields = vec![
        ("personnel_number", "1001".to_owned()),
        ("first_name", "  ".to_owned()),
        ("last_name", "Weiß".to_owned()),
        ("email", "juergen.weiss(at)apotheke.de".to_owned()),
        ("phone", "ruf mich an".to_owned()),
        ("entry_date", "31.02.2024".to_owned()),
        ("exit_date", "01.03.24".to_owned()),
        ("org_unit_id", String::new()),
        ("language", "de".to_owned()),
    ];

    let response = post_fields(
        &data.admin,
        &url(&app, &data.tenant, "/admin/stammdaten/mitarbeiter/neu"),
        &fields,
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains("Bitte korrigieren Sie die markierten Felder."));
    let expected = [
        (
            "personnel_number",
            "Diese Personalnummer ist bereits vergeben. Bitte prüfen Sie die Nummer.",
        ),
        ("first_name", "Bitte geben Sie den Vornamen ein."),
        (
            "email",
            "Diese E-Mail-Adresse ist ungültig. Bitte geben Sie sie in der Form name@beispiel.de ein, ohne Leerzeichen.",
        ),
        (
            "phone",
            "Die Telefonnummer darf nur Ziffern, Leerzeichen und die Zeichen + - / ( ) . enthalten.",
        ),
        (
            "entry_date",
            "Dieses Datum ist ungültig. Bitte geben Sie es als TT.MM.JJJJ ein, zum Beispiel 01.03.2024.",
        ),
        (
            "exit_date",
            "Dieses Datum ist ungültig. Bitte geben Sie es als TT.MM.JJJJ ein, zum Beispiel 01.03.2024.",
        ),
        (
            "org_unit_id",
            "Bitte wählen Sie eine Filiale oder Abteilung aus.",
        ),
    ];
    for (field, message) in expected {
        assert!(
            body.contains(&inline_error(field, message)),
            "{field}: {body}"
        );
    }
    assert!(!body.contains("id=\"e-last_name\""));
    for (field, value) in &fields {
        if *field != "org_unit_id" && *field != "language" {
            assert_field_value(&body, field, value);
        }
    }
    assert_eq!(employees_of(&app, &data.tenant).await, employees_before);
}

#[tokio::test]
async fn create_employee_with_exit_before_entry_shows_error() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let fields = with(
        &employee_fields(data.department),
        "personnel_number",
        "1002",
    );
    let fields = with(&fields, "exit_date", "2024-02-29");

    let response = post_fields(
        &data.admin,
        &url(&app, &data.tenant, "/admin/stammdaten/mitarbeiter/neu"),
        &fields,
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(&inline_error(
        "exit_date",
        "Das Austrittsdatum liegt vor dem Eintrittsdatum. Bitte prüfen Sie beide Daten."
    )));
    assert!(body.contains(&format!("<option value=\"{}\" selected>", data.department)));
    assert_eq!(employees_of(&app, &data.tenant).await.len(), 1);
}

#[tokio::test]
async fn create_employee_with_valid_fields_stores_trimmed_values() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let fields = vec![
        ("personnel_number", " 2002 ".to_owned()),
        ("first_name", " Jürgen ".to_owned()),
        ("last_name", "Weiß".to_owned()),
        ("email", "  Juergen.Weiss@apotheke.example ".to_owned()),
        ("phone", " +49 (6221) 12-34 ".to_owned()),
        ("entry_date", "2024-04-01".to_owned()),
        ("exit_date", "1.4.2027".to_owned()),
        ("org_unit_id", data.branch.to_string()),
        ("language", "en".to_owned()),
    ];

    let id = create_employee(&app, &data.tenant, &data.admin, &fields).await;

    let stored = find_employee(&app, id).await;
    assert_eq!(stored.tenant_id, data.tenant.id.get());
    assert_eq!(stored.personnel_number, "2002");
    assert_eq!(stored.first_name, "Jürgen");
    assert_eq!(stored.last_name, "Weiß");
    assert_eq!(
        stored.email.as_deref(),
        Some("Juergen.Weiss@apotheke.example")
    );
    assert_eq!(stored.phone.as_deref(), Some("+49 (6221) 12-34"));
    assert_eq!(stored.entry_date, NaiveDate::from_ymd_opt(2024, 4, 1));
    assert_eq!(stored.exit_date, NaiveDate::from_ymd_opt(2027, 4, 1));
    assert_eq!(stored.org_unit_id, data.branch);
    assert_eq!(stored.language, "en");

    let (status, body) = get_text(
        &data.admin,
        &url(
            &app,
            &data.tenant,
            &format!("/admin/stammdaten/mitarbeiter/{id}?hinweis=mitarbeiter-angelegt"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<p class=\"notice\" role=\"status\">Der Mitarbeiter wurde angelegt.</p>")
    );
    assert_field_value(&body, "entry_date", "01.04.2024");
    assert_field_value(&body, "exit_date", "01.04.2027");
    assert!(body.contains("<option value=\"en\" selected>English</option>"));

    let (_, overview) = get_text(
        &data.admin,
        &url(
            &app,
            &data.tenant,
            &format!("/admin/stammdaten?ebene={}", data.root),
        ),
    )
    .await;
    assert!(overview.contains(&format!(
        "<a href=\"/admin/stammdaten/mitarbeiter/{id}\">Weiß, Jürgen</a>"
    )));
    assert!(overview.contains("<td>Filiale Heidelberg › Verkauf</td>"));
    assert!(overview.contains("<span class=\"status\">kein Benutzer</span>"));
}

#[tokio::test]
async fn edit_employee_with_taken_personnel_number_shows_error() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let fields = with(
        &employee_fields(data.department),
        "personnel_number",
        "1002",
    );
    let second = create_employee(&app, &data.tenant, &data.admin, &fields).await;
    let edit_url = url(
        &app,
        &data.tenant,
        &format!("/admin/stammdaten/mitarbeiter/{second}"),
    );
    let before = find_employee(&app, second).await;

    let response = post_fields(
        &data.admin,
        &edit_url,
        &with(&fields, "personnel_number", "1001"),
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(&inline_error(
        "personnel_number",
        "Diese Personalnummer ist bereits vergeben. Bitte prüfen Sie die Nummer."
    )));
    assert_field_value(&body, "personnel_number", "1001");
    assert_eq!(find_employee(&app, second).await, before);

    // Keeping its own number is fine.
    let changed = with(&fields, "last_name", "Schmidt-Weber");
    let response = post_fields(&data.admin, &edit_url, &changed).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("/admin/stammdaten/mitarbeiter/{second}?hinweis=mitarbeiter-gespeichert")
    );
    assert_eq!(find_employee(&app, second).await.last_name, "Schmidt-Weber");
}

#[tokio::test]
async fn edit_employee_name_updates_login_display_name() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    create_login(
        &app,
        &data.tenant,
        &data.admin,
        data.employee,
        "anna.schmidt",
        false,
    )
    .await;
    let fields = with(&employee_fields(data.department), "last_name", "Becker");
    let fields = with(&fields, "exit_date", "31.12.2030");

    let response = post_fields(
        &data.admin,
        &url(
            &app,
            &data.tenant,
            &format!("/admin/stammdaten/mitarbeiter/{}", data.employee),
        ),
        &fields,
    )
    .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let stored = find_employee(&app, data.employee).await;
    assert_eq!(stored.last_name, "Becker");
    assert_eq!(stored.exit_date, NaiveDate::from_ymd_opt(2030, 12, 31));
    let login = login_of(&app, data.employee).await.unwrap();
    assert_eq!(login.display_name, "Anna Becker");
}

#[tokio::test]
async fn overview_hides_departed_until_filter_set() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let yesterday = (Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
        - Duration::days(2))
    .format("%d.%m.%Y")
    .to_string();
    let fields = with(
        &employee_fields(data.department),
        "personnel_number",
        "1002",
    );
    let fields = with(&fields, "last_name", "Ehemalig");
    let fields = with(&fields, "exit_date", &yesterday);
    let departed = create_employee(&app, &data.tenant, &data.admin, &fields).await;
    let overview = url(
        &app,
        &data.tenant,
        &format!("/admin/stammdaten?ebene={}", data.branch),
    );

    let (_, body) = get_text(&data.admin, &overview).await;
    assert!(body.contains(&format!("data-employee-id=\"{}\"", data.employee)));
    assert!(!body.contains(&format!("data-employee-id=\"{departed}\"")));
    assert!(body.contains("Ausgeblendete ausgeschiedene Mitarbeiter: 1"));

    let (_, body) = get_text(&data.admin, &format!("{overview}&ausgeschiedene=1")).await;
    assert!(body.contains(&format!("data-employee-id=\"{departed}\"")));
    assert!(body.contains("<span class=\"status warn\">ausgeschieden</span>"));
    assert!(body.contains("name=\"ausgeschiedene\" value=\"1\" checked"));
    assert!(!body.contains("Ausgeblendete ausgeschiedene Mitarbeiter"));
}

#[tokio::test]
async fn overview_sorts_names_ignoring_case() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let fields = with(
        &employee_fields(data.department),
        "personnel_number",
        "1002",
    );
    let fields = with(&fields, "first_name", "Jan");
    let fields = with(&fields, "last_name", "de Vries");
    create_employee(&app, &data.tenant, &data.admin, &fields).await;
    let fields = with(&fields, "personnel_number", "1003");
    let fields = with(&fields, "first_name", "Ömer");
    let fields = with(&fields, "last_name", "Yilmaz");
    create_employee(&app, &data.tenant, &data.admin, &fields).await;

    let (_, body) = get_text(&data.admin, &url(&app, &data.tenant, "/admin/stammdaten")).await;

    let position = |name: &str| {
        body.find(&format!("\">{name}</a>"))
            .unwrap_or_else(|| panic!("{name} not listed"))
    };
    assert!(position("de Vries, Jan") < position("Schmidt, Anna"));
    assert!(position("Schmidt, Anna") < position("Yilmaz, Ömer"));
}

#[tokio::test]
async fn employee_pages_with_unknown_id_return_404() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;

    for path in [
        "/admin/stammdaten/mitarbeiter/999999",
        "/admin/stammdaten/mitarbeiter/abc",
        "/admin/stammdaten/mitarbeiter/0/benutzer",
        "/admin/stammdaten/ebene/999999",
        "/admin/stammdaten?ebene=999999",
        "/admin/stammdaten?ebene=x",
    ] {
        let (status, _) = get_text(&data.admin, &url(&app, &data.tenant, path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
    }
}

// ---------------------------------------------------------------------------------------------
// Tab "Benutzer"
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_tab_without_login_offers_create_and_invite() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;

    let (status, body) = get_text(
        &data.admin,
        &url(
            &app,
            &data.tenant,
            &format!("/admin/stammdaten/mitarbeiter/{}/benutzer", data.employee),
        ),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<h2 id=\"create-title\">Neuen Benutzer erstellen</h2>"));
    assert!(body.contains("Passwort muss beim nächsten Anmelden geändert werden"));
    assert!(body.contains(&format!(
        "href=\"&#x2f;admin&#x2f;stammdaten&#x2f;einladen?ebene={}\">Mitarbeiter einladen</a>",
        data.branch
    )));
}

#[tokio::test]
async fn create_login_then_employee_signs_in() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;

    create_login(
        &app,
        &data.tenant,
        &data.admin,
        data.employee,
        "Anna.Schmidt",
        false,
    )
    .await;

    let login = login_of(&app, data.employee).await.unwrap();
    assert_eq!(login.tenant_id, data.tenant.id.get());
    assert_eq!(login.kind, "employee");
    assert_eq!(login.username, "Anna.Schmidt");
    assert_eq!(login.username_key, "anna.schmidt");
    assert_eq!(login.display_name, "Anna Schmidt");
    assert_eq!(login.language, "de");
    assert_eq!(login.role, None);
    assert!(login.active);
    assert!(!login.must_change_password);
    assert!(
        login
            .password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$")
    );

    let (status, body) = get_text(
        &data.admin,
        &url(
            &app,
            &data.tenant,
            &format!("/admin/stammdaten/mitarbeiter/{}/benutzer", data.employee),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<dd id=\"login-username\">Anna.Schmidt</dd>"));
    assert!(!body.contains("Neuen Benutzer erstellen"));

    let (_, overview) = get_text(&data.admin, &url(&app, &data.tenant, "/admin/stammdaten")).await;
    assert!(overview.contains("<span class=\"status ok\">registriert (Anna.Schmidt)</span>"));

    let (employee_client, response) =
        sign_in(&app, &data.tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal");
    let (status, _) = get_text(&employee_client, &url(&app, &data.tenant, "/portal")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn create_login_with_must_change_forces_change() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;

    create_login(&app, &data.tenant, &data.admin, data.employee, "anna", true).await;

    assert!(
        login_of(&app, data.employee)
            .await
            .unwrap()
            .must_change_password
    );
    let (_, response) = sign_in(&app, &data.tenant, "anna", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/password/change");
}

#[tokio::test]
async fn create_login_with_invalid_input_shows_errors() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    let tab_url = url(
        &app,
        &data.tenant,
        &format!("/admin/stammdaten/mitarbeiter/{}/benutzer", data.employee),
    );

    let cases: [(&str, &str, &str, &str, &str); 5] = [
        (
            "ADMIN",
            EMPLOYEE_PASSWORD,
            EMPLOYEE_PASSWORD,
            "username",
            "Dieser Benutzername ist bereits vergeben. Bitte wählen Sie einen anderen.",
        ),
        (
            "anna schmidt",
            EMPLOYEE_PASSWORD,
            EMPLOYEE_PASSWORD,
            "username",
            "Der Benutzername darf nur Buchstaben, Ziffern sowie . - _ und @ enthalten, keine Leerzeichen.",
        ),
        (
            "anna",
            "kurz",
            "kurz",
            "password",
            "Das Passwort muss mindestens 10 Zeichen lang sein.",
        ),
        (
            "anna",
            EMPLOYEE_PASSWORD,
            NEW_PASSWORD,
            "password_repeat",
            "Die beiden Passwörter stimmen nicht überein.",
        ),
        (
            "kasse",
            EMPLOYEE_PASSWORD,
            EMPLOYEE_PASSWORD,
            "password",
            "Das Passwort darf den Benutzernamen nicht enthalten.",
        ),
    ];
    for (username, password, repeated, field, message) in cases {
        let response = post_form(
            &data.admin,
            &tab_url,
            &[
                ("username", username),
                ("password", password),
                ("password_repeat", repeated),
                ("must_change", "ja"),
            ],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{username}"
        );
        let body = response.text().await.unwrap();
        assert!(
            body.contains(&inline_error(field, message)),
            "{username}: {body}"
        );
        assert_field_value(&body, "username", username);
        assert_field_value(&body, "password", "");
        assert_field_value(&body, "password_repeat", "");
        assert!(body.contains("name=\"must_change\" value=\"ja\" checked"));
    }
    assert_eq!(login_of(&app, data.employee).await, None);
}

#[tokio::test]
async fn change_username_then_new_name_signs_in() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    create_login(
        &app,
        &data.tenant,
        &data.admin,
        data.employee,
        "anna",
        false,
    )
    .await;
    let name_url = url(
        &app,
        &data.tenant,
        &format!(
            "/admin/stammdaten/mitarbeiter/{}/benutzer/name",
            data.employee
        ),
    );

    let response = post_form(&data.admin, &name_url, &[("username", "Admin")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(&inline_error(
        "username",
        "Dieser Benutzername ist bereits vergeben. Bitte wählen Sie einen anderen."
    )));
    assert_field_value(&body, "username", "Admin");
    assert_eq!(
        login_of(&app, data.employee).await.unwrap().username,
        "anna"
    );

    let response = post_form(&data.admin, &name_url, &[("username", " anna.schmidt ")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!(
            "/admin/stammdaten/mitarbeiter/{}/benutzer?hinweis=benutzername-geaendert",
            data.employee
        )
    );
    let login = login_of(&app, data.employee).await.unwrap();
    assert_eq!(login.username, "anna.schmidt");
    assert_eq!(login.username_key, "anna.schmidt");

    let (_, response) = sign_in(&app, &data.tenant, "anna", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (_, response) = sign_in(&app, &data.tenant, "Anna.Schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal");
}

#[tokio::test]
async fn deactivate_login_ends_running_employee_session() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    create_login(
        &app,
        &data.tenant,
        &data.admin,
        data.employee,
        "anna",
        false,
    )
    .await;
    let (employee_client, response) = sign_in(&app, &data.tenant, "anna", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let portal = url(&app, &data.tenant, "/portal");
    let (status, _) = get_text(&employee_client, &portal).await;
    assert_eq!(status, StatusCode::OK);
    let login = login_of(&app, data.employee).await.unwrap();
    assert_eq!(session_count(&app, login.id).await, 1);
    let active_url = url(
        &app,
        &data.tenant,
        &format!(
            "/admin/stammdaten/mitarbeiter/{}/benutzer/aktiv",
            data.employee
        ),
    );

    let response = post_form(&data.admin, &active_url, &[("active", "nein")]).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!(
            "/admin/stammdaten/mitarbeiter/{}/benutzer?hinweis=benutzer-deaktiviert",
            data.employee
        )
    );
    assert!(!login_of(&app, data.employee).await.unwrap().active);
    assert_eq!(session_count(&app, login.id).await, 0);
    let response = employee_client.get(&portal).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    let (_, response) = sign_in(&app, &data.tenant, "anna", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let (_, body) = get_text(
        &data.admin,
        &url(
            &app,
            &data.tenant,
            &format!("/admin/stammdaten/mitarbeiter/{}/benutzer", data.employee),
        ),
    )
    .await;
    assert!(body.contains("<span class=\"status off\">deaktiviert</span>"));
    let (_, overview) = get_text(&data.admin, &url(&app, &data.tenant, "/admin/stammdaten")).await;
    assert!(overview.contains("<span class=\"status off\">deaktiviert</span>"));

    let response = post_form(&data.admin, &active_url, &[("active", "ja")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(login_of(&app, data.employee).await.unwrap().active);
    let (_, response) = sign_in(&app, &data.tenant, "anna", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let response = post_form(&data.admin, &active_url, &[("active", "vielleicht")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(login_of(&app, data.employee).await.unwrap().active);
}

#[tokio::test]
async fn set_password_lifts_lockout_and_ends_sessions() {
    let app = spawn_app().await;
    let data = fixture(&app, "markt").await;
    create_login(
        &app,
        &data.tenant,
        &data.admin,
        data.employee,
        "anna",
        false,
    )
    .await;
    let (employee_client, _) = sign_in(&app, &data.tenant, "anna", EMPLOYEE_PASSWORD).await;
    let login = login_of(&app, data.employee).await.unwrap();
    let mut locked: account::ActiveModel = login.clone().into();
    locked.failed_attempts = Set(3);
    locked.locked_until = Set(Some(Utc::now() + Duration::minutes(10)));
    locked.update(app.db()).await.unwrap();
    let password_url = url(
        &app,
        &data.tenant,
        &format!(
            "/admin/stammdaten/mitarbeiter/{}/benutzer/passwort",
            data.employee
        ),
    );

    let (_, body) = get_text(
        &data.admin,
        &url(
            &app,
            &data.tenant,
            &format!("/admin/stammdaten/mitarbeiter/{}/benutzer", data.employee),
        ),
    )
    .await;
    assert!(body.contains("Nach zu vielen fehlgeschlagenen Anmeldungen gesperrt bis "));

    let response = post_form(
        &data.admin,
        &password_url,
        &[
            ("password", NEW_PASSWORD),
            ("password_repeat", EMPLOYEE_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(&inline_error(
        "password_repeat",
        "Die beiden Passwörter stimmen nicht überein."
    )));
    assert_eq!(
        login_of(&app, data.employee).await.unwrap().failed_attempts,
        3
    );

    let response = post_form(
        &data.admin,
        &password_url,
        &[
            ("password", NEW_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
            ("must_change", "ja"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!(
            "/admin/stammdaten/mitarbeiter/{}/benutzer?hinweis=passwort-gesetzt",
            data.employee
        )
    );
    let updated = login_of(&app, data.employee).await.unwrap();
    assert_eq!(updated.failed_attempts, 0);
    assert_eq!(updated.locked_until, None);
    assert!(updated.must_change_password);
    assert_eq!(session_count(&app, login.id).await, 0);
    let response = employee_client
        .get(url(&app, &data.tenant, "/portal"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    let (_, response) = sign_in(&app, &data.tenant, "anna", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (_, response) = sign_in(&app, &data.tenant, "anna", NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/password/change");
}

// ---------------------------------------------------------------------------------------------
// Tenant isolation
// ---------------------------------------------------------------------------------------------

/// Lists every GET route of this area with the ids of `data`.
fn get_routes(data: &Fixture) -> Vec<String> {
    let employee = data.employee;
    vec![
        format!("/admin/stammdaten?ebene={}", data.branch),
        format!("/admin/stammdaten/ebene/neu?uebergeordnet={}", data.root),
        format!("/admin/stammdaten/ebene/{}", data.branch),
        format!("/admin/stammdaten/mitarbeiter/{employee}"),
        format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer"),
    ]
}

/// Lists every POST route of this area with the ids of `data`, each with a form that would
/// succeed on the right host. `unit` is a department of the host's own tenant.
fn post_routes(data: &Fixture, unit: i64) -> Vec<(String, Vec<(&'static str, String)>)> {
    let employee = data.employee;
    vec![
        (
            "/admin/stammdaten/ebene/neu".to_owned(),
            vec![
                ("parent_id", data.branch.to_string()),
                ("name", "Labor".to_owned()),
            ],
        ),
        (
            format!("/admin/stammdaten/ebene/{}", data.branch),
            vec![("name", "Übernommen".to_owned())],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}"),
            with(&employee_fields(unit), "personnel_number", "7777"),
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer"),
            vec![
                ("username", "uebernommen".to_owned()),
                ("password", NEW_PASSWORD.to_owned()),
                ("password_repeat", NEW_PASSWORD.to_owned()),
            ],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/passwort"),
            vec![
                ("password", NEW_PASSWORD.to_owned()),
                ("password_repeat", NEW_PASSWORD.to_owned()),
            ],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/name"),
            vec![("username", "uebernommen".to_owned())],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/aktiv"),
            vec![("active", "nein".to_owned())],
        ),
    ]
}

#[tokio::test]
async fn other_tenant_ids_return_404_unchanged() {
    let app = spawn_app().await;
    let alpha = fixture(&app, "alpha").await;
    let beta = fixture(&app, "beta").await;
    create_login(&app, &beta.tenant, &beta.admin, beta.employee, "bea", false).await;
    let (beta_employee, _) = sign_in(&app, &beta.tenant, "bea", EMPLOYEE_PASSWORD).await;
    let beta_units = units_of(&app, &beta.tenant).await;
    let beta_employees = employees_of(&app, &beta.tenant).await;
    let beta_accounts = accounts_of(&app, &beta.tenant).await;
    let alpha_units = units_of(&app, &alpha.tenant).await;
    let alpha_employees = employees_of(&app, &alpha.tenant).await;
    let alpha_accounts = accounts_of(&app, &alpha.tenant).await;

    for path in get_routes(&beta) {
        let (status, _) = get_text(&alpha.admin, &url(&app, &alpha.tenant, &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
    }
    for (path, fields) in post_routes(&beta, alpha.department) {
        let response = post_fields(&alpha.admin, &url(&app, &alpha.tenant, &path), &fields).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {path}");
    }

    // A new employee of tenant A cannot be placed in a unit of tenant B.
    let fields = with(
        &employee_fields(beta.department),
        "personnel_number",
        "8888",
    );
    let response = post_fields(
        &alpha.admin,
        &url(&app, &alpha.tenant, "/admin/stammdaten/mitarbeiter/neu"),
        &fields,
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(&inline_error(
        "org_unit_id",
        "Bitte wählen Sie eine Filiale oder Abteilung aus."
    )));

    assert_eq!(units_of(&app, &beta.tenant).await, beta_units);
    assert_eq!(employees_of(&app, &beta.tenant).await, beta_employees);
    assert_eq!(accounts_of(&app, &beta.tenant).await, beta_accounts);
    assert_eq!(units_of(&app, &alpha.tenant).await, alpha_units);
    assert_eq!(employees_of(&app, &alpha.tenant).await, alpha_employees);
    assert_eq!(accounts_of(&app, &alpha.tenant).await, alpha_accounts);
    let (status, _) = get_text(&beta_employee, &url(&app, &beta.tenant, "/portal")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "tenant B's employee session must survive"
    );
}

#[tokio::test]
async fn other_tenant_cookie_redirects_to_login() {
    let app = spawn_app().await;
    let alpha = app.create_tenant("alpha", "Apotheke Alpha").await;
    let (_, alpha_token) = sign_in_admin(&app, &alpha).await;
    let beta = fixture(&app, "beta").await;
    let beta_units = units_of(&app, &beta.tenant).await;
    let beta_employees = employees_of(&app, &beta.tenant).await;
    let beta_accounts = accounts_of(&app, &beta.tenant).await;
    let cookie = format!("{SESSION_COOKIE}={alpha_token}");
    let stranger = app.client();

    let mut gets = get_routes(&beta);
    gets.push("/admin".to_owned());
    gets.push("/admin/stammdaten".to_owned());
    gets.push("/admin/stammdaten/mitarbeiter/neu".to_owned());
    for path in gets {
        let response = stranger
            .get(url(&app, &beta.tenant, &path))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(location(&response), "/login", "GET {path}");
    }
    let mut posts = post_routes(&beta, beta.department);
    posts.push((
        "/admin/stammdaten/mitarbeiter/neu".to_owned(),
        with(
            &employee_fields(beta.department),
            "personnel_number",
            "9999",
        ),
    ));
    for (path, fields) in posts {
        let response = stranger
            .post(url(&app, &beta.tenant, &path))
            .header(COOKIE, &cookie)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
        assert_eq!(location(&response), "/login", "POST {path}");
    }

    assert_eq!(units_of(&app, &beta.tenant).await, beta_units);
    assert_eq!(employees_of(&app, &beta.tenant).await, beta_employees);
    assert_eq!(accounts_of(&app, &beta.tenant).await, beta_accounts);
}
