//! A validated employee row and the values of its language column.

use chrono::NaiveDate;
use serde::Serialize;

/// One data row without problems, ready to be matched against existing employees.
///
/// All text is trimmed and NFC-normalized, and optional cells that were empty are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRow {
    /// 1-based physical line on which the row starts. The header is line 1, and a quoted
    /// field with line breaks makes a row span several lines.
    pub line: usize,
    /// Unique within the file, compared case-sensitively. At most 32 characters.
    pub personnel_number: String,
    /// At most 100 characters.
    pub last_name: String,
    /// At most 100 characters.
    pub first_name: String,
    /// Syntactically valid address as typed, not lower-cased.
    pub email: Option<String>,
    /// Free text of at most 40 characters. Digits and format are not checked.
    pub phone: Option<String>,
    pub entry_date: Option<NaiveDate>,
    /// Not earlier than `entry_date` when both are present.
    pub exit_date: Option<NaiveDate>,
    /// "Filiale" as typed, at most 100 characters. It is not matched against existing branches.
    pub branch: Option<String>,
    /// "Abteilung" as typed, at most 100 characters.
    pub department: Option<String>,
    pub language: Option<Language>,
}

/// Preferred language of the employee for the app and emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    De,
    En,
}

impl Language {
    /// Reads a language cell case-insensitively, and returns `None` for unknown words.
    pub(crate) fn from_cell(value: &str) -> Option<Language> {
        match value.to_lowercase().as_str() {
            "de" | "deutsch" | "german" => Some(Language::De),
            "en" | "englisch" | "english" => Some(Language::En),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_accepts_listed_words() {
        let cases = [
            ("de", Language::De),
            ("DE", Language::De),
            ("Deutsch", Language::De),
            ("german", Language::De),
            ("en", Language::En),
            ("EN", Language::En),
            ("Englisch", Language::En),
            ("English", Language::En),
        ];
        for (value, expected) in cases {
            assert_eq!(Language::from_cell(value), Some(expected), "{value}");
        }
    }

    #[test]
    fn language_rejects_other_words() {
        for value in ["", "d", "deu", "de-DE", "französisch", "fr", "eng"] {
            assert_eq!(Language::from_cell(value), None, "{value}");
        }
    }
}
