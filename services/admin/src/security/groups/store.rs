//! Reads and writes of user groups and their rights. Every query goes through [`Scoped`], so
//! another tenant's group is "not found".

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::Utc;
use mep24web_entities::{account, user_group, user_group_right};
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use mep24web_platform::db::{Db, Scoped, is_unique_violation};
use mep24web_platform::rights::{ADMINISTRATOR_GROUP, Grants, Right};
use mep24web_platform::{TenantId, tokens};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, PaginatorTrait, QueryFilter, QueryOrder,
    Set, TransactionTrait,
};
use serde_json::json;

use super::form::GroupInput;

/// Reason a write of a user group failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GroupError {
    #[error("user group not found")]
    NotFound,
    #[error("group name already taken")]
    NameTaken,
    #[error("built-in groups cannot be renamed or deleted, Administrator cannot be changed")]
    Builtin,
    #[error("the group still has members")]
    InUse,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// A group with its grants and the number of planner users in it.
pub(crate) struct GroupRow {
    pub group: user_group::Model,
    pub grants: Grants,
    pub members: u64,
}

/// Lists the tenant's groups: the built-in ones first, then by name.
pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
) -> Result<Vec<GroupRow>, DbErr> {
    let scope = Scoped::new(conn, tenant_id);
    let groups = scope
        .find::<user_group::Entity>()
        .order_by_desc(user_group::Column::Builtin)
        .order_by_asc(user_group::Column::NameKey)
        .all(conn)
        .await?;
    let mut rights: BTreeMap<i64, Vec<(Right, Option<i64>)>> = BTreeMap::new();
    for row in scope.find::<user_group_right::Entity>().all(conn).await? {
        if let Some(right) = Right::from_code(&row.right_code) {
            rights
                .entry(row.group_id)
                .or_default()
                .push((right, row.org_unit_id));
        }
    }
    let mut rows = Vec::with_capacity(groups.len());
    for group in groups {
        let members = scope
            .find::<account::Entity>()
            .filter(account::Column::Kind.eq("planner"))
            .filter(account::Column::Role.eq(group.key.clone()))
            .count(conn)
            .await?;
        let grants = if group.key == ADMINISTRATOR_GROUP {
            Grants::administrator()
        } else {
            Grants::from_rights(rights.remove(&group.id).unwrap_or_default())
        };
        rows.push(GroupRow {
            group,
            grants,
            members,
        });
    }
    Ok(rows)
}

/// Finds one group of the tenant by id.
pub(crate) async fn find<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    id: i64,
) -> Result<Option<user_group::Model>, DbErr> {
    Scoped::new(conn, tenant_id)
        .find_by_id::<user_group::Entity>(id)
        .await
}

/// Finds one group of the tenant by the key that accounts store in `role`.
pub(crate) async fn find_by_key<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    key: &str,
) -> Result<Option<user_group::Model>, DbErr> {
    Scoped::new(conn, tenant_id)
        .find::<user_group::Entity>()
        .filter(user_group::Column::Key.eq(key))
        .one(conn)
        .await
}

/// Creates a group with its rights and records `group_created`.
pub(crate) async fn create(
    db: &Db,
    tenant_id: TenantId,
    input: &GroupInput,
    actor: &account::Model,
    source_ip: IpAddr,
) -> Result<user_group::Model, GroupError> {
    let now = Utc::now();
    let txn = db.begin().await?;
    let inserted = user_group::ActiveModel {
        tenant_id: Set(tenant_id.get()),
        // A random key: names can change, the reference in `accounts.role` must not.
        key: Set(format!("g-{}", &tokens::generate()[..16])),
        name: Set(input.name.clone()),
        name_key: Set(input.name.to_lowercase()),
        builtin: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let group = match inserted {
        Ok(group) => group,
        Err(error) if is_unique_violation(&error) => return Err(GroupError::NameTaken),
        Err(error) => return Err(error.into()),
    };
    write_rights(&txn, tenant_id, group.id, &input.grants).await?;
    audit::record_by(
        &txn,
        actor,
        AuditAction::GroupCreated,
        AuditTarget::user_group(group.id, &group.name),
        source_ip,
        json!({ "rights": rights_summary(&input.grants) }),
    )
    .await?;
    txn.commit().await?;
    Ok(group)
}

/// Replaces the name and rights of a group and records `group_updated`. The members' next
/// request already uses the new rights, because rights are read with every request.
pub(crate) async fn update(
    db: &Db,
    tenant_id: TenantId,
    group: &user_group::Model,
    input: &GroupInput,
    actor: &account::Model,
    source_ip: IpAddr,
) -> Result<(), GroupError> {
    if group.key == ADMINISTRATOR_GROUP || (group.builtin && input.name != group.name) {
        return Err(GroupError::Builtin);
    }
    let txn = db.begin().await?;
    let scope = Scoped::new(&txn, tenant_id);
    let updated = scope
        .update_many::<user_group::Entity>()
        .col_expr(
            user_group::Column::Name,
            sea_orm::sea_query::Expr::value(input.name.clone()),
        )
        .col_expr(
            user_group::Column::NameKey,
            sea_orm::sea_query::Expr::value(input.name.to_lowercase()),
        )
        .col_expr(
            user_group::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(user_group::Column::Id.eq(group.id))
        .exec(&txn)
        .await;
    match updated {
        Ok(result) if result.rows_affected == 0 => return Err(GroupError::NotFound),
        Ok(_) => {}
        Err(error) if is_unique_violation(&error) => return Err(GroupError::NameTaken),
        Err(error) => return Err(error.into()),
    }
    scope
        .delete_many::<user_group_right::Entity>()
        .filter(user_group_right::Column::GroupId.eq(group.id))
        .exec(&txn)
        .await?;
    write_rights(&txn, tenant_id, group.id, &input.grants).await?;
    let mut details = json!({ "rights": rights_summary(&input.grants) });
    if input.name != group.name {
        details["renamed_from"] = json!(group.name);
    }
    audit::record_by(
        &txn,
        actor,
        AuditAction::GroupUpdated,
        AuditTarget::user_group(group.id, &input.name),
        source_ip,
        details,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Deletes a group that is not built in and has no members, and records `group_deleted`.
pub(crate) async fn delete(
    db: &Db,
    tenant_id: TenantId,
    group: &user_group::Model,
    actor: &account::Model,
    source_ip: IpAddr,
) -> Result<(), GroupError> {
    if group.builtin {
        return Err(GroupError::Builtin);
    }
    let txn = db.begin().await?;
    let scope = Scoped::new(&txn, tenant_id);
    // The delete comes first, so on SQLite it takes the write lock before the members are
    // counted. On PostgreSQL a concurrent save of a user into this group waits for the row.
    let deleted = scope
        .delete_many::<user_group::Entity>()
        .filter(user_group::Column::Id.eq(group.id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(GroupError::NotFound);
    }
    let members = scope
        .find::<account::Entity>()
        .filter(account::Column::Kind.eq("planner"))
        .filter(account::Column::Role.eq(group.key.clone()))
        .count(&txn)
        .await?;
    if members > 0 {
        // Dropping the transaction rolls the delete back.
        return Err(GroupError::InUse);
    }
    audit::record_by(
        &txn,
        actor,
        AuditAction::GroupDeleted,
        AuditTarget::user_group(group.id, &group.name),
        source_ip,
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

async fn write_rights<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    group_id: i64,
    grants: &Grants,
) -> Result<(), DbErr> {
    for (right, node) in grants.iter() {
        user_group_right::ActiveModel {
            tenant_id: Set(tenant_id.get()),
            group_id: Set(group_id),
            right_code: Set(right.code().to_owned()),
            org_unit_id: Set(node),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Lists the rights as `code` or `code@node`, for the audit details.
fn rights_summary(grants: &Grants) -> Vec<String> {
    grants
        .iter()
        .map(|(right, node)| match node {
            None => right.code().to_owned(),
            Some(node) => format!("{}@{node}", right.code()),
        })
        .collect()
}
