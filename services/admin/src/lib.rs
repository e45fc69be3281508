//! The main program (Hauptprogramm) for planners: master data, CSV import, invitations, planner
//! users, settings and the planner's own two-factor login. Every route takes a planner or
//! administrator extractor, so no handler runs without a signed-in account of the host's tenant.

use axum::Router;
use mep24web_platform::AppState;

mod audit_log;
mod home;
mod import;
mod invitations;
mod masterdata;
mod second_factor;
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
        .merge(audit_log::router())
        .merge(second_factor::router())
        .merge(settings::router())
}
