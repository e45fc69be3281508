//! The second factor of an app login for planners with two-factor login.
//!
//! The app sends the code of the authenticator app, or a recovery code, as `totp_code` in the
//! login body. Without it the API returns `second_factor_required`, so the app can ask for the
//! code and send the login again. A wrong code returns the generic `login_failed`, counts
//! towards the account's lockout and is recorded in the audit log. A planner whose tenant requires two-factor login but who has
//! not set it up gets `second_factor_setup_required`: the setup needs the browser.

use std::net::IpAddr;

use mep24web_entities::account;
use mep24web_platform::totp::check;
use mep24web_platform::{AppState, TenantContext, audit, login, totp};

use crate::error::ApiError;

/// Checks the second factor after a correct password. Returns the method of the login when it
/// may go on: `password` when the account needs no second factor, else the kind of the correct
/// `totp_code` (the login is then recorded as complete). A rejected code is recorded as a failed
/// login from `source_ip`.
pub(crate) async fn check_login(
    state: &AppState,
    tenant: &TenantContext,
    account: &account::Model,
    totp_code: Option<&str>,
    source_ip: IpAddr,
) -> Result<&'static str, ApiError> {
    if !totp::account::is_required_at_login(&state.db, tenant.id, account).await? {
        if totp::account::setup_required(&state.db, tenant.id, account).await? {
            tracing::info!(
                tenant_id = %tenant.id,
                account_id = account.id,
                "app login rejected: two-factor setup required"
            );
            return Err(ApiError::SecondFactorSetupRequired);
        }
        return Ok("password");
    }
    let Some(code) = totp_code.filter(|code| !code.trim().is_empty()) else {
        tracing::info!(
            tenant_id = %tenant.id,
            account_id = account.id,
            "app login waits for the second factor"
        );
        return Err(ApiError::SecondFactorRequired);
    };
    match check::check(&state.db, tenant, account, code).await? {
        Ok(method) => {
            login::record_success(&state.db, tenant, account.id).await?;
            tracing::info!(
                tenant_id = %tenant.id,
                account_id = account.id,
                second_factor = method.as_str(),
                "app login second factor accepted"
            );
            Ok(method.as_str())
        }
        Err(rejection) => {
            tracing::info!(
                tenant_id = %tenant.id,
                account_id = account.id,
                reason = rejection.as_str(),
                "app login failed"
            );
            audit::record_second_factor_failure(&state.db, account, source_ip, rejection.as_str())
                .await?;
            Err(ApiError::LoginFailed {
                server: state.urls.base_domain.clone(),
            })
        }
    }
}
