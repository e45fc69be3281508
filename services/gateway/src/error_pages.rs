//! Localized error pages for error responses that arrive without a page of their own.
//!
//! Handlers render their errors through `mep24web_platform::Error`, but some error responses
//! never pass through it. Rejections of axum's extractors (`Query`, `Path`, `Form`) and the
//! router's 405 come as English plain text or with an empty body. The tower stack returns 413
//! for an oversized body, 503 on timeout and 500 after a panic. This layer replaces every such
//! response with the error page in the request's language and keeps the status.
//!
//! A 503, which a database outage or an exhausted pool also causes, becomes JSON instead of a
//! page for the app API and for clients whose `Accept` header prefers `application/json`. The
//! body has the app API's error shape: `{ "code": "unavailable", "message_de", "message_en" }`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mep24web_platform::error::error_page;
use mep24web_platform::i18n::{self, CURRENT_LOCALE, Locale};
use serde::Serialize;

use crate::host_layer::choose_locale;

/// Path prefix of the JSON APIs, whose error bodies belong to the API and stay as they are.
const API_PREFIX: &str = "/api/";

/// Seconds a client is asked to wait before it repeats a request that got 503.
const RETRY_AFTER_SECONDS: &str = "5";

/// Runs the request and gives a bare error response the localized error page. Every 503 gets a
/// `Retry-After` header unless it has one.
pub async fn localize_bare_errors(request: Request<Body>, next: Next) -> Response {
    let mut response = localize(request, next).await;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from_static(RETRY_AFTER_SECONDS));
    }
    response
}

async fn localize(request: Request<Body>, next: Next) -> Response {
    let locale = choose_locale(request.headers());
    let api = request.uri().path().starts_with(API_PREFIX);
    let wants_json = api || prefers_json(request.headers());
    let response = CURRENT_LOCALE.scope(locale, next.run(request)).await;
    if wants_json && response.status() == StatusCode::SERVICE_UNAVAILABLE && !is_json(&response) {
        return unavailable_json(&response);
    }
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

/// The JSON body of a 503, in the app API's error shape.
#[derive(Serialize)]
struct UnavailableBody {
    code: &'static str,
    message_de: String,
    message_en: String,
}

/// Builds the JSON 503 that replaces `response`, keeping its `Retry-After` header.
fn unavailable_json(response: &Response) -> Response {
    let body = UnavailableBody {
        code: "unavailable",
        message_de: i18n::text(Locale::De, "errors.unavailable"),
        message_en: i18n::text(Locale::En, "errors.unavailable"),
    };
    let mut json = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response();
    if let Some(retry_after) = response.headers().get(header::RETRY_AFTER) {
        json.headers_mut()
            .insert(header::RETRY_AFTER, retry_after.clone());
    }
    json
}

/// Returns true when the `Accept` header ranks `application/json` above `text/html`. A header
/// that names neither, such as `*/*`, gets the page.
fn prefers_json(headers: &HeaderMap) -> bool {
    let mut json = 0.0_f32;
    let mut html = 0.0_f32;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media_type = parts.next().unwrap_or_default().trim();
            let quality = parts
                .filter_map(|parameter| parameter.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if media_type.eq_ignore_ascii_case("application/json") {
                json = json.max(quality);
            } else if media_type.eq_ignore_ascii_case("text/html") {
                html = html.max(quality);
            }
        }
    }
    json > 0.0 && json > html
}

/// Returns true when the response body is JSON.
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("application/json"))
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

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn prefers_json_reads_accept_ranking() {
        assert!(prefers_json(&accept("application/json")));
        assert!(prefers_json(&accept("application/json, text/html;q=0.9")));
        assert!(prefers_json(&accept("text/html;q=0.5, application/json")));
        assert!(!prefers_json(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!prefers_json(&accept("*/*")));
        assert!(!prefers_json(&accept("text/html, application/json")));
        assert!(!prefers_json(&accept("application/json;q=0")));
        assert!(!prefers_json(&HeaderMap::new()));
    }

    #[test]
    fn unavailable_json_has_both_messages() {
        let page = (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "",
        )
            .into_response();
        let json = unavailable_json(&page);
        assert_eq!(json.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(is_json(&json));
        assert_eq!(json.headers()[header::RETRY_AFTER], "5");
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
