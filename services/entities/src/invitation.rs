//! An invitation of one employee to the portal.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub employee_id: i64,
    /// Address the invitation was sent to.
    pub email: String,
    /// SHA-256 of the token, hex; the token itself is never stored.
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    /// Set when a newer invitation of the same employee replaced this one.
    pub replaced_at: Option<DateTimeUtc>,
    /// Wrong security codes entered on this invitation's registration form; the link stops
    /// working at the portal's limit. New rows start at 0 (database default).
    pub security_code_failures: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
