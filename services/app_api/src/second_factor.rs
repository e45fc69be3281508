//! The second factor of an app login for planners with two-factor login.
//!
//! The app sends the code of the authenticator app, or a recovery code, as `totp_code` in the
//! login body. Without it the API returns `second_factor_required`, so the app can ask for the
//! code and send the login again. A wrong code returns the generic `login_failed` and counts
//! towards the account's lockout. A planner whose tenant requires two-factor login but who has
//! not set it up gets `second_factor_setup_required`: the setup needs the browser.

use mep24web_entities::account;
use mep24web_platform::totp::check;
use mep24web_platform::{AppState, TenantContext, login, totp};

use crate::error::ApiError;

/// Checks the second factor after a correct password. Returns `Ok(())` when the login may go
/// on: the account needs no second factor, or `totp_code` is correct (the login is then
/// recorded as complete).
pub(crate) async fn check_login(
    state: &AppState,
    tenant: &TenantContext,
    account: &account::Model,
    totp_code: Option<&str>,
) -> Result<(), ApiError> {
    if !totp::account::is_required_at_login(&state.db, tenant.id, account).await? {
        if totp::account::setup_required(&state.db, tenant.id, account).await? {
            tracing::info!(
                tenant_id = %tenant.id,
                account_id = account.id,
                "app login rejected: two-factor setup required"
            );
            return Err(ApiError::SecondFactorSetupRequired);
        }
        return Ok(());
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
            Ok(())
        }
        Err(rejection) => {
            tracing::info!(
                tenant_id = %tenant.id,
                account_id = account.id,
                reason = rejection.as_str(),
                "app login failed"
            );
            Err(ApiError::LoginFailed {
                server: state.urls.base_domain.clone(),
            })
        }
    }
}
