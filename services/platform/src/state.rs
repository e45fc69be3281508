//! State shared by every handler.

use std::sync::Arc;

use crate::mail::MailSender;
use crate::passwords::PasswordHasher;
use crate::rate_limit::LoginLimiter;
use crate::sessions::SessionStore;
use crate::urls::PublicUrls;

/// Handles to the database, session store, hasher, mail outbox, public URLs and login attempt
/// limits.
#[derive(Clone)]
pub struct AppState {
    /// Database handle; inside a tenant request it runs on that request's tenant transaction.
    pub db: crate::db::Db,
    /// Store of the sessions and app tokens: the database, or Redis when it is configured.
    pub sessions: SessionStore,
    pub urls: Arc<PublicUrls>,
    pub hasher: PasswordHasher,
    pub mail: MailSender,
    /// Counts login attempts per client address and tenant, before any password is hashed.
    pub login_limiter: LoginLimiter,
}
