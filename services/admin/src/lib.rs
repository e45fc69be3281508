//! The main program (Hauptprogramm) for planners: master data, CSV import, invitations, planner
//! users, settings and the planner's own two-factor login. Every route takes a planner or
//! [`Allowed`](mep24web_platform::rights::Allowed) extractor, so no handler runs without a
//! signed-in planner of the host's tenant, and each route's required access is listed in its
//! [`RouteTable`].

use mep24web_platform::routes::RouteTable;

mod audit_log;
mod home;
mod import;
mod invitations;
mod masterdata;
mod second_factor;
mod security;
mod settings;

/// Returns the routes of the main program, all under `/admin`.
pub fn routes() -> RouteTable {
    RouteTable::new()
        .merge(home::routes())
        .merge(masterdata::routes())
        .merge(import::routes())
        .merge(invitations::routes())
        .merge(security::routes())
        .merge(audit_log::routes())
        .merge(second_factor::routes())
        .merge(settings::routes())
}
