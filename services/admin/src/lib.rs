//! The main program (Hauptprogramm) for planners: master data, CSV import, invitations, planner
//! users and settings. Every route takes a planner or administrator extractor, so no handler
//! runs without a signed-in account of the host's tenant.

use axum::Router;
use mep24web_platform::AppState;

mod home;
mod import;
mod invitations;
mod masterdata;
mod security;
mod settings;

/// Returns the routes of the main program, all under `/admin`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(home::router())
        .merge(masterdata::router())
        .merge(import::router())
        .merge(invitations::router())
        .merge(security::router())
        .merge(settings::router())
}
