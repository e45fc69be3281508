//! User-visible text in German (first) and English, from the locale files in `locales/`.
//!
//! The locale of a request is chosen by the `lang` cookie (set from the user's setting at login or
//! by the language switch), otherwise by `Accept-Language`, otherwise German. The gateway runs each
//! request inside [`CURRENT_LOCALE`] so errors rendered deep in a handler use the same locale.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;

/// A supported language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    De,
    En,
}

impl Locale {
    pub fn code(self) -> &'static str {
        match self {
            Self::De => "de",
            Self::En => "en",
        }
    }

    /// Parses `de` or `en` (case-insensitive, region ignored); anything else is `None`.
    pub fn parse(code: &str) -> Option<Self> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "de" => Some(Self::De),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// Picks the supported language with the highest quality from an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, Self)> = None;
        for part in header.split(',').take(20) {
            let mut pieces = part.split(';');
            let Some(tag) = pieces.next().and_then(Self::parse) else {
                continue;
            };
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, tag));
            }
        }
        best.filter(|(q, _)| *q > 0.0).map(|(_, locale)| locale)
    }
}

tokio::task_local! {
    /// The locale of the request being handled.
    pub static CURRENT_LOCALE: Locale;
}

/// Returns the locale of the request being handled, German outside a request.
pub fn current_locale() -> Locale {
    CURRENT_LOCALE
        .try_with(|locale| *locale)
        .unwrap_or_default()
}

struct Catalog {
    de: HashMap<String, String>,
    en: HashMap<String, String>,
}

/// Locale files per area, so each area's texts live in their own file.
const AREAS: [&str; 11] = [
    "common",
    "portal",
    "masterdata",
    "import",
    "invitations",
    "security",
    "settings",
    "app_api",
    "login_security",
    "totp",
    "audit",
];

macro_rules! locale_files {
    ($lang:literal) => {
        [
            include_str!(concat!("../locales/", $lang, "/common.toml")),
            include_str!(concat!("../locales/", $lang, "/portal.toml")),
            include_str!(concat!("../locales/", $lang, "/masterdata.toml")),
            include_str!(concat!("../locales/", $lang, "/import.toml")),
            include_str!(concat!("../locales/", $lang, "/invitations.toml")),
            include_str!(concat!("../locales/", $lang, "/security.toml")),
            include_str!(concat!("../locales/", $lang, "/settings.toml")),
            include_str!(concat!("../locales/", $lang, "/app_api.toml")),
            include_str!(concat!("../locales/", $lang, "/login_security.toml")),
            include_str!(concat!("../locales/", $lang, "/totp.toml")),
            include_str!(concat!("../locales/", $lang, "/audit.toml")),
        ]
    };
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog {
    de: flatten_all(&locale_files!("de")),
    en: flatten_all(&locale_files!("en")),
});

fn flatten_all(sources: &[&str; AREAS.len()]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (area, source) in AREAS.iter().zip(sources) {
        for (key, value) in flatten(source) {
            if map.insert(key.clone(), value).is_some() {
                tracing::error!(area, key, "locale key defined twice");
            }
        }
    }
    map
}

fn flatten(source: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    match source.parse::<toml::Table>() {
        Ok(table) => flatten_into(&mut map, "", &table),
        Err(error) => tracing::error!(%error, "locale file is not valid TOML"),
    }
    map
}

fn flatten_into(map: &mut HashMap<String, String>, prefix: &str, table: &toml::Table) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten_into(map, &full, inner),
            toml::Value::String(text) => {
                map.insert(full, text.clone());
            }
            other => {
                map.insert(full, other.to_string());
            }
        }
    }
}

/// Returns the text for a key: the locale's, else German, else the key itself (so a missing
/// text shows up on screen and in tests instead of an empty string).
pub fn text(locale: Locale, key: &str) -> String {
    let own = match locale {
        Locale::De => &CATALOG.de,
        Locale::En => &CATALOG.en,
    };
    own.get(key)
        .or_else(|| CATALOG.de.get(key))
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// Returns the text for a key with `{name}` placeholders replaced.
pub fn text_with(locale: Locale, key: &str, args: &[(&str, &str)]) -> String {
    let mut result = text(locale, key);
    for (name, value) in args {
        result = result.replace(&format!("{{{name}}}"), value);
    }
    result
}

/// Formats a whole number with the locale's thousands separator: `10.000` in German, `10,000`
/// in English.
pub fn format_integer(locale: Locale, value: usize) -> String {
    let separator = match locale {
        Locale::De => '.',
        Locale::En => ',',
    };
    let digits = value.to_string();
    let mut formatted = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            formatted.push(separator);
        }
        formatted.push(digit);
    }
    formatted
}

/// Lists the keys of one locale, for the test that both locales have the same keys.
pub fn keys(locale: Locale) -> Vec<String> {
    let map = match locale {
        Locale::De => &CATALOG.de,
        Locale::En => &CATALOG.en,
    };
    let mut keys: Vec<String> = map.keys().cloned().collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_integer_groups_thousands() {
        assert_eq!(format_integer(Locale::De, 10_000), "10.000");
        assert_eq!(format_integer(Locale::En, 10_000), "10,000");
        assert_eq!(format_integer(Locale::De, 1_234_567), "1.234.567");
        assert_eq!(format_integer(Locale::De, 999), "999");
        assert_eq!(format_integer(Locale::En, 0), "0");
    }

    #[test]
    fn locales_have_same_keys() {
        assert_eq!(keys(Locale::De), keys(Locale::En));
        assert!(!keys(Locale::De).is_empty());
    }

    #[test]
    fn accept_language_prefers_quality() {
        assert_eq!(
            Locale::from_accept_language("en-US,en;q=0.9,de;q=0.8"),
            Some(Locale::En)
        );
        assert_eq!(
            Locale::from_accept_language("fr-FR, de;q=0.5, en;q=0.3"),
            Some(Locale::De)
        );
        assert_eq!(Locale::from_accept_language("fr, it"), None);
        assert_eq!(Locale::from_accept_language("en;q=0"), None);
    }

    #[test]
    fn text_falls_back_to_key() {
        assert_eq!(text(Locale::En, "no.such.key"), "no.such.key");
    }
}
