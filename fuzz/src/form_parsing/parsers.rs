//! The public parsers that check the values typed into forms: usernames, customer numbers,
//! slugs, the password policy, tokens, languages, dates and email addresses.

use chrono::Datelike;
use mep24web_employee_import::{is_valid_email, parse_date};
use mep24web_platform::i18n::Locale;
use mep24web_platform::passwords::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, PasswordProblem, check_new_password,
};
use mep24web_platform::tokens;
use mep24web_platform::username::{Username, key_of};
use mep24web_tenancy::{CustomerNumber, HostKind, Slug, classify_host, normalize_host};
use unicode_normalization::UnicodeNormalization;

/// Base domains that a parsed slug must form a tenant host under.
const BASE_DOMAINS: [&str; 2] = ["localhost", "mep24web.de"];

/// Runs every parser on `text`, and the password policy on the three texts together.
pub fn check_all(text: &str, repeated: &str, username: &str) {
    check_username(text);
    check_customer_number(text);
    check_slug(text);
    check_password(text, repeated, username);
    check_password(text, text, username);
    check_token(text);
    check_language(text);
    check_date(text);
    check_email(text);
}

/// Checks that a username that parses is what the login looks up: typing it again, with
/// surrounding spaces or in its lower-case key form, finds the same account.
pub fn check_username(text: &str) {
    let key = key_of(text);
    let Ok(username) = Username::parse(text) else {
        return;
    };

    let display = username.as_str();
    let length = display.chars().count();
    assert!(
        (3..=64).contains(&length),
        "username {display:?} of {length} characters accepted"
    );
    assert_eq!(
        display.trim(),
        display,
        "username {display:?} is not trimmed"
    );
    assert!(
        display.nfc().eq(display.chars()),
        "username {display:?} is not in NFC"
    );
    assert!(
        display
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@')),
        "username {display:?} with a forbidden character accepted"
    );

    assert_eq!(
        username.key(),
        key,
        "registering {text:?} stores another key than logging in with it looks up"
    );
    assert_eq!(
        Username::parse(display).as_ref(),
        Ok(&username),
        "username {display:?} does not parse as itself"
    );
    assert_eq!(
        key_of(&format!(" \t{display} ")),
        key,
        "surrounding spaces change the key of {display:?}"
    );
    assert_eq!(
        key_of(&key),
        key,
        "typing the key {key:?} of {display:?} looks up another key"
    );
}

/// Checks that a customer number that parses is in range and is exactly the digits typed.
pub fn check_customer_number(text: &str) {
    let Ok(number) = CustomerNumber::parse(text) else {
        return;
    };
    assert!(
        (1..=999_999_999).contains(&number.get()),
        "customer number {number} out of range accepted from {text:?}"
    );
    let digits: String = text.trim().chars().filter(|c| *c != ' ').collect();
    assert_eq!(
        digits,
        number.to_string(),
        "customer number {number} read from {text:?}"
    );
    assert_eq!(
        CustomerNumber::parse(&number.to_string()),
        Ok(number),
        "customer number {number} does not parse as itself"
    );
}

/// Checks that a slug that parses is a canonical host label and that `<slug>.<base domain>` is
/// its tenant host.
pub fn check_slug(text: &str) {
    let Ok(slug) = Slug::parse(text) else {
        return;
    };
    let value = slug.as_str();
    assert!(
        (3..=63).contains(&value.len()),
        "slug {value:?} of {} characters accepted",
        value.len()
    );
    assert_eq!(
        value,
        text.trim().to_ascii_lowercase(),
        "slug {value:?} read from {text:?}"
    );
    assert_eq!(
        Slug::parse(value).as_ref(),
        Ok(&slug),
        "slug {value:?} does not parse as itself"
    );
    assert_eq!(
        normalize_host(value).as_deref(),
        Ok(value),
        "slug {value:?} is not a normalized host label"
    );
    for base in BASE_DOMAINS {
        let host = format!("{value}.{base}");
        assert_eq!(
            classify_host(&host, base),
            HostKind::Tenant(slug.clone()),
            "{host:?} does not reach the tenant {value:?}"
        );
    }
}

/// Checks that an accepted password keeps every rule, and that a mismatch is reported only for
/// a password that would otherwise be accepted.
pub fn check_password(password: &str, repeated: &str, username: &str) {
    match check_new_password(password, repeated, username) {
        Ok(()) => {
            assert_eq!(password, repeated, "different repetition accepted");
            assert!(
                password.len() <= MAX_PASSWORD_BYTES,
                "password of {} bytes accepted",
                password.len()
            );
            assert!(
                password.chars().count() >= MIN_PASSWORD_CHARS,
                "password of {} characters accepted",
                password.chars().count()
            );
            let name = username.trim().to_lowercase();
            if name.chars().count() >= 3 {
                assert!(
                    !password.to_lowercase().contains(&name),
                    "password {password:?} containing the username {username:?} accepted"
                );
            }
        }
        Err(PasswordProblem::Mismatch) => assert_eq!(
            check_new_password(password, password, username),
            Ok(()),
            "mismatch reported for {password:?}, which has another problem"
        ),
        Err(_) => {}
    }
}

/// Checks that a text that passes the token shape check has the shape of a generated token.
pub fn check_token(text: &str) {
    if tokens::looks_valid(text) {
        assert_eq!(text.len(), 43, "token {text:?} of another length accepted");
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "token {text:?} with a character outside URL-safe base64 accepted"
        );
    }
    let hash = tokens::hash(text);
    assert_eq!(hash.len(), 64, "token hash {hash:?} is not 64 hex digits");
    assert!(
        hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "token hash {hash:?} is not hex"
    );
}

/// Checks that the language cookie and `Accept-Language` parsers return only supported
/// languages.
pub fn check_language(text: &str) {
    if let Some(locale) = Locale::parse(text) {
        assert_eq!(
            Locale::parse(locale.code()),
            Some(locale),
            "language code {} does not parse as itself",
            locale.code()
        );
    }
    let _ = Locale::from_accept_language(text);
}

/// Checks that a date that parses lies in 1900 to 2099 and reads back from both written forms.
pub fn check_date(text: &str) {
    let Some(date) = parse_date(text) else {
        return;
    };
    assert!(
        (1900..=2099).contains(&date.year()),
        "date {date} read from {text:?}"
    );
    for written in [
        date.format("%d.%m.%Y").to_string(),
        date.format("%Y-%m-%d").to_string(),
    ] {
        assert_eq!(
            parse_date(&written),
            Some(date),
            "{written:?} does not read back as {date}"
        );
    }
}

/// Checks that an accepted email address can go into a mail header: one `@`, no space or line
/// break.
pub fn check_email(text: &str) {
    if !is_valid_email(text) {
        return;
    }
    assert_eq!(
        text.matches('@').count(),
        1,
        "email {text:?} with several '@' accepted"
    );
    assert!(
        !text.chars().any(|c| c.is_whitespace() || c.is_control()),
        "email {text:?} with a space or control character accepted"
    );
    assert!(
        text.chars().count() <= 254,
        "email {text:?} longer than 254 characters accepted"
    );
}
