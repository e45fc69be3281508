//! Typed settings: defaults for the embedded mode, overridden by `MEP24WEB_*` environment
//! variables or command-line flags. Secrets can come from `*_FILE` variables. A variable set to the
//! empty string counts as unset (see [`ignore_empty_env`]).

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Command};
use mep24web_platform::client_ip::TrustedProxy;
use mep24web_platform::rate_limit;
use secrecy::{ExposeSecret, SecretString};

/// Every setting of the server and the CLI.
#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Folder for the SQLite file and the mail outbox folder.
    #[arg(
        long,
        env = "MEP24WEB_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// PostgreSQL URL (postgres://user@host/db); when unset, SQLite in the data folder is used.
    #[arg(
        long,
        env = "MEP24WEB_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<SecretString>,

    /// File that contains the PostgreSQL URL (alternative to MEP24WEB_DATABASE_URL).
    #[arg(long, env = "MEP24WEB_DATABASE_URL_FILE", global = true)]
    pub database_url_file: Option<PathBuf>,

    /// PostgreSQL URL of the role that owns the tables, used for migrations and operator commands.
    /// Default: MEP24WEB_DATABASE_URL. When it names another user, that user grants the
    /// application role (the user of MEP24WEB_DATABASE_URL) access after migrating.
    #[arg(
        long,
        env = "MEP24WEB_MIGRATION_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub migration_database_url: Option<SecretString>,

    /// File that contains the migration URL (alternative to MEP24WEB_MIGRATION_DATABASE_URL).
    #[arg(long, env = "MEP24WEB_MIGRATION_DATABASE_URL_FILE", global = true)]
    pub migration_database_url_file: Option<PathBuf>,

    /// Maximum database connections of this process.
    #[arg(
        long,
        env = "MEP24WEB_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub db_max_connections: u32,

    /// Time a request waits for a database connection, including opening a new one, in
    /// milliseconds. After it the request gets a 503 page, so a database that is down or a pool
    /// whose connections are all busy fails requests quickly instead of holding them.
    #[arg(
        long,
        env = "MEP24WEB_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,

    /// Address and port the server listens on.
    #[arg(
        long,
        env = "MEP24WEB_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// Address and port of the Prometheus endpoint `/metrics`, served apart from the
    /// application so it need not be reachable from outside; `off` turns it off.
    #[arg(
        long,
        env = "MEP24WEB_METRICS_ADDR",
        default_value = "127.0.0.1:9090",
        global = true
    )]
    pub metrics_addr: OptionalAddress,

    /// Base domain: tenants live at <slug>.<base domain>, the apex serves landing page and app API.
    #[arg(
        long,
        env = "MEP24WEB_BASE_DOMAIN",
        default_value = "localhost",
        global = true
    )]
    pub base_domain: String,

    /// Public URL of the apex as users reach it (scheme, host, port), e.g. https://mep24web.de.
    /// Default: http://<base domain>:<listen port>.
    #[arg(long, env = "MEP24WEB_PUBLIC_URL", global = true)]
    pub public_url: Option<url::Url>,

    /// Comma-separated IP addresses or networks (CIDR, e.g. 10.42.0.0/16) of reverse proxies
    /// whose X-Forwarded-Host and X-Forwarded-For headers are trusted. Default: none.
    #[arg(
        long,
        env = "MEP24WEB_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<TrustedProxy>,

    /// SMTP URL for outgoing mail, e.g. smtp://host:25 or smtp://user:pass@host:587?tls=required.
    /// When unset, mails are written as .eml files into <data dir>/outbox.
    #[arg(long, env = "MEP24WEB_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// File that contains the SMTP URL (alternative to MEP24WEB_SMTP_URL).
    #[arg(long, env = "MEP24WEB_SMTP_URL_FILE", global = true)]
    pub smtp_url_file: Option<PathBuf>,

    /// Time limit of each step of an SMTP delivery, in seconds: connecting (with the greeting and
    /// EHLO), STARTTLS, AUTH, each command and the message data.
    #[arg(
        long,
        env = "MEP24WEB_SMTP_TIMEOUT_SECONDS",
        default_value_t = 20,
        global = true
    )]
    pub smtp_timeout_seconds: u64,

    /// Sender of outgoing mail. Default: MEP24web <noreply@<base domain>>.
    #[arg(long, env = "MEP24WEB_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// Seconds between outbox polls when nothing new was queued.
    #[arg(
        long,
        env = "MEP24WEB_OUTBOX_POLL_SECONDS",
        default_value_t = 5,
        global = true
    )]
    pub outbox_poll_seconds: u64,

    /// Delivery attempts after which a mail is marked dead and waits for `mep24web outbox retry`.
    #[arg(
        long,
        env = "MEP24WEB_OUTBOX_MAX_ATTEMPTS",
        default_value_t = mep24web_platform::mail::DEFAULT_MAX_ATTEMPTS,
        value_parser = clap::value_parser!(i32).range(1..=100),
        global = true
    )]
    pub outbox_max_attempts: i32,

    /// Password hashes computed at once (each takes 19 MiB while it runs). Default: CPU cores.
    #[arg(long, env = "MEP24WEB_HASH_CONCURRENCY", global = true)]
    pub hash_concurrency: Option<usize>,

    /// Log filter in tracing's EnvFilter syntax, e.g. info or mep24web=debug.
    #[arg(long, env = "MEP24WEB_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format: text or json.
    #[arg(
        long,
        env = "MEP24WEB_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: String,

    /// Request timeout in seconds.
    #[arg(
        long,
        env = "MEP24WEB_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_seconds: u64,

    /// Time the server waits after SIGTERM or Ctrl-C for running requests to finish, in
    /// seconds. After it the server stops without them.
    #[arg(
        long,
        env = "MEP24WEB_SHUTDOWN_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_timeout_seconds: u64,

    /// Redis URL, e.g. redis://127.0.0.1:6379, for sessions, app tokens and login attempt
    /// counters shared by all instances. When unset, sessions are database rows and each process
    /// counts on its own.
    #[arg(
        long,
        env = "MEP24WEB_REDIS_URL",
        global = true,
        hide_env_values = true
    )]
    pub redis_url: Option<SecretString>,

    /// File that contains the Redis URL (alternative to MEP24WEB_REDIS_URL).
    #[arg(long, env = "MEP24WEB_REDIS_URL_FILE", global = true)]
    pub redis_url_file: Option<PathBuf>,

    /// Prefix of every Redis key this server writes, so several installations can share one
    /// Redis.
    #[arg(
        long,
        env = "MEP24WEB_REDIS_KEY_PREFIX",
        default_value = "mep24web",
        global = true
    )]
    pub redis_key_prefix: String,

    /// Login attempts allowed per client address and window, counted over the login form, the
    /// app login, reset link requests and registrations. 0 turns this limit off.
    #[arg(
        long,
        env = "MEP24WEB_LOGIN_LIMIT_PER_IP",
        default_value_t = rate_limit::DEFAULT_PER_IP,
        global = true
    )]
    pub login_limit_per_ip: u32,

    /// Login attempts allowed per tenant and window, from all addresses together. 0 turns this
    /// limit off.
    #[arg(
        long,
        env = "MEP24WEB_LOGIN_LIMIT_PER_TENANT",
        default_value_t = rate_limit::DEFAULT_PER_TENANT,
        global = true
    )]
    pub login_limit_per_tenant: u32,

    /// Length of the window the login attempt limits count in, in seconds.
    #[arg(
        long,
        env = "MEP24WEB_LOGIN_LIMIT_WINDOW_SECONDS",
        default_value_t = rate_limit::DEFAULT_WINDOW_SECONDS,
        global = true
    )]
    pub login_limit_window_seconds: u64,

    /// Maximum client addresses the in-process login attempt counter keeps per window, which
    /// bounds its memory (an estimated 100 bytes each).
    #[arg(
        long,
        env = "MEP24WEB_LOGIN_LIMIT_MAX_TRACKED",
        default_value_t = rate_limit::DEFAULT_MAX_TRACKED,
        global = true
    )]
    pub login_limit_max_tracked: usize,
}

/// A listen address, or none when the setting is `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionalAddress(pub Option<SocketAddr>);

impl FromStr for OptionalAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        text.parse()
            .map(|address| Self(Some(address)))
            .map_err(|_| {
                format!(
                    "invalid address '{text}': expected address:port, e.g. 127.0.0.1:9090, or off"
                )
            })
    }
}

impl Settings {
    /// Returns the database URL: PostgreSQL from the setting or its file, else the SQLite file.
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = secret_or_file(
            &self.database_url,
            &self.database_url_file,
            "MEP24WEB_DATABASE_URL_FILE",
        )? {
            return Ok(url);
        }
        mep24web_platform::db::sqlite_url(&self.data_dir).map_err(|error| {
            anyhow::anyhow!(
                "cannot create the data folder {} (MEP24WEB_DATA_DIR): {error}",
                self.data_dir.display()
            )
        })
    }

    /// Returns the URL for migrations and operator commands: the migration URL if set, else the
    /// database URL.
    pub fn migration_url(&self) -> anyhow::Result<String> {
        match secret_or_file(
            &self.migration_database_url,
            &self.migration_database_url_file,
            "MEP24WEB_MIGRATION_DATABASE_URL_FILE",
        )? {
            Some(url) => Ok(url),
            None => self.database_url(),
        }
    }

    /// Returns the SMTP URL, if any.
    pub fn smtp_url(&self) -> anyhow::Result<Option<String>> {
        secret_or_file(
            &self.smtp_url,
            &self.smtp_url_file,
            "MEP24WEB_SMTP_URL_FILE",
        )
    }

    /// Returns the Redis URL, if any.
    pub fn redis_url(&self) -> anyhow::Result<Option<String>> {
        secret_or_file(
            &self.redis_url,
            &self.redis_url_file,
            "MEP24WEB_REDIS_URL_FILE",
        )
    }

    /// Returns the pool's acquire timeout, at least 1 ms.
    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.db_acquire_timeout_ms.max(1))
    }

    /// Returns the login attempt limits.
    pub fn login_limits(&self) -> rate_limit::Limits {
        rate_limit::Limits {
            per_ip: self.login_limit_per_ip,
            per_tenant: self.login_limit_per_tenant,
            window_seconds: self.login_limit_window_seconds.max(1),
            max_tracked: self.login_limit_max_tracked.max(1),
        }
    }

    /// Returns the normalized base domain or an error that names the setting.
    pub fn normalized_base_domain(&self) -> anyhow::Result<String> {
        mep24web_tenancy::normalize_host(&self.base_domain).map_err(|error| {
            anyhow::anyhow!(
                "MEP24WEB_BASE_DOMAIN '{}' is invalid: {error}",
                self.base_domain
            )
        })
    }
}

/// Detaches every argument of `command` from its environment variable when `lookup` finds that
/// variable set to the empty string, so the setting keeps its default or stays unset. Container
/// manifests, env files and shell scripts often write `NAME=` to leave a setting out, while clap
/// passes the empty string to the setting's parser, which rejects it or yields `Some("")`.
///
/// clap reads each variable when `command` is built, so `lookup` has to see the same environment,
/// normally `std::env::var_os`. A flag given on the command line is parsed as before, even an
/// empty one.
pub fn ignore_empty_env(command: Command, lookup: impl Fn(&OsStr) -> Option<OsString>) -> Command {
    command.mut_args(|arg| {
        let empty = arg
            .get_env()
            .and_then(&lookup)
            .is_some_and(|value| value.is_empty());
        if empty {
            arg.env(None::<&'static str>)
        } else {
            arg
        }
    })
}

fn secret_or_file(
    value: &Option<SecretString>,
    file: &Option<PathBuf>,
    file_setting: &str,
) -> anyhow::Result<Option<String>> {
    if let Some(value) = value {
        return Ok(Some(value.expose_secret().trim().to_owned()));
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|error| {
            anyhow::anyhow!("cannot read {file_setting} {}: {error}", path.display())
        })?;
        return Ok(Some(text.trim().to_owned()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn debug_redacts_secrets() {
        let wrapper = Wrapper::parse_from([
            "test",
            "--database-url",
            "postgres://app:geheim-123@db/mep",
            "--smtp-url",
            "smtp://mail:pass-456@smtp",
            "--redis-url",
            "redis://:redis-789@cache:6379",
        ]);
        let text = format!("{:?}", wrapper.settings);
        assert!(!text.contains("geheim-123"));
        assert!(!text.contains("pass-456"));
        assert!(!text.contains("redis-789"));
    }

    #[test]
    fn outbox_max_attempts_default_and_range() {
        let default = Wrapper::parse_from(["test"]);
        let three = Wrapper::try_parse_from(["test", "--outbox-max-attempts", "3"]);

        assert_eq!(default.settings.outbox_max_attempts, 10);
        assert_eq!(
            three
                .map(|wrapper| wrapper.settings.outbox_max_attempts)
                .ok(),
            Some(3)
        );
        for invalid in ["0", "101", "-1", "many"] {
            let parsed = Wrapper::try_parse_from(["test", "--outbox-max-attempts", invalid]);
            assert!(parsed.is_err(), "{invalid} was accepted");
        }
    }

    #[test]
    fn login_limits_default() {
        let wrapper = Wrapper::parse_from(["test"]);
        let limits = wrapper.settings.login_limits();
        assert_eq!(limits.per_ip, 20);
        assert_eq!(limits.per_tenant, 300);
        assert_eq!(limits.window_seconds, 60);
        assert_eq!(limits.max_tracked, 100_000);
        assert_eq!(wrapper.settings.redis_key_prefix, "mep24web");
        assert!(wrapper.settings.redis_url.is_none());
    }

    /// Returns the environment variable of the setting with the long flag `flag`, if it still
    /// has one.
    fn env_of(command: &Command, flag: &str) -> Option<String> {
        command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(flag))
            .unwrap_or_else(|| panic!("no setting --{flag}"))
            .get_env()
            .map(|name| name.to_string_lossy().into_owned())
    }

    #[test]
    fn ignore_empty_env_detaches_only_empty_variables() {
        let environment = [
            ("MEP24WEB_TRUSTED_PROXIES", ""),
            ("MEP24WEB_SMTP_URL_FILE", ""),
            ("MEP24WEB_DB_MAX_CONNECTIONS", ""),
            ("MEP24WEB_DATABASE_URL", ""),
            ("MEP24WEB_LOG", "debug"),
            ("MEP24WEB_LOG_FORMAT", " "),
        ];
        let lookup = |name: &OsStr| {
            environment
                .iter()
                .find(|(variable, _)| OsStr::new(variable) == name)
                .map(|(_, value)| OsString::from(value))
        };

        let command = ignore_empty_env(<Wrapper as clap::CommandFactory>::command(), lookup);

        for flag in [
            "trusted-proxies",
            "smtp-url-file",
            "db-max-connections",
            "database-url",
        ] {
            assert_eq!(env_of(&command, flag), None, "--{flag}");
        }
        // Set to a value, even a blank one, or not set at all: clap reads the variable as before.
        assert_eq!(env_of(&command, "log").as_deref(), Some("MEP24WEB_LOG"));
        assert_eq!(
            env_of(&command, "log-format").as_deref(),
            Some("MEP24WEB_LOG_FORMAT")
        );
        assert_eq!(
            env_of(&command, "redis-url").as_deref(),
            Some("MEP24WEB_REDIS_URL")
        );
    }

    #[test]
    fn ignore_empty_env_covers_every_setting() {
        let command = <Wrapper as clap::CommandFactory>::command();
        let with_variable = |command: &Command| {
            command
                .get_arguments()
                .filter(|arg| arg.get_env().is_some())
                .count()
        };
        assert!(with_variable(&command) > 20, "{}", with_variable(&command));

        let command = ignore_empty_env(command, |_| Some(OsString::new()));

        assert_eq!(with_variable(&command), 0);
    }

    #[test]
    fn metrics_address_default_and_off() {
        let wrapper = Wrapper::parse_from(["test"]);
        assert_eq!(
            wrapper.settings.metrics_addr,
            OptionalAddress(Some(SocketAddr::from(([127, 0, 0, 1], 9090))))
        );
        let wrapper = Wrapper::parse_from(["test", "--metrics-addr", "off"]);
        assert_eq!(wrapper.settings.metrics_addr, OptionalAddress(None));
        let wrapper = Wrapper::parse_from(["test", "--metrics-addr", "0.0.0.0:9191"]);
        assert_eq!(
            wrapper.settings.metrics_addr,
            OptionalAddress(Some(SocketAddr::from(([0, 0, 0, 0], 9191))))
        );
        assert!(Wrapper::try_parse_from(["test", "--metrics-addr", "9090"]).is_err());
    }
}
