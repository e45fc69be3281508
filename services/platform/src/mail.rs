//! The durable mail outbox: mails are rows written in the same transaction as the change that
//! causes them, and a worker sends them with retries and backoff, by SMTP or into `.eml` files.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mep24web_entities::outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use tokio::sync::{Notify, watch};

use crate::tenant::TenantId;

/// Attempts after which a mail is marked `dead` and left for an operator.
pub const MAX_ATTEMPTS: i32 = 10;
/// How long a worker owns a claimed row before another may take it over, in seconds.
const CLAIM_SECONDS: i64 = 120;
/// Mails claimed per round.
const BATCH_SIZE: u64 = 50;
/// Rows per multi-row insert of [`MailSender::enqueue_many`]: 13 columns each stay far below the
/// bind parameter limits of SQLite (32,766) and PostgreSQL (65,535).
const ENQUEUE_BATCH: usize = 500;

/// A rendered mail, ready to be stored in the outbox.
#[derive(Clone, Debug)]
pub struct OutgoingMail {
    pub recipient: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
}

/// Wakes the outbox worker after new mail was committed.
#[derive(Clone, Default)]
pub struct MailSender {
    wake: Arc<Notify>,
}

impl MailSender {
    /// Writes a mail into the outbox as part of the caller's transaction. Call [`Self::wake`]
    /// after the commit.
    pub async fn enqueue<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: TenantId,
        mail: OutgoingMail,
    ) -> Result<i64, DbErr> {
        let row = pending_row(tenant_id, mail, Utc::now())
            .insert(conn)
            .await?;
        Ok(row.id)
    }

    /// Writes many mails into the outbox as part of the caller's transaction, with multi-row
    /// inserts instead of one statement per mail. Returns the number of mails written. Call
    /// [`Self::wake`] after the commit.
    pub async fn enqueue_many<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: TenantId,
        mails: Vec<OutgoingMail>,
    ) -> Result<usize, DbErr> {
        let now = Utc::now();
        let count = mails.len();
        let mut rows = mails
            .into_iter()
            .map(|mail| pending_row(tenant_id, mail, now))
            .peekable();
        while rows.peek().is_some() {
            let batch: Vec<outbox::ActiveModel> = rows.by_ref().take(ENQUEUE_BATCH).collect();
            outbox::Entity::insert_many(batch)
                .exec_without_returning(conn)
                .await?;
        }
        Ok(count)
    }

    /// Tells the worker to look for due mail now instead of at its next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Builds the outbox row of a new mail, due at once.
fn pending_row(tenant_id: TenantId, mail: OutgoingMail, now: DateTime<Utc>) -> outbox::ActiveModel {
    outbox::ActiveModel {
        tenant_id: Set(tenant_id.get()),
        recipient: Set(mail.recipient),
        reply_to: Set(mail.reply_to),
        subject: Set(mail.subject),
        body_text: Set(mail.body_text),
        body_html: Set(mail.body_html),
        status: Set("pending".to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        ..Default::default()
    }
}

/// Destination of outgoing mail: an SMTP server, with the time limit for delivering one mail, or
/// a folder of `.eml` files.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>, StdDuration),
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// Error of a delivery that took longer than the SMTP time limit.
#[derive(Debug, thiserror::Error)]
#[error("the SMTP server did not finish the delivery within {seconds} s")]
pub struct DeliveryTimedOut {
    pub seconds: u64,
}

impl Transport {
    /// Builds an SMTP transport from a URL such as `smtp://host:25`,
    /// `smtp://user:pass@host:587?tls=required` or `smtps://host:465`. Connecting, and the whole
    /// delivery of one mail, may each take at most `timeout`.
    ///
    /// lettre 0.11 applies its timeout only to connecting, so a server that accepts the
    /// connection and then never replies would block the worker forever. [`Self::send`]
    /// therefore bounds the whole delivery itself.
    pub fn smtp(url: &str, timeout: StdDuration) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(timeout))
            .build();
        Ok(Self::Smtp(transport, timeout))
    }

    /// Builds a transport that writes each mail as an `.eml` file into a folder.
    pub fn files(folder: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&folder)?;
        Ok(Self::Files(AsyncFileTransport::new(&folder), folder))
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(..) => "smtp".to_owned(),
            Self::Files(_, folder) => format!("files in {}", folder.display()),
        }
    }

    async fn send(&self, message: Message) -> anyhow::Result<()> {
        match self {
            Self::Smtp(transport, limit) => {
                match tokio::time::timeout(*limit, transport.send(message)).await {
                    Ok(sent) => {
                        sent?;
                    }
                    Err(_) => {
                        return Err(DeliveryTimedOut {
                            seconds: limit.as_secs(),
                        }
                        .into());
                    }
                }
            }
            Self::Files(transport, _) => {
                transport.send(message).await?;
            }
        }
        Ok(())
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
}

impl OutboxWorker {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(transport = %self.transport.describe(), "outbox worker started");
        loop {
            // A round waits for the mail server, so shutdown interrupts it. A mail whose delivery
            // is cut off stays pending and claimed, and is sent again once the claim expires, so
            // it may arrive twice but is never lost.
            let round = tokio::select! {
                round = self.send_due() => round,
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
        tracing::info!("outbox worker stopped");
    }

    /// Claims and sends the due mails; returns how many were sent.
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let now = Utc::now();
        // The worker serves every tenant, so its statements run unscoped.
        let txn = crate::db::begin_unscoped(&self.db).await?;
        let due = outbox::Entity::find()
            .filter(outbox::Column::Status.eq("pending"))
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(
                outbox::Column::LockedUntil
                    .is_null()
                    .or(outbox::Column::LockedUntil.lt(now)),
            )
            .order_by_asc(outbox::Column::Id)
            .limit(BATCH_SIZE)
            .all(&txn)
            .await?;
        txn.commit().await?;
        let mut sent = 0;
        for row in due {
            if !self.claim(&row).await? {
                continue;
            }
            match self.deliver(row).await? {
                Delivery::Sent => sent += 1,
                Delivery::Failed => {}
                // Every further mail would wait just as long for the silent server. They stay
                // due and are tried in the next round.
                Delivery::TimedOut => break,
            }
        }
        Ok(sent)
    }

    /// Takes a row for this worker with a conditional update, so two instances never send the
    /// same mail at the same time.
    async fn claim(&self, row: &outbox::Model) -> Result<bool, DbErr> {
        let now = Utc::now();
        let txn = crate::db::begin_unscoped(&self.db).await?;
        let result = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(now + Duration::seconds(CLAIM_SECONDS)),
            )
            .filter(outbox::Column::Id.eq(row.id))
            .filter(outbox::Column::Status.eq("pending"))
            .filter(
                outbox::Column::LockedUntil
                    .is_null()
                    .or(outbox::Column::LockedUntil.lt(now)),
            )
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(result.rows_affected == 1)
    }

    async fn deliver(&self, row: outbox::Model) -> Result<Delivery, DbErr> {
        let outcome = match build_message(&self.from, &row) {
            Ok(message) => self.transport.send(message).await,
            Err(error) => Err(error),
        };
        let now = Utc::now();
        let mut update = outbox::ActiveModel {
            id: Set(row.id),
            locked_until: Set(None),
            attempts: Set(row.attempts + 1),
            ..Default::default()
        };
        let delivered = match outcome {
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
                let attempts = row.attempts + 1;
                let timed_out = error.is::<DeliveryTimedOut>();
                // Servers repeat the recipient in their replies, as in "550 <anna@example.com>:
                // user unknown", and the text goes to the log and the outbox row.
                let message = redact_addresses(&format!("{error:#}"));
                if attempts >= MAX_ATTEMPTS {
                    update.status = Set("dead".to_owned());
                    tracing::error!(outbox_id = row.id, tenant_id = row.tenant_id, attempts, error = %message, "mail given up after the last attempt");
                } else {
                    update.next_attempt_at = Set(now + backoff(attempts));
                    tracing::warn!(outbox_id = row.id, tenant_id = row.tenant_id, attempts, error = %message, "mail delivery failed, will retry");
                }
                update.last_error = Set(Some(message.chars().take(2000).collect()));
                if timed_out {
                    Delivery::TimedOut
                } else {
                    Delivery::Failed
                }
            }
        };
        let txn = crate::db::begin_unscoped(&self.db).await?;
        update.update(&txn).await?;
        txn.commit().await?;
        Ok(delivered)
    }
}

/// Outcome of one delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    Sent,
    Failed,
    /// The mail server did not finish within the time limit.
    TimedOut,
}

/// Replaces the local part of every email address in `text` with `***`, keeping the domain.
fn redact_addresses(text: &str) -> String {
    let in_address = |c: char| {
        !c.is_whitespace()
            && !matches!(
                c,
                '<' | '>' | '"' | '\'' | '(' | ')' | ',' | ';' | ':' | '[' | ']' | '@'
            )
    };
    let mut redacted = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if c == '@' && !run.is_empty() {
            redacted.push_str("***@");
            run.clear();
        } else if in_address(c) {
            run.push(c);
        } else {
            redacted.push_str(&run);
            run.clear();
            redacted.push(c);
        }
    }
    redacted.push_str(&run);
    redacted
}

/// Returns the wait before the next attempt: 10 s doubled per attempt, at most one hour.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let seconds = 10i64.saturating_mul(2i64.saturating_pow(exponent));
    Duration::seconds(seconds.min(3600))
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

fn build_message(from: &Mailbox, row: &outbox::Model) -> anyhow::Result<Message> {
    let mut builder = Message::builder()
        .from(from.clone())
        .to(row.recipient.parse()?)
        .subject(row.subject.clone());
    if let Some(reply_to) = &row.reply_to {
        builder = builder.reply_to(reply_to.parse()?);
    }
    let message = builder.multipart(MultiPart::alternative_plain_html(
        row.body_text.clone(),
        row.body_html.clone(),
    ))?;
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(5), Duration::seconds(160));
        assert_eq!(backoff(12), Duration::seconds(3600));
    }

    #[test]
    fn redact_addresses_keeps_only_domains() {
        assert_eq!(
            redact_addresses(
                "permanent error (550): 5.1.1 <anna.schmidt@apotheke.de>: Recipient address rejected"
            ),
            "permanent error (550): 5.1.1 <***@apotheke.de>: Recipient address rejected"
        );
        assert_eq!(
            redact_addresses("from a@b.de to \"c.d+x@e.de\", user@"),
            "from ***@b.de to \"***@e.de\", ***@"
        );
        assert_eq!(redact_addresses("connection refused"), "connection refused");
        assert_eq!(redact_addresses("@ alone"), "@ alone");
    }

    #[test]
    fn domain_of_hides_local_part() {
        assert_eq!(domain_of("anna.schmidt@apotheke.de"), "apotheke.de");
        assert_eq!(domain_of("kaputt"), "");
    }
}
