//! Errors that reject the whole file.

use std::fmt;

use serde::Serialize;

use crate::{Column, MAX_FILE_BYTES, MAX_ROWS};

/// Reason why no row of the file can be imported.
///
/// Serialized as `{"code": "...", "detail": ...}`, where `detail` is present only for
/// `MissingColumns` (the column codes) and `Unreadable` (an English description for logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", content = "detail", rename_all = "snake_case")]
pub enum FileError {
    /// The file has zero bytes or contains only whitespace and a byte order mark.
    Empty,
    /// The file is larger than `MAX_FILE_BYTES`.
    TooLarge,
    /// The file has more than `MAX_ROWS` data rows, not counting blank lines.
    TooManyRows,
    /// Required columns that the header line lacks, in the order of `Column::REQUIRED`.
    MissingColumns(Vec<Column>),
    /// The first line is blank or names none of the known columns.
    NoHeader,
    /// The bytes are not CSV text in a supported encoding, for example an Excel workbook or
    /// UTF-16 text. The string is an English description for logs, not for end users.
    Unreadable(String),
}

impl FileError {
    /// Stable snake_case identifier, equal to the serialized `code`. The UI maps it to a text.
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Empty => "empty",
            FileError::TooLarge => "too_large",
            FileError::TooManyRows => "too_many_rows",
            FileError::MissingColumns(_) => "missing_columns",
            FileError::NoHeader => "no_header",
            FileError::Unreadable(_) => "unreadable",
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Empty => write!(f, "employee file is empty"),
            FileError::TooLarge => {
                write!(f, "employee file is larger than {MAX_FILE_BYTES} bytes")
            }
            FileError::TooManyRows => {
                write!(f, "employee file has more than {MAX_ROWS} data rows")
            }
            FileError::MissingColumns(columns) => {
                let codes: Vec<&str> = columns.iter().map(Column::code).collect();
                write!(
                    f,
                    "employee file is missing required columns: {}",
                    codes.join(", ")
                )
            }
            FileError::NoHeader => write!(
                f,
                "first line of the employee file is not a header with known column names"
            ),
            FileError::Unreadable(detail) => {
                write!(f, "employee file cannot be read: {detail}")
            }
        }
    }
}

impl std::error::Error for FileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_error_codes() {
        let cases = [
            (FileError::Empty, "empty"),
            (FileError::TooLarge, "too_large"),
            (FileError::TooManyRows, "too_many_rows"),
            (
                FileError::MissingColumns(vec![Column::LastName]),
                "missing_columns",
            ),
            (FileError::NoHeader, "no_header"),
            (FileError::Unreadable("x".to_owned()), "unreadable"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn file_error_display_names_columns() {
        let error = FileError::MissingColumns(vec![Column::PersonnelNumber, Column::FirstName]);
        assert_eq!(
            error.to_string(),
            "employee file is missing required columns: personnel_number, first_name"
        );
        assert_eq!(
            FileError::TooLarge.to_string(),
            "employee file is larger than 5242880 bytes"
        );
    }
}
