//! Destinations of outgoing mail: an SMTP server, or a folder of `.eml` files in the embedded
//! mode.

use std::path::PathBuf;
use std::time::Duration;

use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use super::smtp::{SmtpServer, SmtpSession};

/// Time allowed for writing one `.eml` file, which bounds how long a worker keeps the claim on
/// its mail. Writing to a local disk takes far less.
const FILE_DELIVERY_TIME: Duration = Duration::from_secs(60);

/// Destination of outgoing mail.
#[derive(Clone)]
pub enum Transport {
    Smtp(SmtpServer),
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

impl Transport {
    /// Builds an SMTP transport from a URL such as `smtp://host:25`,
    /// `smtp://user:pass@host:587?tls=required` or `smtps://host:465`. Connecting (with the
    /// greeting and EHLO), each command and the message data may each take at most
    /// `step_timeout`.
    pub fn smtp(url: &str, step_timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self::Smtp(SmtpServer::from_url(url, step_timeout)?))
    }

    /// Builds a transport that writes each mail as an `.eml` file into a folder.
    pub fn files(folder: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&folder)?;
        Ok(Self::Files(AsyncFileTransport::new(&folder), folder))
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(server) => server.describe(),
            Self::Files(_, folder) => format!("files in {}", folder.display()),
        }
    }

    /// Returns the longest time one delivery can take.
    pub fn max_delivery_time(&self) -> Duration {
        match self {
            Self::Smtp(server) => server.max_delivery_time(),
            Self::Files(..) => FILE_DELIVERY_TIME,
        }
    }

    /// Starts a session for one round of deliveries.
    pub(crate) fn session(&self) -> Session<'_> {
        match self {
            Self::Smtp(server) => Session::Smtp(server.session()),
            Self::Files(transport, _) => Session::Files(transport),
        }
    }
}

/// Deliveries of one round, over one SMTP connection where possible.
pub(crate) enum Session<'a> {
    Smtp(SmtpSession<'a>),
    Files(&'a AsyncFileTransport<Tokio1Executor>),
}

impl Session<'_> {
    pub(crate) async fn send(&mut self, message: Message) -> anyhow::Result<()> {
        match self {
            Self::Smtp(session) => {
                session
                    .send(message.envelope(), &message.formatted())
                    .await?;
            }
            Self::Files(transport) => {
                transport.send(message).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn close(self) {
        if let Self::Smtp(session) = self {
            session.close().await;
        }
    }
}
