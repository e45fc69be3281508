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
    QueryFilter, QueryResult, RuntimeErr, Select, SqlxError, Statement, TransactionError,
    TransactionTrait,
};

use crate::tenant::TenantId;

/// Returns the SQLite URL of the database file in the data folder, creating the folder.
pub fn sqlite_url(data_dir: &Path) -> std::io::Result<String> {
    std::fs::create_dir_all(data_dir)?;
    let file = data_dir.join("mep24web.db");
    Ok(format!("sqlite://{}?mode=rwc", file.display()))
}

/// Acquire timeout of [`connect`], for operator commands and tests; the server takes its own
/// from the settings.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a connection pool with [`DEFAULT_ACQUIRE_TIMEOUT`]; see [`connect_with_timeout`].
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    connect_with_timeout(url, max_connections, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// Opens a connection pool; on SQLite it switches the file to write-ahead logging so readers do
/// not wait for writers.
///
/// Each statement waits at most `acquire_timeout` for a pooled connection, including the time
/// to open a new one, and then fails with [`DbErr::ConnectionAcquire`]. While the database is down
/// or every connection is busy, requests therefore fail after that time instead of hanging.
/// sqlx checks an idle connection before handing it out and replaces a broken one, so the pool
/// recovers by itself once the database is back.
pub async fn connect_with_timeout(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let mut url = url.to_owned();
    if url.starts_with("sqlite:") && url.contains("mode=rwc") {
        // Create the file once, then open the pool without the create flag: a pool connection
        // opened after the file was deleted must fail instead of starting an empty database.
        let mut create = ConnectOptions::new(url.as_str());
        create.sqlx_logging(false);
        Database::connect(create).await?.close().await?;
        url = url.replace("mode=rwc", "mode=rw");
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(acquire_timeout)
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
    // The lock needs a connection besides the one migrating.
    if conn.get_database_backend() != DatabaseBackend::Postgres
        || conn
            .get_postgres_connection_pool()
            .options()
            .get_max_connections()
            < 2
    {
        return migration::Migrator::up(conn, None).await;
    }
    // Several instances starting at once would each apply a pending migration. A session-level
    // advisory lock, on a connection of its own for the whole run, lets one migrate while the
    // others wait and then find nothing left to do.
    let mut lock = conn
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(|error| {
            DbErr::Conn(sea_orm::RuntimeErr::Internal(format!(
                "no connection for the migration lock: {error}"
            )))
        })?;
    let lock_sql = format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})");
    sea_orm::sqlx::query(&lock_sql)
        .execute(&mut *lock)
        .await
        .map_err(|error| DbErr::Custom(format!("taking the migration lock failed: {error}")))?;
    let result = migration::Migrator::up(conn, None).await;
    let unlock_sql = format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})");
    if let Err(error) = sea_orm::sqlx::query(&unlock_sql).execute(&mut *lock).await {
        // The lock ends with the session at the latest; close it rather than return it.
        tracing::warn!(%error, "releasing the migration lock failed");
        lock.detach();
    }
    result
}

/// Key of the PostgreSQL advisory lock held while migrations run ("mep24web" in ASCII, as a
/// number), distinct from the per-tenant locks of [`lock_tenant`].
const MIGRATION_LOCK_KEY: i64 = 0x6d65_7032_3477_6562;

/// Returns the names of the migrations not yet applied, reading the migration table only, so
/// a role that may not create tables can ask. A database without the table has all pending.
pub async fn pending_migrations(conn: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let applied: Vec<String> = match conn
        .query_all(Statement::from_string(
            conn.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await
    {
        Ok(rows) => rows
            .iter()
            .filter_map(|row| row.try_get::<String>("", "version").ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok(migration::Migrator::migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .filter(|name| !applied.contains(name))
        .collect())
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

/// A write that changes nothing, so on SQLite it only takes the database write lock.
const SQLITE_WRITE_LOCK: &str = "UPDATE platform_state SET value = value WHERE 0";

/// Takes the SQLite write lock as the first statement of a transaction, as `BEGIN IMMEDIATE`
/// would (sea-orm 1.1 always sends a plain `BEGIN`). A transaction that reads first and writes
/// later fails at its first write with "database is locked" whenever another connection is
/// writing at that moment, because SQLite does not wait for the lock once a transaction has
/// read. Taking the lock up front waits for it instead, up to the connection's busy timeout.
/// Other backends are left alone.
async fn take_sqlite_write_lock(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        txn.execute_unprepared(SQLITE_WRITE_LOCK).await?;
    }
    Ok(())
}

/// Begins a transaction for one tenant's rows. On PostgreSQL it sets `mep24web.tenant_id` for
/// the transaction, so row-level security shows and accepts only this tenant's rows. On SQLite
/// it takes the write lock first (see [`Db`]).
pub async fn begin_tenant<C: TransactionTrait>(
    db: &C,
    tenant_id: TenantId,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    take_sqlite_write_lock(&txn).await?;
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
/// are named `unscoped_*` so they can be found and reviewed. On SQLite it takes the write lock
/// first (see [`Db`]).
pub async fn begin_unscoped<C: TransactionTrait>(db: &C) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    take_sqlite_write_lock(&txn).await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared("SELECT set_config('mep24web.unscoped', 'on', true)")
            .await?;
    }
    Ok(txn)
}

/// Serializes the transactions of one tenant that check stored rows and then write based on
/// what they read, such as "is this branch name free?" before the insert. Call it as the first
/// statement of the transaction, before the reads it protects.
///
/// On PostgreSQL it takes the transaction-level advisory lock whose key is the tenant id.
/// PostgreSQL releases it when the top-level transaction ends, so inside a request scope it lasts
/// until the request's commit, and a second caller then reads the first one's rows. The
/// application takes no other advisory lock. One added later should use the two-key form
/// `pg_advisory_xact_lock(int, int)`: the PostgreSQL manual (Advisory Lock Functions) states
/// that the one-key and two-key spaces do not overlap. SQLite
/// allows one writer at a time, and the transactions begun through this module already hold
/// the write lock, which this takes again for a transaction begun elsewhere. Other tenants are
/// not blocked on PostgreSQL. On SQLite they wait for the lock like any writer.
pub async fn lock_tenant<C: ConnectionTrait>(txn: &C, tenant_id: TenantId) -> Result<(), DbErr> {
    match txn.get_database_backend() {
        DatabaseBackend::Postgres => {
            txn.execute(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [tenant_id.get().into()],
            ))
            .await?;
        }
        DatabaseBackend::Sqlite => {
            txn.execute_unprepared(SQLITE_WRITE_LOCK).await?;
        }
        DatabaseBackend::MySql => {
            return Err(DbErr::Custom(
                "tenant locks exist for PostgreSQL and SQLite only".to_owned(),
            ));
        }
    }
    Ok(())
}

/// The database scope of one request: its tenant, and the transaction that its first statement
/// opens. Opening it lazily means that a request still waiting for its body before its first
/// statement, such as a login form sent slowly, takes no pooled connection.
///
/// After the first statement the connection stays taken until the response. So a login reads its
/// account in a short transaction of its own before it waits for the password hasher (see
/// `login::authenticate`). The gateway reads request bodies before the scope opens.
struct RequestScope {
    tenant_id: TenantId,
    pool: DatabaseConnection,
    transaction: tokio::sync::OnceCell<DatabaseTransaction>,
    /// Taken around each write and its savepoint, so two writes of one request that run at the
    /// same time cannot interleave their savepoints on the shared connection.
    savepoint: tokio::sync::Mutex<()>,
}

impl RequestScope {
    /// Returns the request's transaction, beginning it on first use.
    async fn transaction(&self) -> Result<&DatabaseTransaction, DbErr> {
        self.transaction
            .get_or_try_init(|| begin_tenant(&self.pool, self.tenant_id))
            .await
    }
}

tokio::task_local! {
    /// The database scope of the request being handled (PostgreSQL only).
    static REQUEST_SCOPE: Arc<RequestScope>;
}

/// The database handle of the application state.
///
/// Inside [`Db::scope_tenant`] every statement issued through this handle, by handlers and
/// extractors alike, runs in one transaction that sets the tenant for row-level security, and
/// `begin` opens a savepoint in it. Outside such a scope statements go to the pool, where on
/// PostgreSQL they see no tenant-owned rows unless they run in [`begin_unscoped`]. On SQLite the
/// scope is a no-op, every statement goes to the pool, and every transaction begun through this
/// handle takes the database write lock first, like `BEGIN IMMEDIATE`.
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

    fn request_scope() -> Option<Arc<RequestScope>> {
        REQUEST_SCOPE.try_with(Arc::clone).ok()
    }

    /// Runs `work` with every statement of this task inside one transaction bound to the tenant,
    /// then commits it. The transaction begins with the first statement, so work that issues
    /// none takes no connection.
    ///
    /// Each statement issued through this handle that changes rows runs in a savepoint of its
    /// own. So a failed one, such as a unique violation the caller handles, leaves the
    /// transaction usable. The other statements of a failed request are committed, as they would
    /// be with one transaction per statement (for example a counted failed login).
    ///
    /// A scope for another tenant inside this one runs in a transaction of its own for that
    /// tenant and commits at its end, for example an app login that names its tenant while the
    /// request carries a token of another. A scope for the same tenant joins the outer one.
    pub async fn scope_tenant<F: Future>(
        &self,
        tenant_id: TenantId,
        work: F,
    ) -> Result<F::Output, DbErr> {
        if self.pool.get_database_backend() != DatabaseBackend::Postgres
            || Self::request_scope().is_some_and(|outer| outer.tenant_id == tenant_id)
        {
            return Ok(work.await);
        }
        let scope = Arc::new(RequestScope {
            tenant_id,
            pool: self.pool.clone(),
            transaction: tokio::sync::OnceCell::new(),
            savepoint: tokio::sync::Mutex::new(()),
        });
        let output = REQUEST_SCOPE.scope(Arc::clone(&scope), work).await;
        match Arc::try_unwrap(scope) {
            Ok(scope) => {
                if let Some(txn) = scope.transaction.into_inner() {
                    txn.commit().await?;
                }
            }
            Err(_) => {
                // Only code that kept the scope beyond the request can hold a second
                // reference. Dropping it rolls back, so report the failure instead of guessing.
                return Err(DbErr::Custom(
                    "the request transaction was still in use after the request".to_owned(),
                ));
            }
        }
        Ok(output)
    }
}

/// Returns true for SQL that changes rows, which [`Db`] runs in a savepoint inside a request
/// transaction. It looks at the first keyword only, which fits the statements sea-orm builds.
fn changes_rows(sql: &str) -> bool {
    let keyword = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    ["INSERT", "UPDATE", "DELETE"]
        .iter()
        .any(|write| keyword.eq_ignore_ascii_case(write))
}

/// Ends the savepoint of one statement: released after success, rolled back after a failure,
/// which is then returned.
async fn end_savepoint<T>(
    savepoint: DatabaseTransaction,
    result: Result<T, DbErr>,
) -> Result<T, DbErr> {
    match result {
        Ok(value) => {
            savepoint.commit().await?;
            Ok(value)
        }
        Err(error) => {
            savepoint.rollback().await?;
            Err(error)
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.pool.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let Some(scope) = Self::request_scope() else {
            return self.pool.execute(stmt).await;
        };
        let txn = scope.transaction().await?;
        if !changes_rows(&stmt.sql) {
            return txn.execute(stmt).await;
        }
        let _writing = scope.savepoint.lock().await;
        let savepoint = txn.begin().await?;
        let result = savepoint.execute(stmt).await;
        end_savepoint(savepoint, result).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let Some(scope) = Self::request_scope() else {
            return self.pool.execute_unprepared(sql).await;
        };
        let txn = scope.transaction().await?;
        if !changes_rows(sql) {
            return txn.execute_unprepared(sql).await;
        }
        let _writing = scope.savepoint.lock().await;
        let savepoint = txn.begin().await?;
        let result = savepoint.execute_unprepared(sql).await;
        end_savepoint(savepoint, result).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let Some(scope) = Self::request_scope() else {
            return self.pool.query_one(stmt).await;
        };
        let txn = scope.transaction().await?;
        if !changes_rows(&stmt.sql) {
            return txn.query_one(stmt).await;
        }
        let _writing = scope.savepoint.lock().await;
        let savepoint = txn.begin().await?;
        let result = savepoint.query_one(stmt).await;
        end_savepoint(savepoint, result).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let Some(scope) = Self::request_scope() else {
            return self.pool.query_all(stmt).await;
        };
        let txn = scope.transaction().await?;
        if !changes_rows(&stmt.sql) {
            return txn.query_all(stmt).await;
        }
        let _writing = scope.savepoint.lock().await;
        let savepoint = txn.begin().await?;
        let result = savepoint.query_all(stmt).await;
        end_savepoint(savepoint, result).await
    }

    fn support_returning(&self) -> bool {
        self.pool.support_returning()
    }
}

#[async_trait::async_trait]
impl TransactionTrait for Db {
    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match Self::request_scope() {
            Some(scope) => scope.transaction().await?.begin().await,
            None => {
                let txn = self.pool.begin().await?;
                take_sqlite_write_lock(&txn).await?;
                Ok(txn)
            }
        }
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        match Self::request_scope() {
            Some(scope) => {
                scope
                    .transaction()
                    .await?
                    .begin_with_config(isolation_level, access_mode)
                    .await
            }
            None => {
                let txn = self
                    .pool
                    .begin_with_config(isolation_level, access_mode)
                    .await?;
                take_sqlite_write_lock(&txn).await?;
                Ok(txn)
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
        let txn = self.begin().await.map_err(TransactionError::Connection)?;
        run_transaction(txn, callback).await
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
        let txn = self
            .begin_with_config(isolation_level, access_mode)
            .await
            .map_err(TransactionError::Connection)?;
        run_transaction(txn, callback).await
    }
}

/// Runs `callback` in `txn`, then commits after success and rolls back after a failure, as
/// sea-orm's own `transaction` does, for transactions begun through [`Db`].
async fn run_transaction<F, T, E>(
    txn: DatabaseTransaction,
    callback: F,
) -> Result<T, TransactionError<E>>
where
    F: for<'c> FnOnce(
            &'c DatabaseTransaction,
        ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
        + Send,
    T: Send,
    E: std::fmt::Display + std::fmt::Debug + Send,
{
    match callback(&txn).await {
        Ok(value) => {
            txn.commit().await.map_err(TransactionError::Connection)?;
            Ok(value)
        }
        Err(error) => {
            txn.rollback().await.map_err(TransactionError::Connection)?;
            Err(TransactionError::Transaction(error))
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

/// Returns true when the database cannot serve right now, as opposed to a statement that is
/// wrong: no pooled connection within the acquire timeout, a connection that broke or was
/// closed, or a PostgreSQL server that is shutting down, starting up or out of resources
/// (SQLSTATE classes 08 and 53, and 57P01 to 57P03). Such a request may succeed when repeated.
pub fn is_unavailable(error: &DbErr) -> bool {
    let runtime = match error {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(error) = runtime else {
        return false;
    };
    match error {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(error) => error.code().is_some_and(|code| is_unavailable_state(&code)),
        _ => false,
    }
}

/// Returns true for the PostgreSQL SQLSTATE codes of [`is_unavailable`]. SQLite's numeric codes
/// have at most four digits, so they never match.
fn is_unavailable_state(code: &str) -> bool {
    code.len() == 5
        && (code.starts_with("08")
            || code.starts_with("53")
            || matches!(code, "57P01" | "57P02" | "57P03"))
}

/// Returns true when the error is a unique-constraint violation.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_states_are_connection_and_shutdown_codes() {
        for code in ["08006", "08001", "53300", "57P01", "57P02", "57P03"] {
            assert!(is_unavailable_state(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "57014", "5", "2067", ""] {
            assert!(!is_unavailable_state(code), "{code}");
        }
    }

    #[test]
    fn pool_timeout_and_io_errors_are_unavailable() {
        let timeout = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert!(is_unavailable(&timeout));

        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let io = DbErr::Query(RuntimeErr::SqlxError(SqlxError::Io(refused)));
        assert!(is_unavailable(&io));

        let decode = DbErr::Query(RuntimeErr::SqlxError(SqlxError::RowNotFound));
        assert!(!is_unavailable(&decode));
        assert!(!is_unavailable(&DbErr::Custom("bad input".to_owned())));
    }

    #[test]
    fn changes_rows_reads_first_keyword() {
        for sql in [
            "INSERT INTO \"accounts\" (\"id\") VALUES ($1) RETURNING \"id\"",
            "  update accounts SET active = false",
            "DELETE FROM sessions WHERE id = 1",
        ] {
            assert!(changes_rows(sql), "{sql}");
        }
        for sql in [
            "SELECT \"id\" FROM accounts",
            "SELECT pg_advisory_xact_lock($1)",
            "SELECT set_config('mep24web.tenant_id', $1, true)",
            "",
            "INSERTED",
        ] {
            assert!(!changes_rows(sql), "{sql}");
        }
    }
}
