//! The outbox worker: claims due mails one at a time, sends them and records the outcome. Every
//! instance may run one, all on the same outbox.
//!
//! A claim is a short transaction that picks the next due row and sets `locked_until` and
//! `claimed_by`. On PostgreSQL the pick is `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent
//! workers take different rows without waiting for each other. SQLite has no row locks, but the
//! transaction holds the database write lock from its first statement, so claims run one after
//! the other. The claim lasts the longest time one delivery can take plus a margin, so it ends
//! only when its worker stopped without releasing it. The outcome is written only while
//! `claimed_by` still contains the worker's id.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use lettre::message::Mailbox;
use mep24web_entities::outbox;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, UpdateMany,
};
use tokio::sync::watch;

use super::transport::{Session, Transport};
use super::{MailSender, backoff, build_message, domain_of, redact_addresses};
use crate::db::begin_unscoped;

/// Default of [`OutboxWorker::max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// Time a claim lasts beyond the longest delivery, for the database writes around it.
const CLAIM_MARGIN: StdDuration = StdDuration::from_secs(60);

/// Maximum wait for releasing the claims at shutdown.
const RELEASE_TIMEOUT: StdDuration = StdDuration::from_secs(2);

/// Characters of an error message kept in `last_error`.
const MAX_ERROR_CHARS: usize = 2000;

/// Random id of one worker, written into the rows it claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerId(String);

impl WorkerId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Sends outbox rows until `shutdown` turns true.
pub struct OutboxWorker {
    pub db: DatabaseConnection,
    pub transport: Transport,
    pub from: Mailbox,
    pub sender: MailSender,
    /// Time between polls when nothing wakes the worker.
    pub poll_interval: StdDuration,
    /// Delivery attempts after which a mail is marked `dead` and left for an operator.
    pub max_attempts: i32,
}

/// Outcome of one delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    Sent,
    Failed,
    /// The mail server did not reply within a step's time limit.
    TimedOut,
}

impl OutboxWorker {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let worker = WorkerId::random();
        tracing::info!(
            transport = %self.transport.describe(),
            worker_id = worker.as_str(),
            "outbox worker started"
        );
        loop {
            // A round waits for the mail server, so shutdown interrupts it. The claim of a mail
            // whose delivery is cut off is released below, so another worker sends it soon. If
            // the server had already accepted the message, it arrives twice.
            let round = tokio::select! {
                round = self.send_due(&worker) => round,
                _ = shutdown.changed() => break,
            };
            match round {
                Ok(0) => {}
                Ok(sent) => tracing::debug!(sent, "outbox round finished"),
                Err(error) => tracing::error!(error = format!("{error:#}"), "outbox round failed"),
            }
            tokio::select! {
                _ = self.sender.wake.notified() => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
        self.release_claims(&worker).await;
        tracing::info!(worker_id = worker.as_str(), "outbox worker stopped");
    }

    /// Claims and sends due mails one by one until none is due or a delivery timed out, and
    /// returns how many were sent. Several workers may call this at the same time.
    pub async fn send_due(&self, worker: &WorkerId) -> anyhow::Result<usize> {
        let mut session = self.transport.session();
        let sent = self.send_claimed(&mut session, worker).await;
        session.close().await;
        sent
    }

    async fn send_claimed(
        &self,
        session: &mut Session<'_>,
        worker: &WorkerId,
    ) -> anyhow::Result<usize> {
        let mut sent = 0;
        while let Some(row) = self.claim_next(worker).await? {
            match self.deliver(session, row, worker).await? {
                Delivery::Sent => sent += 1,
                Delivery::Failed => {}
                // Every further mail would wait just as long for the silent server. They stay
                // due and are tried in the next round.
                Delivery::TimedOut => break,
            }
        }
        Ok(sent)
    }

    /// Claims the next due mail for `worker`, or returns `None` when no unclaimed mail is due.
    async fn claim_next(&self, worker: &WorkerId) -> Result<Option<outbox::Model>, DbErr> {
        let now = Utc::now();
        let txn = begin_unscoped(&self.db).await?;
        // sea-query leaves the lock clause out on SQLite.
        let due = outbox::Entity::find()
            .filter(outbox::Column::Status.eq("pending"))
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(
                outbox::Column::LockedUntil
                    .is_null()
                    .or(outbox::Column::LockedUntil.lt(now)),
            )
            .order_by_asc(outbox::Column::NextAttemptAt)
            .order_by_asc(outbox::Column::Id)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .one(&txn)
            .await?;
        let Some(mut row) = due else {
            txn.commit().await?;
            return Ok(None);
        };
        let locked_until = now + self.claim_duration();
        outbox::Entity::update_many()
            .col_expr(outbox::Column::LockedUntil, Expr::value(locked_until))
            .col_expr(outbox::Column::ClaimedBy, Expr::value(worker.as_str()))
            .filter(outbox::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        row.locked_until = Some(locked_until);
        row.claimed_by = Some(worker.as_str().to_owned());
        Ok(Some(row))
    }

    fn claim_duration(&self) -> Duration {
        let seconds = (self.transport.max_delivery_time() + CLAIM_MARGIN).as_secs();
        Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
    }

    /// Sends one claimed mail and records the outcome.
    async fn deliver(
        &self,
        session: &mut Session<'_>,
        row: outbox::Model,
        worker: &WorkerId,
    ) -> Result<Delivery, DbErr> {
        let outcome = match build_message(&self.from, &row) {
            Ok(message) => session.send(message).await,
            Err(error) => Err(error),
        };
        let now = Utc::now();
        let attempts = row.attempts + 1;
        let mut update = outbox::ActiveModel {
            attempts: Set(attempts),
            locked_until: Set(None),
            claimed_by: Set(None),
            ..Default::default()
        };
        let delivery = match outcome {
            Ok(()) => {
                update.status = Set("sent".to_owned());
                update.sent_at = Set(Some(now));
                update.last_error = Set(None);
                tracing::info!(
                    outbox_id = row.id,
                    tenant_id = row.tenant_id,
                    recipient_domain = domain_of(&row.recipient),
                    "mail sent"
                );
                Delivery::Sent
            }
            Err(error) => {
                let timed_out = error
                    .downcast_ref::<super::smtp::SmtpError>()
                    .is_some_and(super::smtp::SmtpError::is_timeout);
                // Servers repeat the recipient in their replies, as in "550 <anna@example.com>:
                // user unknown", and the text goes to the log and the outbox row.
                let message = redact_addresses(&format!("{error:#}"));
                if attempts >= self.max_attempts {
                    update.status = Set("dead".to_owned());
                    tracing::error!(outbox_id = row.id, tenant_id = row.tenant_id, attempts, error = %message, "mail given up after the last attempt");
                } else {
                    update.next_attempt_at = Set(now + backoff(attempts));
                    tracing::warn!(outbox_id = row.id, tenant_id = row.tenant_id, attempts, error = %message, "mail delivery failed, will retry");
                }
                update.last_error = Set(Some(message.chars().take(MAX_ERROR_CHARS).collect()));
                if timed_out {
                    Delivery::TimedOut
                } else {
                    Delivery::Failed
                }
            }
        };
        self.record(row.id, update, worker).await?;
        Ok(delivery)
    }

    /// Writes the outcome of a delivery, if the claim still belongs to `worker`.
    async fn record(
        &self,
        id: i64,
        update: outbox::ActiveModel,
        worker: &WorkerId,
    ) -> Result<(), DbErr> {
        let txn = begin_unscoped(&self.db).await?;
        let result = outbox::Entity::update_many()
            .set(update)
            .filter(outbox::Column::Id.eq(id))
            .filter(outbox::Column::ClaimedBy.eq(worker.as_str()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        if result.rows_affected == 0 {
            // Only a worker that stalled for longer than its claim gets here, and then another
            // worker may have sent the same mail.
            tracing::warn!(
                outbox_id = id,
                worker_id = worker.as_str(),
                "outbox claim expired before the delivery was recorded; the mail may arrive twice"
            );
        }
        Ok(())
    }

    /// Releases the claims of `worker`, so other workers need not wait for them to expire.
    /// Waits at most [`RELEASE_TIMEOUT`], so a dead database does not hold up shutdown.
    async fn release_claims(&self, worker: &WorkerId) {
        let release = async {
            let txn = begin_unscoped(&self.db).await?;
            let result = clear_claim(outbox::Entity::update_many())
                .filter(outbox::Column::ClaimedBy.eq(worker.as_str()))
                .filter(outbox::Column::Status.eq("pending"))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            Ok::<u64, DbErr>(result.rows_affected)
        };
        match tokio::time::timeout(RELEASE_TIMEOUT, release).await {
            Ok(Ok(0)) => {}
            Ok(Ok(released)) => {
                tracing::info!(
                    worker_id = worker.as_str(),
                    released,
                    "outbox claims released"
                );
            }
            Ok(Err(error)) => tracing::warn!(
                worker_id = worker.as_str(),
                error = format!("{error:#}"),
                "releasing outbox claims failed; they expire on their own"
            ),
            Err(_) => tracing::warn!(
                worker_id = worker.as_str(),
                "releasing outbox claims timed out; they expire on their own"
            ),
        }
    }
}

/// Adds the columns that end a claim to `update`.
pub(super) fn clear_claim(update: UpdateMany<outbox::Entity>) -> UpdateMany<outbox::Entity> {
    update
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::ClaimedBy,
            Expr::value(Option::<String>::None),
        )
}
