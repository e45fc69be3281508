//! Tests of `parse` on small inline files: row validation, file-level errors and inputs that
//! must not panic.

use chrono::NaiveDate;

use super::*;

const HEADER: &str = "Personalnummer;Nachname;Vorname;E-Mail;Telefon;Eintrittsdatum;\
                      Austrittsdatum;Filiale;Abteilung;Sprache\n";

fn parse_ok(input: &[u8]) -> ParsedImport {
    match parse(input) {
        Ok(parsed) => parsed,
        Err(error) => panic!("parse failed: {error:?}"),
    }
}

/// Parses `HEADER` followed by `rows`.
fn parse_rows(rows: &str) -> ParsedImport {
    parse_ok(format!("{HEADER}{rows}").as_bytes())
}

/// Problems as (line, column code, problem code) for compact assertions.
fn problem_codes(parsed: &ParsedImport) -> Vec<(usize, Option<&'static str>, &'static str)> {
    parsed
        .problems
        .iter()
        .map(|problem| {
            (
                problem.line,
                problem.column.as_ref().map(Column::code),
                problem.kind.code(),
            )
        })
        .collect()
}

fn row_lines(parsed: &ParsedImport) -> Vec<usize> {
    parsed.rows.iter().map(|row| row.line).collect()
}

fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

#[test]
fn parse_row_with_all_columns() {
    let parsed = parse_rows(
        "1001;Weiß;Jürgen;juergen.weiss@apotheke-am-markt.de;06221 4711-0;01.04.2019;\
         30.06.2025;Filiale Heidelberg;Abteilung Kasse;Deutsch\n",
    );
    let expected = ImportRow {
        line: 2,
        personnel_number: "1001".to_owned(),
        last_name: "Weiß".to_owned(),
        first_name: "Jürgen".to_owned(),
        email: Some("juergen.weiss@apotheke-am-markt.de".to_owned()),
        phone: Some("06221 4711-0".to_owned()),
        entry_date: date(2019, 4, 1),
        exit_date: date(2025, 6, 30),
        branch: Some("Filiale Heidelberg".to_owned()),
        department: Some("Abteilung Kasse".to_owned()),
        language: Some(Language::De),
    };
    assert_eq!(parsed.rows, [expected]);
    assert_eq!(parsed.problems, []);
    assert_eq!(parsed.row_count, 1);
    assert_eq!(parsed.delimiter, b';');
    assert_eq!(parsed.encoding, SourceEncoding::Utf8);
    assert_eq!(parsed.columns, Column::ALL);
}

#[test]
fn parse_empty_optional_cells_are_none() {
    let parsed = parse_rows("1002; Müller ; Käthe ; ;;;;;;\n");
    let expected = ImportRow {
        line: 2,
        personnel_number: "1002".to_owned(),
        last_name: "Müller".to_owned(),
        first_name: "Käthe".to_owned(),
        email: None,
        phone: None,
        entry_date: None,
        exit_date: None,
        branch: None,
        department: None,
        language: None,
    };
    assert_eq!(parsed.rows, [expected]);
}

#[test]
fn parse_only_required_columns() {
    let parsed = parse_ok(b"Vorname;Nachname;Personalnummer\nSophie;Becker;7\n");
    assert_eq!(
        parsed.columns,
        [Column::FirstName, Column::LastName, Column::PersonnelNumber]
    );
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.rows[0].personnel_number, "7");
    assert_eq!(parsed.rows[0].first_name, "Sophie");
    assert_eq!(parsed.rows[0].email, None);
}

#[test]
fn parse_unknown_columns_are_ignored() {
    let parsed = parse_ok(
        b"Bemerkung;Personalnummer;Geburtsdatum;Nachname;Vorname\nneu;8;01.01.1990;Kaya;Elif\n",
    );
    assert_eq!(
        parsed.columns,
        [Column::PersonnelNumber, Column::LastName, Column::FirstName]
    );
    assert_eq!(parsed.rows[0].personnel_number, "8");
    assert_eq!(parsed.rows[0].last_name, "Kaya");
}

#[test]
fn parse_each_delimiter() {
    for (delimiter, text) in [
        (b';', "Personalnummer;Nachname;Vorname\r\n1;Kaya;Elif\r\n"),
        (b',', "Personalnummer,Nachname,Vorname\r\n1,Kaya,Elif\r\n"),
        (
            b'\t',
            "Personalnummer\tNachname\tVorname\r\n1\tKaya\tElif\r\n",
        ),
    ] {
        let parsed = parse_ok(text.as_bytes());
        assert_eq!(parsed.delimiter, delimiter);
        assert_eq!(parsed.rows.len(), 1, "{text:?}");
        assert_eq!(parsed.rows[0].first_name, "Elif");
    }
}

#[test]
fn parse_cr_line_ends() {
    let parsed = parse_ok(b"Personalnummer;Nachname;Vorname\r1;Kaya;Elif\r2;Roth;Mia\r");
    assert_eq!(row_lines(&parsed), [2, 3]);
}

#[test]
fn parse_quoted_delimiter_in_cell() {
    let parsed = parse_ok(
        b"Personalnummer,Nachname,Vorname,Filiale\n1,Kaya,Elif,\"Filiale Heidelberg, Hauptstr.\"\n",
    );
    assert_eq!(
        parsed.rows[0].branch.as_deref(),
        Some("Filiale Heidelberg, Hauptstr.")
    );
}

#[test]
fn parse_quoted_newline_line_numbers() {
    let text = "Personalnummer;Nachname;Vorname;Bemerkung;E-Mail\r\n\
                1;Kaya;Elif;\"Teilzeit\r\nab Mai\r\nnur vormittags\";\r\n\
                2;Roth;Mia;;mia.roth(at)apotheke.de\r\n\
                3;Yilmaz;Deniz;\"\"\"Springer\"\"\nHeidelberg\";\r\n";
    let parsed = parse_ok(text.as_bytes());
    assert_eq!(row_lines(&parsed), [2, 6]);
    assert_eq!(
        problem_codes(&parsed),
        [(5, Some("email"), "invalid_email")]
    );
    assert_eq!(parsed.row_count, 3);
}

#[test]
fn parse_newline_in_name_invalid() {
    let parsed = parse_rows("1;\"Müller\nSchmidt\";Anna;;;;;;;\n2;Roth;Mia;;;;;;;\n");
    assert_eq!(
        problem_codes(&parsed),
        [(2, Some("last_name"), "invalid_character")]
    );
    assert_eq!(parsed.problems[0].value.as_deref(), Some("Müller\nSchmidt"));
    assert_eq!(row_lines(&parsed), [4]);
}

#[test]
fn parse_blank_lines_are_skipped() {
    let text = "Personalnummer;Nachname;Vorname\n1;Kaya;Elif\n\n;;\n  ;\t; \n2;Roth;Mia\n\n\n   \n";
    let parsed = parse_ok(text.as_bytes());
    assert_eq!(row_lines(&parsed), [2, 6]);
    assert_eq!(parsed.row_count, 2);
    assert_eq!(parsed.problems, []);
}

#[test]
fn parse_excel_text_cells() {
    let parsed = parse_ok(
        b"Personalnummer;Nachname;Vorname\n=\"00123\";Kaya;Elif\n\"=\"\"00124\"\"\";Roth;Mia\n",
    );
    let numbers: Vec<&str> = parsed
        .rows
        .iter()
        .map(|row| row.personnel_number.as_str())
        .collect();
    assert_eq!(numbers, ["00123", "00124"]);
}

#[test]
fn parse_normalizes_to_nfc() {
    let parsed =
        parse_ok("Personalnummer;Nachname;Vorname\n1;Mu\u{308}ller;Jo\u{308}rg\n".as_bytes());
    assert_eq!(parsed.rows[0].last_name, "M\u{FC}ller");
    assert_eq!(parsed.rows[0].first_name, "J\u{F6}rg");
}

#[test]
fn parse_missing_values() {
    let parsed = parse_rows(";;;;;;;;;\n \n;Roth;Mia;;;;;;;\n4;;Mia\n5;Roth\n");
    assert_eq!(
        problem_codes(&parsed),
        [
            (4, Some("personnel_number"), "missing_value"),
            (5, Some("last_name"), "missing_value"),
            (6, Some("first_name"), "missing_value"),
        ]
    );
    assert_eq!(parsed.problems[0].value, None);
    assert_eq!(parsed.row_count, 3);
    assert_eq!(parsed.rows, []);
}

#[test]
fn parse_invalid_email() {
    let parsed =
        parse_rows("1;Kaya;Elif;elif.kaya@apotheke;;;;;;\n2;Roth;Mia;MIA.Roth@Apotheke.de;;;;;;\n");
    assert_eq!(
        problem_codes(&parsed),
        [(2, Some("email"), "invalid_email")]
    );
    assert_eq!(
        parsed.problems[0].value.as_deref(),
        Some("elif.kaya@apotheke")
    );
    assert_eq!(
        parsed.rows[0].email.as_deref(),
        Some("MIA.Roth@Apotheke.de")
    );
}

#[test]
fn parse_invalid_dates() {
    let parsed = parse_rows(
        "1;Kaya;Elif;;;31.02.2024;;;;\n2;Roth;Mia;;;01.03.24;;;;\n3;Wolf;Ben;;;;2024/03/01;;;\n\
         4;Lang;Ida;;;2024-03-01;1.4.2024;;;\n",
    );
    assert_eq!(
        problem_codes(&parsed),
        [
            (2, Some("entry_date"), "invalid_date"),
            (3, Some("entry_date"), "invalid_date"),
            (4, Some("exit_date"), "invalid_date"),
        ]
    );
    let values: Vec<Option<&str>> = parsed.problems.iter().map(|p| p.value.as_deref()).collect();
    assert_eq!(
        values,
        [Some("31.02.2024"), Some("01.03.24"), Some("2024/03/01")]
    );
    assert_eq!(parsed.rows[0].entry_date, date(2024, 3, 1));
    assert_eq!(parsed.rows[0].exit_date, date(2024, 4, 1));
}

#[test]
fn parse_exit_before_entry() {
    let parsed = parse_rows(
        "1;Kaya;Elif;;;01.03.2024;29.02.2024;;;\n2;Roth;Mia;;;01.03.2024;01.03.2024;;;\n",
    );
    assert_eq!(
        problem_codes(&parsed),
        [(2, Some("exit_date"), "exit_before_entry")]
    );
    assert_eq!(parsed.problems[0].value.as_deref(), Some("29.02.2024"));
    assert_eq!(row_lines(&parsed), [3]);
}

#[test]
fn parse_exit_without_entry_is_valid() {
    let parsed = parse_rows("1;Kaya;Elif;;;;31.12.2024;;;\n");
    assert_eq!(parsed.problems, []);
    assert_eq!(parsed.rows[0].exit_date, date(2024, 12, 31));
}

#[test]
fn parse_duplicate_personnel_numbers() {
    let parsed = parse_ok(
        b"Personalnummer;Nachname;Vorname\n\
          A1;Kaya;Elif\na1;Roth;Mia\n A1 ;Wolf;Ben\n\nA1;Lang;Ida\n",
    );
    let kinds: Vec<(usize, ProblemKind)> = parsed
        .problems
        .iter()
        .map(|p| (p.line, p.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (4, ProblemKind::DuplicatePersonnelNumber { first_line: 2 }),
            (6, ProblemKind::DuplicatePersonnelNumber { first_line: 2 }),
        ]
    );
    assert_eq!(parsed.problems[0].value.as_deref(), Some("A1"));
    assert_eq!(parsed.problems[0].column, Some(Column::PersonnelNumber));
    assert_eq!(row_lines(&parsed), [2, 3]);
}

#[test]
fn parse_duplicate_of_row_with_problem() {
    let parsed =
        parse_ok(b"Personalnummer;Nachname;Vorname;E-Mail\n5;Kaya;Elif;kaputt\n5;Roth;Mia;\n");
    assert_eq!(
        problem_codes(&parsed),
        [
            (2, Some("email"), "invalid_email"),
            (3, Some("personnel_number"), "duplicate_personnel_number"),
        ]
    );
}

#[test]
fn parse_wrong_field_count() {
    let parsed =
        parse_ok(b"Personalnummer;Nachname;Vorname\n1;M\xC3\xBCller;Hans;Heidelberg\n1;Roth;Mia\n");
    assert_eq!(problem_codes(&parsed), [(2, None, "wrong_field_count")]);
    assert_eq!(
        parsed.problems[0].kind,
        ProblemKind::WrongFieldCount {
            expected: 3,
            found: 4
        }
    );
    // The shifted row is not remembered, so line 3 is no duplicate.
    assert_eq!(row_lines(&parsed), [3]);
}

#[test]
fn parse_accepts_short_and_padded_rows() {
    let parsed =
        parse_ok(b"Personalnummer;Nachname;Vorname;E-Mail;Filiale\n1;Kaya;Elif\n2;Roth;Mia;;;;\n");
    assert_eq!(parsed.problems, []);
    assert_eq!(row_lines(&parsed), [2, 3]);
    assert_eq!(parsed.rows[0].branch, None);
}

#[test]
fn parse_too_long_values() {
    let number_33 = "9".repeat(33);
    let name_101 = "ä".repeat(101);
    let phone_41 = "1".repeat(41);
    let unit_101 = "x".repeat(101);
    let rows = format!(
        "{number_33};Kaya;Elif;;;;;;;\n\
         2;{name_101};Elif;;;;;;;\n\
         3;Kaya;{name_101};;;;;;;\n\
         4;Kaya;Elif;;{phone_41};;;;;\n\
         5;Kaya;Elif;;;;;{unit_101};;\n\
         6;Kaya;Elif;;;;;;{unit_101};\n"
    );
    let parsed = parse_rows(&rows);
    let kinds: Vec<(usize, Option<Column>, ProblemKind)> = parsed
        .problems
        .iter()
        .map(|p| (p.line, p.column, p.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                2,
                Some(Column::PersonnelNumber),
                ProblemKind::TooLong { max: 32 }
            ),
            (3, Some(Column::LastName), ProblemKind::TooLong { max: 100 }),
            (
                4,
                Some(Column::FirstName),
                ProblemKind::TooLong { max: 100 }
            ),
            (5, Some(Column::Phone), ProblemKind::TooLong { max: 40 }),
            (6, Some(Column::Branch), ProblemKind::TooLong { max: 100 }),
            (
                7,
                Some(Column::Department),
                ProblemKind::TooLong { max: 100 }
            ),
        ]
    );
    assert_eq!(parsed.problems[0].value, Some(number_33));
}

#[test]
fn parse_values_at_max_length_are_valid() {
    let rows = format!(
        "{};{};{};;{};;;{};{};\n",
        "9".repeat(32),
        "ä".repeat(100),
        "ß".repeat(100),
        "1".repeat(40),
        "x".repeat(100),
        "y".repeat(100),
    );
    let parsed = parse_rows(&rows);
    assert_eq!(parsed.problems, []);
    assert_eq!(parsed.rows.len(), 1);
}

#[test]
fn parse_invalid_language() {
    let parsed = parse_rows("1;Kaya;Elif;;;;;;;Türkisch\n2;Roth;Mia;;;;;;;EN\n3;Wolf;Ben;;;;;;;\n");
    assert_eq!(
        problem_codes(&parsed),
        [(2, Some("language"), "invalid_language")]
    );
    assert_eq!(parsed.problems[0].value.as_deref(), Some("Türkisch"));
    let languages: Vec<Option<Language>> = parsed.rows.iter().map(|row| row.language).collect();
    assert_eq!(languages, [Some(Language::En), None]);
}

#[test]
fn parse_invalid_characters() {
    let parsed = parse_ok(
        b"\xEF\xBB\xBFPersonalnummer;Nachname;Vorname;Telefon\n\
          1;M\xFCller;Hans;\n2;Roth;Mia;0621\x07\n",
    );
    assert_eq!(
        problem_codes(&parsed),
        [
            (2, Some("last_name"), "invalid_character"),
            (3, Some("phone"), "invalid_character"),
        ]
    );
    assert_eq!(parsed.problems[0].value.as_deref(), Some("M\u{FFFD}ller"));
}

#[test]
fn parse_problems_of_one_row_in_column_order() {
    let parsed = parse_rows(";Kaya;;a@b;;1.1.2020;1.1.2019;;;fr\n");
    assert_eq!(
        problem_codes(&parsed),
        [
            (2, Some("personnel_number"), "missing_value"),
            (2, Some("first_name"), "missing_value"),
            (2, Some("email"), "invalid_email"),
            (2, Some("exit_date"), "exit_before_entry"),
            (2, Some("language"), "invalid_language"),
        ]
    );
}

#[test]
fn parse_windows1252_keeps_umlauts() {
    let parsed = parse_ok(b"Personalnummer;Nachname;Vorname\r\n1;Wei\xDF;J\xFCrgen\r\n");
    assert_eq!(parsed.encoding, SourceEncoding::Windows1252);
    assert_eq!(parsed.rows[0].last_name, "Weiß");
    assert_eq!(parsed.rows[0].first_name, "Jürgen");
}

#[test]
fn parse_utf8_bom_header_is_recognised() {
    let parsed = parse_ok("\u{FEFF}Personalnummer,Nachname,Vorname\n1,Weiß,Jürgen\n".as_bytes());
    assert_eq!(parsed.encoding, SourceEncoding::Utf8Bom);
    assert_eq!(parsed.columns[0], Column::PersonnelNumber);
    assert_eq!(parsed.rows[0].last_name, "Weiß");
}

#[test]
fn parse_header_only_has_no_rows() {
    let parsed = parse_ok(b"Personalnummer;Nachname;Vorname\r\n\r\n");
    assert_eq!(parsed.row_count, 0);
    assert_eq!(parsed.rows, []);
}

#[test]
fn parse_empty_files() {
    for input in [
        &b""[..],
        b"   ",
        b"\r\n\n\t \r\n",
        b"\xEF\xBB\xBF",
        b"\xEF\xBB\xBF \n",
        b"\xA0\n",
    ] {
        assert_eq!(parse(input), Err(FileError::Empty), "{input:?}");
    }
}

#[test]
fn parse_no_header() {
    for input in [
        &b"\nPersonalnummer;Nachname;Vorname\n1;Kaya;Elif\n"[..],
        b";;;\nPersonalnummer;Nachname;Vorname\n",
        b"Mitarbeiterliste Stand 01.03.2024\nPersonalnummer;Nachname;Vorname\n",
        b"1;Kaya;Elif\n2;Roth;Mia\n",
    ] {
        assert_eq!(parse(input), Err(FileError::NoHeader), "{input:?}");
    }
}

#[test]
fn parse_missing_columns() {
    let result = parse(b"Name;E-Mail;Telefon\nKaya;e@k.de;0621\n");
    assert_eq!(
        result,
        Err(FileError::MissingColumns(vec![
            Column::PersonnelNumber,
            Column::FirstName
        ]))
    );
}

#[test]
fn parse_file_size_limit() {
    let header = "Personalnummer;Nachname;Vorname;Bemerkung\n1;Kaya;Elif;";
    let mut at_limit = header.as_bytes().to_vec();
    at_limit.resize(MAX_FILE_BYTES, b'x');
    let parsed = parse_ok(&at_limit);
    assert_eq!(parsed.rows.len(), 1);

    at_limit.push(b'x');
    assert_eq!(parse(&at_limit), Err(FileError::TooLarge));
}

#[test]
fn parse_row_limit() {
    let mut text = String::from("Personalnummer;Nachname;Vorname\n");
    for number in 1..=MAX_ROWS {
        text.push_str(&format!("{number};Kaya;Elif\n\n"));
    }
    let parsed = parse_ok(text.as_bytes());
    assert_eq!(parsed.row_count, MAX_ROWS);
    assert_eq!(parsed.rows.len(), MAX_ROWS);
    assert_eq!(parsed.rows.last().map(|row| row.line), Some(2 * MAX_ROWS));

    text.push_str("10001;Kaya;Elif\n");
    assert_eq!(parse(text.as_bytes()), Err(FileError::TooManyRows));
}

#[test]
fn parse_serializes_codes() -> Result<(), serde_json::Error> {
    let parsed =
        parse_ok(b"Personalnummer;Nachname;Vorname;Sprache\n1;Kaya;Elif;de\n1;Roth;Mia;en\n");
    let json = serde_json::to_value(&parsed)?;
    assert_eq!(
        json["columns"],
        serde_json::json!(["personnel_number", "last_name", "first_name", "language"])
    );
    assert_eq!(json["encoding"], "utf8");
    assert_eq!(json["delimiter"], 59);
    assert_eq!(json["rows"][0]["language"], "de");
    assert_eq!(
        json["problems"][0],
        serde_json::json!({
            "line": 3,
            "column": "personnel_number",
            "kind": {"code": "duplicate_personnel_number", "first_line": 2},
            "value": "1",
        })
    );

    let error = serde_json::to_value(FileError::MissingColumns(vec![Column::LastName]))?;
    assert_eq!(
        error,
        serde_json::json!({"code": "missing_columns", "detail": ["last_name"]})
    );
    let error = serde_json::to_value(FileError::Empty)?;
    assert_eq!(error, serde_json::json!({"code": "empty"}));
    Ok(())
}

/// Checks invariants that hold for every successful parse: each data row is either valid or
/// has problems, and rows and problems are in line order.
fn assert_consistent(parsed: &ParsedImport) {
    let mut problem_lines: Vec<usize> = parsed.problems.iter().map(|p| p.line).collect();
    assert!(problem_lines.is_sorted(), "problems out of order");
    problem_lines.dedup();
    assert!(row_lines(parsed).is_sorted(), "rows out of order");
    assert_eq!(parsed.rows.len() + problem_lines.len(), parsed.row_count);
}

/// Deterministic xorshift64 generator, so that a failing input can be reproduced.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn parse_random_bytes_never_panics() {
    let mut random = Xorshift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let length = (random.next() % 2000) as usize;
        let bytes: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
        if let Ok(parsed) = parse(&bytes) {
            assert_consistent(&parsed);
        }
    }
}

#[test]
fn parse_random_csv_like_text_never_panics() {
    let alphabet: &[&[u8]] = &[
        b";",
        b",",
        b"\t",
        b"\"",
        b"\r",
        b"\n",
        b"\r\n",
        b"=\"",
        b" ",
        b"1",
        b"a",
        b"@",
        b".",
        b"-",
        b"\xFC",
        b"\xC3\xBC",
        b"\xEF\xBB\xBF",
        b"Personalnummer",
        b"Nachname",
        b"Vorname",
        b"E-Mail",
        b"Eintritt",
        b"Austritt",
        b"Sprache",
        b"01.03.2024",
        b"de",
    ];
    let mut random = Xorshift(0x2545_F491_4F6C_DD1D);
    for _ in 0..2000 {
        let header: &[u8] = if random.next().is_multiple_of(2) {
            b"Personalnummer;Nachname;Vorname;E-Mail;Eintritt;Austritt;Sprache\n"
        } else {
            b""
        };
        let mut bytes = header.to_vec();
        for _ in 0..(random.next() % 60) {
            let index = (random.next() % alphabet.len() as u64) as usize;
            bytes.extend_from_slice(alphabet[index]);
        }
        if let Ok(parsed) = parse(&bytes) {
            assert_consistent(&parsed);
        }
    }
}

#[test]
fn parse_only_quotes_never_panics() {
    for length in [1, 2, 3, 4, 7, 10_000] {
        let bytes = vec![b'"'; length];
        let result = parse(&bytes);
        assert_eq!(result, Err(FileError::NoHeader), "{length} quotes");
    }
}

#[test]
fn parse_many_delimiters_never_panics() {
    let delimiters = ";".repeat(10_000);
    assert_eq!(parse(delimiters.as_bytes()), Err(FileError::NoHeader));

    let text = format!(
        "Personalnummer;Nachname;Vorname{delimiters}\n1;Kaya;Elif{delimiters}\n{delimiters}\n"
    );
    let parsed = parse_ok(text.as_bytes());
    assert_eq!(parsed.row_count, 1);
    assert_eq!(parsed.rows.len(), 1);

    let text = format!("Personalnummer;Nachname;Vorname\n1;Kaya;Elif{delimiters}x\n");
    let parsed = parse_ok(text.as_bytes());
    assert_eq!(
        parsed.problems[0].kind,
        ProblemKind::WrongFieldCount {
            expected: 3,
            found: 10_003
        }
    );
}

#[test]
fn parse_unterminated_quote_never_panics() {
    let parsed = parse_ok(b"Personalnummer;Nachname;Vorname\n1;\"Kaya;Elif\n2;Roth;Mia\n");
    assert_eq!(parsed.row_count, 1);
    assert_eq!(
        problem_codes(&parsed),
        [
            (2, Some("last_name"), "invalid_character"),
            (2, Some("first_name"), "missing_value"),
        ]
    );
}
