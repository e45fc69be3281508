//! `mep24web-bench`: load benchmarks of a release build of `mep24web serve` on loopback.
//!
//! `all` generates the data set on SQLite and on PostgreSQL and starts the server on each. It
//! runs wrk against the tenant login page, the portal, the app API's `me` and the login, and
//! measures the baselines (a bare route and raw Argon2 verifications) and the invitation of
//! 5,000 employees. It prints every figure and target as Markdown, and `docs/BENCHMARKS.md`
//! explains the runs.

mod argon;
mod clients;
mod database;
mod generate;
mod machine;
mod report;
mod scenarios;
mod server;
mod smtp_sink;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mep24web_platform::passwords::PasswordHasher;
use secrecy::SecretString;

use crate::database::Backend;
use crate::machine::Machine;
use crate::report::Report;
use crate::scenarios::Options;

#[derive(Parser, Debug)]
#[command(about = "Load benchmarks of mep24web on loopback")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every benchmark on every engine and print the figures and targets.
    All(AllArgs),
    /// Measure only raw Argon2 verifications per second with the server's parameters.
    Argon2 {
        /// Length of the measurement, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[derive(clap::Args, Debug)]
struct AllArgs {
    /// The server binary; build it with `cargo build --release -p mep24web`.
    #[arg(long, default_value = "target/release/mep24web")]
    server: PathBuf,
    /// Engines to measure, in this order.
    #[arg(long = "backend", value_enum, default_values_t = [Backend::Sqlite, Backend::Postgres])]
    backends: Vec<Backend>,
    /// Superuser connection to PostgreSQL's `postgres` database; the tool creates its own
    /// databases and role there and drops them afterwards.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Length of each measured wrk run, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Length of the warm-up before each measured run, in seconds.
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
    /// Open connections of each throughput run.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// Tenants of the main data set, each with its employees and their logins.
    #[arg(long, default_value_t = 1_000)]
    tenants: usize,
    /// Employees per tenant, each with a portal login.
    #[arg(long, default_value_t = 200)]
    employees: usize,
    /// Employees invited at once; 0 skips the invitation run.
    #[arg(long, default_value_t = 5_000)]
    invite: usize,
    /// Tenants of the larger database in the tenant resolution comparison (the smaller has 10);
    /// 0 skips the comparison.
    #[arg(long, default_value_t = 10_000)]
    resolution_tenants: usize,
    /// Sessions and app tokens that the portal and `me` runs are spread over.
    #[arg(long, default_value_t = 64)]
    sessions: usize,
    /// Sets an environment variable of the server, after the tool's own, for example
    /// MEP24WEB_HASH_CONCURRENCY=1. May be given several times.
    #[arg(long = "server-env", value_name = "NAME=VALUE", value_parser = parse_variable)]
    server_env: Vec<(String, String)>,
    /// Folder for the server logs, the wrk request lists and `results.json`.
    #[arg(long, default_value = "target/bench")]
    output_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::All(args) => run_all(args).await,
        Command::Argon2 { seconds } => {
            let hash = benchmark_hash().await?;
            let cores = Machine::read().cores;
            let result = tokio::task::spawn_blocking(move || {
                argon::measure(
                    &hash,
                    generate::PASSWORD,
                    cores,
                    Duration::from_secs(seconds),
                )
            })
            .await??;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
    }
}

/// Parses `NAME=VALUE` of `--server-env`.
fn parse_variable(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got '{text}'")),
    }
}

/// Hashes the benchmark password once, with the server's own hasher and parameters.
async fn benchmark_hash() -> anyhow::Result<String> {
    PasswordHasher::new(1)
        .hash(&SecretString::from(generate::PASSWORD))
        .await
}

async fn run_all(args: AllArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.server.is_file(),
        "the server binary {} is missing; build it with cargo build --release -p mep24web",
        args.server.display()
    );
    std::fs::create_dir_all(&args.output_dir)
        .with_context(|| format!("cannot create {}", args.output_dir.display()))?;
    let machine = Machine::read();
    let options = Options {
        binary: args.server.canonicalize()?,
        output_dir: args.output_dir.canonicalize()?,
        postgres_url: args.postgres_url,
        seconds: args.seconds,
        warmup_seconds: args.warmup_seconds,
        connections: args.connections,
        tenants: args.tenants,
        employees_per_tenant: args.employees,
        invite_employees: args.invite,
        resolution_tenants: args.resolution_tenants,
        sessions: args.sessions,
        server_env: args.server_env,
        cores: machine.cores,
    };
    let wrk = wrk::Wrk::new(&options.output_dir)?;
    let started_at = chrono::Utc::now().to_rfc3339();
    let hash = benchmark_hash().await?;

    let mut backends = Vec::new();
    for backend in args.backends {
        backends.push(scenarios::run_backend(&options, backend, &wrk, &hash).await?);
    }
    let targets = backends.iter().flat_map(report::targets).collect();
    let report = Report {
        started_at,
        machine,
        server_env: options.server_env.clone(),
        backends,
        targets,
    };
    let json_path = options.output_dir.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    println!("{}", report::markdown(&report));
    eprintln!("figures written to {}", json_path.display());
    Ok(())
}
