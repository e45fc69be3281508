//! Finding an employee's invitation by its registration token and deciding whether it can still
//! be used, and the security code check with its per-invitation failure count.

use axum::http::StatusCode;
use chrono::Utc;
use mep24web_entities::{account, employee, invitation, tenant_settings};
use mep24web_platform::db::Scoped;
use mep24web_platform::sessions::is_departed;
use mep24web_platform::{TenantContext, tokens};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, PaginatorTrait, QueryFilter};
use subtle::ConstantTimeEq;

/// Wrong security codes after which an invitation can no longer be used.
pub const MAX_SECURITY_CODE_FAILURES: i32 = 10;

/// An invitation that can still be used to register, with what the registration needs.
pub struct Usable {
    pub invitation: invitation::Model,
    pub employee: employee::Model,
    pub security_code: String,
}

/// The state of a registration link, in the order the checks run.
pub enum LinkStatus {
    Usable(Box<Usable>),
    /// Malformed, unknown, or another tenant's token.
    Unknown,
    /// A registration with this invitation already succeeded.
    Used,
    /// The employee has a login already, for example one the planner created.
    HasLogin,
    /// A newer invitation of the same employee replaced this one.
    Replaced,
    Expired,
    /// The security code was entered wrongly [`MAX_SECURITY_CODE_FAILURES`] times.
    Blocked,
    /// The employee's exit date has passed in the tenant's time zone.
    Departed,
    /// The tenant has not set a security code yet, so no employee can register.
    NoSecurityCode,
}

impl LinkStatus {
    /// Returns the status code and the locale keys of the title and explanation of the page
    /// shown instead of the form. A usable link returns `None`.
    pub fn problem_page(&self) -> Option<(StatusCode, &'static str, &'static str)> {
        let page = match self {
            Self::Usable(_) => return None,
            Self::Unknown => (
                StatusCode::NOT_FOUND,
                "portal.register.unknown_title",
                "portal.register.unknown_explain",
            ),
            Self::Used => (
                StatusCode::GONE,
                "portal.register.used_title",
                "portal.register.used_explain",
            ),
            Self::HasLogin => (
                StatusCode::GONE,
                "portal.register.has_login_title",
                "portal.register.has_login_explain",
            ),
            Self::Replaced => (
                StatusCode::GONE,
                "portal.register.replaced_title",
                "portal.register.replaced_explain",
            ),
            Self::Expired => (
                StatusCode::GONE,
                "portal.register.expired_title",
                "portal.register.expired_explain",
            ),
            Self::Blocked => (
                StatusCode::GONE,
                "portal.register.blocked_title",
                "portal.register.blocked_explain",
            ),
            Self::Departed => (
                StatusCode::GONE,
                "portal.register.departed_title",
                "portal.register.departed_explain",
            ),
            Self::NoSecurityCode => (
                StatusCode::CONFLICT,
                "portal.register.no_code_title",
                "portal.register.no_code_explain",
            ),
        };
        Some(page)
    }

    /// Returns a short name of the state for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Usable(_) => "usable",
            Self::Unknown => "unknown",
            Self::Used => "used",
            Self::HasLogin => "has_login",
            Self::Replaced => "replaced",
            Self::Expired => "expired",
            Self::Blocked => "blocked",
            Self::Departed => "departed",
            Self::NoSecurityCode => "no_security_code",
        }
    }
}

/// Looks up the invitation of a registration token for this tenant and checks every condition
/// for registering.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    token: &str,
) -> Result<LinkStatus, DbErr> {
    if !tokens::looks_valid(token) {
        return Ok(LinkStatus::Unknown);
    }
    let scope = Scoped::new(conn, tenant.id);
    let Some(invitation) = scope
        .find::<invitation::Entity>()
        .filter(invitation::Column::TokenHash.eq(tokens::hash(token)))
        .one(conn)
        .await?
    else {
        return Ok(LinkStatus::Unknown);
    };
    let Some(employee) = scope
        .find_by_id::<employee::Entity>(invitation.employee_id)
        .await?
    else {
        return Ok(LinkStatus::Unknown);
    };

    if invitation.used_at.is_some() {
        return Ok(LinkStatus::Used);
    }
    let logins = scope
        .find::<account::Entity>()
        .filter(account::Column::EmployeeId.eq(employee.id))
        .count(conn)
        .await?;
    if logins > 0 {
        return Ok(LinkStatus::HasLogin);
    }
    if invitation.replaced_at.is_some() {
        return Ok(LinkStatus::Replaced);
    }
    if invitation.expires_at <= Utc::now() {
        return Ok(LinkStatus::Expired);
    }
    if invitation.security_code_failures >= MAX_SECURITY_CODE_FAILURES {
        return Ok(LinkStatus::Blocked);
    }
    if is_departed(employee.exit_date, tenant.today()) {
        return Ok(LinkStatus::Departed);
    }

    let security_code = scope
        .find::<tenant_settings::Entity>()
        .one(conn)
        .await?
        .and_then(|settings| settings.security_code)
        .map(|code| code.trim().to_owned())
        .filter(|code| !code.is_empty());
    let Some(security_code) = security_code else {
        return Ok(LinkStatus::NoSecurityCode);
    };
    Ok(LinkStatus::Usable(Box::new(Usable {
        invitation,
        employee,
        security_code,
    })))
}

/// Compares a typed security code with the tenant's, case-sensitively after trimming both. The
/// comparison runs over SHA-256 digests in constant time, so neither the length nor the first
/// differing character shows in the response time.
pub fn security_code_matches(typed: &str, expected: &str) -> bool {
    let typed = tokens::hash(typed.trim());
    let expected = tokens::hash(expected.trim());
    typed.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Claims one attempt at the security code before the code is compared: the failure count goes
/// up by one unless it has reached [`MAX_SECURITY_CODE_FAILURES`] or the invitation was used.
/// Returns the count after the claim, or `None` when no attempt is left.
///
/// The claim is one conditional update, so parallel submits cannot compare more codes than the
/// limit allows. A code that proves correct gives its attempt back with
/// [`release_code_attempt`], so only wrong codes stay counted.
pub async fn claim_code_attempt<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    invitation_id: i64,
) -> Result<Option<i32>, DbErr> {
    let scope = Scoped::new(conn, tenant.id);
    let claimed = scope
        .update_many::<invitation::Entity>()
        .col_expr(
            invitation::Column::SecurityCodeFailures,
            Expr::col(invitation::Column::SecurityCodeFailures).add(1),
        )
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::UsedAt.is_null())
        .filter(invitation::Column::SecurityCodeFailures.lt(MAX_SECURITY_CODE_FAILURES))
        .exec(conn)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(None);
    }
    let failures = scope
        .find_by_id::<invitation::Entity>(invitation_id)
        .await?
        .map_or(MAX_SECURITY_CODE_FAILURES, |row| row.security_code_failures);
    Ok(Some(failures))
}

/// Gives back the attempt that [`claim_code_attempt`] counted, after the code proved correct.
pub async fn release_code_attempt<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    invitation_id: i64,
) -> Result<(), DbErr> {
    Scoped::new(conn, tenant.id)
        .update_many::<invitation::Entity>()
        .col_expr(
            invitation::Column::SecurityCodeFailures,
            Expr::col(invitation::Column::SecurityCodeFailures).sub(1),
        )
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::SecurityCodeFailures.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_code_matches_after_trimming() {
        assert!(security_code_matches("  DEMO-1234 ", "DEMO-1234"));
    }

    #[test]
    fn security_code_is_case_sensitive() {
        assert!(!security_code_matches("demo-1234", "DEMO-1234"));
    }

    #[test]
    fn security_code_rejects_prefix() {
        assert!(!security_code_matches("DEMO-123", "DEMO-1234"));
        assert!(!security_code_matches("", "DEMO-1234"));
    }
}
