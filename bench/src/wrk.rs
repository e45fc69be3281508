//! Load runs with wrk: a request list written as a Lua table, the script in `wrk/rotate.lua`
//! that sends the list in turn, and the parsed result line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The wrk script; see the comment at its top.
const ROTATE_SCRIPT: &str = include_str!("../wrk/rotate.lua");

/// One request of a list.
#[derive(Clone, Debug)]
pub struct Entry {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

impl Entry {
    /// Builds a GET of `path` on the host `host`.
    pub fn get(host: &str, path: &str) -> Self {
        Self {
            method: "GET",
            path: path.to_owned(),
            headers: vec![("Host", host.to_owned())],
            body: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// The connections, threads and duration of a wrk run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
    pub seconds: u64,
}

/// The counts and latencies of wrk's result line, latencies in microseconds.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    /// Responses with a status of 400 or above.
    pub status_errors: u64,
    pub timeouts: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl WrkResult {
    pub fn requests_per_second(&self) -> f64 {
        if self.duration_us == 0 {
            return 0.0;
        }
        self.requests as f64 * 1e6 / self.duration_us as f64
    }

    pub fn errors(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.status_errors
            + self.timeouts
    }
}

/// Writes the script and request lists of one run into a folder.
pub struct Wrk {
    folder: PathBuf,
    script: PathBuf,
}

impl Wrk {
    pub fn new(folder: &Path) -> anyhow::Result<Self> {
        let script = folder.join("rotate.lua");
        std::fs::write(&script, ROTATE_SCRIPT)
            .with_context(|| format!("cannot write {}", script.display()))?;
        Ok(Self {
            folder: folder.to_owned(),
            script,
        })
    }

    /// Runs wrk against the server at `port` with the request list `entries`, saved as
    /// `<name>.lua`, and returns its result.
    pub async fn run(
        &self,
        name: &str,
        port: u16,
        entries: &[Entry],
        load: Load,
    ) -> anyhow::Result<WrkResult> {
        anyhow::ensure!(!entries.is_empty(), "the request list {name} is empty");
        let list = self.folder.join(format!("{name}.lua"));
        std::fs::write(&list, lua_table(entries))
            .with_context(|| format!("cannot write {}", list.display()))?;
        let output = tokio::process::Command::new("wrk")
            .arg(format!("--threads={}", load.threads))
            .arg(format!("--connections={}", load.connections))
            .arg(format!("--duration={}s", load.seconds))
            .arg("--timeout=10s")
            .arg(format!("--script={}", self.script.display()))
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--")
            .arg(&list)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(load.seconds + 60), output)
            .await
            .with_context(|| format!("wrk run {name} did not end"))?
            .context("cannot run wrk; install it with apt-get install wrk")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|line| line.strip_prefix("BENCH_RESULT "))
            .with_context(|| {
                format!(
                    "wrk run {name} printed no result line: {stdout}{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            })?;
        serde_json::from_str(line).with_context(|| format!("wrk result line is invalid: {line}"))
    }
}

/// Renders the entries as a Lua chunk that returns a table.
fn lua_table(entries: &[Entry]) -> String {
    let mut text = String::from("return {\n");
    for entry in entries {
        let mut headers = String::new();
        for (name, value) in &entry.headers {
            let _ = write!(headers, "[{}] = {}, ", lua_string(name), lua_string(value));
        }
        let body = entry
            .body
            .as_deref()
            .map_or_else(|| "nil".to_owned(), lua_string);
        let _ = writeln!(
            text,
            "  {{{}, {}, {{{headers}}}, {body}}},",
            lua_string(entry.method),
            lua_string(&entry.path)
        );
    }
    text.push_str("}\n");
    text
}

/// Quotes text as a Lua string literal.
fn lua_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_table_quotes_values() {
        let entry = Entry {
            method: "POST",
            path: "/login".to_owned(),
            headers: vec![("Host", "a.localhost:1".to_owned())],
            body: Some("username=\"x\"\\".to_owned()),
        };
        assert_eq!(
            lua_table(&[entry]),
            "return {\n  {\"POST\", \"/login\", {[\"Host\"] = \"a.localhost:1\", }, \"username=\\\"x\\\"\\\\\"},\n}\n"
        );
    }
}
