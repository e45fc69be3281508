//! The mail outbox against failing SMTP servers and with several workers on one database: every
//! mail arrives exactly once, after the server recovers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use mep24web_entities::outbox;
use mep24web_platform::mail::{
    self, DEFAULT_MAX_ATTEMPTS, MailSender, OutboxWorker, OutgoingMail, Transport, WorkerId,
};
use mep24web_tests::smtp::{Fault, SmtpServer};
use mep24web_tests::{TestApp, TestTenant, spawn_app_with};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use secrecy::SecretString;

/// Poll interval of the test applications, in seconds.
const POLL_SECONDS: u64 = 1;

/// Poll interval of applications whose own worker should stay idle after its first round, so
/// that the test's workers do the sending.
const IDLE_POLL_SECONDS: u64 = 3600;

/// Starts a test SMTP server and an application that sends to it with `timeout_seconds` per
/// SMTP step and polls every `poll_seconds`.
async fn start(timeout_seconds: u64, poll_seconds: u64) -> (TestApp, SmtpServer, TestTenant) {
    start_with(timeout_seconds, poll_seconds, DEFAULT_MAX_ATTEMPTS).await
}

/// Starts like [`start`], with `max_attempts` deliveries before a mail is dead.
async fn start_with(
    timeout_seconds: u64,
    poll_seconds: u64,
    max_attempts: i32,
) -> (TestApp, SmtpServer, TestTenant) {
    let smtp = SmtpServer::start()
        .await
        .unwrap_or_else(|error| panic!("cannot start the SMTP server: {error}"));
    let url = smtp.url();
    let app = spawn_app_with(|settings| {
        settings.smtp_url = Some(SecretString::from(url));
        settings.smtp_timeout_seconds = timeout_seconds;
        settings.outbox_poll_seconds = poll_seconds;
        settings.outbox_max_attempts = max_attempts;
    })
    .await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    (app, smtp, tenant)
}

/// Builds a worker on the application's database pool that sends to `smtp`.
fn test_worker(app: &TestApp, smtp: &SmtpServer, timeout: Duration) -> OutboxWorker {
    OutboxWorker {
        db: app.state().db.pool().clone(),
        transport: Transport::smtp(&smtp.url(), timeout).unwrap(),
        from: "MEP24web <noreply@localhost>".parse().unwrap(),
        sender: MailSender::default(),
        poll_interval: Duration::from_secs(IDLE_POLL_SECONDS),
        max_attempts: DEFAULT_MAX_ATTEMPTS,
    }
}

fn mail_to(recipient: &str) -> OutgoingMail {
    OutgoingMail {
        recipient: recipient.to_owned(),
        reply_to: None,
        subject: format!("Einladung für {recipient}"),
        body_text: "Bitte registrieren Sie sich.".to_owned(),
        body_html: "<p>Bitte registrieren Sie sich.</p>".to_owned(),
    }
}

/// Writes one mail per recipient into the outbox without waking any worker, and returns the
/// rows' ids in the order of `recipients`.
async fn enqueue_quietly(app: &TestApp, tenant: &TestTenant, recipients: &[String]) -> Vec<i64> {
    let mails = recipients
        .iter()
        .map(|recipient| mail_to(recipient))
        .collect();
    app.state()
        .mail
        .enqueue_many(app.db(), tenant.id, mails)
        .await
        .unwrap();
    let rows = outbox::Entity::find()
        .filter(outbox::Column::TenantId.eq(tenant.id.get()))
        .order_by_asc(outbox::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    recipients
        .iter()
        .map(|recipient| {
            rows.iter()
                .find(|row| &row.recipient == recipient)
                .unwrap_or_else(|| panic!("no outbox row for {recipient}"))
                .id
        })
        .collect()
}

/// Writes one mail per recipient into the outbox and wakes the application's worker.
async fn enqueue(app: &TestApp, tenant: &TestTenant, recipients: &[String]) -> Vec<i64> {
    let ids = enqueue_quietly(app, tenant, recipients).await;
    app.state().mail.wake();
    ids
}

fn recipients(prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("{prefix}{index}@example.com"))
        .collect()
}

/// Polls the outbox rows `ids` until `done` holds for each of them, for at most `timeout`, and
/// returns them.
async fn wait_for_rows(
    app: &TestApp,
    ids: &[i64],
    timeout: Duration,
    done: impl Fn(&outbox::Model) -> bool,
) -> Vec<outbox::Model> {
    let deadline = Instant::now() + timeout;
    loop {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Id.is_in(ids.to_vec()))
            .order_by_asc(outbox::Column::Id)
            .all(app.db())
            .await
            .unwrap();
        if rows.len() == ids.len() && rows.iter().all(&done) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "outbox rows not done within {timeout:?}: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the server has received `count` messages, for at most `timeout`.
async fn wait_for_messages(smtp: &SmtpServer, count: usize, timeout: Duration) {
    let mut received = smtp.subscribe();
    let arrived = tokio::time::timeout(timeout, received.wait_for(|received| *received >= count));
    assert!(
        matches!(arrived.await, Ok(Ok(_))),
        "{} of {count} messages within {timeout:?}",
        smtp.messages().len()
    );
}

/// Counts the messages the server received per envelope recipient.
fn deliveries_per_recipient(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in smtp.messages() {
        for recipient in message.recipients {
            *counts.entry(recipient).or_insert(0) += 1;
        }
    }
    counts
}

/// Asserts that each of `expected` received exactly one message and no other recipient received any.
fn assert_each_delivered_once(smtp: &SmtpServer, expected: &[String]) {
    let counts = deliveries_per_recipient(smtp);
    for recipient in expected {
        assert_eq!(counts.get(recipient), Some(&1), "deliveries to {recipient}");
    }
    assert_eq!(counts.len(), expected.len(), "recipients: {counts:?}");
}

/// Waits for two more polls of the worker, so a duplicate sent late would have arrived.
async fn wait_for_late_duplicates() {
    tokio::time::sleep(Duration::from_secs(2 * POLL_SECONDS + 1)).await;
}

#[tokio::test]
async fn greeting_timeout_then_single_delivery() {
    let (app, smtp, tenant) = start(1, POLL_SECONDS).await;
    smtp.inject_faults([Fault::NeverGreet]);
    let recipients = recipients("anna", 1);

    let started = Instant::now();
    let ids = enqueue(&app, &tenant, &recipients).await;
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(10), |row| row.attempts >= 1).await;
    let waited = started.elapsed();

    assert_eq!(rows[0].status, "pending");
    let error = rows[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("connect (greeting and EHLO) timed out"),
        "{error}"
    );
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(rows[0].next_attempt_at > Utc::now());
    assert_eq!(rows[0].locked_until, None);
    assert!(smtp.messages().is_empty());

    // The first retry follows after 10 s of backoff.
    wait_for_messages(&smtp, 1, Duration::from_secs(20)).await;
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(5), |row| {
        row.status == "sent"
    })
    .await;
    assert_eq!(rows[0].attempts, 2);
    assert_eq!(rows[0].last_error, None);
    wait_for_late_duplicates().await;
    assert_each_delivered_once(&smtp, &recipients);
}

#[tokio::test]
async fn dropped_data_then_single_delivery() {
    let (app, smtp, tenant) = start(5, POLL_SECONDS).await;
    smtp.inject_faults([Fault::DropDuringData]);
    let recipients = recipients("person", 3);

    let ids = enqueue(&app, &tenant, &recipients).await;
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(10), |row| row.attempts >= 1).await;

    // The first mail met the dropped connection, and the others went over a new one.
    assert_eq!(rows[0].status, "pending");
    let error = rows[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("message data failed"), "{error}");
    assert_eq!(rows[1].status, "sent");
    assert_eq!(rows[2].status, "sent");

    wait_for_messages(&smtp, 3, Duration::from_secs(20)).await;
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(5), |row| {
        row.status == "sent"
    })
    .await;
    let attempts: Vec<i32> = rows.iter().map(|row| row.attempts).collect();
    assert_eq!(attempts, [2, 1, 1]);
    wait_for_late_duplicates().await;
    assert_each_delivered_once(&smtp, &recipients);
}

#[tokio::test]
async fn server_outage_then_single_delivery() {
    let (app, smtp, tenant) = start(5, POLL_SECONDS).await;
    smtp.go_down().await;
    let recipients = recipients("person", 5);

    let ids = enqueue(&app, &tenant, &recipients).await;
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(10), |row| row.attempts >= 1).await;

    for row in &rows {
        assert_eq!(row.status, "pending", "{row:?}");
        let error = row.last_error.clone().unwrap_or_default();
        assert!(
            error.contains("connect (greeting and EHLO) failed"),
            "{error}"
        );
    }
    assert!(smtp.messages().is_empty());

    smtp.come_up()
        .await
        .unwrap_or_else(|error| panic!("cannot listen again: {error}"));
    wait_for_messages(&smtp, recipients.len(), Duration::from_secs(20)).await;
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(5), |row| {
        row.status == "sent"
    })
    .await;
    for row in &rows {
        assert_eq!(row.attempts, 2, "{row:?}");
    }
    wait_for_late_duplicates().await;
    assert_each_delivered_once(&smtp, &recipients);
}

#[tokio::test]
async fn last_attempt_marks_mail_dead_until_retried() {
    let (app, smtp, tenant) = start_with(5, POLL_SECONDS, 1).await;
    smtp.go_down().await;
    let recipients = recipients("anna", 1);

    let ids = enqueue(&app, &tenant, &recipients).await;
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(10), |row| row.attempts >= 1).await;

    assert_eq!(rows[0].status, "dead");
    assert_eq!(rows[0].attempts, 1);
    assert_eq!(rows[0].locked_until, None);
    assert!(rows[0].last_error.is_some(), "{:?}", rows[0]);
    smtp.come_up()
        .await
        .unwrap_or_else(|error| panic!("cannot listen again: {error}"));
    wait_for_late_duplicates().await;
    assert!(smtp.messages().is_empty());

    let revived = mail::unscoped_retry_all_dead(app.db(), None).await.unwrap();
    assert_eq!(revived, 1);
    wait_for_messages(&smtp, 1, Duration::from_secs(10)).await;
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(5), |row| {
        row.status == "sent"
    })
    .await;
    assert_eq!(rows[0].attempts, 1);
    wait_for_late_duplicates().await;
    assert_each_delivered_once(&smtp, &recipients);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_send_each_mail_once() {
    const MAILS: usize = 200;
    // The application's own worker stays idle unless it wakes early, and then it is a third
    // worker.
    let (app, smtp, tenant) = start(10, IDLE_POLL_SECONDS).await;
    let recipients = recipients("person", MAILS);
    let ids = enqueue_quietly(&app, &tenant, &recipients).await;

    let first = test_worker(&app, &smtp, Duration::from_secs(10));
    let second = test_worker(&app, &smtp, Duration::from_secs(10));
    let (sent_first, sent_second) = tokio::join!(
        tokio::spawn(async move { first.send_due(&WorkerId::random()).await.unwrap() }),
        tokio::spawn(async move { second.send_due(&WorkerId::random()).await.unwrap() }),
    );
    let (sent_first, sent_second) = (sent_first.unwrap(), sent_second.unwrap());

    assert!(sent_first > 0, "the first worker sent nothing");
    assert!(sent_second > 0, "the second worker sent nothing");
    assert!(
        sent_first + sent_second <= MAILS,
        "{sent_first} + {sent_second} sent"
    );
    let rows = wait_for_rows(&app, &ids, Duration::from_secs(10), |row| {
        row.status == "sent"
    })
    .await;
    for row in &rows {
        assert_eq!(row.attempts, 1, "{row:?}");
        assert_eq!(row.claimed_by, None, "{row:?}");
    }
    assert_eq!(smtp.messages().len(), MAILS);
    assert_each_delivered_once(&smtp, &recipients);
}

#[tokio::test]
async fn stopped_worker_releases_claim_of_cut_off_delivery() {
    let (app, smtp, tenant) = start(30, IDLE_POLL_SECONDS).await;
    smtp.inject_faults([Fault::NeverGreet]);
    let ids = enqueue_quietly(&app, &tenant, &recipients("anna", 1)).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(test_worker(&app, &smtp, Duration::from_secs(30)).run(stopped));

    let rows = wait_for_rows(&app, &ids, Duration::from_secs(10), |row| {
        row.claimed_by.is_some()
    })
    .await;
    assert!(rows[0].locked_until.is_some_and(|until| until > Utc::now()));
    let started = Instant::now();
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .unwrap_or_else(|_| panic!("the worker did not stop within 5 s"))
        .unwrap();

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let row = outbox::Entity::find_by_id(ids[0])
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 0);
    assert_eq!(row.locked_until, None);
    assert_eq!(row.claimed_by, None);
}
