//! The portal status of an employee as the invitation list shows it, and whether the employee
//! can be invited.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use mep24web_entities::{account, employee, invitation};
use mep24web_platform::sessions::is_departed;

/// Portal state of an employee. The checks run in the order of the variants, so a departed
/// employee shows as departed even with a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortalStatus {
    /// The exit date has passed in the tenant's time zone.
    Departed,
    /// Has a login whose "Aktiv?" is "Nein".
    Deactivated,
    Registered,
    NoEmail,
    /// The stored address cannot be used as a mail recipient.
    InvalidEmail,
    /// The latest invitation is unused and still valid.
    Invited {
        sent_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// The latest invitation is unused and past its expiry.
    Expired,
    NotInvited,
}

impl PortalStatus {
    /// Returns the status of one employee.
    ///
    /// `invitation` is the employee's latest invitation that was neither used nor replaced.
    pub fn of(
        employee: &employee::Model,
        account: Option<&account::Model>,
        invitation: Option<&invitation::Model>,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Self {
        if is_departed(employee.exit_date, today) {
            return Self::Departed;
        }
        if let Some(account) = account {
            return if account.active {
                Self::Registered
            } else {
                Self::Deactivated
            };
        }
        match employee.email.as_deref() {
            None => return Self::NoEmail,
            Some(email) if email.trim().is_empty() => return Self::NoEmail,
            Some(email) if !is_deliverable(email) => return Self::InvalidEmail,
            Some(_) => {}
        }
        match invitation {
            Some(invitation) if invitation.expires_at > now => Self::Invited {
                sent_at: invitation.created_at,
                expires_at: invitation.expires_at,
            },
            Some(_) => Self::Expired,
            None => Self::NotInvited,
        }
    }

    /// Returns true for employees with a usable address, no login, and no exit in the past.
    /// An invited employee can be invited again, which replaces the earlier invitation.
    pub fn is_invitable(&self) -> bool {
        matches!(
            self,
            Self::Invited { .. } | Self::Expired | Self::NotInvited
        )
    }

    /// Suffix of the text's locale key `invitations.status.<code>`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Departed => "departed",
            Self::Deactivated => "deactivated",
            Self::Registered => "registered",
            Self::NoEmail => "no_email",
            Self::InvalidEmail => "invalid_email",
            Self::Invited { .. } => "invited",
            Self::Expired => "expired",
            Self::NotInvited => "not_invited",
        }
    }

    /// Style of the status badge: `ok`, `warn`, `off` or none.
    pub fn style(&self) -> &'static str {
        match self {
            Self::Registered | Self::Invited { .. } => "ok",
            Self::Expired | Self::InvalidEmail => "warn",
            Self::Departed | Self::Deactivated | Self::NoEmail => "off",
            Self::NotInvited => "",
        }
    }
}

/// Returns true when the mail transport accepts the address as stored, so the outbox worker
/// will not give up on it. The address is sent as stored, case included.
fn is_deliverable(email: &str) -> bool {
    lettre::Address::from_str(email).is_ok()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn today() -> NaiveDate {
        now().date_naive()
    }

    fn employee(email: Option<&str>, exit_date: Option<NaiveDate>) -> employee::Model {
        employee::Model {
            id: 7,
            tenant_id: 1,
            personnel_number: "1001".to_owned(),
            first_name: "Anna".to_owned(),
            last_name: "Schmidt".to_owned(),
            email: email.map(str::to_owned),
            phone: None,
            entry_date: None,
            exit_date,
            org_unit_id: 1,
            language: "de".to_owned(),
            created_at: now(),
            updated_at: now(),
        }
    }

    fn account(active: bool) -> account::Model {
        account::Model {
            id: 3,
            tenant_id: 1,
            kind: "employee".to_owned(),
            username: "anna".to_owned(),
            username_key: "anna".to_owned(),
            password_hash: None,
            display_name: "Anna Schmidt".to_owned(),
            role: None,
            email: None,
            employee_id: Some(7),
            active,
            must_change_password: false,
            failed_attempts: 0,
            locked_until: None,
            language: "de".to_owned(),
            created_at: now(),
            updated_at: now(),
            last_login_at: None,
            sessions_revoked_at: None,
        }
    }

    fn invitation(expires_at: DateTime<Utc>) -> invitation::Model {
        invitation::Model {
            id: 9,
            tenant_id: 1,
            employee_id: 7,
            email: "anna@example.com".to_owned(),
            token_hash: "0".repeat(64),
            created_at: now() - Duration::days(1),
            expires_at,
            used_at: None,
            replaced_at: None,
            security_code_failures: 0,
        }
    }

    #[test]
    fn status_checks_in_order() {
        let address = Some("anna@example.com");
        let yesterday = today().pred_opt();
        let valid = invitation(now() + Duration::days(13));
        let expired = invitation(now() - Duration::seconds(1));
        let cases = [
            (
                employee(address, yesterday),
                Some(account(true)),
                None,
                "departed",
            ),
            (employee(address, Some(today())), None, None, "not_invited"),
            (
                employee(address, None),
                Some(account(false)),
                None,
                "deactivated",
            ),
            (
                employee(address, None),
                Some(account(true)),
                Some(&valid),
                "registered",
            ),
            (employee(None, None), None, None, "no_email"),
            (employee(Some("  "), None), None, None, "no_email"),
            (
                employee(Some("anna(at)example.com"), None),
                None,
                None,
                "invalid_email",
            ),
            (employee(address, None), None, Some(&valid), "invited"),
            (employee(address, None), None, Some(&expired), "expired"),
        ];
        for (employee, account, invitation, expected) in cases {
            let status = PortalStatus::of(&employee, account.as_ref(), invitation, today(), now());
            assert_eq!(status.code(), expected, "{employee:?}");
        }
    }

    #[test]
    fn invitable_only_without_login() {
        let invitable: Vec<&str> = [
            PortalStatus::Departed,
            PortalStatus::Deactivated,
            PortalStatus::Registered,
            PortalStatus::NoEmail,
            PortalStatus::InvalidEmail,
            PortalStatus::Invited {
                sent_at: now(),
                expires_at: now(),
            },
            PortalStatus::Expired,
            PortalStatus::NotInvited,
        ]
        .iter()
        .filter(|status| status.is_invitable())
        .map(PortalStatus::code)
        .collect();
        assert_eq!(invitable, ["invited", "expired", "not_invited"]);
    }
}
