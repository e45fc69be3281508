//! A user group (Benutzergruppe) of planner users: a name and the rights its members hold.
//!
//! A planner account names its group by `key` in `accounts.role`. The built-in groups have the
//! keys `administrator` (every right, not editable) and `planer`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_groups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// Stable reference stored in `accounts.role`; never changes after creation.
    pub key: String,
    pub name: String,
    /// Lower-cased name; unique per tenant.
    pub name_key: String,
    /// True for Administrator and Planer, which cannot be deleted.
    pub builtin: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
