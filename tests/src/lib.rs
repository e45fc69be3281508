//! Test harness for the end-to-end tests: `spawn_app()` starts the real server on a free port
//! with a fresh database and a real SMTP listener, and `TestApp` offers typed helpers for
//! tenants, HTTP clients and received mails.
//!
//! The database is an SQLite file in a temporary folder. When `MEP24WEB_TEST_DATABASE_URL`
//! names a PostgreSQL server, each `TestApp` gets its own database there instead, dropped when
//! the `TestApp` is dropped. When `MEP24WEB_TEST_REDIS_URL` names a Redis server, each
//! `TestApp` keeps its sessions, login attempt counters and tenant change announcements there,
//! under a key prefix of its own whose keys are deleted when the `TestApp` is dropped.

pub mod accounts;
pub mod http;
pub mod mail;
pub mod pg_cluster;
pub mod postgres;
pub mod redis_server;
pub mod sessions;
pub mod smtp;

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, Once};
use std::time::Duration;

use mep24web::settings::OptionalAddress;
use mep24web::{Application, Settings};
use mep24web_platform::{AppState, TenantId};
use mep24web_tenancy::Slug;
use mep24web_tenancy::provision::{self, NewTenant};
use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use http::{RawResponse, client, get_text, location, post_form, raw_get, raw_request};
pub use mail::ReceivedMail;

/// Base domain of every test application, so tenants live at `<slug>.localhost:<port>`.
pub const BASE_DOMAIN: &str = "localhost";

/// A running application with its database, SMTP listener and temporary data folder. Dropping
/// it stops the server and deletes its data.
pub struct TestApp {
    /// The port the server listens on, on 127.0.0.1.
    pub port: u16,
    /// The port of the `/metrics` listener on 127.0.0.1, unless the test turned it off.
    pub metrics_port: Option<u16>,
    state: AppState,
    /// Connection as the table owner, which can read every tenant's rows (row-level security does
    /// not apply to the PostgreSQL superuser), for test setup and checks.
    owner_db: DatabaseConnection,
    shutdown: watch::Sender<bool>,
    /// The task running the server; `None` once stopped.
    server: Option<JoinHandle<()>>,
    smtp: smtp::SmtpServer,
    /// Indexes of the messages that `wait_for_mail` already returned.
    returned_mails: Mutex<HashSet<usize>>,
    /// The Redis server and key prefix the application uses, if any.
    redis: Option<sessions::RedisKeys>,
    // Declared after everything that uses them, so they are dropped last.
    database: Option<postgres::TestDatabase>,
    data_dir: tempfile::TempDir,
}

/// A tenant created by [`TestApp::create_tenant`].
#[derive(Clone, Debug)]
pub struct TestTenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub customer_number: i64,
    /// `http://<slug>.localhost:<port>`, without a trailing slash.
    pub access_link: String,
    /// The administrator's one-time link to set a password.
    pub setup_link: String,
    pub admin_username: String,
}

/// Starts the application with the test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application with the test settings after `configure` changed them, e.g. to set
/// `trusted_proxies`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(postgres::server_url_from_env(), configure).await
}

/// Starts the application like [`spawn_app_with`], with a fresh database on the PostgreSQL
/// server at `server_url`, or on SQLite when it is `None`, whatever the environment names.
pub async fn spawn_app_on(
    server_url: Option<String>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    init_logging(&log);

    let smtp = smtp::SmtpServer::start()
        .await
        .unwrap_or_else(|error| panic!("cannot start the test SMTP server: {error}"));
    let data_dir = tempfile::Builder::new()
        .prefix("mep24web-test-")
        .tempdir()
        .unwrap_or_else(|error| panic!("cannot create a temporary data folder: {error}"));
    let database = match server_url {
        Some(server_url) => Some(
            postgres::TestDatabase::create(&server_url)
                .await
                .unwrap_or_else(|error| panic!("{error:#}")),
        ),
        None => None,
    };

    let mut settings = Settings {
        data_dir: data_dir.path().to_path_buf(),
        database_url: database
            .as_ref()
            .map(|database| SecretString::from(database.app_url().to_owned())),
        database_url_file: None,
        migration_database_url: database
            .as_ref()
            .map(|database| SecretString::from(database.url().to_owned())),
        migration_database_url_file: None,
        db_max_connections: 5,
        // Longer than the server default, so tests with many parallel logins on a loaded machine
        // do not run into it. The fault tests set a short one.
        db_acquire_timeout_ms: 5000,
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        metrics_addr: OptionalAddress(Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))),
        base_domain: BASE_DOMAIN.to_owned(),
        public_url: None,
        trusted_proxies: Vec::new(),
        smtp_url: Some(SecretString::from(smtp.url())),
        smtp_url_file: None,
        smtp_timeout_seconds: 10,
        mail_from: None,
        outbox_poll_seconds: 1,
        outbox_max_attempts: mep24web_platform::mail::DEFAULT_MAX_ATTEMPTS,
        hash_concurrency: None,
        log,
        log_format: "text".to_owned(),
        request_timeout_seconds: 30,
        shutdown_timeout_seconds: 10,
        redis_url: sessions::redis_url_from_env().map(SecretString::from),
        redis_url_file: None,
        redis_key_prefix: sessions::unique_prefix(),
        login_limit_per_ip: mep24web_platform::rate_limit::DEFAULT_PER_IP,
        login_limit_per_tenant: mep24web_platform::rate_limit::DEFAULT_PER_TENANT,
        login_limit_window_seconds: mep24web_platform::rate_limit::DEFAULT_WINDOW_SECONDS,
        login_limit_max_tracked: mep24web_platform::rate_limit::DEFAULT_MAX_TRACKED,
    };
    let own_prefix = settings.redis_key_prefix.clone();
    configure(&mut settings);
    let redis = sessions::RedisKeys::of(&settings, &own_prefix);

    let application = Application::build(settings, false)
        .await
        .unwrap_or_else(|error| panic!("cannot build the application: {error:#}"));
    let port = application.port();
    let metrics_port = application.metrics_port();
    let state = application.state().clone();
    let owner_db = match &database {
        Some(database) => mep24web_platform::db::connect(database.url(), 3)
            .await
            .unwrap_or_else(|error| panic!("cannot connect as the test database owner: {error}")),
        None => state.db.pool().clone(),
    };
    let shutdown = application.shutdown_handle();
    let server = tokio::spawn(async move {
        if let Err(error) = application.run_until_stopped().await {
            eprintln!("test server stopped with an error: {error:#}");
        }
    });

    TestApp {
        port,
        metrics_port,
        state,
        owner_db,
        shutdown,
        server: Some(server),
        smtp,
        returned_mails: Mutex::new(HashSet::new()),
        redis,
        database,
        data_dir,
    }
}

/// Installs a subscriber that writes through libtest's capture, so logs show only for failed
/// tests. Only the first call in a test binary takes effect.
fn init_logging(filter: &str) {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_new(filter)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

impl TestApp {
    /// Returns a new HTTP client with its own cookies; see [`http::client`].
    pub fn client(&self) -> reqwest::Client {
        http::client()
    }

    /// Returns `http://localhost:<port><path>`.
    pub fn apex_url(&self, path: &str) -> String {
        format!("http://{BASE_DOMAIN}:{}{path}", self.port)
    }

    /// Returns `http://<slug>.localhost:<port><path>`.
    pub fn tenant_url(&self, slug: &str, path: &str) -> String {
        format!("http://{slug}.{BASE_DOMAIN}:{}{path}", self.port)
    }

    /// Returns the owner and the application URL of the PostgreSQL test database, for starting
    /// further instances on the same database; `None` on SQLite.
    pub fn database_urls(&self) -> Option<(String, String)> {
        self.database
            .as_ref()
            .map(|database| (database.url().to_owned(), database.app_url().to_owned()))
    }

    /// Returns a connection that can read every tenant's rows, for test setup and checks. The
    /// application itself connects as a role that row-level security applies to.
    pub fn db(&self) -> &DatabaseConnection {
        &self.owner_db
    }

    /// Returns the state the handlers see: database, public URLs, hasher and mail outbox.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Returns the data folder (SQLite file, outbox folder), deleted when the app is dropped.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// Returns the name of the PostgreSQL test database, or `None` on SQLite.
    pub fn postgres_database(&self) -> Option<&str> {
        self.database.as_ref().map(postgres::TestDatabase::name)
    }

    /// Provisions a tenant with the next free customer number and the administrator `admin`.
    pub async fn create_tenant(&self, slug: &str, name: &str) -> TestTenant {
        let slug =
            Slug::parse(slug).unwrap_or_else(|error| panic!("invalid test slug {slug:?}: {error}"));
        let request = NewTenant {
            name: name.to_owned(),
            slug,
            customer_number: None,
            admin_username: None,
        };
        let created = provision::create_tenant(&self.owner_db, &self.state.urls, request)
            .await
            .unwrap_or_else(|error| panic!("cannot create the test tenant {name:?}: {error}"));
        TestTenant {
            id: TenantId::new(created.tenant_id),
            slug: created.slug,
            name: created.name,
            customer_number: created.customer_number,
            access_link: created.access_link,
            setup_link: created.setup_link,
            admin_username: created.admin_username,
        }
    }

    /// Suspends (`true`) or resumes (`false`) a tenant, as the operator CLI does.
    pub async fn set_suspended(&self, slug: &str, suspended: bool) {
        let parsed =
            Slug::parse(slug).unwrap_or_else(|error| panic!("invalid test slug {slug:?}: {error}"));
        let changed = provision::set_status(&self.owner_db, &parsed, suspended)
            .await
            .unwrap_or_else(|error| panic!("cannot change the status of {slug}: {error}"));
        assert!(changed, "no tenant with slug {slug}");
    }

    /// Returns every mail received so far, oldest first.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.smtp
            .messages()
            .iter()
            .map(ReceivedMail::parse)
            .collect()
    }

    /// Waits up to `timeout` for a mail to `recipient` (an envelope recipient, compared without
    /// case) and returns it. Each mail is returned once: a second call waits for the next mail
    /// to the same recipient. Panics on timeout, listing the mails that did arrive.
    pub async fn wait_for_mail(&self, recipient: &str, timeout: Duration) -> ReceivedMail {
        let mut arrivals = self.smtp.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(mail) = self.take_mail_for(recipient) {
                return mail;
            }
            let arrived = tokio::time::timeout_at(deadline, arrivals.changed()).await;
            if !matches!(arrived, Ok(Ok(()))) {
                // One last look: a mail may have arrived right at the deadline.
                if let Some(mail) = self.take_mail_for(recipient) {
                    return mail;
                }
                let received: Vec<(Vec<String>, String)> = self
                    .mails()
                    .into_iter()
                    .map(|mail| (mail.recipients, mail.subject))
                    .collect();
                panic!(
                    "no mail to {recipient} within {timeout:?}; received (recipients, subject): {received:?}"
                );
            }
        }
    }

    fn take_mail_for(&self, recipient: &str) -> Option<ReceivedMail> {
        let messages = self.smtp.messages();
        let mut returned = self
            .returned_mails
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (index, message) in messages.iter().enumerate() {
            if returned.contains(&index) {
                continue;
            }
            let mail = ReceivedMail::parse(message);
            if mail.is_for(recipient) {
                returned.insert(index);
                return Some(mail);
            }
        }
        None
    }

    /// Sends the shutdown signal without waiting: the server stops accepting connections and
    /// lets running requests finish. [`TestApp::stop`] then waits for the end.
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Returns `http://127.0.0.1:<metrics port>/metrics`; panics when the metrics listener is
    /// off.
    pub fn metrics_url(&self) -> String {
        let port = self
            .metrics_port
            .unwrap_or_else(|| panic!("the metrics listener of this test app is off"));
        format!("http://127.0.0.1:{port}/metrics")
    }

    /// Stops the server gracefully and waits until it has stopped.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(redis) = &self.redis {
            redis.delete_all();
        }
    }
}
