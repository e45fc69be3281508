//! Limits on login attempts per client address and per tenant, checked before any password is
//! hashed, so a flood of guesses costs neither CPU nor lockouts.
//!
//! Every entry point that checks a secret counts here: the login form, the app login, the
//! request for a reset link and the security code at registration. They share one budget per
//! client and one per tenant. The counters use fixed windows: each window of
//! [`Limits::window_seconds`] starts from zero, so up to twice a limit can pass around a window
//! boundary.
//!
//! The counters live in this process unless Redis is configured; then all instances share them.
//! While Redis cannot be reached, the in-process counters take over and the outage is logged
//! once.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

mod memory;
mod page;
mod redis_counter;

pub use memory::MemoryCounter;
pub use page::rate_limited_page;
pub use redis_counter::RedisCounter;

use crate::tenant::TenantId;

/// Default attempts per client address and window.
pub const DEFAULT_PER_IP: u32 = 20;
/// Default attempts per tenant and window.
pub const DEFAULT_PER_TENANT: u32 = 300;
/// Default window length in seconds.
pub const DEFAULT_WINDOW_SECONDS: u64 = 60;
/// Default number of client addresses the in-process counter tracks per window.
pub const DEFAULT_MAX_TRACKED: usize = 100_000;

/// The configured limits. A limit of 0 turns that limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub per_ip: u32,
    pub per_tenant: u32,
    pub window_seconds: u64,
    /// Maximum number of keys the in-process counter stores per window and kind (addresses,
    /// tenants).
    pub max_tracked: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_ip: DEFAULT_PER_IP,
            per_tenant: DEFAULT_PER_TENANT,
            window_seconds: DEFAULT_WINDOW_SECONDS,
            max_tracked: DEFAULT_MAX_TRACKED,
        }
    }
}

/// The limit an attempt ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitScope {
    ClientIp,
    Tenant,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientIp => "client_ip",
            Self::Tenant => "tenant",
        }
    }
}

/// The outcome of counting one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over a limit: the caller rejects the attempt without checking the secret.
    Limited {
        scope: LimitScope,
        /// Seconds until the current window ends, at least 1.
        retry_after_seconds: u64,
    },
}

/// Counts login attempts and decides whether one may go ahead. Cheap to clone: clones share
/// their counters.
#[derive(Clone)]
pub struct LoginLimiter {
    limits: Limits,
    by_ip: std::sync::Arc<MemoryCounter>,
    by_tenant: std::sync::Arc<MemoryCounter>,
    redis: Option<std::sync::Arc<RedisCounter>>,
}

impl LoginLimiter {
    /// Creates a limiter whose counters live in this process.
    pub fn in_process(limits: Limits) -> Self {
        Self {
            limits,
            by_ip: std::sync::Arc::new(MemoryCounter::new(limits.max_tracked)),
            by_tenant: std::sync::Arc::new(MemoryCounter::new(limits.max_tracked)),
            redis: None,
        }
    }

    /// Creates a limiter whose counters live in Redis, with the in-process counters as the
    /// fallback while Redis cannot be reached.
    pub fn with_redis(limits: Limits, redis: RedisCounter) -> Self {
        Self {
            redis: Some(std::sync::Arc::new(redis)),
            ..Self::in_process(limits)
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Counts one attempt from `client` on `tenant` (if known) and decides. The client's limit
    /// is checked first, and an attempt over it is not counted for the tenant, so one client
    /// alone cannot use up the tenant's limit.
    pub async fn check(&self, client: IpAddr, tenant: Option<TenantId>) -> Decision {
        let now = unix_seconds();
        let window_seconds = self.limits.window_seconds.max(1);
        let window = now / window_seconds;
        let retry_after_seconds = window_seconds - now % window_seconds;

        if self.limits.per_ip > 0 {
            let key = format!("ip:{}", address_key(client));
            let count = self.count(&self.by_ip, &key, window).await;
            if over_limit(count, self.limits.per_ip, LimitScope::ClientIp, tenant) {
                crate::metrics::count_rate_limited(LimitScope::ClientIp);
                return Decision::Limited {
                    scope: LimitScope::ClientIp,
                    retry_after_seconds,
                };
            }
        }
        if let Some(tenant) = tenant
            && self.limits.per_tenant > 0
        {
            let key = format!("tenant:{tenant}");
            let count = self.count(&self.by_tenant, &key, window).await;
            if over_limit(
                count,
                self.limits.per_tenant,
                LimitScope::Tenant,
                Some(tenant),
            ) {
                crate::metrics::count_rate_limited(LimitScope::Tenant);
                return Decision::Limited {
                    scope: LimitScope::Tenant,
                    retry_after_seconds,
                };
            }
        }
        Decision::Allowed
    }

    /// Returns whether Redis is considered down, or `None` without Redis.
    pub fn redis_down(&self) -> Option<bool> {
        self.redis.as_ref().map(|redis| redis.is_down())
    }

    /// Returns how many client addresses the in-process counter stores, for tests of its bound.
    pub fn tracked_addresses(&self) -> usize {
        self.by_ip.len()
    }

    async fn count(&self, memory: &MemoryCounter, key: &str, window: u64) -> u64 {
        if let Some(redis) = &self.redis
            && let Some(count) = redis
                .increment(key, window, self.limits.window_seconds.max(1))
                .await
        {
            return count;
        }
        memory.increment(key, window)
    }
}

/// Returns true when `count` is over `limit`, and logs the first attempt over it in a window.
fn over_limit(count: u64, limit: u32, scope: LimitScope, tenant: Option<TenantId>) -> bool {
    let limit = u64::from(limit);
    if count == limit + 1 {
        tracing::warn!(
            scope = scope.as_str(),
            tenant_id = tenant.map(TenantId::get),
            limit,
            "login attempts over the limit; further attempts are rejected until the window ends"
        );
    }
    count > limit
}

/// Returns the counter key of a client address: an IPv4 address as is, an IPv6 address by its
/// /64 prefix, because one home or mobile connection usually gets a whole /64.
pub fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn limits(per_ip: u32, per_tenant: u32) -> Limits {
        Limits {
            per_ip,
            per_tenant,
            // One day, so a test never crosses a window boundary.
            window_seconds: 86_400,
            max_tracked: 1_000,
        }
    }

    #[test]
    fn address_key_groups_ipv6_by_64() {
        assert_eq!(address_key(ip("203.0.113.7")), "203.0.113.7");
        assert_eq!(address_key(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(address_key(ip("2001:db8:1:2::9")), "2001:db8:1:2::/64");
        assert_eq!(address_key(ip("::ffff:203.0.113.7")), "203.0.113.7");
    }

    #[tokio::test]
    async fn check_limits_each_client() {
        let limiter = LoginLimiter::in_process(limits(3, 100));
        for _ in 0..3 {
            assert_eq!(
                limiter.check(ip("203.0.113.7"), None).await,
                Decision::Allowed
            );
        }
        let Decision::Limited {
            scope,
            retry_after_seconds,
        } = limiter.check(ip("203.0.113.7"), None).await
        else {
            panic!("fourth attempt allowed");
        };
        assert_eq!(scope, LimitScope::ClientIp);
        assert!((1..=86_400).contains(&retry_after_seconds));
        assert_eq!(
            limiter.check(ip("203.0.113.8"), None).await,
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn check_limits_tenant_across_clients() {
        let limiter = LoginLimiter::in_process(limits(100, 2));
        let tenant = Some(TenantId::new(7));
        assert_eq!(
            limiter.check(ip("192.0.2.1"), tenant).await,
            Decision::Allowed
        );
        assert_eq!(
            limiter.check(ip("192.0.2.2"), tenant).await,
            Decision::Allowed
        );
        assert!(matches!(
            limiter.check(ip("192.0.2.3"), tenant).await,
            Decision::Limited {
                scope: LimitScope::Tenant,
                ..
            }
        ));
        let other = Some(TenantId::new(8));
        assert_eq!(
            limiter.check(ip("192.0.2.3"), other).await,
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn client_over_limit_does_not_count_for_tenant() {
        let limiter = LoginLimiter::in_process(limits(1, 3));
        let tenant = Some(TenantId::new(7));
        for _ in 0..10 {
            limiter.check(ip("192.0.2.1"), tenant).await;
        }
        assert_eq!(
            limiter.check(ip("192.0.2.2"), tenant).await,
            Decision::Allowed
        );
        assert_eq!(
            limiter.check(ip("192.0.2.3"), tenant).await,
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn zero_turns_limit_off() {
        let limiter = LoginLimiter::in_process(limits(0, 0));
        for _ in 0..50 {
            assert_eq!(
                limiter.check(ip("192.0.2.1"), Some(TenantId::new(1))).await,
                Decision::Allowed
            );
        }
    }
}
