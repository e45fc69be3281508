//! Parsing and validation of employee lists that planners export from payroll or HR systems
//! or type in Excel, saved as CSV.
//!
//! `parse` reads the whole file in memory and touches no database. A file either fails as a
//! whole with a `FileError`, or yields the valid rows together with the problems of all other
//! rows, so that the UI can show every mistake at once. Problems and errors carry stable
//! snake_case codes, and the UI maps these to German or English texts.

mod dates;
mod email;
mod encoding;
mod error;
mod headers;
mod problem;
mod records;
mod row;
mod validate;

use serde::Serialize;

pub use dates::parse_date;
pub use email::is_valid_email;
pub use encoding::SourceEncoding;
pub use error::FileError;
pub use headers::Column;
pub use problem::{Problem, ProblemKind};
pub use row::{ImportRow, Language};

/// Maximum file size in bytes (5 MiB), checked before decoding.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;

/// Maximum number of data rows, not counting the header and blank lines.
pub const MAX_ROWS: usize = 10_000;

/// Result of parsing a file whose header was recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedImport {
    /// Data rows without any problem, in file order.
    pub rows: Vec<ImportRow>,
    /// Problems of all other rows, ordered by line and within a line by `Column::ALL`.
    pub problems: Vec<Problem>,
    /// Data rows read, with or without problems. Blank lines are not counted.
    pub row_count: usize,
    /// Detected delimiter: `b';'`, `b','` or `b'\t'`.
    pub delimiter: u8,
    pub encoding: SourceEncoding,
    /// Recognised columns in file order. A column named twice appears once, at its first place.
    pub columns: Vec<Column>,
}

/// Parses and validates an uploaded employee CSV file.
///
/// Accepts UTF-8 with or without byte order mark and Windows-1252, with `;`, `,` or tab as
/// delimiter (detected on the header line), and CRLF, LF or CR line ends. The first line must
/// be the header. Blank lines, including lines of only delimiters and whitespace, are skipped.
/// Malformed input yields problems or a `FileError`, not a panic, which the tests check with
/// random bytes and random CSV-like text.
pub fn parse(bytes: &[u8]) -> Result<ParsedImport, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    let (text, encoding) = encoding::decode(bytes)?;
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }

    let delimiter = records::detect_delimiter(&text);
    let mut reader = records::RecordReader::new(&text, delimiter);
    let header = match reader.next_record()? {
        Some(record) if record.line == 1 && !record.is_blank() => {
            headers::HeaderMap::from_cells(record.cells())?
        }
        _ => return Err(FileError::NoHeader),
    };

    let mut validator = validate::Validator::default();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut row_count = 0;
    while let Some(record) = reader.next_record()? {
        if record.is_blank() {
            continue;
        }
        row_count += 1;
        if row_count > MAX_ROWS {
            return Err(FileError::TooManyRows);
        }
        match validator.check(&header, &record) {
            Ok(row) => rows.push(row),
            Err(row_problems) => problems.extend(row_problems),
        }
    }

    Ok(ParsedImport {
        rows,
        problems,
        row_count,
        delimiter,
        encoding,
        columns: header.columns(),
    })
}

#[cfg(test)]
mod tests;
