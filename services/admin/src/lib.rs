//! Placeholder router.

use axum::Router;
use mep24web_platform::AppState;

/// Returns this service's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
