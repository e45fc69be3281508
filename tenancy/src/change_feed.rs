//! Tenant changes announced over Redis pub/sub, so every server empties its tenant cache at
//! once instead of at its next poll.
//!
//! The database stays the source of truth: a change bumps `tenant_generation` in its own
//! transaction (see [`crate::resolver`]), and each server keeps polling that counter. A message
//! on the channel only makes a server check the counter now. Redis being down therefore costs
//! speed, not correctness: a suspended tenant is still refused everywhere after one poll
//! interval.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;

use crate::resolver::TenantResolver;

/// Time limit for connecting to Redis and for the `PUBLISH` command.
const TIMEOUT: Duration = Duration::from_millis(500);
/// Pause before a lost subscription is tried again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Returns the channel name under the deployment's key prefix.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}:tenant-changes")
}

/// Announces that a tenant changed. Call it after the change's transaction committed.
pub async fn announce(redis_url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(redis_url)?;
    let publish = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PUBLISH")
            .arg(channel(prefix))
            .arg("changed")
            .query_async::<i64>(&mut connection)
            .await
    };
    match tokio::time::timeout(TIMEOUT, publish).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::IoError,
            "timed out publishing the tenant change",
        ))),
    }
}

/// Subscribes to the channel until `shutdown` turns true, and refreshes the resolver on every
/// message. A lost connection is retried every second; polling covers the gap.
pub async fn listen(
    resolver: Arc<TenantResolver>,
    redis_url: String,
    prefix: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failing = false;
    loop {
        match subscribe_until_closed(&resolver, &redis_url, &prefix, &mut shutdown).await {
            Ok(()) => return,
            Err(error) => {
                // Logged once per outage, not on every retry.
                if !failing {
                    tracing::warn!(%error, "tenant change subscription lost; polling only");
                }
                failing = true;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT_AFTER) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Runs one subscription. Returns `Ok` on shutdown and an error when the connection ends.
async fn subscribe_until_closed(
    resolver: &TenantResolver,
    redis_url: &str,
    prefix: &str,
    shutdown: &mut watch::Receiver<bool>,
) -> redis::RedisResult<()> {
    let client = redis::Client::open(redis_url)?;
    let mut pubsub = tokio::time::timeout(TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| {
            redis::RedisError::from((redis::ErrorKind::IoError, "timed out connecting"))
        })??;
    pubsub.subscribe(channel(prefix)).await?;
    tracing::info!("subscribed to tenant changes");
    // A change made while the subscription was down is picked up here at once.
    if let Err(error) = resolver.refresh().await {
        tracing::warn!(%error, "tenant change check failed");
    }
    let mut messages = pubsub.on_message();
    loop {
        tokio::select! {
            message = messages.next() => {
                if message.is_none() {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::IoError,
                        "subscription closed",
                    )));
                }
                if let Err(error) = resolver.refresh().await {
                    tracing::warn!(%error, "tenant change check failed");
                }
            }
            _ = shutdown.changed() => return Ok(()),
        }
    }
}
