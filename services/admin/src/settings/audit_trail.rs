//! The audit event of a settings save: which fields changed, never their values, so the
//! security code stays out of the log.

use std::net::IpAddr;

use mep24web_entities::{account, tenant_settings};
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use sea_orm::{ConnectionTrait, DbErr};

/// Lists the names of the settings that differ between `before` and `after`.
pub(super) fn changed_fields(
    before: &tenant_settings::Model,
    after: &tenant_settings::Model,
) -> Vec<&'static str> {
    let comparisons = [
        (
            "max_failed_logins",
            before.max_failed_logins != after.max_failed_logins,
        ),
        (
            "lockout_minutes",
            before.lockout_minutes != after.lockout_minutes,
        ),
        ("security_code", before.security_code != after.security_code),
        ("contact_email", before.contact_email != after.contact_email),
        (
            "invitation_valid_days",
            before.invitation_valid_days != after.invitation_valid_days,
        ),
        (
            "require_totp_for_planners",
            before.require_totp_for_planners != after.require_totp_for_planners,
        ),
        (
            "self_service_reset",
            before.self_service_reset != after.self_service_reset,
        ),
        (
            "audit_retention_days",
            before.audit_retention_days != after.audit_retention_days,
        ),
    ];
    comparisons
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name)
        .collect()
}

/// Records `settings_changed` with the changed field names, unless nothing changed.
pub(super) async fn record_changes<C: ConnectionTrait>(
    conn: &C,
    actor: &account::Model,
    source_ip: IpAddr,
    before: &tenant_settings::Model,
    after: &tenant_settings::Model,
) -> Result<(), DbErr> {
    let fields = changed_fields(before, after);
    if fields.is_empty() {
        return Ok(());
    }
    let details = serde_json::json!({ "fields": fields });
    let action = AuditAction::SettingsChanged;
    audit::record_by(
        conn,
        actor,
        action,
        AuditTarget::settings(),
        source_ip,
        details,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> tenant_settings::Model {
        tenant_settings::Model {
            tenant_id: 1,
            max_failed_logins: 5,
            lockout_minutes: 15,
            security_code: Some("Apotheke-2026".to_owned()),
            contact_email: None,
            invitation_valid_days: 14,
            require_totp_for_planners: false,
            self_service_reset: false,
            audit_retention_days: 365,
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn unchanged_settings_list_nothing() {
        assert!(changed_fields(&settings(), &settings()).is_empty());
    }

    #[test]
    fn changed_code_lists_name_only() {
        let mut after = settings();
        after.security_code = Some("Neu-2027".to_owned());
        after.audit_retention_days = 90;
        assert_eq!(
            changed_fields(&settings(), &after),
            vec!["security_code", "audit_retention_days"]
        );
    }
}
