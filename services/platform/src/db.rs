//! Database connection, migrations and tenant-scoped data access.
//!
//! Tenant-owned rows are read and changed through [`Scoped`], which adds the tenant filter itself.
//! Code that must cross tenants (the resolver, the outbox worker, operator tools) uses the
//! connection directly and names its functions `unscoped_*`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use mep24web_entities::TenantOwned;
use migration::MigratorTrait;
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    AccessMode, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseBackend,
    DatabaseConnection, DatabaseTransaction, DbErr, ExecResult, IsolationLevel, PrimaryKeyTrait,
    QueryFilter, QueryResult, Select, Statement, TransactionError, TransactionTrait,
};

use crate::tenant::TenantId;

/// Returns the SQLite URL of the database file in the data folder, creating the folder.
pub fn sqlite_url(data_dir: &Path) -> std::io::Result<String> {
    std::fs::create_dir_all(data_dir)?;
    let file = data_dir.join("mep24web.db");
    Ok(format!("sqlite://{}?mode=rwc", file.display()))
}

/// Opens a connection pool; on SQLite it switches the file to write-ahead logging so readers do
/// not wait for writers.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let conn = Database::connect(options).await?;
    if conn.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        conn.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")
            .await?;
    }
    Ok(conn)
}

/// Applies every pending migration.
pub async fn migrate(conn: &DatabaseConnection) -> Result<(), DbErr> {
    migration::Migrator::up(conn, None).await
}

/// Grants the application role what it needs on every table and sequence, and nothing more: it
/// does not own the tables, so row-level security applies to it. PostgreSQL only.
pub async fn grant_application_role(owner: &DatabaseConnection, role: &str) -> Result<(), DbErr> {
    if owner.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DbErr::Custom(format!(
            "the database user name {role:?} may contain only letters, digits and '_'"
        )));
    }
    owner
        .execute_unprepared(&format!(
            "GRANT USAGE ON SCHEMA public TO {role}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}; \
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
        ))
        .await?;
    Ok(())
}

/// Begins a transaction for one tenant's rows. On PostgreSQL it sets `mep24web.tenant_id` for
/// the transaction, so row-level security shows and accepts only this tenant's rows.
pub async fn begin_tenant<C: TransactionTrait>(
    db: &C,
    tenant_id: TenantId,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT set_config('mep24web.tenant_id', $1, true)",
            [tenant_id.get().to_string().into()],
        ))
        .await?;
    }
    Ok(txn)
}

/// Begins a transaction that may read and write every tenant's rows, for the few places that
/// must cross tenants (outbox worker, app-token lookup, custom domains, operator tools). Callers
/// are named `unscoped_*` so they can be found and reviewed.
pub async fn begin_unscoped<C: TransactionTrait>(db: &C) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared("SELECT set_config('mep24web.unscoped', 'on', true)")
            .await?;
    }
    Ok(txn)
}

tokio::task_local! {
    /// The transaction of the request being handled, bound to its tenant (PostgreSQL only).
    static REQUEST_TRANSACTION: Arc<DatabaseTransaction>;
}

/// The database handle of the application state.
///
/// Inside [`Db::scope_tenant`] every statement issued through this handle, by handlers and
/// extractors alike, runs in one transaction that sets the tenant for row-level security, and
/// `begin` opens a savepoint in it. Outside such a scope statements go to the pool, where on
/// PostgreSQL they see no tenant-owned rows unless they run in [`begin_unscoped`]. On SQLite the
/// scope is a no-op and every statement goes to the pool.
#[derive(Clone, Debug)]
pub struct Db {
    pool: DatabaseConnection,
}

impl Db {
    pub fn new(pool: DatabaseConnection) -> Self {
        Self { pool }
    }

    /// Returns the pool itself, bypassing any request transaction.
    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    fn request_transaction() -> Option<Arc<DatabaseTransaction>> {
        REQUEST_TRANSACTION.try_with(Arc::clone).ok()
    }

    /// Runs `work` with every statement of this task inside one transaction bound to the tenant,
    /// then commits it. Statements of a failed request are committed too, as they would be with
    /// one transaction per statement (for example a counted failed login).
    pub async fn scope_tenant<F: Future>(
        &self,
        tenant_id: TenantId,
        work: F,
    ) -> Result<F::Output, DbErr> {
        if self.pool.get_database_backend() != DatabaseBackend::Postgres
            || Self::request_transaction().is_some()
        {
            return Ok(work.await);
        }
        let txn = Arc::new(begin_tenant(&self.pool, tenant_id).await?);
        let output = REQUEST_TRANSACTION.scope(Arc::clone(&txn), work).await;
        match Arc::try_unwrap(txn) {
            Ok(txn) => txn.commit().await?,
            Err(_) => {
                // Only code that kept the transaction beyond the request can hold a second
                // reference. Dropping it rolls back, so report the failure instead of guessing.
                return Err(DbErr::Custom(
                    "the request transaction was still in use after the request".to_owned(),
                ));
            }
        }
        Ok(output)
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.pool.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match Self::request_transaction() {
            Some(txn) => txn.execute(stmt).await,
            None => self.pool.execute(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match Self::request_transaction() {
            Some(txn) => txn.execute_unprepared(sql).await,
            None => self.pool.execute_unprepared(sql).await,
        }
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match Self::request_transaction() {
            Some(txn) => txn.query_one(stmt).await,
            None => self.pool.query_one(stmt).await,
        }
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match Self::request_transaction() {
            Some(txn) => txn.query_all(stmt).await,
            None => self.pool.query_all(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        self.pool.support_returning()
    }
}

#[async_trait::async_trait]
impl TransactionTrait for Db {
    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match Self::request_transaction() {
            Some(txn) => txn.begin().await,
            None => self.pool.begin().await,
        }
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        match Self::request_transaction() {
            Some(txn) => txn.begin_with_config(isolation_level, access_mode).await,
            None => {
                self.pool
                    .begin_with_config(isolation_level, access_mode)
                    .await
            }
        }
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        match Self::request_transaction() {
            Some(txn) => txn.transaction(callback).await,
            None => self.pool.transaction(callback).await,
        }
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        match Self::request_transaction() {
            Some(txn) => {
                txn.transaction_with_config(callback, isolation_level, access_mode)
                    .await
            }
            None => {
                self.pool
                    .transaction_with_config(callback, isolation_level, access_mode)
                    .await
            }
        }
    }
}

/// Access to the rows of one tenant over a connection or transaction.
#[derive(Clone, Copy)]
pub struct Scoped<'c, C> {
    conn: &'c C,
    tenant_id: TenantId,
}

impl<'c, C: ConnectionTrait> Scoped<'c, C> {
    pub fn new(conn: &'c C, tenant_id: TenantId) -> Self {
        Self { conn, tenant_id }
    }

    pub fn conn(&self) -> &'c C {
        self.conn
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// Starts a query over this tenant's rows of `E`.
    pub fn find<E: TenantOwned>(&self) -> Select<E> {
        E::find().filter(self.condition::<E>())
    }

    /// Finds one row of this tenant by primary key; another tenant's row is `None`.
    pub async fn find_by_id<E>(&self, id: i64) -> Result<Option<E::Model>, DbErr>
    where
        E: TenantOwned,
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
    {
        E::find_by_id(id)
            .filter(self.condition::<E>())
            .one(self.conn)
            .await
    }

    /// Starts an update of this tenant's rows of `E`.
    pub fn update_many<E: TenantOwned>(&self) -> sea_orm::UpdateMany<E> {
        E::update_many().filter(self.condition::<E>())
    }

    /// Starts a delete of this tenant's rows of `E`.
    pub fn delete_many<E: TenantOwned>(&self) -> sea_orm::DeleteMany<E> {
        E::delete_many().filter(self.condition::<E>())
    }

    fn condition<E: TenantOwned>(&self) -> sea_orm::Condition {
        E::tenant_column().eq(self.tenant_id.get()).into_condition()
    }
}

/// Returns true when the error is a unique-constraint violation.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
