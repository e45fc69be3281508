//! The Prometheus endpoint on its own listener and the readiness endpoint: requests labelled by
//! route template, never by raw path, tenant or client; login and lockout counters; outbox
//! depth by state.

use chrono::{Duration as ChronoDuration, Utc};
use mep24web_tests::accounts::{PASSWORD, insert_planner, sign_in, sign_in_admin};
use mep24web_tests::{TestApp, TestTenant, client, get_text, post_form, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Query};
use serde_json::Value;

/// Fetches `/metrics` and returns its text.
async fn scrape(app: &TestApp) -> String {
    let response = client()
        .get(app.metrics_url())
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type}"
    );
    response.text().await.expect("metrics body")
}

/// Returns the value of the series whose line starts with `series` followed by a space, or
/// `None` when the scrape has no such series.
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// Returns the value of the series, counting a missing one as 0.
fn count_of(text: &str, series: &str) -> f64 {
    value_of(text, series).unwrap_or(0.0)
}

#[tokio::test]
async fn requests_labelled_by_route_template() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let browser = client();

    let response = browser
        .get(app.tenant_url(&tenant.slug, "/lang/en"))
        .send()
        .await
        .expect("language switch");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _) = get_text(&browser, &app.tenant_url(&tenant.slug, "/kein-pfad-7731")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_text(&browser, &app.apex_url("/healthz")).await;
    assert_eq!(status, StatusCode::OK);

    let text = scrape(&app).await;
    assert_eq!(
        value_of(
            &text,
            r#"http_request_duration_seconds_count{method="GET",host_kind="tenant",route="/lang/{code}",status="303"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value_of(
            &text,
            r#"http_request_duration_seconds_count{method="GET",host_kind="tenant",route="unmatched",status="404"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value_of(
            &text,
            r#"http_request_duration_seconds_count{method="GET",host_kind="none",route="/healthz",status="200"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{method="GET",host_kind="tenant",route="/lang/{code}",status="303",le="0.005"}"#),
        "latency buckets missing: {text}"
    );
    for leak in ["/lang/en", "kein-pfad-7731", "acme", "127.0.0.1"] {
        assert!(!text.contains(leak), "the metrics contain {leak:?}: {text}");
    }
}

#[tokio::test]
async fn metrics_listener_serves_only_metrics() {
    let app = spawn_app().await;
    let port = app.metrics_port.expect("metrics listener on");
    let (status, _) = get_text(&client(), &format!("http://127.0.0.1:{port}/admin")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = client()
        .post(app.metrics_url())
        .send()
        .await
        .expect("POST /metrics");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    // The application's own port does not serve the metrics.
    let (status, body) = get_text(&client(), &app.apex_url("/metrics")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("http_request_duration_seconds"));
}

#[tokio::test]
async fn metrics_listener_can_be_turned_off() {
    let app = spawn_app_with(|settings| {
        settings.metrics_addr = mep24web::settings::OptionalAddress(None);
    })
    .await;
    assert_eq!(app.metrics_port, None);
}

/// Sends a login with a wrong password and returns the status.
async fn wrong_login(app: &TestApp, tenant: &TestTenant, username: &str) -> StatusCode {
    post_form(
        &client(),
        &app.tenant_url(&tenant.slug, "/login"),
        &[("username", username), ("password", "Falsches-Passwort-1")],
    )
    .await
    .status()
}

#[tokio::test]
async fn logins_and_lockouts_counted() {
    // Eight attempts per address: one login, five wrong passwords that lock the account, two
    // more on the locked account, and the ninth runs into the limit.
    let app = spawn_app_with(|settings| settings.login_limit_per_ip = 8).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let username = "zaehler-planerin";
    insert_planner(&app, &tenant, username, "planer").await;
    let before = scrape(&app).await;

    sign_in(&app, &tenant, username).await;
    for _ in 0..5 {
        assert_eq!(
            wrong_login(&app, &tenant, username).await,
            StatusCode::UNAUTHORIZED
        );
    }
    for _ in 0..2 {
        assert_eq!(
            wrong_login(&app, &tenant, username).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        wrong_login(&app, &tenant, username).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let after = scrape(&app).await;

    // The counters are shared by every app in this test binary, so the checks compare growth.
    let grew = |series: &str| count_of(&after, series) - count_of(&before, series);
    assert!(
        grew(r#"mep24web_logins_total{result="success"}"#) >= 1.0,
        "{after}"
    );
    assert!(
        grew(r#"mep24web_logins_total{result="wrong_password"}"#) >= 5.0,
        "{after}"
    );
    assert!(
        grew(r#"mep24web_logins_total{result="locked"}"#) >= 2.0,
        "{after}"
    );
    assert!(grew("mep24web_login_lockouts_total") >= 1.0, "{after}");
    assert!(
        grew(r#"mep24web_login_rate_limited_total{scope="client_ip"}"#) >= 1.0,
        "{after}"
    );
    assert!(
        !after.contains(username),
        "the metrics contain the username"
    );
    assert!(!after.contains(PASSWORD));
}

/// Inserts an outbox row with `status`, due in one day so the worker leaves it alone.
async fn insert_outbox_row(app: &TestApp, tenant: &TestTenant, status: &str) {
    let now = Utc::now();
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("outbox"))
        .columns([
            Alias::new("tenant_id"),
            Alias::new("recipient"),
            Alias::new("subject"),
            Alias::new("body_text"),
            Alias::new("body_html"),
            Alias::new("status"),
            Alias::new("attempts"),
            Alias::new("next_attempt_at"),
            Alias::new("created_at"),
        ])
        .values_panic([
            tenant.id.get().into(),
            "person@example.com".into(),
            "Betreff".into(),
            "Text".into(),
            "<p>Text</p>".into(),
            status.into(),
            0_i32.into(),
            (now + ChronoDuration::days(1)).into(),
            now.into(),
        ]);
    let statement = app.db().get_database_backend().build(&insert);
    app.db()
        .execute(statement)
        .await
        .expect("inserting an outbox row");
}

#[tokio::test]
async fn outbox_depth_by_state() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("beta", "Beta Markt").await;
    insert_outbox_row(&app, &tenant, "pending").await;
    insert_outbox_row(&app, &other, "pending").await;
    insert_outbox_row(&app, &tenant, "dead").await;
    insert_outbox_row(&app, &tenant, "sent").await;

    let text = scrape(&app).await;
    // Provisioning queued no mail, so the rows above are all there is; the count spans tenants.
    assert_eq!(
        value_of(&text, r#"mep24web_outbox_messages{state="pending"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value_of(&text, r#"mep24web_outbox_messages{state="dead"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains(r#"state="sent""#), "{text}");
}

#[tokio::test]
async fn readyz_reports_checks() {
    // Without Redis, which the PostgreSQL + Redis test run configures for every app otherwise.
    let app = spawn_app_with(|settings| settings.redis_url = None).await;
    let (status, body) = get_text(&client(), &app.apex_url("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json: Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(json["status"], "ready");
    assert_eq!(json["failed"], serde_json::json!([]));
    assert_eq!(json["checks"]["database"], "ok");
    assert!(json["checks"].get("redis").is_none(), "{body}");

    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let browser = client();
    sign_in_admin(&tenant, &browser).await;
    let (status, _) = get_text(&browser, &app.tenant_url("acme", "/readyz")).await;
    assert_eq!(status, StatusCode::OK, "readyz on a tenant host");
}
