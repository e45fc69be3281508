//! Sending invitations: checks the selection against the level, replaces earlier invitations,
//! stores the new ones and queues their mails, all in one transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use mep24web_entities::{invitation, tenant_settings};
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::{AppState, Error, tokens};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde_json::json;

use super::level::{ID_BATCH, Level, members};
use super::mail::InvitationLetter;
use mep24web_platform::rights::Reach;

/// Invitation rows per multi-row `INSERT`. Nine columns each stay far below the bind parameter
/// limits of SQLite (32,766) and PostgreSQL (65,535).
const INSERT_BATCH: usize = 500;

/// The employees of the level that the planner chose to invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every invitable employee of the level ("Alle auswählen").
    All,
    /// The ticked employee ids, without duplicates.
    Chosen(Vec<i64>),
}

/// Result of a sending run that passed the id checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Invitations were stored and queued. `skipped` lists chosen employees of the level who
    /// cannot be invited (any more), for example because they registered in the meantime.
    Sent { count: usize, skipped: Vec<i64> },
    /// "Einladen" without any ticked employee.
    NothingChosen,
    /// "Alle auswählen" on a level without any invitable employee.
    NoneInvitable,
    /// The tenant has no security code, so no invited employee could complete the registration.
    NoSecurityCode,
}

/// Invites the selected employees of the level `level_id`.
///
/// Returns `Error::NotFound` when the level is not an organization or branch of the tenant, or
/// when any chosen id is not an employee of the level. Then nothing is stored and no mail is
/// queued, so an id of another tenant or another branch changes nothing.
pub async fn invite(
    state: &AppState,
    auth: &Authenticated,
    source_ip: std::net::IpAddr,
    level_id: i64,
    reach: &Reach,
    selection: &Selection,
) -> Result<Outcome, Error> {
    let tenant = &auth.tenant;
    let now = Utc::now();
    let txn = db::begin_tenant(&state.db, tenant.id).await?;
    // Concurrent runs for the same employees wait here, so each one replaces the invitations
    // of the run before it and an employee keeps exactly one open invitation.
    db::lock_tenant(&txn, tenant.id).await?;
    let scope = Scoped::new(&txn, tenant.id);

    let level = Level::load_within(&scope, Some(level_id), reach).await?;
    let members = members(&scope, &level, tenant.today(), now).await?;
    let by_id: HashMap<i64, usize> = members
        .iter()
        .enumerate()
        .map(|(index, member)| (member.employee.id, index))
        .collect();
    let chosen: Vec<usize> = match selection {
        Selection::All => (0..members.len())
            .filter(|index| members[*index].status.is_invitable())
            .collect(),
        Selection::Chosen(ids) => {
            let mut chosen = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(index) = by_id.get(id) else {
                    tracing::info!(
                        tenant_id = %tenant.id,
                        level_id,
                        employee_id = id,
                        "invitation request names an employee outside the level"
                    );
                    return Err(Error::NotFound);
                };
                chosen.push(*index);
            }
            chosen
        }
    };
    match selection {
        Selection::Chosen(ids) if ids.is_empty() => return Ok(Outcome::NothingChosen),
        Selection::All if chosen.is_empty() => return Ok(Outcome::NoneInvitable),
        _ => {}
    }

    let settings = scope
        .find_by_id::<tenant_settings::Entity>(tenant.id.get())
        .await?
        .ok_or_else(|| anyhow::anyhow!("tenant {} has no settings row", tenant.id))?;
    if settings
        .security_code
        .as_deref()
        .is_none_or(|code| code.trim().is_empty())
    {
        return Ok(Outcome::NoSecurityCode);
    }

    let (invitable, skipped): (Vec<usize>, Vec<usize>) = chosen
        .into_iter()
        .partition(|index| members[*index].status.is_invitable());
    let skipped: Vec<i64> = skipped
        .into_iter()
        .map(|index| members[index].employee.id)
        .collect();
    if invitable.is_empty() {
        return Ok(Outcome::Sent { count: 0, skipped });
    }

    let letter = InvitationLetter {
        tenant,
        urls: &state.urls,
        inviter: &auth.account.display_name,
        reply_to: settings
            .contact_email
            .clone()
            .filter(|email| !email.trim().is_empty()),
        expires_at: now + Duration::days(i64::from(settings.invitation_valid_days.max(1))),
    };
    let employee_ids: Vec<i64> = invitable
        .iter()
        .map(|index| members[*index].employee.id)
        .collect();
    end_open_invitations(&scope, &employee_ids, now).await?;

    let mut rows = Vec::with_capacity(invitable.len());
    let mut mails = Vec::with_capacity(invitable.len());
    for index in &invitable {
        let employee = &members[*index].employee;
        // An invitable status implies a stored address.
        let Some(recipient) = employee.email.as_deref() else {
            continue;
        };
        let token = tokens::generate();
        rows.push(invitation::ActiveModel {
            tenant_id: Set(tenant.id.get()),
            employee_id: Set(employee.id),
            email: Set(recipient.to_owned()),
            token_hash: Set(tokens::hash(&token)),
            created_at: Set(now),
            expires_at: Set(letter.expires_at),
            used_at: Set(None),
            replaced_at: Set(None),
            security_code_failures: Set(0),
            ..Default::default()
        });
        mails.push(letter.render(employee, recipient, &token)?);
        let target = AuditTarget::employee(employee.id, &employee.first_name, &employee.last_name);
        audit::record_by(
            &txn,
            &auth.account,
            AuditAction::InvitationSent,
            target,
            source_ip,
            json!({}),
        )
        .await?;
    }
    let count = rows.len();
    let mut remaining = rows.into_iter().peekable();
    while remaining.peek().is_some() {
        let batch: Vec<invitation::ActiveModel> = remaining.by_ref().take(INSERT_BATCH).collect();
        invitation::Entity::insert_many(batch)
            .exec_without_returning(&txn)
            .await?;
    }
    state.mail.enqueue_many(&txn, tenant.id, mails).await?;
    txn.commit().await?;
    state.mail.wake();

    tracing::info!(
        tenant_id = %tenant.id,
        account_id = auth.account.id,
        level_id,
        invited = count,
        skipped = skipped.len(),
        "portal invitations queued"
    );
    Ok(Outcome::Sent { count, skipped })
}

/// Marks the open invitations of these employees as replaced at `now`, so their registration
/// links stop working. Sending runs call it before storing the new invitations, and changes of
/// an employee's address call it because the open invitation went to the old address. Returns
/// the number of invitations ended.
pub(crate) async fn end_open_invitations<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    employee_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut ended = 0;
    for batch in employee_ids.chunks(ID_BATCH) {
        ended += scope
            .update_many::<invitation::Entity>()
            .col_expr(invitation::Column::ReplacedAt, Expr::value(now))
            .filter(invitation::Column::EmployeeId.is_in(batch.to_vec()))
            .filter(invitation::Column::UsedAt.is_null())
            .filter(invitation::Column::ReplacedAt.is_null())
            .exec(scope.conn())
            .await?
            .rows_affected;
    }
    Ok(ended)
}

/// Parses the ticked ids of the form. Returns `None` when one is not a number, which the
/// caller treats like an unknown id.
pub fn parse_ids<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Vec<i64>> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for value in values {
        let id: i64 = value.trim().parse().ok()?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ids_keeps_order_without_duplicates() {
        assert_eq!(parse_ids(["3", " 1", "3", "2"]), Some(vec![3, 1, 2]));
        assert_eq!(parse_ids([]), Some(vec![]));
        assert_eq!(parse_ids(["3", "x"]), None);
    }
}
