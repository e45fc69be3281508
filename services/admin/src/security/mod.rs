//! Konfiguration → Sicherheit → Benutzer and Benutzergruppen: the planner users of the main
//! program and the user groups that grant their rights.
//!
//! Planners with the right to manage users list, create and edit planner accounts (kind
//! `planner`). Someone who is not an administrator can neither change an account nor assign a
//! group whose rights they do not hold themselves. Employee logins are
//! managed on the employee record instead, so an employee account id in these URLs is not found.
//! A tenant always keeps at least one active administrator, enforced in [`store`].

use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use mep24web_platform::rights::Right;
use mep24web_platform::routes::{Access, RouteTable};

mod audit_trail;
mod form;
mod groups;
mod handlers;
mod second_factor;
mod store;

/// Group key of planners with every right.
const ROLE_ADMINISTRATOR: &str = mep24web_platform::rights::ADMINISTRATOR_GROUP;
/// Group key preselected for a new planner user.
const ROLE_PLANNER: &str = mep24web_platform::rights::PLANER_GROUP;

/// Returns the routes of the user administration.
pub fn routes() -> RouteTable {
    let manage = Access::Right(Right::ManageUsers);
    RouteTable::new()
        .get("/admin/sicherheit/benutzer", get(handlers::list), manage)
        .get_post(
            "/admin/sicherheit/benutzer/neu",
            get(handlers::new_form).post(handlers::create),
            manage,
        )
        .get_post(
            "/admin/sicherheit/benutzer/{id}",
            get(handlers::edit_form).post(handlers::update),
            manage,
        )
        .post(
            "/admin/sicherheit/benutzer/{id}/zwei-faktor/zuruecksetzen",
            post(second_factor::reset),
            manage,
        )
        .get(groups::GROUPS_PATH, get(groups::list), manage)
        .get_post(
            "/admin/sicherheit/gruppen/neu",
            get(groups::new_form).post(groups::create),
            manage,
        )
        .get_post(
            "/admin/sicherheit/gruppen/{id}",
            get(groups::edit_form).post(groups::update),
            manage,
        )
        .post(
            "/admin/sicherheit/gruppen/{id}/loeschen",
            post(groups::delete),
            manage,
        )
}

/// Formats a point in time as `dd.mm.yyyy HH:MM` in the tenant's time zone.
fn format_time(time: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    time.with_timezone(&zone)
        .format("%d.%m.%Y %H:%M")
        .to_string()
}
