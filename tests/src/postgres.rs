//! One fresh PostgreSQL database per test application, dropped when the application is dropped.
//!
//! Database names carry their creation time, `mep24web_test_<unix seconds>_<uuid>`, so a later
//! run can drop the databases that crashed runs left behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

/// Environment variable with the URL of a PostgreSQL server on which tests may create databases,
/// e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const TEST_DATABASE_URL_VAR: &str = "MEP24WEB_TEST_DATABASE_URL";

/// Prefix of every database the harness creates.
const NAME_PREFIX: &str = "mep24web_test_";

/// Age after which a leftover test database counts as leaked. Long enough that no running test
/// in another process still uses it.
const LEAKED_AFTER: Duration = Duration::from_secs(3600);

static LEAK_CHECK_DONE: AtomicBool = AtomicBool::new(false);

/// Returns the server URL from [`TEST_DATABASE_URL_VAR`], or `None` to test on SQLite.
pub fn server_url_from_env() -> Option<String> {
    std::env::var(TEST_DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// Role the application connects as in tests: not a superuser and not the table owner, so
/// row-level security applies to it as it does in production.
pub const APP_ROLE: &str = "mep24web_test_app";

/// A database created for one test application.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
    app_url: String,
}

impl TestDatabase {
    /// Creates an empty database on the server of `server_url`. The first call in a process also
    /// drops leaked test databases older than one hour.
    pub async fn create(server_url: &str) -> anyhow::Result<Self> {
        let (admin, admin_url) = connect_admin(server_url).await?;
        if !LEAK_CHECK_DONE.swap(true, Ordering::SeqCst) {
            drop_leaked(&admin).await;
        }
        ensure_app_role(&admin).await?;

        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |age| age.as_secs());
        let name = format!("{NAME_PREFIX}{created}_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| format!("cannot create the test database {name}"))?;
        let _ = admin.close().await;

        let url = with_database(&admin_url, &name)?;
        let mut app_url = url::Url::parse(&url).context("test database URL is invalid")?;
        app_url
            .set_username(APP_ROLE)
            .map_err(|()| anyhow::anyhow!("cannot set the user of the test database URL"))?;
        app_url
            .set_password(None)
            .map_err(|()| anyhow::anyhow!("cannot clear the password of the test database URL"))?;
        Ok(Self {
            admin_url,
            name,
            url,
            app_url: app_url.to_string(),
        })
    }

    /// Returns the URL of the test database for its owner (the server user of the test URL),
    /// used for migrations and for checks that must see every tenant.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the URL of the test database for the application role [`APP_ROLE`].
    pub fn app_url(&self) -> &str {
        &self.app_url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    /// Drops the database from a separate thread with its own runtime, because `Drop` cannot
    /// await and the test's runtime may be shutting down. `WITH (FORCE)` ends the connections
    /// that the application's pool still holds.
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropper = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("cannot start a runtime to drop the test database {name}: {error}");
                    return;
                }
            };
            runtime.block_on(async {
                match connect(&admin_url).await {
                    Ok(admin) => {
                        if let Err(error) = drop_database(&admin, &name).await {
                            eprintln!("cannot drop the test database {name}: {error}");
                        }
                        let _ = admin.close().await;
                    }
                    Err(error) => {
                        eprintln!("cannot connect to drop the test database {name}: {error}");
                    }
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Connects to the database named in `server_url`, or to the maintenance database `postgres`
/// on the same server when that fails (the named one may not exist yet). Returns the connection
/// and the URL that worked.
async fn connect_admin(server_url: &str) -> anyhow::Result<(DatabaseConnection, String)> {
    match connect(server_url).await {
        Ok(conn) => Ok((conn, server_url.to_owned())),
        Err(first_error) => {
            let fallback = with_database(server_url, "postgres")?;
            let conn = connect(&fallback).await.map_err(|_| {
                anyhow::anyhow!(
                    "cannot connect to PostgreSQL at {TEST_DATABASE_URL_VAR} ({first_error}); \
                     start the server or unset {TEST_DATABASE_URL_VAR} to test on SQLite"
                )
            })?;
            Ok((conn, fallback))
        }
    }
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Creates the application role once per server; a concurrent creation by another test is fine.
async fn ensure_app_role(admin: &DatabaseConnection) -> anyhow::Result<()> {
    let exists = admin
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}'"),
        ))
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let created = admin
        .execute_unprepared(&format!(
            "CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
        ))
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.to_string().contains("already exists") => Ok(()),
        Err(error) => Err(anyhow::anyhow!(
            "cannot create the role {APP_ROLE}: {error}"
        )),
    }
}

/// Returns `server_url` with its path replaced by `/<database>`.
fn with_database(server_url: &str, database: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(server_url)
        .with_context(|| format!("{TEST_DATABASE_URL_VAR} is not a valid URL"))?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

async fn drop_database(admin: &DatabaseConnection, name: &str) -> Result<(), sea_orm::DbErr> {
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .map(|_| ())
}

/// Drops test databases whose name says they were created more than [`LEAKED_AFTER`] ago.
/// Failures are printed and otherwise ignored, because they do not affect the current test.
async fn drop_leaked(admin: &DatabaseConnection) {
    let statement = Statement::from_string(
        admin.get_database_backend(),
        format!("SELECT datname FROM pg_database WHERE datname LIKE '{NAME_PREFIX}%'"),
    );
    let rows = match admin.query_all(statement).await {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("cannot list leaked test databases: {error}");
            return;
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |age| age.as_secs());
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let Some(created) = creation_time(&name) else {
            continue;
        };
        if now.saturating_sub(created) > LEAKED_AFTER.as_secs()
            && let Err(error) = drop_database(admin, &name).await
        {
            eprintln!("cannot drop the leaked test database {name}: {error}");
        }
    }
}

/// Reads the creation time in Unix seconds from a test database name.
fn creation_time(name: &str) -> Option<u64> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (seconds, _) = rest.split_once('_')?;
    seconds.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_time_reads_name() {
        assert_eq!(
            creation_time("mep24web_test_1733340000_0123456789abcdef0123456789abcdef"),
            Some(1_733_340_000)
        );
        assert_eq!(creation_time("mep24web_test_abc_def"), None);
        assert_eq!(creation_time("other_1733340000_x"), None);
    }

    #[test]
    fn with_database_replaces_path() {
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:5432/test",
                "mep24web_test_1_x"
            )
            .ok(),
            Some("postgres://postgres@127.0.0.1:5432/mep24web_test_1_x".to_owned())
        );
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432", "postgres").ok(),
            Some("postgres://postgres@127.0.0.1:5432/postgres".to_owned())
        );
    }
}
