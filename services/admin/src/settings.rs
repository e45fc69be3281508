//! Placeholder.

use axum::Router;
use mep24web_platform::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
