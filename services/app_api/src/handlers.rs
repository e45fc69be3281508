//! Handlers of the app API: login, the signed-in account, logout and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use mep24web_entities::employee;
use mep24web_platform::audit;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::Scoped;
use mep24web_platform::rate_limit::Decision;
use mep24web_platform::sessions::{self, SessionKind};
use mep24web_platform::{AppState, TenantId, login};
use mep24web_tenancy::CustomerNumber;
use mep24web_tenancy::resolver::{context_of, unscoped_find_by_customer_number};
use sea_orm::TransactionTrait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::AppToken;
use crate::error::{ApiError, ApiJson};
use crate::{openapi, second_factor};

/// Body of `POST /login`.
#[derive(Deserialize)]
pub struct LoginRequest {
    /// A JSON number or a string of digits, because apps differ in which they send.
    customer_number: Value,
    username: String,
    password: String,
    /// Code of the authenticator app or a recovery code. Only planners with two-factor login
    /// need it, and others may leave it out.
    #[serde(default)]
    totp_code: Option<String>,
}

/// Body of a successful login.
#[derive(Debug, Serialize)]
pub struct LoginResponse {
    pub token: String,
    pub token_type: &'static str,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub account_kind: String,
    pub display_name: String,
    pub tenant_name: String,
    pub customer_number: i64,
    /// True when the account must set a new password in the portal or main program first.
    pub must_change_password: bool,
}

/// Body of `GET /me`.
#[derive(Debug, Serialize)]
pub struct MeResponse {
    pub account_kind: String,
    pub username: String,
    pub display_name: String,
    pub tenant_name: String,
    pub customer_number: i64,
    pub must_change_password: bool,
    /// The employee record behind an employee login, `null` for planners.
    pub employee: Option<EmployeeInfo>,
}

/// The parts of an employee record the app shows.
#[derive(Debug, Serialize)]
pub struct EmployeeInfo {
    pub personnel_number: String,
    pub first_name: String,
    pub last_name: String,
}

/// Checks customer number, username and password and issues an app token bound to that tenant
/// and account. Every failure returns the same `login_failed` body and costs one password hash
/// verification, so neither body nor timing shows which part was wrong. An attempt over the
/// login attempt limits returns `rate_limited` before any hash is computed.
pub async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let failed = || ApiError::LoginFailed {
        server: state.urls.base_domain.clone(),
    };
    let password = SecretString::from(request.password);
    let tenant = match parse_customer_number(&request.customer_number)? {
        Some(number) => unscoped_find_by_customer_number(&state.db, number.get()).await?,
        None => None,
    };
    let tenant_id = tenant.as_ref().map(|row| TenantId::new(row.id));
    if let Decision::Limited {
        scope,
        retry_after_seconds,
    } = state.login_limiter.check(client.0, tenant_id).await
    {
        tracing::info!(
            tenant_id = tenant_id.map(TenantId::get),
            scope = scope.as_str(),
            retry_after_seconds,
            "app login rejected by the login attempt limit"
        );
        return Err(ApiError::RateLimited {
            retry_after_seconds,
        });
    }
    let Some(tenant) = tenant else {
        state.hasher.verify(&password, None).await;
        tracing::info!(reason = "unknown_customer_number", "app login failed");
        return Err(failed());
    };
    let tenant = context_of(&tenant, &state.urls);
    state
        .db
        .clone()
        .scope_tenant(
            tenant.id,
            login_in_tenant(
                state,
                tenant,
                client,
                request.username,
                password,
                request.totp_code,
            ),
        )
        .await?
}

/// Checks the credentials and issues the token, inside the tenant's database scope.
async fn login_in_tenant(
    state: AppState,
    tenant: mep24web_platform::TenantContext,
    client: ClientIp,
    username: String,
    password: SecretString,
    totp_code: Option<String>,
) -> Result<Response, ApiError> {
    let failed = || ApiError::LoginFailed {
        server: state.urls.base_domain.clone(),
    };

    // A suspended tenant is handled inside `authenticate` like an unknown user.
    let outcome =
        login::authenticate(&state.db, &state.hasher, &tenant, &username, &password).await?;
    let account = match outcome {
        Ok(account) => account,
        Err(failure) => {
            tracing::info!(
                tenant_id = %tenant.id,
                reason = failure.reason.as_str(),
                suspended = tenant.suspended,
                "app login failed"
            );
            let reason = failure.reason.as_str();
            audit::record_login_failure(&state.db, &tenant, &username, client.0, reason).await?;
            return Err(failed());
        }
    };
    let method =
        second_factor::check_login(&state, &tenant, &account, totp_code.as_deref(), client.0)
            .await?;

    let txn = state.db.begin().await?;
    let kind = SessionKind::App;
    let issued =
        sessions::create_after_login(&state.sessions, &txn, &tenant, &account, kind).await?;
    let Some(sessions::Issued { token, expires_at }) = issued else {
        txn.rollback().await?;
        let reason = login::FailureReason::ChangedDuringLogin.as_str();
        tracing::info!(tenant_id = %tenant.id, reason, "app login failed");
        audit::record_login_failure(&state.db, &tenant, &username, client.0, reason).await?;
        return Err(failed());
    };
    audit::record_login_success(&txn, &account, client.0, "app", Some(method)).await?;
    txn.commit().await?;
    let expires_at = expires_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    tracing::info!(
        tenant_id = %tenant.id,
        account_id = account.id,
        account_kind = %account.kind,
        "app token issued"
    );
    let body = LoginResponse {
        token,
        token_type: "Bearer",
        expires_at,
        account_kind: account.kind,
        display_name: account.display_name,
        tenant_name: tenant.name,
        customer_number: tenant.customer_number,
        must_change_password: account.must_change_password,
    };
    // RFC 6749, section 5.1: responses that carry a token must not be cached.
    let headers = [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ];
    Ok((headers, Json(body)).into_response())
}

/// Returns the account behind the token, with its employee record for employee logins.
pub async fn me(State(state): State<AppState>, token: AppToken) -> Result<Response, ApiError> {
    let AppToken { signed_in, .. } = token;
    let tenant = &signed_in.tenant;
    let account = signed_in.account;
    let employee = match account.employee_id {
        Some(id) => Scoped::new(&state.db, tenant.id)
            .find_by_id::<employee::Entity>(id)
            .await?
            .map(|row| EmployeeInfo {
                personnel_number: row.personnel_number,
                first_name: row.first_name,
                last_name: row.last_name,
            }),
        None => None,
    };
    let body = MeResponse {
        account_kind: account.kind,
        username: account.username,
        display_name: account.display_name,
        tenant_name: tenant.name.clone(),
        customer_number: tenant.customer_number,
        must_change_password: account.must_change_password,
        employee,
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Revokes the token the request carries.
pub async fn logout(
    State(state): State<AppState>,
    token: AppToken,
) -> Result<StatusCode, ApiError> {
    let tenant_id = token.signed_in.tenant.id;
    sessions::revoke(&state.sessions, &state.db, tenant_id, &token.token).await?;
    tracing::info!(
        tenant_id = %tenant_id,
        account_id = token.signed_in.account.id,
        "app token revoked by logout"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Serves the OpenAPI document.
pub async fn openapi_document(State(state): State<AppState>) -> Json<Value> {
    Json(openapi::document(&state.urls))
}

/// Returns `not_found` for paths under the API prefix that have no route.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Returns `method_not_allowed` for a known path called with a method it does not have.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Reads the customer number from a JSON number or a digit string. A value that cannot be a
/// customer number is `None`, so the login fails as for an unknown number. Any other JSON type
/// is a malformed request.
fn parse_customer_number(value: &Value) -> Result<Option<CustomerNumber>, ApiError> {
    match value {
        Value::Number(number) => Ok(number.as_i64().and_then(CustomerNumber::new)),
        Value::String(text) => Ok(text.chars().take(40).collect::<String>().parse().ok()),
        _ => Err(ApiError::BadRequest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn customer_number_accepts_number_and_digits() {
        let parsed = |value: Value| {
            parse_customer_number(&value)
                .ok()
                .flatten()
                .map(CustomerNumber::get)
        };
        assert_eq!(parsed(json!(10001)), Some(10001));
        assert_eq!(parsed(json!("10001")), Some(10001));
        assert_eq!(parsed(json!(" 10 001 ")), Some(10001));
    }

    #[test]
    fn customer_number_impossible_values_are_unknown() {
        for value in [
            json!(0),
            json!(-5),
            json!(1.5),
            json!("10001x"),
            json!(""),
            json!(1e12),
        ] {
            assert!(
                matches!(parse_customer_number(&value), Ok(None)),
                "{value} was not treated as unknown"
            );
        }
    }

    #[test]
    fn customer_number_other_types_are_bad_requests() {
        for value in [
            json!(null),
            json!(true),
            json!([10001]),
            json!({ "n": 10001 }),
        ] {
            assert!(
                matches!(parse_customer_number(&value), Err(ApiError::BadRequest)),
                "{value} was not a bad request"
            );
        }
    }
}
