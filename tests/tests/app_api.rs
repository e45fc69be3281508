//! End-to-end tests of the app API on the apex host: login, the bearer token and its binding to
//! one tenant and account, revocation, JSON errors and the OpenAPI document.

use chrono::{Duration, NaiveDate, Utc};
use mep24web_entities::{account, employee, org_unit, tenant_settings};
use mep24web_platform::i18n::{self, Locale};
use mep24web_platform::sessions::{SessionId, SessionKind};
use mep24web_platform::tokens;
use mep24web_tests::{TestApp, TestTenant, location, spawn_app};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "Sicheres-Passwort-2026";

// ---------------------------------------------------------------------------------------------
// Helpers

/// Inserts an employee record under the organization root and a portal login for it.
async fn insert_employee_login(
    app: &TestApp,
    tenant: &TestTenant,
    personnel_number: &str,
    username: &str,
) -> account::Model {
    let root = org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let now = Utc::now();
    let person = employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(personnel_number.to_owned()),
        first_name: Set("Anna".to_owned()),
        last_name: Set(format!("Schmidt-{}", tenant.slug)),
        email: Set(None),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(root.id),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    insert_login(app, tenant, "employee", username, None, Some(person.id)).await
}

/// Inserts a login with [`PASSWORD`].
async fn insert_login(
    app: &TestApp,
    tenant: &TestTenant,
    kind: &str,
    username: &str,
    role: Option<&str>,
    employee_id: Option<i64>,
) -> account::Model {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .unwrap();
    let now = Utc::now();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set(kind.to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(hash)),
        display_name: Set(format!("{username} ({})", tenant.name)),
        role: Set(role.map(str::to_owned)),
        email: Set(None),
        employee_id: Set(employee_id),
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
    .unwrap()
}

async fn post_json(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client()
        .post(app.apex_url(path))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Logs in through the API and returns the status and the JSON body.
async fn app_login(
    app: &TestApp,
    customer_number: Value,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let response = post_json(
        app,
        "/api/app/v1/login",
        &json!({ "customer_number": customer_number, "username": username, "password": password }),
    )
    .await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Logs in through the API, asserts success and returns the token.
async fn token_for(app: &TestApp, tenant: &TestTenant, username: &str) -> String {
    let (status, body) = app_login(app, json!(tenant.customer_number), username, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn me(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let response = app
        .client()
        .get(app.apex_url("/api/app/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Returns the error body the API sends for `code`, built from the locale files.
fn error_body(code: &str) -> Value {
    let key = format!("app_api.errors.{code}");
    let args = [("server", mep24web_tests::BASE_DOMAIN)];
    json!({
        "code": code,
        "message_de": i18n::text_with(Locale::De, &key, &args),
        "message_en": i18n::text_with(Locale::En, &key, &args),
    })
}

async fn app_sessions(app: &TestApp, account_id: i64) -> usize {
    app.session_count_of_kind(account_id, SessionKind::App)
        .await
}

/// Returns today in Europe/Berlin, the time zone every test tenant gets.
fn berlin_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
}

// ---------------------------------------------------------------------------------------------
// Login

#[tokio::test]
async fn login_employee_returns_bound_token() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let login = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;

    let response = post_json(
        &app,
        "/api/app/v1/login",
        &json!({ "customer_number": tenant.customer_number, "username": "Anna.Schmidt", "password": PASSWORD }),
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert!(tokens::looks_valid(token), "token {token}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["account_kind"], "employee");
    assert_eq!(body["display_name"], "anna.schmidt (Acme Apotheke)");
    assert_eq!(body["tenant_name"], "Acme Apotheke");
    assert_eq!(body["customer_number"], tenant.customer_number);
    assert_eq!(body["must_change_password"], false);

    let stored = app.sessions_of(login.id).await;
    assert_eq!(stored.len(), 1);
    let stored = &stored[0];
    assert_eq!(stored.kind, SessionKind::App);
    assert_eq!(stored.tenant_id, tenant.id);
    assert_eq!(stored.id.as_str(), tokens::hash(token));
    assert_ne!(stored.id.as_str(), token);
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at.timestamp(), stored.expires_at.timestamp());
    let lifetime = stored.expires_at - Utc::now();
    assert!(
        lifetime > Duration::days(89) && lifetime <= Duration::days(90),
        "{lifetime}"
    );
}

#[tokio::test]
async fn login_planner_accepts_digit_string() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_login(&app, &tenant, "planner", "p.meier", Some("planer"), None).await;

    let customer_number = format!(" {} ", tenant.customer_number);
    let (status, body) = app_login(&app, json!(customer_number), "p.meier", PASSWORD).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account_kind"], "planner");
    assert_eq!(body["tenant_name"], "Acme Apotheke");
}

#[tokio::test]
async fn login_failures_share_one_body() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let closed = app
        .create_tenant("geschlossen", "Geschlossene Filiale")
        .await;
    insert_employee_login(&app, &acme, "1001", "anna.schmidt").await;
    let inactive = insert_employee_login(&app, &acme, "1002", "inaktiv").await;
    insert_employee_login(&app, &closed, "1001", "anna.schmidt").await;
    account::Entity::update_many()
        .col_expr(account::Column::Active, Expr::value(false))
        .filter(account::Column::Id.eq(inactive.id))
        .exec(app.db())
        .await
        .unwrap();
    app.set_suspended("geschlossen", true).await;
    let acme_number = acme.customer_number;

    let cases = [
        (
            "unknown customer number",
            json!(999_999),
            "anna.schmidt",
            PASSWORD,
        ),
        (
            "customer number with letters",
            json!("10O01"),
            "anna.schmidt",
            PASSWORD,
        ),
        (
            "wrong password",
            json!(acme_number),
            "anna.schmidt",
            "Falsches-Passwort-1",
        ),
        ("unknown user", json!(acme_number), "berta.neu", PASSWORD),
        ("empty username", json!(acme_number), "", PASSWORD),
        ("deactivated login", json!(acme_number), "inaktiv", PASSWORD),
        (
            "suspended tenant",
            json!(closed.customer_number),
            "anna.schmidt",
            PASSWORD,
        ),
    ];
    let expected = error_body("login_failed");
    for (case, number, username, password) in cases {
        let response = post_json(
            &app,
            "/api/app/v1/login",
            &json!({ "customer_number": number, "username": username, "password": password }),
        )
        .await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{case}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, expected, "{case}");
    }
    let message = expected["message_de"].as_str().unwrap();
    assert!(message.contains("MEP24Team-App"));
    assert!(message.contains("Serveradresse localhost"));
    assert!(message.contains("Kundennummer"));
    assert!(message.contains("Benutzername und Passwort"));
}

#[tokio::test]
async fn lockout_applies_to_app_login() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let login = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    tenant_settings::Entity::update_many()
        .col_expr(tenant_settings::Column::MaxFailedLogins, Expr::value(2))
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
    let number = json!(tenant.customer_number);

    for attempt in 1..=2 {
        let (status, _) =
            app_login(&app, number.clone(), "anna.schmidt", "Falsches-Passwort-1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let (status, body) = app_login(&app, number, "anna.schmidt", PASSWORD).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, error_body("login_failed"));
    assert_eq!(app_sessions(&app, login.id).await, 0);
}

// ---------------------------------------------------------------------------------------------
// Token use

#[tokio::test]
async fn me_returns_token_tenant_data() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let beta = app.create_tenant("beta", "Beta Markt").await;
    insert_employee_login(&app, &acme, "A-1", "anna").await;
    insert_employee_login(&app, &beta, "B-2", "anna").await;
    let acme_token = token_for(&app, &acme, "anna").await;
    let beta_token = token_for(&app, &beta, "anna").await;

    let (status, acme_me) = me(&app, &acme_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        acme_me,
        json!({
            "account_kind": "employee",
            "username": "anna",
            "display_name": "anna (Acme Apotheke)",
            "tenant_name": "Acme Apotheke",
            "customer_number": acme.customer_number,
            "must_change_password": false,
            "employee": { "personnel_number": "A-1", "first_name": "Anna", "last_name": "Schmidt-acme" },
        })
    );
    let (status, beta_me) = me(&app, &beta_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(beta_me["tenant_name"], "Beta Markt");
    assert_eq!(beta_me["customer_number"], beta.customer_number);
    assert_eq!(beta_me["employee"]["personnel_number"], "B-2");
}

#[tokio::test]
async fn me_planner_has_no_employee() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_login(
        &app,
        &tenant,
        "planner",
        "p.meier",
        Some("administrator"),
        None,
    )
    .await;
    let token = token_for(&app, &tenant, "p.meier").await;

    let (status, body) = me(&app, &token).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["account_kind"], "planner");
    assert_eq!(body["username"], "p.meier");
    assert_eq!(body["employee"], Value::Null);
}

#[tokio::test]
async fn me_without_token_is_token_missing() {
    let app = spawn_app().await;
    let url = app.apex_url("/api/app/v1/me");

    let response = app.client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        error_body("token_missing")
    );

    let basic = app
        .client()
        .get(&url)
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        basic.json::<Value>().await.unwrap(),
        error_body("token_missing")
    );

    let garbage = app
        .client()
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        garbage.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(
        garbage.json::<Value>().await.unwrap(),
        error_body("token_invalid")
    );

    let unknown = tokens::generate();
    let (status, body) = me(&app, &unknown).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, error_body("token_invalid"));
}

#[tokio::test]
async fn web_session_token_is_rejected_as_bearer() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let login = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    let web_token = app.new_session(tenant.id, login.id, SessionKind::Web).await;

    let (status, body) = me(&app, &web_token).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, error_body("token_invalid"));
}

#[tokio::test]
async fn app_token_is_rejected_as_cookie() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_login(
        &app,
        &tenant,
        "planner",
        "p.meier",
        Some("administrator"),
        None,
    )
    .await;
    let token = token_for(&app, &tenant, "p.meier").await;

    let response = app
        .client()
        .get(app.tenant_url("acme", "/admin/sicherheit/benutzer"))
        .header("cookie", format!("mep24web_session={token}"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn deactivated_login_token_is_revoked() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let login = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    let token = token_for(&app, &tenant, "anna.schmidt").await;
    assert_eq!(me(&app, &token).await.0, StatusCode::OK);

    account::Entity::update_many()
        .col_expr(account::Column::Active, Expr::value(false))
        .filter(account::Column::Id.eq(login.id))
        .exec(app.db())
        .await
        .unwrap();
    let (status, body) = me(&app, &token).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, error_body("token_invalid"));
    assert_eq!(app_sessions(&app, login.id).await, 0);
}

#[tokio::test]
async fn departed_employee_token_is_revoked() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let login = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    let token = token_for(&app, &tenant, "anna.schmidt").await;
    let employee_id = login.employee_id.unwrap();
    let set_exit = |date: NaiveDate| {
        employee::Entity::update_many()
            .col_expr(employee::Column::ExitDate, Expr::value(Some(date)))
            .filter(employee::Column::Id.eq(employee_id))
            .exec(app.db())
    };

    // The exit date itself is still a working day.
    set_exit(berlin_today()).await.unwrap();
    assert_eq!(me(&app, &token).await.0, StatusCode::OK);

    set_exit(berlin_today() - Duration::days(1)).await.unwrap();
    let (status, body) = me(&app, &token).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, error_body("token_invalid"));
    assert_eq!(app_sessions(&app, login.id).await, 0);
}

#[tokio::test]
async fn suspended_tenant_token_is_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    let token = token_for(&app, &tenant, "anna.schmidt").await;

    app.set_suspended("acme", true).await;
    let (status, body) = me(&app, &token).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, error_body("token_invalid"));
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let login = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    let token = token_for(&app, &tenant, "anna.schmidt").await;
    let id = SessionId::of_token(&token);
    app.set_session_expiry(
        |session| session.id == id,
        Utc::now() - Duration::minutes(1),
    )
    .await;

    let (status, body) = me(&app, &token).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, error_body("token_invalid"));
    assert_eq!(app_sessions(&app, login.id).await, 0);
}

#[tokio::test]
async fn logout_revokes_token() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let login = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    let token = token_for(&app, &tenant, "anna.schmidt").await;
    let other_device = token_for(&app, &tenant, "anna.schmidt").await;
    let logout = || {
        app.client()
            .post(app.apex_url("/api/app/v1/logout"))
            .bearer_auth(&token)
            .send()
    };

    let response = logout().await.unwrap();

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(
        me(&app, &token).await,
        (StatusCode::UNAUTHORIZED, error_body("token_invalid"))
    );
    assert_eq!(
        me(&app, &other_device).await.0,
        StatusCode::OK,
        "other device logged out too"
    );
    assert_eq!(app_sessions(&app, login.id).await, 1);
    let again = logout().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// Malformed requests and the document

#[tokio::test]
async fn malformed_requests_are_bad_request() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let url = app.apex_url("/api/app/v1/login");
    let number = tenant.customer_number;
    let cases: [(&str, &str, String); 6] = [
        (
            "syntax error",
            "application/json",
            "{\"customer_number\": ".to_owned(),
        ),
        (
            "plain text",
            "text/plain",
            format!("{{\"customer_number\": {number}, \"username\": \"a\", \"password\": \"b\"}}"),
        ),
        (
            "form",
            "application/x-www-form-urlencoded",
            "customer_number=1&username=a&password=b".to_owned(),
        ),
        (
            "missing password",
            "application/json",
            format!("{{\"customer_number\": {number}, \"username\": \"a\"}}"),
        ),
        (
            "boolean number",
            "application/json",
            "{\"customer_number\": true, \"username\": \"a\", \"password\": \"b\"}".to_owned(),
        ),
        ("array body", "application/json", "[1, 2, 3]".to_owned()),
    ];

    for (case, content_type, body) in cases {
        let response = app
            .client()
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{case}"
        );
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            error_body("bad_request"),
            "{case}"
        );
    }
}

#[tokio::test]
async fn unknown_api_path_is_json_not_found() {
    let app = spawn_app().await;

    let missing = app
        .client()
        .get(app.apex_url("/api/app/v1/schichten"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        error_body("not_found")
    );

    let wrong_method = app
        .client()
        .get(app.apex_url("/api/app/v1/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        wrong_method.json::<Value>().await.unwrap(),
        error_body("method_not_allowed")
    );
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let app = spawn_app().await;

    let response = app
        .client()
        .get(app.apex_url("/api/app/v1/openapi.json"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["servers"][0]["url"],
        format!("http://localhost:{}/api/app/v1", app.port)
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let routes = mep24web_app_api::operation_list();
    assert_eq!(routes.len(), 4);
    for (method, path) in routes {
        let operation = &document["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} missing from the document"
        );
        // The route exists on the server: any status but 404 and 405 proves it.
        let answer = app
            .client()
            .request(method.clone(), app.apex_url(&format!("/api/app/v1{path}")))
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            answer != StatusCode::NOT_FOUND && answer != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} answered {answer}"
        );
    }
    let documented: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, 4);
}
