//! End-to-end tests of the portal service: the administrator's setup link, the login for
//! planners and employees, sessions and their cookies, logout, the password change, the employee
//! start page and the registration from an invitation.
//!
//! Employees, logins and invitations are written straight into the database with the entities,
//! because the planner screens that create them are tested elsewhere.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mep24web_entities::{account, employee, invitation, org_unit, password_token, tenant_settings};
use mep24web_platform::tokens;
use mep24web_tests::{TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use secrecy::SecretString;

const ADMIN_PASSWORD: &str = "Planung-Sommer-2026";
const EMPLOYEE_PASSWORD: &str = "Kasse-Fruehling-2026";
const NEW_PASSWORD: &str = "Neues-Passwort-2027";
const SECURITY_CODE: &str = "Kasse-7781";
const SESSION_COOKIE: &str = "mep24web_session";

// ---------------------------------------------------------------------------------------------
// Fixtures written straight into the database
// ---------------------------------------------------------------------------------------------

/// Returns today's date in Europe/Berlin, the time zone of every test tenant.
fn berlin_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
}

/// Creates the branch "Filiale Mitte" with the department "Kasse" below the tenant's root and
/// returns the department's id.
async fn insert_department(app: &TestApp, tenant: &TestTenant) -> i64 {
    let root = org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let unit = |parent: i64, kind: &str, name: &str| org_unit::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        parent_id: Set(Some(parent)),
        kind: Set(kind.to_owned()),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let branch = unit(root.id, "branch", "Filiale Mitte")
        .insert(app.db())
        .await
        .unwrap();
    let department = unit(branch.id, "department", "Kasse")
        .insert(app.db())
        .await
        .unwrap();
    department.id
}

async fn insert_employee(
    app: &TestApp,
    tenant: &TestTenant,
    personnel_number: &str,
    first_name: &str,
    last_name: &str,
    exit_date: Option<NaiveDate>,
) -> employee::Model {
    let department = insert_department(app, tenant).await;
    let email = format!(
        "{}.{}@example.com",
        first_name.to_lowercase(),
        last_name.to_lowercase()
    );
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(personnel_number.to_owned()),
        first_name: Set(first_name.to_owned()),
        last_name: Set(last_name.to_owned()),
        email: Set(Some(email)),
        phone: Set(None),
        entry_date: Set(NaiveDate::from_ymd_opt(2024, 4, 1)),
        exit_date: Set(exit_date),
        org_unit_id: Set(department),
        language: Set("de".to_owned()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
}

/// Creates an employee's portal login with a password, as the planner's "Neuen Benutzer
/// erstellen" would.
async fn insert_employee_login(
    app: &TestApp,
    tenant: &TestTenant,
    employee: &employee::Model,
    username: &str,
    password: &str,
) -> account::Model {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(password))
        .await
        .unwrap();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("employee".to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(hash)),
        display_name: Set(format!("{} {}", employee.first_name, employee.last_name)),
        role: Set(None),
        email: Set(employee.email.clone()),
        employee_id: Set(Some(employee.id)),
        active: Set(true),
        must_change_password: Set(false),
        failed_attempts: Set(0),
        locked_until: Set(None),
        language: Set("de".to_owned()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
}

/// Creates the employee "Anna Schmidt" (personnel number 1001) with the login `anna.schmidt`.
async fn insert_anna(app: &TestApp, tenant: &TestTenant) -> account::Model {
    let anna = insert_employee(app, tenant, "1001", "Anna", "Schmidt", None).await;
    insert_employee_login(app, tenant, &anna, "anna.schmidt", EMPLOYEE_PASSWORD).await
}

async fn admin_account(app: &TestApp, tenant: &TestTenant) -> account::Model {
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::Kind.eq("planner"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Gives the tenant's administrator a password without going through the setup link.
async fn set_admin_password(app: &TestApp, tenant: &TestTenant) {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(ADMIN_PASSWORD))
        .await
        .unwrap();
    let admin = admin_account(app, tenant).await;
    update_account(
        app,
        admin.id,
        account::Column::PasswordHash,
        Expr::value(hash),
    )
    .await;
}

async fn update_account(
    app: &TestApp,
    account_id: i64,
    column: account::Column,
    value: SimpleExpr,
) {
    account::Entity::update_many()
        .col_expr(column, value)
        .filter(account::Column::Id.eq(account_id))
        .exec(app.db())
        .await
        .unwrap();
}

async fn reload_account(app: &TestApp, account_id: i64) -> account::Model {
    account::Entity::find_by_id(account_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn set_security_code(app: &TestApp, tenant: &TestTenant, code: &str) {
    tenant_settings::Entity::update_many()
        .col_expr(tenant_settings::Column::SecurityCode, Expr::value(code))
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
}

/// Stores an invitation valid for 14 days and returns its token and row id.
async fn insert_invitation(
    app: &TestApp,
    tenant: &TestTenant,
    employee: &employee::Model,
) -> (String, i64) {
    let token = tokens::generate();
    let row = invitation::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        employee_id: Set(employee.id),
        email: Set(employee.email.clone().unwrap_or_default()),
        token_hash: Set(tokens::hash(&token)),
        created_at: Set(Utc::now()),
        expires_at: Set(Utc::now() + Duration::days(14)),
        used_at: Set(None),
        replaced_at: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    (token, row.id)
}

async fn update_invitation(
    app: &TestApp,
    invitation_id: i64,
    column: invitation::Column,
    value: SimpleExpr,
) {
    invitation::Entity::update_many()
        .col_expr(column, value)
        .filter(invitation::Column::Id.eq(invitation_id))
        .exec(app.db())
        .await
        .unwrap();
}

async fn reload_invitation(app: &TestApp, invitation_id: i64) -> invitation::Model {
    invitation::Entity::find_by_id(invitation_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn employee_logins(app: &TestApp, employee_id: i64) -> Vec<account::Model> {
    account::Entity::find()
        .filter(account::Column::EmployeeId.eq(employee_id))
        .all(app.db())
        .await
        .unwrap()
}

async fn session_count(app: &TestApp, account_id: i64) -> usize {
    app.session_count(account_id).await
}

fn setup_token(tenant: &TestTenant) -> String {
    tenant.setup_link.rsplit('/').next().unwrap().to_owned()
}

async fn setup_row(app: &TestApp, tenant: &TestTenant) -> password_token::Model {
    password_token::Entity::find()
        .filter(password_token::Column::TokenHash.eq(tokens::hash(&setup_token(tenant))))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

fn url(tenant: &TestTenant, path: &str) -> String {
    format!("{}{path}", tenant.access_link)
}

async fn log_in(
    client: &reqwest::Client,
    tenant: &TestTenant,
    username: &str,
    password: &str,
) -> reqwest::Response {
    post_form(
        client,
        &url(tenant, "/login"),
        &[("username", username), ("password", password)],
    )
    .await
}

/// Returns every `Set-Cookie` header of a response.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// Returns the full `Set-Cookie` header of the session cookie.
fn session_set_cookie(response: &reqwest::Response) -> String {
    set_cookies(response)
        .into_iter()
        .find(|cookie| cookie.starts_with(&format!("{SESSION_COOKIE}=")))
        .unwrap_or_else(|| panic!("no session cookie in {:?}", set_cookies(response)))
}

/// Returns the session token a response set.
fn session_token(response: &reqwest::Response) -> String {
    let cookie = session_set_cookie(response);
    let pair = cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

/// Sends a GET with only the given session token as cookie, from a client without cookie store.
async fn get_with_token(tenant: &TestTenant, path: &str, token: &str) -> reqwest::Response {
    mep24web_tests::client()
        .get(url(tenant, path))
        .header(COOKIE, format!("{SESSION_COOKIE}={token}"))
        .send()
        .await
        .unwrap()
}

async fn post_with_token(
    tenant: &TestTenant,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    mep24web_tests::client()
        .post(url(tenant, path))
        .header(COOKIE, format!("{SESSION_COOKIE}={token}"))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Cuts the generic failure block out of the login page.
fn login_error_block(body: &str) -> String {
    let start = body
        .find(r#"<div class="alert" role="alert" id="login-error">"#)
        .unwrap_or_else(|| panic!("no login error block in {body}"));
    let end = start + body[start..].find("</div>").unwrap() + "</div>".len();
    body[start..end].to_owned()
}

/// Returns the text of the inline error of a form field, if the page shows one.
fn field_error(body: &str, field: &str) -> Option<String> {
    let marker = format!(r#"<p class="error" id="e-{field}">"#);
    let start = body.find(&marker)? + marker.len();
    let end = start + body[start..].find("</p>")?;
    Some(body[start..end].to_owned())
}

/// Returns the `value` attribute of a form field's input.
fn field_value(body: &str, field: &str) -> String {
    let marker = format!(r#"name="{field}""#);
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {field} in {body}"));
    let rest = &body[start..];
    let value_start = rest.find(r#"value=""#).unwrap() + r#"value=""#.len();
    let value_end = value_start + rest[value_start..].find('"').unwrap();
    rest[value_start..value_end].to_owned()
}

fn past(minutes: i64) -> DateTime<Utc> {
    Utc::now() - Duration::minutes(minutes)
}

// ---------------------------------------------------------------------------------------------
// Setup link
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn setup_valid_link_sets_password_and_signs_in() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let client = app.client();

    let (status, body) = get_text(&client, &tenant.setup_link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(
            r#"<input id="f-username" name="username" type="text" value="admin" readonly"#
        ),
        "{body}"
    );
    assert!(
        body.contains("Legen Sie das Passwort für das Administratorkonto von Acme Apotheke fest.")
    );

    let response = post_form(
        &client,
        &tenant.setup_link,
        &[
            ("password", ADMIN_PASSWORD),
            ("password_repeat", ADMIN_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
    let token = session_token(&response);

    let admin = admin_account(&app, &tenant).await;
    assert!(admin.password_hash.is_some());
    assert_eq!(session_count(&app, admin.id).await, 1);
    assert!(setup_row(&app, &tenant).await.used_at.is_some());

    let start = get_with_token(&tenant, "/", &token).await;
    assert_eq!(location(&start), "/admin");

    let login = log_in(&app.client(), &tenant, "admin", ADMIN_PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/admin");
}

#[tokio::test]
async fn setup_reused_link_shows_invalid_page() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let client = app.client();
    let fields = [
        ("password", ADMIN_PASSWORD),
        ("password_repeat", ADMIN_PASSWORD),
    ];
    let first = post_form(&client, &tenant.setup_link, &fields).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let hash_after_setup = admin_account(&app, &tenant).await.password_hash;

    let (status, body) = get_text(&app.client(), &tenant.setup_link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("Dieser Einrichtungslink ist ungültig oder abgelaufen"),
        "{body}"
    );

    let again = post_form(
        &app.client(),
        &tenant.setup_link,
        &[
            ("password", NEW_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert!(set_cookies(&again).is_empty());
    assert_eq!(
        admin_account(&app, &tenant).await.password_hash,
        hash_after_setup
    );
}

#[tokio::test]
async fn setup_expired_link_shows_invalid_page() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let row = setup_row(&app, &tenant).await;
    password_token::Entity::update_many()
        .col_expr(password_token::Column::ExpiresAt, Expr::value(past(1)))
        .filter(password_token::Column::Id.eq(row.id))
        .exec(app.db())
        .await
        .unwrap();

    let (status, body) = get_text(&app.client(), &tenant.setup_link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("Ein Einrichtungslink gilt 72 Stunden"),
        "{body}"
    );

    let response = post_form(
        &app.client(),
        &tenant.setup_link,
        &[
            ("password", ADMIN_PASSWORD),
            ("password_repeat", ADMIN_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(admin_account(&app, &tenant).await.password_hash, None);
    assert_eq!(setup_row(&app, &tenant).await.used_at, None);
}

#[tokio::test]
async fn setup_other_tenant_token_answers_like_unknown() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let client = app.client();

    let foreign = url(&acme, &format!("/setup/{}", setup_token(&other)));
    let unknown = url(&acme, &format!("/setup/{}", tokens::generate()));
    let (foreign_status, foreign_body) = get_text(&client, &foreign).await;
    let (unknown_status, unknown_body) = get_text(&client, &unknown).await;
    assert_eq!(foreign_status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_status, StatusCode::NOT_FOUND);
    assert_eq!(foreign_body, unknown_body);

    let fields = [
        ("password", ADMIN_PASSWORD),
        ("password_repeat", ADMIN_PASSWORD),
    ];
    let response = post_form(&client, &foreign, &fields).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(set_cookies(&response).is_empty());
    assert_eq!(admin_account(&app, &other).await.password_hash, None);
    assert_eq!(setup_row(&app, &other).await.used_at, None);

    let (own_status, _) = get_text(&client, &other.setup_link).await;
    assert_eq!(own_status, StatusCode::OK);
}

#[tokio::test]
async fn setup_short_password_shows_inline_error() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = post_form(
        &app.client(),
        &tenant.setup_link,
        &[("password", "kurz"), ("password_repeat", "kurz")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "password").as_deref(),
        Some("Das Passwort muss mindestens 10 Zeichen lang sein.")
    );
    assert!(!body.contains("kurz\""), "the password was echoed: {body}");
    assert_eq!(setup_row(&app, &tenant).await.used_at, None);
}

#[tokio::test]
async fn setup_mismatched_repetition_shows_error_at_repetition() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = post_form(
        &app.client(),
        &tenant.setup_link,
        &[
            ("password", ADMIN_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(field_error(&body, "password"), None);
    assert_eq!(
        field_error(&body, "password_repeat").as_deref(),
        Some("Die beiden Passwörter stimmen nicht überein.")
    );
}

#[tokio::test]
async fn setup_concurrent_submits_succeed_once() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let (first_client, second_client) = (app.client(), app.client());
    let fields = [
        ("password", ADMIN_PASSWORD),
        ("password_repeat", ADMIN_PASSWORD),
    ];

    let (first, second) = tokio::join!(
        post_form(&first_client, &tenant.setup_link, &fields),
        post_form(&second_client, &tenant.setup_link, &fields),
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::NOT_FOUND]);
    let admin = admin_account(&app, &tenant).await;
    assert_eq!(session_count(&app, admin.id).await, 1);
}

// ---------------------------------------------------------------------------------------------
// Login, sessions and logout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_page_shows_tenant_and_customer_number() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let (status, body) = get_text(&app.client(), &url(&tenant, "/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(r#"<dd id="login-tenant-name">Acme Apotheke</dd>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<dd id="login-customer-number">10001</dd>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<span id="customer-number">Kundennummer 10001</span>"#),
        "{body}"
    );
    let escaped_link = format!("{}/", tenant.access_link).replace('/', "&#x2f;");
    assert!(
        body.contains(&format!(
            r#"<dd id="login-access-link">{escaped_link}</dd>"#
        )),
        "{body}"
    );
    assert!(!body.contains(r#"id="login-error""#));
}

#[tokio::test]
async fn login_page_in_english_by_accept_language() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = app
        .client()
        .get(url(&tenant, "/login"))
        .header("Accept-Language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(body.contains("<h1>Log in</h1>"), "{body}");
    assert!(body.contains("Customer number 10001"), "{body}");
}

#[tokio::test]
async fn login_planner_redirects_to_admin() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    set_admin_password(&app, &tenant).await;
    let client = app.client();

    let response = log_in(&client, &tenant, "Admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
    assert!(
        set_cookies(&response)
            .contains(&"lang=de; Path=/; Max-Age=31536000; SameSite=Lax".to_owned())
    );

    let start = client.get(url(&tenant, "/")).send().await.unwrap();
    assert_eq!(location(&start), "/admin");
    let login_again = client.get(url(&tenant, "/login")).send().await.unwrap();
    assert_eq!(location(&login_again), "/admin");
}

#[tokio::test]
async fn login_employee_redirects_to_portal() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    let client = app.client();

    let response = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal");
    assert!(reload_account(&app, anna.id).await.last_login_at.is_some());

    let start = client.get(url(&tenant, "/")).send().await.unwrap();
    assert_eq!(location(&start), "/portal");
}

#[tokio::test]
async fn login_sets_language_cookie_from_account() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    update_account(&app, anna.id, account::Column::Language, Expr::value("en")).await;
    let client = app.client();

    let response = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert!(
        set_cookies(&response)
            .contains(&"lang=en; Path=/; Max-Age=31536000; SameSite=Lax".to_owned())
    );

    let (_, body) = get_text(&client, &url(&tenant, "/portal")).await;
    assert!(
        body.contains(r#"<h1 id="greeting">Hello, Anna Schmidt!</h1>"#),
        "{body}"
    );
}

#[tokio::test]
async fn session_cookie_is_host_only_httponly_lax() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_anna(&app, &tenant).await;

    let response = log_in(&app.client(), &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let cookie = session_set_cookie(&response);
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).skip(1).collect();
    assert_eq!(
        attributes,
        ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"]
    );
    assert!(!cookie.to_ascii_lowercase().contains("domain"));
    assert_eq!(session_token(&response).len(), 43);
}

#[tokio::test]
async fn login_failure_message_is_identical_for_every_cause() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_anna(&app, &tenant).await;

    let deactivated = insert_employee(&app, &tenant, "1002", "Jürgen", "Weiß", None).await;
    let deactivated =
        insert_employee_login(&app, &tenant, &deactivated, "juergen", EMPLOYEE_PASSWORD).await;
    update_account(
        &app,
        deactivated.id,
        account::Column::Active,
        Expr::value(false),
    )
    .await;

    let yesterday = berlin_today() - Duration::days(1);
    let departed = insert_employee(&app, &tenant, "1003", "Fatma", "Yılmaz", Some(yesterday)).await;
    insert_employee_login(&app, &tenant, &departed, "fatma", EMPLOYEE_PASSWORD).await;

    let locked = insert_employee(&app, &tenant, "1004", "Lukas", "Müller", None).await;
    let locked = insert_employee_login(&app, &tenant, &locked, "lukas", EMPLOYEE_PASSWORD).await;
    let until = Utc::now() + Duration::minutes(10);
    update_account(
        &app,
        locked.id,
        account::Column::LockedUntil,
        Expr::value(until),
    )
    .await;

    let cases = [
        ("unknown user", "niemand", EMPLOYEE_PASSWORD),
        ("wrong password", "anna.schmidt", "Falsches-Passwort-1"),
        ("deactivated", "juergen", EMPLOYEE_PASSWORD),
        ("departed", "fatma", EMPLOYEE_PASSWORD),
        ("locked", "lukas", EMPLOYEE_PASSWORD),
    ];
    let mut blocks = Vec::new();
    for (cause, username, password) in cases {
        let response = log_in(&app.client(), &tenant, username, password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{cause}");
        assert!(set_cookies(&response).is_empty(), "{cause}");
        let body = response.text().await.unwrap();
        assert_eq!(field_value(&body, "username"), username, "{cause}");
        assert!(!body.contains(password), "{cause}: the password was echoed");
        blocks.push((cause, login_error_block(&body)));
    }

    let (_, first) = &blocks[0];
    for (cause, block) in &blocks {
        assert_eq!(block, first, "{cause}");
    }
    assert!(
        first.contains("Sie sind auf http:&#x2f;&#x2f;acme.localhost:"),
        "{first}"
    );
    assert!(
        first.contains("Acme Apotheke mit der Kundennummer 10001"),
        "{first}"
    );
    assert!(first.contains("Feststelltaste (Caps Lock)"), "{first}");
    assert!(
        first.contains("Ihre Planerin oder Ihr Planer kann Ihnen ein neues Passwort setzen"),
        "{first}"
    );
}

#[tokio::test]
async fn login_departed_today_still_allowed() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let leaving =
        insert_employee(&app, &tenant, "1005", "Sara", "Klein", Some(berlin_today())).await;
    insert_employee_login(&app, &tenant, &leaving, "sara", EMPLOYEE_PASSWORD).await;

    let response = log_in(&app.client(), &tenant, "sara", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal");
}

#[tokio::test]
async fn login_locks_after_max_failed_attempts_and_unlocks() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    tenant_settings::Entity::update_many()
        .col_expr(tenant_settings::Column::MaxFailedLogins, Expr::value(3))
        .col_expr(tenant_settings::Column::LockoutMinutes, Expr::value(10))
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();

    for attempt in 1..=2 {
        let response = log_in(
            &app.client(),
            &tenant,
            "anna.schmidt",
            "Falsches-Passwort-1",
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
        assert_eq!(
            reload_account(&app, anna.id).await.locked_until,
            None,
            "attempt {attempt}"
        );
    }
    let third = log_in(
        &app.client(),
        &tenant,
        "anna.schmidt",
        "Falsches-Passwort-1",
    )
    .await;
    assert_eq!(third.status(), StatusCode::UNAUTHORIZED);
    let body = third.text().await.unwrap();
    assert!(
        body.contains("Nach 3 Fehlversuchen ist die Anmeldung 10 Minuten lang gesperrt."),
        "{body}"
    );
    let locked_until = reload_account(&app, anna.id).await.locked_until.unwrap();
    assert!(
        locked_until > Utc::now() + Duration::minutes(9),
        "{locked_until}"
    );

    let while_locked = log_in(&app.client(), &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(while_locked.status(), StatusCode::UNAUTHORIZED);

    update_account(
        &app,
        anna.id,
        account::Column::LockedUntil,
        Expr::value(past(1)),
    )
    .await;
    let after_lockout = log_in(&app.client(), &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(after_lockout.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&after_lockout), "/portal");
    let unlocked = reload_account(&app, anna.id).await;
    assert_eq!(unlocked.locked_until, None);
    assert_eq!(unlocked.failed_attempts, 0);
}

#[tokio::test]
async fn login_renews_session_and_revokes_previous() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    let client = app.client();

    let first = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let first_token = session_token(&first);
    let second = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let second_token = session_token(&second);

    assert_ne!(first_token, second_token);
    assert_eq!(session_count(&app, anna.id).await, 1);
    let old = get_with_token(&tenant, "/portal", &first_token).await;
    assert_eq!(location(&old), "/login");
    let new = get_with_token(&tenant, "/portal", &second_token).await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test]
async fn other_tenant_session_cookie_is_rejected() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    insert_anna(&app, &other).await;
    let response = log_in(&app.client(), &other, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let token = session_token(&response);

    let start = get_with_token(&acme, "/", &token).await;
    assert_eq!(location(&start), "/login");
    let portal = get_with_token(&acme, "/portal", &token).await;
    assert_eq!(portal.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&portal), "/login");
    let password = get_with_token(&acme, "/password/change", &token).await;
    assert_eq!(location(&password), "/login");
    let login = get_with_token(&acme, "/login", &token).await;
    assert_eq!(login.status(), StatusCode::OK);

    let own = get_with_token(&other, "/portal", &token).await;
    assert_eq!(own.status(), StatusCode::OK);
}

#[tokio::test]
async fn login_other_tenant_username_fails() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    insert_anna(&app, &other).await;

    let response = log_in(&app.client(), &acme, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deactivation_ends_running_session() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    let client = app.client();
    log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let (status, _) = get_text(&client, &url(&tenant, "/portal")).await;
    assert_eq!(status, StatusCode::OK);

    update_account(&app, anna.id, account::Column::Active, Expr::value(false)).await;

    let response = client.get(url(&tenant, "/portal")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    assert_eq!(session_count(&app, anna.id).await, 0);
}

#[tokio::test]
async fn revoke_all_for_account_ends_running_session() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    let client = app.client();
    log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;

    let revoked = mep24web_platform::sessions::revoke_all_for_account(
        &app.state().sessions,
        app.db(),
        tenant.id,
        anna.id,
    )
    .await
    .unwrap();
    assert_eq!(revoked, 1);

    let response = client.get(url(&tenant, "/portal")).send().await.unwrap();
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn logout_revokes_session_and_clears_cookie() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    let client = app.client();
    let login = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let token = session_token(&login);

    let response = client.post(url(&tenant, "/logout")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=logged_out");
    assert_eq!(
        session_set_cookie(&response),
        "mep24web_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    );
    assert_eq!(session_count(&app, anna.id).await, 0);

    let replayed = get_with_token(&tenant, "/portal", &token).await;
    assert_eq!(location(&replayed), "/login");
    let (_, body) = get_text(&client, &url(&tenant, "/login?notice=logged_out")).await;
    assert!(
        body.contains(r#"<p class="notice" role="status">Sie sind abgemeldet.</p>"#),
        "{body}"
    );
}

#[tokio::test]
async fn logout_with_other_tenant_cookie_keeps_that_session() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let anna = insert_anna(&app, &other).await;
    let login = log_in(&app.client(), &other, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let token = session_token(&login);

    let response = post_with_token(&acme, "/logout", &token, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(session_count(&app, anna.id).await, 1);
    let own = get_with_token(&other, "/portal", &token).await;
    assert_eq!(own.status(), StatusCode::OK);
}

#[tokio::test]
async fn start_path_without_session_redirects_to_login() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = app.client().get(url(&tenant, "/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn login_form_with_wrong_content_type_is_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = app
        .client()
        .post(url(&tenant, "/login"))
        .header("Content-Type", "application/json")
        .body(r#"{"username":"admin"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(body.contains("Das Formular ist unvollständig."), "{body}");
}

// ---------------------------------------------------------------------------------------------
// Employee start page
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn portal_shows_employee_details() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_anna(&app, &tenant).await;
    let client = app.client();
    log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;

    let (status, body) = get_text(&client, &url(&tenant, "/portal")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(r#"<strong id="user-name">Anna Schmidt</strong>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<span id="customer-number">Kundennummer 10001</span>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<h1 id="greeting">Guten Tag, Anna Schmidt!</h1>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<dd id="personnel-number">1001</dd>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<dd id="branch">Filiale Mitte</dd>"#),
        "{body}"
    );
    assert!(body.contains(r#"<dd id="department">Kasse</dd>"#), "{body}");
    assert!(
        body.contains("Hier sehen Sie künftig Ihre freigegebenen Dienstpläne"),
        "{body}"
    );
}

#[tokio::test]
async fn portal_without_session_redirects_to_login() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = app
        .client()
        .get(url(&tenant, "/portal"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn portal_for_planner_is_forbidden() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    set_admin_password(&app, &tenant).await;
    let client = app.client();
    log_in(&client, &tenant, "admin", ADMIN_PASSWORD).await;

    let (status, _) = get_text(&client, &url(&tenant, "/portal")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------------
// Password change
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn must_change_password_flow_sets_new_password() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    update_account(
        &app,
        anna.id,
        account::Column::MustChangePassword,
        Expr::value(true),
    )
    .await;
    let client = app.client();

    let login = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(location(&login), "/password/change");
    let portal = client.get(url(&tenant, "/portal")).send().await.unwrap();
    assert_eq!(location(&portal), "/password/change");
    let start = client.get(url(&tenant, "/")).send().await.unwrap();
    assert_eq!(location(&start), "/password/change");

    let (status, body) = get_text(&client, &url(&tenant, "/password/change")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Bevor Sie weiterarbeiten können, müssen Sie ein neues Passwort festlegen."),
        "{body}"
    );

    let same = post_form(
        &client,
        &url(&tenant, "/password/change"),
        &[
            ("current_password", EMPLOYEE_PASSWORD),
            ("new_password", EMPLOYEE_PASSWORD),
            ("new_password_repeat", EMPLOYEE_PASSWORD),
        ],
    )
    .await;
    assert_eq!(same.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = same.text().await.unwrap();
    assert_eq!(
        field_error(&body, "new_password").as_deref(),
        Some("Das neue Passwort muss sich vom aktuellen Passwort unterscheiden.")
    );

    let changed = post_form(
        &client,
        &url(&tenant, "/password/change"),
        &[
            ("current_password", EMPLOYEE_PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_repeat", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&changed), "/portal?notice=password_changed");
    assert!(!reload_account(&app, anna.id).await.must_change_password);

    let (status, body) = get_text(&client, &url(&tenant, "/portal?notice=password_changed")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Ihr Passwort wurde geändert."), "{body}");

    let old = log_in(&app.client(), &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = log_in(&app.client(), &tenant, "anna.schmidt", NEW_PASSWORD).await;
    assert_eq!(location(&new), "/portal");
}

#[tokio::test]
async fn password_change_wrong_current_password_shows_inline_error() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    let client = app.client();
    log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let hash_before = reload_account(&app, anna.id).await.password_hash;

    let response = post_form(
        &client,
        &url(&tenant, "/password/change"),
        &[
            ("current_password", "Falsches-Passwort-1"),
            ("new_password", NEW_PASSWORD),
            ("new_password_repeat", "Anderes-Passwort-2"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "current_password").as_deref(),
        Some(
            "Das aktuelle Passwort ist falsch. Geben Sie das Passwort ein, mit dem Sie sich angemeldet haben."
        )
    );
    assert_eq!(
        field_error(&body, "new_password_repeat").as_deref(),
        Some("Die beiden Passwörter stimmen nicht überein.")
    );
    assert!(!body.contains(NEW_PASSWORD));
    assert_eq!(
        reload_account(&app, anna.id).await.password_hash,
        hash_before
    );
}

#[tokio::test]
async fn password_change_ends_other_sessions_only() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_anna(&app, &tenant).await;
    let (phone, desktop) = (app.client(), app.client());
    log_in(&phone, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    log_in(&desktop, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(session_count(&app, anna.id).await, 2);

    let changed = post_form(
        &desktop,
        &url(&tenant, "/password/change"),
        &[
            ("current_password", EMPLOYEE_PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_repeat", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);

    assert_eq!(session_count(&app, anna.id).await, 1);
    let (desktop_status, _) = get_text(&desktop, &url(&tenant, "/portal")).await;
    assert_eq!(desktop_status, StatusCode::OK);
    let phone_response = phone.get(url(&tenant, "/portal")).send().await.unwrap();
    assert_eq!(location(&phone_response), "/login");
}

#[tokio::test]
async fn password_change_planner_redirects_to_admin() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    set_admin_password(&app, &tenant).await;
    let client = app.client();
    log_in(&client, &tenant, "admin", ADMIN_PASSWORD).await;

    let response = post_form(
        &client,
        &url(&tenant, "/password/change"),
        &[
            ("current_password", ADMIN_PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_repeat", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
}

#[tokio::test]
async fn password_change_with_other_tenant_cookie_changes_nothing() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let anna = insert_anna(&app, &other).await;
    let login = log_in(&app.client(), &other, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let token = session_token(&login);
    let hash_before = reload_account(&app, anna.id).await.password_hash;

    let response = post_with_token(
        &acme,
        "/password/change",
        &token,
        &[
            ("current_password", EMPLOYEE_PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_repeat", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    assert_eq!(
        reload_account(&app, anna.id).await.password_hash,
        hash_before
    );
}

#[tokio::test]
async fn password_change_without_session_redirects_to_login() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = app
        .client()
        .get(url(&tenant, "/password/change"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/login");
}

// ---------------------------------------------------------------------------------------------
// Registration from an invitation
// ---------------------------------------------------------------------------------------------

/// A tenant with a security code and the invited employee "Anna Schmidt" without a login.
struct Invited {
    app: TestApp,
    tenant: TestTenant,
    employee: employee::Model,
    token: String,
    invitation_id: i64,
}

impl Invited {
    async fn new() -> Self {
        let app = spawn_app().await;
        let tenant = app.create_tenant("acme", "Acme Apotheke").await;
        set_security_code(&app, &tenant, SECURITY_CODE).await;
        let employee = insert_employee(&app, &tenant, "1001", "Anna", "Schmidt", None).await;
        let (token, invitation_id) = insert_invitation(&app, &tenant, &employee).await;
        Self {
            app,
            tenant,
            employee,
            token,
            invitation_id,
        }
    }

    fn link(&self) -> String {
        url(&self.tenant, &format!("/register/{}", self.token))
    }

    async fn submit(&self, code: &str, username: &str) -> reqwest::Response {
        post_form(
            &self.app.client(),
            &self.link(),
            &[
                ("security_code", code),
                ("username", username),
                ("password", EMPLOYEE_PASSWORD),
                ("password_repeat", EMPLOYEE_PASSWORD),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn register_valid_invitation_creates_login() {
    let invited = Invited::new().await;
    let app = &invited.app;

    let (status, body) = get_text(&app.client(), &invited.link()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Guten Tag Anna Schmidt, hier legen Sie Ihren Zugang zum Mitarbeiterportal von Acme Apotheke an."), "{body}");
    assert!(
        body.contains(
            r#"<p id="register-after">Nach der Registrierung sind Sie noch nicht angemeldet"#
        ),
        "{body}"
    );

    let response = invited
        .submit(&format!("  {SECURITY_CODE} "), "Anna.S")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=registered");
    assert!(set_cookies(&response).is_empty());

    let logins = employee_logins(app, invited.employee.id).await;
    assert_eq!(logins.len(), 1);
    let login = &logins[0];
    assert_eq!(login.kind, "employee");
    assert_eq!(login.username, "Anna.S");
    assert_eq!(login.username_key, "anna.s");
    assert_eq!(login.display_name, "Anna Schmidt");
    assert_eq!(login.email.as_deref(), Some("anna.schmidt@example.com"));
    assert_eq!(login.language, "de");
    assert_eq!(login.role, None);
    assert!(login.active);
    assert!(!login.must_change_password);
    assert!(
        reload_invitation(app, invited.invitation_id)
            .await
            .used_at
            .is_some()
    );

    let (_, body) = get_text(
        &app.client(),
        &url(&invited.tenant, "/login?notice=registered"),
    )
    .await;
    assert!(
        body.contains("Ihre Registrierung ist abgeschlossen."),
        "{body}"
    );
    let signed_in = log_in(&app.client(), &invited.tenant, "anna.s", EMPLOYEE_PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_in), "/portal");
}

#[tokio::test]
async fn register_wrong_security_code_stores_nothing() {
    let invited = Invited::new().await;
    let app = &invited.app;

    let response = invited.submit("kasse-7781", "anna.s").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "security_code").as_deref(),
        Some(
            "Der Sicherheitscode ist falsch. Achten Sie auf Groß- und Kleinschreibung. Sie haben noch 9 Versuche, danach brauchen Sie eine neue Einladung."
        )
    );
    assert_eq!(field_value(&body, "username"), "anna.s");
    assert_eq!(field_value(&body, "security_code"), "kasse-7781");
    assert!(!body.contains(EMPLOYEE_PASSWORD));

    assert!(employee_logins(app, invited.employee.id).await.is_empty());
    let invitation = reload_invitation(app, invited.invitation_id).await;
    assert_eq!(invitation.used_at, None);
    assert_eq!(invitation.security_code_failures, 1);
}

#[tokio::test]
async fn register_tenth_wrong_code_blocks_invitation() {
    let invited = Invited::new().await;
    let app = &invited.app;
    update_invitation(
        app,
        invited.invitation_id,
        invitation::Column::SecurityCodeFailures,
        Expr::value(9),
    )
    .await;

    let tenth = invited.submit("Kasse-0000", "anna.s").await;
    assert_eq!(tenth.status(), StatusCode::GONE);
    let body = tenth.text().await.unwrap();
    assert!(body.contains("Diese Einladung ist gesperrt"), "{body}");
    assert_eq!(
        reload_invitation(app, invited.invitation_id)
            .await
            .security_code_failures,
        10
    );

    let correct = invited.submit(SECURITY_CODE, "anna.s").await;
    assert_eq!(correct.status(), StatusCode::GONE);
    let (status, body) = get_text(&app.client(), &invited.link()).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(
        body.contains("Bitten Sie Ihre Planerin oder Ihren Planer um eine neue Einladung"),
        "{body}"
    );
    assert!(employee_logins(app, invited.employee.id).await.is_empty());
}

#[tokio::test]
async fn register_reused_link_shows_used_page() {
    let invited = Invited::new().await;
    let first = invited.submit(SECURITY_CODE, "anna.s").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);

    let (status, body) = get_text(&invited.app.client(), &invited.link()).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(
        body.contains("Diese Einladung wurde bereits verwendet"),
        "{body}"
    );

    let second = invited.submit(SECURITY_CODE, "anna.zwei").await;
    assert_eq!(second.status(), StatusCode::GONE);
    assert_eq!(
        employee_logins(&invited.app, invited.employee.id)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn register_replaced_invitation_is_rejected() {
    let invited = Invited::new().await;
    let app = &invited.app;
    update_invitation(
        app,
        invited.invitation_id,
        invitation::Column::ReplacedAt,
        Expr::value(past(5)),
    )
    .await;

    let (status, body) = get_text(&app.client(), &invited.link()).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(body.contains("Es gibt eine neuere Einladung"), "{body}");
    let response = invited.submit(SECURITY_CODE, "anna.s").await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert!(employee_logins(app, invited.employee.id).await.is_empty());
}

#[tokio::test]
async fn register_expired_invitation_is_rejected() {
    let invited = Invited::new().await;
    let app = &invited.app;
    update_invitation(
        app,
        invited.invitation_id,
        invitation::Column::ExpiresAt,
        Expr::value(past(1)),
    )
    .await;

    let (status, body) = get_text(&app.client(), &invited.link()).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(body.contains("Diese Einladung ist abgelaufen"), "{body}");
    let response = invited.submit(SECURITY_CODE, "anna.s").await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert!(employee_logins(app, invited.employee.id).await.is_empty());
    assert_eq!(
        reload_invitation(app, invited.invitation_id).await.used_at,
        None
    );
}

#[tokio::test]
async fn register_departed_employee_is_rejected() {
    let invited = Invited::new().await;
    let app = &invited.app;
    let yesterday = berlin_today() - Duration::days(1);
    employee::Entity::update_many()
        .col_expr(employee::Column::ExitDate, Expr::value(yesterday))
        .filter(employee::Column::Id.eq(invited.employee.id))
        .exec(app.db())
        .await
        .unwrap();

    let response = invited.submit(SECURITY_CODE, "anna.s").await;
    assert_eq!(response.status(), StatusCode::GONE);
    let body = response.text().await.unwrap();
    assert!(body.contains("Registrierung nicht möglich"), "{body}");
    assert!(employee_logins(app, invited.employee.id).await.is_empty());
}

#[tokio::test]
async fn register_employee_with_login_is_rejected() {
    let invited = Invited::new().await;
    let app = &invited.app;
    insert_employee_login(
        app,
        &invited.tenant,
        &invited.employee,
        "anna.alt",
        EMPLOYEE_PASSWORD,
    )
    .await;

    let response = invited.submit(SECURITY_CODE, "anna.s").await;
    assert_eq!(response.status(), StatusCode::GONE);
    let body = response.text().await.unwrap();
    assert!(body.contains("Sie haben bereits einen Zugang"), "{body}");
    assert_eq!(employee_logins(app, invited.employee.id).await.len(), 1);
}

#[tokio::test]
async fn register_without_tenant_security_code_is_not_possible() {
    let invited = Invited::new().await;
    let app = &invited.app;
    tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::SecurityCode,
            Expr::value(Option::<String>::None),
        )
        .filter(tenant_settings::Column::TenantId.eq(invited.tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();

    let (status, body) = get_text(&app.client(), &invited.link()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.contains("Ihr Unternehmen hat noch keinen Sicherheitscode festgelegt."),
        "{body}"
    );
    let response = invited.submit("", "anna.s").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(employee_logins(app, invited.employee.id).await.is_empty());
}

#[tokio::test]
async fn register_other_tenant_token_answers_like_unknown() {
    let invited = Invited::new().await;
    let app = &invited.app;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    set_security_code(app, &other, SECURITY_CODE).await;
    let stranger = insert_employee(app, &other, "2001", "Tom", "Berg", None).await;
    let (foreign_token, foreign_id) = insert_invitation(app, &other, &stranger).await;

    let foreign = url(&invited.tenant, &format!("/register/{foreign_token}"));
    let unknown = url(
        &invited.tenant,
        &format!("/register/{}", tokens::generate()),
    );
    let malformed = url(&invited.tenant, "/register/abc");
    let (foreign_status, foreign_body) = get_text(&app.client(), &foreign).await;
    let (unknown_status, unknown_body) = get_text(&app.client(), &unknown).await;
    let (malformed_status, malformed_body) = get_text(&app.client(), &malformed).await;
    assert_eq!(foreign_status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_status, StatusCode::NOT_FOUND);
    assert_eq!(malformed_status, StatusCode::NOT_FOUND);
    assert_eq!(foreign_body, unknown_body);
    assert_eq!(foreign_body, malformed_body);
    assert!(
        foreign_body.contains("Dieser Registrierungslink ist ungültig"),
        "{foreign_body}"
    );

    let response = post_form(
        &app.client(),
        &foreign,
        &[
            ("security_code", SECURITY_CODE),
            ("username", "tom.berg"),
            ("password", EMPLOYEE_PASSWORD),
            ("password_repeat", EMPLOYEE_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(employee_logins(app, stranger.id).await.is_empty());
    let untouched = reload_invitation(app, foreign_id).await;
    assert_eq!(untouched.used_at, None);
    assert_eq!(untouched.security_code_failures, 0);

    let own = url(&other, &format!("/register/{foreign_token}"));
    let (own_status, _) = get_text(&app.client(), &own).await;
    assert_eq!(own_status, StatusCode::OK);
}

#[tokio::test]
async fn register_username_taken_case_insensitively() {
    let invited = Invited::new().await;
    let app = &invited.app;
    let colleague = insert_employee(app, &invited.tenant, "1002", "Anna", "Berg", None).await;
    insert_employee_login(
        app,
        &invited.tenant,
        &colleague,
        "anna.b",
        EMPLOYEE_PASSWORD,
    )
    .await;

    for taken_name in ["ANNA.B", "Admin"] {
        let response = invited.submit(SECURITY_CODE, taken_name).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{taken_name}"
        );
        let body = response.text().await.unwrap();
        assert_eq!(
            field_error(&body, "username").as_deref(),
            Some("Dieser Benutzername ist bereits vergeben. Bitte wählen Sie einen anderen."),
            "{taken_name}"
        );
        assert_eq!(field_value(&body, "username"), taken_name);
    }
    assert!(employee_logins(app, invited.employee.id).await.is_empty());
    let invitation = reload_invitation(app, invited.invitation_id).await;
    assert_eq!(invitation.used_at, None);
    assert_eq!(invitation.security_code_failures, 0);
}

#[tokio::test]
async fn register_invalid_username_and_password_show_inline_errors() {
    let invited = Invited::new().await;

    let response = post_form(
        &invited.app.client(),
        &invited.link(),
        &[
            ("security_code", SECURITY_CODE),
            ("username", "anna schmidt"),
            ("password", "kurz"),
            ("password_repeat", "kurz"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "username").as_deref(),
        Some(
            "Der Benutzername darf nur Buchstaben, Ziffern sowie . - _ und @ enthalten, keine Leerzeichen."
        )
    );
    assert_eq!(
        field_error(&body, "password").as_deref(),
        Some("Das Passwort muss mindestens 10 Zeichen lang sein.")
    );
    assert_eq!(field_error(&body, "security_code"), None);
    assert!(
        employee_logins(&invited.app, invited.employee.id)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn register_concurrent_submits_create_one_login() {
    let invited = Invited::new().await;

    let (first, second) = tokio::join!(
        invited.submit(SECURITY_CODE, "anna.eins"),
        invited.submit(SECURITY_CODE, "anna.zwei"),
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::GONE]);
    let logins = employee_logins(&invited.app, invited.employee.id).await;
    assert_eq!(logins.len(), 1);
    let total = account::Entity::find()
        .filter(account::Column::TenantId.eq(invited.tenant.id.get()))
        .filter(account::Column::Kind.eq("employee"))
        .count(invited.app.db())
        .await
        .unwrap();
    assert_eq!(total, 1);
}
