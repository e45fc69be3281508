//! One entry of a tenant's audit log: who changed what, when and from where.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub occurred_at: DateTimeUtc,
    /// The account that acted; `None` for anonymous requests such as a failed login. Not a
    /// foreign key, so the entry outlives the account.
    pub actor_account_id: Option<i64>,
    /// The actor's display name when the event happened.
    pub actor_name: Option<String>,
    /// Stable snake_case code, for example `login_failed`.
    pub action: String,
    /// `account`, `employee`, `settings`, `import`, `invitation` or `username`.
    pub target_kind: String,
    pub target_id: Option<i64>,
    /// The target's name when the event happened, for display.
    pub target_name: Option<String>,
    /// The client address as resolved through the trusted proxies.
    pub source_ip: Option<String>,
    /// A JSON object with event-specific facts; never a password, token or security code.
    pub details: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
