//! Problems found in single rows, reported with a stable code for the UI.

use serde::Serialize;

use crate::Column;

/// Maximum number of characters of a cell copied into `Problem::value`.
const MAX_PROBLEM_VALUE_CHARS: usize = 200;

/// A problem in one row, which leaves the row out of `ParsedImport::rows`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based physical line on which the row starts.
    pub line: usize,
    /// Column of the cell, or `None` for problems of the whole row.
    pub column: Option<Column>,
    pub kind: ProblemKind,
    /// The cell after trimming and NFC normalization, cut to 200 characters plus "…".
    /// `None` for `MissingValue` and `WrongFieldCount`.
    pub value: Option<String>,
}

impl Problem {
    pub(crate) fn row(line: usize, kind: ProblemKind) -> Self {
        Problem {
            line,
            column: None,
            kind,
            value: None,
        }
    }

    pub(crate) fn cell(
        line: usize,
        column: Column,
        kind: ProblemKind,
        value: Option<&str>,
    ) -> Self {
        Problem {
            line,
            column: Some(column),
            kind,
            value: value.map(shorten),
        }
    }
}

fn shorten(value: &str) -> String {
    match value.char_indices().nth(MAX_PROBLEM_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", value.get(..cut).unwrap_or(value)),
        None => value.to_owned(),
    }
}

/// Kind of problem in a row or cell, serialized as `{"code": "...", ...fields}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ProblemKind {
    /// A required cell is empty.
    MissingValue,
    InvalidEmail,
    /// Not a date in `dd.mm.yyyy`, `d.m.yyyy` or `yyyy-mm-dd` form, not a real calendar day,
    /// or a year outside 1900 to 2099.
    InvalidDate,
    /// The exit date is earlier than the entry date. The same day is accepted.
    ExitBeforeEntry,
    /// The personnel number already appeared on `first_line`, compared case-sensitively.
    DuplicatePersonnelNumber {
        first_line: usize,
    },
    /// The row has more non-empty fields than the header has fields. Rows with fewer fields
    /// are accepted and their missing fields read as empty.
    WrongFieldCount {
        expected: usize,
        found: usize,
    },
    /// The cell has more than `max` characters (Unicode scalar values after NFC).
    TooLong {
        max: usize,
    },
    /// The language is not one of de, deutsch, german, en, englisch, english (any case).
    InvalidLanguage,
    /// A text cell contains a control character, such as a line break from a quoted field,
    /// or U+FFFD, which stands for bytes that were not valid UTF-8.
    InvalidCharacter,
}

impl ProblemKind {
    /// Stable snake_case identifier, equal to the serialized `code`. The UI maps it to a text.
    pub fn code(&self) -> &'static str {
        match self {
            ProblemKind::MissingValue => "missing_value",
            ProblemKind::InvalidEmail => "invalid_email",
            ProblemKind::InvalidDate => "invalid_date",
            ProblemKind::ExitBeforeEntry => "exit_before_entry",
            ProblemKind::DuplicatePersonnelNumber { .. } => "duplicate_personnel_number",
            ProblemKind::WrongFieldCount { .. } => "wrong_field_count",
            ProblemKind::TooLong { .. } => "too_long",
            ProblemKind::InvalidLanguage => "invalid_language",
            ProblemKind::InvalidCharacter => "invalid_character",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_codes_are_snake_case() {
        let cases = [
            (ProblemKind::MissingValue, "missing_value"),
            (ProblemKind::InvalidEmail, "invalid_email"),
            (ProblemKind::InvalidDate, "invalid_date"),
            (ProblemKind::ExitBeforeEntry, "exit_before_entry"),
            (
                ProblemKind::DuplicatePersonnelNumber { first_line: 2 },
                "duplicate_personnel_number",
            ),
            (
                ProblemKind::WrongFieldCount {
                    expected: 3,
                    found: 4,
                },
                "wrong_field_count",
            ),
            (ProblemKind::TooLong { max: 32 }, "too_long"),
            (ProblemKind::InvalidLanguage, "invalid_language"),
            (ProblemKind::InvalidCharacter, "invalid_character"),
        ];
        for (kind, code) in cases {
            assert_eq!(kind.code(), code);
        }
    }

    #[test]
    fn problem_value_is_shortened() {
        let long = "ä".repeat(250);
        let problem = Problem::cell(
            4,
            Column::LastName,
            ProblemKind::TooLong { max: 100 },
            Some(&long),
        );
        let expected = format!("{}…", "ä".repeat(200));
        assert_eq!(problem.value, Some(expected));

        let exact = "b".repeat(200);
        let problem = Problem::cell(
            4,
            Column::LastName,
            ProblemKind::TooLong { max: 100 },
            Some(&exact),
        );
        assert_eq!(problem.value, Some(exact));
    }
}
