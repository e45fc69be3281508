//! The host layer: normalizes each request's host, resolves it to the apex or a tenant, chooses
//! the locale, records the client address for the login attempt limits, and hands the request to
//! the apex router or the tenant router.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mep24web_platform::client_ip::{self, ClientIp, TrustedProxy};
use mep24web_platform::error::error_page;
use mep24web_platform::i18n::{CURRENT_LOCALE, Locale};
use mep24web_platform::{AppState, TenantContext, TenantId, sessions};
use mep24web_tenancy::{HostKind, TenantResolver, classify_host, normalize_host};
use tower::ServiceExt;

use crate::health::Readiness;
use crate::metrics::{self, RouteSlot};
use crate::{csrf, pages};

/// Everything the host layer needs; cloned per request (all fields are cheap handles).
#[derive(Clone)]
pub struct Gateway {
    state: AppState,
    resolver: Arc<TenantResolver>,
    trusted_proxies: Arc<Vec<TrustedProxy>>,
    readiness: Readiness,
    apex: Router,
    tenant: Router,
    unknown: Router,
}

impl Gateway {
    pub fn new(
        state: AppState,
        resolver: Arc<TenantResolver>,
        trusted_proxies: Vec<TrustedProxy>,
        readiness: Readiness,
    ) -> Self {
        let tag_route = || axum::middleware::from_fn(metrics::tag_route);
        Self {
            apex: pages::apex_router(state.clone()).route_layer(tag_route()),
            tenant: pages::tenant_router(state.clone()).route_layer(tag_route()),
            unknown: pages::unknown_host_router(state.clone()).route_layer(tag_route()),
            state,
            resolver,
            trusted_proxies: Arc::new(trusted_proxies),
            readiness,
        }
    }
}

/// Builds the router whose only route is the dispatch by host.
pub fn router(gateway: Gateway) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(Arc::new(gateway))
}

/// Result of host resolution, stored in the request extensions for logging and handlers.
#[derive(Clone, Debug)]
pub enum ResolvedHost {
    Apex,
    Tenant(Arc<TenantContext>),
    Unknown(String),
}

async fn dispatch(State(gateway): State<Arc<Gateway>>, mut request: Request) -> Response {
    let locale = choose_locale(request.headers());
    CURRENT_LOCALE
        .scope(locale, async move {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip());
            let client = client_ip::resolve(peer, request.headers(), &gateway.trusted_proxies);
            request.extensions_mut().insert(ClientIp(client));
            let raw_host = effective_host(&request, peer, &gateway.trusted_proxies);
            let Some(raw_host) = raw_host else {
                return error_page(StatusCode::BAD_REQUEST, "errors.invalid_host");
            };
            let Ok(host) = normalize_host(&raw_host) else {
                return error_page(StatusCode::BAD_REQUEST, "errors.invalid_host");
            };
            // The request span leaves the host empty until here, because the raw header may
            // carry user information such as a password ("user:password@host").
            tracing::Span::current().record("host", tracing::field::display(&host));
            let slot = request.extensions().get::<RouteSlot>().cloned();
            let path = request.uri().path();
            if matches!(path, "/healthz" | "/readyz" | "/static/app.css")
                && let Some(slot) = &slot
            {
                slot.set_route(path);
            }
            if path == "/healthz" {
                return (StatusCode::OK, "ok").into_response();
            }
            if path == "/readyz" {
                return gateway.readiness.respond().await;
            }
            if path == "/static/app.css" {
                return pages::stylesheet().into_response();
            }
            let kind = classify_host(&host, &gateway.state.urls.base_domain);
            if let Some(slot) = &slot {
                slot.set_host_kind(match kind {
                    HostKind::Apex | HostKind::Www => "apex",
                    HostKind::Tenant(_) | HostKind::Custom(_) => "tenant",
                });
            }
            match kind {
                HostKind::Apex => {
                    request.extensions_mut().insert(ResolvedHost::Apex);
                    serve(gateway.apex.clone(), request).await
                }
                HostKind::Www => {
                    let target = format!(
                        "{}{}",
                        gateway.state.urls.apex_url(),
                        request.uri().path_and_query().map_or("/", |p| p.as_str())
                    );
                    // 301 rather than axum's 308: every client understands it, and only GET
                    // requests are expected on www.
                    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, target)]).into_response()
                }
                kind => match gateway.resolver.resolve(&kind).await {
                    Ok(Some(tenant)) if tenant.suspended => {
                        request
                            .extensions_mut()
                            .insert(ResolvedHost::Tenant(tenant.clone()));
                        pages::suspended(&tenant)
                    }
                    Ok(Some(_))
                        if csrf::is_cross_site(request.method(), request.headers(), &host) =>
                    {
                        tracing::warn!("cross-site form submission rejected");
                        error_page(StatusCode::FORBIDDEN, "errors.cross_site")
                    }
                    Ok(Some(tenant)) => {
                        request
                            .extensions_mut()
                            .insert(ResolvedHost::Tenant(tenant.clone()));
                        request.extensions_mut().insert(tenant.clone());
                        serve_tenant(&gateway, tenant.id, request).await
                    }
                    Ok(None) => {
                        if let Some(slot) = &slot {
                            slot.set_host_kind("unknown");
                        }
                        request.extensions_mut().insert(ResolvedHost::Unknown(host));
                        serve(gateway.unknown.clone(), request).await
                    }
                    Err(error) => {
                        tracing::error!(%error, "tenant lookup failed");
                        error_page(StatusCode::SERVICE_UNAVAILABLE, "errors.unavailable")
                    }
                },
            }
        })
        .await
}

/// Serves a tenant request inside its database scope, which on PostgreSQL is one transaction
/// bound to the tenant for row-level security. Mail queued by a changing request becomes
/// visible to the outbox worker only after that commit, so the worker is woken then.
async fn serve_tenant(gateway: &Gateway, tenant_id: TenantId, request: Request) -> Response {
    let changes = !request.method().is_safe();
    // The whole body is read before the scope opens its transaction, so a client that sends its
    // body slowly takes no pooled connection meanwhile. The body limit layer has already capped
    // its size. A failed read is either that cap or a client that went away; the latter never
    // sees the answer.
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, crate::stack::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::info!(%error, tenant_id = %tenant_id, "request body could not be read");
            return error_page(StatusCode::PAYLOAD_TOO_LARGE, "errors.too_large");
        }
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let outcome = gateway
        .state
        .db
        .scope_tenant(tenant_id, serve(gateway.tenant.clone(), request))
        .await;
    match outcome {
        Ok(response) => {
            if changes {
                gateway.state.mail.wake();
            }
            response
        }
        Err(error) => {
            tracing::error!(%error, tenant_id = %tenant_id, "request transaction failed");
            error_page(StatusCode::SERVICE_UNAVAILABLE, "errors.unavailable")
        }
    }
}

async fn serve(router: Router, request: Request) -> Response {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Returns the host the client asked for: `X-Forwarded-Host` or `Forwarded: host=` only when the
/// direct peer is a trusted proxy, else the `Host` header, else the URI authority (HTTP/2).
///
/// Returns `None`, which the caller rejects with 400, when the request names its host
/// ambiguously: two `Host` header lines (RFC 9112, section 3.2), or a `Host` header and an
/// absolute-form URI or HTTP/2 `:authority` that name different hosts. Otherwise the tenant
/// chosen here could differ from the one a proxy or cache in front chose from the other value.
fn effective_host(
    request: &Request<Body>,
    peer: Option<IpAddr>,
    trusted: &[TrustedProxy],
) -> Option<String> {
    let headers = request.headers();
    if peer.is_some_and(|ip| client_ip::is_trusted(ip, trusted))
        && let Some(forwarded) = forwarded_host(headers)
    {
        return Some(forwarded);
    }
    let mut host_headers = headers.get_all(header::HOST).iter();
    let host_header = host_headers.next();
    if host_headers.next().is_some() {
        return None;
    }
    let authority = request.uri().authority().map(|a| a.as_str());
    match (host_header, authority) {
        (Some(value), Some(authority)) => {
            let host = value.to_str().ok()?;
            match (normalize_host(host), normalize_host(authority)) {
                (Ok(from_header), Ok(from_uri)) if from_header == from_uri => Some(host.to_owned()),
                _ => None,
            }
        }
        (Some(value), None) => value.to_str().ok().map(str::to_owned),
        (None, Some(authority)) => Some(authority.to_owned()),
        (None, None) => None,
    }
}

fn forwarded_host(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers
        .get("x-forwarded-host")
        .and_then(|value| value.to_str().ok())
    {
        // The first entry is the host the client used; later ones were added by inner proxies.
        return value.split(',').next().map(|host| host.trim().to_owned());
    }
    let forwarded = headers.get(header::FORWARDED)?.to_str().ok()?;
    let first = forwarded.split(',').next()?;
    first.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.eq_ignore_ascii_case("host")
            .then(|| value.trim_matches('"').to_owned())
    })
}

/// Chooses the locale: the `lang` cookie, then `Accept-Language`, then German.
pub(crate) fn choose_locale(headers: &HeaderMap) -> Locale {
    sessions::read_cookie(headers, "lang")
        .and_then(|code| Locale::parse(&code))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok())
                .and_then(Locale::from_accept_language)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_host_takes_first_entry() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("a.localhost, b.localhost"),
        );
        assert_eq!(forwarded_host(&headers).as_deref(), Some("a.localhost"));

        let mut headers = HeaderMap::new();
        headers.insert(
            header::FORWARDED,
            HeaderValue::from_static("for=1.2.3.4;host=\"acme.localhost:8080\";proto=http"),
        );
        assert_eq!(
            forwarded_host(&headers).as_deref(),
            Some("acme.localhost:8080")
        );
    }

    #[test]
    fn locale_prefers_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("en"));
        assert_eq!(choose_locale(&headers), Locale::En);
        headers.insert(header::COOKIE, HeaderValue::from_static("lang=de"));
        assert_eq!(choose_locale(&headers), Locale::De);
    }
}
