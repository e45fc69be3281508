//! End-to-end tests of the login protection. They cover the attempt limits per client address and
//! per tenant at every entry point that checks a secret, and the client address behind trusted
//! proxies. They also cover the memory bound of the in-process counter, the Redis counter with its
//! fallback, and the common-password rule in every form that sets a password.
//!
//! Tests that count attempts use a window of one day, so no test crosses a window boundary
//! between its attempts. The limits themselves keep their meaning.

use chrono::{Duration, Utc};
use mep24web_entities::{account, employee, invitation, org_unit, tenant_settings};
use mep24web_platform::rate_limit::{Decision, LimitScope, Limits, LoginLimiter, RedisCounter};
use mep24web_platform::tokens;
use mep24web_tests::{TestApp, TestTenant, post_form, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "Kasse-Fruehling-2026";
const WRONG_PASSWORD: &str = "Falsches-Passwort-77";
const SECURITY_CODE: &str = "Kasse-7781";
const COMMON_PASSWORD: &str = "Passwort2024!";
const COMMON_MESSAGE: &str = "Dieses Passwort ist zu verbreitet";
/// One day, so attempts of one test always fall into one window.
const TEST_WINDOW_SECONDS: u64 = 86_400;

/// Waits until at least two minutes remain in the current one-day window, so that a test that
/// starts just before midnight UTC does not see its attempts split across two windows.
async fn clear_of_window_boundary() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = TEST_WINDOW_SECONDS - now % TEST_WINDOW_SECONDS;
    if left < 120 {
        tokio::time::sleep(std::time::Duration::from_secs(left + 1)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Starts the application with the given limits, a one-day window and, when `trust_loopback`,
/// 127.0.0.1 as trusted proxy.
async fn spawn_limited(per_ip: u32, per_tenant: u32, trust_loopback: bool) -> TestApp {
    clear_of_window_boundary().await;
    spawn_app_with(|settings| {
        settings.login_limit_per_ip = per_ip;
        settings.login_limit_per_tenant = per_tenant;
        settings.login_limit_window_seconds = TEST_WINDOW_SECONDS;
        if trust_loopback {
            settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        }
    })
    .await
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

async fn insert_employee(app: &TestApp, tenant: &TestTenant, number: &str) -> employee::Model {
    let now = Utc::now();
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(number.to_owned()),
        first_name: Set("Anna".to_owned()),
        last_name: Set("Schmidt".to_owned()),
        email: Set(Some(format!("anna.{number}@example.com"))),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(root_unit(app, tenant).await),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
}

/// Creates an employee record and a portal login `username` with [`PASSWORD`].
async fn insert_employee_login(
    app: &TestApp,
    tenant: &TestTenant,
    number: &str,
    username: &str,
) -> account::Model {
    let person = insert_employee(app, tenant, number).await;
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .unwrap();
    let now = Utc::now();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("employee".to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(hash)),
        display_name: Set("Anna Schmidt".to_owned()),
        role: Set(None),
        email: Set(person.email.clone()),
        employee_id: Set(Some(person.id)),
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

async fn update_settings(
    app: &TestApp,
    tenant: &TestTenant,
    column: tenant_settings::Column,
    value: SimpleExpr,
) {
    tenant_settings::Entity::update_many()
        .col_expr(column, value)
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
}

async fn reload(app: &TestApp, account_id: i64) -> account::Model {
    account::Entity::find_by_id(account_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Posts the login form, optionally with an `X-Forwarded-For` header.
async fn post_login(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client()
        .post(app.tenant_url(&tenant.slug, "/login"))
        .form(&[("username", username), ("password", password)]);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

async fn app_login(app: &TestApp, tenant: &TestTenant, username: &str) -> reqwest::Response {
    app.client()
        .post(app.apex_url("/api/app/v1/login"))
        .json(&json!({
            "customer_number": tenant.customer_number,
            "username": username,
            "password": WRONG_PASSWORD,
        }))
        .send()
        .await
        .unwrap()
}

/// Returns the `Retry-After` seconds of a 429 response.
fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Checks a 429 page and returns its `Retry-After` seconds.
async fn assert_limited_page(response: reqwest::Response, back_path: &str) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let seconds = retry_after(&response);
    assert!(
        (1..=TEST_WINDOW_SECONDS).contains(&seconds),
        "Retry-After {seconds}"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = response.text().await.unwrap();
    assert!(body.contains("<h1>Zu viele Versuche</h1>"), "{body}");
    assert!(
        body.contains(&format!(
            "Bitte warten Sie {seconds} Sekunden und versuchen Sie es dann erneut."
        )),
        "{body}"
    );
    // minijinja escapes `/` in HTML as `&#x2f;`.
    let escaped = back_path.replace('/', "&#x2f;");
    assert!(body.contains(&format!("href=\"{escaped}\"")), "{body}");
    seconds
}

/// Gives the provisioned administrator [`PASSWORD`] and signs in.
async fn admin_client(app: &TestApp, tenant: &TestTenant) -> reqwest::Client {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .unwrap();
    account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(Some(hash)))
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::Kind.eq("planner"))
        .exec(app.db())
        .await
        .unwrap();
    sign_in(app, tenant, &tenant.admin_username).await
}

async fn sign_in(app: &TestApp, tenant: &TestTenant, username: &str) -> reqwest::Client {
    let client = app.client();
    let response = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/login"),
        &[("username", username), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login of {username}"
    );
    client
}

/// Returns a key prefix no other test uses, for tests against a shared Redis.
fn unique_prefix() -> String {
    format!("mep24web-test-{}", uuid::Uuid::new_v4().simple())
}

fn test_limits(per_ip: u32, per_tenant: u32) -> Limits {
    Limits {
        per_ip,
        per_tenant,
        window_seconds: TEST_WINDOW_SECONDS,
        max_tracked: 1_000,
    }
}

// ---------------------------------------------------------------------------------------------
// Limits at the login form

#[tokio::test]
async fn login_over_ip_limit_skips_password_check() {
    let app = spawn_limited(3, 300, false).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    update_settings(
        &app,
        &tenant,
        tenant_settings::Column::MaxFailedLogins,
        Expr::value(20),
    )
    .await;

    for attempt in 1..=3 {
        let response = post_login(&app, &tenant, "anna.schmidt", WRONG_PASSWORD, None).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    assert_eq!(reload(&app, anna.id).await.failed_attempts, 3);

    let wrong = post_login(&app, &tenant, "anna.schmidt", WRONG_PASSWORD, None).await;
    assert_limited_page(wrong, "/login").await;
    let right = post_login(&app, &tenant, "anna.schmidt", PASSWORD, None).await;
    assert_limited_page(right, "/login").await;

    let stored = reload(&app, anna.id).await;
    assert_eq!(stored.failed_attempts, 3);
    assert_eq!(stored.last_login_at, None);
}

#[tokio::test]
async fn login_default_ip_limit_is_twenty() {
    clear_of_window_boundary().await;
    let app = spawn_app_with(|settings| {
        settings.login_limit_window_seconds = TEST_WINDOW_SECONDS;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    for attempt in 1..=20 {
        let response = post_login(&app, &tenant, "niemand", WRONG_PASSWORD, None).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let response = post_login(&app, &tenant, "niemand", WRONG_PASSWORD, None).await;
    assert_limited_page(response, "/login").await;
}

#[tokio::test]
async fn login_over_tenant_limit_spans_addresses() {
    let app = spawn_limited(2, 5, true).await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let anna = insert_employee_login(&app, &acme, "1001", "anna.schmidt").await;
    update_settings(
        &app,
        &acme,
        tenant_settings::Column::MaxFailedLogins,
        Expr::value(20),
    )
    .await;

    for host in 1..=5 {
        let address = format!("198.51.100.{host}");
        let response =
            post_login(&app, &acme, "anna.schmidt", WRONG_PASSWORD, Some(&address)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{address}");
    }
    let response = post_login(&app, &acme, "anna.schmidt", PASSWORD, Some("198.51.100.6")).await;
    assert_limited_page(response, "/login").await;
    assert_eq!(reload(&app, anna.id).await.failed_attempts, 5);

    // Another tenant has its own limit.
    let response = post_login(
        &app,
        &other,
        "anna.schmidt",
        WRONG_PASSWORD,
        Some("198.51.100.7"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forwarded_for_separates_clients_behind_trusted_proxy() {
    let app = spawn_limited(2, 300, true).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    for _ in 0..2 {
        let response = post_login(
            &app,
            &tenant,
            "niemand",
            WRONG_PASSWORD,
            Some("203.0.113.10"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = post_login(
        &app,
        &tenant,
        "niemand",
        WRONG_PASSWORD,
        Some("203.0.113.10"),
    )
    .await;
    assert_limited_page(response, "/login").await;

    // Another client behind the same proxy is counted on its own.
    let response = post_login(
        &app,
        &tenant,
        "niemand",
        WRONG_PASSWORD,
        Some("203.0.113.11"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The rightmost address that is not a trusted proxy counts, whatever the client wrote left
    // of it: this is 203.0.113.10 again.
    let response = post_login(
        &app,
        &tenant,
        "niemand",
        WRONG_PASSWORD,
        Some("192.0.2.99, 203.0.113.10, 127.0.0.1"),
    )
    .await;
    assert_limited_page(response, "/login").await;
}

#[tokio::test]
async fn forwarded_for_ignored_without_trusted_proxy() {
    let app = spawn_limited(2, 300, false).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    for address in ["203.0.113.20", "203.0.113.21"] {
        let response = post_login(&app, &tenant, "niemand", WRONG_PASSWORD, Some(address)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{address}");
    }
    // Every attempt came from the socket peer 127.0.0.1, whatever the header contains.
    let response = post_login(
        &app,
        &tenant,
        "niemand",
        WRONG_PASSWORD,
        Some("203.0.113.22"),
    )
    .await;
    assert_limited_page(response, "/login").await;
}

// ---------------------------------------------------------------------------------------------
// Limits at the other entry points

#[tokio::test]
async fn app_login_over_limit_returns_rate_limited() {
    let app = spawn_limited(2, 300, false).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    update_settings(
        &app,
        &tenant,
        tenant_settings::Column::MaxFailedLogins,
        Expr::value(20),
    )
    .await;

    for _ in 0..2 {
        let response = app_login(&app, &tenant, "anna.schmidt").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app_login(&app, &tenant, "anna.schmidt").await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let seconds = retry_after(&response);
    assert!((1..=TEST_WINDOW_SECONDS).contains(&seconds), "{seconds}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "code": "rate_limited",
            "message_de": format!(
                "Zu viele Anmeldeversuche. Bitte warten Sie {seconds} Sekunden und versuchen Sie es dann erneut."
            ),
            "message_en": format!(
                "Too many login attempts. Please wait {seconds} seconds and then try again."
            ),
        })
    );
    assert_eq!(reload(&app, anna.id).await.failed_attempts, 2);
}

#[tokio::test]
async fn app_login_unknown_customer_number_counts_per_address() {
    let app = spawn_limited(2, 300, false).await;
    let unknown = TestTenant {
        customer_number: 99_999,
        ..app.create_tenant("acme", "Acme Apotheke").await
    };

    let first = app_login(&app, &unknown, "anna.schmidt").await;
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    let second = app_login(&app, &unknown, "anna.schmidt").await;
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    let third = app_login(&app, &unknown, "anna.schmidt").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}

#[tokio::test]
async fn registration_over_limit_keeps_code_failures() {
    let app = spawn_limited(2, 300, false).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    update_settings(
        &app,
        &tenant,
        tenant_settings::Column::SecurityCode,
        Expr::value(SECURITY_CODE),
    )
    .await;
    let person = insert_employee(&app, &tenant, "1001").await;
    let token = tokens::generate();
    let row = invitation::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        employee_id: Set(person.id),
        email: Set(person.email.clone().unwrap()),
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
    let url = app.tenant_url("acme", &format!("/register/{token}"));
    let fields = [
        ("security_code", "Falsch-0000"),
        ("username", "anna.s"),
        ("password", PASSWORD),
        ("password_repeat", PASSWORD),
    ];

    for _ in 0..2 {
        let response = post_form(&app.client(), &url, &fields).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let response = post_form(&app.client(), &url, &fields).await;
    assert_limited_page(response, &format!("/register/{token}")).await;

    let stored = invitation::Entity::find_by_id(row.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.security_code_failures, 2);
}

#[tokio::test]
async fn reset_request_over_limit_returns_429() {
    let app = spawn_limited(1, 300, false).await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let url = app.tenant_url("acme", "/password/forgot");

    let first = post_form(&app.client(), &url, &[("identifier", "anna.schmidt")]).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let second = post_form(&app.client(), &url, &[("identifier", "anna.schmidt")]).await;
    assert_limited_page(second, "/password/forgot").await;
}

// ---------------------------------------------------------------------------------------------
// The in-process counter and Redis

#[tokio::test]
async fn limiter_memory_stays_bounded() {
    clear_of_window_boundary().await;
    let limiter = LoginLimiter::in_process(Limits {
        max_tracked: 100,
        ..test_limits(1, 0)
    });
    let first: std::net::IpAddr = "10.1.0.0".parse().unwrap();
    assert_eq!(limiter.check(first, None).await, Decision::Allowed);

    for i in 0..5_000u32 {
        let address = std::net::Ipv4Addr::from(0x0a02_0000 + i);
        limiter.check(address.into(), None).await;
    }

    assert_eq!(limiter.tracked_addresses(), 100);
    // An address counted before the counter filled up is still limited.
    assert!(matches!(
        limiter.check(first, None).await,
        Decision::Limited {
            scope: LimitScope::ClientIp,
            ..
        }
    ));
}

#[tokio::test]
async fn server_limiter_memory_stays_bounded() {
    clear_of_window_boundary().await;
    let app = spawn_app_with(|settings| {
        // The bound is on the in-process counter, which counts only without Redis.
        settings.redis_url = None;
        settings.login_limit_max_tracked = 3;
        settings.login_limit_window_seconds = TEST_WINDOW_SECONDS;
        settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    for host in 1..=10 {
        let address = format!("198.51.100.{host}");
        let response = post_login(&app, &tenant, "niemand", WRONG_PASSWORD, Some(&address)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{address}");
    }

    assert_eq!(app.state().login_limiter.tracked_addresses(), 3);
}

#[tokio::test]
async fn redis_limiter_counts_across_instances() {
    let Ok(redis_url) = std::env::var("MEP24WEB_TEST_REDIS_URL") else {
        eprintln!("MEP24WEB_TEST_REDIS_URL is not set; the Redis counter is not tested");
        return;
    };
    let prefix = unique_prefix();
    clear_of_window_boundary().await;
    let app = spawn_app_with(|settings| {
        settings.redis_url = Some(SecretString::from(redis_url.clone()));
        settings.redis_key_prefix = prefix.clone();
        settings.login_limit_per_ip = 2;
        settings.login_limit_window_seconds = TEST_WINDOW_SECONDS;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    for _ in 0..2 {
        let response = post_login(&app, &tenant, "niemand", WRONG_PASSWORD, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = post_login(&app, &tenant, "niemand", WRONG_PASSWORD, None).await;
    assert_limited_page(response, "/login").await;
    assert_eq!(app.state().login_limiter.redis_down(), Some(false));
    assert_eq!(app.state().login_limiter.tracked_addresses(), 0);

    // A second instance with the same Redis and prefix reads the same counts.
    let loopback = "127.0.0.1".parse().unwrap();
    let second = LoginLimiter::with_redis(
        test_limits(2, 300),
        RedisCounter::new(&redis_url, &prefix).unwrap(),
    );
    assert!(matches!(
        second.check(loopback, Some(tenant.id)).await,
        Decision::Limited {
            scope: LimitScope::ClientIp,
            ..
        }
    ));
    // Another prefix starts from zero.
    let separate = LoginLimiter::with_redis(
        test_limits(2, 300),
        RedisCounter::new(&redis_url, &unique_prefix()).unwrap(),
    );
    assert_eq!(
        separate.check(loopback, Some(tenant.id)).await,
        Decision::Allowed
    );
}

#[tokio::test]
async fn redis_down_falls_back_to_in_process() {
    // A listener owned by this test that closes every connection at once, like a Redis that
    // is down or restarting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let closer = tokio::spawn(async move {
        loop {
            if let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        }
    });
    clear_of_window_boundary().await;
    let app = spawn_app_with(|settings| {
        settings.redis_url = Some(SecretString::from(format!("redis://127.0.0.1:{port}")));
        settings.redis_key_prefix = unique_prefix();
        settings.login_limit_per_ip = 2;
        settings.login_limit_window_seconds = TEST_WINDOW_SECONDS;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    for _ in 0..2 {
        let response = post_login(&app, &tenant, "niemand", WRONG_PASSWORD, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = post_login(&app, &tenant, "niemand", WRONG_PASSWORD, None).await;
    assert_limited_page(response, "/login").await;

    assert_eq!(app.state().login_limiter.redis_down(), Some(true));
    assert_eq!(app.state().login_limiter.tracked_addresses(), 1);
    closer.abort();
}

// ---------------------------------------------------------------------------------------------
// Common passwords in every form that sets a password

#[tokio::test]
async fn setup_link_rejects_common_password() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = post_form(
        &app.client(),
        &tenant.setup_link,
        &[
            ("password", COMMON_PASSWORD),
            ("password_repeat", COMMON_PASSWORD),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(COMMON_MESSAGE), "{body}");
    let admin = account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.password_hash, None);
}

#[tokio::test]
async fn registration_rejects_common_password() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    update_settings(
        &app,
        &tenant,
        tenant_settings::Column::SecurityCode,
        Expr::value(SECURITY_CODE),
    )
    .await;
    let person = insert_employee(&app, &tenant, "1001").await;
    let token = tokens::generate();
    invitation::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        employee_id: Set(person.id),
        email: Set(person.email.clone().unwrap()),
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

    let response = post_form(
        &app.client(),
        &app.tenant_url("acme", &format!("/register/{token}")),
        &[
            ("security_code", SECURITY_CODE),
            ("username", "anna.s"),
            ("password", "Apotheke2026"),
            ("password_repeat", "Apotheke2026"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(COMMON_MESSAGE), "{body}");
    let logins = account::Entity::find()
        .filter(account::Column::EmployeeId.eq(person.id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(logins, 0);
}

#[tokio::test]
async fn password_change_rejects_common_password() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(&app, &tenant, "1001", "anna.schmidt").await;
    let client = sign_in(&app, &tenant, "anna.schmidt").await;

    let response = post_form(
        &client,
        &app.tenant_url("acme", "/password/change"),
        &[
            ("current_password", PASSWORD),
            ("new_password", "Sommer2024!"),
            ("new_password_repeat", "Sommer2024!"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains(COMMON_MESSAGE), "{body}");
    assert_eq!(
        reload(&app, anna.id).await.password_hash,
        anna.password_hash
    );
}

#[tokio::test]
async fn employee_login_forms_reject_common_password() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let without_login = insert_employee(&app, &tenant, "1001").await;
    let anna = insert_employee_login(&app, &tenant, "1002", "anna.schmidt").await;
    let anna_employee = anna.employee_id.unwrap();

    let create = post_form(
        &admin,
        &app.tenant_url(
            "acme",
            &format!(
                "/admin/stammdaten/mitarbeiter/{}/benutzer",
                without_login.id
            ),
        ),
        &[
            ("username", "neu.login"),
            ("password", "hallo12345"),
            ("password_repeat", "hallo12345"),
        ],
    )
    .await;
    assert_eq!(create.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = create.text().await.unwrap();
    assert!(body.contains(COMMON_MESSAGE), "{body}");
    let logins = account::Entity::find()
        .filter(account::Column::EmployeeId.eq(without_login.id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(logins, 0);

    let set = post_form(
        &admin,
        &app.tenant_url(
            "acme",
            &format!("/admin/stammdaten/mitarbeiter/{anna_employee}/benutzer/passwort"),
        ),
        &[
            ("password", "Passwort123!"),
            ("password_repeat", "Passwort123!"),
        ],
    )
    .await;
    assert_eq!(set.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = set.text().await.unwrap();
    assert!(body.contains(COMMON_MESSAGE), "{body}");
    assert_eq!(
        reload(&app, anna.id).await.password_hash,
        anna.password_hash
    );
}

#[tokio::test]
async fn planner_user_forms_reject_common_password() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;

    let create = post_form(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer/neu"),
        &[
            ("username", "p.meier"),
            ("display_name", "Paula Meier"),
            ("email", "paula.meier@example.com"),
            ("role", "planer"),
            ("password", "Qwertz123456"),
            ("password_repeat", "Qwertz123456"),
        ],
    )
    .await;
    assert_eq!(create.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = create.text().await.unwrap();
    assert!(body.contains(COMMON_MESSAGE), "{body}");
    let created = account::Entity::find()
        .filter(account::Column::UsernameKey.eq("p.meier"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(created, 0);

    let me = account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::Kind.eq("planner"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let edit = post_form(
        &admin,
        &app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", me.id)),
        &[
            ("display_name", me.display_name.as_str()),
            ("email", ""),
            ("role", "administrator"),
            ("active", "ja"),
            ("password", "iloveyou2024"),
            ("password_repeat", "iloveyou2024"),
        ],
    )
    .await;
    assert_eq!(edit.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = edit.text().await.unwrap();
    assert!(body.contains(COMMON_MESSAGE), "{body}");
    assert_eq!(reload(&app, me.id).await.password_hash, me.password_hash);
}
