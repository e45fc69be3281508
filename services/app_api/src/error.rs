//! Errors of the app API: one JSON shape, `{ "code", "message_de", "message_en" }`, with a
//! stable `code` per failure that the app can switch on. The cause of an internal error goes to
//! the log once, here, and never into the body.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mep24web_platform::error::is_database_unavailable;
use mep24web_platform::i18n::{self, Locale};
use serde::Serialize;

/// A failure that ends an app API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Unknown customer number, suspended tenant or any credential failure: one body for all,
    /// so the response does not reveal which part was wrong. `server` is the address the app
    /// must use, shown in the message.
    #[error("login failed")]
    LoginFailed { server: String },
    /// Over a login attempt limit; checked before the password, so nothing was verified.
    #[error("login attempts over the limit")]
    RateLimited { retry_after_seconds: u64 },
    /// Password correct, but the planner has two-factor login and sent no `totp_code`.
    #[error("second factor required")]
    SecondFactorRequired,
    /// Password correct, but the tenant requires two-factor login and the planner has not set
    /// it up, which only the browser can do.
    #[error("second factor setup required")]
    SecondFactorSetupRequired,
    /// No `Authorization: Bearer` header.
    #[error("bearer token missing")]
    TokenMissing,
    /// Unknown, expired or revoked token, or an account or tenant that lost access.
    #[error("bearer token invalid")]
    TokenInvalid,
    /// Malformed JSON, wrong content type or missing fields.
    #[error("bad request")]
    BadRequest,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

/// The body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message_de: String,
    pub message_en: String,
}

impl ApiError {
    /// Returns the stable error code, which is also the last part of the message's locale key.
    pub fn code(&self) -> &'static str {
        match self {
            Self::LoginFailed { .. } => "login_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::SecondFactorRequired => "second_factor_required",
            Self::SecondFactorSetupRequired => "second_factor_setup_required",
            Self::TokenMissing => "token_missing",
            Self::TokenInvalid => "token_invalid",
            Self::BadRequest => "bad_request",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal(error) if is_database_unavailable(error) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::LoginFailed { .. }
            | Self::SecondFactorRequired
            | Self::TokenMissing
            | Self::TokenInvalid => StatusCode::UNAUTHORIZED,
            Self::SecondFactorSetupRequired => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            // The database is down or its pool exhausted: the call may succeed when repeated.
            Self::Internal(error) if is_database_unavailable(error) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Builds the body with the German and the English message.
    pub fn body(&self) -> ErrorBody {
        if let Self::RateLimited {
            retry_after_seconds,
        } = self
        {
            let seconds = retry_after_seconds.to_string();
            let message = |locale| {
                i18n::text_with(locale, "login_security.limit.app", &[("seconds", &seconds)])
            };
            return ErrorBody {
                code: self.code(),
                message_de: message(Locale::De),
                message_en: message(Locale::En),
            };
        }
        // The two-factor messages live with the other two-factor texts.
        let key = match self {
            Self::SecondFactorRequired | Self::SecondFactorSetupRequired => {
                format!("totp.api.{}", self.code())
            }
            _ => format!("app_api.errors.{}", self.code()),
        };
        let server = match self {
            Self::LoginFailed { server } => server.as_str(),
            _ => "",
        };
        let message = |locale| i18n::text_with(locale, &key, &[("server", server)]);
        ErrorBody {
            code: self.code(),
            message_de: message(Locale::De),
            message_en: message(Locale::En),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(error) if is_database_unavailable(error) => {
                mep24web_platform::error::log_unavailable(error);
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "app API request failed");
            }
            _ => {}
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // RFC 6750, section 3: a protected resource names the scheme it expects.
        match self {
            Self::TokenMissing => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TokenInvalid => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            Self::RateLimited {
                retry_after_seconds,
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            }
            _ => {}
        }
        response
    }
}

/// A JSON request body whose rejections (wrong content type, syntax error, missing field, body
/// too large) become a `bad_request` JSON error instead of axum's plain-text responses.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                tracing::debug!(status = %rejection.status(), "app API request body rejected");
                Err(ApiError::BadRequest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_both_messages() {
        let errors = [
            ApiError::LoginFailed {
                server: "mep24web.de".to_owned(),
            },
            ApiError::RateLimited {
                retry_after_seconds: 42,
            },
            ApiError::SecondFactorRequired,
            ApiError::SecondFactorSetupRequired,
            ApiError::TokenMissing,
            ApiError::TokenInvalid,
            ApiError::BadRequest,
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::Internal(anyhow::anyhow!("secret detail")),
            ApiError::from(sea_orm::DbErr::ConnectionAcquire(
                sea_orm::error::ConnAcquireErr::Timeout,
            )),
        ];
        for error in errors {
            let body = error.body();
            let key = format!("app_api.errors.{}", error.code());
            assert_ne!(body.message_de, key, "German text missing for {key}");
            assert_ne!(body.message_en, key, "English text missing for {key}");
            assert!(!body.message_de.contains("secret detail"));
        }
    }

    #[test]
    fn database_outage_is_unavailable() {
        let error = ApiError::from(sea_orm::DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        ));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code(), "unavailable");
    }

    #[test]
    fn login_failed_names_server() {
        let body = ApiError::LoginFailed {
            server: "mep24web.de".to_owned(),
        }
        .body();
        assert!(body.message_de.contains("mep24web.de"));
        assert!(body.message_en.contains("mep24web.de"));
        assert!(body.message_de.contains("MEP24Team-App"));
        assert!(!body.message_de.contains("{server}"));
    }
}
