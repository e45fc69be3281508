//! `GET /admin`: the start page of the main program, with the access link and customer number
//! that planners pass on to employees, and for administrators the entries of "Konfiguration".

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions::Planner;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, templates};

/// Returns the route of the start page.
pub fn routes() -> RouteTable {
    RouteTable::new().get("/admin", get(start_page), Access::Planner)
}

async fn start_page(
    State(state): State<AppState>,
    Planner(auth): Planner,
) -> Result<Response, Error> {
    let tenant = &auth.tenant;
    let base = base_context(tenant, Some(&auth), "home");
    let context = minijinja::context! {
        planner_name => auth.account.display_name,
        access_link => state.urls.host_url(&tenant.primary_host),
        app_server => state.urls.base_domain,
        ..base
    };
    Ok(templates::page("admin/home.html", context)?.into_response())
}
