use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::OwnedReadHalf;

use super::*;

const STEP_TIMEOUT: Duration = Duration::from_millis(300);

/// Point where the scripted server stops replying and keeps the connection open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stall {
    Nowhere,
    Greeting,
    /// At the command with this verb, such as "MAIL".
    Command(&'static str),
    /// After the final dot of the message, where the server would send its last reply.
    MessageEnd,
}

/// Behavior of a scripted SMTP server.
#[derive(Clone, Copy)]
struct Script {
    stall: Stall,
    /// Reply to EHLO, with CRLF line ends.
    ehlo: &'static str,
    reject_recipients: bool,
    close_after_message: bool,
    /// Closes the connection after reading the first line of message data, without a reply.
    drop_during_data: bool,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            stall: Stall::Nowhere,
            ehlo: "250-fake.test\r\n250 8BITMIME\r\n",
            reject_recipients: false,
            close_after_message: false,
            drop_during_data: false,
        }
    }
}

/// A scripted SMTP server on the loopback interface, with counts of what it saw.
struct FakeServer {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    messages: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    async fn start(script: Script) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|error| panic!("cannot bind the fake SMTP server: {error}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("no local address: {error}"));
        let connections = Arc::new(AtomicUsize::new(0));
        let messages = Arc::new(AtomicUsize::new(0));
        let counted = (connections.clone(), messages.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.0.fetch_add(1, Ordering::SeqCst);
                let messages = counted.1.clone();
                tokio::spawn(serve(stream, script, messages));
            }
        });
        Self {
            address,
            connections,
            messages,
            task,
        }
    }

    fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn messages(&self) -> usize {
        self.messages.load(Ordering::SeqCst)
    }
}

async fn serve(stream: tokio::net::TcpStream, script: Script, messages: Arc<AtomicUsize>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    if script.stall == Stall::Greeting {
        hold(reader).await;
        return;
    }
    if writer.write_all(b"220 fake.test ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if matches!(script.stall, Stall::Command(stalled) if stalled == verb) {
            hold(reader).await;
            return;
        }
        let reply: &str = match verb.as_str() {
            "EHLO" => script.ehlo,
            "RCPT" if script.reject_recipients => "550 5.1.1 Recipient address rejected\r\n",
            "DATA" => {
                if writer.write_all(b"354 go ahead\r\n").await.is_err() {
                    return;
                }
                if script.drop_during_data {
                    let mut first = String::new();
                    let _ = reader.read_line(&mut first).await;
                    return;
                }
                if !read_message(&mut reader).await {
                    return;
                }
                if script.stall == Stall::MessageEnd {
                    hold(reader).await;
                    return;
                }
                messages.fetch_add(1, Ordering::SeqCst);
                if script.close_after_message {
                    let _ = writer.write_all(b"250 queued\r\n").await;
                    return;
                }
                "250 queued\r\n"
            }
            "QUIT" => {
                let _ = writer.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => "250 OK\r\n",
        };
        if writer.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads message lines up to the final dot; returns false when the client closed first.
async fn read_message(reader: &mut BufReader<OwnedReadHalf>) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return false;
        }
        if line.trim_end_matches(['\r', '\n']) == "." {
            return true;
        }
    }
}

/// Keeps the connection open without replying until the client closes it.
async fn hold(mut reader: BufReader<OwnedReadHalf>) {
    let mut sink = Vec::new();
    while reader.read_until(b'\n', &mut sink).await.unwrap_or(0) > 0 {
        sink.clear();
    }
}

fn envelope() -> Envelope {
    let from = "noreply@localhost"
        .parse()
        .unwrap_or_else(|error| panic!("{error}"));
    let to = "anna@example.com"
        .parse()
        .unwrap_or_else(|error| panic!("{error}"));
    Envelope::new(Some(from), vec![to]).unwrap_or_else(|error| panic!("{error}"))
}

const MESSAGE: &[u8] = b"Subject: Test\r\n\r\nHallo\r\n";

fn server_for(url: &str) -> SmtpServer {
    SmtpServer::from_url(url, STEP_TIMEOUT).unwrap_or_else(|error| panic!("{error:#}"))
}

#[tokio::test]
async fn every_step_times_out() {
    let cases = [
        (
            "smtp://{}",
            Stall::Greeting,
            SmtpStep::Connect,
            Script::default().ehlo,
        ),
        (
            "smtp://{}",
            Stall::Command("EHLO"),
            SmtpStep::Connect,
            Script::default().ehlo,
        ),
        (
            "smtp://{}?tls=required",
            Stall::Command("STARTTLS"),
            SmtpStep::StartTls,
            "250-fake.test\r\n250 STARTTLS\r\n",
        ),
        (
            "smtp://user:secret@{}",
            Stall::Command("AUTH"),
            SmtpStep::Auth,
            "250-fake.test\r\n250 AUTH PLAIN LOGIN\r\n",
        ),
        (
            "smtp://{}",
            Stall::Command("MAIL"),
            SmtpStep::MailFrom,
            Script::default().ehlo,
        ),
        (
            "smtp://{}",
            Stall::Command("RCPT"),
            SmtpStep::RcptTo,
            Script::default().ehlo,
        ),
        (
            "smtp://{}",
            Stall::Command("DATA"),
            SmtpStep::Data,
            Script::default().ehlo,
        ),
        (
            "smtp://{}",
            Stall::MessageEnd,
            SmtpStep::Message,
            Script::default().ehlo,
        ),
    ];
    for (url, stall, expected_step, ehlo) in cases {
        let fake = FakeServer::start(Script {
            stall,
            ehlo,
            ..Script::default()
        })
        .await;
        let server = server_for(&url.replace("{}", &fake.address.to_string()));
        let mut session = server.session();

        let started = Instant::now();
        // The outer limit turns a missing step limit into a failure instead of a hung test.
        let result = tokio::time::timeout(STEP_TIMEOUT * 10, session.send(&envelope(), MESSAGE))
            .await
            .unwrap_or_else(|_| panic!("stall {stall:?}: the step had no time limit"));
        let elapsed = started.elapsed();

        match result {
            Err(SmtpError::TimedOut { step, timeout }) => {
                assert_eq!(step, expected_step, "stall {stall:?}");
                assert_eq!(timeout, STEP_TIMEOUT);
            }
            other => panic!("stall {stall:?}: expected a timeout, got {other:?}"),
        }
        assert!(elapsed >= STEP_TIMEOUT, "stall {stall:?}: {elapsed:?}");
        assert!(elapsed < STEP_TIMEOUT * 3, "stall {stall:?}: {elapsed:?}");
        assert_eq!(fake.messages(), 0, "stall {stall:?}");
    }
}

#[tokio::test]
async fn session_reuses_connection() {
    let fake = FakeServer::start(Script::default()).await;
    let server = server_for(&fake.url());
    let mut session = server.session();

    for _ in 0..3 {
        let sent = session.send(&envelope(), MESSAGE).await;
        assert!(sent.is_ok(), "{sent:?}");
    }
    session.close().await;

    assert_eq!(fake.messages(), 3);
    assert_eq!(fake.connections(), 1);
}

#[tokio::test]
async fn session_replaces_connection_closed_by_server() {
    let fake = FakeServer::start(Script {
        close_after_message: true,
        ..Script::default()
    })
    .await;
    let server = server_for(&fake.url());
    let mut session = server.session();

    for _ in 0..2 {
        let sent = session.send(&envelope(), MESSAGE).await;
        assert!(sent.is_ok(), "{sent:?}");
    }

    assert_eq!(fake.messages(), 2);
    assert_eq!(fake.connections(), 2);
}

#[tokio::test]
async fn rejected_recipient_closes_connection() {
    let fake = FakeServer::start(Script {
        reject_recipients: true,
        ..Script::default()
    })
    .await;
    let server = server_for(&fake.url());
    let mut session = server.session();

    for attempt in 1..=2 {
        let result = session.send(&envelope(), MESSAGE).await;
        match result {
            Err(SmtpError::Failed { step, ref source }) => {
                assert_eq!(step, SmtpStep::RcptTo);
                assert!(source.to_string().contains("550"), "{source}");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        // A connection is never reused after an error, so each attempt opens its own.
        assert_eq!(fake.connections(), attempt);
    }
}

#[tokio::test]
async fn connection_dropped_during_data_fails_message_step() {
    let fake = FakeServer::start(Script {
        drop_during_data: true,
        ..Script::default()
    })
    .await;
    let server = server_for(&fake.url());
    let mut session = server.session();

    let result = session.send(&envelope(), MESSAGE).await;

    match result {
        Err(SmtpError::Failed { step, .. }) => assert_eq!(step, SmtpStep::Message),
        other => panic!("expected a failed message step, got {other:?}"),
    }
    assert_eq!(fake.messages(), 0);
}

#[tokio::test]
async fn refused_connection_fails_connect_step() {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|error| panic!("{error}"));
    drop(listener);
    let server = server_for(&format!("smtp://{address}"));

    let result = server.session().send(&envelope(), MESSAGE).await;

    match result {
        Err(SmtpError::Io { step, .. }) => assert_eq!(step, SmtpStep::Connect),
        other => panic!("expected a failed TCP connect, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_tcp_sets_nodelay() {
    let fake = FakeServer::start(Script::default()).await;

    let socket = stream::connect_tcp("127.0.0.1", fake.address.port())
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    assert!(socket.nodelay().unwrap_or_else(|error| panic!("{error}")));
}

#[tokio::test]
async fn smtps_to_plain_server_fails_connect_step() {
    // The fake server greets in plain text, which is no TLS handshake, so the client must give up
    // before it sends a single SMTP command.
    let fake = FakeServer::start(Script::default()).await;
    let server = server_for(&format!("smtps://{}", fake.address));

    let result = server.session().send(&envelope(), MESSAGE).await;

    match result {
        Err(SmtpError::Failed { step, ref source }) => {
            assert_eq!(step, SmtpStep::Connect);
            // rustls's description of a reply that is not a TLS record.
            assert!(source.to_string().contains("corrupt message"), "{source}");
        }
        other => panic!("expected a failed TLS handshake, got {other:?}"),
    }
    assert_eq!(fake.messages(), 0);
}

#[test]
fn from_url_reads_scheme_port_and_tls() {
    let cases = [
        ("smtp://mail.example.com", 25, "without TLS"),
        ("smtp://mail.example.com:2525", 2525, "without TLS"),
        ("smtp://mail.example.com?tls=required", 587, "with STARTTLS"),
        (
            "smtp://mail.example.com?tls=opportunistic",
            587,
            "with STARTTLS if offered",
        ),
        ("smtps://mail.example.com", 465, "with TLS"),
        ("smtps://mail.example.com:1465", 1465, "with TLS"),
    ];
    for (url, port, encryption) in cases {
        let server = server_for(url);
        assert_eq!(server.host, "mail.example.com", "{url}");
        assert_eq!(server.port, port, "{url}");
        assert_eq!(
            server.describe(),
            format!("smtp to mail.example.com:{port} {encryption}"),
            "{url}"
        );
        assert!(server.credentials.is_none(), "{url}");
    }
}

#[test]
fn from_url_decodes_credentials_and_hello_name() {
    let server =
        server_for("smtp://user%40example.com:p%3Ass%2Bw@mail.example.com/client.example.com");

    // lettre's `Credentials` has no `Debug`, so it is compared without `assert_eq!`.
    assert!(
        server.credentials
            == Some(Credentials::new(
                "user@example.com".to_owned(),
                "p:ss+w".to_owned()
            ))
    );
    assert_eq!(
        server.hello_name,
        ClientId::Domain("client.example.com".to_owned())
    );
    assert!(!server.describe().contains("p:ss"));
}

#[test]
fn from_url_rejects_unknown_forms_without_echoing_password() {
    let cases = [
        (
            "http://user:geheim@mail.example.com",
            "unknown scheme 'http'",
        ),
        (
            "smtp://user:geheim@mail.example.com?tls=always",
            "unknown tls parameter 'always'",
        ),
        (
            "smtp://user:ge%ZZheim@mail.example.com",
            "not valid percent-encoded",
        ),
        ("not a url", "invalid URL"),
    ];
    for (url, expected) in cases {
        let error = match SmtpServer::from_url(url, STEP_TIMEOUT) {
            Ok(_) => panic!("{url} was accepted"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{url}: {error}");
        assert!(!error.contains("geheim"), "{url}: {error}");
    }
}

#[test]
fn percent_decode_handles_escapes() {
    assert_eq!(percent_decode("a%40b%3A").as_deref(), Some("a@b:"));
    assert_eq!(percent_decode("%C3%BC").as_deref(), Some("ü"));
    assert_eq!(percent_decode("plain+text").as_deref(), Some("plain+text"));
    assert_eq!(percent_decode("%4"), None);
    assert_eq!(percent_decode("%+1"), None);
    assert_eq!(percent_decode("%FF"), None);
}

#[tokio::test]
async fn session_sends_without_waiting_for_delayed_acks() {
    // Linux delays an acknowledgement by at least 40 ms when the receiver has nothing to send.
    // With Nagle's algorithm on, the final dot would wait for the acknowledgement of the message
    // data, so each mail would take at least that long.
    const DELAYED_ACK: Duration = Duration::from_millis(40);
    const MESSAGES: u32 = 20;
    let fake = FakeServer::start(Script::default()).await;
    let server = server_for(&fake.url());
    let mut session = server.session();
    let first = session.send(&envelope(), MESSAGE).await;
    assert!(first.is_ok(), "{first:?}");

    let started = Instant::now();
    for _ in 0..MESSAGES {
        let sent = session.send(&envelope(), MESSAGE).await;
        assert!(sent.is_ok(), "{sent:?}");
    }
    let elapsed = started.elapsed();
    session.close().await;

    assert_eq!(fake.connections(), 1);
    assert!(
        elapsed < DELAYED_ACK * MESSAGES / 2,
        "{MESSAGES} mails took {elapsed:?}"
    );
}
