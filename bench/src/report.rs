//! The figures of a run, the targets computed from them, and their rendering as Markdown tables
//! and JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::argon::ArgonResult;
use crate::database::Backend;
use crate::machine::Machine;
use crate::server::Memory;
use crate::wrk::{Load, WrkResult};

/// One load run as reported.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// Stable key, used to find the figure when computing targets.
    pub id: String,
    pub label: String,
    pub load: Load,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Connection errors, timeouts and responses with status 400 or above.
    pub errors: u64,
    /// The server's resident memory right after the run.
    pub memory: Memory,
    /// The 1-minute load average just before the run.
    pub load_average: f64,
}

impl Figure {
    pub fn new(
        id: &str,
        label: &str,
        load: Load,
        result: &WrkResult,
        memory: Memory,
        load_average: f64,
    ) -> Self {
        Self {
            id: id.to_owned(),
            label: label.to_owned(),
            load,
            requests: result.requests,
            requests_per_second: result.requests_per_second(),
            p50_ms: result.p50_us as f64 / 1000.0,
            p99_ms: result.p99_us as f64 / 1000.0,
            errors: result.errors(),
            memory,
            load_average,
        }
    }
}

/// Sending invitations to a whole organization and delivering their mails.
#[derive(Clone, Debug, Serialize)]
pub struct InviteFigure {
    /// Whether the SMTP sink acknowledged every segment at once (see `smtp_sink`).
    pub quick_ack: bool,
    pub employees: usize,
    pub status: u16,
    pub response_seconds: f64,
    pub mails_received: usize,
    /// From the first mail to the last, so the rate excludes the wait for the first round.
    pub delivery_seconds: f64,
    pub mails_per_second: f64,
    /// From the response to the last mail.
    pub response_to_last_mail_seconds: f64,
    pub load_average: f64,
}

/// Everything measured on one database engine.
#[derive(Clone, Debug, Serialize)]
pub struct BackendReport {
    pub backend: Backend,
    pub tenants: usize,
    pub employees: usize,
    pub generate_seconds: f64,
    /// Right after start-up, before any load.
    pub memory_idle: Memory,
    pub figures: Vec<Figure>,
    /// The raw Argon2 baselines, before and after the login run.
    pub argon_runs: Vec<ArgonRun>,
    /// The invitation run against the plain sink, then the one against the quick-ACK sink.
    pub invites: Vec<InviteFigure>,
}

impl BackendReport {
    pub fn figure(&self, id: &str) -> Option<&Figure> {
        self.figures.iter().find(|figure| figure.id == id)
    }
}

/// One raw Argon2 baseline.
#[derive(Clone, Debug, Serialize)]
pub struct ArgonRun {
    /// When it ran, relative to the login run.
    pub when: String,
    /// The 1-minute load average just before it.
    pub load_average: f64,
    pub result: ArgonResult,
}

/// One target judged on the figures of one engine.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub backend: Backend,
    pub name: String,
    pub measured: String,
    pub required: String,
    pub met: bool,
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub started_at: String,
    pub machine: Machine,
    /// Variables given with `--server-env`, which change the server from its benchmark defaults.
    pub server_env: Vec<(String, String)>,
    pub backends: Vec<BackendReport>,
    pub targets: Vec<Target>,
}

/// Computes every target that the figures of `report` allow.
pub fn targets(report: &BackendReport) -> Vec<Target> {
    let mut targets = Vec::new();
    let backend = report.backend;
    let mut add = |name: &str, measured: String, required: &str, met: bool| {
        targets.push(Target {
            backend,
            name: name.to_owned(),
            measured,
            required: required.to_owned(),
            met,
        });
    };

    let rps = |id: &str| report.figure(id).map(|figure| figure.requests_per_second);

    if let Some(bare) = rps("bare") {
        for (id, label) in [
            ("tenant_root", "tenant route `/` vs bare route"),
            ("login_page", "tenant login page vs bare route"),
        ] {
            if let Some(tenant) = rps(id) {
                let ratio = tenant / bare;
                add(label, percent(ratio), ">= 90 %", ratio >= 0.9);
            }
        }
    }

    // The faster baseline is the one less disturbed by other processes, and it makes the target
    // the harder one to meet.
    let argon_rate = report
        .argon_runs
        .iter()
        .map(|run| run.result.per_second)
        .reduce(f64::max);

    if let (Some(login), Some(argon_rate)) = (rps("login"), argon_rate) {
        let ratio = login / argon_rate;
        add(
            "login vs raw Argon2 verifications",
            percent(ratio),
            ">= 85 %",
            ratio >= 0.85,
        );
    }

    for suffix in ["", "_below_pool"] {
        if let (Some(idle), Some(probe), Some(storm)) = (
            report.figure("probe_idle"),
            report.figure(&format!("probe_storm{suffix}")),
            report.figure(&format!("storm_login{suffix}")),
        ) {
            let ratio = probe.p99_ms / idle.p99_ms;
            add(
                &format!(
                    "p99 of the login page during a login storm of {} connections vs idle",
                    storm.load.connections
                ),
                format!(
                    "{ratio:.1}x ({:.1} ms vs {:.1} ms)",
                    probe.p99_ms, idle.p99_ms
                ),
                "< 2x",
                ratio < 2.0,
            );
        }
    }

    for (id, label) in [
        ("root", "tenant route `/`, many vs 10 tenants"),
        ("login_page", "login page, many vs 10 tenants"),
    ] {
        if let (Some(few), Some(many)) = (
            rps(&format!("resolution_few_{id}")),
            rps(&format!("resolution_many_{id}")),
        ) {
            let ratio = many / few;
            add(
                label,
                percent(ratio),
                "90 % to 110 %",
                (0.9..=1.1).contains(&ratio),
            );
        }
    }

    if let Some(invite) = report.invites.iter().find(|invite| !invite.quick_ack) {
        add(
            "response to inviting 5,000 employees",
            format!(
                "{:.2} s (status {})",
                invite.response_seconds, invite.status
            ),
            "<= 2 s",
            invite.response_seconds <= 2.0 && invite.status == 303,
        );
        add(
            "outbox delivery to the local SMTP server",
            format!("{:.0} mails/s", invite.mails_per_second),
            ">= 100 mails/s",
            invite.mails_per_second >= 100.0 && invite.mails_received >= invite.employees,
        );
    }

    targets
}

fn percent(ratio: f64) -> String {
    format!("{:.0} %", ratio * 100.0)
}

/// Renders the run as Markdown tables.
pub fn markdown(report: &Report) -> String {
    let mut text = String::new();
    let machine = &report.machine;
    let _ = writeln!(
        text,
        "Run started {}; {} cores, {}, {:.1} GiB memory.\n",
        report.started_at,
        machine.cores,
        machine.cpu_model,
        machine.memory_total_kib as f64 / 1024.0 / 1024.0
    );
    if !report.server_env.is_empty() {
        let variables: Vec<String> = report
            .server_env
            .iter()
            .map(|(name, value)| format!("`{name}={value}`"))
            .collect();
        let _ = writeln!(
            text,
            "Server environment added: {}.\n",
            variables.join(", ")
        );
    }
    for backend in &report.backends {
        let _ = writeln!(
            text,
            "### {}\n\n{} tenants, {} employees with logins, generated in {:.1} s. \
             Server memory after start-up: {:.0} MiB resident.\n",
            backend.backend.name(),
            backend.tenants,
            backend.employees,
            backend.generate_seconds,
            mib(backend.memory_idle.rss_kib)
        );
        text.push_str(
            "| run | connections | requests/s | p50 ms | p99 ms | errors | VmRSS MiB | VmHWM MiB | load avg |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for figure in &backend.figures {
            let _ = writeln!(
                text,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.0} | {:.2} |",
                figure.label,
                figure.load.connections,
                figure.requests_per_second,
                figure.p50_ms,
                figure.p99_ms,
                figure.errors,
                mib(figure.memory.rss_kib),
                mib(figure.memory.hwm_kib),
                figure.load_average
            );
        }
        for run in &backend.argon_runs {
            let argon = &run.result;
            let _ = writeln!(
                text,
                "\nRaw Argon2id (m={} KiB, t={}, p={}) on {} threads {}: {:.1} verifications/s \
                 (load average {:.2}).",
                argon.memory_kib,
                argon.iterations,
                argon.lanes,
                argon.threads,
                run.when,
                argon.per_second,
                run.load_average
            );
        }
        for invite in &backend.invites {
            let _ = writeln!(
                text,
                "\nInviting {} employees{}: response {} after {:.2} s; {} mails arrived, {:.1} s \
                 from the first to the last ({:.0} mails/s), the last {:.1} s after the response \
                 (load average {:.2}).",
                invite.employees,
                if invite.quick_ack {
                    " again, to the quick-ACK sink"
                } else {
                    ""
                },
                invite.status,
                invite.response_seconds,
                invite.mails_received,
                invite.delivery_seconds,
                invite.mails_per_second,
                invite.response_to_last_mail_seconds,
                invite.load_average
            );
        }
        text.push('\n');
    }
    text.push_str("### Targets\n\n| engine | target | measured | required | met |\n| --- | --- | --- | --- | --- |\n");
    for target in &report.targets {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} |",
            target.backend.name(),
            target.name,
            target.measured,
            target.required,
            if target.met { "yes" } else { "no" }
        );
    }
    text
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
