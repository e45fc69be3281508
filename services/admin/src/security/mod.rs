//! Konfiguration → Sicherheit → Benutzer: the planner users of the main program.
//!
//! Administrators list, create and edit planner accounts (kind `planner`). Employee logins are
//! managed on the employee record instead, so an employee account id in these URLs is not found.
//! A tenant always keeps at least one active administrator, enforced in [`store`].

use axum::Router;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use mep24web_platform::AppState;

mod audit_trail;
mod form;
mod handlers;
mod second_factor;
mod store;

/// Role value of planners with every right, including Konfiguration.
const ROLE_ADMINISTRATOR: &str = "administrator";
/// Role value of planners without access to Konfiguration.
const ROLE_PLANNER: &str = "planer";

/// Returns the routes of the user administration.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/sicherheit/benutzer", get(handlers::list))
        .route(
            "/admin/sicherheit/benutzer/neu",
            get(handlers::new_form).post(handlers::create),
        )
        .route(
            "/admin/sicherheit/benutzer/{id}",
            get(handlers::edit_form).post(handlers::update),
        )
        .route(
            "/admin/sicherheit/benutzer/{id}/zwei-faktor/zuruecksetzen",
            post(second_factor::reset),
        )
}

/// Formats a point in time as `dd.mm.yyyy HH:MM` in the tenant's time zone.
fn format_time(time: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    time.with_timezone(&zone)
        .format("%d.%m.%Y %H:%M")
        .to_string()
}
