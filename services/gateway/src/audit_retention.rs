//! The worker that deletes audit log events older than each tenant's retention, once an hour.

use std::time::Duration;

use mep24web_platform::audit;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

/// Time between two cleanups.
const CLEANUP_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Wait before the first cleanup. Deleting right at start-up would compete with the first
/// requests for SQLite's single writer lock, and nothing needs the cleanup that early.
const FIRST_CLEANUP_DELAY: Duration = Duration::from_secs(5 * 60);

/// Runs the hourly cleanup until `shutdown` changes. A failed cleanup is logged and retried at
/// the next interval.
pub async fn run(db: DatabaseConnection, mut shutdown: watch::Receiver<bool>) {
    tracing::info!(
        interval_seconds = CLEANUP_INTERVAL.as_secs(),
        "audit retention worker started"
    );
    tokio::select! {
        _ = tokio::time::sleep(FIRST_CLEANUP_DELAY) => {}
        _ = shutdown.changed() => {
            tracing::info!("audit retention worker stopped");
            return;
        }
    }
    loop {
        let round = tokio::select! {
            round = audit::unscoped_delete_expired(&db) => round,
            _ = shutdown.changed() => break,
        };
        match round {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "expired audit events deleted"),
            Err(error) => tracing::error!(%error, "audit retention cleanup failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(CLEANUP_INTERVAL) => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
    tracing::info!("audit retention worker stopped");
}
