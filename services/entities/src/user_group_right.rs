//! One right granted to a user group, optionally limited to a node of the organization tree.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_group_rights")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub group_id: i64,
    /// Code of the right, see `mep24web_platform::rights::Right`.
    pub right_code: String,
    /// The node the grant is limited to, with everything below it; `None` for the whole
    /// organization.
    pub org_unit_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
