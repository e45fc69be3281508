//! The error type of the HTML services. Each variant maps to one status and one German/English
//! page, and internal causes are logged once here and never shown.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::i18n;
use crate::templates;

/// A failure that ends a request of the main program or the portal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Missing, or belonging to another tenant: both produce the same 404 page.
    #[error("not found")]
    NotFound,
    /// No valid session: the browser is sent to the login page.
    #[error("login required")]
    LoginRequired,
    /// The account must set a new password first.
    #[error("password change required")]
    MustChangePassword,
    /// The tenant requires two-factor login and the planner has not set it up yet.
    #[error("two-factor setup required")]
    SecondFactorSetupRequired,
    /// Signed in, but this area or action is not allowed for the account.
    #[error("forbidden")]
    Forbidden,
    /// The request itself is malformed; the value is a locale key.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for Error {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

impl From<minijinja::Error> for Error {
    fn from(error: minijinja::Error) -> Self {
        Self::Internal(error.into())
    }
}

/// Convenience alias for handler results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, key) = match &self {
            Self::LoginRequired => return Redirect::to("/login").into_response(),
            Self::MustChangePassword => return Redirect::to("/password/change").into_response(),
            Self::SecondFactorSetupRequired => {
                return Redirect::to(crate::totp::SETUP_PATH).into_response();
            }
            Self::NotFound => (StatusCode::NOT_FOUND, "errors.not_found"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "errors.forbidden"),
            Self::BadRequest(key) => (StatusCode::BAD_REQUEST, *key),
            // The database is down or every pooled connection stayed busy for the acquire
            // timeout. The request may succeed when repeated, so the status is 503, not 500.
            Self::Internal(error) if is_database_unavailable(error) => {
                log_unavailable(error);
                (StatusCode::SERVICE_UNAVAILABLE, "errors.unavailable")
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "errors.internal")
            }
        };
        error_page(status, key)
    }
}

/// Returns true when a database error anywhere in the chain means the database cannot serve
/// right now (see [`crate::db::is_unavailable`]).
pub fn is_database_unavailable(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<sea_orm::DbErr>())
        .any(crate::db::is_unavailable)
}

/// Names the dependency behind an error that [`is_database_unavailable`] accepts: `redis` when the
/// session store in Redis failed, else `database`.
pub fn unavailable_dependency(error: &anyhow::Error) -> &'static str {
    let from_session_store = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .filter_map(|io| io.get_ref())
        .any(|inner| inner.is::<crate::sessions::SessionStoreUnavailable>());
    if from_session_store {
        "redis"
    } else {
        "database"
    }
}

/// Logs a request that failed because a dependency is unavailable. During an outage every
/// request fails the same way, so at most one line per second is written, with the number of
/// failures it stands for.
pub fn log_unavailable(error: &anyhow::Error) {
    static LAST_SECOND: AtomicU64 = AtomicU64::new(0);
    static SKIPPED: AtomicU64 = AtomicU64::new(0);
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    if LAST_SECOND.swap(second, Ordering::Relaxed) == second {
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let skipped = SKIPPED.swap(0, Ordering::Relaxed);
    tracing::error!(
        dependency = unavailable_dependency(error),
        error = chain_text(error),
        failures_not_logged = skipped,
        "request failed because a dependency is unavailable"
    );
}

/// Joins the messages of an error chain like `{:#}` does, but leaves out a cause whose message
/// ends the one before it. Database errors repeat their source's message in their own.
fn chain_text(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if parts.last().is_some_and(|last| last.ends_with(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

/// Renders the error page for a status and a locale key of its message.
pub fn error_page(status: StatusCode, message_key: &str) -> Response {
    let locale = i18n::current_locale();
    let context = minijinja::context! {
        status => status.as_u16(),
        message => i18n::text(locale, message_key),
    };
    match templates::render("error.html", context) {
        Ok(body) => (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            axum::response::Html(body),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "error page could not be rendered");
            (status, i18n::text(locale, message_key)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_text_leaves_out_repeated_causes() {
        let io = std::io::Error::other("connection refused");
        let database =
            sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(sea_orm::SqlxError::Io(io)));
        let error = anyhow::Error::from(database).context("loading the account");
        assert_eq!(
            chain_text(&error),
            "loading the account: Connection Error: error communicating with database: \
             connection refused"
        );
    }
}
