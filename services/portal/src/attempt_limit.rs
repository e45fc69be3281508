//! The login attempt limits at the portal's entry points that check a secret: the login form,
//! the request for a reset link and the registration's security code.

use axum::response::Response;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::rate_limit::{Decision, rate_limited_page};
use mep24web_platform::{AppState, TenantContext};

/// Counts one attempt from the client on this tenant. Over a limit it returns the 429 page,
/// which links back to `back_path`, and the caller stops before any password is hashed.
pub async fn reject_if_limited(
    state: &AppState,
    tenant: &TenantContext,
    client: ClientIp,
    back_path: &str,
) -> Option<Response> {
    match state.login_limiter.check(client.0, Some(tenant.id)).await {
        Decision::Allowed => None,
        Decision::Limited {
            scope,
            retry_after_seconds,
        } => {
            tracing::info!(
                tenant_id = %tenant.id,
                scope = scope.as_str(),
                retry_after_seconds,
                "attempt rejected by the login attempt limit"
            );
            Some(rate_limited_page(tenant, retry_after_seconds, back_path))
        }
    }
}
