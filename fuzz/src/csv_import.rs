//! The employee CSV import, which parses files that planners upload.
//!
//! Properties that `check` asserts on every input:
//!
//! - `parse` never panics and returns the same result for the same bytes.
//! - Every data row ends up either as a valid row or with at least one problem, never both and
//!   never neither.
//! - Every valid row keeps the limits that the database columns rely on.

use std::collections::{BTreeSet, HashSet};

use arbitrary::{Arbitrary, Unstructured};
use chrono::Datelike;
use mep24web_employee_import::{
    FileError, MAX_FILE_BYTES, MAX_ROWS, ParsedImport, is_valid_email, parse,
};

/// Maximum length of a problem value in characters: 200 and the "…" that marks a cut.
const MAX_PROBLEM_VALUE_CHARS: usize = 201;

/// Header cells: every column under its usual German name and some variants, an unknown column
/// and cells with quotes and spaces.
const HEADER_CELLS: &[&str] = &[
    "Personalnummer",
    "PersNr",
    "MA-Nr",
    "Nachname",
    "Name",
    "Vorname",
    "E-Mail",
    "Mail",
    "Telefon",
    "Handy",
    "Eintrittsdatum",
    "Austrittsdatum",
    "Filiale",
    "Abteilung",
    "Sprache",
    "Bemerkung",
    "\"Personalnummer\"",
    " Vorname ",
    "",
];

/// Data cells: valid and invalid values of every column, and CSV syntax that trips up parsers.
const DATA_CELLS: &[&str] = &[
    "1001",
    "1002",
    "A-17",
    "Müller",
    "Weiß",
    "Jürgen",
    "Ölüm",
    "anna.schmidt@example.de",
    "jürgen@bäckerei.de",
    "kein-at-zeichen.de",
    "a@b",
    "0621 123456",
    "01.03.2024",
    "1.3.2024",
    "2024-03-01",
    "31.02.2024",
    "01.03.24",
    "01.01.1899",
    "31.12.2099",
    "Filiale Mannheim",
    "Abteilung Kasse",
    "de",
    "Englisch",
    "fr",
    "\"Müller; Sohn\"",
    "\"Zeile\nUmbruch\"",
    "\"\"\"zitiert\"\"\"",
    "\"offen",
    "\u{FEFF}",
    "\u{FFFD}",
    "\t",
    " ",
    "",
];

/// Checks the properties on the input as a file and on a CSV file built from it.
pub fn check(data: &[u8]) {
    check_file(data);
    if let Ok(file) = build_file(&mut Unstructured::new(data)) {
        check_file(&file);
    }
}

/// Parses one file and checks every property of the result.
pub fn check_file(bytes: &[u8]) {
    let result = parse(bytes);
    assert_eq!(
        parse(bytes),
        result,
        "parsing the same bytes twice gives different results"
    );
    match result {
        Ok(parsed) => check_parsed(&parsed),
        Err(FileError::TooLarge) => assert!(
            bytes.len() > MAX_FILE_BYTES,
            "a file of {} bytes is rejected as too large",
            bytes.len()
        ),
        Err(_) => {}
    }
}

fn check_parsed(parsed: &ParsedImport) {
    assert!(
        parsed.row_count <= MAX_ROWS,
        "{} rows exceed the maximum",
        parsed.row_count
    );
    assert!(
        [b';', b',', b'\t'].contains(&parsed.delimiter),
        "unexpected delimiter {:?}",
        parsed.delimiter
    );

    let row_lines: Vec<usize> = parsed.rows.iter().map(|row| row.line).collect();
    assert!(
        row_lines.windows(2).all(|pair| pair[0] < pair[1]),
        "rows are not in file order: {row_lines:?}"
    );
    let problem_lines: Vec<usize> = parsed.problems.iter().map(|p| p.line).collect();
    assert!(
        problem_lines.windows(2).all(|pair| pair[0] <= pair[1]),
        "problems are not ordered by line: {problem_lines:?}"
    );
    assert!(
        row_lines
            .iter()
            .chain(&problem_lines)
            .all(|line| *line >= 2),
        "a row or problem is on the header line: rows {row_lines:?}, problems {problem_lines:?}"
    );

    let problem_lines: BTreeSet<usize> = problem_lines.into_iter().collect();
    let both: Vec<&usize> = row_lines
        .iter()
        .filter(|line| problem_lines.contains(line))
        .collect();
    assert!(
        both.is_empty(),
        "lines {both:?} are valid rows and have problems"
    );
    assert_eq!(
        parsed.rows.len() + problem_lines.len(),
        parsed.row_count,
        "{} data rows were read, but {} are valid and {} lines have problems",
        parsed.row_count,
        parsed.rows.len(),
        problem_lines.len()
    );

    for problem in &parsed.problems {
        if let Some(value) = &problem.value {
            assert!(
                value.chars().count() <= MAX_PROBLEM_VALUE_CHARS,
                "problem value of {} characters on line {}",
                value.chars().count(),
                problem.line
            );
        }
    }
    check_rows(parsed);
}

/// Asserts the limits of each valid row and that personnel numbers are unique.
fn check_rows(parsed: &ParsedImport) {
    let mut numbers = HashSet::new();
    for row in &parsed.rows {
        let line = row.line;
        check_text(line, "personnel number", &row.personnel_number, 32);
        check_text(line, "last name", &row.last_name, 100);
        check_text(line, "first name", &row.first_name, 100);
        for (name, value, max) in [
            ("phone", &row.phone, 40),
            ("branch", &row.branch, 100),
            ("department", &row.department, 100),
        ] {
            if let Some(value) = value {
                check_text(line, name, value, max);
            }
        }
        if let Some(email) = &row.email {
            assert!(
                is_valid_email(email),
                "line {line}: invalid email {email:?} accepted"
            );
        }
        for date in [row.entry_date, row.exit_date].into_iter().flatten() {
            assert!(
                (1900..=2099).contains(&date.year()),
                "line {line}: date {date} outside 1900 to 2099 accepted"
            );
        }
        if let (Some(entry), Some(exit)) = (row.entry_date, row.exit_date) {
            assert!(
                entry <= exit,
                "line {line}: exit {exit} before entry {entry} accepted"
            );
        }
        assert!(
            numbers.insert(row.personnel_number.as_str()),
            "line {line}: personnel number {:?} accepted twice",
            row.personnel_number
        );
    }
}

fn check_text(line: usize, name: &str, value: &str, max_chars: usize) {
    assert!(!value.is_empty(), "line {line}: empty {name} accepted");
    assert_eq!(
        value.trim(),
        value,
        "line {line}: {name} {value:?} is not trimmed"
    );
    assert!(
        value.chars().count() <= max_chars,
        "line {line}: {name} of {} characters accepted",
        value.chars().count()
    );
    assert!(
        !value
            .chars()
            .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER),
        "line {line}: {name} {value:?} with a control character accepted"
    );
}

/// Builds a CSV file: a header of known and unknown columns, then rows of valid and broken
/// cells, with a chosen delimiter, line end and encoding.
fn build_file(choices: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let delimiter = *choices.choose(&[";", ",", "\t"])?;
    let line_end = *choices.choose(&["\r\n", "\n", "\r"])?;

    let columns = choices.int_in_range(1..=10)?;
    let mut lines = Vec::new();
    let mut header = Vec::new();
    for _ in 0..columns {
        header.push(choices.choose(HEADER_CELLS)?.to_string());
    }
    lines.push(header.join(delimiter));

    let rows = choices.int_in_range(0..=12)?;
    for _ in 0..rows {
        let cells = choices.int_in_range(0..=columns + 2)?;
        let mut row = Vec::new();
        for _ in 0..cells {
            let cell = match choices.int_in_range(0..=7)? {
                0 => String::arbitrary(choices)?,
                1 => format!("{}", choices.int_in_range(1..=40u32)?),
                2 => "x".repeat(choices.int_in_range(30..=110)?),
                _ => choices.choose(DATA_CELLS)?.to_string(),
            };
            row.push(cell);
        }
        lines.push(row.join(delimiter));
    }
    let text = lines.join(line_end);

    Ok(match choices.int_in_range(0..=2)? {
        0 => text.into_bytes(),
        1 => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        _ => to_windows_1252(&text),
    })
}

/// Encodes text as Windows-1252, writing `?` for characters outside it. Only the euro sign is
/// mapped from the range 0x80 to 0x9F, which is enough for test files.
fn to_windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match u32::from(c) {
            0x20AC => 0x80,
            code @ (0..=0x7F | 0xA0..=0xFF) => u8::try_from(code).unwrap_or(b'?'),
            _ => b'?',
        })
        .collect()
}
