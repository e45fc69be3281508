//! The bearer-token extractor of the app API.
//!
//! App requests arrive on the apex host, so the host names no tenant. The token does: its
//! session is found by hash across tenants, and is then checked again through
//! [`sessions::authenticate`] for that tenant. That check ends the token as soon as the account
//! is deactivated, the employee has departed or the tenant is suspended. Only the
//! `Authorization` header is read, never the session cookie, and only sessions of kind `app`
//! count, so a web session token is rejected here.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use mep24web_entities::tenant;
use mep24web_platform::sessions::{
    self, Authenticated, SessionId, SessionKind, SessionStore, StoredSession,
};
use mep24web_platform::{AppState, tokens};
use mep24web_tenancy::resolver::context_of;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::error::ApiError;

/// An app token from `Authorization: Bearer`, valid for its tenant and account.
pub struct AppToken {
    pub signed_in: Authenticated,
    /// The token as sent, kept so logout can revoke exactly this one.
    pub token: String,
}

impl<S> FromRequestParts<S> for AppToken
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let token = bearer_token(&parts.headers).ok_or(ApiError::TokenMissing)?;
        if !tokens::looks_valid(token) {
            return Err(ApiError::TokenInvalid);
        }
        let Some(row) = unscoped_find_app_session(&app.sessions, &app.db, token).await? else {
            return Err(ApiError::TokenInvalid);
        };
        let Some(tenant) = unscoped_find_tenant(&app.db, row.tenant_id.get()).await? else {
            return Err(ApiError::TokenInvalid);
        };
        let tenant = context_of(&tenant, &app.urls);
        match sessions::authenticate(&app.sessions, &app.db, &tenant, token, SessionKind::App)
            .await?
        {
            Ok(signed_in) => Ok(Self {
                signed_in,
                token: token.to_owned(),
            }),
            Err(rejection) => {
                tracing::info!(
                    tenant_id = %tenant.id,
                    account_id = row.account_id,
                    ?rejection,
                    suspended = tenant.suspended,
                    "app token rejected"
                );
                Err(ApiError::TokenInvalid)
            }
        }
    }
}

/// Returns the token of an `Authorization: Bearer <token>` header. The scheme name is
/// case-insensitive (RFC 7235, section 2.1).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Finds an app session by its token hash, across all tenants. The caller must check it against
/// the tenant it names before trusting it.
pub(crate) async fn unscoped_find_app_session<C: ConnectionTrait>(
    store: &SessionStore,
    conn: &C,
    token: &str,
) -> Result<Option<StoredSession>, DbErr> {
    let session = store.find(conn, None, &SessionId::of_token(token)).await?;
    Ok(session.filter(|session| session.kind == SessionKind::App))
}

/// Finds a tenant by its database id, across all tenants.
async fn unscoped_find_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: i64,
) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find_by_id(tenant_id).one(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn bearer_token_reads_scheme_case_insensitively() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Some("abc"));
    }

    #[test]
    fn bearer_token_ignores_other_schemes() {
        assert_eq!(bearer_token(&headers("Basic dXNlcjpwdw==")), None);
        assert_eq!(bearer_token(&headers("Bearer")), None);
        assert_eq!(bearer_token(&headers("Bearer   ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
