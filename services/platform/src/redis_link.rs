//! One shared connection to Redis with time limits, reconnecting after a failure, and a pause
//! after each failure so requests do not all wait for a connect to a server that is down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

/// Time limit for connecting to Redis and for each command.
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// A Redis server reached over one multiplexed connection. `purpose` names the user in the log
/// lines about an outage.
pub struct RedisLink {
    client: redis::Client,
    purpose: &'static str,
    retry_after: Duration,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    outage: Mutex<Outage>,
}

/// Whether Redis is considered down, and when to try it again.
#[derive(Default)]
struct Outage {
    down: bool,
    retry_at: Option<Instant>,
}

impl RedisLink {
    /// Prepares a link to the Redis server at `url`, e.g. `redis://127.0.0.1:6379`. Nothing
    /// connects yet, so only a malformed URL fails here. After a failure, calls fail at once
    /// for `retry_after`.
    pub fn open(
        url: &str,
        purpose: &'static str,
        retry_after: Duration,
    ) -> redis::RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            purpose,
            retry_after,
            connection: tokio::sync::Mutex::new(None),
            outage: Mutex::new(Outage::default()),
        })
    }

    /// Sends `command` (or a pipeline) and returns its reply. A failure drops the connection,
    /// marks Redis down and is returned; calls during the pause that follows fail at once.
    pub async fn query<'a, T: redis::FromRedisValue>(
        &self,
        request: impl Into<Request<'a>>,
    ) -> anyhow::Result<T> {
        let request = request.into();
        if self.waiting_for_retry() {
            anyhow::bail!("Redis is unreachable since a recent failure");
        }
        let result = async {
            let mut connection = self.connection().await?;
            let reply = async {
                match request {
                    Request::Command(command) => command.query_async(&mut connection).await,
                    Request::Pipeline(pipeline) => pipeline.query_async(&mut connection).await,
                }
            };
            let value: T = tokio::time::timeout(TIMEOUT, reply)
                .await
                .map_err(|_| anyhow::anyhow!("Redis request timed out after {TIMEOUT:?}"))??;
            anyhow::Ok(value)
        }
        .await;
        match result {
            Ok(value) => {
                self.mark_up();
                Ok(value)
            }
            Err(error) => {
                *self.connection.lock().await = None;
                self.mark_down(&error);
                Err(error)
            }
        }
    }

    async fn connection(&self) -> anyhow::Result<MultiplexedConnection> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        // Calls that queued behind a failed connect do not each wait for a connect of their own.
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

    fn outage(&self) -> std::sync::MutexGuard<'_, Outage> {
        self.outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn waiting_for_retry(&self) -> bool {
        self.outage().retry_at.is_some_and(|at| Instant::now() < at)
    }

    fn mark_down(&self, error: &anyhow::Error) {
        let mut outage = self.outage();
        outage.retry_at = Some(Instant::now() + self.retry_after);
        if !outage.down {
            outage.down = true;
            tracing::warn!(
                error = format!("{error:#}"),
                purpose = self.purpose,
                retry_milliseconds = self.retry_after.as_millis(),
                "Redis is unreachable"
            );
        }
    }

    fn mark_up(&self) {
        let mut outage = self.outage();
        outage.retry_at = None;
        if outage.down {
            outage.down = false;
            tracing::info!(purpose = self.purpose, "Redis is reachable again");
        }
    }

    /// Returns true while Redis is considered down.
    pub fn is_down(&self) -> bool {
        self.outage().down
    }
}

/// A command or a pipeline for [`RedisLink::query`].
#[derive(Clone, Copy)]
pub enum Request<'a> {
    Command(&'a redis::Cmd),
    Pipeline(&'a redis::Pipeline),
}

impl<'a> From<&'a redis::Cmd> for Request<'a> {
    fn from(command: &'a redis::Cmd) -> Self {
        Self::Command(command)
    }
}

impl<'a> From<&'a mut redis::Cmd> for Request<'a> {
    fn from(command: &'a mut redis::Cmd) -> Self {
        Self::Command(command)
    }
}

impl<'a> From<&'a redis::Pipeline> for Request<'a> {
    fn from(pipeline: &'a redis::Pipeline) -> Self {
        Self::Pipeline(pipeline)
    }
}
