//! Building blocks shared by the gateway and the services: database access with tenant scoping,
//! the tenant context, errors, locales and templates, passwords, tokens, sessions, login and the
//! mail outbox.

pub mod audit;
pub mod client_ip;
pub mod common_passwords;
pub mod db;
pub mod error;
pub mod i18n;
pub mod login;
pub mod mail;
pub mod metrics;
pub mod passwords;
pub mod rate_limit;
pub mod redis_link;
pub mod rights;
pub mod routes;
pub mod sessions;
pub mod state;
pub mod templates;
pub mod tenant;
pub mod tokens;
pub mod totp;
pub mod urls;
pub mod username;
pub mod web;

pub use error::Error;
pub use state::AppState;
pub use tenant::{TenantContext, TenantId};
