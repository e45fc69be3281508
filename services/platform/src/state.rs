//! State shared by every handler.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::mail::MailSender;
use crate::passwords::PasswordHasher;
use crate::urls::PublicUrls;

/// Handles to the database, hasher, mail outbox and public URLs.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub urls: Arc<PublicUrls>,
    pub hasher: PasswordHasher,
    pub mail: MailSender,
}
