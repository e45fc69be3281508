//! Two-factor login for planners with an authenticator app (TOTP, RFC 6238) and single-use
//! recovery codes.
//!
//! A planner with two-factor login gets no session from the password alone. The login creates
//! a [`pending`] state, and only a correct code turns it into a web session. A tenant can
//! require two-factor login for all planners. The [`Planner`](crate::sessions::Planner)
//! extractor then sends a planner without it to [`SETUP_PATH`] on every request until the setup
//! is done. Employees never use a second factor.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::error::Error;
use crate::sessions::{Authenticated, SignedIn};
use crate::state::AppState;

pub mod account;
pub mod check;
pub mod code;
pub mod pending;
pub mod recovery;

/// Path of the planner's own two-factor page in the main program (setup and management).
pub const SETUP_PATH: &str = "/admin/konto/zwei-faktor";

/// A signed-in planner, including one whose tenant requires two-factor login that the planner
/// has not set up yet. Only the two-factor page takes this extractor. Every other page of the
/// main program takes [`Planner`](crate::sessions::Planner), which sends such a planner here.
pub struct SetupPlanner(pub Authenticated);

impl<S> FromRequestParts<S> for SetupPlanner
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let SignedIn(signed_in) = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.account.must_change_password {
            return Err(Error::MustChangePassword);
        }
        if !signed_in.is_planner() {
            return Err(Error::Forbidden);
        }
        Ok(Self(signed_in))
    }
}
