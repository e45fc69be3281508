//! Reads and writes of planner accounts for the user administration.
//!
//! Every query goes through [`Scoped`], and every query by id also requires kind `planner`, so
//! another tenant's account and an employee login are both "not found".

use chrono::{DateTime, Utc};
use mep24web_entities::{account, user_group};
use mep24web_platform::TenantId;
use mep24web_platform::db::Db;
use mep24web_platform::db::{Scoped, is_unique_violation};
use mep24web_platform::rights::{Grants, OrgTreeIndex};
use mep24web_platform::sessions::{self, SessionId, SessionStore};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::ROLE_ADMINISTRATOR;
use super::audit_trail::Trail;
use super::form::{NewUser, UserChanges};

/// Account kind of planner users.
const KIND_PLANNER: &str = "planner";

/// Reason a read or write of planner accounts failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum StoreError {
    #[error("planner account not found")]
    NotFound,
    #[error("username already taken")]
    UsernameTaken,
    #[error("the change would leave the tenant without an active administrator")]
    LastAdministrator,
    #[error("the account's group grants a right the acting user does not hold")]
    AccountBeyondRights,
    #[error("the group to assign grants a right the acting user does not hold")]
    GroupBeyondRights,
    #[error("the group to assign does not exist")]
    GroupMissing,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// The user making a change: the audit trail of the change, and their rights, which the writes
/// check again inside their transaction.
#[derive(Clone, Copy)]
pub(super) struct Actor<'a> {
    pub trail: Trail<'a>,
    pub grants: &'a Grants,
    /// The tenant's organization tree, to compare the nodes of limited grants.
    pub tree: &'a OrgTreeIndex,
}

/// Lists the tenant's planner users ordered by username.
pub(super) async fn list_planners(
    db: &Db,
    tenant_id: TenantId,
) -> Result<Vec<account::Model>, DbErr> {
    let scope = Scoped::new(db, tenant_id);
    scope
        .find::<account::Entity>()
        .filter(account::Column::Kind.eq(KIND_PLANNER))
        .order_by_asc(account::Column::UsernameKey)
        .all(db)
        .await
}

/// Finds one planner user of the tenant. Employee logins and other tenants' rows are `None`.
pub(super) async fn find_planner(
    db: &Db,
    tenant_id: TenantId,
    account_id: i64,
) -> Result<Option<account::Model>, DbErr> {
    let scope = Scoped::new(db, tenant_id);
    scope
        .find::<account::Entity>()
        .filter(account::Column::Id.eq(account_id))
        .filter(account::Column::Kind.eq(KIND_PLANNER))
        .one(db)
        .await
}

/// Returns true when any login of the tenant, planner or employee, already uses the username.
pub(super) async fn username_taken(
    db: &Db,
    tenant_id: TenantId,
    username_key: &str,
) -> Result<bool, DbErr> {
    let scope = Scoped::new(db, tenant_id);
    let count = scope
        .find::<account::Entity>()
        .filter(account::Column::UsernameKey.eq(username_key))
        .count(db)
        .await?;
    Ok(count > 0)
}

/// Inserts a planner user with an already hashed password.
pub(super) async fn insert(
    db: &Db,
    tenant_id: TenantId,
    user: &NewUser,
    password_hash: String,
    actor: Actor<'_>,
) -> Result<account::Model, StoreError> {
    let now = Utc::now();
    let txn = db.begin().await?;
    check_rights_in(&txn, tenant_id, actor, None, Some(&user.role)).await?;
    let inserted = account::ActiveModel {
        tenant_id: Set(tenant_id.get()),
        kind: Set(KIND_PLANNER.to_owned()),
        username: Set(user.username.as_str().to_owned()),
        username_key: Set(user.username.key().to_owned()),
        password_hash: Set(Some(password_hash)),
        display_name: Set(user.display_name.clone()),
        role: Set(Some(user.role.clone())),
        email: Set(user.email.clone()),
        employee_id: Set(None),
        active: Set(true),
        must_change_password: Set(user.must_change_password),
        failed_attempts: Set(0),
        locked_until: Set(None),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    match inserted {
        Ok(row) => {
            actor.trail.created(&txn, &row).await?;
            txn.commit().await?;
            Ok(row)
        }
        // Another request took the username between the check and this insert.
        Err(error) if is_unique_violation(&error) => Err(StoreError::UsernameTaken),
        Err(error) => Err(error.into()),
    }
}

/// Applies the changes to one planner user in one transaction: the check that the acting user
/// has the rights of the account's group and of the new group, the row update, the check that
/// an active administrator remains, and the revocation of sessions and app tokens when the
/// account is deactivated or gets a new password.
///
/// `keep_session` is the session of the administrator making the change: when they set their
/// own password, that session stays and all others end. Returns how many sessions ended.
#[allow(clippy::too_many_arguments)]
pub(super) async fn update(
    db: &Db,
    session_store: &SessionStore,
    tenant_id: TenantId,
    before: &account::Model,
    actor: Actor<'_>,
    changes: &UserChanges,
    password_hash: Option<String>,
    keep_session: Option<&SessionId>,
) -> Result<u64, StoreError> {
    let account_id = before.id;
    let txn = db.begin().await?;
    let scope = Scoped::new(&txn, tenant_id);

    // Two concurrent edits must not both remove an administrator. On PostgreSQL each edit first
    // locks the tenant's active administrator rows (in id order, so edits cannot deadlock), and
    // the second waits until the first commits. SQLite has no row locks, but `Db::begin` takes
    // the database write lock before the transaction reads anything, so the transactions run
    // one after the other.
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        active_administrators(&scope)
            .select_only()
            .column(account::Column::Id)
            .order_by_asc(account::Column::Id)
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(&txn)
            .await?;
    }
    check_rights_in(
        &txn,
        tenant_id,
        actor,
        Some(account_id),
        Some(&changes.role),
    )
    .await?;

    let now = Utc::now();
    let mut statement = scope
        .update_many::<account::Entity>()
        .col_expr(
            account::Column::DisplayName,
            Expr::value(changes.display_name.clone()),
        )
        .col_expr(account::Column::Email, Expr::value(changes.email.clone()))
        .col_expr(
            account::Column::Role,
            Expr::value(Some(changes.role.clone())),
        )
        .col_expr(account::Column::Active, Expr::value(changes.active))
        .col_expr(account::Column::UpdatedAt, Expr::value(now));
    let new_password = changes.new_password.as_ref().zip(password_hash);
    if let Some((change, hash)) = &new_password {
        statement = statement
            .col_expr(
                account::Column::PasswordHash,
                Expr::value(Some(hash.clone())),
            )
            .col_expr(
                account::Column::MustChangePassword,
                Expr::value(change.must_change_password),
            )
            .col_expr(account::Column::FailedAttempts, Expr::value(0))
            .col_expr(
                account::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
    }
    let updated = statement
        .filter(account::Column::Id.eq(account_id))
        .filter(account::Column::Kind.eq(KIND_PLANNER))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }

    if changes.removes_administrator() && active_administrators(&scope).count(&txn).await? == 0 {
        // Dropping the transaction rolls the update back.
        return Err(StoreError::LastAdministrator);
    }

    let mut revoked = 0;
    if !changes.active || new_password.is_some() {
        revoked = match keep_session {
            None => {
                sessions::revoke_all_for_account(session_store, &txn, tenant_id, account_id).await?
            }
            Some(current) => {
                sessions::revoke_others(session_store, &txn, tenant_id, account_id, current).await?
            }
        };
    }
    actor.trail.updated(&txn, before, changes).await?;
    txn.commit().await?;
    Ok(revoked)
}

/// Checks on locked rows, inside the write transaction, that the acting user has every right
/// of the current group of the account `account_id` and of the group `role` to assign, and that
/// `role` exists.
///
/// The handlers check the same before, but the account's group or a group's rights may change
/// between that check and the write, and the password hash computed in between makes that gap
/// long. On PostgreSQL the account row is locked for update and the group rows for share, so a
/// concurrent change of either waits for this transaction. On SQLite the transaction already
/// holds the database write lock.
///
/// NOTE: the acting user's own rights are the ones read at the start of the request, so a right
/// taken away from them applies from their next request on.
pub(super) async fn check_rights_in<C: ConnectionTrait>(
    txn: &C,
    tenant_id: TenantId,
    actor: Actor<'_>,
    account_id: Option<i64>,
    role: Option<&str>,
) -> Result<(), StoreError> {
    let scope = Scoped::new(txn, tenant_id);
    let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
    if let Some(account_id) = account_id {
        let mut query = scope
            .find::<account::Entity>()
            .filter(account::Column::Id.eq(account_id))
            .filter(account::Column::Kind.eq(KIND_PLANNER));
        if postgres {
            query = query.lock_exclusive();
        }
        let account = query.one(txn).await?.ok_or(StoreError::NotFound)?;
        let key = account.role.unwrap_or_default();
        if !holds_group_rights(txn, tenant_id, actor, &key)
            .await?
            .unwrap_or(true)
        {
            return Err(StoreError::AccountBeyondRights);
        }
    }
    if let Some(role) = role {
        match holds_group_rights(txn, tenant_id, actor, role).await? {
            None => return Err(StoreError::GroupMissing),
            Some(false) => return Err(StoreError::GroupBeyondRights),
            Some(true) => {}
        }
    }
    Ok(())
}

/// Returns whether the acting user has every right of the group `key`, or `None` when the
/// tenant has no such group. On PostgreSQL the group row stays locked for share until the
/// transaction ends.
async fn holds_group_rights<C: ConnectionTrait>(
    txn: &C,
    tenant_id: TenantId,
    actor: Actor<'_>,
    key: &str,
) -> Result<Option<bool>, DbErr> {
    let mut query = Scoped::new(txn, tenant_id)
        .find::<user_group::Entity>()
        .filter(user_group::Column::Key.eq(key));
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_shared();
    }
    if query.one(txn).await?.is_none() {
        return Ok(None);
    }
    let grants = Grants::load(txn, tenant_id, Some(key)).await?;
    Ok(Some(actor.grants.covers(&grants, actor.tree)))
}

/// Starts a query over the tenant's active planner users in the Administrator group.
fn active_administrators<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
) -> sea_orm::Select<account::Entity> {
    scope
        .find::<account::Entity>()
        .filter(account::Column::Kind.eq(KIND_PLANNER))
        .filter(account::Column::Role.eq(ROLE_ADMINISTRATOR))
        .filter(account::Column::Active.eq(true))
}
