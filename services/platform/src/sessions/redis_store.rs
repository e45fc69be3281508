//! Sessions in Redis, shared by every instance.
//!
//! Keys, all under the configured prefix:
//! - `<prefix>:session:<hash>`: a hash with the fields `tenant`, `account`, `kind`, `created`,
//!   `expires` and `seen` (Unix milliseconds), which Redis deletes when the session expires;
//! - `<prefix>:account-sessions:<tenant>:<account>`: a sorted set of an account's session hashes,
//!   scored by their expiry in Unix milliseconds, so all of them can be ended at once. Storing a
//!   session drops the entries that expired, in time that grows with the number dropped, not
//!   with the size of the set, and Redis deletes the set when its last session expires.
//!
//! Each change is one Lua script, so the two keys never disagree for another instance. The
//! scripts build key names themselves, which a single Redis server or a Sentinel setup allows
//! and Redis Cluster does not.
//!
//! While Redis cannot be reached, every call fails with an error that
//! [`crate::db::is_unavailable`] recognizes, so requests that need a session return 503 and the
//! next request after Redis is back succeeds.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, RuntimeErr, SqlxError};

use super::SessionKind;
use super::store::{SessionId, StoredSession};
use crate::redis_link::RedisLink;
use crate::tenant::TenantId;

/// Pause after a failure before Redis is tried again. Meanwhile requests get 503 at once.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Stores the session under KEYS[1] and adds it to the account's index KEYS[2], after dropping
/// the index entries that expired by `created`. Beyond the maximum per account, the other
/// sessions closest to expiry end. The index then expires with its last session.
/// ARGV: hash, tenant, account, kind, created, expires, seen, maximum, session key prefix.
const INSERT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('HSET', KEYS[1], 'tenant', ARGV[2], 'account', ARGV[3], 'kind', ARGV[4],
  'created', ARGV[5], 'expires', ARGV[6], 'seen', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[8])
if excess > 0 then
  for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess)) do
    if excess > 0 and member ~= ARGV[1] then
      redis.call('DEL', ARGV[9] .. member)
      redis.call('ZREM', KEYS[2], member)
      excess = excess - 1
    end
  end
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1
";

/// Deletes the session KEYS[1] if it belongs to tenant ARGV[1], and removes it from its
/// account's index. ARGV: tenant, index key prefix, hash.
const DELETE: &str = r"
local owner = redis.call('HMGET', KEYS[1], 'tenant', 'account')
if owner[1] ~= ARGV[1] then
  return 0
end
redis.call('ZREM', ARGV[2] .. owner[1] .. ':' .. owner[2], ARGV[3])
return redis.call('DEL', KEYS[1])
";

/// Deletes every session in the account's index KEYS[1] except ARGV[2], and returns how many
/// existed. ARGV: session key prefix, hash to keep (or empty).
const DELETE_FOR_ACCOUNT: &str = r"
local ended = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if member ~= ARGV[2] then
    ended = ended + redis.call('DEL', ARGV[1] .. member)
    redis.call('ZREM', KEYS[1], member)
  end
end
return ended
";

/// Updates the `seen` field of KEYS[1] if the session still exists. ARGV: milliseconds.
const TOUCH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1])
end
return 1
";

/// Sets the `created` field of KEYS[1] to ARGV[2] if the session belongs to tenant ARGV[1].
const RESTAMP: &str = r"
if redis.call('HGET', KEYS[1], 'tenant') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'created', ARGV[2])
end
return 1
";

/// The Redis session store.
pub struct RedisSessions {
    link: RedisLink,
    prefix: String,
}

impl RedisSessions {
    pub(super) fn new(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            link: RedisLink::open(url, "sessions", RETRY_AFTER)?,
            prefix: prefix.to_owned(),
        })
    }

    pub(super) fn is_down(&self) -> bool {
        self.link.is_down()
    }

    fn session_prefix(&self) -> String {
        format!("{}:session:", self.prefix)
    }

    fn index_prefix(&self) -> String {
        format!("{}:account-sessions:", self.prefix)
    }

    fn session_key(&self, id: &SessionId) -> String {
        format!("{}{}", self.session_prefix(), id.as_str())
    }

    fn index_key(&self, tenant: TenantId, account_id: i64) -> String {
        format!("{}{tenant}:{account_id}", self.index_prefix())
    }

    pub(super) async fn insert(&self, session: &StoredSession) -> Result<(), DbErr> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(INSERT)
            .arg(2)
            .arg(self.session_key(&session.id))
            .arg(self.index_key(session.tenant_id, session.account_id))
            .arg(session.id.as_str())
            .arg(session.tenant_id.get())
            .arg(session.account_id)
            .arg(session.kind.as_str())
            .arg(session.created_at.timestamp_millis())
            .arg(session.expires_at.timestamp_millis())
            .arg(session.last_seen_at.timestamp_millis())
            .arg(super::MAX_SESSIONS_PER_ACCOUNT)
            .arg(self.session_prefix());
        self.link.query::<i64>(&command).await.map_err(outage)?;
        Ok(())
    }

    pub(super) async fn find(&self, id: &SessionId) -> Result<Option<StoredSession>, DbErr> {
        let fields: HashMap<String, String> = self
            .link
            .query(redis::cmd("HGETALL").arg(self.session_key(id)))
            .await
            .map_err(outage)?;
        Ok(parse(id.clone(), &fields))
    }

    pub(super) async fn touch(&self, id: &SessionId, now: DateTime<Utc>) -> Result<(), DbErr> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(TOUCH)
            .arg(1)
            .arg(self.session_key(id))
            .arg(now.timestamp_millis());
        self.link.query::<i64>(&command).await.map_err(outage)?;
        Ok(())
    }

    pub(super) async fn restamp(
        &self,
        tenant: TenantId,
        id: &SessionId,
        created_at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(RESTAMP)
            .arg(1)
            .arg(self.session_key(id))
            .arg(tenant.get())
            .arg(created_at.timestamp_millis());
        self.link.query::<i64>(&command).await.map_err(outage)?;
        Ok(())
    }

    pub(super) async fn delete(&self, tenant: TenantId, id: &SessionId) -> Result<(), DbErr> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(DELETE)
            .arg(1)
            .arg(self.session_key(id))
            .arg(tenant.get())
            .arg(self.index_prefix())
            .arg(id.as_str());
        self.link.query::<i64>(&command).await.map_err(outage)?;
        Ok(())
    }

    pub(super) async fn delete_for_account(
        &self,
        tenant: TenantId,
        account_id: i64,
        keep: Option<&SessionId>,
    ) -> Result<u64, DbErr> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(DELETE_FOR_ACCOUNT)
            .arg(1)
            .arg(self.index_key(tenant, account_id))
            .arg(self.session_prefix())
            .arg(keep.map_or("", SessionId::as_str));
        self.link.query::<u64>(&command).await.map_err(outage)
    }

    pub(super) async fn list(&self) -> Result<Vec<StoredSession>, DbErr> {
        let prefix = self.session_prefix();
        let mut cursor: u64 = 0;
        let mut sessions = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .link
                .query(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{prefix}*"))
                        .arg("COUNT")
                        .arg(1000),
                )
                .await
                .map_err(outage)?;
            for key in keys {
                let Some(hash) = key.strip_prefix(&prefix) else {
                    continue;
                };
                if let Some(session) = self.find(&SessionId::from_hash(hash.to_owned())).await? {
                    sessions.push(session);
                }
            }
            if next == 0 {
                return Ok(sessions);
            }
            cursor = next;
        }
    }
}

/// Reads a session from its hash fields; missing or malformed fields read as no session.
fn parse(id: SessionId, fields: &HashMap<String, String>) -> Option<StoredSession> {
    let number = |name: &str| fields.get(name)?.parse::<i64>().ok();
    let time = |name: &str| DateTime::from_timestamp_millis(number(name)?);
    Some(StoredSession {
        id,
        tenant_id: TenantId::new(number("tenant")?),
        account_id: number("account")?,
        kind: SessionKind::parse(fields.get("kind")?)?,
        created_at: time("created")?,
        expires_at: time("expires")?,
        last_seen_at: time("seen")?,
    })
}

/// A failed request to the session store in Redis.
#[derive(Debug, thiserror::Error)]
#[error("session store in Redis: {0}")]
pub struct SessionStoreUnavailable(String);

/// Wraps a Redis failure as a database error that [`crate::db::is_unavailable`] counts as an
/// outage: an I/O error of the connection to the session store. The I/O error carries a
/// [`SessionStoreUnavailable`], so logs can name Redis (see
/// [`crate::error::unavailable_dependency`]).
fn outage(error: anyhow::Error) -> DbErr {
    let io = std::io::Error::other(SessionStoreUnavailable(format!("{error:#}")));
    DbErr::Conn(RuntimeErr::SqlxError(SqlxError::Io(io)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn parse_reads_every_field() {
        let id = SessionId::from_hash("ab".to_owned());
        let session = parse(
            id.clone(),
            &fields(&[
                ("tenant", "7"),
                ("account", "42"),
                ("kind", "app"),
                ("created", "1764900000000"),
                ("expires", "1764903600000"),
                ("seen", "1764900060000"),
            ]),
        );
        let session = session.expect("complete fields parse");
        assert_eq!(session.id, id);
        assert_eq!(session.tenant_id, TenantId::new(7));
        assert_eq!(session.account_id, 42);
        assert_eq!(session.kind, SessionKind::App);
        assert_eq!(
            session.expires_at - session.created_at,
            chrono::Duration::hours(1)
        );
        assert_eq!(
            session.last_seen_at - session.created_at,
            chrono::Duration::minutes(1)
        );
    }

    #[test]
    fn parse_rejects_missing_or_unknown_fields() {
        let id = SessionId::from_hash("ab".to_owned());
        assert_eq!(parse(id.clone(), &HashMap::new()), None);
        let unknown_kind = fields(&[
            ("tenant", "7"),
            ("account", "42"),
            ("kind", "root"),
            ("created", "1"),
            ("expires", "2"),
            ("seen", "1"),
        ]);
        assert_eq!(parse(id, &unknown_kind), None);
    }

    #[test]
    fn outage_counts_as_unavailable() {
        let error = outage(anyhow::anyhow!("connection refused"));
        assert!(crate::db::is_unavailable(&error));
        assert!(error.to_string().contains("session store in Redis"));
    }

    #[test]
    fn outage_names_redis_as_the_dependency() {
        let error = anyhow::Error::from(outage(anyhow::anyhow!("connection refused")));
        assert!(crate::error::is_database_unavailable(&error));
        assert_eq!(crate::error::unavailable_dependency(&error), "redis");
        let database = anyhow::Error::from(DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        ));
        assert_eq!(crate::error::unavailable_dependency(&database), "database");
    }
}
