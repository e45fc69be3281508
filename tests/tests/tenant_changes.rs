//! Tenant changes reach every server: through the polled generation counter in the database,
//! and at once through Redis pub/sub when Redis is configured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mep24web_tenancy::change_feed;
use mep24web_tenancy::provision;
use mep24web_tenancy::{HostKind, Slug, TenantResolver};
use mep24web_tests::spawn_app;
use tokio::sync::watch;

/// Waits until the resolver reports the tenant's suspension, or gives up after `limit`.
async fn seen_suspended(resolver: &TenantResolver, host: &HostKind, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        let tenant = resolver.resolve(host).await.unwrap().unwrap();
        if tenant.suspended {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn announced_change_empties_the_cache_without_polling() {
    let Ok(redis_url) = std::env::var("MEP24WEB_TEST_REDIS_URL") else {
        eprintln!("MEP24WEB_TEST_REDIS_URL is not set; the Redis change feed is not tested");
        return;
    };
    let app = spawn_app().await;
    let tenant = app.create_tenant("wechsel", "Apotheke Wechsel").await;
    let slug = Slug::parse(&tenant.slug).unwrap();
    let host = HostKind::Tenant(slug.clone());
    // A resolver of its own that never polls: only the feed can empty its cache.
    let resolver = Arc::new(TenantResolver::new(
        app.db().clone(),
        app.state().urls.clone(),
    ));
    resolver.refresh().await.unwrap();
    assert!(!resolver.resolve(&host).await.unwrap().unwrap().suspended);
    let prefix = format!("mep24web-test-{}", std::process::id());
    let (stop, stopped) = watch::channel(false);
    let listener = tokio::spawn(change_feed::listen(
        resolver.clone(),
        redis_url.clone(),
        prefix.clone(),
        stopped,
    ));
    // Let the subscription start before the change is announced.
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(provision::set_status(app.db(), &slug, true).await.unwrap());
    // Without the announcement the cache keeps the old state.
    assert!(!seen_suspended(&resolver, &host, Duration::from_millis(300)).await);
    change_feed::announce(&redis_url, &prefix).await.unwrap();
    assert!(seen_suspended(&resolver, &host, Duration::from_secs(1)).await);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), listener)
        .await
        .expect("the listener stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn announcing_to_a_dead_redis_fails_fast() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let started = Instant::now();
    let result = change_feed::announce("redis://127.0.0.1:1", "mep24web").await;
    assert!(result.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn running_server_sees_a_suspension_within_one_second() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("pause", "Apotheke Pause").await;
    let client = app.client();
    let login = app.tenant_url(&tenant.slug, "/login");
    assert_eq!(client.get(&login).send().await.unwrap().status(), 200);
    let slug = Slug::parse(&tenant.slug).unwrap();
    assert!(provision::set_status(app.db(), &slug, true).await.unwrap());
    let started = Instant::now();
    loop {
        let status = client.get(&login).send().await.unwrap().status();
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE || status.is_client_error() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still served after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
