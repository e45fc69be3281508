//! The session store: rows of the `sessions` table, or Redis when `MEP24WEB_REDIS_URL` is set
//! (see [`super::redis_store`]). Both keep the same records under the hash of the token,
//! never the token itself.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mep24web_entities::session;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::SessionKind;
use super::redis_store::RedisSessions;
use crate::db::Scoped;
use crate::tenant::TenantId;

/// Identifies a session: the SHA-256 hex digest of its token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// Returns the id of the session behind `token`.
    pub fn of_token(token: &str) -> Self {
        Self(crate::tokens::hash(token))
    }

    pub(super) fn from_hash(hash: String) -> Self {
        Self(hash)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored session, from either store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub account_id: i64,
    pub kind: SessionKind,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// The session store of this server. Cheap to clone.
///
/// Every method takes the database connection of the caller, which the database store writes
/// through, so its changes commit or roll back with the caller's transaction. Redis changes take
/// effect at once. So a transaction that ends sessions and then rolls back leaves them ended:
/// people are signed out, but no session stays alive that should have ended.
#[derive(Clone)]
pub enum SessionStore {
    /// Rows of the `sessions` table.
    Database,
    /// Keys in Redis, shared by every instance.
    Redis(Arc<RedisSessions>),
}

impl SessionStore {
    /// Returns a store in Redis at `url`, with every key under `prefix`. Nothing connects yet,
    /// so only a malformed URL fails here.
    pub fn redis(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        Ok(Self::Redis(Arc::new(RedisSessions::new(url, prefix)?)))
    }

    /// Returns whether Redis is considered down, or `None` for the database store.
    pub fn redis_down(&self) -> Option<bool> {
        match self {
            Self::Database => None,
            Self::Redis(redis) => Some(redis.is_down()),
        }
    }

    /// Stores a new session.
    pub async fn insert<C: ConnectionTrait>(
        &self,
        conn: &C,
        session: &StoredSession,
    ) -> Result<(), DbErr> {
        match self {
            Self::Database => {
                session::ActiveModel {
                    tenant_id: Set(session.tenant_id.get()),
                    account_id: Set(session.account_id),
                    kind: Set(session.kind.as_str().to_owned()),
                    token_hash: Set(session.id.as_str().to_owned()),
                    created_at: Set(session.created_at),
                    expires_at: Set(session.expires_at),
                    last_seen_at: Set(session.last_seen_at),
                    ..Default::default()
                }
                .insert(conn)
                .await?;
                end_excess_rows(conn, session).await
            }
            Self::Redis(redis) => redis.insert(session).await,
        }
    }

    /// Returns the session `id`, of `tenant` when given, expired or not. With `tenant` `None`
    /// the database store looks across tenants, which on PostgreSQL works only on an unscoped
    /// connection (see [`crate::db::begin_unscoped`]).
    pub async fn find<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: Option<TenantId>,
        id: &SessionId,
    ) -> Result<Option<StoredSession>, DbErr> {
        let found = match self {
            Self::Database => {
                let query = match tenant {
                    Some(tenant) => Scoped::new(conn, tenant).find::<session::Entity>(),
                    None => session::Entity::find(),
                };
                query
                    .filter(session::Column::TokenHash.eq(id.as_str()))
                    .one(conn)
                    .await?
                    .and_then(from_row)
            }
            Self::Redis(redis) => redis.find(id).await?,
        };
        Ok(found.filter(|session| tenant.is_none_or(|tenant| session.tenant_id == tenant)))
    }

    /// Records that the session was used at `now`.
    pub async fn touch<C: ConnectionTrait>(
        &self,
        conn: &C,
        session: &StoredSession,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        match self {
            Self::Database => {
                Scoped::new(conn, session.tenant_id)
                    .update_many::<session::Entity>()
                    .col_expr(session::Column::LastSeenAt, Expr::value(now))
                    .filter(session::Column::TokenHash.eq(session.id.as_str()))
                    .exec(conn)
                    .await?;
                Ok(())
            }
            Self::Redis(redis) => redis.touch(&session.id, now).await,
        }
    }

    /// Sets the creation time of the session `id` of `tenant` to `created_at`, if it exists.
    pub async fn restamp<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: TenantId,
        id: &SessionId,
        created_at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        match self {
            Self::Database => {
                Scoped::new(conn, tenant)
                    .update_many::<session::Entity>()
                    .col_expr(session::Column::CreatedAt, Expr::value(created_at))
                    .filter(session::Column::TokenHash.eq(id.as_str()))
                    .exec(conn)
                    .await?;
                Ok(())
            }
            Self::Redis(redis) => redis.restamp(tenant, id, created_at).await,
        }
    }

    /// Deletes the session `id` of `tenant`; another tenant's session stays.
    pub async fn delete<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: TenantId,
        id: &SessionId,
    ) -> Result<(), DbErr> {
        match self {
            Self::Database => {
                Scoped::new(conn, tenant)
                    .delete_many::<session::Entity>()
                    .filter(session::Column::TokenHash.eq(id.as_str()))
                    .exec(conn)
                    .await?;
                Ok(())
            }
            Self::Redis(redis) => redis.delete(tenant, id).await,
        }
    }

    /// Deletes every session of an account except `keep`, and returns how many it deleted.
    pub async fn delete_for_account<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: TenantId,
        account_id: i64,
        keep: Option<&SessionId>,
    ) -> Result<u64, DbErr> {
        match self {
            Self::Database => {
                let mut delete = Scoped::new(conn, tenant)
                    .delete_many::<session::Entity>()
                    .filter(session::Column::AccountId.eq(account_id));
                if let Some(keep) = keep {
                    delete = delete.filter(session::Column::TokenHash.ne(keep.as_str()));
                }
                Ok(delete.exec(conn).await?.rows_affected)
            }
            Self::Redis(redis) => redis.delete_for_account(tenant, account_id, keep).await,
        }
    }

    /// Lists the stored sessions, of `tenant` when given, for operator tools and tests. The
    /// Redis store scans every key under its prefix, so this is not for request handlers.
    pub async fn list<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: Option<TenantId>,
    ) -> Result<Vec<StoredSession>, DbErr> {
        let all = match self {
            Self::Database => {
                let query = match tenant {
                    Some(tenant) => Scoped::new(conn, tenant).find::<session::Entity>(),
                    None => session::Entity::find(),
                };
                query
                    .all(conn)
                    .await?
                    .into_iter()
                    .filter_map(from_row)
                    .collect()
            }
            Self::Redis(redis) => redis.list().await?,
        };
        Ok(all
            .into_iter()
            .filter(|session| tenant.is_none_or(|tenant| session.tenant_id == tenant))
            .collect())
    }
}

/// Ends the account's sessions closest to expiry, other than the one just stored, beyond
/// [`super::MAX_SESSIONS_PER_ACCOUNT`].
async fn end_excess_rows<C: ConnectionTrait>(
    conn: &C,
    stored: &StoredSession,
) -> Result<(), DbErr> {
    let scope = Scoped::new(conn, stored.tenant_id);
    // The others that stay are the ones expiring last, one fewer than the maximum because the
    // new session counts too. Everything after them in this order ends.
    let ending: Vec<i64> = scope
        .find::<session::Entity>()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::AccountId.eq(stored.account_id))
        .filter(session::Column::TokenHash.ne(stored.id.as_str()))
        .order_by_desc(session::Column::ExpiresAt)
        .offset(super::MAX_SESSIONS_PER_ACCOUNT - 1)
        // SQLite accepts OFFSET only after a LIMIT, so this one is as large as SQL allows.
        .limit(i64::MAX.unsigned_abs())
        .into_tuple()
        .all(conn)
        .await?;
    if ending.is_empty() {
        return Ok(());
    }
    scope
        .delete_many::<session::Entity>()
        .filter(session::Column::Id.is_in(ending))
        .exec(conn)
        .await?;
    Ok(())
}

/// Converts a row; a row of an unknown kind is skipped as if it did not exist.
fn from_row(row: session::Model) -> Option<StoredSession> {
    Some(StoredSession {
        id: SessionId::from_hash(row.token_hash),
        tenant_id: TenantId::new(row.tenant_id),
        account_id: row.account_id,
        kind: SessionKind::parse(&row.kind)?,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_seen_at: row.last_seen_at,
    })
}
