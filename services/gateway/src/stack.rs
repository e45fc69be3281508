//! The tower stack every request passes, outermost first: request metrics, request id, trace
//! span, localized pages for bare error responses, catch-panic, timeout, body limit, security
//! headers, compression.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error_pages;
use crate::metrics::{self, Metrics};
use crate::settings::Settings;

/// Largest accepted request body. The CSV import's confirm step posts the uploaded file again,
/// base64-encoded in a hidden field: 4/3 of the 5 MiB file limit plus the form around it.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Content-Security-Policy: no inline script, no framing, forms only to this host.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// Content-Security-Policy of the pages that carry only the "Zugangslink finden" form. The form
/// redirects to the tenant's host, and browsers apply `form-action` to that redirect too, so it
/// is left out there. These pages hold no user data a forged form could send elsewhere.
pub const FINDER_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                              img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
                              object-src 'none'";

/// Wraps the router in the documented stack. The metrics layer is outermost, so it records the
/// status the client gets and the time of every layer.
pub fn wrap(router: Router, settings: &Settings, metrics: Arc<Metrics>) -> Router {
    let https = settings
        .public_url
        .as_ref()
        .is_some_and(|url| url.scheme() == "https");
    let mut router = router
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    if https {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    router
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(settings.request_timeout_seconds.max(1)),
        ))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(error_pages::localize_bare_errors))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("-");
                    // The host layer records the normalized host once it is known to be valid.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        host = tracing::field::Empty,
                        path = %redact_path(request.uri().path()),
                        request_id = %request_id,
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::record_request,
        ))
}

/// Returns the path with tokens replaced, so registration and setup links never reach the log.
pub fn redact_path(path: &str) -> String {
    for prefix in ["/register/", "/setup/", "/reset/"] {
        if path.starts_with(prefix) {
            return format!("{prefix}[redacted]");
        }
    }
    path.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_path_hides_tokens() {
        assert_eq!(redact_path("/register/abc123"), "/register/[redacted]");
        assert_eq!(redact_path("/setup/xyz"), "/setup/[redacted]");
        assert_eq!(redact_path("/admin"), "/admin");
    }
}
