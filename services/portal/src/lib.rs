//! The employee portal (Mitarbeiterportal) and the login at the access link.
//!
//! One login form serves planners and employees, because usernames are unique per tenant across
//! both kinds. The portal also owns the administrator's one-time setup link, the employee
//! registration from an invitation, the password change for every signed-in account, the
//! self-service password reset and the employee start page. Every handler takes the tenant resolved from the host, and every query
//! goes through `Scoped`, so a token, cookie or id of another tenant is treated as missing.

use mep24web_platform::routes::RouteTable;

mod attempt_limit;
mod forms;
mod home;
mod invitation_link;
mod login;
mod password;
mod password_reset;
mod register;
mod second_factor;
mod setup;
mod signin;

/// Returns the portal's routes on the tenant host: `/`, `/login`, `/logout`, `/setup/{token}`,
/// `/register/{token}`, `/password/change`, `/password/forgot`, `/reset/{token}`,
/// `/login/zwei-faktor` and `/portal`.
pub fn routes() -> RouteTable {
    RouteTable::new()
        .merge(login::routes())
        .merge(setup::routes())
        .merge(register::routes())
        .merge(password::routes())
        .merge(password_reset::routes())
        .merge(second_factor::routes())
        .merge(home::routes())
}
