//! Attacks on the gateway, the login, setup links, registration, sessions and the mail outbox,
//! over real HTTP against a server started by the harness on the loopback interface.
//!
//! Every test here states the behavior the platform must keep under hostile or unlucky input.
//! The inputs are forged hosts, replayed and parallel requests, oversized and malformed bodies,
//! and dead mail servers and databases. Secrets must stay out of response bodies and logs.
//!
//! The tests share one log capture per test binary at debug level, so the leak tests can read
//! what the server logged. Each test starts its application through [`start`] or [`start_with`],
//! which install the capture before the harness would install its own subscriber.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{LazyLock, Mutex, Once};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use mep24web::Settings;
use mep24web_entities::{
    account, employee, invitation, org_unit, outbox, password_token, tenant_settings,
};
use mep24web_platform::i18n::{self, Locale};
use mep24web_platform::mail::OutgoingMail;
use mep24web_platform::sessions::SessionId;
use mep24web_platform::tokens;
use mep24web_tests::{
    TestApp, TestTenant, get_text, location, post_form, raw_request, spawn_app_with,
};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, REFERER, SET_COOKIE};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const ADMIN_PASSWORD: &str = "Planung-Sommer-2026";
const EMPLOYEE_PASSWORD: &str = "Kasse-Fruehling-2026";
const SECURITY_CODE: &str = "Kasse-7781";
const SESSION_COOKIE: &str = "mep24web_session";

// ---------------------------------------------------------------------------------------------
// Log capture
// ---------------------------------------------------------------------------------------------

/// Everything the test binary logged at debug level and above, from every test.
static LOGS: LazyLock<Mutex<Vec<u8>>> = LazyLock::new(|| Mutex::new(Vec::new()));

/// A writer that appends to [`LOGS`].
struct CaptureWriter;

impl Write for CaptureWriter {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(buffer);
        Ok(buffer.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the debug-level log capture as the global subscriber, once per test binary.
fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // The test's own HTTP client logs the cookies it stores at debug level. Those lines
        // come from this process but not from the server, so they are left out.
        let filter = tracing_subscriber::EnvFilter::new("debug,cookie_store=info,reqwest=info");
        let installed = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(|| CaptureWriter)
            .try_init();
        assert!(installed.is_ok(), "another subscriber was installed first");
    });
}

/// Returns everything captured so far.
fn captured_logs() -> String {
    let logs = LOGS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    String::from_utf8_lossy(&logs).into_owned()
}

/// Asserts that no captured log line contains `secret`, naming what the secret is.
fn assert_not_logged(secret: &str, what: &str) {
    let logs = captured_logs();
    let leaked: Vec<&str> = logs.lines().filter(|line| line.contains(secret)).collect();
    assert!(
        leaked.is_empty(),
        "the log contains the {what}:\n{leaked:#?}"
    );
}

async fn start() -> TestApp {
    start_with(|_| {}).await
}

/// Starts the application with `configure` applied. The login attempt limits per client address
/// and per tenant are raised, so the parallel attacks from one address reach the per-account and
/// per-invitation limits that these tests are about.
async fn start_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    capture_logs();
    spawn_app_with(|settings| {
        settings.login_limit_per_ip = 10_000;
        settings.login_limit_per_tenant = 10_000;
        configure(settings);
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Texts and pages
// ---------------------------------------------------------------------------------------------

/// Returns the text of `key`, failing when the locale files lack it.
fn text(locale: Locale, key: &str) -> String {
    let value = i18n::text(locale, key);
    assert_ne!(value, key, "no {} text for {key}", locale.code());
    value
}

/// Returns the text of `key` as the templates' auto-escaping renders it.
fn rendered_text(locale: Locale, key: &str) -> String {
    text(locale, key)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// Asserts that a raw response is the German HTML error page with the text of `key`.
fn assert_german_error_page(response: &mep24web_tests::RawResponse, key: &str, case: &str) {
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "{case}: content type {content_type:?}, body {:?}",
        response.body
    );
    assert!(
        response.body.contains(&rendered_text(Locale::De, key)),
        "{case}: expected the text of {key} in {:?}",
        response.body
    );
}

/// Returns the text of the inline error of a form field, if the page shows one.
fn field_error(body: &str, field: &str) -> Option<String> {
    let marker = format!(r#"<p class="error" id="e-{field}">"#);
    let start = body.find(&marker)? + marker.len();
    let end = start + body[start..].find("</p>")?;
    Some(body[start..end].to_owned())
}

// ---------------------------------------------------------------------------------------------
// Fixtures written straight into the database
// ---------------------------------------------------------------------------------------------

fn url(tenant: &TestTenant, path: &str) -> String {
    format!("{}{path}", tenant.access_link)
}

/// Returns the `Host` header value of a tenant, with port.
fn host_of(app: &TestApp, slug: &str) -> String {
    format!("{slug}.localhost:{}", app.port)
}

async fn root_unit(app: &TestApp, tenant: &TestTenant) -> i64 {
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn insert_employee(
    app: &TestApp,
    tenant: &TestTenant,
    personnel_number: &str,
    email: &str,
) -> employee::Model {
    let unit = root_unit(app, tenant).await;
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(personnel_number.to_owned()),
        first_name: Set("Anna".to_owned()),
        last_name: Set("Schmidt".to_owned()),
        email: Set(Some(email.to_owned())),
        phone: Set(None),
        entry_date: Set(NaiveDate::from_ymd_opt(2024, 4, 1)),
        exit_date: Set(None),
        org_unit_id: Set(unit),
        language: Set("de".to_owned()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
}

/// Creates an employee's login with a password, as the planner's "Neuen Benutzer erstellen"
/// would.
async fn insert_login(
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
        display_name: Set("Anna Schmidt".to_owned()),
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

/// Creates the employee Anna Schmidt (personnel number 1001) with the login `anna.schmidt`.
async fn insert_anna(app: &TestApp, tenant: &TestTenant, password: &str) -> account::Model {
    let email = format!("anna.schmidt@{}.example.com", tenant.slug);
    let anna = insert_employee(app, tenant, "1001", &email).await;
    insert_login(app, tenant, &anna, "anna.schmidt", password).await
}

async fn reload_account(app: &TestApp, account_id: i64) -> account::Model {
    account::Entity::find_by_id(account_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn set_lockout(app: &TestApp, tenant: &TestTenant, max_failed: i32, minutes: i32) {
    tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::MaxFailedLogins,
            Expr::value(max_failed),
        )
        .col_expr(
            tenant_settings::Column::LockoutMinutes,
            Expr::value(minutes),
        )
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
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
        expires_at: Set(Utc::now() + chrono::Duration::days(14)),
        used_at: Set(None),
        replaced_at: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    (token, row.id)
}

async fn reload_invitation(app: &TestApp, invitation_id: i64) -> invitation::Model {
    invitation::Entity::find_by_id(invitation_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

fn setup_token(tenant: &TestTenant) -> String {
    tenant.setup_link.rsplit('/').next().unwrap().to_owned()
}

/// Returns the session token a response set, if it set one.
fn session_token(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .and_then(|rest| rest.split(';').next())
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
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

// ---------------------------------------------------------------------------------------------
// Forged and odd hosts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn request_with_two_host_headers_is_bad_request() {
    let app = start().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("beta", "Beta Markt").await;

    let request = format!(
        "GET /login HTTP/1.1\r\nHost: {}\r\nHost: {}\r\nConnection: close\r\n\r\n",
        host_of(&app, "acme"),
        host_of(&app, "beta"),
    );
    let response = raw_request(app.port, request.as_bytes()).await;

    assert_eq!(response.status, 400, "{}", response.body);
    assert_german_error_page(&response, "errors.invalid_host", "two Host headers");
}

#[tokio::test]
async fn absolute_uri_naming_other_host_is_bad_request() {
    let app = start().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("beta", "Beta Markt").await;

    let request = format!(
        "GET http://{}/login HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        host_of(&app, "beta"),
        host_of(&app, "acme"),
    );
    let response = raw_request(app.port, request.as_bytes()).await;

    assert_eq!(response.status, 400, "{}", response.body);
    assert_german_error_page(&response, "errors.invalid_host", "absolute URI");
    assert!(
        !response.body.contains("Acme Apotheke"),
        "{}",
        response.body
    );
    assert!(!response.body.contains("Beta Markt"), "{}", response.body);
}

#[tokio::test]
async fn absolute_uri_matching_host_is_served() {
    let app = start().await;
    app.create_tenant("acme", "Acme Apotheke").await;

    let request = format!(
        "GET http://{}/login HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        host_of(&app, "acme"),
        host_of(&app, "ACME"),
    );
    let response = raw_request(app.port, request.as_bytes()).await;

    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.body.contains("Acme Apotheke"), "{}", response.body);
}

#[tokio::test]
async fn odd_host_variants_resolve_as_documented() {
    let app = start().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let port = app.port;
    // A Cyrillic 'а' in place of the Latin 'a' of "acme".
    let homograph = format!("\u{0430}cme.localhost:{port}");
    let long_host = format!("{}.localhost", "a".repeat(200_000));

    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "trailing dot",
            format!("acme.localhost.:{port}"),
            200,
            "Acme Apotheke",
        ),
        (
            "upper case",
            format!("ACME.LOCALHOST:{port}"),
            200,
            "Acme Apotheke",
        ),
        (
            "www below tenant",
            format!("www.acme.localhost:{port}"),
            404,
            "unknown",
        ),
        (
            "reserved slug",
            format!("admin.localhost:{port}"),
            404,
            "unknown",
        ),
        ("IPv6 literal", format!("[::1]:{port}"), 404, "unknown"),
        ("raw UTF-8 homograph", homograph, 400, "invalid"),
        (
            "punycode homograph",
            format!("xn--cme-5cd.localhost:{port}"),
            404,
            "unknown",
        ),
        (
            "userinfo",
            format!("anna:pw@acme.localhost:{port}"),
            400,
            "invalid",
        ),
        (
            "percent-encoding",
            format!("%61cme.localhost:{port}"),
            400,
            "invalid",
        ),
        ("200,000 characters", long_host, 400, "invalid"),
    ];
    for (case, host, status, expected) in cases {
        let response = mep24web_tests::raw_get(port, host.as_bytes(), "/login").await;
        assert_eq!(response.status, status, "{case}: {}", response.body);
        match expected {
            "unknown" => assert!(
                response
                    .body
                    .contains(&rendered_text(Locale::De, "unknown_host.title")),
                "{case}: {}",
                response.body
            ),
            "invalid" => {
                assert_german_error_page(&response, "errors.invalid_host", case);
            }
            name => assert!(response.body.contains(name), "{case}: {}", response.body),
        }
    }
}

#[tokio::test]
async fn language_switch_backslash_referer_stays_on_host() {
    let app = start().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let client = app.client();

    let referers = [
        "x:/\\evil.example/",
        "x:/\\/evil.example/",
        "http://acme.localhost/\\evil.example/",
        "http://acme.localhost//evil.example/",
        "http://acme.localhost/%5Cevil.example",
    ];
    for referer in referers {
        let response = client
            .get(app.tenant_url("acme", "/lang/en"))
            .header(REFERER, referer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{referer}");
        let target = location(&response);
        assert!(target.starts_with('/'), "{referer}: {target}");
        assert!(
            !target.starts_with("//") && !target.starts_with("/\\"),
            "{referer} leads off the host: {target}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Framework rejections and stack errors get the localized page
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_requests_get_german_error_page() {
    let app = start().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let acme = host_of(&app, "acme");
    let apex = format!("localhost:{}", app.port);

    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "repeated finder parameter",
            format!("GET /find?customer_number=1&customer_number=2 HTTP/1.1\r\nHost: {apex}\r\n"),
            400,
            "errors.bad_request",
        ),
        (
            "repeated notice parameter",
            format!("GET /login?notice=a&notice=b HTTP/1.1\r\nHost: {acme}\r\n"),
            400,
            "errors.bad_request",
        ),
        (
            "invalid UTF-8 in a setup token",
            format!("GET /setup/%FF%FE HTTP/1.1\r\nHost: {acme}\r\n"),
            400,
            "errors.bad_request",
        ),
        (
            "invalid UTF-8 in a registration token",
            format!("GET /register/%C3%28 HTTP/1.1\r\nHost: {acme}\r\n"),
            400,
            "errors.bad_request",
        ),
        (
            "unsupported method",
            format!("DELETE /login HTTP/1.1\r\nHost: {acme}\r\n"),
            405,
            "errors.not_found",
        ),
        (
            "declared body over the limit",
            format!(
                "POST /login HTTP/1.1\r\nHost: {acme}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                16 * 1024 * 1024
            ),
            413,
            "errors.too_large",
        ),
    ];
    for (case, head, status, key) in cases {
        let request = format!("{head}Connection: close\r\n\r\n");
        let response = raw_request(app.port, request.as_bytes()).await;
        assert_eq!(response.status, status, "{case}: {}", response.body);
        assert_german_error_page(&response, key, case);
    }
}

#[tokio::test]
async fn oversized_form_body_gets_german_error_page() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let huge = "a".repeat(9 * 1024 * 1024);

    let response = app
        .client()
        .post(url(&tenant, "/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("username=anna&password={huge}"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(
        body.contains(&rendered_text(Locale::De, "errors.too_large")),
        "{body}"
    );
}

#[tokio::test]
async fn hostile_login_inputs_get_generic_failure() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let account = insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    let long_name = "a".repeat(10_000);
    let long_password = "p".repeat(10_000);

    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("missing fields", Vec::new()),
        (
            "invalid UTF-8",
            b"username=anna%FF%FE&password=%C3%28".to_vec(),
        ),
        (
            "raw invalid UTF-8",
            b"username=\xff\xfe&password=\xc3\x28".to_vec(),
        ),
        (
            "10,000-character username",
            format!("username={long_name}&password=x").into_bytes(),
        ),
        (
            "10,000-character password",
            format!("username=anna.schmidt&password={long_password}").into_bytes(),
        ),
    ];
    for (case, body) in bodies {
        let response = app
            .client()
            .post(url(&tenant, "/login"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(session_token(&response), None, "{case}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains(&rendered_text(Locale::De, "portal.login.failed")),
            "{case}: {page}"
        );
        assert!(
            !page.contains(&long_name[..300]),
            "{case}: username echoed in full"
        );
        assert!(
            !page.contains(&long_password[..100]),
            "{case}: password echoed"
        );
    }

    // Only the wrong 10,000-character password for a real username counts as a failure.
    assert_eq!(reload_account(&app, account.id).await.failed_attempts, 1);
}

#[tokio::test]
async fn nul_in_form_field_is_bad_request() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let account = insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    set_security_code(&app, &tenant, SECURITY_CODE).await;
    let anna = insert_employee(&app, &tenant, "1002", "anna.zwei@example.com").await;
    let (token, invitation_id) = insert_invitation(&app, &tenant, &anna).await;

    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        (
            "login, encoded NUL",
            "/login".to_owned(),
            b"username=anna.schmidt%00&password=x".to_vec(),
        ),
        (
            "login, raw NUL",
            "/login".to_owned(),
            b"username=anna\0schmidt&password=\0".to_vec(),
        ),
        (
            "registration",
            format!("/register/{token}"),
            format!("security_code={SECURITY_CODE}&username=anna%00z&password=Lange-Passphrase-1&password_repeat=Lange-Passphrase-1").into_bytes(),
        ),
        (
            "setup link",
            format!("/setup/{}", setup_token(&tenant)),
            b"password=Lange-Passphrase-1%00&password_repeat=Lange-Passphrase-1%00".to_vec(),
        ),
    ];
    for (case, path, body) in cases {
        let response = app
            .client()
            .post(url(&tenant, &path))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains(&rendered_text(Locale::De, "errors.bad_form")),
            "{case}: {page}"
        );
    }

    // The app's JSON login does not use the form parser and rejects the name like any unknown one.
    let response = app
        .client()
        .post(app.apex_url("/api/app/v1/login"))
        .json(&serde_json::json!({
            "customer_number": tenant.customer_number,
            "username": "anna.schmidt\u{0}",
            "password": EMPLOYEE_PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Nothing was counted, created or used.
    assert_eq!(reload_account(&app, account.id).await.failed_attempts, 0);
    let invitation = reload_invitation(&app, invitation_id).await;
    assert_eq!(invitation.used_at, None);
    assert_eq!(invitation.security_code_failures, 0);
}

#[tokio::test]
async fn session_cookie_with_invalid_bytes_is_ignored() {
    let app = start().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let acme = host_of(&app, "acme");

    let mut request =
        format!("GET /portal HTTP/1.1\r\nHost: {acme}\r\nCookie: {SESSION_COOKIE}=").into_bytes();
    request.extend_from_slice(b"\xff\xfe\x00abc\r\nConnection: close\r\n\r\n");
    let response = raw_request(app.port, &request).await;

    assert!(
        response.status == 303 || response.status == 400,
        "status {}: {}",
        response.status,
        response.body
    );
    if response.status == 303 {
        assert_eq!(response.header("location"), Some("/login"));
    }
}

// ---------------------------------------------------------------------------------------------
// Lockout and attempt limits under parallel requests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_parallel_wrong_passwords_all_count() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let account = insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    set_lockout(&app, &tenant, 20, 15).await;

    let attempts = (0..8).map(|index| {
        let tenant = tenant.clone();
        async move {
            let client = mep24web_tests::client();
            let password = format!("Falsch-Passwort-{index}");
            log_in(&client, &tenant, "anna.schmidt", &password)
                .await
                .status()
        }
    });
    let statuses = run_concurrently(attempts).await;

    assert!(
        statuses
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(reload_account(&app, account.id).await.failed_attempts, 8);
}

#[tokio::test]
async fn login_burst_locks_out_correct_password() {
    // One hash at a time, so the wrong guesses queue for the hasher while the last one arrives.
    // Enough database connections for every request, because on PostgreSQL each request keeps
    // one for its transaction, and waiting for the pool would change the order at the hasher.
    let app = start_with(|settings| {
        settings.hash_concurrency = Some(1);
        settings.db_max_connections = 16;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let account = insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    set_lockout(&app, &tenant, 3, 15).await;

    let mut wrong = Vec::new();
    for index in 0..8 {
        let tenant = tenant.clone();
        wrong.push(tokio::spawn(async move {
            let client = mep24web_tests::client();
            let password = format!("Falsch-Passwort-{index}");
            log_in(&client, &tenant, "anna.schmidt", &password)
                .await
                .status()
        }));
    }
    // The correct password goes out once the first wrong one was counted and at least three
    // more wait for the hasher, which serves them in order, so they are ahead of it even on a
    // busy machine.
    let deadline = Instant::now() + Duration::from_secs(20);
    while reload_account(&app, account.id).await.failed_attempts == 0
        || app.state().hasher.waiting() < 3
    {
        assert!(
            Instant::now() < deadline,
            "the wrong passwords did not queue"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let client = app.client();
    let correct = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let correct_status = correct.status();
    let correct_session = session_token(&correct);
    for task in wrong {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED);
    }

    for line in captured_logs()
        .lines()
        .filter(|l| l.contains("login") || l.contains("locked"))
    {
        eprintln!("DEBUG {line}");
    }
    assert_eq!(correct_status, StatusCode::UNAUTHORIZED);
    assert_eq!(correct_session, None);
    let reloaded = reload_account(&app, account.id).await;
    assert!(
        reloaded
            .locked_until
            .is_some_and(|until| until > Utc::now())
    );
    assert_eq!(reloaded.last_login_at, None);
}

#[tokio::test]
async fn login_overlong_password_costs_one_hash() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    set_lockout(&app, &tenant, 1000, 15).await;
    let long_password = "p".repeat(10_000);
    let client = app.client();

    // Warm up the dummy hash and the connection.
    log_in(&client, &tenant, "niemand", "x").await;

    let mut known = Duration::MAX;
    let mut unknown = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let response = log_in(&client, &tenant, "anna.schmidt", &long_password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        known = known.min(started.elapsed());

        let started = Instant::now();
        let response = log_in(&client, &tenant, "niemand.da", &long_password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        unknown = unknown.min(started.elapsed());
    }

    // Both paths run one Argon2 verification. Without it the response for the known user
    // arrives within a few milliseconds, several times faster than for the unknown one.
    assert!(
        known * 2 > unknown,
        "known user with overlong password: {known:?}, unknown user: {unknown:?}"
    );
}

#[tokio::test]
async fn password_change_wrong_current_passwords_lock_account() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let account = insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    set_lockout(&app, &tenant, 3, 15).await;
    let client = app.client();
    let response = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    for index in 0..3 {
        let wrong = format!("Geraten-{index}-abcdef");
        let response = post_form(
            &client,
            &url(&tenant, "/password/change"),
            &[
                ("current_password", wrong.as_str()),
                ("new_password", "Neues-Passwort-2027"),
                ("new_password_repeat", "Neues-Passwort-2027"),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let response = post_form(
        &client,
        &url(&tenant, "/password/change"),
        &[
            ("current_password", EMPLOYEE_PASSWORD),
            ("new_password", "Neues-Passwort-2027"),
            ("new_password_repeat", "Neues-Passwort-2027"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "current_password"),
        Some(rendered_text(Locale::De, "portal.password.current_wrong"))
    );
    let reloaded = reload_account(&app, account.id).await;
    assert_eq!(reloaded.password_hash, account.password_hash);
    assert!(
        reloaded
            .locked_until
            .is_some_and(|until| until > Utc::now())
    );
}

#[tokio::test]
async fn register_parallel_wrong_codes_stop_at_limit() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    set_security_code(&app, &tenant, SECURITY_CODE).await;
    let anna = insert_employee(&app, &tenant, "1001", "anna@example.com").await;
    let (token, invitation_id) = insert_invitation(&app, &tenant, &anna).await;
    invitation::Entity::update_many()
        .col_expr(invitation::Column::SecurityCodeFailures, Expr::value(9))
        .filter(invitation::Column::Id.eq(invitation_id))
        .exec(app.db())
        .await
        .unwrap();

    let guesses = (0..20).map(|index| {
        let target = url(&tenant, &format!("/register/{token}"));
        async move {
            let client = mep24web_tests::client();
            let code = format!("Rate-{index:04}");
            let response = post_form(
                &client,
                &target,
                &[
                    ("security_code", code.as_str()),
                    ("username", "anna.s"),
                    ("password", "kurz"),
                    ("password_repeat", "kurz"),
                ],
            )
            .await;
            let status = response.status();
            let body = response.text().await.unwrap();
            (status, field_error(&body, "security_code").is_some())
        }
    });
    let outcomes = run_concurrently(guesses).await;

    let evaluated = outcomes.iter().filter(|(_, shown)| *shown).count();
    assert!(
        evaluated <= 1,
        "{evaluated} guesses were answered as wrong codes: {outcomes:?}"
    );
    assert_eq!(
        reload_invitation(&app, invitation_id)
            .await
            .security_code_failures,
        10
    );
    for (status, _) in &outcomes {
        assert!(
            *status == StatusCode::GONE || *status == StatusCode::UNPROCESSABLE_ENTITY,
            "{outcomes:?}"
        );
    }
}

#[tokio::test]
async fn register_blocked_invitation_does_not_confirm_correct_code() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    set_security_code(&app, &tenant, SECURITY_CODE).await;
    let anna = insert_employee(&app, &tenant, "1001", "anna@example.com").await;
    let (token, invitation_id) = insert_invitation(&app, &tenant, &anna).await;
    invitation::Entity::update_many()
        .col_expr(invitation::Column::SecurityCodeFailures, Expr::value(9))
        .filter(invitation::Column::Id.eq(invitation_id))
        .exec(app.db())
        .await
        .unwrap();
    let target = url(&tenant, &format!("/register/{token}"));

    // Twenty wrong guesses go out together with the right one. Once ten wrong codes are
    // counted, no response may tell the right code from a wrong one.
    let mut guesses: Vec<String> = (0..20).map(|index| format!("Rate-{index:04}")).collect();
    guesses.push(SECURITY_CODE.to_owned());
    let requests = guesses.into_iter().map(|code| {
        let target = target.clone();
        async move {
            let client = mep24web_tests::client();
            let response = post_form(
                &client,
                &target,
                &[
                    ("security_code", code.as_str()),
                    ("username", "anna.s"),
                    ("password", "kurz"),
                    ("password_repeat", "kurz"),
                ],
            )
            .await;
            let status = response.status();
            let body = response.text().await.unwrap();
            (code, status, field_error(&body, "security_code"))
        }
    });
    let outcomes = run_concurrently(requests).await;

    // At most one request used the last attempt. Every other one saw the blocked page.
    let answered_form: Vec<_> = outcomes
        .iter()
        .filter(|(_, status, _)| *status == StatusCode::UNPROCESSABLE_ENTITY)
        .collect();
    assert!(answered_form.len() <= 1, "{answered_form:?}");
    assert!(
        reload_invitation(&app, invitation_id)
            .await
            .security_code_failures
            <= 10
    );
}

#[tokio::test]
async fn register_correct_security_code_is_not_echoed() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    set_security_code(&app, &tenant, SECURITY_CODE).await;
    let anna = insert_employee(&app, &tenant, "1001", "anna@example.com").await;
    let (token, _) = insert_invitation(&app, &tenant, &anna).await;

    let response = post_form(
        &app.client(),
        &url(&tenant, &format!("/register/{token}")),
        &[
            ("security_code", SECURITY_CODE),
            ("username", "anna.s"),
            ("password", "kurz"),
            ("password_repeat", "kurz"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(field_error(&body, "security_code"), None);
    assert!(field_error(&body, "password").is_some(), "{body}");
    assert!(
        !body.contains(SECURITY_CODE),
        "the page repeats the security code:\n{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Cross-tenant and session handling
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn same_username_in_two_tenants_stays_apart() {
    let app = start().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let beta = app.create_tenant("beta", "Beta Markt").await;
    let acme_anna = insert_anna(&app, &acme, EMPLOYEE_PASSWORD).await;
    let beta_anna = insert_anna(&app, &beta, "Beta-Passwort-2026").await;

    // Beta's password on Acme's host fails and counts only against Acme's account.
    let client = app.client();
    let response = log_in(&client, &acme, "anna.schmidt", "Beta-Passwort-2026").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reload_account(&app, acme_anna.id).await.failed_attempts, 1);
    assert_eq!(reload_account(&app, beta_anna.id).await.failed_attempts, 0);

    // Beta's session cookie on Acme's host is no session at all.
    let beta_client = app.client();
    let response = log_in(&beta_client, &beta, "anna.schmidt", "Beta-Passwort-2026").await;
    let beta_token = session_token(&response).unwrap();
    let response = mep24web_tests::client()
        .get(url(&acme, "/portal"))
        .header(COOKIE, format!("{SESSION_COOKIE}={beta_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");

    // Logging in on Acme with Beta's cookie planted leaves Beta's session intact.
    let response = mep24web_tests::client()
        .post(url(&acme, "/login"))
        .header(COOKIE, format!("{SESSION_COOKIE}={beta_token}"))
        .form(&[
            ("username", "anna.schmidt"),
            ("password", EMPLOYEE_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_ne!(session_token(&response), Some(beta_token.clone()));
    let beta_id = SessionId::of_token(&beta_token);
    let beta_sessions = app
        .stored_sessions()
        .await
        .into_iter()
        .filter(|session| session.tenant_id == beta.id && session.id == beta_id)
        .count();
    assert_eq!(beta_sessions, 1);
}

#[tokio::test]
async fn planted_session_cookie_does_not_survive_login() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    let planted = tokens::generate();

    let response = mep24web_tests::client()
        .post(url(&tenant, "/login"))
        .header(COOKIE, format!("{SESSION_COOKIE}={planted}"))
        .form(&[
            ("username", "anna.schmidt"),
            ("password", EMPLOYEE_PASSWORD),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let issued = session_token(&response).unwrap();
    assert_ne!(issued, planted);
    let response = mep24web_tests::client()
        .get(url(&tenant, "/portal"))
        .header(COOKIE, format!("{SESSION_COOKIE}={planted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn logged_out_cookie_is_rejected_everywhere() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    let client = app.client();
    let response = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let token = session_token(&response).unwrap();

    let response = post_form(&client, &url(&tenant, "/logout"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    for path in ["/portal", "/password/change", "/admin"] {
        let response = mep24web_tests::client()
            .get(url(&tenant, path))
            .header(COOKIE, format!("{SESSION_COOKIE}={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }
}

#[tokio::test]
async fn setup_link_parallel_submits_succeed_once() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let token = setup_token(&tenant);

    let submits = (0..6).map(|index| {
        let target = tenant.setup_link.clone();
        async move {
            let client = mep24web_tests::client();
            let password = format!("Planung-Sommer-{index}-2026");
            let response = post_form(
                &client,
                &target,
                &[
                    ("password", password.as_str()),
                    ("password_repeat", password.as_str()),
                ],
            )
            .await;
            (response.status(), session_token(&response))
        }
    });
    let outcomes = run_concurrently(submits).await;

    let signed_in = outcomes
        .iter()
        .filter(|(status, session)| *status == StatusCode::SEE_OTHER && session.is_some())
        .count();
    assert_eq!(signed_in, 1, "{outcomes:?}");
    let rejected = outcomes
        .iter()
        .filter(|(status, session)| *status == StatusCode::NOT_FOUND && session.is_none())
        .count();
    assert_eq!(rejected, 5, "{outcomes:?}");
    let row = password_token::Entity::find()
        .filter(password_token::Column::TokenHash.eq(tokens::hash(&token)))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(row.used_at.is_some());
    let (status, _) = get_text(&app.client(), &tenant.setup_link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Dead dependencies
// ---------------------------------------------------------------------------------------------

/// Writes one mail for `recipient` into the outbox and wakes the worker.
async fn enqueue_mail(app: &TestApp, tenant: &TestTenant, recipient: &str) -> i64 {
    let id = app
        .state()
        .mail
        .enqueue(
            app.db(),
            tenant.id,
            OutgoingMail {
                recipient: recipient.to_owned(),
                reply_to: None,
                subject: "Einladung".to_owned(),
                body_text: "Bitte registrieren Sie sich.".to_owned(),
                body_html: "<p>Bitte registrieren Sie sich.</p>".to_owned(),
            },
        )
        .await
        .unwrap();
    app.state().mail.wake();
    id
}

/// Polls the outbox row until its attempt count reaches `attempts`, for at most `timeout`.
async fn wait_for_attempts(
    app: &TestApp,
    id: i64,
    attempts: i32,
    timeout: Duration,
) -> outbox::Model {
    let deadline = Instant::now() + timeout;
    loop {
        let row = outbox::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        if row.attempts >= attempts {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "outbox row {id} still at {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Returns an SMTP URL on the loopback interface where nothing listens.
async fn closed_smtp_url() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("smtp://{address}")
}

/// Starts a listener that accepts connections and never sends a byte.
async fn silent_smtp_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (address, task)
}

/// Starts an SMTP server that rejects every recipient with a reply repeating the address, as
/// many real servers do.
async fn rejecting_smtp_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (reader, mut writer) = stream.into_split();
                let mut reader = BufReader::new(reader);
                let _ = writer.write_all(b"220 test ready\r\n").await;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.trim_end().to_owned();
                    let upper = command.to_ascii_uppercase();
                    let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        "250 test\r\n".to_owned()
                    } else if upper.starts_with("MAIL FROM") {
                        "250 2.1.0 Ok\r\n".to_owned()
                    } else if upper.starts_with("RCPT TO:") {
                        let recipient = command["RCPT TO:".len()..].trim().to_owned();
                        format!(
                            "550 5.1.1 {recipient}: Recipient address rejected: User unknown\r\n"
                        )
                    } else if upper.starts_with("QUIT") {
                        let _ = writer.write_all(b"221 2.0.0 Bye\r\n").await;
                        return;
                    } else {
                        "250 2.0.0 Ok\r\n".to_owned()
                    };
                    if writer.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (address, task)
}

#[tokio::test]
async fn smtp_refusing_connections_keeps_mail_pending() {
    let smtp_url = closed_smtp_url().await;
    let app = start_with(|settings| settings.smtp_url = Some(SecretString::from(smtp_url))).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let id = enqueue_mail(&app, &tenant, "anna@example.com").await;
    let row = wait_for_attempts(&app, id, 1, Duration::from_secs(10)).await;

    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.is_some());
    assert!(row.next_attempt_at > Utc::now());
    assert_eq!(row.locked_until, None);
}

#[tokio::test]
async fn silent_smtp_server_blocks_no_request() {
    let (address, _server) = silent_smtp_server().await;
    let app = start_with(|settings| {
        settings.smtp_url = Some(SecretString::from(format!("smtp://{address}")));
        settings.smtp_timeout_seconds = 2;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let id = enqueue_mail(&app, &tenant, "anna@example.com").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let (status, _) = get_text(&app.client(), &url(&tenant, "/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    let row = wait_for_attempts(&app, id, 1, Duration::from_secs(10)).await;
    assert_eq!(row.status, "pending");
    assert!(row.next_attempt_at > Utc::now());
}

#[tokio::test]
async fn shutdown_ignores_silent_smtp_server() {
    let (address, _server) = silent_smtp_server().await;
    let app = start_with(|settings| {
        settings.smtp_url = Some(SecretString::from(format!("smtp://{address}")));
        settings.smtp_timeout_seconds = 5;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let mut ids = Vec::new();
    for index in 0..4 {
        ids.push(enqueue_mail(&app, &tenant, &format!("person{index}@example.com")).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = app.db().clone();
    let on_postgres = app.postgres_database().is_some();

    let started = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(15), app.stop()).await;
    let stopping = started.elapsed();

    assert!(stopped.is_ok(), "the server did not stop within 15 s");

    assert!(
        stopping < Duration::from_secs(3),
        "stopping took {stopping:?}"
    );
    // A PostgreSQL test database is dropped with the app, but the SQLite file stays readable
    // through the open connection.
    if !on_postgres {
        for id in ids {
            let row = outbox::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.status, "pending", "{row:?}");
        }
    }
}

#[tokio::test]
async fn smtp_rejection_log_omits_recipient_address() {
    let (address, _server) = rejecting_smtp_server().await;
    let app = start_with(|settings| {
        settings.smtp_url = Some(SecretString::from(format!("smtp://{address}")));
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let recipient = "zora.quendel@beispiel-rejected.example";

    let id = enqueue_mail(&app, &tenant, recipient).await;
    let row = wait_for_attempts(&app, id, 1, Duration::from_secs(10)).await;

    assert_eq!(row.status, "pending");
    let last_error = row.last_error.unwrap_or_default();
    assert!(last_error.contains("550"), "{last_error}");
    assert!(!last_error.contains(recipient), "{last_error}");
    assert_not_logged("zora.quendel", "recipient's address");
}

#[tokio::test]
async fn database_failure_shows_german_page_without_details() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_anna(&app, &tenant, EMPLOYEE_PASSWORD).await;
    let client = app.client();
    let (status, _) = get_text(&client, &url(&tenant, "/login")).await;
    assert_eq!(status, StatusCode::OK);

    app.db()
        .execute_unprepared("ALTER TABLE accounts RENAME TO accounts_moved")
        .await
        .unwrap();
    let response = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    app.db()
        .execute_unprepared("ALTER TABLE accounts_moved RENAME TO accounts")
        .await
        .unwrap();

    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains(&rendered_text(Locale::De, "errors.internal")),
        "{body}"
    );
    for detail in [
        "accounts",
        "no such table",
        "does not exist",
        "SELECT",
        "Query",
        "Error",
    ] {
        assert!(!body.contains(detail), "the page shows {detail:?}:\n{body}");
    }
    let response = log_in(&client, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

// ---------------------------------------------------------------------------------------------
// Secrets in logs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn debug_log_contains_no_secrets() {
    let app = start().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin_token = setup_token(&tenant);
    let security_code = "Geheim-Code-4711";
    set_security_code(&app, &tenant, security_code).await;
    let email = "ulrike.vogelsang@logtest.example";
    let anna = insert_employee(&app, &tenant, "1001", email).await;
    let (invitation_token, _) = insert_invitation(&app, &tenant, &anna).await;
    let employee_password = "Mein-Geheimes-Wort-88";
    let wrong_password = "Falsch-Geraten-Wort-99";
    let host_password = "Wirt-Passwort-77";

    // Setup link, login, wrong password, registration, mail and a host with user information.
    let admin = app.client();
    let response = post_form(
        &admin,
        &tenant.setup_link,
        &[
            ("password", ADMIN_PASSWORD),
            ("password_repeat", ADMIN_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let admin_session = session_token(&response).unwrap();
    get_text(&admin, &url(&tenant, "/admin")).await;

    let response = log_in(&app.client(), &tenant, "admin", wrong_password).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = post_form(
        &app.client(),
        &url(&tenant, &format!("/register/{invitation_token}")),
        &[
            ("security_code", security_code),
            ("username", "ulrike.v"),
            ("password", employee_password),
            ("password_repeat", employee_password),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let employee = app.client();
    let response = log_in(&employee, &tenant, "ulrike.v", employee_password).await;
    let employee_session = session_token(&response).unwrap();
    get_text(&employee, &url(&tenant, "/portal")).await;

    let id = enqueue_mail(&app, &tenant, email).await;
    wait_for_attempts(&app, id, 1, Duration::from_secs(10)).await;

    let host = format!("admin:{host_password}@acme.localhost:{}", app.port);
    let response = mep24web_tests::raw_get(app.port, host.as_bytes(), "/").await;
    assert_eq!(response.status, 400);

    assert_not_logged(ADMIN_PASSWORD, "administrator's password");
    assert_not_logged(employee_password, "employee's password");
    assert_not_logged(wrong_password, "wrong password");
    assert_not_logged(host_password, "password in the Host header");
    assert_not_logged(&admin_token, "setup token");
    assert_not_logged(&invitation_token, "invitation token");
    assert_not_logged(&admin_session, "administrator's session token");
    assert_not_logged(&employee_session, "employee's session token");
    assert_not_logged(security_code, "security code");
    assert_not_logged("ulrike.vogelsang", "employee's email address");
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Spawns each future as a task and returns their outputs in order.
async fn run_concurrently<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
