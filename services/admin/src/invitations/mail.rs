//! The invitation mail in the employee's language, as plain text and HTML.

use chrono::{DateTime, Utc};
use mep24web_entities::employee;
use mep24web_platform::TenantContext;
use mep24web_platform::i18n::{self, Locale};
use mep24web_platform::mail::OutgoingMail;
use mep24web_platform::templates;
use mep24web_platform::urls::PublicUrls;

/// The values that all invitations of one sending run share.
pub struct InvitationLetter<'a> {
    pub tenant: &'a TenantContext,
    pub urls: &'a PublicUrls,
    /// Display name of the planner who sends the invitations.
    pub inviter: &'a str,
    pub reply_to: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl InvitationLetter<'_> {
    /// Returns the tenant's URL without a trailing slash. It is built from the tenant's stored
    /// primary host and never from the request's `Host` header, so the links point at the
    /// access link even when the planner works under another host of the tenant.
    fn base_url(&self) -> String {
        self.urls.host_url(&self.tenant.primary_host)
    }

    /// Renders the mail to one employee, addressed as stored in the employee record.
    pub fn render(
        &self,
        employee: &employee::Model,
        recipient: &str,
        token: &str,
    ) -> Result<OutgoingMail, minijinja::Error> {
        let locale = Locale::parse(&employee.language).unwrap_or_default();
        let base_url = self.base_url();
        let valid_until = super::format_local(
            self.expires_at,
            self.tenant,
            &i18n::text(locale, "mail.invitation.datetime_format"),
        );
        let context = minijinja::context! {
            company => self.tenant.name,
            inviter => self.inviter,
            name => format!("{} {}", employee.first_name, employee.last_name),
            register_link => format!("{base_url}/register/{token}"),
            access_link => format!("{base_url}/"),
            valid_until => valid_until,
            customer_number => self.tenant.customer_number,
            server => self.urls.base_domain,
        };
        Ok(OutgoingMail {
            recipient: recipient.to_owned(),
            reply_to: self.reply_to.clone(),
            subject: i18n::text_with(
                locale,
                "mail.invitation.subject",
                &[("company", &self.tenant.name)],
            ),
            body_text: templates::render_in(locale, "mail/invitation.txt", context.clone())?,
            body_html: templates::render_in(locale, "mail/invitation.html", context)?,
        })
    }
}
