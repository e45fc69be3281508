//! Tests that the built `mep24web` binary, once it exits, leaves a complete SQLite database in
//! `mep24web.db`. Each test runs the binary on its own data folder, then reads a copy of that one
//! file without `mep24web.db-wal`, as an operator who copies a stopped installation does.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, Statement};

/// Settings every test sets itself; inherited values would point the binary elsewhere.
const SETTING_PREFIX: &str = "MEP24WEB_";

/// Builds a command for the binary on `data_dir`, always on SQLite.
fn mep24web(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mep24web"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with(SETTING_PREFIX) {
            command.env_remove(name);
        }
    }
    command
        .env("MEP24WEB_DATA_DIR", data_dir)
        .env("MEP24WEB_LOG", "info")
        .env("MEP24WEB_LOG_FORMAT", "json");
    command
}

/// Waits until `child` exits, or kills it and panics after `limit`.
fn wait_for_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child
            .try_wait()
            .unwrap_or_else(|error| panic!("cannot read the server's exit status: {error}"))
        {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the server did not exit within {limit:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Copies `mep24web.db` alone into a new folder and counts the tenants in the copy.
fn tenants_in_copy_of_database_file(data_dir: &Path) -> i64 {
    let copy_dir = tempfile::tempdir()
        .unwrap_or_else(|error| panic!("cannot create a folder for the copy: {error}"));
    let copy = copy_dir.path().join("mep24web.db");
    std::fs::copy(data_dir.join("mep24web.db"), &copy)
        .unwrap_or_else(|error| panic!("cannot copy mep24web.db: {error}"));
    let url = format!("sqlite://{}?mode=ro", copy.display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("cannot start a runtime: {error}"))
        .block_on(async {
            let db = Database::connect(url)
                .await
                .unwrap_or_else(|error| panic!("cannot open the copy: {error}"));
            let row = db
                .query_one(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM tenants",
                ))
                .await
                .unwrap_or_else(|error| panic!("the copy of mep24web.db is incomplete: {error}"))
                .unwrap_or_else(|| panic!("COUNT returned no row"));
            let count: i64 = row
                .try_get("", "n")
                .unwrap_or_else(|error| panic!("cannot read the tenant count: {error}"));
            db.close()
                .await
                .unwrap_or_else(|error| panic!("cannot close the copy: {error}"));
            count
        })
}

/// Returns the size of `mep24web.db-wal`, or 0 when the file is gone.
fn wal_size(data_dir: &Path) -> u64 {
    std::fs::metadata(data_dir.join("mep24web.db-wal"))
        .map(|metadata| metadata.len())
        .unwrap_or(0)
}

#[test]
fn serve_stopped_by_sigterm_leaves_complete_file() {
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let mut server = mep24web(data_dir.path())
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--metrics-addr",
            "off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mep24web serve");

    let stderr = server.stderr.take().expect("server's standard error");
    let (listening, listening_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("server listening") {
                let _ = listening.send(());
            }
        }
    });
    if listening_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = server.kill();
        panic!("the server logged no \"server listening\" within 60 seconds");
    }

    let signal = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("run kill");
    assert!(signal.success(), "kill -TERM failed: {signal}");
    let status = wait_for_exit(&mut server, Duration::from_secs(30));
    assert!(status.success(), "the server exited with {status}");

    assert_eq!(
        wal_size(data_dir.path()),
        0,
        "mep24web.db-wal still holds pages"
    );
    assert_eq!(tenants_in_copy_of_database_file(data_dir.path()), 1);
}

#[test]
fn tenant_create_leaves_complete_file() {
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let output = mep24web(data_dir.path())
        .args(["tenant", "create", "--name", "Apotheke am Markt"])
        .args(["--slug", "apotheke-am-markt", "--json"])
        .output()
        .expect("run mep24web tenant create");
    assert!(
        output.status.success(),
        "tenant create failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    assert_eq!(
        wal_size(data_dir.path()),
        0,
        "mep24web.db-wal still holds pages"
    );
    assert_eq!(tenants_in_copy_of_database_file(data_dir.path()), 1);
}
