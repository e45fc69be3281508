//! The per-tenant audit log: one row in `audit_events` for each security-relevant change.
//!
//! Callers record an event with [`record`] on the connection or transaction that makes the
//! change, so the entry and the change are committed or rolled back together. Only tenant
//! administrators read the log (Konfiguration → Sicherheit → Protokoll). Events older than the
//! tenant's `audit_retention_days` are deleted by [`delete_expired`], which the gateway runs
//! once an hour.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use chrono::{Duration, Utc};
use mep24web_entities::{account, audit_event, tenant_settings};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

use crate::db::Scoped;
use crate::{TenantContext, TenantId, username};

/// Days an event is kept when the tenant has not chosen otherwise.
pub const DEFAULT_RETENTION_DAYS: i32 = 365;
/// The retention an administrator may choose, in days.
pub const RETENTION_DAYS: RangeInclusive<i32> = 30..=3650;

/// Kind of audited event. The code of each variant is stored, so it must never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    LoginSucceeded,
    LoginFailed,
    InvitationSent,
    RegistrationCompleted,
    LoginCreated,
    PasswordChanged,
    PasswordSetByPlanner,
    PasswordReset,
    AccountActivated,
    AccountDeactivated,
    UsernameChanged,
    PlannerCreated,
    PlannerUpdated,
    RoleChanged,
    TotpEnabled,
    TotpDisabled,
    TotpReset,
    SettingsChanged,
    EmployeeCreated,
    EmployeeUpdated,
    ImportCommitted,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    PasswordResetRequested,
    RecoveryCodesRenewed,
    UnitCreated,
    UnitRenamed,
}

impl AuditAction {
    /// Every action, in the order the filter on the log page lists them.
    pub const ALL: [Self; 28] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::InvitationSent,
        Self::RegistrationCompleted,
        Self::LoginCreated,
        Self::PasswordChanged,
        Self::PasswordSetByPlanner,
        Self::PasswordReset,
        Self::AccountActivated,
        Self::AccountDeactivated,
        Self::UsernameChanged,
        Self::PlannerCreated,
        Self::PlannerUpdated,
        Self::RoleChanged,
        Self::TotpEnabled,
        Self::TotpDisabled,
        Self::TotpReset,
        Self::SettingsChanged,
        Self::EmployeeCreated,
        Self::EmployeeUpdated,
        Self::ImportCommitted,
        Self::GroupCreated,
        Self::GroupUpdated,
        Self::GroupDeleted,
        Self::PasswordResetRequested,
        Self::RecoveryCodesRenewed,
        Self::UnitCreated,
        Self::UnitRenamed,
    ];

    /// Returns the stored snake_case code. The locale key of its name is `audit.action.<code>`.
    pub fn code(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::InvitationSent => "invitation_sent",
            Self::RegistrationCompleted => "registration_completed",
            Self::LoginCreated => "login_created",
            Self::PasswordChanged => "password_changed",
            Self::PasswordSetByPlanner => "password_set_by_planner",
            Self::PasswordReset => "password_reset",
            Self::AccountActivated => "account_activated",
            Self::AccountDeactivated => "account_deactivated",
            Self::UsernameChanged => "username_changed",
            Self::PlannerCreated => "planner_created",
            Self::PlannerUpdated => "planner_updated",
            Self::RoleChanged => "role_changed",
            Self::TotpEnabled => "totp_enabled",
            Self::TotpDisabled => "totp_disabled",
            Self::TotpReset => "totp_reset",
            Self::SettingsChanged => "settings_changed",
            Self::EmployeeCreated => "employee_created",
            Self::EmployeeUpdated => "employee_updated",
            Self::ImportCommitted => "import_committed",
            Self::GroupCreated => "group_created",
            Self::GroupUpdated => "group_updated",
            Self::GroupDeleted => "group_deleted",
            Self::UnitCreated => "unit_created",
            Self::UnitRenamed => "unit_renamed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::RecoveryCodesRenewed => "recovery_codes_renewed",
        }
    }

    /// Parses a stored code; an unknown code is `None`.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.code() == code)
    }
}

/// Subject of an event: a kind, and the id and name of the row when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditTarget {
    pub kind: &'static str,
    pub id: Option<i64>,
    pub name: Option<String>,
}

impl AuditTarget {
    /// Builds the target for a login (planner or employee account), named by its display name.
    pub fn account(account: &account::Model) -> Self {
        Self {
            kind: "account",
            id: Some(account.id),
            name: Some(account.display_name.clone()),
        }
    }

    /// Builds the target for an employee record, named "first last".
    pub fn employee(id: i64, first_name: &str, last_name: &str) -> Self {
        Self {
            kind: "employee",
            id: Some(id),
            name: Some(format!("{first_name} {last_name}")),
        }
    }

    /// Builds the target of a failed login for a username that matches no account. The typed
    /// username is not stored, because it is often a password typed into the wrong field.
    pub fn unknown_username() -> Self {
        Self {
            kind: "username",
            id: None,
            name: None,
        }
    }

    /// Builds the target for the tenant's settings.
    pub fn settings() -> Self {
        Self {
            kind: "settings",
            id: None,
            name: None,
        }
    }

    /// Builds the target for a node of the organization tree, named by its name.
    pub fn org_unit(id: i64, name: &str) -> Self {
        Self {
            kind: "org_unit",
            id: Some(id),
            name: Some(name.to_owned()),
        }
    }

    /// Builds the target for a user group (Benutzergruppe), named by its name.
    pub fn user_group(id: i64, name: &str) -> Self {
        Self {
            kind: "user_group",
            id: Some(id),
            name: Some(name.to_owned()),
        }
    }

    /// Builds the target for a committed CSV import of employees.
    pub fn import() -> Self {
        Self {
            kind: "import",
            id: None,
            name: None,
        }
    }
}

/// Inserts one audit event for the tenant on `conn`. Pass the transaction that makes the change,
/// so both are committed together. `details` must be a JSON object of non-secret facts, for
/// example the names of changed fields or import counts.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    actor: Option<&account::Model>,
    action: AuditAction,
    target: AuditTarget,
    source_ip: Option<IpAddr>,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    audit_event::ActiveModel {
        tenant_id: Set(tenant_id.get()),
        occurred_at: Set(Utc::now()),
        actor_account_id: Set(actor.map(|account| account.id)),
        actor_name: Set(actor.map(|account| account.display_name.clone())),
        action: Set(action.code().to_owned()),
        target_kind: Set(target.kind.to_owned()),
        target_id: Set(target.id),
        target_name: Set(target.name),
        source_ip: Set(source_ip.map(|ip| ip.to_string())),
        details: Set(details.to_string()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Records an event that `actor` caused, in the actor's tenant. Shorthand for [`record`] at
/// call sites where a signed-in account acts.
pub async fn record_by<C: ConnectionTrait>(
    conn: &C,
    actor: &account::Model,
    action: AuditAction,
    target: AuditTarget,
    source_ip: IpAddr,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    let tenant_id = TenantId::new(actor.tenant_id);
    record(
        conn,
        tenant_id,
        Some(actor),
        action,
        target,
        Some(source_ip),
        details,
    )
    .await
}

/// Records an event that `account` caused on itself, such as its registration or its own
/// password change, with empty details.
pub async fn record_own<C: ConnectionTrait>(
    conn: &C,
    account: &account::Model,
    action: AuditAction,
    source_ip: IpAddr,
) -> Result<(), DbErr> {
    let target = AuditTarget::account(account);
    record_by(
        conn,
        account,
        action,
        target,
        source_ip,
        serde_json::json!({}),
    )
    .await
}

/// Records a completed login of `account`, with the account as actor and target. `channel` is
/// `web` or `app`; `method` is `password` or the second factor used (`totp`, `recovery_code`),
/// `None` where the caller does not know it.
pub async fn record_login_success<C: ConnectionTrait>(
    conn: &C,
    account: &account::Model,
    source_ip: IpAddr,
    channel: &'static str,
    method: Option<&'static str>,
) -> Result<(), DbErr> {
    let details = serde_json::json!({ "channel": channel, "method": method });
    let target = AuditTarget::account(account);
    record_by(
        conn,
        account,
        AuditAction::LoginSucceeded,
        target,
        source_ip,
        details,
    )
    .await
}

/// Records a failed login: against the account when the username names one of the tenant's
/// accounts, else against an unknown username without storing what was typed. `reason` is
/// [`crate::login::FailureReason::as_str`]; only administrators read it.
pub async fn record_login_failure<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    username_input: &str,
    source_ip: IpAddr,
    reason: &'static str,
) -> Result<(), DbErr> {
    let key = username::key_of(username_input);
    let account = if key.is_empty() || key.len() > 256 {
        None
    } else {
        Scoped::new(conn, tenant.id)
            .find::<account::Entity>()
            .filter(account::Column::UsernameKey.eq(key))
            .one(conn)
            .await?
    };
    let target = account
        .as_ref()
        .map_or_else(AuditTarget::unknown_username, AuditTarget::account);
    record(
        conn,
        tenant.id,
        None,
        AuditAction::LoginFailed,
        target,
        Some(source_ip),
        serde_json::json!({ "reason": reason }),
    )
    .await
}

/// Records a rejected second factor (TOTP or recovery code) after a correct password, as a
/// failed login of the account. `reason` is the rejection's code, prefixed with
/// `second_factor_` in the stored details.
pub async fn record_second_factor_failure<C: ConnectionTrait>(
    conn: &C,
    account: &account::Model,
    source_ip: IpAddr,
    reason: &'static str,
) -> Result<(), DbErr> {
    let tenant_id = TenantId::new(account.tenant_id);
    let details = serde_json::json!({ "reason": format!("second_factor_{reason}") });
    let target = AuditTarget::account(account);
    let action = AuditAction::LoginFailed;
    record(
        conn,
        tenant_id,
        None,
        action,
        target,
        Some(source_ip),
        details,
    )
    .await
}

/// Deletes expired events of every tenant in one unscoped transaction and returns the number
/// of rows deleted. The gateway's retention worker calls this once an hour.
pub async fn unscoped_delete_expired<C: TransactionTrait>(db: &C) -> Result<u64, DbErr> {
    let txn = crate::db::begin_unscoped(db).await?;
    let deleted = delete_expired(&txn).await?;
    txn.commit().await?;
    Ok(deleted)
}

/// Deletes every tenant's events that are older than that tenant's retention, and returns the
/// number of rows deleted. `conn` must see every tenant, so on PostgreSQL it is a transaction
/// from [`crate::db::begin_unscoped`]. Tenants without a settings row keep
/// [`DEFAULT_RETENTION_DAYS`].
pub async fn delete_expired<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    let now = Utc::now();
    let settings = tenant_settings::Entity::find().all(conn).await?;
    let mut deleted = 0;
    for row in &settings {
        let days = row
            .audit_retention_days
            .clamp(*RETENTION_DAYS.start(), *RETENTION_DAYS.end());
        let cutoff = now - Duration::days(i64::from(days));
        deleted += audit_event::Entity::delete_many()
            .filter(audit_event::Column::TenantId.eq(row.tenant_id))
            .filter(audit_event::Column::OccurredAt.lt(cutoff))
            .exec(conn)
            .await?
            .rows_affected;
    }
    let default_cutoff = now - Duration::days(i64::from(DEFAULT_RETENTION_DAYS));
    deleted += audit_event::Entity::delete_many()
        .filter(
            audit_event::Column::TenantId.not_in_subquery(
                Query::select()
                    .column(tenant_settings::Column::TenantId)
                    .from(tenant_settings::Entity)
                    .to_owned(),
            ),
        )
        .filter(audit_event::Column::OccurredAt.lt(default_cutoff))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{self, Locale};

    #[test]
    fn action_codes_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::from_code(action.code()), Some(action));
        }
    }

    #[test]
    fn action_codes_are_unique() {
        let mut codes: Vec<&str> = AuditAction::ALL.iter().map(|a| a.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AuditAction::ALL.len());
    }

    #[test]
    fn every_action_has_a_name_in_both_languages() {
        for locale in [Locale::De, Locale::En] {
            let keys = i18n::keys(locale);
            for action in AuditAction::ALL {
                let key = format!("audit.action.{}", action.code());
                assert!(keys.contains(&key), "{key} missing in {locale:?}");
            }
        }
    }

    #[test]
    fn unknown_code_is_none() {
        assert_eq!(AuditAction::from_code("login_success"), None);
    }
}
