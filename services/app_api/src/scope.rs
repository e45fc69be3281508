//! Tenant scope for token-carrying API calls.
//!
//! App requests arrive on the apex host, so the gateway cannot bind them to a tenant. For calls
//! with a bearer token, this middleware looks up the token's tenant across tenants, the only
//! unscoped step. It then runs the rest of the request inside
//! [`Db::scope_tenant`](mep24web_platform::db::Db::scope_tenant), so on PostgreSQL row-level
//! security confines every later query to that tenant. Calls without a valid-looking token run
//! unscoped and see no tenant rows. The login handler opens its own scope once the customer
//! number has named the tenant.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mep24web_platform::{AppState, TenantId, db, tokens};

use crate::error::ApiError;

/// Runs the request in the tenant scope of its bearer token, if it has one.
pub async fn bearer_tenant_scope(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .filter(|token| tokens::looks_valid(token));
    let Some(token) = token else {
        return next.run(request).await;
    };
    let tenant_id = match unscoped_token_tenant(&state, &token).await {
        Ok(Some(tenant_id)) => tenant_id,
        // Unknown tokens go on unscoped; the extractor rejects them with the usual error.
        Ok(None) => return next.run(request).await,
        Err(error) => return ApiError::from(error).into_response(),
    };
    match state.db.scope_tenant(tenant_id, next.run(request)).await {
        Ok(response) => response,
        Err(error) => ApiError::from(error).into_response(),
    }
}

async fn unscoped_token_tenant(
    state: &AppState,
    token: &str,
) -> Result<Option<TenantId>, sea_orm::DbErr> {
    let txn = db::begin_unscoped(state.db.pool()).await?;
    let session = crate::auth::unscoped_find_app_session(&state.sessions, &txn, token).await?;
    txn.commit().await?;
    Ok(session.map(|session| session.tenant_id))
}
