//! Tenant resolution: normalized host → tenant, through an in-process cache in front of the
//! database.
//!
//! Every change to a tenant (by this server or by the CLI in another process) increments the
//! `tenant_generation` counter in `platform_state` in the same transaction. Each server polls that
//! counter every [`POLL_INTERVAL`] and empties its cache when it moved, so a change is served
//! within about half a second everywhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use mep24web_entities::{platform_state, tenant, tenant_domain};
use mep24web_platform::urls::PublicUrls;
use mep24web_platform::{TenantContext, TenantId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};
use tokio::sync::{RwLock, watch};

use crate::host::HostKind;

/// How often servers check whether a tenant changed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Cached hosts (including unknown ones) before the cache is emptied, so random hosts cannot
/// grow it without bound.
const MAX_CACHED_HOSTS: usize = 100_000;
const GENERATION_KEY: &str = "tenant_generation";

/// Resolves hosts to tenants and caches the result.
pub struct TenantResolver {
    db: DatabaseConnection,
    urls: Arc<PublicUrls>,
    cache: RwLock<HashMap<String, Option<Arc<TenantContext>>>>,
    generation: AtomicI64,
}

impl TenantResolver {
    pub fn new(db: DatabaseConnection, urls: Arc<PublicUrls>) -> Self {
        Self {
            db,
            urls,
            cache: RwLock::new(HashMap::new()),
            generation: AtomicI64::new(i64::MIN),
        }
    }

    /// Returns the tenant of a tenant or custom-domain host, `None` for an unknown one.
    pub async fn resolve(&self, kind: &HostKind) -> Result<Option<Arc<TenantContext>>, DbErr> {
        let cache_key = match kind {
            HostKind::Tenant(slug) => format!("slug:{}", slug.as_str()),
            HostKind::Custom(host) => format!("host:{host}"),
            HostKind::Apex | HostKind::Www => return Ok(None),
        };
        if let Some(hit) = self.cache.read().await.get(&cache_key) {
            return Ok(hit.clone());
        }
        let found = match kind {
            HostKind::Tenant(slug) => unscoped_find_by_slug(&self.db, slug.as_str()).await?,
            HostKind::Custom(host) => {
                let txn = mep24web_platform::db::begin_unscoped(&self.db).await?;
                let found = unscoped_find_by_domain(&txn, host).await?;
                txn.commit().await?;
                found
            }
            HostKind::Apex | HostKind::Www => None,
        };
        let context = found.map(|row| Arc::new(context_of(&row, &self.urls)));
        let mut cache = self.cache.write().await;
        if cache.len() >= MAX_CACHED_HOSTS {
            cache.clear();
        }
        cache.insert(cache_key, context.clone());
        Ok(context)
    }

    /// Empties the cache.
    pub async fn invalidate_all(&self) {
        self.cache.write().await.clear();
    }

    /// Checks the generation counter once and empties the cache when it moved.
    pub async fn refresh(&self) -> Result<(), DbErr> {
        let current = current_generation(&self.db).await?;
        let previous = self.generation.swap(current, Ordering::SeqCst);
        if previous != current {
            self.invalidate_all().await;
            if previous != i64::MIN {
                tracing::debug!(generation = current, "tenant cache emptied after a change");
            }
        }
        Ok(())
    }

    /// Polls the generation counter until `shutdown` turns true.
    pub async fn watch_changes(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut failing = false;
        loop {
            match self.refresh().await {
                Ok(()) => failing = false,
                Err(error) => {
                    // Logged once per outage, not every half second.
                    if !failing {
                        tracing::error!(%error, "tenant change check failed");
                    }
                    failing = true;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
}

/// Builds the request context of a tenant row.
pub fn context_of(row: &tenant::Model, urls: &PublicUrls) -> TenantContext {
    TenantContext {
        id: TenantId::new(row.id),
        customer_number: row.customer_number,
        slug: row.slug.clone(),
        name: row.name.clone(),
        suspended: row.status != "active",
        primary_host: row
            .primary_domain
            .clone()
            .unwrap_or_else(|| urls.tenant_host(&row.slug)),
        time_zone: row.time_zone.parse().unwrap_or(chrono_tz::Europe::Berlin),
    }
}

/// Finds a tenant by slug, across all tenants.
pub async fn unscoped_find_by_slug<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug))
        .one(conn)
        .await
}

/// Finds a tenant by customer number, across all tenants.
pub async fn unscoped_find_by_customer_number<C: ConnectionTrait>(
    conn: &C,
    customer_number: i64,
) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::CustomerNumber.eq(customer_number))
        .one(conn)
        .await
}

/// Finds the tenant of a verified custom domain, across all tenants.
pub async fn unscoped_find_by_domain<C: ConnectionTrait>(
    conn: &C,
    host: &str,
) -> Result<Option<tenant::Model>, DbErr> {
    let Some(domain) = tenant_domain::Entity::find()
        .filter(tenant_domain::Column::Domain.eq(host))
        .filter(tenant_domain::Column::Verified.eq(true))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    tenant::Entity::find_by_id(domain.tenant_id).one(conn).await
}

async fn current_generation<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    Ok(
        platform_state::Entity::find_by_id(GENERATION_KEY.to_owned())
            .one(conn)
            .await?
            .map_or(0, |row| row.value),
    )
}

/// Increments the tenant generation; call it in the transaction that changes a tenant.
pub async fn bump_generation<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    platform_state::Entity::insert(platform_state::ActiveModel {
        key: Set(GENERATION_KEY.to_owned()),
        value: Set(1),
    })
    .on_conflict(
        OnConflict::column(platform_state::Column::Key)
            .value(
                platform_state::Column::Value,
                Expr::col((platform_state::Entity, platform_state::Column::Value)).add(1),
            )
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
