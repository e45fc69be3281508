//! Sessions as the tests see them: listed and aged through the application's own session
//! store, the database or Redis, whichever the test application uses.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use mep24web::Settings;
use mep24web_entities::session;
use mep24web_platform::TenantId;
use mep24web_platform::sessions::{self, SessionKind, StoredSession};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;

use crate::TestApp;

/// Returns the Redis URL the tests use, from `MEP24WEB_TEST_REDIS_URL`, if set.
pub fn redis_url_from_env() -> Option<String> {
    std::env::var("MEP24WEB_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Returns a Redis key prefix no other test application uses, even in another test binary.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "mep24web-test-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4().simple()
    )
}

/// The Redis server and key prefix of one test application.
pub struct RedisKeys {
    url: String,
    prefix: String,
    /// Whether the prefix is the harness's own. A prefix the test chose itself may be shared
    /// with other instances that still run, so its keys are not deleted on drop.
    own_prefix: bool,
}

impl RedisKeys {
    /// Returns the Redis target of the settings, if they name a Redis server. `own_prefix` is
    /// the prefix the harness generated for this application.
    pub fn of(settings: &Settings, own_prefix: &str) -> Option<Self> {
        let url = settings.redis_url.as_ref()?.expose_secret().to_owned();
        Some(Self {
            url,
            prefix: settings.redis_key_prefix.clone(),
            own_prefix: settings.redis_key_prefix == own_prefix,
        })
    }

    fn session_key(&self, session: &StoredSession) -> String {
        format!("{}:session:{}", self.prefix, session.id.as_str())
    }

    /// Deletes every key under the harness's own prefix in the Redis of
    /// `MEP24WEB_TEST_REDIS_URL`, so test runs leave nothing behind there. A test that points at a
    /// Redis of its own (stopped by now, or a fake that never replies) is skipped, and the cleanup
    /// gives up after two seconds, so dropping a test application never hangs.
    pub fn delete_all(&self) {
        if !self.own_prefix || redis_url_from_env().as_deref() != Some(self.url.as_str()) {
            return;
        }
        let (url, pattern) = (self.url.clone(), format!("{}:*", self.prefix));
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(delete_matching(&url, &pattern));
        });
        let _ = finished.recv_timeout(std::time::Duration::from_secs(2));
    }
}

/// Deletes the keys that match `pattern`; errors are ignored, the keys then expire on their own.
fn delete_matching(url: &str, pattern: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let timeout = std::time::Duration::from_secs(1);
    let mut connection = client.get_connection_with_timeout(timeout)?;
    connection.set_read_timeout(Some(timeout))?;
    connection.set_write_timeout(Some(timeout))?;
    let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query(&mut connection)?;
    if !keys.is_empty() {
        redis::cmd("DEL").arg(&keys).query::<u64>(&mut connection)?;
    }
    Ok(())
}

impl TestApp {
    /// Creates a session for an account, as a login would, and returns its token.
    pub async fn new_session(
        &self,
        tenant: TenantId,
        account_id: i64,
        kind: SessionKind,
    ) -> String {
        sessions::create(&self.state().sessions, self.db(), tenant, account_id, kind)
            .await
            .unwrap_or_else(|error| panic!("cannot create a session: {error}"))
            .token
    }

    /// Returns every stored session of every tenant.
    pub async fn stored_sessions(&self) -> Vec<StoredSession> {
        self.state()
            .sessions
            .list(self.db(), None)
            .await
            .unwrap_or_else(|error| panic!("cannot list the sessions: {error}"))
    }

    /// Returns the stored sessions of an account.
    pub async fn sessions_of(&self, account_id: i64) -> Vec<StoredSession> {
        let mut sessions = self.stored_sessions().await;
        sessions.retain(|session| session.account_id == account_id);
        sessions
    }

    /// Returns how many sessions of any kind an account has.
    pub async fn session_count(&self, account_id: i64) -> usize {
        self.sessions_of(account_id).await.len()
    }

    /// Returns how many sessions of `kind` an account has.
    pub async fn session_count_of_kind(&self, account_id: i64, kind: SessionKind) -> usize {
        let sessions = self.sessions_of(account_id).await;
        sessions
            .iter()
            .filter(|session| session.kind == kind)
            .count()
    }

    /// Moves the expiry of every stored session that `matches` to `expires_at`, without letting
    /// Redis delete it, so the application's own expiry check is what rejects it.
    pub async fn set_session_expiry(
        &self,
        matches: impl Fn(&StoredSession) -> bool,
        expires_at: DateTime<Utc>,
    ) {
        let chosen: Vec<StoredSession> = self
            .stored_sessions()
            .await
            .into_iter()
            .filter(|session| matches(session))
            .collect();
        assert!(!chosen.is_empty(), "no stored session matches");
        for session in &chosen {
            match &self.redis {
                Some(redis) => {
                    let client = redis::Client::open(redis.url.as_str()).unwrap();
                    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
                    let _: i64 = redis::cmd("HSET")
                        .arg(redis.session_key(session))
                        .arg("expires")
                        .arg(expires_at.timestamp_millis())
                        .query_async(&mut connection)
                        .await
                        .unwrap();
                }
                None => {
                    session::Entity::update_many()
                        .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
                        .filter(session::Column::TokenHash.eq(session.id.as_str()))
                        .exec(self.db())
                        .await
                        .unwrap();
                }
            }
        }
    }
}
