//! Tenant slugs: the subdomain label that names a tenant, as in `baeckerei-mueller.<base domain>`.
//!
//! A slug is stricter than a DNS label. It must start with a letter, so it never looks like an IP
//! address or a number, and it never contains `--`, so it cannot be a punycode label (`xn--`) and
//! cannot be confused with one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Minimum length of a slug in characters.
pub const MIN_SLUG_LEN: usize = 3;

/// Maximum length of a slug in characters, the DNS limit for one label.
pub const MAX_SLUG_LEN: usize = 63;

/// Slugs that no tenant may take, because the platform uses or may later use them as its own
/// subdomains.
pub const RESERVED_SLUGS: &[&str] = &[
    "www", "api", "app", "admin", "mail", "smtp", "static", "assets", "status", "docs", "help",
    "support", "login", "operator", "mep24web",
];

/// A validated tenant slug: 3 to 63 characters of `a-z`, `0-9` and `-`, starting with a letter.
///
/// Serializes as a plain string. Deserializing applies [`Slug::parse`], so an invalid or reserved
/// slug fails to deserialize.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Slug(String);

/// Reason why a string is not a valid slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSlug {
    #[error("slug is empty")]
    Empty,

    #[error("slug contains the invalid character {character:?}; only a-z, 0-9 and '-' are allowed")]
    InvalidCharacter { character: char },

    #[error("slug is too short: {length} characters, at least {MIN_SLUG_LEN} are required")]
    TooShort { length: usize },

    #[error("slug is too long: {length} characters, at most {MAX_SLUG_LEN} are allowed")]
    TooLong { length: usize },

    #[error("slug must start with a letter a-z, not {first:?}")]
    InvalidStart { first: char },

    #[error("slug must not end with a hyphen")]
    TrailingHyphen,

    #[error("slug must not start with 'xn--', which marks a punycode label")]
    Punycode,

    #[error("slug must not contain two hyphens in a row")]
    ConsecutiveHyphens,

    #[error("slug '{slug}' is reserved for the platform, choose another one")]
    Reserved { slug: String },
}

impl Slug {
    /// Parses a slug after trimming surrounding whitespace and lower-casing ASCII letters.
    ///
    /// Only ASCII letters are lower-cased. Full Unicode lower-casing would turn the Kelvin sign
    /// U+212A into `k` and so accept a slug that does not look like what the user typed.
    pub fn parse(input: &str) -> Result<Slug, InvalidSlug> {
        let slug = input.trim().to_ascii_lowercase();

        if slug.is_empty() {
            return Err(InvalidSlug::Empty);
        }

        if let Some(character) = slug
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(InvalidSlug::InvalidCharacter { character });
        }

        // All characters are ASCII from here on, so the byte length is the character count.
        let length = slug.len();
        if length < MIN_SLUG_LEN {
            return Err(InvalidSlug::TooShort { length });
        }
        if length > MAX_SLUG_LEN {
            return Err(InvalidSlug::TooLong { length });
        }

        if let Some(first) = slug.chars().next()
            && !first.is_ascii_lowercase()
        {
            return Err(InvalidSlug::InvalidStart { first });
        }
        if slug.ends_with('-') {
            return Err(InvalidSlug::TrailingHyphen);
        }
        if slug.starts_with("xn--") {
            return Err(InvalidSlug::Punycode);
        }
        if slug.contains("--") {
            return Err(InvalidSlug::ConsecutiveHyphens);
        }

        if RESERVED_SLUGS.contains(&slug.as_str()) {
            return Err(InvalidSlug::Reserved { slug });
        }

        Ok(Slug(slug))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Slug {
    type Err = InvalidSlug;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slug::parse(s)
    }
}

impl TryFrom<String> for Slug {
    type Error = InvalidSlug;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Slug::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> Self {
        slug.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Result<String, InvalidSlug> {
        Slug::parse(input).map(Slug::into_string)
    }

    #[test]
    fn parse_accepts_simple_slug() {
        assert_eq!(
            parsed("baeckerei-mueller"),
            Ok("baeckerei-mueller".to_owned())
        );
        assert_eq!(parsed("abc"), Ok("abc".to_owned()));
        assert_eq!(parsed("a1b2"), Ok("a1b2".to_owned()));
    }

    #[test]
    fn parse_trims_and_lowercases() {
        assert_eq!(
            parsed("  Baeckerei-Mueller\t\n"),
            Ok("baeckerei-mueller".to_owned())
        );
        assert_eq!(parsed("ABC"), Ok("abc".to_owned()));
    }

    #[test]
    fn parse_rejects_empty() {
        assert_eq!(parsed(""), Err(InvalidSlug::Empty));
        assert_eq!(parsed("   "), Err(InvalidSlug::Empty));
    }

    #[test]
    fn parse_rejects_too_short() {
        assert_eq!(parsed("ab"), Err(InvalidSlug::TooShort { length: 2 }));
        assert_eq!(parsed("a"), Err(InvalidSlug::TooShort { length: 1 }));
    }

    #[test]
    fn parse_length_limits() {
        let max = "a".repeat(63);
        assert_eq!(parsed(&max), Ok(max.clone()));

        let over = "a".repeat(64);
        assert_eq!(parsed(&over), Err(InvalidSlug::TooLong { length: 64 }));

        let huge = "a".repeat(100_000);
        assert_eq!(parsed(&huge), Err(InvalidSlug::TooLong { length: 100_000 }));
    }

    #[test]
    fn parse_rejects_invalid_characters() {
        let cases = [
            ("abc_def", '_'),
            ("abc def", ' '),
            ("abc.def", '.'),
            ("bäckerei", 'ä'),
            ("abc/def", '/'),
            ("abc\0def", '\0'),
            ("abc@def", '@'),
        ];
        for (input, character) in cases {
            assert_eq!(
                parsed(input),
                Err(InvalidSlug::InvalidCharacter { character }),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn parse_rejects_kelvin_sign() {
        // U+212A lower-cases to ASCII 'k' under full Unicode rules.
        assert_eq!(
            parsed("\u{212A}abc"),
            Err(InvalidSlug::InvalidCharacter {
                character: '\u{212A}'
            })
        );
    }

    #[test]
    fn parse_requires_leading_letter() {
        assert_eq!(
            parsed("1abc"),
            Err(InvalidSlug::InvalidStart { first: '1' })
        );
        assert_eq!(
            parsed("-abc"),
            Err(InvalidSlug::InvalidStart { first: '-' })
        );
    }

    #[test]
    fn parse_rejects_trailing_hyphen() {
        assert_eq!(parsed("abc-"), Err(InvalidSlug::TrailingHyphen));
    }

    #[test]
    fn parse_rejects_double_hyphen() {
        assert_eq!(parsed("abc--def"), Err(InvalidSlug::ConsecutiveHyphens));
        assert_eq!(parsed("ab---c"), Err(InvalidSlug::ConsecutiveHyphens));
    }

    #[test]
    fn parse_rejects_punycode() {
        assert_eq!(parsed("xn--bckerei-5wa"), Err(InvalidSlug::Punycode));
        assert_eq!(parsed("XN--bckerei-5wa"), Err(InvalidSlug::Punycode));
    }

    #[test]
    fn parse_rejects_reserved() {
        for reserved in RESERVED_SLUGS {
            assert_eq!(
                parsed(reserved),
                Err(InvalidSlug::Reserved {
                    slug: (*reserved).to_owned()
                }),
                "slug {reserved:?}"
            );
        }
        assert_eq!(
            parsed(" Admin "),
            Err(InvalidSlug::Reserved {
                slug: "admin".to_owned()
            })
        );
    }

    #[test]
    fn parse_accepts_reserved_prefix() {
        assert_eq!(parsed("www2"), Ok("www2".to_owned()));
        assert_eq!(parsed("admin-team"), Ok("admin-team".to_owned()));
    }

    #[test]
    fn reserved_list_is_exact() {
        assert_eq!(
            RESERVED_SLUGS,
            &[
                "www", "api", "app", "admin", "mail", "smtp", "static", "assets", "status", "docs",
                "help", "support", "login", "operator", "mep24web",
            ]
        );
    }

    #[test]
    fn error_messages_are_english() {
        assert_eq!(
            InvalidSlug::TooShort { length: 2 }.to_string(),
            "slug is too short: 2 characters, at least 3 are required"
        );
        assert_eq!(
            InvalidSlug::TooLong { length: 64 }.to_string(),
            "slug is too long: 64 characters, at most 63 are allowed"
        );
        assert_eq!(
            InvalidSlug::InvalidCharacter { character: '_' }.to_string(),
            "slug contains the invalid character '_'; only a-z, 0-9 and '-' are allowed"
        );
        assert_eq!(
            InvalidSlug::InvalidStart { first: '1' }.to_string(),
            "slug must start with a letter a-z, not '1'"
        );
        assert_eq!(
            InvalidSlug::Reserved {
                slug: "www".to_owned()
            }
            .to_string(),
            "slug 'www' is reserved for the platform, choose another one"
        );
    }

    #[test]
    fn display_and_as_str() {
        let slug = Slug::parse("Demo-Firma");
        assert_eq!(slug.as_ref().map(Slug::as_str), Ok("demo-firma"));
        assert_eq!(slug.map(|s| s.to_string()), Ok("demo-firma".to_owned()));
    }

    #[test]
    fn from_str_parses() {
        assert_eq!(
            "demo".parse::<Slug>().map(Slug::into_string),
            Ok("demo".to_owned())
        );
        assert_eq!(
            "ab".parse::<Slug>(),
            Err(InvalidSlug::TooShort { length: 2 })
        );
    }

    #[test]
    fn serde_uses_plain_string() {
        let slug = Slug::parse("demo").map_err(|e| e.to_string());
        let json = slug.and_then(|s| serde_json::to_string(&s).map_err(|e| e.to_string()));
        assert_eq!(json, Ok("\"demo\"".to_owned()));

        let back = serde_json::from_str::<Slug>("\"demo\"").map(Slug::into_string);
        assert_eq!(back.ok(), Some("demo".to_owned()));

        assert!(serde_json::from_str::<Slug>("\"www\"").is_err());
        assert!(serde_json::from_str::<Slug>("\"a\"").is_err());
    }
}
