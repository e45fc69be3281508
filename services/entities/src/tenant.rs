//! A customer company.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub customer_number: i64,
    pub slug: String,
    pub name: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Host used for links in emails; `None` means `<slug>.<base domain>`.
    pub primary_domain: Option<String>,
    pub time_zone: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
