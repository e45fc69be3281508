//! The runs on one database engine: generate the data, start the server, measure each route,
//! the baselines, a login storm and the invitation of a whole organization, then clean up.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::argon;
use crate::clients::{self, apex_host, login_form, tenant_host};
use crate::database::{Backend, BenchDatabase};
use crate::generate::{self, ADMIN_USERNAME, Dataset, Plan, employee_username};
use crate::machine::load_average;
use crate::report::{ArgonRun, BackendReport, Figure, InviteFigure};
use crate::server::{self, Server};
use crate::smtp_sink::SmtpSink;
use crate::wrk::{Entry, Load, Wrk};

/// Connections of the second login storm, fewer than the server's default pool of 10 database
/// connections (`MEP24WEB_DB_MAX_CONNECTIONS`).
const STORM_BELOW_POOL: u32 = 8;
/// Tenants of the smaller database in the comparison of tenant resolution costs.
const FEW_TENANTS: usize = 10;
/// Shortest warm-up of the tenant resolution runs, long enough for one pass over 10,000 tenants
/// at the rates measured so far.
const RESOLUTION_WARMUP_SECONDS: u64 = 10;

/// Settings of a run that every engine shares.
pub struct Options {
    pub binary: PathBuf,
    pub output_dir: PathBuf,
    pub postgres_url: String,
    pub seconds: u64,
    pub warmup_seconds: u64,
    pub connections: u32,
    pub tenants: usize,
    pub employees_per_tenant: usize,
    pub invite_employees: usize,
    /// Tenants of the larger database in the comparison of tenant resolution with 10 tenants.
    pub resolution_tenants: usize,
    /// Sessions and app tokens to spread the authenticated runs over.
    pub sessions: usize,
    /// Extra environment variables of the server, set after the tool's own.
    pub server_env: Vec<(String, String)>,
    pub cores: usize,
}

impl Options {
    fn load(&self, connections: u32) -> Load {
        Load {
            threads: 1,
            connections,
            seconds: self.seconds,
        }
    }
}

/// A started server with its database, the SMTP sink it sends to and the wrk runner.
struct Bench<'a> {
    options: &'a Options,
    server: Server,
    wrk: &'a Wrk,
    warmup_seconds: u64,
}

impl Bench<'_> {
    /// Warms up with the same requests, then measures one run and records it.
    async fn measure(
        &self,
        id: &str,
        label: &str,
        entries: &[Entry],
        connections: u32,
    ) -> anyhow::Result<Figure> {
        let load = self.options.load(connections);
        if self.warmup_seconds > 0 {
            let warmup = Load {
                seconds: self.warmup_seconds,
                ..load
            };
            self.wrk.run(id, self.server.port, entries, warmup).await?;
        }
        let load_before = load_average();
        let result = self.wrk.run(id, self.server.port, entries, load).await?;
        let figure = Figure::new(id, label, load, &result, self.server.memory(), load_before);
        eprintln!(
            "  {label}: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            figure.requests_per_second, figure.p50_ms, figure.p99_ms, figure.errors
        );
        Ok(figure)
    }
}

/// Starts a server on `db` that sends mail to `smtp_port`.
async fn start_server(
    options: &Options,
    db: &BenchDatabase,
    smtp_port: u16,
    name: &str,
) -> anyhow::Result<Server> {
    let port = server::free_port()?;
    let mut env = db.server_env();
    env.extend(server::common_env(port, smtp_port));
    env.extend(options.server_env.iter().cloned());
    let log = options.output_dir.join(format!("server-{name}.log"));
    Server::start(&options.binary, port, &env, log).await
}

/// Migrates `db` with the server binary and writes the plan into it.
async fn prepare(
    options: &Options,
    db: &BenchDatabase,
    plan: Plan,
    password_hash: &str,
) -> anyhow::Result<Dataset> {
    let mut env = db.server_env();
    env.extend(server::common_env(0, 25));
    server::run_command(&options.binary, &["migrate"], &env)?;
    let conn = db.connect_owner().await?;
    let dataset = generate::generate(&conn, plan, password_hash).await?;
    conn.close().await?;
    eprintln!(
        "  generated {} tenants and {} employees in {:.1} s",
        dataset.tenants.len(),
        dataset.employees,
        dataset.seconds
    );
    Ok(dataset)
}

/// Runs everything on one engine and drops its databases afterwards, also after a failure.
pub async fn run_backend(
    options: &Options,
    backend: Backend,
    wrk: &Wrk,
    password_hash: &str,
) -> anyhow::Result<BackendReport> {
    eprintln!("{}: main data set", backend.name());
    let db = BenchDatabase::create(backend, "main", &options.postgres_url).await?;
    let main = main_runs(options, &db, wrk, password_hash).await;
    db.drop_database().await?;
    let mut report = main?;
    if options.resolution_tenants == 0 {
        return Ok(report);
    }
    for (size, tenants) in [("few", FEW_TENANTS), ("many", options.resolution_tenants)] {
        eprintln!(
            "{}: tenant resolution with {tenants} tenants",
            backend.name()
        );
        let db =
            BenchDatabase::create(backend, &format!("res{tenants}"), &options.postgres_url).await?;
        let figures = resolution_runs(options, &db, wrk, size, tenants, password_hash).await;
        db.drop_database().await?;
        report.figures.extend(figures?);
    }
    Ok(report)
}

async fn main_runs(
    options: &Options,
    db: &BenchDatabase,
    wrk: &Wrk,
    password_hash: &str,
) -> anyhow::Result<BackendReport> {
    let plan = Plan {
        tenants: options.tenants,
        employees_per_tenant: options.employees_per_tenant,
        invite_employees: options.invite_employees,
        slug_prefix: "bench",
    };
    let dataset = prepare(options, db, plan, password_hash).await?;
    let sink = SmtpSink::start().await?;
    let server = start_server(options, db, sink.port, &format!("{:?}-main", db.backend)).await?;
    let memory_idle = server.memory();
    let port = server.port;
    let bench = Bench {
        options,
        server,
        wrk,
        warmup_seconds: options.warmup_seconds,
    };
    let connections = options.connections;
    let tenants = &dataset.tenants;

    let client = clients::client()?;
    let step = (tenants.len() / options.sessions.max(1)).max(1);
    let chosen: Vec<_> = tenants
        .iter()
        .step_by(step)
        .take(options.sessions)
        .collect();
    let mut portal = Vec::new();
    let mut me = Vec::new();
    for tenant in &chosen {
        let host = tenant_host(&tenant.slug, port);
        let cookie = format!(
            "mep24web_session={}",
            clients::web_session(&client, port, &tenant.slug, &employee_username(1)).await?
        );
        clients::expect_ok(
            &client,
            port,
            &host,
            "/portal",
            Some(("Cookie", cookie.clone())),
        )
        .await?;
        portal.push(Entry::get(&host, "/portal").header("Cookie", cookie));
        let token =
            clients::app_token(&client, port, tenant.customer_number, &employee_username(2))
                .await?;
        let bearer = format!("Bearer {token}");
        clients::expect_ok(
            &client,
            port,
            &apex_host(port),
            "/api/app/v1/me",
            Some(("Authorization", bearer.clone())),
        )
        .await?;
        me.push(Entry::get(&apex_host(port), "/api/app/v1/me").header("Authorization", bearer));
    }

    let bare = vec![Entry::get(&apex_host(port), "/healthz")];
    let root: Vec<Entry> = tenants
        .iter()
        .map(|tenant| Entry::get(&tenant_host(&tenant.slug, port), "/"))
        .collect();
    let login_page: Vec<Entry> = tenants
        .iter()
        .map(|tenant| Entry::get(&tenant_host(&tenant.slug, port), "/login"))
        .collect();
    let logins = login_entries(&dataset, port, options.employees_per_tenant.min(5));

    let mut figures = vec![
        bench
            .measure("bare", "bare route `/healthz`", &bare, connections)
            .await?,
        bench
            .measure(
                "tenant_root",
                "tenant route `/` (redirect)",
                &root,
                connections,
            )
            .await?,
        bench
            .measure(
                "login_page",
                "(a) tenant login page",
                &login_page,
                connections,
            )
            .await?,
        bench
            .measure(
                "portal",
                "(b) portal `/portal`, session cookie",
                &portal,
                connections,
            )
            .await?,
        bench
            .measure("app_me", "(c) app API `me`, bearer token", &me, connections)
            .await?,
    ];
    // The raw Argon2 baseline runs right before and right after the login run, so work of other
    // processes during one of them shows as a difference between the two.
    let mut argon_runs = vec![measure_argon(options, password_hash, "before the login run").await?];
    figures.push(
        bench
            .measure("login", "(d) login POST", &logins, connections)
            .await?,
    );
    argon_runs.push(measure_argon(options, password_hash, "after the login run").await?);

    let probe = &login_page[..1];
    figures.push(
        bench
            .measure("probe_idle", "login page probe, idle", probe, 1)
            .await?,
    );
    figures.extend(login_storm(&bench, probe, &logins, connections, "").await?);
    figures.extend(login_storm(&bench, probe, &logins, STORM_BELOW_POOL, "_below_pool").await?);

    let mut invites = Vec::new();
    if let Some(invite) = &dataset.invite {
        for quick_ack in [false, true] {
            sink.set_quick_ack(quick_ack);
            invites
                .push(invite_run(options, &bench.server, &sink, invite, &client, quick_ack).await?);
        }
    }
    let memory_after = bench.server.memory();
    eprintln!(
        "  server memory: {} KiB resident, {} KiB at most",
        memory_after.rss_kib, memory_after.hwm_kib
    );
    Ok(BackendReport {
        backend: db.backend,
        tenants: tenants.len(),
        employees: dataset.employees,
        generate_seconds: dataset.seconds,
        memory_idle,
        figures,
        argon_runs,
        invites,
    })
}

/// Measures raw Argon2 verifications on one thread per core.
async fn measure_argon(
    options: &Options,
    password_hash: &str,
    when: &str,
) -> anyhow::Result<ArgonRun> {
    let load_average = load_average();
    let hash = password_hash.to_owned();
    let threads = options.cores;
    let duration = Duration::from_secs(options.seconds);
    let result = tokio::task::spawn_blocking(move || {
        argon::measure(&hash, generate::PASSWORD, threads, duration)
    })
    .await??;
    eprintln!(
        "  raw Argon2 {when}: {:.1} verifications/s on {} threads (load average before {load_average:.2})",
        result.per_second, result.threads
    );
    Ok(ArgonRun {
        when: when.to_owned(),
        load_average,
        result,
    })
}

/// Returns logins spread over every tenant and its first `per_tenant` employees.
fn login_entries(dataset: &Dataset, port: u16, per_tenant: usize) -> Vec<Entry> {
    let mut entries = Vec::new();
    for number in 1..=per_tenant.max(1) {
        for tenant in &dataset.tenants {
            entries.push(Entry {
                method: "POST",
                path: "/login".to_owned(),
                headers: vec![
                    ("Host", tenant_host(&tenant.slug, port)),
                    (
                        "Content-Type",
                        "application/x-www-form-urlencoded".to_owned(),
                    ),
                ],
                body: Some(login_form(&employee_username(number))),
            });
        }
    }
    entries
}

/// Measures the probe with one connection while logins run with `connections` connections, and
/// returns the probe's figure and the storm's own, with `suffix` appended to their ids.
async fn login_storm(
    bench: &Bench<'_>,
    probe: &[Entry],
    logins: &[Entry],
    connections: u32,
    suffix: &str,
) -> anyhow::Result<Vec<Figure>> {
    let options = bench.options;
    // The storm starts a warm-up plus one second before the probe and ends a second after it, so
    // the probe meets the storm over its whole run.
    let storm_load = Load {
        threads: 1,
        connections,
        seconds: options.warmup_seconds + options.seconds + 2,
    };
    let port = bench.server.port;
    let storm = bench.wrk.run("storm", port, logins, storm_load);
    let probe_run = async {
        tokio::time::sleep(Duration::from_secs(options.warmup_seconds + 1)).await;
        let load_before = load_average();
        let result = bench
            .wrk
            .run("probe_storm", port, probe, options.load(1))
            .await?;
        anyhow::Ok((result, load_before))
    };
    let (storm, probe) = tokio::join!(storm, probe_run);
    let (probe, load_before) = probe?;
    let storm = storm?;

    let memory = bench.server.memory();
    let probe = Figure::new(
        &format!("probe_storm{suffix}"),
        &format!("login page probe, during a login storm of {connections} connections"),
        options.load(1),
        &probe,
        memory,
        load_before,
    );
    let storm = Figure::new(
        &format!("storm_login{suffix}"),
        &format!("login storm of {connections} connections around the probe"),
        storm_load,
        &storm,
        memory,
        load_before,
    );
    for figure in [&probe, &storm] {
        eprintln!(
            "  {}: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            figure.label, figure.requests_per_second, figure.p50_ms, figure.p99_ms, figure.errors
        );
    }
    Ok(vec![probe, storm])
}

/// Invites every employee of the invitation tenant and waits for their mails. A second run
/// replaces the invitations of the first.
async fn invite_run(
    options: &Options,
    server: &Server,
    sink: &SmtpSink,
    invite: &generate::InviteTenant,
    client: &reqwest::Client,
    quick_ack: bool,
) -> anyhow::Result<InviteFigure> {
    sink.clear();
    let load_before = load_average();
    let response = clients::invite_all(
        client,
        server.port,
        &invite.slug,
        ADMIN_USERNAME,
        invite.organization_id,
    )
    .await?;
    eprintln!(
        "  invitation response: {} after {:.2} s ({})",
        response.status, response.seconds, response.location
    );

    let expected = options.invite_employees;
    let deadline = Instant::now() + Duration::from_secs(600);
    while sink.count() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let arrivals = sink.arrivals();
    let (first, last) = match (arrivals.first(), arrivals.last()) {
        (Some(first), Some(last)) => (*first, *last),
        _ => anyhow::bail!("no invitation mail arrived within 600 s"),
    };
    let delivery_seconds = (last - first).as_secs_f64();
    let figure = InviteFigure {
        quick_ack,
        employees: expected,
        status: response.status,
        response_seconds: response.seconds,
        mails_received: arrivals.len(),
        delivery_seconds,
        mails_per_second: if delivery_seconds > 0.0 {
            (arrivals.len() - 1) as f64 / delivery_seconds
        } else {
            0.0
        },
        response_to_last_mail_seconds: last
            .checked_duration_since(response.responded_at)
            .unwrap_or_default()
            .as_secs_f64(),
        load_average: load_before,
    };
    eprintln!(
        "  {} mails in {:.1} s: {:.0} mails/s",
        figure.mails_received, figure.delivery_seconds, figure.mails_per_second
    );
    Ok(figure)
}

/// Measures the tenant route `/` and the login page over all `tenants` tenants of a database
/// that contains nothing else.
async fn resolution_runs(
    options: &Options,
    db: &BenchDatabase,
    wrk: &Wrk,
    size: &str,
    tenants: usize,
    password_hash: &str,
) -> anyhow::Result<Vec<Figure>> {
    let plan = Plan {
        tenants,
        employees_per_tenant: 0,
        invite_employees: 0,
        slug_prefix: "res",
    };
    let dataset = prepare(options, db, plan, password_hash).await?;
    let server = start_server(options, db, 25, &format!("{:?}-res{tenants}", db.backend))
        .await
        .context("starting the server for the tenant resolution runs failed")?;
    let port = server.port;
    // The warm-up must visit every tenant once, so the measured run finds them all cached.
    let bench = Bench {
        options,
        server,
        wrk,
        warmup_seconds: options.warmup_seconds.max(RESOLUTION_WARMUP_SECONDS),
    };
    let entries = |path: &str| -> Vec<Entry> {
        dataset
            .tenants
            .iter()
            .map(|tenant| Entry::get(&tenant_host(&tenant.slug, port), path))
            .collect()
    };
    Ok(vec![
        bench
            .measure(
                &format!("resolution_{size}_root"),
                &format!("tenant route `/`, {tenants} tenants"),
                &entries("/"),
                options.connections,
            )
            .await?,
        bench
            .measure(
                &format!("resolution_{size}_login_page"),
                &format!("login page, {tenants} tenants"),
                &entries("/login"),
                options.connections,
            )
            .await?,
    ])
}
