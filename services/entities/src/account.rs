//! A login: a planner user of the main program or an employee's portal login.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// `planner` or `employee`.
    pub kind: String,
    /// The username as typed when it was set.
    pub username: String,
    /// NFC-normalized, lower-cased username; unique per tenant across both kinds.
    pub username_key: String,
    /// Argon2id PHC string; `None` until the first password is set through a setup link.
    pub password_hash: Option<String>,
    pub display_name: String,
    /// `administrator` or `planer` for planners, `None` for employees.
    pub role: Option<String>,
    pub email: Option<String>,
    pub employee_id: Option<i64>,
    pub active: bool,
    pub must_change_password: bool,
    pub failed_attempts: i32,
    pub locked_until: Option<DateTimeUtc>,
    /// `de` or `en`: the language of the user interface after login.
    pub language: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    /// When all of the account's sessions were last ended; sessions created before are rejected
    /// even if the session store still has them.
    pub sessions_revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
