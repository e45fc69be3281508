//! End-to-end tests of two-factor login for planners. They cover the TOTP algorithm against the
//! RFC test vectors, setup with a code computed here, the code step of the login, replayed and
//! wrong codes, and recovery codes. They also cover the tenant-wide requirement, the
//! administrator's reset, the app API and isolation between tenants.
//!
//! Codes are computed from the secret the setup page shows, with the same clock as the server.
//! Each accepted code must belong to a later 30-second step than the one before, so the tests
//! take steps from [`fresh_code`], which never repeats a step.

use chrono::{Duration, Utc};
use mep24web_entities::{
    account, account_totp, employee, org_unit, recovery_code, tenant_settings,
};
use mep24web_platform::i18n::{self, Locale};
use mep24web_platform::sessions::{SessionId, SessionKind};
use mep24web_platform::totp::code::{code_at_step, decode_secret, hotp, step_of};
use mep24web_tests::{TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "Sicheres-Passwort-2026";
const SESSION_COOKIE: &str = "mep24web_session";
const PENDING_COOKIE: &str = "mep24web_mfa";
const SETUP_PATH: &str = "/admin/konto/zwei-faktor";
const CODE_STEP_PATH: &str = "/login/zwei-faktor";

// ---------------------------------------------------------------------------------------------
// Fixtures written straight into the database
// ---------------------------------------------------------------------------------------------

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

async fn insert_planner(app: &TestApp, tenant: &TestTenant, username: &str) -> account::Model {
    insert_login(app, tenant, "planner", username, Some("planer"), None).await
}

/// Inserts an employee record under the organization root with a portal login.
async fn insert_employee_login(
    app: &TestApp,
    tenant: &TestTenant,
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
        personnel_number: Set("4711".to_owned()),
        first_name: Set("Erika".to_owned()),
        last_name: Set("Muster".to_owned()),
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

/// Gives the provisioned administrator [`PASSWORD`] and returns the account.
async fn admin_with_password(app: &TestApp, tenant: &TestTenant) -> account::Model {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .unwrap();
    account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(Some(hash)))
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::UsernameKey.eq(tenant.admin_username.to_lowercase()))
        .exec(app.db())
        .await
        .unwrap();
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::UsernameKey.eq(tenant.admin_username.to_lowercase()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn reload_account(app: &TestApp, account_id: i64) -> account::Model {
    account::Entity::find_by_id(account_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn totp_row(app: &TestApp, account_id: i64) -> account_totp::Model {
    account_totp::Entity::find_by_id(account_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn recovery_rows(app: &TestApp, account_id: i64) -> Vec<recovery_code::Model> {
    recovery_code::Entity::find()
        .filter(recovery_code::Column::AccountId.eq(account_id))
        .all(app.db())
        .await
        .unwrap()
}

async fn sessions_of_kind(app: &TestApp, account_id: i64, kind: &str) -> usize {
    let kind = SessionKind::parse(kind).unwrap_or_else(|| panic!("no session kind {kind}"));
    app.session_count_of_kind(account_id, kind).await
}

async fn set_tenant_requires_totp(app: &TestApp, tenant: &TestTenant) {
    tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::RequireTotpForPlanners,
            Expr::value(true),
        )
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
}

async fn set_max_failed_logins(app: &TestApp, tenant: &TestTenant, attempts: i32) {
    tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::MaxFailedLogins,
            Expr::value(attempts),
        )
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------

/// Returns the code of the authenticator app for a time step.
fn code_for_step(secret: &str, step: i64) -> String {
    code_at_step(&decode_secret(secret).unwrap(), step)
}

/// Returns a code the server accepts now: for the current step or the next one, whichever is
/// later than the last step the account used. When both were used, the stored step is cleared,
/// which replaces waiting up to a minute.
async fn fresh_code(app: &TestApp, account_id: i64, secret: &str) -> String {
    let now = step_of(Utc::now().timestamp());
    let last = totp_row(app, account_id).await.totp_last_step;
    let step = match last {
        Some(last) if last > now => {
            account_totp::Entity::update_many()
                .col_expr(
                    account_totp::Column::TotpLastStep,
                    Expr::value(Option::<i64>::None),
                )
                .filter(account_totp::Column::Id.eq(account_id))
                .exec(app.db())
                .await
                .unwrap();
            now
        }
        Some(last) if last >= now => now + 1,
        _ => now,
    };
    code_for_step(secret, step)
}

/// Returns six digits that are no valid code anywhere near the current time.
fn wrong_code(secret: &str) -> String {
    let now = step_of(Utc::now().timestamp());
    let valid: Vec<String> = (now - 3..=now + 3)
        .map(|step| code_for_step(secret, step))
        .collect();
    (0..)
        .map(|n: u32| format!("{n:06}"))
        .find(|candidate| !valid.contains(candidate))
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

fn url(tenant: &TestTenant, path: &str) -> String {
    format!("{}{path}", tenant.access_link)
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

/// Returns the full `Set-Cookie` header for the cookie `name`, if the response sets it.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
}

/// Returns the value a response gives the cookie `name`.
fn cookie_value(response: &reqwest::Response, name: &str) -> String {
    let cookie = set_cookie(response, name)
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", set_cookies(response)));
    let pair = cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

/// Returns the text of the inline error of a form field, if the page shows one.
fn field_error(body: &str, field: &str) -> Option<String> {
    let marker = format!(r#"<p class="error" id="e-{field}">"#);
    let start = body.find(&marker)? + marker.len();
    let end = start + body[start..].find("</p>")?;
    Some(body[start..end].to_owned())
}

/// Returns the text of the element with the given id.
fn element_text(body: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}""#);
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no element {id} in {body}"));
    let content_start = start + body[start..].find('>').unwrap() + 1;
    let content_end = content_start + body[content_start..].find('<').unwrap();
    body[content_start..content_end].to_owned()
}

/// Returns the setup secret shown on the page, without the spaces between its groups.
fn secret_from(body: &str) -> String {
    element_text(body, "totp-secret").replace(' ', "")
}

/// Returns the recovery codes listed on the page.
fn recovery_codes_from(body: &str) -> Vec<String> {
    let start = body
        .find(r#"id="recovery-codes""#)
        .unwrap_or_else(|| panic!("no recovery codes in {body}"));
    let end = start + body[start..].find("</ol>").unwrap();
    body[start..end]
        .split("<code>")
        .skip(1)
        .map(|part| part.split("</code>").next().unwrap().to_owned())
        .collect()
}

/// Undoes the HTML escaping of text taken from a page.
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Posts username and password to the login form from `client`.
async fn password_step(
    client: &reqwest::Client,
    tenant: &TestTenant,
    username: &str,
) -> reqwest::Response {
    post_form(
        client,
        &url(tenant, "/login"),
        &[("username", username), ("password", PASSWORD)],
    )
    .await
}

async fn code_step(client: &reqwest::Client, tenant: &TestTenant, code: &str) -> reqwest::Response {
    post_form(client, &url(tenant, CODE_STEP_PATH), &[("code", code)]).await
}

/// Logs in an account without two-factor login and returns the client with its session.
async fn signed_in(app: &TestApp, tenant: &TestTenant, username: &str) -> reqwest::Client {
    let client = app.client();
    let response = password_step(&client, tenant, username).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookie(&response, SESSION_COOKIE).is_some(),
        "no session for {username}"
    );
    client
}

/// A finished setup: the secret and the recovery codes shown once.
struct Enrollment {
    secret: String,
    recovery_codes: Vec<String>,
}

/// Sets up two-factor login through the planner's own page, with a code computed here.
async fn enroll(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    account_id: i64,
) -> Enrollment {
    let (status, page) = get_text(client, &url(tenant, SETUP_PATH)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let secret = secret_from(&page);
    let code = fresh_code(app, account_id, &secret).await;
    let response = post_form(client, &url(tenant, SETUP_PATH), &[("code", &code)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    Enrollment {
        secret,
        recovery_codes: recovery_codes_from(&body),
    }
}

async fn app_login(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let response = app
        .client()
        .post(app.apex_url("/api/app/v1/login"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

// ---------------------------------------------------------------------------------------------
// Algorithm
// ---------------------------------------------------------------------------------------------

/// RFC 6238, appendix B: the SHA-1 rows, 8 digits, with the 20-byte ASCII key "1234...90".
#[test]
fn rfc6238_sha1_vectors_match() {
    let key = b"12345678901234567890";
    let vectors: [(i64, u32); 6] = [
        (59, 94_287_082),
        (1_111_111_109, 7_081_804),
        (1_111_111_111, 14_050_471),
        (1_234_567_890, 89_005_924),
        (2_000_000_000, 69_279_037),
        (20_000_000_000, 65_353_130),
    ];
    for (unix_seconds, expected) in vectors {
        let counter = u64::try_from(step_of(unix_seconds)).unwrap();
        assert_eq!(hotp(key, counter, 8), expected, "time {unix_seconds}");
    }
}

/// The 6-digit codes apps show are the last six digits of the same values, zero-padded.
#[test]
fn rfc6238_six_digit_codes_keep_leading_zeros() {
    let key = b"12345678901234567890";
    assert_eq!(code_at_step(key, step_of(59)), "287082");
    assert_eq!(code_at_step(key, step_of(1_111_111_109)), "081804");
    assert_eq!(code_at_step(key, step_of(1_234_567_890)), "005924");
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn setup_page_shows_secret_uri_and_qr_code() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "Planer.Anna").await;
    let client = signed_in(&app, &tenant, "Planer.Anna").await;

    let response = client.get(url(&tenant, SETUP_PATH)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .unwrap()
            .to_str()
            .unwrap(),
        "no-store"
    );
    let page = response.text().await.unwrap();
    let secret = secret_from(&page);
    let stored = totp_row(&app, planner.id).await;
    assert_eq!(stored.totp_secret.as_deref(), Some(secret.as_str()));
    assert_eq!(stored.totp_enabled_at, None);
    assert_eq!(secret.len(), 32);
    assert_eq!(decode_secret(&secret).unwrap().len(), 20);
    assert_eq!(
        unescape(&element_text(&page, "totp-uri")),
        format!("otpauth://totp/MEP24web:Planer.Anna@apotheke-a?secret={secret}&issuer=MEP24web")
    );
    let qr_start = page.find(r#"<p class="totp-qr"><img src=""#).unwrap() + 29;
    let qr_end = qr_start + page[qr_start..].find('"').unwrap();
    let qr = unescape(&page[qr_start..qr_end]);
    let svg = qr.strip_prefix("data:image/svg+xml;base64,").unwrap();
    // The SVG starts with its XML declaration "<?xml", which is "PD94bWw" in base64.
    assert!(svg.starts_with("PD94bWw"), "{svg}");
    assert!(svg.len() > 1000, "{svg}");
    assert!(!page.contains(r#"id="totp-required""#));

    // A second view keeps the secret, so an app entry scanned from the first stays valid.
    let (_, again) = get_text(&client, &url(&tenant, SETUP_PATH)).await;
    assert_eq!(secret_from(&again), secret);
}

#[tokio::test]
async fn setup_wrong_code_keeps_login_single_factor() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let client = signed_in(&app, &tenant, "planer.anna").await;
    let (_, page) = get_text(&client, &url(&tenant, SETUP_PATH)).await;
    let secret = secret_from(&page);

    let response = post_form(
        &client,
        &url(&tenant, SETUP_PATH),
        &[("code", &wrong_code(&secret))],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "code").as_deref(),
        Some(i18n::text(Locale::De, "totp.setup.error_code").as_str())
    );
    assert_eq!(secret_from(&body), secret);
    assert_eq!(totp_row(&app, planner.id).await.totp_enabled_at, None);
    assert_eq!(recovery_rows(&app, planner.id).await.len(), 0);
    // A typo while setting up is no attack on the account, so it is not counted.
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 0);

    let response = password_step(&app.client(), &tenant, "planer.anna").await;
    assert_eq!(location(&response), "/admin");
}

#[tokio::test]
async fn setup_current_code_enables_totp() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let client = signed_in(&app, &tenant, "planer.anna").await;
    let (_, page) = get_text(&client, &url(&tenant, SETUP_PATH)).await;
    let secret = secret_from(&page);
    let step = step_of(Utc::now().timestamp());

    let response = post_form(
        &client,
        &url(&tenant, SETUP_PATH),
        &[("code", &code_for_step(&secret, step))],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .unwrap()
            .to_str()
            .unwrap(),
        "no-store"
    );
    let body = response.text().await.unwrap();
    let codes = recovery_codes_from(&body);
    assert_eq!(codes.len(), 10);
    for code in &codes {
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3, "{code}");
    }

    let stored = totp_row(&app, planner.id).await;
    assert!(stored.totp_enabled_at.is_some());
    assert_eq!(stored.totp_last_step, Some(step));
    let rows = recovery_rows(&app, planner.id).await;
    assert_eq!(rows.len(), 10);
    for row in &rows {
        assert_eq!(row.tenant_id, tenant.id.get());
        assert_eq!(row.code_hash.len(), 64);
        assert_eq!(row.used_at, None);
        assert!(
            codes
                .iter()
                .all(|code| !row.code_hash.contains(code.as_str()))
        );
    }

    // The page now shows the state, and the codes are never shown again.
    let (status, page) = get_text(&client, &url(&tenant, SETUP_PATH)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        element_text(&page, "totp-state"),
        i18n::text(Locale::De, "totp.status.state_on")
    );
    assert_eq!(element_text(&page, "recovery-remaining"), "10");
    assert!(!page.contains(codes[0].as_str()));
    assert!(!page.contains(r#"id="totp-secret""#));
}

#[tokio::test]
async fn setup_page_for_employee_is_forbidden() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let employee = insert_employee_login(&app, &tenant, "erika").await;
    let client = signed_in(&app, &tenant, "erika").await;

    let (status, _) = get_text(&client, &url(&tenant, SETUP_PATH)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = post_form(&client, &url(&tenant, SETUP_PATH), &[("code", "123456")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(totp_row(&app, employee.id).await.totp_secret, None);
}

#[tokio::test]
async fn setup_page_without_session_redirects_to_login() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;

    let response = app
        .client()
        .get(url(&tenant, SETUP_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

// ---------------------------------------------------------------------------------------------
// Login with the code step
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_with_totp_sets_no_session_before_code() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let setup_client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &setup_client, planner.id).await;
    let web_sessions_before = sessions_of_kind(&app, planner.id, "web").await;
    let last_login_before = reload_account(&app, planner.id).await.last_login_at;

    let client = app.client();
    let response = password_step(&client, &tenant, "planer.anna").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), CODE_STEP_PATH);
    assert_eq!(set_cookie(&response, SESSION_COOKIE), None);
    let pending = set_cookie(&response, PENDING_COOKIE).unwrap();
    assert!(pending.contains("; Path=/"), "{pending}");
    assert!(pending.contains("; HttpOnly"), "{pending}");
    assert!(pending.contains("; SameSite=Lax"), "{pending}");
    assert!(pending.contains("; Max-Age=300"), "{pending}");
    assert!(!pending.contains("Domain"), "{pending}");
    assert_eq!(
        sessions_of_kind(&app, planner.id, "web").await,
        web_sessions_before
    );
    assert_eq!(sessions_of_kind(&app, planner.id, "mfa").await, 1);
    // The password alone records no login.
    assert_eq!(
        reload_account(&app, planner.id).await.last_login_at,
        last_login_before
    );

    // The pending state opens nothing but the code step.
    let response = client.get(url(&tenant, "/admin")).send().await.unwrap();
    assert_eq!(location(&response), "/login");
    let (status, page) = get_text(&client, &url(&tenant, CODE_STEP_PATH)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"name="code""#));

    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let response = code_step(&client, &tenant, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
    let session = set_cookie(&response, SESSION_COOKIE).unwrap();
    assert!(session.contains("; HttpOnly"), "{session}");
    let cleared = set_cookie(&response, PENDING_COOKIE).unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(sessions_of_kind(&app, planner.id, "mfa").await, 0);
    assert_eq!(
        sessions_of_kind(&app, planner.id, "web").await,
        web_sessions_before + 1
    );
    assert!(reload_account(&app, planner.id).await.last_login_at > last_login_before);

    let (status, _) = get_text(&client, &url(&tenant, "/admin")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn login_code_step_renews_session_id() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &client, planner.id).await;
    let old_sessions: Vec<SessionId> = app
        .sessions_of(planner.id)
        .await
        .into_iter()
        .map(|session| session.id)
        .collect();
    assert_eq!(old_sessions.len(), 1);

    // The same browser logs in again: its old session is replaced by a new one.
    let response = password_step(&client, &tenant, "planer.anna").await;
    assert_eq!(location(&response), CODE_STEP_PATH);
    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let response = code_step(&client, &tenant, &code).await;
    assert_eq!(location(&response), "/admin");
    let rows = app.sessions_of(planner.id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].kind, SessionKind::Web);
    assert!(!old_sessions.contains(&rows[0].id));
}

#[tokio::test]
async fn login_wrong_code_counts_towards_lockout() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    set_max_failed_logins(&app, &tenant, 3).await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let setup_client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &setup_client, planner.id).await;

    let client = app.client();
    password_step(&client, &tenant, "planer.anna").await;
    let response = code_step(&client, &tenant, &wrong_code(&enrollment.secret)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(set_cookie(&response, SESSION_COOKIE), None);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "code").as_deref(),
        Some(i18n::text(Locale::De, "totp.login.error").as_str())
    );
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 1);

    // A correct password does not reset the count while the code is still missing.
    password_step(&client, &tenant, "planer.anna").await;
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 1);
    assert_eq!(sessions_of_kind(&app, planner.id, "mfa").await, 1);
    let response = code_step(&client, &tenant, "kein-code").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = code_step(&client, &tenant, &wrong_code(&enrollment.secret)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let locked = reload_account(&app, planner.id).await;
    assert!(locked.locked_until.is_some_and(|until| until > Utc::now()));

    // While the account is locked even a correct code is rejected, and the pending state ends.
    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let response = code_step(&client, &tenant, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=second_factor_locked");
    assert_eq!(set_cookie(&response, SESSION_COOKIE), None);
    assert_eq!(sessions_of_kind(&app, planner.id, "mfa").await, 0);
    let (_, login_page) =
        get_text(&client, &url(&tenant, "/login?notice=second_factor_locked")).await;
    assert!(login_page.contains(&i18n::text(Locale::De, "totp.login.locked")));
}

#[tokio::test]
async fn login_replayed_code_is_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let setup_client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &setup_client, planner.id).await;

    let first = app.client();
    password_step(&first, &tenant, "planer.anna").await;
    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let response = code_step(&first, &tenant, &code).await;
    assert_eq!(location(&response), "/admin");

    let second = app.client();
    password_step(&second, &tenant, "planer.anna").await;
    let response = code_step(&second, &tenant, &code).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(set_cookie(&response, SESSION_COOKIE), None);
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 1);
    assert_eq!(sessions_of_kind(&app, planner.id, "mfa").await, 1);
}

#[tokio::test]
async fn login_recovery_code_works_once() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let setup_client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &setup_client, planner.id).await;
    let recovery = &enrollment.recovery_codes[3];
    // Typed in lower case with spaces for hyphens, as people do.
    let typed = recovery.to_lowercase().replace('-', " ");

    let client = app.client();
    password_step(&client, &tenant, "planer.anna").await;
    let response = code_step(&client, &tenant, &typed).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("{SETUP_PATH}?notice=recovery_code_used")
    );
    let used = recovery_rows(&app, planner.id)
        .await
        .into_iter()
        .filter(|row| row.used_at.is_some())
        .count();
    assert_eq!(used, 1);
    let (status, page) = get_text(
        &client,
        &url(&tenant, &format!("{SETUP_PATH}?notice=recovery_code_used")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let notice = i18n::text_with(
        Locale::De,
        "totp.status.notice_recovery_used",
        &[("count", "9")],
    );
    assert!(page.contains(&notice), "{page}");

    let again = app.client();
    password_step(&again, &tenant, "planer.anna").await;
    let response = code_step(&again, &tenant, recovery).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(set_cookie(&response, SESSION_COOKIE), None);
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 1);
}

#[tokio::test]
async fn code_step_without_pending_state_returns_to_login() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;

    let client = app.client();
    let response = client
        .get(url(&tenant, CODE_STEP_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=second_factor_expired");
    let response = code_step(&client, &tenant, "123456").await;
    assert_eq!(location(&response), "/login?notice=second_factor_expired");
    let (_, login_page) = get_text(
        &client,
        &url(&tenant, "/login?notice=second_factor_expired"),
    )
    .await;
    assert!(login_page.contains(&i18n::text(Locale::De, "totp.login.expired")));
}

#[tokio::test]
async fn code_step_expired_pending_state_returns_to_login() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let setup_client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &setup_client, planner.id).await;

    let client = app.client();
    password_step(&client, &tenant, "planer.anna").await;
    let last_step_before = totp_row(&app, planner.id).await.totp_last_step;
    app.set_session_expiry(
        |session| session.account_id == planner.id && session.kind == SessionKind::SecondFactor,
        Utc::now() - Duration::seconds(1),
    )
    .await;

    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let response = code_step(&client, &tenant, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=second_factor_expired");
    assert_eq!(set_cookie(&response, SESSION_COOKIE), None);
    assert_eq!(sessions_of_kind(&app, planner.id, "mfa").await, 0);
    // The code was not spent on the expired attempt.
    assert_eq!(
        totp_row(&app, planner.id).await.totp_last_step,
        last_step_before
    );
}

#[tokio::test]
async fn login_employee_needs_no_code() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    set_tenant_requires_totp(&app, &tenant).await;
    insert_employee_login(&app, &tenant, "erika").await;

    let client = app.client();
    let response = password_step(&client, &tenant, "erika").await;
    assert_eq!(location(&response), "/portal");
    assert!(set_cookie(&response, SESSION_COOKIE).is_some());
    assert_eq!(set_cookie(&response, PENDING_COOKIE), None);
    let (status, _) = get_text(&client, &url(&tenant, "/portal")).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Turning off and renewing codes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn disable_needs_password_and_code() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &client, planner.id).await;
    let disable = url(&tenant, "/admin/konto/zwei-faktor/deaktivieren");

    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let response = post_form(
        &client,
        &disable,
        &[("password", "Falsches-Passwort-1"), ("disable_code", &code)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "password").as_deref(),
        Some(i18n::text(Locale::De, "totp.status.error_password").as_str())
    );
    assert!(!body.contains("Falsches-Passwort-1"));

    let response = post_form(
        &client,
        &disable,
        &[
            ("password", PASSWORD),
            ("disable_code", &wrong_code(&enrollment.secret)),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "disable_code").as_deref(),
        Some(i18n::text(Locale::De, "totp.status.error_code").as_str())
    );
    assert!(totp_row(&app, planner.id).await.totp_enabled_at.is_some());
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 2);

    let response = post_form(
        &client,
        &disable,
        &[("password", PASSWORD), ("disable_code", &code)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("{SETUP_PATH}?notice=disabled"));
    let row = totp_row(&app, planner.id).await;
    assert_eq!(row.totp_secret, None);
    assert_eq!(row.totp_enabled_at, None);
    assert_eq!(row.totp_last_step, None);
    assert_eq!(recovery_rows(&app, planner.id).await.len(), 0);

    let response = password_step(&app.client(), &tenant, "planer.anna").await;
    assert_eq!(location(&response), "/admin");
}

#[tokio::test]
async fn renew_recovery_codes_replaces_old_ones() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &client, planner.id).await;
    let renew = url(&tenant, "/admin/konto/zwei-faktor/wiederherstellungscodes");

    let response = post_form(
        &client,
        &renew,
        &[("renew_code", &wrong_code(&enrollment.secret))],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert_eq!(
        field_error(&body, "renew_code").as_deref(),
        Some(i18n::text(Locale::De, "totp.status.error_code").as_str())
    );

    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let response = post_form(&client, &renew, &[("renew_code", &code)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    let renewed = recovery_codes_from(&body);
    assert_eq!(renewed.len(), 10);
    assert!(
        renewed
            .iter()
            .all(|code| !enrollment.recovery_codes.contains(code))
    );
    assert_eq!(recovery_rows(&app, planner.id).await.len(), 10);

    let old = app.client();
    password_step(&old, &tenant, "planer.anna").await;
    let response = code_step(&old, &tenant, &enrollment.recovery_codes[0]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = code_step(&old, &tenant, &renewed[0]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

// ---------------------------------------------------------------------------------------------
// Requirement by the tenant
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn settings_checkbox_requires_totp_for_planners() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let admin = admin_with_password(&app, &tenant).await;
    let client = signed_in(&app, &tenant, &admin.username).await;

    let (_, page) = get_text(&client, &url(&tenant, "/admin/einstellungen/anmeldung")).await;
    assert!(page.contains(r#"name="require_totp_for_planners""#));
    let response = post_form(
        &client,
        &url(&tenant, "/admin/einstellungen/anmeldung"),
        &[
            ("max_failed_logins", "5"),
            ("lockout_minutes", "15"),
            ("audit_retention_days", "365"),
            ("require_totp_for_planners", "ja"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let settings = tenant_settings::Entity::find_by_id(tenant.id.get())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(settings.require_totp_for_planners);

    // The administrator is a planner too and is sent to the setup at once.
    for path in [
        "/admin",
        "/admin/stammdaten",
        "/admin/einstellungen/anmeldung",
    ] {
        let response = client.get(url(&tenant, path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), SETUP_PATH, "{path}");
    }
    let (status, page) = get_text(&client, &url(&tenant, SETUP_PATH)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        element_text(&page, "totp-required"),
        i18n::text(Locale::De, "totp.setup.required")
    );
}

#[tokio::test]
async fn requirement_sends_planner_to_setup_until_enrolled() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    set_tenant_requires_totp(&app, &tenant).await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;

    let client = app.client();
    let response = password_step(&client, &tenant, "planer.anna").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
    let response = client.get(url(&tenant, "/admin")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), SETUP_PATH);
    let response = client
        .get(url(&tenant, "/admin/stammdaten"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), SETUP_PATH);
    // Form posts are turned away before their body is read.
    let response = post_form(
        &client,
        &url(&tenant, "/admin/sicherheit/benutzer/neu"),
        &[("username", "neu.planer")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), SETUP_PATH);

    let enrollment = enroll(&app, &tenant, &client, planner.id).await;
    assert_eq!(enrollment.recovery_codes.len(), 10);
    let (status, _) = get_text(&client, &url(&tenant, "/admin")).await;
    assert_eq!(status, StatusCode::OK);

    // From now on the login requires the code.
    let response = password_step(&app.client(), &tenant, "planer.anna").await;
    assert_eq!(location(&response), CODE_STEP_PATH);
}

// ---------------------------------------------------------------------------------------------
// Administrator's reset
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn admin_reset_turns_off_totp_and_ends_sessions() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let admin = admin_with_password(&app, &tenant).await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let planner_client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &planner_client, planner.id).await;
    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let (status, app_body) = app_login(
        &app,
        &json!({
            "customer_number": tenant.customer_number,
            "username": "planer.anna",
            "password": PASSWORD,
            "totp_code": code,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app_body}");
    assert_eq!(sessions_of_kind(&app, planner.id, "app").await, 1);
    let admin_client = signed_in(&app, &tenant, &admin.username).await;
    let edit = url(
        &tenant,
        &format!("/admin/sicherheit/benutzer/{}", planner.id),
    );

    let (status, page) = get_text(&admin_client, &edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(element_text(&page, "second-factor-state").starts_with("Eingeschaltet seit "));
    assert!(page.contains(&format!(
        r#"action="/admin/sicherheit/benutzer/{}/zwei-faktor/zuruecksetzen""#,
        planner.id
    )));

    let response = post_form(
        &admin_client,
        &format!("{edit}/zwei-faktor/zuruecksetzen"),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/sicherheit/benutzer?notice=second_factor_reset"
    );
    let row = totp_row(&app, planner.id).await;
    assert_eq!(row.totp_secret, None);
    assert_eq!(row.totp_enabled_at, None);
    assert_eq!(recovery_rows(&app, planner.id).await.len(), 0);
    assert_eq!(app.session_count(planner.id).await, 0);
    let (_, list) = get_text(
        &admin_client,
        &url(
            &tenant,
            "/admin/sicherheit/benutzer?notice=second_factor_reset",
        ),
    )
    .await;
    assert!(list.contains(&i18n::text(Locale::De, "totp.admin.notice_reset")));

    let response = planner_client
        .get(url(&tenant, "/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/login");
    let response = password_step(&app.client(), &tenant, "planer.anna").await;
    assert_eq!(location(&response), "/admin");
    let (_, page) = get_text(&admin_client, &edit).await;
    assert_eq!(
        element_text(&page, "second-factor-state"),
        i18n::text(Locale::De, "totp.admin.status_off")
    );
}

#[tokio::test]
async fn admin_reset_of_own_account_is_forbidden() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let admin = admin_with_password(&app, &tenant).await;
    let client = signed_in(&app, &tenant, &admin.username).await;
    enroll(&app, &tenant, &client, admin.id).await;

    let reset = url(
        &tenant,
        &format!(
            "/admin/sicherheit/benutzer/{}/zwei-faktor/zuruecksetzen",
            admin.id
        ),
    );
    let response = post_form(&client, &reset, &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(totp_row(&app, admin.id).await.totp_enabled_at.is_some());
}

#[tokio::test]
async fn admin_reset_by_planner_is_forbidden() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let target = insert_planner(&app, &tenant, "planer.anna").await;
    let target_client = signed_in(&app, &tenant, "planer.anna").await;
    enroll(&app, &tenant, &target_client, target.id).await;
    insert_planner(&app, &tenant, "planer.bert").await;
    let client = signed_in(&app, &tenant, "planer.bert").await;

    let reset = url(
        &tenant,
        &format!(
            "/admin/sicherheit/benutzer/{}/zwei-faktor/zuruecksetzen",
            target.id
        ),
    );
    let response = post_form(&client, &reset, &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(totp_row(&app, target.id).await.totp_enabled_at.is_some());
}

// ---------------------------------------------------------------------------------------------
// App API
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn app_login_planner_with_totp_needs_code() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &client, planner.id).await;
    let credentials = json!({
        "customer_number": tenant.customer_number,
        "username": "planer.anna",
        "password": PASSWORD,
    });

    let (status, body) = app_login(&app, &credentials).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "second_factor_required");
    assert_eq!(
        body["message_de"],
        i18n::text(Locale::De, "totp.api.second_factor_required")
    );
    assert_eq!(
        body["message_en"],
        i18n::text(Locale::En, "totp.api.second_factor_required")
    );
    assert_eq!(sessions_of_kind(&app, planner.id, "app").await, 0);
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 0);

    let mut with_code = credentials.clone();
    with_code["totp_code"] = json!(wrong_code(&enrollment.secret));
    let (status, body) = app_login(&app, &with_code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "login_failed");
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 1);

    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    with_code["totp_code"] = json!(code);
    let (status, body) = app_login(&app, &with_code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account_kind"], "planner");
    assert_eq!(sessions_of_kind(&app, planner.id, "app").await, 1);
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 0);

    // The same code a second time is a replay.
    let (status, body) = app_login(&app, &with_code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "login_failed");
    assert_eq!(sessions_of_kind(&app, planner.id, "app").await, 1);

    with_code["totp_code"] = json!(enrollment.recovery_codes[0]);
    let (status, body) = app_login(&app, &with_code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app_login(&app, &with_code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "login_failed");
}

#[tokio::test]
async fn app_login_wrong_password_with_code_fails_generically() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &client, planner.id).await;

    let last_step_before = totp_row(&app, planner.id).await.totp_last_step;
    let code = fresh_code(&app, planner.id, &enrollment.secret).await;
    let (status, body) = app_login(
        &app,
        &json!({
            "customer_number": tenant.customer_number,
            "username": "planer.anna",
            "password": "Falsches-Passwort-1",
            "totp_code": code,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "login_failed");
    assert_eq!(
        body["message_de"],
        i18n::text_with(
            Locale::De,
            "app_api.errors.login_failed",
            &[("server", mep24web_tests::BASE_DOMAIN)]
        )
    );
    // The code was not looked at, so it is still unused, and the password counted once.
    assert_eq!(
        totp_row(&app, planner.id).await.totp_last_step,
        last_step_before
    );
    assert_eq!(reload_account(&app, planner.id).await.failed_attempts, 1);
    assert_eq!(sessions_of_kind(&app, planner.id, "app").await, 0);
}

#[tokio::test]
async fn app_login_employee_and_planner_without_totp_unchanged() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    insert_employee_login(&app, &tenant, "erika").await;
    insert_planner(&app, &tenant, "planer.anna").await;

    for username in ["erika", "planer.anna"] {
        let (status, body) = app_login(
            &app,
            &json!({ "customer_number": tenant.customer_number, "username": username, "password": PASSWORD }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{username}: {body}");
    }
}

#[tokio::test]
async fn app_login_required_but_not_enrolled_is_forbidden() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    set_tenant_requires_totp(&app, &tenant).await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    insert_employee_login(&app, &tenant, "erika").await;

    let (status, body) = app_login(
        &app,
        &json!({ "customer_number": tenant.customer_number, "username": "planer.anna", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "second_factor_setup_required");
    assert_eq!(
        body["message_de"],
        i18n::text(Locale::De, "totp.api.second_factor_setup_required")
    );
    assert_eq!(sessions_of_kind(&app, planner.id, "app").await, 0);

    let (status, body) = app_login(
        &app,
        &json!({ "customer_number": tenant.customer_number, "username": "erika", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn openapi_documents_totp_code_and_errors() {
    let app = spawn_app().await;
    let (status, document) =
        get_text(&app.client(), &app.apex_url("/api/app/v1/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let document: Value = serde_json::from_str(&document).unwrap();
    let schema = &document["components"]["schemas"];
    assert_eq!(
        schema["LoginRequest"]["properties"]["totp_code"]["type"],
        "string"
    );
    let codes = schema["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap();
    assert!(codes.contains(&json!("second_factor_required")));
    assert!(codes.contains(&json!("second_factor_setup_required")));
    assert!(document["paths"]["/login"]["post"]["responses"]["403"].is_object());
}

// ---------------------------------------------------------------------------------------------
// Isolation between tenants
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn other_tenant_pending_cookie_is_rejected() {
    let app = spawn_app().await;
    let tenant_a = app.create_tenant("apotheke-a", "Apotheke A").await;
    let tenant_b = app.create_tenant("apotheke-b", "Apotheke B").await;
    insert_planner(&app, &tenant_a, "planer.anna").await;
    let planner_b = insert_planner(&app, &tenant_b, "planer.anna").await;
    let setup_client = signed_in(&app, &tenant_b, "planer.anna").await;
    let enrollment = enroll(&app, &tenant_b, &setup_client, planner_b.id).await;

    let response = password_step(&app.client(), &tenant_b, "planer.anna").await;
    let pending_token = cookie_value(&response, PENDING_COOKIE);
    let last_step_before = totp_row(&app, planner_b.id).await.totp_last_step;

    let foreign = mep24web_tests::client();
    let response = foreign
        .get(url(&tenant_a, CODE_STEP_PATH))
        .header(COOKIE, format!("{PENDING_COOKIE}={pending_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=second_factor_expired");

    let code = fresh_code(&app, planner_b.id, &enrollment.secret).await;
    let response = foreign
        .post(url(&tenant_a, CODE_STEP_PATH))
        .header(COOKIE, format!("{PENDING_COOKIE}={pending_token}"))
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=second_factor_expired");
    assert_eq!(set_cookie(&response, SESSION_COOKIE), None);

    // Nothing changed: B's pending state is still there, the code unspent, no session anywhere.
    assert_eq!(sessions_of_kind(&app, planner_b.id, "mfa").await, 1);
    assert_eq!(
        totp_row(&app, planner_b.id).await.totp_last_step,
        last_step_before
    );
    assert_eq!(reload_account(&app, planner_b.id).await.failed_attempts, 0);
    let all_sessions = app.stored_sessions().await;
    let web_sessions_a = all_sessions
        .iter()
        .filter(|session| session.tenant_id == tenant_a.id)
        .count();
    assert_eq!(web_sessions_a, 0);

    // On its own tenant the same cookie still works.
    let response = mep24web_tests::client()
        .post(url(&tenant_b, CODE_STEP_PATH))
        .header(COOKIE, format!("{PENDING_COOKIE}={pending_token}"))
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/admin");
}

#[tokio::test]
async fn other_tenant_session_cannot_open_setup_page() {
    let app = spawn_app().await;
    let tenant_a = app.create_tenant("apotheke-a", "Apotheke A").await;
    let tenant_b = app.create_tenant("apotheke-b", "Apotheke B").await;
    insert_planner(&app, &tenant_b, "planer.bert").await;
    let response = password_step(&app.client(), &tenant_b, "planer.bert").await;
    let session_b = cookie_value(&response, SESSION_COOKIE);

    for path in [
        SETUP_PATH,
        "/admin/konto/zwei-faktor/deaktivieren",
        "/admin/konto/zwei-faktor/wiederherstellungscodes",
    ] {
        let response = mep24web_tests::client()
            .post(url(&tenant_a, path))
            .header(COOKIE, format!("{SESSION_COOKIE}={session_b}"))
            .form(&[("code", "123456")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }
    let response = mep24web_tests::client()
        .get(url(&tenant_a, SETUP_PATH))
        .header(COOKIE, format!("{SESSION_COOKIE}={session_b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn admin_reset_other_tenant_planner_is_not_found() {
    let app = spawn_app().await;
    let tenant_a = app.create_tenant("apotheke-a", "Apotheke A").await;
    let tenant_b = app.create_tenant("apotheke-b", "Apotheke B").await;
    let admin_a = admin_with_password(&app, &tenant_a).await;
    let planner_b = insert_planner(&app, &tenant_b, "planer.bert").await;
    let client_b = signed_in(&app, &tenant_b, "planer.bert").await;
    enroll(&app, &tenant_b, &client_b, planner_b.id).await;
    let admin_client = signed_in(&app, &tenant_a, &admin_a.username).await;

    let reset = url(
        &tenant_a,
        &format!(
            "/admin/sicherheit/benutzer/{}/zwei-faktor/zuruecksetzen",
            planner_b.id
        ),
    );
    let response = post_form(&admin_client, &reset, &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let missing = url(
        &tenant_a,
        "/admin/sicherheit/benutzer/999999/zwei-faktor/zuruecksetzen",
    );
    let response = post_form(&admin_client, &missing, &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    assert!(totp_row(&app, planner_b.id).await.totp_enabled_at.is_some());
    assert_eq!(recovery_rows(&app, planner_b.id).await.len(), 10);
    assert_eq!(sessions_of_kind(&app, planner_b.id, "web").await, 1);
}

#[tokio::test]
async fn login_parallel_wrong_codes_stop_at_limit() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-a", "Apotheke A").await;
    set_max_failed_logins(&app, &tenant, 3).await;
    let planner = insert_planner(&app, &tenant, "planer.anna").await;
    let setup_client = signed_in(&app, &tenant, "planer.anna").await;
    let enrollment = enroll(&app, &tenant, &setup_client, planner.id).await;

    let client = app.client();
    password_step(&client, &tenant, "planer.anna").await;
    let wrong = wrong_code(&enrollment.secret);
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            let tenant = tenant.clone();
            let wrong = wrong.clone();
            tokio::spawn(async move { code_step(&client, &tenant, &wrong).await.status() })
        })
        .collect();
    let mut checked = 0;
    for attempt in attempts {
        if attempt.await.unwrap() == StatusCode::UNAUTHORIZED {
            checked += 1;
        }
    }

    // Only as many codes as the tenant allows were checked; the rest met the lock.
    assert_eq!(checked, 3);
    let locked = reload_account(&app, planner.id).await;
    assert!(locked.locked_until.is_some_and(|until| until > Utc::now()));
}
