//! Tenancy: who a request belongs to.
//!
//! Host normalization, slugs and customer numbers are pure parsing; the resolver and provisioning
//! talk to the database. Nothing here depends on the HTTP handlers of the services.

pub mod change_feed;
pub mod customer_number;
pub mod host;
pub mod provision;
pub mod resolver;
pub mod slug;

pub use customer_number::CustomerNumber;
pub use host::{HostKind, InvalidHost, classify_host, normalize_host};
pub use resolver::TenantResolver;
pub use slug::{InvalidSlug, Slug};
