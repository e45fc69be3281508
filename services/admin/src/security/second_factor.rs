//! The two-factor state of a planner user on the edit page, and the administrator's reset for
//! a planner who lost both authenticator app and recovery codes.

use axum::extract::Path;
use axum::extract::State;
use axum::extract::rejection::PathRejection;
use axum::response::{IntoResponse, Redirect, Response};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::error::Result;
use mep24web_platform::rights::{Allowed, need};
use mep24web_platform::sessions;
use mep24web_platform::totp::{self, recovery};
use mep24web_platform::{AppState, Error, TenantContext};
use minijinja::{Value, context};
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};

use super::format_time;
use super::handlers::{LIST_PATH, actor, load_manageable};
use super::store::{self, StoreError};

/// Returns the `second_factor` value of the edit page: whether two-factor login is on, since
/// when, and how many recovery codes are unused.
pub(super) async fn status<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    account_id: i64,
) -> std::result::Result<Value, DbErr> {
    let row = totp::account::load(conn, tenant.id, account_id).await?;
    let since = row
        .and_then(|row| row.totp_enabled_at)
        .map(|at| format_time(at, tenant.time_zone));
    let remaining = match since {
        Some(_) => recovery::remaining(conn, tenant.id, account_id).await?,
        None => 0,
    };
    Ok(context! {
        enabled => since.is_some(),
        since => since,
        remaining => remaining,
    })
}

/// Turns off another planner's two-factor login and ends all their sessions, app tokens and
/// pending logins in one transaction. Administrators manage their own two-factor login on
/// their own page, so resetting oneself here is forbidden.
pub(super) async fn reset(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    client: ClientIp,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let account = load_manageable(&state, &allowed, id).await?;
    let auth = &allowed.auth;
    if account.id == auth.account.id {
        return Err(Error::Forbidden);
    }
    let tenant_id = auth.tenant.id;
    let txn = state.db.begin().await?;
    let actor = actor(&allowed, &client);
    match store::check_rights_in(&txn, tenant_id, actor, Some(account.id), None).await {
        Ok(()) => {}
        Err(error @ StoreError::AccountBeyondRights) => {
            tracing::info!(
                tenant_id = %tenant_id,
                account_id = account.id,
                by_account_id = auth.account.id,
                %error,
                "two-factor reset refused: account's group changed since the page was checked"
            );
            return Err(Error::Forbidden);
        }
        Err(StoreError::NotFound) => return Err(Error::NotFound),
        Err(StoreError::Database(error)) => return Err(error.into()),
        Err(other) => return Err(Error::Internal(other.into())),
    }
    if !totp::account::disable(&txn, tenant_id, account.id).await? {
        return Err(Error::NotFound);
    }
    let revoked =
        sessions::revoke_all_for_account(&state.sessions, &txn, tenant_id, account.id).await?;
    actor.trail.totp_reset(&txn, &account).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        account_id = account.id,
        by_account_id = auth.account.id,
        sessions_revoked = revoked,
        "two-factor login reset by an administrator"
    );
    Ok(Redirect::to(&format!("{LIST_PATH}?notice=second_factor_reset")).into_response())
}
