//! Recognition of the header line: which known column sits at which field position.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::FileError;

/// A column this crate recognises. Other columns in the file are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// "Personalnummer", required.
    PersonnelNumber,
    /// "Nachname", required.
    LastName,
    /// "Vorname", required.
    FirstName,
    Email,
    Phone,
    /// "Eintrittsdatum".
    EntryDate,
    /// "Austrittsdatum".
    ExitDate,
    /// "Filiale".
    Branch,
    /// "Abteilung".
    Department,
    Language,
}

impl Column {
    /// All columns in the order in which the problems of one row are reported.
    pub const ALL: [Column; 10] = [
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
    ];

    /// Columns without which `parse` returns `FileError::MissingColumns`.
    pub const REQUIRED: [Column; 3] =
        [Column::PersonnelNumber, Column::LastName, Column::FirstName];

    /// Stable snake_case identifier, also used as the serde name. The UI maps it to a label.
    pub fn code(&self) -> &'static str {
        match self {
            Column::PersonnelNumber => "personnel_number",
            Column::LastName => "last_name",
            Column::FirstName => "first_name",
            Column::Email => "email",
            Column::Phone => "phone",
            Column::EntryDate => "entry_date",
            Column::ExitDate => "exit_date",
            Column::Branch => "branch",
            Column::Department => "department",
            Column::Language => "language",
        }
    }

    /// Header names in the folded form produced by `header_key`.
    fn header_names(&self) -> &'static [&'static str] {
        match self {
            Column::PersonnelNumber => &[
                "personalnummer",
                "personalnr",
                "persnr",
                "mitarbeiternummer",
                "mitarbeiternr",
                "manr",
                "personnelnumber",
            ],
            Column::LastName => &["nachname", "name", "familienname", "lastname", "surname"],
            Column::FirstName => &["vorname", "firstname"],
            Column::Email => &["email", "emailadresse", "emailaddress", "mail"],
            Column::Phone => &[
                "telefon",
                "tel",
                "telefonnummer",
                "telnr",
                "mobil",
                "mobilnummer",
                "handy",
                "handynummer",
                "phone",
            ],
            Column::EntryDate => &["eintrittsdatum", "eintritt", "eintrittsdat", "entrydate"],
            Column::ExitDate => &["austrittsdatum", "austritt", "austrittsdat", "exitdate"],
            Column::Branch => &["filiale", "niederlassung", "standort", "branch"],
            Column::Department => &["abteilung", "bereich", "department"],
            Column::Language => &["sprache", "language"],
        }
    }

    /// Recognises a header cell, for example "Pers.-Nr." or "E-Mail-Adresse".
    fn from_header(cell: &str) -> Option<Column> {
        let key = header_key(cell);
        Column::ALL
            .into_iter()
            .find(|column| column.header_names().contains(&key.as_str()))
    }
}

/// Folds a header cell so that spelling variants compare equal: lower case, without
/// whitespace, dots, hyphens and underscores, and with ä, ö, ü, ß written as ae, oe, ue, ss.
fn header_key(cell: &str) -> String {
    let mut key = String::with_capacity(cell.len());
    for c in cell.nfc().flat_map(char::to_lowercase) {
        match c {
            'ä' => key.push_str("ae"),
            'ö' => key.push_str("oe"),
            'ü' => key.push_str("ue"),
            'ß' => key.push_str("ss"),
            '.' | '-' | '_' => {}
            c if c.is_whitespace() => {}
            c => key.push(c),
        }
    }
    key
}

/// Field positions of the recognised columns, taken from the header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderMap {
    field_count: usize,
    positions: Vec<(Column, usize)>,
}

impl HeaderMap {
    /// Maps the cleaned cells of the header line, given in file order.
    ///
    /// When two cells name the same column, the left one is used and the right one ignored.
    /// Returns `NoHeader` when no cell is recognised and `MissingColumns` when a required
    /// column is absent.
    pub(crate) fn from_cells<S: AsRef<str>>(
        cells: impl IntoIterator<Item = S>,
    ) -> Result<Self, FileError> {
        let mut positions: Vec<(Column, usize)> = Vec::new();
        let mut field_count = 0;
        for (position, cell) in cells.into_iter().enumerate() {
            field_count = position + 1;
            let Some(column) = Column::from_header(cell.as_ref()) else {
                continue;
            };
            // NOTE: a file with both "Name" (meant as the full name) and "Nachname" imports
            // "Name" as the last name, because the left duplicate wins without a warning.
            if positions.iter().all(|(known, _)| *known != column) {
                positions.push((column, position));
            }
        }

        if positions.is_empty() {
            return Err(FileError::NoHeader);
        }
        let missing: Vec<Column> = Column::REQUIRED
            .into_iter()
            .filter(|required| positions.iter().all(|(column, _)| column != required))
            .collect();
        if !missing.is_empty() {
            return Err(FileError::MissingColumns(missing));
        }

        Ok(HeaderMap {
            field_count,
            positions,
        })
    }

    /// Number of fields in the header line, including unrecognised and empty ones.
    pub(crate) fn field_count(&self) -> usize {
        self.field_count
    }

    /// Zero-based field position of `column`, if the file has it.
    pub(crate) fn position(&self, column: Column) -> Option<usize> {
        self.positions
            .iter()
            .find(|(known, _)| *known == column)
            .map(|(_, position)| *position)
    }

    /// Recognised columns in the order they appear in the file.
    pub(crate) fn columns(&self) -> Vec<Column> {
        self.positions.iter().map(|(column, _)| *column).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_variants_map_to_columns() {
        let cases = [
            ("Personalnummer", Column::PersonnelNumber),
            ("Personal-Nr.", Column::PersonnelNumber),
            ("Pers.-Nr.", Column::PersonnelNumber),
            ("PersNr", Column::PersonnelNumber),
            ("Personalnr", Column::PersonnelNumber),
            ("Mitarbeiternummer", Column::PersonnelNumber),
            ("MA-Nr", Column::PersonnelNumber),
            ("Personnel number", Column::PersonnelNumber),
            ("personnel_number", Column::PersonnelNumber),
            ("Nachname", Column::LastName),
            ("Name", Column::LastName),
            ("Familienname", Column::LastName),
            ("Last name", Column::LastName),
            ("Vorname", Column::FirstName),
            ("First Name", Column::FirstName),
            ("E-Mail", Column::Email),
            ("Email", Column::Email),
            ("E-Mail-Adresse", Column::Email),
            ("Mail", Column::Email),
            ("Telefon", Column::Phone),
            ("Tel.", Column::Phone),
            ("Telefonnummer", Column::Phone),
            ("Mobil", Column::Phone),
            ("Handy", Column::Phone),
            ("Phone", Column::Phone),
            ("Eintrittsdatum", Column::EntryDate),
            ("Eintritt", Column::EntryDate),
            ("Eintrittsdat.", Column::EntryDate),
            ("Entry date", Column::EntryDate),
            ("Austrittsdatum", Column::ExitDate),
            ("Austritt", Column::ExitDate),
            ("Exit date", Column::ExitDate),
            ("Filiale", Column::Branch),
            ("Niederlassung", Column::Branch),
            ("Standort", Column::Branch),
            ("Branch", Column::Branch),
            ("Abteilung", Column::Department),
            ("Bereich", Column::Department),
            ("Department", Column::Department),
            ("Sprache", Column::Language),
            ("Language", Column::Language),
        ];
        for (header, expected) in cases {
            assert_eq!(Column::from_header(header), Some(expected), "{header}");
        }
    }

    #[test]
    fn header_ignores_case_spaces_and_punctuation() {
        assert_eq!(
            Column::from_header("  PERS. - NR. "),
            Some(Column::PersonnelNumber)
        );
        assert_eq!(Column::from_header("e_mail"), Some(Column::Email));
        assert_eq!(
            Column::from_header("Vor\u{A0}name"),
            Some(Column::FirstName)
        );
    }

    #[test]
    fn header_umlaut_spellings_are_equal() {
        assert_eq!(header_key("Größe"), "groesse");
        assert_eq!(header_key("Groesse"), "groesse");
        assert_eq!(header_key("GRÖSSE"), "groesse");
        assert_eq!(header_key("Gro\u{308}ße"), "groesse");
    }

    #[test]
    fn header_unknown_names_are_none() {
        for header in ["", "Bemerkung", "Geburtsdatum", "Nummer", "Vornamen"] {
            assert_eq!(Column::from_header(header), None, "{header}");
        }
    }

    #[test]
    fn header_map_positions_and_order() {
        let header = ["Bemerkung", "Vorname", "Nachname", "", "Personalnummer"];
        let Ok(map) = HeaderMap::from_cells(header) else {
            panic!("header not recognised");
        };
        assert_eq!(map.field_count(), 5);
        assert_eq!(map.position(Column::FirstName), Some(1));
        assert_eq!(map.position(Column::LastName), Some(2));
        assert_eq!(map.position(Column::PersonnelNumber), Some(4));
        assert_eq!(map.position(Column::Email), None);
        assert_eq!(
            map.columns(),
            vec![Column::FirstName, Column::LastName, Column::PersonnelNumber]
        );
    }

    #[test]
    fn header_map_left_duplicate_wins() {
        let header = ["Personalnummer", "Name", "Vorname", "Nachname"];
        let Ok(map) = HeaderMap::from_cells(header) else {
            panic!("header not recognised");
        };
        assert_eq!(map.position(Column::LastName), Some(1));
        assert_eq!(
            map.columns(),
            vec![Column::PersonnelNumber, Column::LastName, Column::FirstName]
        );
    }

    #[test]
    fn header_map_lists_all_missing_required() {
        let result = HeaderMap::from_cells(["E-Mail", "Filiale"]);
        assert_eq!(
            result,
            Err(FileError::MissingColumns(vec![
                Column::PersonnelNumber,
                Column::LastName,
                Column::FirstName,
            ]))
        );
        let result = HeaderMap::from_cells(["Vorname", "Pers.-Nr."]);
        assert_eq!(
            result,
            Err(FileError::MissingColumns(vec![Column::LastName]))
        );
    }

    #[test]
    fn header_map_without_known_columns_is_no_header() {
        let result = HeaderMap::from_cells(["Mitarbeiterliste Stand 01.03.2024"]);
        assert_eq!(result, Err(FileError::NoHeader));
    }

    #[test]
    fn column_codes_are_snake_case() {
        let codes: Vec<&str> = Column::ALL.iter().map(Column::code).collect();
        assert_eq!(
            codes,
            [
                "personnel_number",
                "last_name",
                "first_name",
                "email",
                "phone",
                "entry_date",
                "exit_date",
                "branch",
                "department",
                "language",
            ]
        );
    }
}
