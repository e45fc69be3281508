//! Finding the accounts a reset request names and sending each a new reset link.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{Duration, Utc};
use mep24web_entities::{account, employee, password_token, tenant_settings};
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::sessions::may_sign_in;
use mep24web_platform::{AppState, TenantContext, tokens, username};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QuerySelect, Set,
};

use super::{PURPOSE, VALID_MINUTES, mail};

/// Most accounts one request mails, for an email address that several accounts share.
const MAX_ACCOUNTS: u64 = 10;

/// Sends a reset link to every account that `identifier` names, if the tenant allows the reset,
/// and records `password_reset_requested` from `source_ip` for each of them. A request that
/// names no account records nothing. Runs after the response was sent, so it logs its errors
/// instead of returning them.
pub(super) async fn send_reset_links(
    state: AppState,
    tenant: TenantContext,
    identifier: String,
    source_ip: IpAddr,
) {
    match send(&state, &tenant, &identifier, source_ip).await {
        Ok(Outcome::Disabled) => {
            tracing::info!(tenant_id = %tenant.id, "reset link not sent: self-service reset is off");
        }
        Ok(Outcome::Sent(account_ids)) => {
            if account_ids.is_empty() {
                tracing::info!(tenant_id = %tenant.id, "reset link not sent: no account with an email address matches");
            } else {
                state.mail.wake();
                tracing::info!(tenant_id = %tenant.id, ?account_ids, "reset link sent");
            }
        }
        Err(error) => {
            tracing::error!(tenant_id = %tenant.id, error = format!("{error:#}"), "sending a reset link failed");
        }
    }
}

enum Outcome {
    Disabled,
    /// The accounts that got a mail; empty when none matched.
    Sent(Vec<i64>),
}

/// An account that may get a reset link, with the address the link goes to.
struct Recipient {
    account: account::Model,
    email: String,
}

async fn send(
    state: &AppState,
    tenant: &TenantContext,
    identifier: &str,
    source_ip: IpAddr,
) -> anyhow::Result<Outcome> {
    // The request's own database scope has ended, so this task opens its own for the tenant.
    // Reading and writing use two transactions. On SQLite a transaction that reads first fails
    // with SQLITE_BUSY_SNAPSHOT when another connection (the outbox worker) writes before it
    // does, while a transaction whose first statement writes waits for the lock.
    let reading = db::begin_tenant(state.db.pool(), tenant.id).await?;
    let enabled = Scoped::new(&reading, tenant.id)
        .find::<tenant_settings::Entity>()
        .one(&reading)
        .await?
        .is_some_and(|settings| settings.self_service_reset);
    if !enabled {
        reading.commit().await?;
        return Ok(Outcome::Disabled);
    }
    let recipients = find_recipients(&reading, tenant, identifier).await?;
    reading.commit().await?;
    if recipients.is_empty() {
        return Ok(Outcome::Sent(Vec::new()));
    }

    // An account deactivated between the two transactions may still get a mail, but its link
    // does not work: the reset page checks the account again.
    let writing = db::begin_tenant(state.db.pool(), tenant.id).await?;
    let mut account_ids = Vec::new();
    for recipient in recipients {
        let token = store_token(&writing, tenant, recipient.account.id).await?;
        let outgoing = mail::render(state, tenant, &recipient.account, &recipient.email, &token)?;
        state.mail.enqueue(&writing, tenant.id, outgoing).await?;
        // The identifier the requester typed stays out of the event, because it may be an
        // email address.
        let target = AuditTarget::account(&recipient.account);
        let action = AuditAction::PasswordResetRequested;
        let details = serde_json::json!({});
        audit::record(
            &writing,
            tenant.id,
            None,
            action,
            target,
            Some(source_ip),
            details,
        )
        .await?;
        account_ids.push(recipient.account.id);
    }
    writing.commit().await?;
    Ok(Outcome::Sent(account_ids))
}

/// Finds the accounts whose username is `identifier`, and for an email address the planners and
/// employees with that address, compared without case. Accounts that may not sign in
/// (deactivated, departed) and accounts without an email address are left out. A planner's
/// address is the one on the account, an employee's the one on the employee record.
async fn find_recipients<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    identifier: &str,
) -> Result<Vec<Recipient>, DbErr> {
    let scope = Scoped::new(conn, tenant.id);
    let mut accounts = BTreeMap::new();

    let key = username::key_of(identifier);
    if !key.is_empty() {
        for row in scope
            .find::<account::Entity>()
            .filter(account::Column::UsernameKey.eq(key))
            .all(conn)
            .await?
        {
            accounts.insert(row.id, row);
        }
    }
    if identifier.contains('@') {
        let address = identifier.to_lowercase();
        let planners = scope
            .find::<account::Entity>()
            .filter(account::Column::Kind.eq("planner"))
            .filter(Expr::expr(Func::lower(Expr::col(account::Column::Email))).eq(address.clone()))
            .limit(MAX_ACCOUNTS)
            .all(conn)
            .await?;
        let employee_ids: Vec<i64> = scope
            .find::<employee::Entity>()
            .filter(Expr::expr(Func::lower(Expr::col(employee::Column::Email))).eq(address))
            .limit(MAX_ACCOUNTS)
            .all(conn)
            .await?
            .into_iter()
            .map(|row| row.id)
            .collect();
        let employees = if employee_ids.is_empty() {
            Vec::new()
        } else {
            scope
                .find::<account::Entity>()
                .filter(account::Column::EmployeeId.is_in(employee_ids))
                .all(conn)
                .await?
        };
        for row in planners.into_iter().chain(employees) {
            accounts.insert(row.id, row);
        }
    }

    let mut recipients = Vec::new();
    for account in accounts.into_values().take(MAX_ACCOUNTS as usize) {
        if !may_sign_in(conn, tenant, &account).await? {
            continue;
        }
        let email = match account.employee_id {
            Some(employee_id) => scope
                .find_by_id::<employee::Entity>(employee_id)
                .await?
                .and_then(|row| row.email),
            None => account.email.clone(),
        };
        let Some(email) = email.map(|email| email.trim().to_owned()) else {
            continue;
        };
        if email.is_empty() {
            continue;
        }
        recipients.push(Recipient { account, email });
    }
    Ok(recipients)
}

/// Replaces the account's reset links with a new one and returns its token. Its first statement
/// writes, which the caller relies on.
async fn store_token<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account_id: i64,
) -> Result<String, DbErr> {
    let scope = Scoped::new(conn, tenant.id);
    scope
        .delete_many::<password_token::Entity>()
        .filter(password_token::Column::AccountId.eq(account_id))
        .filter(password_token::Column::Purpose.eq(PURPOSE))
        .exec(conn)
        .await?;
    let token = tokens::generate();
    let now = Utc::now();
    password_token::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        account_id: Set(account_id),
        purpose: Set(PURPOSE.to_owned()),
        token_hash: Set(tokens::hash(&token)),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(VALID_MINUTES)),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(token)
}
