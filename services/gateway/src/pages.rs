//! Routers per host kind and the gateway's own pages: landing page with "Zugangslink finden",
//! unknown-host page, suspended-tenant page, language switch and the stylesheet.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mep24web_platform::error::error_page;
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::{AppState, TenantContext, templates};
use mep24web_tenancy::CustomerNumber;
use mep24web_tenancy::resolver::{context_of, unscoped_find_by_customer_number};
use serde::Deserialize;

/// Returns the routes of the apex host besides the app API: landing page, access-link finder and the
/// language switch.
pub fn apex_routes() -> RouteTable {
    RouteTable::new()
        .get("/", get(landing), Access::Public)
        .get("/find", get(find_access_link), Access::Public)
        .get("/lang/{code}", get(switch_language), Access::Public)
}

/// Routes of the apex host: landing page, access-link finder and the app API.
pub fn apex_router(state: AppState) -> Router {
    apex_routes()
        .into_router()
        .nest(
            "/api/app/v1",
            mep24web_app_api::router().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                mep24web_app_api::scope::bearer_tenant_scope,
            )),
        )
        .fallback(not_found)
        .with_state(state)
}

/// The routes of a tenant host, with the access each requires: the portal (login,
/// registration), the main program and the language switch.
pub fn tenant_routes() -> RouteTable {
    RouteTable::new()
        .merge(mep24web_portal::routes())
        .merge(mep24web_admin::routes())
        .get("/lang/{code}", get(switch_language), Access::Public)
}

/// Routes of a tenant host: the portal (login, registration) and the main program.
pub fn tenant_router(state: AppState) -> Router {
    tenant_routes()
        .into_router()
        .fallback(not_found)
        .with_state(state)
}

/// Routes of a host that belongs to no tenant: every path shows the unknown-host page, and the
/// finder form works here too.
pub fn unknown_host_router(state: AppState) -> Router {
    RouteTable::new()
        .get("/find", get(find_access_link), Access::Public)
        .get("/lang/{code}", get(switch_language), Access::Public)
        .into_router()
        .fallback(unknown_host)
        .with_state(state)
}

async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "errors.not_found")
}

fn render(status: StatusCode, name: &str, context: minijinja::Value) -> Response {
    match templates::page(name, context) {
        Ok(page) => (status, page).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Renders a page with the finder form, under the Content-Security-Policy that lets the form
/// redirect to a tenant host.
fn finder_page(status: StatusCode, name: &str, context: minijinja::Value) -> Response {
    let mut response = render(status, name, context);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::stack::FINDER_CSP),
    );
    response
}

async fn landing(State(state): State<AppState>) -> Response {
    finder_page(
        StatusCode::OK,
        "landing.html",
        minijinja::context! { server => state.urls.base_domain },
    )
}

async fn unknown_host() -> Response {
    finder_page(
        StatusCode::NOT_FOUND,
        "unknown_host.html",
        minijinja::context! {},
    )
}

/// Renders the page a suspended tenant's users see on every path.
pub fn suspended(tenant: &TenantContext) -> Response {
    render(
        StatusCode::FORBIDDEN,
        "suspended.html",
        minijinja::context! { tenant_name => tenant.name },
    )
}

#[derive(Deserialize)]
struct FindQuery {
    #[serde(default)]
    customer_number: String,
}

/// Redirects to the access link of the tenant with the given customer number, or shows the
/// form again with an error.
async fn find_access_link(
    State(state): State<AppState>,
    Query(query): Query<FindQuery>,
) -> Response {
    let input = query.customer_number.chars().take(40).collect::<String>();
    let Ok(number) = input.parse::<CustomerNumber>() else {
        return finder_page(
            StatusCode::BAD_REQUEST,
            "landing.html",
            minijinja::context! {
                customer_number => input,
                error => "finder.invalid",
                server => state.urls.base_domain,
            },
        );
    };
    match unscoped_find_by_customer_number(&state.db, number.get()).await {
        Ok(Some(row)) => {
            let tenant = context_of(&row, &state.urls);
            Redirect::to(&format!("{}/", state.urls.host_url(&tenant.primary_host))).into_response()
        }
        Ok(None) => finder_page(
            StatusCode::NOT_FOUND,
            "landing.html",
            minijinja::context! {
                customer_number => input,
                error => "finder.not_found",
                server => state.urls.base_domain,
            },
        ),
        Err(error) => {
            tracing::error!(%error, "customer number lookup failed");
            error_page(StatusCode::SERVICE_UNAVAILABLE, "errors.unavailable")
        }
    }
}

/// Sets the `lang` cookie and returns to the page the user came from on the same host.
async fn switch_language(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let Some(locale) = mep24web_platform::i18n::Locale::parse(&code) else {
        return error_page(StatusCode::NOT_FOUND, "errors.not_found");
    };
    let back = headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| url::Url::parse(referer).ok())
        .map(|url| url.path().to_owned())
        // Browsers read "//host" and "/\host" as a link to another host, so neither may lead the
        // path. URL parsing turns a backslash into '/' for http and https but keeps it in other
        // schemes.
        .filter(|path| path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'))
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        locale.code()
    );
    let mut response = Redirect::to(&back).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Serves the stylesheet embedded in the binary.
pub fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
}
