//! The two-factor columns of `accounts`, as their own entity.
//!
//! The TOTP secret stays out of [`crate::account::Model`], which every session carries through
//! the handlers and templates, so it is read only where a code is checked or enrollment runs.
//! The entity maps a subset of the columns, so it can read and update rows but never insert
//! them: accounts are created through [`crate::account`].

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// RFC 4648 base32 secret without padding (160 bits), set when enrollment starts.
    pub totp_secret: Option<String>,
    /// Time the planner confirmed enrollment with a code. `None` means two-factor login is off.
    pub totp_enabled_at: Option<DateTimeUtc>,
    /// The last accepted time step (Unix time divided by 30 s), so no code is accepted twice.
    pub totp_last_step: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
