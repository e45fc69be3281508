//! Operator access to the outbox across tenants: list undelivered mails and queue them again.
//!
//! Listings carry the tenant's slug and customer number and only the domain of the recipient,
//! never the subject or the body, because those hold personal data of the tenant's employees.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use mep24web_entities::{outbox, tenant};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use super::domain_of;
use super::worker::clear_claim;
use crate::db::begin_unscoped;

/// Selection of mails for [`unscoped_list`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFilter {
    /// Pending and dead mails.
    Undelivered,
    /// Mails given up after the last attempt.
    Dead,
}

/// One outbox row as operators see it.
#[derive(Clone, Debug, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    /// `pending` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub customer_number: i64,
    pub tenant_slug: String,
    pub recipient_domain: String,
    pub created_at: DateTime<Utc>,
    /// Time of the next attempt of a pending mail, `None` for dead mails.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// True while a worker has claimed the mail for a delivery.
    pub claimed: bool,
    /// The last delivery error, with the local parts of email addresses removed.
    pub last_error: Option<String>,
}

/// A page of [`unscoped_list`] and the number of all matching mails.
#[derive(Clone, Debug, Serialize)]
pub struct OutboxListing {
    pub total: u64,
    pub mails: Vec<OutboxEntry>,
}

/// The columns the listing reads, without subject and body. The recipient is reduced to its
/// domain before it leaves this module.
#[derive(FromQueryResult)]
struct ListedRow {
    id: i64,
    tenant_id: i64,
    recipient: String,
    status: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

/// Lists undelivered mails of every tenant, or of one with `tenant_id`, oldest first, at most
/// `limit` of them.
pub async fn unscoped_list(
    db: &DatabaseConnection,
    filter: ListFilter,
    tenant_id: Option<i64>,
    limit: u64,
) -> Result<OutboxListing, DbErr> {
    let mut condition = match filter {
        ListFilter::Undelivered => Condition::any()
            .add(outbox::Column::Status.eq("pending"))
            .add(outbox::Column::Status.eq("dead")),
        ListFilter::Dead => Condition::all().add(outbox::Column::Status.eq("dead")),
    };
    if let Some(tenant_id) = tenant_id {
        condition = Condition::all()
            .add(condition)
            .add(outbox::Column::TenantId.eq(tenant_id));
    }

    let txn = begin_unscoped(db).await?;
    let total = outbox::Entity::find()
        .filter(condition.clone())
        .count(&txn)
        .await?;
    let rows = outbox::Entity::find()
        .select_only()
        .columns([
            outbox::Column::Id,
            outbox::Column::TenantId,
            outbox::Column::Recipient,
            outbox::Column::Status,
            outbox::Column::Attempts,
            outbox::Column::NextAttemptAt,
            outbox::Column::LockedUntil,
            outbox::Column::LastError,
            outbox::Column::CreatedAt,
        ])
        .filter(condition)
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        .into_model::<ListedRow>()
        .all(&txn)
        .await?;
    let tenant_ids: Vec<i64> = rows.iter().map(|row| row.tenant_id).collect();
    let tenants: HashMap<i64, tenant::Model> = tenant::Entity::find()
        .filter(tenant::Column::Id.is_in(tenant_ids))
        .all(&txn)
        .await?
        .into_iter()
        .map(|tenant| (tenant.id, tenant))
        .collect();
    txn.commit().await?;

    let now = Utc::now();
    let mails = rows
        .into_iter()
        .map(|row| {
            let tenant = tenants.get(&row.tenant_id);
            OutboxEntry {
                id: row.id,
                customer_number: tenant.map_or(0, |tenant| tenant.customer_number),
                tenant_slug: tenant.map_or_else(String::new, |tenant| tenant.slug.clone()),
                recipient_domain: domain_of(&row.recipient).to_owned(),
                next_attempt_at: (row.status == "pending").then_some(row.next_attempt_at),
                claimed: row.locked_until.is_some_and(|until| until > now),
                status: row.status,
                attempts: row.attempts,
                created_at: row.created_at,
                last_error: row.last_error,
            }
        })
        .collect();
    Ok(OutboxListing { total, mails })
}

/// Result of [`unscoped_retry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryOutcome {
    /// A dead mail is pending again with a fresh count of attempts.
    Revived,
    /// A pending mail is due now instead of after its backoff.
    DueNow,
    AlreadySent,
    NotFound,
}

/// Queues one mail for delivery at once. A dead mail starts over with no attempts and keeps its
/// last error. A pending one only skips the rest of its backoff. Running workers pick it up at
/// their next poll.
pub async fn unscoped_retry(db: &DatabaseConnection, id: i64) -> Result<RetryOutcome, DbErr> {
    let txn = begin_unscoped(db).await?;
    let status = outbox::Entity::find_by_id(id)
        .select_only()
        .column(outbox::Column::Status)
        .into_tuple::<String>()
        .one(&txn)
        .await?;
    let outcome = match status.as_deref() {
        None => RetryOutcome::NotFound,
        Some("sent") => RetryOutcome::AlreadySent,
        Some("dead") => {
            revive_dead(Condition::all().add(outbox::Column::Id.eq(id)))
                .exec(&txn)
                .await?;
            RetryOutcome::Revived
        }
        Some(_) => {
            // The claim stays, so a delivery running right now is not repeated.
            outbox::Entity::update_many()
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(Utc::now()))
                .filter(outbox::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            RetryOutcome::DueNow
        }
    };
    txn.commit().await?;
    Ok(outcome)
}

/// Makes every dead mail, or every dead mail of one tenant, pending again as
/// [`unscoped_retry`] does, and returns how many there were.
pub async fn unscoped_retry_all_dead(
    db: &DatabaseConnection,
    tenant_id: Option<i64>,
) -> Result<u64, DbErr> {
    let mut condition = Condition::all();
    if let Some(tenant_id) = tenant_id {
        condition = condition.add(outbox::Column::TenantId.eq(tenant_id));
    }
    let txn = begin_unscoped(db).await?;
    let result = revive_dead(condition).exec(&txn).await?;
    txn.commit().await?;
    Ok(result.rows_affected)
}

/// Builds the update that makes the dead mails matching `condition` pending and due now.
fn revive_dead(condition: Condition) -> sea_orm::UpdateMany<outbox::Entity> {
    clear_claim(outbox::Entity::update_many())
        .col_expr(outbox::Column::Status, Expr::value("pending"))
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(Utc::now()))
        .filter(outbox::Column::Status.eq("dead"))
        .filter(condition)
}
