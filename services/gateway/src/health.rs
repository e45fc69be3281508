//! Health endpoints for load balancers and orchestrators.
//!
//! `GET /healthz` returns 200 while the process serves requests and checks nothing else, so a
//! liveness probe restarts only a process that hangs. `GET /readyz` checks the database and,
//! when configured, Redis. Without the database an instance cannot serve, so it returns 503 and
//! a load balancer sends it no traffic. Without Redis every instance still serves public pages,
//! and its own 503 page for requests that need a session. The login limits fall back to
//! in-process counters and tenant changes to polling. A 503 here would take every instance out at
//! once when a shared Redis goes down, so it returns 200 with status `degraded` and names `redis`
//! as failed, for monitoring. It also returns 503 once the server is
//! shutting down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

/// Time limit of each check. Both run at once, so `/readyz` responds within this time, below the
/// one-second default timeout of a Kubernetes probe.
const CHECK_TIMEOUT: Duration = Duration::from_millis(800);

/// The state `/readyz` checks; cheap to clone.
#[derive(Clone)]
pub struct Readiness {
    db: DatabaseConnection,
    redis: Option<Arc<RedisProbe>>,
    draining: Arc<AtomicBool>,
    database_failing: Arc<AtomicBool>,
}

/// The outcome of one check, as it appears in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Check {
    Ok,
    Failed,
    TimedOut,
}

#[derive(Serialize)]
struct Checks {
    database: Check,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<Check>,
}

#[derive(Serialize)]
struct ReadyBody {
    /// `ready`, `unavailable` or `shutting_down`.
    status: &'static str,
    /// Names of the failed checks, empty when ready.
    failed: Vec<&'static str>,
    checks: Checks,
}

impl Readiness {
    /// Checks `db`, and Redis at `redis_url` when it is set. A malformed Redis URL fails here.
    pub fn new(db: DatabaseConnection, redis_url: Option<&str>) -> redis::RedisResult<Self> {
        let redis = match redis_url {
            Some(url) => Some(Arc::new(RedisProbe::new(url)?)),
            None => None,
        };
        Ok(Self {
            db,
            redis,
            draining: Arc::new(AtomicBool::new(false)),
            database_failing: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Makes `/readyz` return 503 from now on, because the server is shutting down.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Runs the checks and builds the `/readyz` response.
    pub async fn respond(&self) -> Response {
        let redis = async {
            match &self.redis {
                Some(probe) => Some(probe.check().await),
                None => None,
            }
        };
        let (database, redis) = tokio::join!(self.check_database(), redis);

        let mut failed = Vec::new();
        if database != Check::Ok {
            failed.push("database");
        }
        if redis.is_some_and(|check| check != Check::Ok) {
            failed.push("redis");
        }
        let draining = self.draining.load(Ordering::Relaxed);
        let status = if draining {
            "shutting_down"
        } else if failed.contains(&"database") {
            "unavailable"
        } else if failed.is_empty() {
            "ready"
        } else {
            "degraded"
        };
        let code = if matches!(status, "ready" | "degraded") {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let body = ReadyBody {
            status,
            failed,
            checks: Checks { database, redis },
        };
        (
            code,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(body),
        )
            .into_response()
    }

    async fn check_database(&self) -> Check {
        let result =
            tokio::time::timeout(CHECK_TIMEOUT, self.db.execute_unprepared("SELECT 1")).await;
        let (check, error) = match result {
            Ok(Ok(_)) => (Check::Ok, None),
            Ok(Err(error)) => (Check::Failed, Some(error.to_string())),
            Err(_) => (
                Check::TimedOut,
                Some(format!("timed out after {CHECK_TIMEOUT:?}")),
            ),
        };
        log_change(&self.database_failing, "database", error);
        check
    }
}

/// Logs the first failure of a dependency and its recovery, not every probe in between.
fn log_change(failing: &AtomicBool, dependency: &'static str, error: Option<String>) {
    let was_failing = failing.swap(error.is_some(), Ordering::Relaxed);
    match error {
        Some(error) if !was_failing => {
            tracing::warn!(dependency, %error, "readiness check failed");
        }
        None if was_failing => tracing::info!(dependency, "readiness check passes again"),
        _ => {}
    }
}

/// Sends `PING` to Redis over one kept connection, reconnecting after a failure.
struct RedisProbe {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    failing: AtomicBool,
}

impl RedisProbe {
    fn new(url: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: tokio::sync::Mutex::new(None),
            failing: AtomicBool::new(false),
        })
    }

    async fn check(&self) -> Check {
        let (check, error) = match tokio::time::timeout(CHECK_TIMEOUT, self.ping()).await {
            Ok(Ok(())) => (Check::Ok, None),
            Ok(Err(error)) => (Check::Failed, Some(error.to_string())),
            Err(_) => (
                Check::TimedOut,
                Some(format!("timed out after {CHECK_TIMEOUT:?}")),
            ),
        };
        if check != Check::Ok {
            // The next check opens a new connection rather than reusing one that may be dead.
            *self.connection.lock().await = None;
        }
        log_change(&self.failing, "redis", error);
        check
    }

    async fn ping(&self) -> redis::RedisResult<()> {
        let mut slot = self.connection.lock().await;
        let mut connection = match slot.as_ref() {
            Some(connection) => connection.clone(),
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(CHECK_TIMEOUT)
                    .set_response_timeout(CHECK_TIMEOUT);
                let connection = self
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                *slot = Some(connection.clone());
                connection
            }
        };
        drop(slot);
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn memory_database() -> DatabaseConnection {
        sea_orm::Database::connect("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn ready_without_redis() {
        let readiness = Readiness::new(memory_database().await, None).unwrap();
        let response = readiness.respond().await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = body_of(response).await;
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"]["database"], "ok");
        assert!(body["checks"].get("redis").is_none());
    }

    #[tokio::test]
    async fn draining_answers_503() {
        let readiness = Readiness::new(memory_database().await, None).unwrap();
        readiness.start_draining();
        let response = readiness.respond().await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = body_of(response).await;
        assert_eq!(body["status"], "shutting_down");
        assert_eq!(body["failed"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn closed_database_fails() {
        let database = memory_database().await;
        let readiness = Readiness::new(database.clone(), None).unwrap();
        database.close().await.unwrap();
        let response = readiness.respond().await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = body_of(response).await;
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["failed"], serde_json::json!(["database"]));
        assert_eq!(body["checks"]["database"], "failed");
    }
}
