//! The databases a run creates: an SQLite file in a temporary folder, or a PostgreSQL database
//! with an application role of its own, both removed after the run.

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde::Serialize;

/// The database engine of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// One benchmark database and the settings the server needs to use it.
pub struct BenchDatabase {
    pub backend: Backend,
    /// The server's data folder; on SQLite it also contains the database file.
    pub data_dir: tempfile::TempDir,
    /// URL with the owner role, for migrations and the data generator.
    pub owner_url: String,
    /// PostgreSQL only: the server's URL with the application role, to which row-level security
    /// applies because it does not own the tables.
    app_url: Option<String>,
    /// PostgreSQL only: the maintenance URL, the database name and the role to drop at the end.
    postgres: Option<PostgresNames>,
}

struct PostgresNames {
    admin_url: String,
    database: String,
    role: String,
}

impl BenchDatabase {
    /// Creates an empty database. `label` distinguishes the databases of one run, and
    /// `postgres_admin_url` names a PostgreSQL superuser connection to the `postgres` database.
    pub async fn create(
        backend: Backend,
        label: &str,
        postgres_admin_url: &str,
    ) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new()
            .prefix(&format!("mep24web-bench-{label}-"))
            .tempdir()
            .context("cannot create a temporary data folder")?;
        match backend {
            Backend::Sqlite => {
                let owner_url = mep24web_platform::db::sqlite_url(data_dir.path())
                    .context("cannot create the SQLite data folder")?;
                Ok(Self {
                    backend,
                    data_dir,
                    owner_url,
                    app_url: None,
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let pid = std::process::id();
                let database = format!("bench_{pid}_{label}");
                let role = format!("bench_app_{pid}");
                let admin = Database::connect(postgres_admin_url)
                    .await
                    .with_context(|| {
                        format!("cannot connect to PostgreSQL at {postgres_admin_url}")
                    })?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {database}"))
                    .await
                    .with_context(|| format!("cannot create the database {database}"))?;
                // The role is shared by the databases of one run, so it may exist already.
                admin
                    .execute_unprepared(&format!(
                        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') \
                         THEN CREATE ROLE {role} LOGIN; END IF; END $$"
                    ))
                    .await
                    .with_context(|| format!("cannot create the role {role}"))?;
                admin.close().await?;
                let owner_url = replace_database(postgres_admin_url, &database, None)?;
                let app_url = replace_database(postgres_admin_url, &database, Some(&role))?;
                Ok(Self {
                    backend,
                    data_dir,
                    owner_url,
                    app_url: Some(app_url),
                    postgres: Some(PostgresNames {
                        admin_url: postgres_admin_url.to_owned(),
                        database,
                        role,
                    }),
                })
            }
        }
    }

    /// Returns the `MEP24WEB_*` variables that point the server at this database.
    pub fn server_env(&self) -> Vec<(String, String)> {
        let mut env = vec![(
            "MEP24WEB_DATA_DIR".to_owned(),
            self.data_dir.path().display().to_string(),
        )];
        if let Some(app_url) = &self.app_url {
            env.push(("MEP24WEB_DATABASE_URL".to_owned(), app_url.clone()));
            env.push((
                "MEP24WEB_MIGRATION_DATABASE_URL".to_owned(),
                self.owner_url.clone(),
            ));
        }
        env
    }

    /// Opens a pool with the owner role, as the data generator needs it.
    pub async fn connect_owner(&self) -> anyhow::Result<DatabaseConnection> {
        mep24web_platform::db::connect(&self.owner_url, 4)
            .await
            .with_context(|| format!("cannot open the {} database", self.backend.name()))
    }

    /// Drops the PostgreSQL database (the temporary folder goes with `self`). The role is
    /// dropped when no other database of this run uses it any more.
    pub async fn drop_database(self) -> anyhow::Result<()> {
        let Some(names) = &self.postgres else {
            return Ok(());
        };
        let admin = Database::connect(names.admin_url.as_str()).await?;
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                names.database
            ))
            .await
            .with_context(|| format!("cannot drop the database {}", names.database))?;
        let role = &names.role;
        let still_used = admin
            .query_one(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                format!(
                    "SELECT 1 FROM pg_database WHERE datname LIKE 'bench\\_{}\\_%'",
                    std::process::id()
                ),
            ))
            .await?
            .is_some();
        if !still_used {
            admin
                .execute_unprepared(&format!("DROP ROLE IF EXISTS {role}"))
                .await
                .with_context(|| format!("cannot drop the role {role}"))?;
        }
        admin.close().await?;
        Ok(())
    }
}

/// Returns `url` with another database name and, when given, another user.
fn replace_database(url: &str, database: &str, user: Option<&str>) -> anyhow::Result<String> {
    let mut parsed =
        reqwest::Url::parse(url).with_context(|| format!("the PostgreSQL URL {url} is invalid"))?;
    parsed.set_path(&format!("/{database}"));
    if let Some(user) = user {
        parsed
            .set_username(user)
            .map_err(|()| anyhow::anyhow!("the PostgreSQL URL {url} cannot take a user name"))?;
        parsed
            .set_password(None)
            .map_err(|()| anyhow::anyhow!("the PostgreSQL URL {url} cannot drop its password"))?;
    }
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_database_swaps_name_and_user() {
        let url = "postgres://postgres@127.0.0.1:5432/postgres";
        assert_eq!(
            replace_database(url, "bench_1_main", None).unwrap(),
            "postgres://postgres@127.0.0.1:5432/bench_1_main"
        );
        assert_eq!(
            replace_database(url, "bench_1_main", Some("bench_app_1")).unwrap(),
            "postgres://bench_app_1@127.0.0.1:5432/bench_1_main"
        );
    }
}
