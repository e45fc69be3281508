//! An SMTP client with a time limit on every step of a delivery, built on lettre's connection.
//!
//! lettre 0.11.23's `AsyncSmtpTransport` bounds only the TCP connect. A limit around its whole `send`
//! would leave the greeting and every command unbounded on their own, and its pool takes back a
//! connection whose send was cut off, so the next mail could continue a half-written transaction.
//! This client owns its connection instead. Each step gets the limit, and after any error or
//! timeout the connection is closed and never used again. It also opens the TCP socket itself, to
//! turn off Nagle's algorithm (see `stream`).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

/// Steps a delivery on a new connection can take: connect, STARTTLS, AUTH, MAIL FROM, RCPT TO
/// (the outbox sends to one recipient), DATA and the message. A reused connection that fails at
/// MAIL FROM is replaced once, which adds one step.
const MAX_STEPS_PER_DELIVERY: u32 = 8;

/// A step of an SMTP delivery, as errors name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpStep {
    /// TCP connect, TLS for `smtps://`, the server's greeting and EHLO.
    Connect,
    StartTls,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    /// The message content and the server's reply after the final dot.
    Message,
}

impl fmt::Display for SmtpStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect (greeting and EHLO)",
            Self::StartTls => "STARTTLS",
            Self::Auth => "AUTH",
            Self::MailFrom => "MAIL FROM",
            Self::RcptTo => "RCPT TO",
            Self::Data => "DATA",
            Self::Message => "message data",
        })
    }
}

/// Error of one delivery attempt.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("SMTP {step} timed out after {timeout:?}")]
    TimedOut { step: SmtpStep, timeout: Duration },
    /// The TCP connection failed, so the server never replied.
    #[error("SMTP {step} failed")]
    Io {
        step: SmtpStep,
        #[source]
        source: std::io::Error,
    },
    #[error("SMTP {step} failed")]
    Failed {
        step: SmtpStep,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The message needs an extension the server does not offer.
    #[error("the SMTP server does not offer {extension}, which this message needs")]
    Unsupported { extension: &'static str },
}

impl SmtpError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::TimedOut { .. })
    }
}

/// Encryption of the connection, from the URL's scheme and its `tls` parameter.
#[derive(Clone)]
enum Encryption {
    /// `smtp://` without `tls`.
    None,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the server offers it.
    Opportunistic(TlsParameters),
    /// `smtp://…?tls=required`: STARTTLS, and no delivery without it.
    Required(TlsParameters),
    /// `smtps://`: TLS from the first byte.
    Wrapper(TlsParameters),
}

/// The SMTP server to deliver to, parsed from an `smtp://` or `smtps://` URL, and the time limit
/// of each step. `Debug` is not derived, so the password cannot reach a log.
#[derive(Clone)]
pub struct SmtpServer {
    host: String,
    port: u16,
    encryption: Encryption,
    credentials: Option<Credentials>,
    hello_name: ClientId,
    step_timeout: Duration,
}

impl SmtpServer {
    /// Parses a URL as lettre's `AsyncSmtpTransport::from_url` does: `smtp://host:25` (plain, port
    /// 25 by default), `smtp://user:pass@host:587?tls=required` or `?tls=opportunistic` (STARTTLS,
    /// port 587 by default) and `smtps://host:465` (TLS, port 465 by default). A path names the
    /// host sent with EHLO. User and password are percent-decoded and used only when a password is
    /// given. Errors never repeat the URL, because it may contain the password.
    pub fn from_url(url: &str, step_timeout: Duration) -> anyhow::Result<Self> {
        let parsed =
            url::Url::parse(url).map_err(|error| anyhow::anyhow!("invalid URL: {error}"))?;
        let host = parsed
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| anyhow::anyhow!("the URL names no host"))?
            .to_owned();
        let tls = parsed
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let parameters = || TlsParameters::new(host.clone());
        let (default_port, encryption) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => (25, Encryption::None),
            ("smtp", Some("required")) => (587, Encryption::Required(parameters()?)),
            ("smtp", Some("opportunistic")) => (587, Encryption::Opportunistic(parameters()?)),
            ("smtps", _) => (465, Encryption::Wrapper(parameters()?)),
            ("smtp", Some(other)) => anyhow::bail!(
                "unknown tls parameter '{other}'; use tls=required or tls=opportunistic"
            ),
            (scheme, _) => {
                anyhow::bail!("unknown scheme '{scheme}'; use smtp:// or smtps://")
            }
        };
        let hello_name = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let credentials = match parsed.password() {
            Some(password) => {
                let decode = |text: &str| {
                    percent_decode(text).ok_or_else(|| {
                        anyhow::anyhow!("the user or password is not valid percent-encoded UTF-8")
                    })
                };
                Some(Credentials::new(
                    decode(parsed.username())?,
                    decode(password)?,
                ))
            }
            None => None,
        };
        Ok(Self {
            port: parsed.port().unwrap_or(default_port),
            host,
            encryption,
            credentials,
            hello_name,
            step_timeout,
        })
    }

    /// Returns host, port and encryption for logs, without the credentials.
    pub fn describe(&self) -> String {
        let encryption = match self.encryption {
            Encryption::None => "without TLS",
            Encryption::Opportunistic(_) => "with STARTTLS if offered",
            Encryption::Required(_) => "with STARTTLS",
            Encryption::Wrapper(_) => "with TLS",
        };
        format!("smtp to {}:{} {encryption}", self.host, self.port)
    }

    /// Returns the longest time one delivery can take before every step has timed out.
    pub fn max_delivery_time(&self) -> Duration {
        self.step_timeout * MAX_STEPS_PER_DELIVERY
    }

    /// Starts a session. Its first delivery opens the connection.
    pub fn session(&self) -> SmtpSession<'_> {
        SmtpSession {
            server: self,
            connection: None,
        }
    }

    /// Runs one step within the time limit.
    async fn step<T>(
        &self,
        step: SmtpStep,
        work: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, SmtpError> {
        match tokio::time::timeout(self.step_timeout, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(SmtpError::Failed { step, source }),
            Err(_) => Err(SmtpError::TimedOut {
                step,
                timeout: self.step_timeout,
            }),
        }
    }

    /// Opens the TCP connection with `TCP_NODELAY`, wraps it in TLS for `smtps://`, and reads the
    /// greeting and the reply to EHLO, all within one step's time limit.
    async fn open(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let failed = |source| SmtpError::Failed {
            step: SmtpStep::Connect,
            source,
        };
        let open = async {
            let socket = stream::connect_tcp(&self.host, self.port)
                .await
                .map_err(|source| SmtpError::Io {
                    step: SmtpStep::Connect,
                    source,
                })?;
            let stream: Box<dyn AsyncTokioStream> = match &self.encryption {
                Encryption::Wrapper(parameters) => stream::wrap_in_tls(socket, parameters.clone())
                    .await
                    .map_err(failed)?,
                _ => Box::new(socket),
            };
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello_name)
                .await
                .map_err(failed)
        };
        tokio::time::timeout(self.step_timeout, open)
            .await
            .unwrap_or(Err(SmtpError::TimedOut {
                step: SmtpStep::Connect,
                timeout: self.step_timeout,
            }))
    }

    /// Opens a connection: TCP, TLS or STARTTLS as configured, the greeting, EHLO and AUTH.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let mut connection = self.open().await?;
        let starttls = match &self.encryption {
            Encryption::Required(parameters) => Some(parameters.clone()),
            Encryption::Opportunistic(parameters) if connection.can_starttls() => {
                Some(parameters.clone())
            }
            _ => None,
        };
        if let Some(parameters) = starttls {
            // lettre fails here when the server does not offer STARTTLS.
            self.step(
                SmtpStep::StartTls,
                connection.starttls(parameters, &self.hello_name),
            )
            .await?;
        }
        if let Some(credentials) = &self.credentials {
            self.step(
                SmtpStep::Auth,
                connection.auth(DEFAULT_MECHANISMS, credentials),
            )
            .await?;
        }
        Ok(connection)
    }

    /// Sends one message over an open connection: MAIL FROM, RCPT TO per recipient, DATA and the
    /// content. The MAIL FROM parameters follow lettre's own `send`.
    async fn transmit(
        &self,
        connection: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), SmtpError> {
        let mut parameters = Vec::new();
        let non_ascii_address = envelope
            .to()
            .iter()
            .chain(envelope.from())
            .any(|address| !AsRef::<str>::as_ref(address).is_ascii());
        if non_ascii_address {
            if !connection
                .server_info()
                .supports_feature(Extension::SmtpUtfEight)
            {
                return Err(SmtpError::Unsupported {
                    extension: "SMTPUTF8",
                });
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !message.is_ascii() {
            if !connection
                .server_info()
                .supports_feature(Extension::EightBitMime)
            {
                return Err(SmtpError::Unsupported {
                    extension: "8BITMIME",
                });
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }

        self.step(
            SmtpStep::MailFrom,
            connection.command(Mail::new(envelope.from().cloned(), parameters)),
        )
        .await?;
        for recipient in envelope.to() {
            self.step(
                SmtpStep::RcptTo,
                connection.command(Rcpt::new(recipient.clone(), Vec::new())),
            )
            .await?;
        }
        self.step(SmtpStep::Data, connection.command(Data)).await?;
        self.step(SmtpStep::Message, connection.message(message))
            .await?;
        Ok(())
    }
}

/// One connection used for the deliveries of one outbox round. Dropping the session closes the
/// connection without QUIT.
pub struct SmtpSession<'a> {
    server: &'a SmtpServer,
    connection: Option<Box<AsyncSmtpConnection>>,
}

impl SmtpSession<'_> {
    /// Delivers one message, reusing the open connection when there is one. A reused connection
    /// that fails at MAIL FROM, as one the server closed after idling does, is replaced once.
    pub async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<(), SmtpError> {
        if let Some(mut connection) = self.connection.take() {
            match self
                .server
                .transmit(&mut connection, envelope, message)
                .await
            {
                Ok(()) => {
                    self.connection = Some(connection);
                    return Ok(());
                }
                Err(SmtpError::TimedOut {
                    step: SmtpStep::MailFrom,
                    ..
                })
                | Err(SmtpError::Failed {
                    step: SmtpStep::MailFrom,
                    ..
                }) => {
                    tracing::debug!("reused SMTP connection failed at MAIL FROM, reconnecting");
                }
                Err(error) => return Err(error),
            }
        }
        let mut connection = Box::new(self.server.connect().await?);
        self.server
            .transmit(&mut connection, envelope, message)
            .await?;
        self.connection = Some(connection);
        Ok(())
    }

    /// Ends the session with QUIT, waiting at most one step's time limit for the reply.
    pub async fn close(mut self) {
        if let Some(mut connection) = self.connection.take() {
            let _ = tokio::time::timeout(self.server.step_timeout, connection.quit()).await;
        }
    }
}

/// Decodes `%XX` escapes. Returns `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let digits = tail.get(..2)?;
            if !digits.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(digits).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

mod stream;
#[cfg(test)]
mod tests;
