//! Dependency faults: a PostgreSQL server of the test's own stopped and restarted under load, an
//! exhausted connection pool, and a Redis server (which keeps the sessions) killed and
//! restarted. During each fault the service responds quickly with 503 (a German or English page,
//! or JSON) and `/readyz` names what failed. Afterwards it recovers without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mep24web_tests::accounts::{PASSWORD, sign_in_admin};
use mep24web_tests::pg_cluster::PgCluster;
use mep24web_tests::redis_server::RedisServer;
use mep24web_tests::{TestApp, client, post_form, spawn_app_on, spawn_app_with};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use secrecy::SecretString;
use serde_json::Value;

/// Acquire timeout of the apps under test: a request during an outage should fail after it.
const ACQUIRE_TIMEOUT_MS: u64 = 300;
/// Upper bound for any response time during a fault: the acquire timeout plus generous slack for a
/// loaded CI machine. A request that hangs until the 30-second request timeout fails the test.
const FAST: Duration = Duration::from_secs(3);
const GERMAN_UNAVAILABLE: &str =
    "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut.";
const ENGLISH_UNAVAILABLE: &str =
    "The service is not available right now. Please try again in a few minutes.";
/// A bearer token of the right shape that belongs to no session.
const UNKNOWN_TOKEN: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// One request of the background load.
struct Sample {
    started: Instant,
    took: Duration,
    /// The status, or the transport error.
    outcome: Result<u16, String>,
}

/// Clients that GET one URL in a loop until stopped, at most `MAX_REQUESTS` each.
struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

const MAX_REQUESTS: usize = 2_000;

impl Load {
    fn start(client: &reqwest::Client, url: &str, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..workers)
            .map(|_| {
                let client = client.clone();
                let url = url.to_owned();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Relaxed) && samples.len() < MAX_REQUESTS {
                        let started = Instant::now();
                        let outcome = match client.get(&url).send().await {
                            Ok(response) => Ok(response.status().as_u16()),
                            Err(error) => Err(error.to_string()),
                        };
                        samples.push(Sample {
                            started,
                            took: started.elapsed(),
                            outcome,
                        });
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    samples
                })
            })
            .collect();
        Self { stop, workers }
    }

    async fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        let mut samples = Vec::new();
        for worker in self.workers {
            samples.extend(worker.await.expect("load worker panicked"));
        }
        samples
    }
}

/// Sends a GET with extra headers and returns the status, the body and the time it took.
async fn timed_get(
    client: &reqwest::Client,
    url: &str,
    headers: &[(reqwest::header::HeaderName, &str)],
) -> (StatusCode, String, Duration) {
    let started = Instant::now();
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
    let status = response.status();
    let body = response.text().await.expect("reading the body");
    (status, body, started.elapsed())
}

/// Checks the 503 responses of a tenant page, for JSON clients and of the app API while the
/// database cannot serve.
async fn assert_unavailable_answers(app: &TestApp, client: &reqwest::Client, slug: &str) {
    let page = app.tenant_url(slug, "/admin");

    let (status, body, took) = timed_get(client, &page, &[]).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "German page: {body}"
    );
    assert!(took < FAST, "German page took {took:?}");
    assert!(body.contains(GERMAN_UNAVAILABLE), "German page: {body}");

    // Signing in set the `lang` cookie to the account's German, which outranks
    // Accept-Language, so the client switches to English the way a user would.
    switch_language(app, client, slug, "en").await;
    let (status, body, took) = timed_get(client, &page, &[]).await;
    switch_language(app, client, slug, "de").await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "English page: {body}"
    );
    assert!(took < FAST, "English page took {took:?}");
    assert!(body.contains(ENGLISH_UNAVAILABLE), "English page: {body}");

    let (status, body, took) = timed_get(client, &page, &[(ACCEPT, "application/json")]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "JSON page: {body}");
    assert!(took < FAST, "JSON answer took {took:?}");
    let json: Value = serde_json::from_str(&body).expect("JSON body for Accept: application/json");
    assert_eq!(json["code"], "unavailable");
    assert_eq!(json["message_de"].as_str(), Some(GERMAN_UNAVAILABLE));
    assert_eq!(json["message_en"].as_str(), Some(ENGLISH_UNAVAILABLE));

    let bearer = format!("Bearer {UNKNOWN_TOKEN}");
    let (status, body, took) = timed_get(
        client,
        &app.apex_url("/api/app/v1/me"),
        &[(AUTHORIZATION, &bearer)],
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "app API: {body}");
    assert!(took < FAST, "app API took {took:?}");
    let json: Value = serde_json::from_str(&body).expect("JSON body of the app API");
    assert_eq!(json["code"], "unavailable");

    let (status, body, took) = timed_get(client, &app.apex_url("/readyz"), &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "readyz: {body}");
    assert!(took < FAST, "readyz took {took:?}");
    let json: Value = serde_json::from_str(&body).expect("JSON body of /readyz");
    assert_eq!(json["status"], "unavailable");
    assert_eq!(json["failed"], serde_json::json!(["database"]));

    let (status, _, _) = timed_get(client, &app.apex_url("/healthz"), &[]).await;
    assert_eq!(status, StatusCode::OK, "healthz during the outage");
}

/// Sets the client's `lang` cookie through the language switch, which needs no database.
async fn switch_language(app: &TestApp, client: &reqwest::Client, slug: &str, code: &str) {
    let url = app.tenant_url(slug, &format!("/lang/{code}"));
    let (status, body, _) = timed_get(client, &url, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "language switch: {body}");
}

/// Repeats `GET url` until it returns 200, for at most `within`, and returns when it did.
async fn wait_for_ok(client: &reqwest::Client, url: &str, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        let (status, body, _) = timed_get(client, url, &[]).await;
        if status == StatusCode::OK {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer 200 within {within:?}; last answer {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn database_restart_under_load_recovers() {
    let cluster = PgCluster::start()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let app = spawn_app_on(Some(cluster.url()), |settings| {
        settings.db_acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
        settings.db_max_connections = 4;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let client = app.client();
    sign_in_admin(&tenant, &client).await;
    let page = app.tenant_url("acme", "/admin");
    let (status, _, _) = timed_get(&client, &page, &[]).await;
    assert_eq!(status, StatusCode::OK, "signed-in page before the outage");

    let load = Load::start(&client, &page, 4);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stopped_at = Instant::now();
    cluster
        .stop()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    assert_unavailable_answers(&app, &client, "acme").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    cluster
        .restart()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let recovered_at = wait_for_ok(&client, &page, Duration::from_secs(15)).await;
    wait_for_ok(&client, &app.apex_url("/readyz"), Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let samples = load.finish().await;

    for sample in &samples {
        match &sample.outcome {
            Ok(status) => assert!(
                *status == 200 || *status == 503,
                "a request during the restart got {status}, expected 200 or 503"
            ),
            Err(error) => panic!("a request during the restart failed: {error}"),
        }
        assert!(
            sample.took < FAST,
            "a request during the restart took {:?}",
            sample.took
        );
    }
    let unavailable = samples
        .iter()
        .filter(|sample| sample.outcome == Ok(503))
        .count();
    assert!(unavailable > 0, "the load saw no 503 during the outage");
    assert!(
        samples
            .iter()
            .any(|sample| sample.started < stopped_at && sample.outcome == Ok(200)),
        "the load saw no 200 before the outage"
    );
    // Requests that began after the first success again all succeed.
    let late: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.started > recovered_at + Duration::from_millis(100))
        .collect();
    assert!(!late.is_empty(), "no load after the recovery");
    for sample in late {
        assert_eq!(
            sample.outcome,
            Ok(200),
            "a request after the recovery failed"
        );
    }
}

#[tokio::test]
async fn exhausted_pool_answers_503_fast() {
    let app = spawn_app_with(|settings| {
        settings.db_acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
        settings.db_max_connections = 2;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let client = app.client();
    sign_in_admin(&tenant, &client).await;
    let page = app.tenant_url("acme", "/admin");

    // Two open transactions hold both connections of the pool, as two slow requests would.
    let pool = app.state().db.pool();
    let first = sea_orm::TransactionTrait::begin(pool)
        .await
        .expect("first transaction");
    let second = sea_orm::TransactionTrait::begin(pool)
        .await
        .expect("second transaction");

    let (status, body, took) = timed_get(&client, &page, &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        took < FAST,
        "the page took {took:?} with the pool exhausted"
    );
    assert!(body.contains(GERMAN_UNAVAILABLE), "{body}");

    let (status, body, _) = timed_get(&client, &app.apex_url("/readyz"), &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "readyz: {body}");
    let json: Value = serde_json::from_str(&body).expect("JSON body of /readyz");
    assert_eq!(json["failed"], serde_json::json!(["database"]));

    first.rollback().await.expect("rollback");
    second.rollback().await.expect("rollback");
    let (status, body, _) = timed_get(&client, &page, &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "after the connections were returned: {body}"
    );
}

#[tokio::test]
async fn logins_waiting_for_hasher_hold_no_connection() {
    let app = spawn_app_with(|settings| {
        settings.db_acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
        settings.db_max_connections = 2;
        settings.hash_concurrency = Some(1);
    })
    .await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let login_page = app.tenant_url("acme", "/login");

    // Twelve logins queue for the one hashing slot, long enough in all to outlast the acquire
    // timeout many times. A login that kept its pooled connection while it waited would leave
    // none for the page below, and both would get 503.
    let mut logins = Vec::new();
    for attempt in 0..12 {
        let client = app.client();
        let url = login_page.clone();
        let username = format!("niemand{attempt}");
        logins.push(tokio::spawn(async move {
            let response = post_form(
                &client,
                &url,
                &[("username", &username), ("password", "falsch")],
            )
            .await;
            response.status()
        }));
    }
    let client = app.client();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, body, took) = timed_get(&client, &login_page, &[]).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "login page during the logins: {body}"
        );
        assert!(took < FAST, "the login page took {took:?}");
    }
    for login in logins {
        assert_eq!(login.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn redis_outage_degrades_and_recovers() {
    let mut redis = RedisServer::start()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let redis_url = redis.url();
    let app = spawn_app_with(move |settings| {
        settings.redis_url = Some(SecretString::from(redis_url));
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let client = client();
    let readyz = app.apex_url("/readyz");

    let (status, body, _) = timed_get(&client, &readyz, &[]).await;
    assert_eq!(status, StatusCode::OK, "readyz with Redis up: {body}");
    let json: Value = serde_json::from_str(&body).expect("JSON body of /readyz");
    assert_eq!(json["checks"]["redis"], "ok");

    redis.stop();
    let (status, body, took) = timed_get(&client, &readyz, &[]).await;
    // The instance still serves, so it stays in the load balancer, and names what is missing.
    assert_eq!(status, StatusCode::OK, "readyz with Redis down: {body}");
    assert!(took < FAST, "readyz took {took:?} with Redis down");
    let json: Value = serde_json::from_str(&body).expect("JSON body of /readyz");
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["failed"], serde_json::json!(["redis"]));
    assert_eq!(json["checks"]["database"], "ok");

    // The documented degradation: sessions live in Redis, so signing in returns 503 at once
    // and keeps nothing (the setup link still works afterwards). A wrong password is still
    // rejected, and the attempt limits count in this process.
    let started = Instant::now();
    let response = post_form(
        &client,
        &tenant.setup_link,
        &[("password", PASSWORD), ("password_repeat", PASSWORD)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "setting a password with Redis down"
    );
    assert!(
        started.elapsed() < FAST,
        "a login with Redis down took {:?}",
        started.elapsed()
    );
    assert!(
        response
            .text()
            .await
            .expect("reading the body")
            .contains(GERMAN_UNAVAILABLE)
    );
    let response = post_form(
        &client,
        &app.tenant_url("acme", "/login"),
        &[("username", "admin"), ("password", "falsch")],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a failed login with Redis down"
    );
    assert_eq!(app.state().login_limiter.redis_down(), Some(true));
    assert_eq!(app.state().sessions.redis_down(), Some(true));

    redis
        .restart()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    wait_for_ok(&client, &readyz, Duration::from_secs(5)).await;

    // Signing in works again once the session store's retry pause of one second is over.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = post_form(
            &client,
            &tenant.setup_link,
            &[("password", PASSWORD), ("password_repeat", PASSWORD)],
        )
        .await;
        if response.status() == StatusCode::SEE_OTHER {
            break;
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            Instant::now() < deadline,
            "no login within 5 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body, _) = timed_get(&client, &app.tenant_url("acme", "/admin"), &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "start page after the outage: {body}"
    );

    // The limiter tries Redis again once its retry pause is over, and then counts there again.
    let limiter = &app.state().login_limiter;
    let address = "192.0.2.10".parse().expect("test address");
    let deadline = Instant::now() + Duration::from_secs(10);
    while limiter.redis_down() != Some(false) {
        assert!(
            Instant::now() < deadline,
            "the login attempt limiter did not return to Redis within 10 s"
        );
        limiter.check(address, Some(tenant.id)).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
