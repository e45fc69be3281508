//! The server under test: a release build of `mep24web serve`, started as a child process on a
//! free loopback port, with its resident memory read from `/proc`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::machine::kib_field;

/// Login attempts allowed per client address and per tenant during a run. wrk sends every
/// request from 127.0.0.1, so the defaults (20 per address and 300 per tenant a minute) would
/// reject almost every login with 429.
pub const RAISED_LOGIN_LIMIT: u32 = 10_000_000;

/// Resident memory of the server process, in KiB.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the highest resident size so far.
    pub hwm_kib: u64,
}

/// A running server; dropping it kills the process.
pub struct Server {
    child: Child,
    pub port: u16,
}

/// Returns the `MEP24WEB_*` variables of every benchmark server besides the database.
pub fn common_env(port: u16, smtp_port: u16) -> Vec<(String, String)> {
    [
        ("MEP24WEB_LISTEN", format!("127.0.0.1:{port}")),
        ("MEP24WEB_METRICS_ADDR", "off".to_owned()),
        ("MEP24WEB_BASE_DOMAIN", "localhost".to_owned()),
        ("MEP24WEB_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
        ("MEP24WEB_LOG", "warn".to_owned()),
        (
            "MEP24WEB_LOGIN_LIMIT_PER_IP",
            RAISED_LOGIN_LIMIT.to_string(),
        ),
        (
            "MEP24WEB_LOGIN_LIMIT_PER_TENANT",
            RAISED_LOGIN_LIMIT.to_string(),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// Returns a port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Runs `mep24web <args>` to completion with `env` and no other `MEP24WEB_*` variable.
pub fn run_command(binary: &Path, args: &[&str], env: &[(String, String)]) -> anyhow::Result<()> {
    let output = command(binary, env)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "{} {} failed: {}",
            binary.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn command(binary: &Path, env: &[(String, String)]) -> Command {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("MEP24WEB_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().map(|(name, value)| (name, value)));
    command
}

impl Server {
    /// Starts `mep24web serve` with `env` and waits up to 60 seconds for `/healthz`. The server's
    /// log goes to `log_file`.
    pub async fn start(
        binary: &Path,
        port: u16,
        env: &[(String, String)],
        log_file: PathBuf,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(&log_file)
            .with_context(|| format!("cannot create {}", log_file.display()))?;
        let child = command(binary, env)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = Self { child, port };
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/healthz");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!(
                    "the server exited with {status} before it was ready; see {}",
                    log_file.display()
                );
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop();
                anyhow::bail!(
                    "/healthz did not respond within 60 s; see {}",
                    log_file.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Returns the server's `VmRSS` and `VmHWM` from `/proc/<pid>/status`.
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        Memory {
            rss_kib: kib_field(&status, "VmRSS").unwrap_or(0),
            hwm_kib: kib_field(&status, "VmHWM").unwrap_or(0),
        }
    }

    /// Sends SIGTERM, waits up to 10 seconds for the graceful shutdown, then kills the process.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}
