//! Attacks on the session store, run against whichever store the test application uses: the
//! database, or the Redis of `MEP24WEB_TEST_REDIS_URL` when it is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use mep24web_platform::sessions::{MAX_SESSIONS_PER_ACCOUNT, SessionKind};
use mep24web_tests::accounts::{PASSWORD, insert_planner, sign_in};
use mep24web_tests::redis_server::RedisServer;
use mep24web_tests::{TestApp, client, post_form, spawn_app_with};
use reqwest::StatusCode;
use secrecy::SecretString;

const NEW_PASSWORD: &str = "Neues-Passwort-2027";

/// Starts an application without login attempt limits, so a test may log in as often as it
/// needs from 127.0.0.1.
async fn spawn_unlimited() -> TestApp {
    spawn_app_with(|settings| {
        settings.login_limit_per_ip = 0;
        settings.login_limit_per_tenant = 0;
    })
    .await
}

/// Where a racing login signs in.
#[derive(Clone, Copy)]
enum Door {
    /// The login form of the tenant's host, which starts a web session.
    Form,
    /// The app API, which issues an app token.
    App { customer_number: i64 },
}

/// Logs in with the old password through `door` again and again until `stop` is set, and returns
/// how many of those logins succeeded.
async fn log_in_until(app: &TestApp, slug: &str, door: Door, stop: Arc<AtomicBool>) -> usize {
    let mut succeeded = 0;
    while !stop.load(Ordering::SeqCst) {
        let accepted = match door {
            Door::Form => {
                let response = post_form(
                    &client(),
                    &app.tenant_url(slug, "/login"),
                    &[("username", "p.meier"), ("password", PASSWORD)],
                )
                .await;
                response.status() == StatusCode::SEE_OTHER
            }
            Door::App { customer_number } => {
                let response = client()
                    .post(app.apex_url("/api/app/v1/login"))
                    .json(&serde_json::json!({
                        "customer_number": customer_number,
                        "username": "p.meier",
                        "password": PASSWORD,
                    }))
                    .send()
                    .await
                    .unwrap();
                response.status() == StatusCode::OK
            }
        };
        if accepted {
            succeeded += 1;
        }
    }
    succeeded
}

#[tokio::test]
async fn password_change_racing_logins_ends_their_sessions() {
    let app = Arc::new(spawn_unlimited().await);
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    let owner = sign_in(&app, &tenant, "p.meier").await;

    // Logins with the old password run while the owner changes it. Each one that read the old
    // hash before the change committed may finish after it.
    let stop = Arc::new(AtomicBool::new(false));
    let app_door = Door::App {
        customer_number: tenant.customer_number,
    };
    let attackers: Vec<_> = [Door::Form, Door::Form, app_door, app_door]
        .into_iter()
        .map(|door| {
            let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
            tokio::spawn(async move { log_in_until(&app, "acme", door, stop).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = post_form(
        &owner,
        &app.tenant_url("acme", "/password/change"),
        &[
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_repeat", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    stop.store(true, Ordering::SeqCst);
    let mut old_password_logins = 0;
    for attacker in attackers {
        old_password_logins += attacker.await.unwrap();
    }
    assert!(old_password_logins > 0, "no login ran before the change");

    // Only the owner's session may remain: every web session and app token of a login with the
    // old password, finished before or after the change, is ended.
    assert_eq!(app.session_count(planner).await, 1);
}

/// Stores `count` live app tokens of an account directly in Redis, as that many app logins over
/// weeks would: each a session hash and an entry in the account's index, scored by expiry.
async fn plant_live_tokens(redis_url: &str, prefix: &str, tenant: i64, account: i64, count: u32) {
    const PLANT: &str = r"
for i = 1, tonumber(ARGV[3]) do
  local hash = string.format('%064x', i)
  redis.call('HSET', ARGV[1] .. hash, 'tenant', ARGV[5], 'account', ARGV[6], 'kind', 'app',
    'created', ARGV[7], 'expires', ARGV[4], 'seen', ARGV[7])
  redis.call('PEXPIREAT', ARGV[1] .. hash, ARGV[4])
  redis.call('ZADD', ARGV[2], ARGV[4], hash)
end
return 1
";
    let now = Utc::now();
    let expires = now + chrono::Duration::days(30);
    let mut connection = redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = redis::cmd("EVAL")
        .arg(PLANT)
        .arg(0)
        .arg(format!("{prefix}:session:"))
        .arg(format!("{prefix}:account-sessions:{tenant}:{account}"))
        .arg(count)
        .arg(expires.timestamp_millis())
        .arg(tenant)
        .arg(account)
        .arg(now.timestamp_millis())
        .query_async(&mut connection)
        .await
        .unwrap();
}

#[tokio::test]
async fn login_over_the_cap_ends_excess_tokens() {
    let redis = RedisServer::start()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let prefix = "attack-growth";
    let redis_url = redis.url();
    let app = spawn_app_with(|settings| {
        settings.redis_url = Some(SecretString::from(redis_url));
        settings.redis_key_prefix = prefix.to_owned();
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    // Far more live tokens than an account may keep, as an index written before the cap or
    // planted by hand would hold. Storing a session runs in one Lua script, which blocks Redis
    // for every tenant, so it must stay bounded by the cap and the entries it ends.
    plant_live_tokens(&redis.url(), prefix, tenant.id.get(), planner, 5_000).await;
    // An entry whose session expired a minute ago, which the next login drops.
    let index = format!("{prefix}:account-sessions:{}:{planner}", tenant.id);
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let expired_at = (Utc::now() - chrono::Duration::minutes(1)).timestamp_millis();
    let _: i64 = redis::cmd("ZADD")
        .arg(&index)
        .arg(expired_at)
        .arg("expired")
        .query_async(&mut connection)
        .await
        .unwrap();

    let browser = sign_in(&app, &tenant, "p.meier").await;

    let response = browser
        .get(app.tenant_url("acme", "/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.state().sessions.redis_down(), Some(false));
    let max = i64::try_from(MAX_SESSIONS_PER_ACCOUNT).unwrap();
    let entries: i64 = redis::cmd("ZCARD")
        .arg(&index)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(entries, max);
    let expired_score: Option<f64> = redis::cmd("ZSCORE")
        .arg(&index)
        .arg("expired")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(expired_score, None);
    let session_keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:session:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(session_keys.len(), usize::try_from(max).unwrap());
    // The index lives as long as its last session, the planted tokens of 30 days.
    let index_ttl: i64 = redis::cmd("PTTL")
        .arg(&index)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(index_ttl > 29 * 24 * 3600 * 1000, "{index_ttl} ms");
}

#[tokio::test]
async fn slow_redis_answers_503_then_recovers() {
    let redis = RedisServer::start()
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let redis_url = redis.url();
    let app = spawn_app_with(|settings| {
        settings.redis_url = Some(SecretString::from(redis_url));
        settings.redis_key_prefix = "attack-slow".to_owned();
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_planner(&app, &tenant, "p.meier", "planer").await;
    let browser = sign_in(&app, &tenant, "p.meier").await;
    let page = app.tenant_url("acme", "/admin");

    // Redis stops replying for 3 seconds, as under a long script or a stalled disk: a script
    // that spins until then blocks every other client.
    const SPIN: &str = r"
local start = redis.call('TIME')
while true do
  local now = redis.call('TIME')
  if (now[1] - start[1]) * 1000000 + (now[2] - start[2]) >= 3000000 then
    return 1
  end
end
";
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let sleeper = tokio::spawn(async move {
        let _: i64 = redis::cmd("EVAL")
            .arg(SPIN)
            .arg(0)
            .query_async(&mut connection)
            .await
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let response = browser.get(&page).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
    }
    sleeper.await.unwrap();

    // Back without a restart of the application: the store tries Redis again one second after
    // its last failure.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let status = browser.get(&page).send().await.unwrap().status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery within 3 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn session_on_other_tenant_host_is_inert() {
    let app = spawn_unlimited().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let planner = insert_planner(&app, &acme, "p.meier", "planer").await;
    insert_planner(&app, &other, "p.meier", "planer").await;

    // Logging out on the other tenant's host with this session's token ends nothing, and the
    // token does not sign anyone in there.
    let stolen = app.new_session(acme.id, planner, SessionKind::Web).await;
    let response = client()
        .post(app.tenant_url("other", "/logout"))
        .header("cookie", format!("mep24web_session={stolen}"))
        .header("origin", app.tenant_url("other", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.session_count(planner).await, 1);

    let response = client()
        .get(app.tenant_url("other", "/admin"))
        .header("cookie", format!("mep24web_session={stolen}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = client()
        .get(app.tenant_url("acme", "/admin"))
        .header("cookie", format!("mep24web_session={stolen}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
