//! Sessions and app tokens in Redis: where they are stored and the 503 responses during a Redis
//! outage. They survive a Redis restart with an append-only file, every instance reads the same
//! sessions, and every instance rejects a deactivated login at once.

use std::time::{Duration, Instant};

use mep24web_entities::{account, session};
use mep24web_platform::sessions::{MAX_SESSIONS_PER_ACCOUNT, SessionId, SessionKind};
use mep24web_tests::accounts::{PASSWORD, insert_planner, sign_in};
use mep24web_tests::redis_server::RedisServer;
use mep24web_tests::{TestApp, client, location, post_form, spawn_app_with};
use redis::aio::MultiplexedConnection;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, SET_COOKIE};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::SecretString;
use serde_json::Value;

const GERMAN_UNAVAILABLE: &str =
    "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut.";
/// Upper bound for a 503 response during the outage. A request that waits longer fails the test.
const FAST: Duration = Duration::from_secs(3);

/// Starts an application that keeps its sessions in the Redis server at `redis_url`, under
/// `prefix`, on the database `shared` names (owner and application URL) or a new one.
async fn spawn_with_redis(
    redis_url: &str,
    prefix: &str,
    shared: Option<(String, String)>,
) -> TestApp {
    let redis_url = redis_url.to_owned();
    let prefix = prefix.to_owned();
    spawn_app_with(move |settings| {
        settings.redis_url = Some(SecretString::from(redis_url));
        settings.redis_key_prefix = prefix;
        if let Some((owner, app)) = shared {
            settings.migration_database_url = Some(SecretString::from(owner));
            settings.database_url = Some(SecretString::from(app));
        }
    })
    .await
}

async fn connect(redis_url: &str) -> MultiplexedConnection {
    redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn keys(redis: &mut MultiplexedConnection, pattern: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(redis)
        .await
        .unwrap()
}

/// Logs `username` in with `client` and returns the session token from the cookie.
async fn log_in(app: &TestApp, slug: &str, client: &reqwest::Client, username: &str) -> String {
    let response = post_form(
        client,
        &app.tenant_url(slug, "/login"),
        &[("username", username), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login of {username}"
    );
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix("mep24web_session="))
        .and_then(|rest| rest.split(';').next())
        .map(str::to_owned)
        .expect("a session cookie")
}

async fn app_token(app: &TestApp, customer_number: i64, username: &str) -> String {
    let response = client()
        .post(app.apex_url("/api/app/v1/login"))
        .json(&serde_json::json!({
            "customer_number": customer_number,
            "username": username,
            "password": PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "app login of {username}");
    response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn status(client: &reqwest::Client, url: &str) -> StatusCode {
    client.get(url).send().await.unwrap().status()
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    client()
        .get(app.apex_url("/api/app/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn database_sessions(app: &TestApp) -> u64 {
    session::Entity::find().count(app.db()).await.unwrap()
}

#[tokio::test]
async fn sessions_live_in_redis_and_survive_its_restart() {
    let mut redis = RedisServer::start_persistent()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let prefix = "mep24web-sessions";
    let app = spawn_with_redis(&redis.url(), prefix, None).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    let browser = client();
    let token = log_in(&app, "acme", &browser, "p.meier").await;
    let bearer = app_token(&app, tenant.customer_number, "p.meier").await;
    let start_page = app.tenant_url("acme", "/admin");
    assert_eq!(status(&browser, &start_page).await, StatusCode::OK);

    // Stored in Redis under the token's hash, never the token, and not in the database.
    assert_eq!(database_sessions(&app).await, 0);
    let mut connection = connect(&redis.url()).await;
    let mut stored = keys(&mut connection, &format!("{prefix}:session:*")).await;
    stored.sort();
    let mut expected = vec![
        format!(
            "{prefix}:session:{}",
            mep24web_platform::tokens::hash(&token)
        ),
        format!(
            "{prefix}:session:{}",
            mep24web_platform::tokens::hash(&bearer)
        ),
    ];
    expected.sort();
    assert_eq!(stored, expected);
    for key in &stored {
        let fields: Vec<String> = redis::cmd("HVALS")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(
            fields
                .iter()
                .all(|value| value != &token && value != &bearer),
            "{fields:?}"
        );
    }
    // Redis deletes a web session when it expires, after 12 hours.
    let web_key = format!(
        "{prefix}:session:{}",
        mep24web_platform::tokens::hash(&token)
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&web_key)
        .query_async(&mut connection)
        .await
        .unwrap();
    let twelve_hours = 12 * 3600 * 1000;
    assert!(
        ttl > twelve_hours - 60_000 && ttl <= twelve_hours,
        "{ttl} ms"
    );
    let index = format!("{prefix}:account-sessions:{}:{}", tenant.id, planner);
    let members: i64 = redis::cmd("ZCARD")
        .arg(&index)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(members, 2);

    // Redis down: pages that need a session return the German 503 page at once, and the app
    // API returns the JSON error.
    redis.stop();
    let started = Instant::now();
    let response = browser.get(&start_page).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let body = response.text().await.unwrap();
    assert!(body.contains(GERMAN_UNAVAILABLE), "{body}");
    assert!(started.elapsed() < FAST, "took {:?}", started.elapsed());
    let response = client()
        .get(app.apex_url("/api/app/v1/me"))
        .bearer_auth(&bearer)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["code"], "unavailable");
    assert_eq!(app.state().sessions.redis_down(), Some(true));
    // A login cannot store its session, so it fails with 503 too, and changes nothing.
    let response = post_form(
        &client(),
        &app.tenant_url("acme", "/login"),
        &[("username", "p.meier"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Back after a crash: the append-only file kept both sessions.
    redis
        .restart()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let current = status(&browser, &start_page).await;
        if current == StatusCode::OK {
            break;
        }
        assert_eq!(current, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "no recovery within 5 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(me_status(&app, &bearer).await, StatusCode::OK);

    // Logging out deletes the session and its entry in the account's index.
    let response = post_form(&browser, &app.tenant_url("acme", "/logout"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mut connection = connect(&redis.url()).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&web_key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    let members: i64 = redis::cmd("ZCARD")
        .arg(&index)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(members, 1);
    assert_eq!(status(&browser, &start_page).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn instances_share_sessions_and_deactivation() {
    if std::env::var("MEP24WEB_TEST_DATABASE_URL").is_err() {
        eprintln!("needs MEP24WEB_TEST_DATABASE_URL for a database two instances share; not run");
        return;
    }
    let redis = RedisServer::start()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let prefix = "mep24web-shared";
    let first = spawn_with_redis(&redis.url(), prefix, None).await;
    let second = spawn_with_redis(&redis.url(), prefix, first.database_urls()).await;
    let tenant = first.create_tenant("acme", "Acme Apotheke").await;
    let planner = insert_planner(&first, &tenant, "p.meier", "planer").await;

    // A session from the first instance works on the second, and logging out on the second
    // ends it on the first.
    let browser = client();
    let token = log_in(&first, "acme", &browser, "p.meier").await;
    assert_eq!(
        status(&browser, &second.tenant_url("acme", "/admin")).await,
        StatusCode::OK
    );
    let response = post_form(&browser, &second.tenant_url("acme", "/logout"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let ended = client()
        .get(first.tenant_url("acme", "/admin"))
        .header("cookie", format!("mep24web_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ended), "/login");

    // Deactivated on the shared database: both instances reject the web session and the app
    // token on the next request.
    let browser = sign_in(&first, &tenant, "p.meier").await;
    let bearer = app_token(&second, tenant.customer_number, "p.meier").await;
    for instance in [&first, &second] {
        let page = instance.tenant_url("acme", "/admin");
        assert_eq!(status(&browser, &page).await, StatusCode::OK);
        assert_eq!(me_status(instance, &bearer).await, StatusCode::OK);
    }
    account::Entity::update_many()
        .col_expr(account::Column::Active, Expr::value(false))
        .filter(account::Column::Id.eq(planner))
        .exec(first.db())
        .await
        .unwrap();
    let deactivated_at = Instant::now();
    for instance in [&second, &first] {
        let response = browser
            .get(instance.tenant_url("acme", "/admin"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/login");
        assert_eq!(me_status(instance, &bearer).await, StatusCode::UNAUTHORIZED);
    }
    assert!(deactivated_at.elapsed() < Duration::from_secs(1));
    // The first rejection ended every session of the account, for both instances.
    assert_eq!(first.session_count(planner).await, 0);
    assert_eq!(second.session_count(planner).await, 0);
}

#[tokio::test]
async fn sessions_per_account_are_capped() {
    let redis = RedisServer::start()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let in_redis = spawn_with_redis(&redis.url(), "mep24web-cap", None).await;
    let in_database = spawn_app_with(|settings| settings.redis_url = None).await;
    let max = usize::try_from(MAX_SESSIONS_PER_ACCOUNT).unwrap();
    for app in [&in_redis, &in_database] {
        let tenant = app.create_tenant("acme", "Acme Apotheke").await;
        let planner = insert_planner(app, &tenant, "p.meier", "planer").await;
        let other = insert_planner(app, &tenant, "p.other", "planer").await;
        let other_token = app.new_session(tenant.id, other, SessionKind::Web).await;
        // The first token expires last, so the web sessions after it end first.
        let first_app_token = app.new_session(tenant.id, planner, SessionKind::App).await;
        for _ in 1..max {
            app.new_session(tenant.id, planner, SessionKind::Web).await;
        }
        assert_eq!(app.session_count(planner).await, max);

        // The newest session, a short second-factor step, stays, and the web session closest
        // to expiry ends.
        let newest = app
            .new_session(tenant.id, planner, SessionKind::SecondFactor)
            .await;
        let stored = app.sessions_of(planner).await;
        assert_eq!(stored.len(), max);
        let ids: Vec<SessionId> = stored.into_iter().map(|session| session.id).collect();
        assert!(ids.contains(&SessionId::of_token(&newest)));
        assert!(ids.contains(&SessionId::of_token(&first_app_token)));
        assert_eq!(app.session_count(other).await, 1);
        let other_id = SessionId::of_token(&other_token);
        assert_eq!(app.sessions_of(other).await[0].id, other_id);
    }
}

#[tokio::test]
async fn revocation_outlives_lost_redis_deletes() {
    let redis = RedisServer::start()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let prefix = "mep24web-lost";
    let app = spawn_with_redis(&redis.url(), prefix, None).await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    let browser = client();
    let token = log_in(&app, "acme", &browser, "p.meier").await;
    let bearer = app_token(&app, tenant.customer_number, "p.meier").await;
    let start_page = app.tenant_url("acme", "/admin");
    assert_eq!(status(&browser, &start_page).await, StatusCode::OK);

    // Snapshot both sessions, end them, and bring the snapshot back, as Redis does when it
    // loses its last writes in a crash or fails over to a replica that had not received them.
    let mut connection = connect(&redis.url()).await;
    let keys = [&token, &bearer].map(|secret| {
        format!(
            "{prefix}:session:{}",
            mep24web_platform::tokens::hash(secret)
        )
    });
    let mut snapshots = Vec::new();
    for key in &keys {
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        snapshots.push((key.clone(), dump));
    }
    let ended = mep24web_platform::sessions::revoke_all_for_account(
        &app.state().sessions,
        app.db(),
        tenant.id,
        planner,
    )
    .await
    .unwrap();
    assert_eq!(ended, 2);
    for (key, dump) in &snapshots {
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(dump.as_slice())
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    assert_eq!(app.session_count(planner).await, 2);

    // The account remembers the revocation, so both are rejected anyway.
    let response = browser.get(&start_page).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    assert_eq!(me_status(&app, &bearer).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.session_count(planner).await, 0);

    // A login after the revocation works.
    log_in(&app, "acme", &browser, "p.meier").await;
    assert_eq!(status(&browser, &start_page).await, StatusCode::OK);
}
