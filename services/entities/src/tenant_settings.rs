//! Per-tenant settings from Konfiguration → Einstellungen.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: i64,
    pub max_failed_logins: i32,
    pub lockout_minutes: i32,
    /// Code employees enter when they register; `None` until the planner sets one.
    pub security_code: Option<String>,
    pub contact_email: Option<String>,
    pub invitation_valid_days: i32,
    /// Planners must set up two-factor login before they can use the main program.
    pub require_totp_for_planners: bool,
    /// Employees and planners may request a password reset link by email themselves.
    pub self_service_reset: bool,
    /// Days the audit log keeps an event before the hourly cleanup deletes it.
    pub audit_retention_days: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
