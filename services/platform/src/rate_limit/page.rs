//! The page a tenant host shows for an attempt over the limit.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::TenantContext;
use crate::error::error_page;
use crate::{templates, web};

/// Renders the 429 page with the wait of `retry_after_seconds`, a `Retry-After` header and a link
/// back to `back_path`, the form the attempt came from.
pub fn rate_limited_page(
    tenant: &TenantContext,
    retry_after_seconds: u64,
    back_path: &str,
) -> Response {
    let base = web::base_context(tenant, None, "login");
    let context = minijinja::context! {
        seconds => retry_after_seconds,
        back_path => back_path,
        ..base
    };
    let mut response = match templates::page("login_security/rate_limited.html", context) {
        Ok(body) => (StatusCode::TOO_MANY_REQUESTS, body).into_response(),
        Err(error) => {
            tracing::error!(%error, "rate limit page could not be rendered");
            error_page(
                StatusCode::TOO_MANY_REQUESTS,
                "login_security.limit.explain",
            )
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
