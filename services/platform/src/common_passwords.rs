//! The list of common passwords that the password policy rejects.
//!
//! The list is `data/common-passwords.txt`, embedded at build time. Its header names the sources:
//! the 10,000 most frequent entries of the password list in the PyPI package zxcvbn 4.5.0, and
//! German words and patterns the project added by hand.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

static LIST: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Returns true when the password, compared without case, is on the list, or is a listed word
/// followed only by digits and punctuation, such as `Passwort123!` or `Sommer2024`.
pub fn is_common(password: &str) -> bool {
    let lowered: String = password.trim().nfc().collect::<String>().to_lowercase();
    if LIST.contains(lowered.as_str()) {
        return true;
    }
    let stem = lowered.trim_end_matches(|c: char| {
        c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace()
    });
    !stem.is_empty() && LIST.contains(stem)
}

/// Returns the number of entries, for tests.
pub fn len() -> usize {
    LIST.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_both_parts() {
        assert_eq!(len(), 10_211);
        assert!(LIST.contains("123456"));
        assert!(LIST.contains("passwort"));
    }

    #[test]
    fn is_common_ignores_case() {
        assert!(is_common("PASSWORD"));
        assert!(is_common("Passwort"));
        assert!(is_common("Apotheke1"));
    }

    #[test]
    fn is_common_strips_trailing_digits_and_punctuation() {
        assert!(is_common("passwort123!"));
        assert!(is_common("Sommer2024"));
        assert!(is_common("hallo123"));
        assert!(is_common("Fußball-2026!!"));
        assert!(is_common("Qwertz12345"));
    }

    #[test]
    fn is_common_accepts_other_passwords() {
        assert!(!is_common("Planung-Sommer-2026"));
        assert!(!is_common("Kasse-Fruehling-2026"));
        assert!(!is_common("2026-Passwort"));
        assert!(!is_common("1234567890!x"));
        assert!(!is_common(""));
        assert!(!is_common("!!!!!!!!!!"));
    }
}
