//! Sessions started by a login, after the password was checked.
//!
//! The password is checked before the transaction that stores the session, and hashing takes
//! long. A password change, reset or deactivation that commits in between ends every session
//! the account has at that moment, but not the one this login is about to store. So the account
//! is read again inside the storing transaction, after the changes that ended sessions, and the
//! session is stored only if the account still has the password hash that was checked and may
//! still sign in.

use mep24web_entities::account;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, QueryFilter, QuerySelect};

use super::{Issued, SessionKind, SessionStore, create, may_sign_in};
use crate::db::Scoped;
use crate::tenant::TenantContext;

/// Creates a session for `checked`, the account as it was read when its password was checked,
/// unless the account changed since. Returns `None` for a changed account, which the caller
/// treats as a failed login.
///
/// Run it inside the transaction that completes the login. On PostgreSQL the account row stays
/// locked for update until that transaction ends, so a password change either waits for this
/// login and then ends its session, or commits first and this login reads the new hash. On SQLite
/// the transaction already holds the database write lock.
pub async fn create_after_login<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    tenant: &TenantContext,
    checked: &account::Model,
    kind: SessionKind,
) -> Result<Option<Issued>, DbErr> {
    if !unchanged_since_check(conn, tenant, checked).await? {
        return Ok(None);
    }
    let issued = create(store, conn, tenant.id, checked.id, kind).await?;
    Ok(Some(issued))
}

/// Reads the account again, locked on PostgreSQL, and returns whether it still has the password
/// hash of `checked` and may sign in.
async fn unchanged_since_check<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    checked: &account::Model,
) -> Result<bool, DbErr> {
    let mut query = Scoped::new(conn, tenant.id)
        .find::<account::Entity>()
        .filter(account::Column::Id.eq(checked.id));
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    let current = query.one(conn).await?;
    let Some(current) = current else {
        return Ok(false);
    };
    if current.password_hash != checked.password_hash {
        return Ok(false);
    }
    may_sign_in(conn, tenant, &current).await
}
