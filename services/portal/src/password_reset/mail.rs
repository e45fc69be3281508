//! The reset mail, in the account's language, with the link built from the tenant's primary
//! host rather than the host of the request.

use mep24web_entities::account;
use mep24web_platform::i18n::{self, Locale};
use mep24web_platform::mail::OutgoingMail;
use mep24web_platform::{AppState, TenantContext, templates};

/// Renders the mail that carries the reset link for `token`.
pub(super) fn render(
    state: &AppState,
    tenant: &TenantContext,
    account: &account::Model,
    recipient: &str,
    token: &str,
) -> Result<OutgoingMail, minijinja::Error> {
    let locale = Locale::parse(&account.language).unwrap_or_default();
    let host_url = state.urls.host_url(&tenant.primary_host);
    let context = minijinja::context! {
        name => account.display_name,
        username => account.username,
        company => tenant.name,
        reset_link => format!("{host_url}/reset/{token}"),
        access_link => format!("{host_url}/"),
    };
    Ok(OutgoingMail {
        recipient: recipient.to_owned(),
        reply_to: None,
        subject: i18n::text_with(
            locale,
            "login_security.mail.subject",
            &[("company", tenant.name.as_str())],
        ),
        body_text: templates::render_in(locale, "login_security/reset_mail.txt", context.clone())?,
        body_html: templates::render_in(locale, "login_security/reset_mail.html", context)?,
    })
}
