//! The application: opens the database, starts the workers, binds the listeners and serves the
//! router and the metrics endpoint until SIGTERM or Ctrl-C, then drains requests and stops the
//! workers.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use lettre::message::Mailbox;
use mep24web_platform::mail::{MailSender, OutboxWorker, Transport};
use mep24web_platform::passwords::PasswordHasher;
use mep24web_platform::rate_limit::{LoginLimiter, RedisCounter};
use mep24web_platform::sessions::SessionStore;
use mep24web_platform::urls::PublicUrls;
use mep24web_platform::{AppState, db};
use mep24web_tenancy::TenantResolver;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::health::Readiness;
use crate::host_layer::{self, Gateway};
use crate::metrics::{self, Metrics};
use crate::settings::Settings;
use crate::{audit_retention, demo, stack};

/// Opens the database named by the settings and applies pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url()?;
    let migration_url = settings.migration_url()?;
    let max_connections = settings.db_max_connections.max(1);
    if migration_url != url {
        // Two connections: one holds the migration lock while the other migrates.
        let owner = db::connect(&migration_url, 2)
            .await
            .context("cannot connect with MEP24WEB_MIGRATION_DATABASE_URL")?;
        db::migrate(&owner)
            .await
            .context("applying database migrations failed")?;
        if let Some(role) = user_of(&url) {
            db::grant_application_role(&owner, &role)
                .await
                .with_context(|| format!("granting table access to the role {role} failed"))?;
        }
        owner.close().await?;
    }
    let conn = db::connect_with_timeout(&url, max_connections, settings.db_acquire_timeout())
        .await
        .context(
            "cannot connect to the database; check MEP24WEB_DATABASE_URL or MEP24WEB_DATA_DIR",
        )?;
    if migration_url == url {
        // A role that may not create tables can still serve a database that an operator
        // migrated with `mep24web migrate`, so only a pending migration needs the rights.
        let pending = db::pending_migrations(&conn).await?;
        if !pending.is_empty() {
            db::migrate(&conn).await.with_context(|| {
                format!(
                    "applying database migrations failed ({} pending); run `mep24web migrate` \
                     with MEP24WEB_MIGRATION_DATABASE_URL set to the owner role",
                    pending.len()
                )
            })?;
        }
    }
    Ok(conn)
}

/// Opens the database with the owner role, for operator commands that cross tenants.
pub async fn open_owner_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.migration_url()?;
    let conn = db::connect(&url, 2)
        .await
        .context("cannot connect to the database; check MEP24WEB_MIGRATION_DATABASE_URL or MEP24WEB_DATABASE_URL")?;
    db::migrate(&conn)
        .await
        .context("applying database migrations failed")?;
    Ok(conn)
}

fn user_of(database_url: &str) -> Option<String> {
    let parsed = url::Url::parse(database_url).ok()?;
    let user = parsed.username();
    (!user.is_empty()).then(|| user.to_owned())
}

/// Builds the public URLs from the settings; `listen_port` is the port actually bound, used when
/// no public URL is configured.
pub fn public_urls(settings: &Settings, listen_port: u16) -> anyhow::Result<PublicUrls> {
    let base_domain = settings.normalized_base_domain()?;
    match &settings.public_url {
        Some(url) => {
            let scheme = url.scheme().to_owned();
            if scheme != "http" && scheme != "https" {
                anyhow::bail!("MEP24WEB_PUBLIC_URL must start with http:// or https://");
            }
            Ok(PublicUrls {
                scheme,
                base_domain,
                port: url.port(),
            })
        }
        None => Ok(PublicUrls {
            scheme: "http".to_owned(),
            base_domain,
            port: Some(listen_port),
        }),
    }
}

/// Builds the login attempt limiter: counters in Redis when `MEP24WEB_REDIS_URL` is set, else in
/// this process.
pub fn login_limiter(settings: &Settings) -> anyhow::Result<LoginLimiter> {
    let limits = settings.login_limits();
    let Some(url) = settings.redis_url()? else {
        return Ok(LoginLimiter::in_process(limits));
    };
    let counter = RedisCounter::new(&url, &settings.redis_key_prefix)
        .map_err(|error| anyhow::anyhow!("MEP24WEB_REDIS_URL is invalid: {error}"))?;
    tracing::info!("login attempt limits are counted in Redis");
    Ok(LoginLimiter::with_redis(limits, counter))
}

/// Builds the session store: Redis when `MEP24WEB_REDIS_URL` is set, else the database.
pub fn session_store(settings: &Settings) -> anyhow::Result<SessionStore> {
    let Some(url) = settings.redis_url()? else {
        return Ok(SessionStore::Database);
    };
    let store = SessionStore::redis(&url, &settings.redis_key_prefix)
        .map_err(|error| anyhow::anyhow!("MEP24WEB_REDIS_URL is invalid: {error}"))?;
    tracing::info!("sessions and app tokens are kept in Redis");
    Ok(store)
}

/// A built application, bound to its ports and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    /// The listener of `/metrics` and its router, unless `MEP24WEB_METRICS_ADDR` is `off`.
    metrics: Option<(TcpListener, Router)>,
    metrics_port: Option<u16>,
    readiness: Readiness,
    shutdown_timeout: Duration,
    shutdown: watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    state: AppState,
    resolver: Arc<TenantResolver>,
}

impl Application {
    /// Opens the database, binds the listener (port 0 picks a free port), starts the outbox worker
    /// and the tenant change watcher, and with `demo` provisions the demo tenant on an empty
    /// database.
    pub async fn build(settings: Settings, demo: bool) -> anyhow::Result<Self> {
        let db = open_database(&settings).await?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {} (MEP24WEB_LISTEN)", settings.listen))?;
        let port = listener.local_addr()?.port();
        let urls = Arc::new(public_urls(&settings, port)?);

        let transport = match settings.smtp_url()? {
            Some(url) => Transport::smtp(&url, Duration::from_secs(settings.smtp_timeout_seconds))
                .context("MEP24WEB_SMTP_URL is invalid")?,
            None => Transport::files(settings.data_dir.join("outbox")).with_context(|| {
                format!(
                    "cannot create the outbox folder in {}",
                    settings.data_dir.display()
                )
            })?,
        };
        let from: Mailbox = settings
            .mail_from
            .clone()
            .unwrap_or_else(|| format!("MEP24web <noreply@{}>", urls.base_domain))
            .parse()
            .context(
                "MEP24WEB_MAIL_FROM is not a valid mailbox, e.g. MEP24web <noreply@example.com>",
            )?;

        let concurrency = settings
            .hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
        let mail = MailSender::default();
        let state = AppState {
            db: db::Db::new(db.clone()),
            urls: urls.clone(),
            hasher: PasswordHasher::new(concurrency),
            mail: mail.clone(),
            login_limiter: login_limiter(&settings)?,
            sessions: session_store(&settings)?,
        };
        if demo {
            demo::provision_if_empty(&state).await?;
        }

        let resolver = Arc::new(TenantResolver::new(db.clone(), urls.clone()));
        resolver.refresh().await?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let worker = OutboxWorker {
            db: db.clone(),
            transport,
            from,
            sender: mail,
            poll_interval: Duration::from_secs(settings.outbox_poll_seconds.max(1)),
            max_attempts: settings.outbox_max_attempts,
        };
        let mut workers = vec![
            tokio::spawn(worker.run(shutdown_rx.clone())),
            tokio::spawn(audit_retention::run(db.clone(), shutdown_rx.clone())),
            tokio::spawn(resolver.clone().watch_changes(shutdown_rx.clone())),
        ];

        let redis_url = settings.redis_url()?;
        if let Some(url) = &redis_url {
            workers.push(tokio::spawn(mep24web_tenancy::change_feed::listen(
                resolver.clone(),
                url.clone(),
                settings.redis_key_prefix.clone(),
                shutdown_rx,
            )));
        }
        let readiness = Readiness::new(db.clone(), redis_url.as_deref())
            .map_err(|error| anyhow::anyhow!("MEP24WEB_REDIS_URL is invalid: {error}"))?;
        let gateway = Gateway::new(
            state.clone(),
            resolver.clone(),
            settings.trusted_proxies.clone(),
            readiness.clone(),
        );
        let metrics_registry = Arc::new(Metrics::new(db.clone()));
        let router = stack::wrap(
            host_layer::router(gateway),
            &settings,
            metrics_registry.clone(),
        );
        let metrics = match settings.metrics_addr.0 {
            Some(address) => {
                let listener = TcpListener::bind(address).await.with_context(|| {
                    format!("cannot listen on {address} (MEP24WEB_METRICS_ADDR; off turns it off)")
                })?;
                Some((listener, metrics::router(metrics_registry)))
            }
            None => None,
        };
        let metrics_port = match &metrics {
            Some((listener, _)) => Some(listener.local_addr()?.port()),
            None => None,
        };
        Ok(Self {
            listener,
            router,
            port,
            metrics,
            metrics_port,
            readiness,
            shutdown_timeout: Duration::from_secs(settings.shutdown_timeout_seconds),
            shutdown,
            workers,
            state,
            resolver,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the port of the metrics listener, or `None` when it is off.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn resolver(&self) -> Arc<TenantResolver> {
        self.resolver.clone()
    }

    /// Returns a sender that stops the server gracefully when `true` is sent.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }

    /// Serves until SIGTERM, Ctrl-C or the shutdown handle. Then it closes the listener, so new
    /// connections are refused, lets running requests finish for at most the shutdown timeout,
    /// and waits for the workers.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let address = self.listener.local_addr()?;
        tracing::info!(%address, apex = %self.state.urls.apex_url(), "server listening");
        let metrics_server = self.metrics.map(|(listener, router)| {
            let stopped = self.shutdown.subscribe();
            tokio::spawn(serve_metrics(listener, router, stopped))
        });

        let mut stop = self.shutdown.subscribe();
        let shutdown = self.shutdown.clone();
        let readiness = self.readiness.clone();
        let signal = async move {
            tokio::select! {
                _ = termination_signal() => {}
                _ = stop.wait_for(|stopped| *stopped) => {}
            }
            tracing::info!("shutting down, draining requests");
            readiness.start_draining();
            let _ = shutdown.send(true);
        };
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .into_future();

        let mut stopped = self.shutdown.subscribe();
        let timeout = self.shutdown_timeout;
        let deadline = async move {
            let _ = stopped.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(timeout).await;
        };
        tokio::select! {
            served = server => served?,
            () = deadline => {
                // NOTE: axum runs each connection in a task of its own, which this does not
                // cancel. The binary exits right after, which ends them; an embedding program
                // such as the tests keeps them running until its runtime stops.
                tracing::warn!(
                    timeout_seconds = timeout.as_secs(),
                    "requests still running after the shutdown timeout; stopping without them"
                );
            }
        }

        for worker in self.workers {
            let _ = worker.await;
        }
        if let Some(metrics_server) = metrics_server {
            let _ = metrics_server.await;
        }
        tracing::info!("server stopped");
        Ok(())
    }
}

/// Serves `/metrics` until the shutdown handle turns `true`.
async fn serve_metrics(listener: TcpListener, router: Router, mut stopped: watch::Receiver<bool>) {
    match listener.local_addr() {
        Ok(address) => tracing::info!(%address, "metrics listening"),
        Err(error) => tracing::warn!(%error, "metrics listener has no local address"),
    }
    let stop = async move {
        let _ = stopped.wait_for(|stopped| *stopped).await;
    };
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(%error, "metrics server failed");
    }
}

async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
