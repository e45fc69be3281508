//! Parses the shared CSV fixtures in `tests/fixtures/import/` at the workspace root, which the
//! end-to-end tests upload as well.

use std::path::PathBuf;

use chrono::NaiveDate;
use mep24web_employee_import::{
    Column, ImportRow, Language, ParsedImport, ProblemKind, SourceEncoding, parse,
};

fn read_fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "tests",
        "fixtures",
        "import",
        name,
    ]
    .iter()
    .collect();
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => panic!("cannot read {}: {error}", path.display()),
    }
}

fn parse_fixture(name: &str) -> ParsedImport {
    match parse(&read_fixture(name)) {
        Ok(parsed) => parsed,
        Err(error) => panic!("parse of {name} failed: {error:?}"),
    }
}

fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

#[test]
fn windows1252_fixture_is_not_utf8() {
    let bytes = read_fixture("windows1252_semicolon.csv");
    assert!(std::str::from_utf8(&bytes).is_err());
    assert!(bytes.windows(2).any(|pair| pair == b"\r\n"));
}

#[test]
fn parse_windows1252_keeps_umlauts() {
    let parsed = parse_fixture("windows1252_semicolon.csv");
    assert_eq!(parsed.encoding, SourceEncoding::Windows1252);
    assert_eq!(parsed.delimiter, b';');
    assert_eq!(parsed.columns, Column::ALL);
    assert_eq!(parsed.problems, []);
    assert_eq!(parsed.row_count, 5);

    let names: Vec<(&str, &str)> = parsed
        .rows
        .iter()
        .map(|row| (row.last_name.as_str(), row.first_name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Weiß", "Jürgen"),
            ("Müller", "Käthe"),
            ("Strauß", "Björn"),
            ("Özdemir", "Elif"),
            ("Schäfer", "Sören"),
        ]
    );
}

#[test]
fn parse_windows1252_row_values() {
    let parsed = parse_fixture("windows1252_semicolon.csv");
    let lines: Vec<usize> = parsed.rows.iter().map(|row| row.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6]);

    let expected = ImportRow {
        line: 4,
        personnel_number: "1003".to_owned(),
        last_name: "Strauß".to_owned(),
        first_name: "Björn".to_owned(),
        email: None,
        phone: Some("0171 2345678".to_owned()),
        entry_date: date(2022, 2, 1),
        exit_date: date(2024, 12, 31),
        branch: Some("Filiale Mannheim".to_owned()),
        department: Some("Abteilung Kasse".to_owned()),
        language: None,
    };
    assert_eq!(parsed.rows[2], expected);
    assert_eq!(parsed.rows[0].language, Some(Language::De));
    assert_eq!(parsed.rows[3].language, Some(Language::En));
    assert_eq!(parsed.rows[4].department.as_deref(), Some("Abteilung Büro"));
    assert_eq!(
        parsed.rows[4].branch.as_deref(),
        Some("Filiale Schwetzingen")
    );
}

#[test]
fn parse_utf8_bom_comma_fixture() {
    let parsed = parse_fixture("utf8_bom_comma.csv");
    assert_eq!(parsed.encoding, SourceEncoding::Utf8Bom);
    assert_eq!(parsed.delimiter, b',');
    assert_eq!(parsed.problems, []);
    assert_eq!(parsed.row_count, 4);
    assert_eq!(
        parsed.columns,
        [
            Column::PersonnelNumber,
            Column::LastName,
            Column::FirstName,
            Column::Email,
            Column::Phone,
            Column::EntryDate,
            Column::ExitDate,
            Column::Branch,
            Column::Department,
            Column::Language,
        ]
    );
}

#[test]
fn parse_utf8_bom_line_numbers() {
    let parsed = parse_fixture("utf8_bom_comma.csv");
    let lines: Vec<usize> = parsed.rows.iter().map(|row| row.line).collect();
    assert_eq!(lines, [2, 3, 5, 6]);
}

#[test]
fn parse_utf8_bom_cell_values() {
    let parsed = parse_fixture("utf8_bom_comma.csv");
    let numbers: Vec<&str> = parsed
        .rows
        .iter()
        .map(|row| row.personnel_number.as_str())
        .collect();
    assert_eq!(numbers, ["00123", "00124", "00125", "00126"]);

    let expected = ImportRow {
        line: 2,
        personnel_number: "00123".to_owned(),
        last_name: "Hoffmann".to_owned(),
        first_name: "Anna-Lena".to_owned(),
        email: Some("anna.hoffmann@filialapotheke.de".to_owned()),
        phone: Some("+49 171 1234567".to_owned()),
        entry_date: date(2020, 3, 1),
        exit_date: None,
        branch: Some("Filiale Heidelberg, Hauptstraße".to_owned()),
        department: Some("Abteilung Kasse".to_owned()),
        language: Some(Language::En),
    };
    assert_eq!(parsed.rows[0], expected);
    assert_eq!(parsed.rows[1].last_name, "Krüger");
    assert_eq!(parsed.rows[1].language, Some(Language::De));
    assert_eq!(parsed.rows[2].exit_date, date(2024, 6, 30));
    assert_eq!(parsed.rows[2].language, None);
    assert_eq!(
        parsed.rows[3].department.as_deref(),
        Some("Abteilung \"Kasse & Kosmetik\"")
    );
    assert_eq!(parsed.rows[3].entry_date, date(2015, 7, 1));
}

#[test]
fn parse_errors_fixture_problems() {
    let parsed = parse_fixture("errors.csv");
    assert_eq!(parsed.encoding, SourceEncoding::Utf8);
    assert_eq!(parsed.row_count, 5);

    let problems: Vec<(usize, Option<Column>, &str, Option<&str>)> = parsed
        .problems
        .iter()
        .map(|p| (p.line, p.column, p.kind.code(), p.value.as_deref()))
        .collect();
    assert_eq!(
        problems,
        [
            (
                3,
                Some(Column::Email),
                "invalid_email",
                Some("deniz.yilmaz(at)apotheke-am-dom.de")
            ),
            (
                4,
                Some(Column::EntryDate),
                "invalid_date",
                Some("31.02.2023")
            ),
            (
                5,
                Some(Column::PersonnelNumber),
                "duplicate_personnel_number",
                Some("2001")
            ),
        ]
    );
    assert_eq!(
        parsed.problems[2].kind,
        ProblemKind::DuplicatePersonnelNumber { first_line: 2 }
    );
}

#[test]
fn parse_errors_fixture_keeps_valid_rows() {
    let parsed = parse_fixture("errors.csv");
    let rows: Vec<(usize, &str, &str)> = parsed
        .rows
        .iter()
        .map(|row| {
            (
                row.line,
                row.personnel_number.as_str(),
                row.last_name.as_str(),
            )
        })
        .collect();
    assert_eq!(rows, [(2, "2001", "Krüger"), (6, "2004", "Neumann")]);
    assert_eq!(parsed.rows[1].email, None);
}
