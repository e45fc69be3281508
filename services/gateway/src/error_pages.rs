//! Localized error pages for error responses that arrive without a page of their own.
//!
//! Handlers render their errors through `mep24web_platform::Error`, but some error responses
//! never pass through it. Rejections of axum's extractors (`Query`, `Path`, `Form`) and the
//! router's 405 come as English plain text or with an empty body. The tower stack returns 413
//! for an oversized body, 503 on timeout and 500 after a panic. This layer replaces every such
//! response with the error page in the request's language and keeps the status.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use mep24web_platform::error::error_page;
use mep24web_platform::i18n::CURRENT_LOCALE;

use crate::host_layer::choose_locale;

/// Path prefix of the JSON APIs, whose error bodies belong to the API and stay as they are.
const API_PREFIX: &str = "/api/";

/// Runs the request and gives a bare error response the localized error page.
pub async fn localize_bare_errors(request: Request<Body>, next: Next) -> Response {
    let locale = choose_locale(request.headers());
    let api = request.uri().path().starts_with(API_PREFIX);
    let response = CURRENT_LOCALE.scope(locale, next.run(request)).await;
    if api || !is_bare_error(&response) {
        return response;
    }
    let status = response.status();
    let mut page = CURRENT_LOCALE.sync_scope(locale, || error_page(status, message_key(status)));
    if let Some(allow) = response.headers().get(header::ALLOW) {
        page.headers_mut().insert(header::ALLOW, allow.clone());
    }
    page
}

/// Returns true for a 4xx or 5xx response whose body is neither HTML nor JSON.
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value: &HeaderValue| value.to_str().ok())
        .unwrap_or_default();
    !(content_type.starts_with("text/html") || content_type.starts_with("application/json"))
}

/// Returns the locale key of the message for a status.
fn message_key(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "errors.not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "errors.too_large",
        StatusCode::REQUEST_TIMEOUT
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => "errors.unavailable",
        status if status.is_server_error() => "errors.internal",
        _ => "errors.bad_request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[test]
    fn plain_text_error_is_bare() {
        let response = (StatusCode::BAD_REQUEST, "Failed to deserialize").into_response();
        assert!(is_bare_error(&response));
    }

    #[test]
    fn empty_error_is_bare() {
        let response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        assert!(is_bare_error(&response));
    }

    #[test]
    fn html_and_json_errors_are_kept() {
        let html = error_page(StatusCode::NOT_FOUND, "errors.not_found");
        assert!(!is_bare_error(&html));

        let json = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response();
        assert!(!is_bare_error(&json));
    }

    #[test]
    fn success_is_never_bare() {
        let response = (StatusCode::OK, "ok").into_response();
        assert!(!is_bare_error(&response));
    }

    #[test]
    fn message_key_follows_status() {
        assert_eq!(message_key(StatusCode::BAD_REQUEST), "errors.bad_request");
        assert_eq!(
            message_key(StatusCode::METHOD_NOT_ALLOWED),
            "errors.not_found"
        );
        assert_eq!(
            message_key(StatusCode::PAYLOAD_TOO_LARGE),
            "errors.too_large"
        );
        assert_eq!(
            message_key(StatusCode::SERVICE_UNAVAILABLE),
            "errors.unavailable"
        );
        assert_eq!(
            message_key(StatusCode::INTERNAL_SERVER_ERROR),
            "errors.internal"
        );
        assert_eq!(
            message_key(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            "errors.bad_request"
        );
    }
}
