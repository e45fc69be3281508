//! Usernames: unique per tenant across planners and employees, compared case-insensitively after
//! Unicode NFC normalization.

use unicode_normalization::UnicodeNormalization;

/// A validated username together with its comparison key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username {
    display: String,
    key: String,
}

/// Reason a username was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUsername {
    #[error("username is shorter than 3 characters")]
    TooShort,
    #[error("username is longer than 64 characters")]
    TooLong,
    #[error("username contains a character other than letters, digits, '.', '-', '_' or '@'")]
    InvalidCharacter,
}

impl InvalidUsername {
    /// Returns the locale key of the message shown to users.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::TooShort => "errors.username_too_short",
            Self::TooLong => "errors.username_too_long",
            Self::InvalidCharacter => "errors.username_invalid_character",
        }
    }
}

impl Username {
    /// Parses a username typed by a person: trimmed, NFC-normalized, 3 to 64 characters of
    /// letters, digits, `.`, `-`, `_` and `@`.
    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        let display: String = raw.trim().nfc().collect();
        let length = display.chars().count();
        if length < 3 {
            return Err(InvalidUsername::TooShort);
        }
        if length > 64 {
            return Err(InvalidUsername::TooLong);
        }
        if !display
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        {
            return Err(InvalidUsername::InvalidCharacter);
        }
        let key = key_of(&display);
        Ok(Self { display, key })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// Returns the comparison key stored in `accounts.username_key`.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Returns the comparison key of any text, valid username or not, for lookups at login.
///
/// Text with a control character inside returns an empty key. No username contains one, so
/// callers skip the lookup for an empty key, and PostgreSQL would reject a NUL in the query with
/// an error. Surrounding whitespace such as a pasted tab is trimmed first, as for every key.
pub fn key_of(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.contains(char::is_control) {
        return String::new();
    }
    trimmed
        .nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_compares_case_insensitively() {
        let a = Username::parse("Jürgen.Weiß").unwrap();
        let b = Username::parse("JÜRGEN.WEISS").unwrap();
        assert_eq!(a.key(), "jürgen.weiß");
        assert_eq!(b.key(), "jürgen.weiss");
        assert_eq!(a.as_str(), "Jürgen.Weiß");
    }

    #[test]
    fn parse_normalizes_to_nfc() {
        let decomposed = Username::parse("Ju\u{0308}rgen").unwrap();
        let composed = Username::parse("Jürgen").unwrap();
        assert_eq!(decomposed.key(), composed.key());
    }

    #[test]
    fn key_of_control_characters_is_empty() {
        assert_eq!(key_of("anna\0"), "");
        assert_eq!(key_of("an\u{1b}na"), "");
        assert_eq!(key_of(" Anna\t"), "anna");
    }

    #[test]
    fn parse_rejects_bad_input() {
        assert_eq!(Username::parse(" ab "), Err(InvalidUsername::TooShort));
        assert_eq!(
            Username::parse(&"a".repeat(65)),
            Err(InvalidUsername::TooLong)
        );
        assert_eq!(
            Username::parse("max mustermann"),
            Err(InvalidUsername::InvalidCharacter)
        );
        assert_eq!(
            Username::parse("max<script>"),
            Err(InvalidUsername::InvalidCharacter)
        );
    }
}
