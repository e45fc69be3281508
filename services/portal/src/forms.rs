//! Form parsing, inline form errors, notices and page responses shared by the portal's handlers.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mep24web_platform::i18n;
use mep24web_platform::passwords::PasswordProblem;
use mep24web_platform::{Error, templates};
use serde::de::DeserializeOwned;

/// The locale key of the error page for a body that is not a readable form.
const BAD_FORM: &str = "errors.bad_form";

/// An `application/x-www-form-urlencoded` body parsed into `T`.
///
/// A body with another content type or one that does not parse gets the localized "bad form"
/// error page (400) instead of axum's plain-text rejection. Form structs use `String` fields with
/// `#[serde(default)]`, so a missing field parses as empty and is reported next to its input.
pub struct Form<T>(pub T);

impl<S, T> FromRequest<S> for Form<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(Error::BadRequest(BAD_FORM));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| Error::BadRequest(BAD_FORM))?;
        if contains_nul(&body) {
            return Err(Error::BadRequest(BAD_FORM));
        }
        serde_urlencoded::from_bytes(&body)
            .map(Self)
            .map_err(|_| Error::BadRequest(BAD_FORM))
    }
}

/// Returns true when a form body decodes to text with a NUL character, raw or as `%00`. No
/// field may contain one, and PostgreSQL rejects it in any text value with an error.
fn contains_nul(body: &[u8]) -> bool {
    body.contains(&0) || body.windows(3).any(|window| window == b"%00")
}

/// Inline error texts by field name, in the request's locale. The first error of a field wins.
#[derive(Default)]
pub struct FormErrors(BTreeMap<&'static str, String>);

impl FormErrors {
    /// Adds the text of a locale key to a field, unless the field already has an error.
    pub fn add(&mut self, field: &'static str, key: &str) {
        self.add_with(field, key, &[]);
    }

    /// Adds the text of a locale key with `{name}` placeholders replaced.
    pub fn add_with(&mut self, field: &'static str, key: &str, args: &[(&str, &str)]) {
        self.0
            .entry(field)
            .or_insert_with(|| i18n::text_with(i18n::current_locale(), key, args));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Converts the errors into the `errors` value that the `field` macro reads.
    pub fn to_value(&self) -> minijinja::Value {
        minijinja::Value::from_serialize(&self.0)
    }
}

/// Renders a page template with a status. Portal pages are personal, so the response forbids
/// caching.
pub fn page(status: StatusCode, name: &str, context: minijinja::Value) -> Result<Response, Error> {
    let body = templates::page(name, context)?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")], body).into_response())
}

/// Returns the text of a notice named in a `?notice=` query parameter. An unknown name returns
/// `None`, so the parameter cannot put arbitrary text on a page.
pub fn notice_text(name: Option<&str>) -> Option<String> {
    let key = match name? {
        "registered" => "portal.notice.registered",
        "logged_out" => "portal.notice.logged_out",
        "password_changed" => "portal.notice.password_changed",
        "password_reset" => "login_security.reset.done",
        "second_factor_expired" => "totp.login.expired",
        "second_factor_locked" => "totp.login.locked",
        _ => return None,
    };
    Some(i18n::text(i18n::current_locale(), key))
}

/// Query string of pages that show a notice after a redirect.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

/// Returns the form field a password policy problem belongs to: a mismatch is shown at the
/// repetition, every other problem at the new password.
pub fn password_field(
    problem: PasswordProblem,
    password: &'static str,
    repeat: &'static str,
) -> &'static str {
    match problem {
        PasswordProblem::Mismatch => repeat,
        _ => password,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_nul_finds_raw_and_encoded() {
        assert!(contains_nul(b"username=anna\0&password=x"));
        assert!(contains_nul(b"username=anna%00&password=x"));
        assert!(!contains_nul(b"username=anna%2500&password=x%20100"));
    }
}
