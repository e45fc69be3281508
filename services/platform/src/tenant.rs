//! The tenant a request belongs to, as resolved from its host.

use std::fmt;

use serde::Serialize;

/// Database id of a tenant; never shown to users (they see the customer number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TenantId(i64);

impl TenantId {
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Everything a handler needs to know about the current tenant.
#[derive(Clone, Debug, Serialize)]
pub struct TenantContext {
    pub id: TenantId,
    pub customer_number: i64,
    pub slug: String,
    pub name: String,
    pub suspended: bool,
    /// Host that links in emails point to: a verified custom domain or `<slug>.<base domain>`.
    pub primary_host: String,
    #[serde(skip)]
    pub time_zone: chrono_tz::Tz,
}

impl TenantContext {
    /// Returns today's date in the tenant's time zone.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.time_zone)
            .date_naive()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for TenantContext {
    type Rejection = crate::Error;

    /// Takes the tenant the gateway resolved from the host; a request without one (apex or
    /// unknown host) never reaches tenant data.
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<std::sync::Arc<TenantContext>>()
            .map(|tenant| tenant.as_ref().clone())
            .ok_or(crate::Error::NotFound)
    }
}
