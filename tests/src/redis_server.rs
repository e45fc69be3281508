//! A Redis server owned by one test, so the test can stop it and start it again: the
//! `redis-server` binary on a free port of 127.0.0.1, without persistence or with an append-only
//! file in a temporary folder. The server is killed when the value is dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Time a start may take until the server replies to `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A Redis server process of its own.
pub struct RedisServer {
    port: u16,
    process: Option<Child>,
    /// The folder of the append-only file, when the server keeps its data across restarts.
    data_dir: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it replies to `PING`.
    pub async fn start() -> anyhow::Result<Self> {
        let mut server = Self {
            port: crate::pg_cluster::free_port()?,
            process: None,
            data_dir: None,
        };
        server.restart().await?;
        Ok(server)
    }

    /// Starts a server like [`RedisServer::start`] that writes every change to an append-only
    /// file before it replies, as production should run it, so its data survives a crash.
    pub async fn start_persistent() -> anyhow::Result<Self> {
        let mut server = Self {
            port: crate::pg_cluster::free_port()?,
            process: None,
            data_dir: Some(tempfile::tempdir().context("cannot create a folder for Redis")?),
        };
        server.restart().await?;
        Ok(server)
    }

    /// Returns `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server, as a crash would, and waits until the process has exited.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts the server on its port (again) and waits until it replies to `PING`.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--save", ""]);
        match &self.data_dir {
            Some(folder) => command
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(folder.path()),
            None => command.args(["--appendonly", "no"]),
        };
        let process = command
            .arg("--port")
            .arg(self.port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server; install the redis-server package")?;
        self.process = Some(process);

        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if self.answers_ping().await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "redis-server on port {} did not answer within {START_TIMEOUT:?}",
            self.port
        )
    }

    async fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        if stream.write_all(b"PING\r\n").await.is_err() {
            return false;
        }
        let mut reply = [0_u8; 7];
        stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
