//! Fixed-window counters in Redis, shared by every instance: `INCR` and `EXPIRE` in one
//! `MULTI`/`EXEC` transaction per attempt, on a key that names the window.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

/// Time limit for connecting to Redis and for each command, so a slow Redis delays a login by
/// at most this much before the in-process counters take over.
const TIMEOUT: Duration = Duration::from_millis(500);
/// Pause after a failure before Redis is tried again; meanwhile the in-process counters count.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Counters in Redis under `<prefix>:login:<key>:<window>`.
pub struct RedisCounter {
    client: redis::Client,
    prefix: String,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    outage: Mutex<Outage>,
}

/// Whether Redis is considered down, and when to try it again.
#[derive(Default)]
struct Outage {
    down: bool,
    retry_at: Option<Instant>,
}

impl RedisCounter {
    /// Prepares a counter for the Redis server at `url`, e.g. `redis://127.0.0.1:6379`. Nothing
    /// connects yet, so only a malformed URL fails here.
    pub fn new(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            prefix: prefix.to_owned(),
            connection: tokio::sync::Mutex::new(None),
            outage: Mutex::new(Outage::default()),
        })
    }

    /// Counts one attempt for `key` in `window` and returns the attempts so far, or `None`
    /// while Redis cannot be reached.
    pub async fn increment(&self, key: &str, window: u64, window_seconds: u64) -> Option<u64> {
        if self.waiting_for_retry() {
            return None;
        }
        match self.try_increment(key, window, window_seconds).await {
            Ok(count) => {
                self.mark_up();
                Some(count)
            }
            Err(error) => {
                *self.connection.lock().await = None;
                self.mark_down(&error);
                None
            }
        }
    }

    async fn try_increment(
        &self,
        key: &str,
        window: u64,
        window_seconds: u64,
    ) -> anyhow::Result<u64> {
        let mut connection = self.connection().await?;
        let full_key = format!("{}:login:{key}:{window}", self.prefix);
        // The key outlives its window by one window, so instances whose clocks differ slightly
        // still find it. The window number in the key keeps windows apart.
        let ttl = i64::try_from(window_seconds.saturating_mul(2)).unwrap_or(i64::MAX);
        let mut pipeline = redis::pipe();
        pipeline
            .atomic()
            .incr(&full_key, 1)
            .expire(&full_key, ttl)
            .ignore();
        let query = pipeline.query_async::<(u64,)>(&mut connection);
        let (count,) = tokio::time::timeout(TIMEOUT, query)
            .await
            .map_err(|_| anyhow::anyhow!("Redis request timed out after {TIMEOUT:?}"))??;
        Ok(count)
    }

    async fn connection(&self) -> anyhow::Result<MultiplexedConnection> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        // Attempts that queued behind a failed connect do not each wait for a connect of their
        // own.
        if self.waiting_for_retry() {
            anyhow::bail!("Redis is unreachable since a recent failure");
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(TIMEOUT)
            .set_response_timeout(TIMEOUT);
        let connection = tokio::time::timeout(
            TIMEOUT,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connecting to Redis timed out after {TIMEOUT:?}"))??;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    fn waiting_for_retry(&self) -> bool {
        let outage = self
            .outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        outage.retry_at.is_some_and(|at| Instant::now() < at)
    }

    fn mark_down(&self, error: &anyhow::Error) {
        let mut outage = self
            .outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        outage.retry_at = Some(Instant::now() + RETRY_AFTER);
        if !outage.down {
            outage.down = true;
            tracing::warn!(
                error = format!("{error:#}"),
                retry_seconds = RETRY_AFTER.as_secs(),
                "Redis for login attempt limits is unreachable; counting in this process until it is back"
            );
        }
    }

    fn mark_up(&self) {
        let mut outage = self
            .outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        outage.retry_at = None;
        if outage.down {
            outage.down = false;
            tracing::info!("Redis for login attempt limits is reachable again");
        }
    }

    /// Returns true while Redis is considered down.
    pub fn is_down(&self) -> bool {
        self.outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .down
    }
}
