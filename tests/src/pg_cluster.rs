//! A PostgreSQL server owned by one test, so the test can stop and restart it: `initdb` and
//! `pg_ctl` from the Debian packages (`/usr/lib/postgresql/<version>/bin`), a data folder in a
//! temporary folder, and a free port on 127.0.0.1. The server is stopped when the value is
//! dropped.
//!
//! `initdb` refuses to run as root, so as root the commands run as the `postgres` user that the
//! Debian package creates, through `runuser`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Folder with one subfolder per installed PostgreSQL version.
const INSTALL_ROOT: &str = "/usr/lib/postgresql";
/// System user that runs the server when the tests run as root.
const SERVER_USER: &str = "postgres";

/// A running (or stopped) PostgreSQL server of its own.
pub struct PgCluster {
    bin: PathBuf,
    data: PathBuf,
    folder: tempfile::TempDir,
    port: u16,
    run_as_server_user: bool,
}

impl PgCluster {
    /// Creates a cluster with trust authentication for the superuser `postgres` and starts it.
    pub async fn start() -> anyhow::Result<Self> {
        tokio::task::spawn_blocking(Self::start_blocking).await?
    }

    fn start_blocking() -> anyhow::Result<Self> {
        let bin = newest_bin_folder()?;
        let folder = tempfile::Builder::new()
            .prefix("mep24web-pg-")
            .tempdir()
            .context("cannot create a folder for the PostgreSQL cluster")?;
        let run_as_server_user = is_root()?;
        if run_as_server_user {
            run(Command::new("chown")
                .arg(format!("{SERVER_USER}:"))
                .arg(folder.path()))
            .context("cannot give the cluster folder to the postgres user")?;
        }
        let port = free_port()?;
        let cluster = Self {
            bin,
            data: folder.path().join("data"),
            folder,
            port,
            run_as_server_user,
        };
        run(cluster
            .command("initdb")
            .arg("--pgdata")
            .arg(&cluster.data)
            .args([
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]))
        .context("initdb failed")?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// Returns the URL of the maintenance database `postgres` for the superuser.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server, ending every connection (`pg_ctl stop -m fast`), and waits until it
    /// has stopped.
    pub async fn stop(&self) -> anyhow::Result<()> {
        let mut command = self.pg_ctl(&["stop", "--mode=fast", "--wait"]);
        tokio::task::spawn_blocking(move || run(&mut command).context("pg_ctl stop failed")).await?
    }

    /// Starts the stopped server again on the same port and waits until it accepts
    /// connections.
    pub async fn restart(&self) -> anyhow::Result<()> {
        let mut command = self.start_command();
        let log = self.log_path();
        tokio::task::spawn_blocking(move || start_with_log(&mut command, &log)).await?
    }

    fn start_server(&self) -> anyhow::Result<()> {
        start_with_log(&mut self.start_command(), &self.log_path())
    }

    fn log_path(&self) -> PathBuf {
        self.folder.path().join("server.log")
    }

    fn start_command(&self) -> Command {
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.folder.path().display()
        );
        let mut command = self.pg_ctl(&["start", "--wait", "--timeout=30"]);
        command
            .arg("--log")
            .arg(self.log_path())
            .arg("-o")
            .arg(options);
        command
    }

    fn pg_ctl(&self, arguments: &[&str]) -> Command {
        let mut command = self.command("pg_ctl");
        command.arg("--pgdata").arg(&self.data).args(arguments);
        command
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.run_as_server_user {
            let mut command = Command::new("runuser");
            command.args(["-u", SERVER_USER, "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .pg_ctl(&["stop", "--mode=immediate", "--wait"])
            .output();
    }
}

/// Runs the command and fails with its output when it exits unsuccessfully.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} exited with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Runs `pg_ctl start` and adds the server log to the error when it fails, for example because
/// another process took the port meanwhile.
fn start_with_log(command: &mut Command, log: &Path) -> anyhow::Result<()> {
    run(command).with_context(|| {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        format!("pg_ctl start failed; server log:\n{text}")
    })
}

/// Returns the `bin` folder of the newest installed PostgreSQL version.
fn newest_bin_folder() -> anyhow::Result<PathBuf> {
    let entries = std::fs::read_dir(INSTALL_ROOT).with_context(|| {
        format!("PostgreSQL is not installed in {INSTALL_ROOT}; install the postgresql package")
    })?;
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_server_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => {
            bail!("no initdb and pg_ctl in {INSTALL_ROOT}/*/bin; install the postgresql package")
        }
    }
}

fn has_server_tools(bin: &Path) -> bool {
    bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()
}

fn is_root() -> anyhow::Result<bool> {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .context("cannot run id -u")?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// Returns a port that was free a moment ago. Another process could take it before the server
/// binds it, which fails the start with the server log in the error.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
