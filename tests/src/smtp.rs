//! A small SMTP server on the loopback interface that accepts every message and keeps it in
//! memory, so tests can read the mails the application sends.
//!
//! It speaks enough of RFC 5321 for lettre's plain SMTP client: EHLO/HELO, MAIL FROM, RCPT TO,
//! DATA with dot-stuffing, RSET, NOOP and QUIT. There is no TLS, no AUTH and no size limit.
//!
//! For tests of failing mail servers it can show a [`Fault`] on the next connections, and stop
//! listening for a while ([`SmtpServer::go_down`], [`SmtpServer::come_up`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One message as it arrived: the envelope and the raw bytes after DATA, with dot-stuffing
/// removed and lines ending in CRLF.
#[derive(Clone, Debug)]
pub struct StoredMessage {
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub data: Vec<u8>,
}

/// A failure the server shows on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Accepts the connection and never sends the greeting.
    NeverGreet,
    /// Replies 354 to DATA, reads the first line of the message and closes the connection
    /// without a reply, so the message is not stored.
    DropDuringData,
}

/// The running listener and the messages it received. Dropping it stops accepting connections.
pub struct SmtpServer {
    address: SocketAddr,
    messages: Arc<Mutex<Vec<StoredMessage>>>,
    count: watch::Receiver<usize>,
    store: Store,
    /// The task accepting connections; `None` while the server is down.
    accept_task: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpServer {
    /// Binds 127.0.0.1 on a free port and starts accepting connections on the current runtime.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let messages = Arc::new(Mutex::new(Vec::new()));
        let (count_sender, count) = watch::channel(0);
        let store = Store {
            messages: messages.clone(),
            count: Arc::new(count_sender),
            faults: Arc::new(Mutex::new(VecDeque::new())),
        };
        let accept_task = tokio::spawn(accept_loop(listener, store.clone()));
        Ok(Self {
            address,
            messages,
            count,
            store,
            accept_task: Mutex::new(Some(accept_task)),
        })
    }

    /// Makes the next connections show `faults`, one per connection in order. Later connections
    /// work normally.
    pub fn inject_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.store.faults).extend(faults);
    }

    /// Stops listening, so new connections are refused until [`Self::come_up`]. Connections
    /// already open stay open.
    pub async fn go_down(&self) {
        let task = lock(&self.accept_task).take();
        if let Some(task) = task {
            task.abort();
            // The listener is closed once the aborted task has finished.
            let _ = task.await;
        }
    }

    /// Listens again on the same address after [`Self::go_down`].
    pub async fn come_up(&self) -> std::io::Result<()> {
        let listener = TcpListener::bind(self.address).await?;
        let task = tokio::spawn(accept_loop(listener, self.store.clone()));
        if let Some(previous) = lock(&self.accept_task).replace(task) {
            previous.abort();
        }
        Ok(())
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Returns the URL that lettre uses to reach this server without TLS.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Returns a copy of every message received so far, oldest first.
    pub fn messages(&self) -> Vec<StoredMessage> {
        lock(&self.messages).clone()
    }

    /// Returns a receiver of the number of messages received so far; it changes with each one.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.count.clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.accept_task).take() {
            task.abort();
        }
    }
}

#[derive(Clone)]
struct Store {
    messages: Arc<Mutex<Vec<StoredMessage>>>,
    count: Arc<watch::Sender<usize>>,
    /// Faults for the next connections, first in first out.
    faults: Arc<Mutex<VecDeque<Fault>>>,
}

impl Store {
    fn push(&self, message: StoredMessage) {
        let count = {
            let mut messages = lock(&self.messages);
            messages.push(message);
            messages.len()
        };
        self.count.send_replace(count);
    }
}

/// Locks a mutex of the server; a panic in another test thread does not hide its content.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, store: Store) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let store = store.clone();
                let fault = lock(&store.faults).pop_front();
                tokio::spawn(async move {
                    if let Err(error) = serve_connection(stream, store, fault).await {
                        eprintln!("test SMTP server: connection failed: {error}");
                    }
                });
            }
            Err(error) => {
                eprintln!("test SMTP server: accept failed: {error}");
                return;
            }
        }
    }
}

/// The envelope of the transaction in progress.
#[derive(Default)]
struct Transaction {
    mail_from: Option<String>,
    recipients: Vec<String>,
}

async fn serve_connection(
    stream: TcpStream,
    store: Store,
    fault: Option<Fault>,
) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    if fault == Some(Fault::NeverGreet) {
        // Hold the connection without a word until the client gives up.
        let mut ignored = Vec::new();
        while reader.read_until(b'\n', &mut ignored).await? > 0 {
            ignored.clear();
        }
        return Ok(());
    }
    writer
        .write_all(b"220 localhost ESMTP test server ready\r\n")
        .await?;

    let mut greeted = false;
    let mut transaction = Transaction::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(trim_line_end(&line)).into_owned();
        let (verb, argument) = match text.split_once(' ') {
            Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.trim()),
            None => (text.to_ascii_uppercase(), ""),
        };

        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" if argument.is_empty() => b"501 5.5.4 Give your host name\r\n",
            "EHLO" => {
                greeted = true;
                transaction = Transaction::default();
                b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            }
            "HELO" => {
                greeted = true;
                transaction = Transaction::default();
                b"250 localhost\r\n"
            }
            "MAIL" if !greeted => b"503 5.5.1 Send EHLO or HELO first\r\n",
            "MAIL" => match path_argument(argument, "FROM:") {
                Some(address) => {
                    transaction = Transaction {
                        mail_from: Some(address),
                        recipients: Vec::new(),
                    };
                    b"250 2.1.0 OK\r\n"
                }
                None => b"501 5.5.4 Expected MAIL FROM:<address>\r\n",
            },
            "RCPT" if transaction.mail_from.is_none() => b"503 5.5.1 Send MAIL FROM first\r\n",
            "RCPT" => match path_argument(argument, "TO:") {
                Some(address) if !address.is_empty() => {
                    transaction.recipients.push(address);
                    b"250 2.1.5 OK\r\n"
                }
                _ => b"501 5.5.4 Expected RCPT TO:<address>\r\n",
            },
            "DATA" if transaction.recipients.is_empty() => b"503 5.5.1 Send RCPT TO first\r\n",
            "DATA" => {
                writer
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                if fault == Some(Fault::DropDuringData) {
                    let mut first_line = Vec::new();
                    reader.read_until(b'\n', &mut first_line).await?;
                    return Ok(());
                }
                let Some(data) = read_data(&mut reader).await? else {
                    return Ok(());
                };
                let finished = std::mem::take(&mut transaction);
                store.push(StoredMessage {
                    mail_from: finished.mail_from.unwrap_or_default(),
                    recipients: finished.recipients,
                    data,
                });
                b"250 2.0.0 OK: queued\r\n"
            }
            "RSET" => {
                transaction = Transaction::default();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                writer.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"500 5.5.2 Command not recognized\r\n",
        };
        writer.write_all(reply).await?;
    }
}

/// Reads the message after DATA up to the line with a single dot and removes the dot-stuffing.
/// Returns `None` when the client closes the connection before the end.
async fn read_data<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let content = trim_line_end(&line);
        if content == b"." {
            return Ok(Some(data));
        }
        let unstuffed = content.strip_prefix(b".").unwrap_or(content);
        data.extend_from_slice(unstuffed);
        data.extend_from_slice(b"\r\n");
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses `FROM:<address> PARAMS` or `TO:<address> PARAMS` and returns the address without the
/// angle brackets. The null sender `<>` is an empty address.
fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let prefix = argument.get(..keyword.len())?;
    if !prefix.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = argument[keyword.len()..].trim_start();
    let inner = path.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    /// Sends each line with CRLF and returns the reply lines that follow it.
    struct RawClient {
        reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
        writer: tokio::net::tcp::OwnedWriteHalf,
    }

    impl RawClient {
        async fn connect(server: &SmtpServer) -> (Self, String) {
            let stream = TcpStream::connect(server.address())
                .await
                .unwrap_or_else(|error| panic!("cannot connect to the test SMTP server: {error}"));
            let (reader, writer) = stream.into_split();
            let mut client = Self {
                reader: BufReader::new(reader),
                writer,
            };
            let greeting = client.reply().await;
            (client, greeting)
        }

        async fn send(&mut self, line: &str) -> String {
            self.writer
                .write_all(format!("{line}\r\n").as_bytes())
                .await
                .unwrap_or_else(|error| panic!("cannot write to the test SMTP server: {error}"));
            self.reply().await
        }

        /// Reads one reply, joining the lines of a multi-line reply with '\n'.
        async fn reply(&mut self) -> String {
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                let read =
                    tokio::time::timeout(Duration::from_secs(5), self.reader.read_line(&mut line))
                        .await
                        .unwrap_or_else(|_| panic!("no SMTP reply within 5 s"))
                        .unwrap_or_else(|error| panic!("reading the SMTP reply failed: {error}"));
                if read == 0 {
                    break;
                }
                let line = line.trim_end().to_owned();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    break;
                }
            }
            lines.join("\n")
        }
    }

    fn code(reply: &str) -> &str {
        reply.get(..3).unwrap_or(reply)
    }

    #[tokio::test]
    async fn transaction_stores_unstuffed_message() {
        let server = SmtpServer::start()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let (mut client, greeting) = RawClient::connect(&server).await;
        assert_eq!(code(&greeting), "220");

        assert_eq!(
            client.send("EHLO client.test").await,
            "250-localhost\n250-8BITMIME\n250 SMTPUTF8"
        );
        assert_eq!(
            code(
                &client
                    .send("MAIL FROM:<noreply@localhost> BODY=8BITMIME")
                    .await
            ),
            "250"
        );
        assert_eq!(
            code(&client.send("RCPT TO:<anna@example.com>").await),
            "250"
        );
        assert_eq!(code(&client.send("rcpt to:<ben@example.com>").await), "250");
        assert_eq!(code(&client.send("DATA").await), "354");
        client
            .writer
            .write_all(b"Subject: Test\r\n\r\n..leading dot\r\nplain\r\n.\r\n")
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(code(&client.reply().await), "250");
        assert_eq!(code(&client.send("QUIT").await), "221");

        let messages = server.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].mail_from, "noreply@localhost");
        assert_eq!(
            messages[0].recipients,
            ["anna@example.com", "ben@example.com"]
        );
        assert_eq!(
            String::from_utf8_lossy(&messages[0].data),
            "Subject: Test\r\n\r\n.leading dot\r\nplain\r\n"
        );
    }

    #[tokio::test]
    async fn commands_out_of_order_are_rejected() {
        let server = SmtpServer::start()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let (mut client, _) = RawClient::connect(&server).await;

        assert_eq!(code(&client.send("MAIL FROM:<a@example.com>").await), "503");
        assert_eq!(code(&client.send("HELO").await), "501");
        assert_eq!(client.send("HELO client.test").await, "250 localhost");
        assert_eq!(code(&client.send("RCPT TO:<b@example.com>").await), "503");
        assert_eq!(code(&client.send("MAIL FROM:a@example.com").await), "501");
        assert_eq!(code(&client.send("MAIL FROM:<a@example.com>").await), "250");
        assert_eq!(code(&client.send("DATA").await), "503");
        assert_eq!(code(&client.send("RCPT TO:<b@example.com>").await), "250");
        assert_eq!(code(&client.send("RSET").await), "250");
        assert_eq!(code(&client.send("DATA").await), "503");
        assert_eq!(code(&client.send("NOOP").await), "250");
        assert_eq!(code(&client.send("VRFY someone").await), "500");
        assert_eq!(code(&client.send("QUIT").await), "221");

        assert_eq!(server.messages().len(), 0);
    }

    #[tokio::test]
    async fn connection_carries_several_messages() {
        let server = SmtpServer::start()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let (mut client, _) = RawClient::connect(&server).await;
        client.send("EHLO client.test").await;
        for recipient in ["first@example.com", "second@example.com"] {
            assert_eq!(code(&client.send("MAIL FROM:<>").await), "250");
            assert_eq!(
                code(&client.send(&format!("RCPT TO:<{recipient}>")).await),
                "250"
            );
            assert_eq!(code(&client.send("DATA").await), "354");
            assert_eq!(
                code(&client.send("Subject: x\r\n\r\nbody\r\n.").await),
                "250"
            );
        }

        let recipients: Vec<_> = server
            .messages()
            .into_iter()
            .map(|message| (message.mail_from, message.recipients))
            .collect();
        assert_eq!(
            recipients,
            [
                (String::new(), vec!["first@example.com".to_owned()]),
                (String::new(), vec!["second@example.com".to_owned()]),
            ]
        );
        assert_eq!(*server.subscribe().borrow(), 2);
    }

    #[test]
    fn path_argument_parses_envelope_addresses() {
        assert_eq!(
            path_argument("FROM:<a@example.com> BODY=8BITMIME", "FROM:").as_deref(),
            Some("a@example.com")
        );
        assert_eq!(
            path_argument("from: <a@example.com>", "FROM:").as_deref(),
            Some("a@example.com")
        );
        assert_eq!(path_argument("FROM:<>", "FROM:").as_deref(), Some(""));
        assert_eq!(path_argument("FROM:a@example.com", "FROM:"), None);
        assert_eq!(path_argument("TO:<a@example.com>", "FROM:"), None);
        assert_eq!(path_argument("FR", "FROM:"), None);
    }
}
