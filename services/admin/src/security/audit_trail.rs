//! The audit events of planner user changes: creation, field changes, role, activation and a
//! password set by an administrator. Values of passwords never reach the log.

use std::net::IpAddr;

use mep24web_entities::account;
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

use super::form::UserChanges;

/// Actor and source address of a change to a planner user.
#[derive(Clone, Copy)]
pub(super) struct Trail<'a> {
    pub actor: &'a account::Model,
    pub source_ip: IpAddr,
}

impl Trail<'_> {
    /// Records `planner_created` for a new planner user.
    pub(super) async fn created<C: ConnectionTrait>(
        self,
        conn: &C,
        created: &account::Model,
    ) -> Result<(), DbErr> {
        let details = json!({ "role": created.role });
        self.record(conn, AuditAction::PlannerCreated, created, details)
            .await
    }

    /// Records one event per kind of change between `before` and `changes`.
    pub(super) async fn updated<C: ConnectionTrait>(
        self,
        conn: &C,
        before: &account::Model,
        changes: &UserChanges,
    ) -> Result<(), DbErr> {
        let mut fields = Vec::new();
        if before.display_name != changes.display_name {
            fields.push("display_name");
        }
        if before.email != changes.email {
            fields.push("email");
        }
        if !fields.is_empty() {
            let details = json!({ "fields": fields });
            self.record(conn, AuditAction::PlannerUpdated, before, details)
                .await?;
        }
        if before.role.as_deref() != Some(changes.role.as_str()) {
            let details = json!({ "from": before.role, "to": changes.role });
            self.record(conn, AuditAction::RoleChanged, before, details)
                .await?;
        }
        if before.active != changes.active {
            let action = if changes.active {
                AuditAction::AccountActivated
            } else {
                AuditAction::AccountDeactivated
            };
            self.record(conn, action, before, json!({})).await?;
        }
        if let Some(change) = &changes.new_password {
            let details = json!({ "must_change_password": change.must_change_password });
            self.record(conn, AuditAction::PasswordSetByPlanner, before, details)
                .await?;
        }
        Ok(())
    }

    /// Records `totp_reset` for a planner whose two-factor login an administrator turned off.
    pub(super) async fn totp_reset<C: ConnectionTrait>(
        self,
        conn: &C,
        target: &account::Model,
    ) -> Result<(), DbErr> {
        self.record(conn, AuditAction::TotpReset, target, json!({}))
            .await
    }

    async fn record<C: ConnectionTrait>(
        self,
        conn: &C,
        action: AuditAction,
        target: &account::Model,
        details: serde_json::Value,
    ) -> Result<(), DbErr> {
        let target = AuditTarget::account(target);
        audit::record_by(conn, self.actor, action, target, self.source_ip, details).await
    }
}
