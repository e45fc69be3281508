//! Received mails parsed for assertions: envelope, headers, text and HTML bodies, and the links
//! in the text body.

use mail_parser::{Address, MessageParser, PartType};

use crate::smtp::StoredMessage;

/// A mail as the test SMTP server received it, decoded.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`).
    pub envelope_from: String,
    /// Envelope recipients (`RCPT TO`), in the order the client sent them.
    pub recipients: Vec<String>,
    /// Addresses of the `From` header.
    pub from: Vec<String>,
    /// Addresses of the `To` header.
    pub to: Vec<String>,
    /// Addresses of the `Reply-To` header.
    pub reply_to: Vec<String>,
    pub subject: String,
    /// The first text/plain part, decoded; empty when there is none.
    pub text: String,
    /// The first text/html part, decoded; empty when there is none.
    pub html: String,
    /// Every http:// and https:// URL in the text body, in order of appearance.
    pub links: Vec<String>,
    /// The message as received, after dot-stuffing was removed.
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    /// Decodes a stored message; a message that mail-parser cannot read keeps only its envelope
    /// and raw bytes.
    pub fn parse(stored: &StoredMessage) -> Self {
        let mut mail = Self {
            envelope_from: stored.mail_from.clone(),
            recipients: stored.recipients.clone(),
            from: Vec::new(),
            to: Vec::new(),
            reply_to: Vec::new(),
            subject: String::new(),
            text: String::new(),
            html: String::new(),
            links: Vec::new(),
            raw: stored.data.clone(),
        };

        let Some(message) = MessageParser::default().parse(&stored.data) else {
            return mail;
        };
        mail.from = addresses(message.from());
        mail.to = addresses(message.to());
        mail.reply_to = addresses(message.reply_to());
        mail.subject = message.subject().unwrap_or_default().to_owned();

        // mail-parser converts between text and HTML when a mail lacks one of them. Only a part of
        // the matching type is kept, so a test checks the bodies that the application sent.
        let first_part = |ids: &[u32]| ids.first().and_then(|id| message.parts.get(*id as usize));
        if let Some(PartType::Text(text)) = first_part(&message.text_body).map(|part| &part.body) {
            mail.text = text.to_string();
        }
        if let Some(PartType::Html(html)) = first_part(&message.html_body).map(|part| &part.body) {
            mail.html = html.to_string();
        }
        mail.links = find_links(&mail.text);
        mail
    }

    /// Returns true when `address` is one of the envelope recipients, compared without case.
    pub fn is_for(&self, address: &str) -> bool {
        self.recipients
            .iter()
            .any(|recipient| recipient.eq_ignore_ascii_case(address))
    }

    /// Returns the only link that starts with `prefix`, and panics when there is none or more
    /// than one.
    pub fn link_starting_with(&self, prefix: &str) -> String {
        let matching: Vec<&String> = self
            .links
            .iter()
            .filter(|link| link.starts_with(prefix))
            .collect();
        match matching.as_slice() {
            [link] => (*link).clone(),
            _ => panic!(
                "expected exactly one link starting with {prefix} in the mail {:?}, found {:?}",
                self.subject, self.links
            ),
        }
    }
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address
        .map(|address| {
            address
                .iter()
                .filter_map(|addr| addr.address())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Finds http:// and https:// URLs in plain text. A URL ends at whitespace, a quote or an angle
/// bracket, and trailing sentence punctuation such as `.` or `)` is not part of it.
pub fn find_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(start) = next_link_start(rest) {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(candidate.len());
        let link = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}']);
        if link.len() > "https://".len() {
            links.push(link.to_owned());
        }
        rest = &candidate[end..];
    }
    links
}

fn next_link_start(text: &str) -> Option<usize> {
    let http = text.find("http://");
    let https = text.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_links_strips_punctuation() {
        let text = "Öffnen Sie http://acme.localhost:8080/setup/abc123.\n\
                    Oder (https://example.com/a?b=c), dann <http://x.localhost/y>.";
        assert_eq!(
            find_links(text),
            [
                "http://acme.localhost:8080/setup/abc123",
                "https://example.com/a?b=c",
                "http://x.localhost/y",
            ]
        );
    }

    #[test]
    fn find_links_ignores_bare_scheme() {
        assert_eq!(
            find_links("see http:// and https://."),
            Vec::<String>::new()
        );
        assert_eq!(find_links("no links here"), Vec::<String>::new());
    }

    #[test]
    fn parse_decodes_multipart_alternative() {
        let raw = "From: MEP24web <noreply@localhost>\r\n\
                   To: anna@example.com\r\n\
                   Subject: =?utf-8?q?Einladung_f=C3=BCr_Anna?=\r\n\
                   MIME-Version: 1.0\r\n\
                   Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
                   \r\n\
                   --b1\r\n\
                   Content-Type: text/plain; charset=utf-8\r\n\
                   Content-Transfer-Encoding: quoted-printable\r\n\
                   \r\n\
                   Gr=C3=BC=C3=9Fe: http://acme.localhost:1234/register/tok=\r\n\
                   en\r\n\
                   --b1\r\n\
                   Content-Type: text/html; charset=utf-8\r\n\
                   \r\n\
                   <p>Hallo</p>\r\n\
                   --b1--\r\n";
        let stored = StoredMessage {
            mail_from: "noreply@localhost".to_owned(),
            recipients: vec!["anna@example.com".to_owned()],
            data: raw.as_bytes().to_vec(),
        };

        let mail = ReceivedMail::parse(&stored);

        assert_eq!(mail.subject, "Einladung für Anna");
        assert_eq!(mail.from, ["noreply@localhost"]);
        assert_eq!(mail.to, ["anna@example.com"]);
        assert_eq!(
            mail.text.trim_end(),
            "Grüße: http://acme.localhost:1234/register/token"
        );
        assert_eq!(mail.html.trim_end(), "<p>Hallo</p>");
        assert_eq!(mail.links, ["http://acme.localhost:1234/register/token"]);
        assert!(mail.is_for("Anna@Example.com"));
        assert_eq!(
            mail.link_starting_with("http://acme.localhost:1234/register/"),
            "http://acme.localhost:1234/register/token"
        );
    }
}
