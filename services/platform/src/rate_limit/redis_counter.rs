//! Fixed-window counters in Redis, shared by every instance: `INCR` and `EXPIRE` in one
//! `MULTI`/`EXEC` transaction per attempt, on a key that names the window.

use std::time::Duration;

use crate::redis_link::RedisLink;

/// Pause after a failure before Redis is tried again; meanwhile the in-process counters count.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Counters in Redis under `<prefix>:login:<key>:<window>`.
pub struct RedisCounter {
    link: RedisLink,
    prefix: String,
}

impl RedisCounter {
    /// Prepares a counter for the Redis server at `url`, e.g. `redis://127.0.0.1:6379`. Nothing
    /// connects yet, so only a malformed URL fails here.
    pub fn new(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            link: RedisLink::open(url, "login attempt limits", RETRY_AFTER)?,
            prefix: prefix.to_owned(),
        })
    }

    /// Counts one attempt for `key` in `window` and returns the attempts so far, or `None`
    /// while Redis cannot be reached. A slow Redis delays a login by at most
    /// [`crate::redis_link::TIMEOUT`] before the in-process counters take over.
    pub async fn increment(&self, key: &str, window: u64, window_seconds: u64) -> Option<u64> {
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
        self.link
            .query::<(u64,)>(&pipeline)
            .await
            .ok()
            .map(|(count,)| count)
    }

    /// Returns true while Redis is considered down.
    pub fn is_down(&self) -> bool {
        self.link.is_down()
    }
}
