//! The durable mail outbox: mails are rows written in the same transaction as the change that
//! causes them, and a worker sends them with retries and backoff, by SMTP or into `.eml` files.

mod operator;
mod smtp;
mod transport;
mod worker;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use mep24web_entities::outbox;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use tokio::sync::Notify;

use crate::tenant::TenantId;

pub use operator::{
    ListFilter, OutboxEntry, OutboxListing, RetryOutcome, unscoped_list, unscoped_retry,
    unscoped_retry_all_dead,
};
pub use smtp::{SmtpError, SmtpServer, SmtpStep};
pub use transport::Transport;
pub use worker::{DEFAULT_MAX_ATTEMPTS, OutboxWorker, WorkerId};

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
