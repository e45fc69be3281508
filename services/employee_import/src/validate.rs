//! Validation of data rows against the recognised columns.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::NaiveDate;

use crate::dates::parse_date;
use crate::email::is_valid_email;
use crate::headers::HeaderMap;
use crate::records::Record;
use crate::{Column, ImportRow, Language, Problem, ProblemKind};

const MAX_PERSONNEL_NUMBER_CHARS: usize = 32;
const MAX_NAME_CHARS: usize = 100;
const MAX_PHONE_CHARS: usize = 40;
const MAX_ORGANIZATION_UNIT_CHARS: usize = 100;

/// Validates the data rows of one file and remembers personnel numbers across them.
#[derive(Debug, Default)]
pub(crate) struct Validator {
    first_lines: HashMap<String, usize>,
}

impl Validator {
    /// Validates a non-blank data row.
    ///
    /// A row with a wrong field count gets only that problem, because its cells may have
    /// shifted. Otherwise each cell gets at most one problem, in the order of `Column::ALL`.
    /// A valid personnel number is remembered for the duplicate check even when other cells
    /// of its row have problems.
    pub(crate) fn check(
        &mut self,
        header: &HeaderMap,
        record: &Record<'_>,
    ) -> Result<ImportRow, Vec<Problem>> {
        if let Some(problem) = field_count_problem(header, record) {
            return Err(vec![problem]);
        }

        let mut row = RowCheck {
            header,
            record,
            problems: Vec::new(),
        };

        let personnel_number = row.text(Column::PersonnelNumber, true, MAX_PERSONNEL_NUMBER_CHARS);
        if let Some(number) = &personnel_number {
            self.check_duplicate(&mut row, number);
        }
        let last_name = row.text(Column::LastName, true, MAX_NAME_CHARS);
        let first_name = row.text(Column::FirstName, true, MAX_NAME_CHARS);
        let email = row.email();
        let phone = row.text(Column::Phone, false, MAX_PHONE_CHARS);
        let entry_date = row.date(Column::EntryDate);
        let exit_date = row.date(Column::ExitDate);
        row.check_date_order(entry_date, exit_date);
        let branch = row.text(Column::Branch, false, MAX_ORGANIZATION_UNIT_CHARS);
        let department = row.text(Column::Department, false, MAX_ORGANIZATION_UNIT_CHARS);
        let language = row.language();

        let (Some(personnel_number), Some(last_name), Some(first_name)) =
            (personnel_number, last_name, first_name)
        else {
            return Err(row.problems);
        };
        if !row.problems.is_empty() {
            return Err(row.problems);
        }

        Ok(ImportRow {
            line: record.line,
            personnel_number,
            last_name,
            first_name,
            email,
            phone,
            entry_date,
            exit_date,
            branch,
            department,
            language,
        })
    }

    fn check_duplicate(&mut self, row: &mut RowCheck<'_>, number: &str) {
        match self.first_lines.entry(number.to_owned()) {
            Entry::Occupied(first) => {
                let kind = ProblemKind::DuplicatePersonnelNumber {
                    first_line: *first.get(),
                };
                row.report(Column::PersonnelNumber, kind, Some(number));
            }
            Entry::Vacant(slot) => {
                slot.insert(row.record.line);
            }
        }
    }
}

/// Rows may lack trailing fields, and may have extra fields only if those are empty.
fn field_count_problem(header: &HeaderMap, record: &Record<'_>) -> Option<Problem> {
    let expected = header.field_count();
    if !record.has_content_from(expected) {
        return None;
    }
    let found = record.field_count();
    let kind = ProblemKind::WrongFieldCount { expected, found };
    Some(Problem::row(record.line, kind))
}

/// Problems collected while reading the cells of one row.
struct RowCheck<'a> {
    header: &'a HeaderMap,
    record: &'a Record<'a>,
    problems: Vec<Problem>,
}

impl RowCheck<'_> {
    /// Returns the non-empty cell of `column`, or `None` if the file lacks the column, the row
    /// lacks the field or the cell is empty.
    fn cell(&self, column: Column) -> Option<String> {
        let position = self.header.position(column)?;
        let value = self.record.cell(position)?;
        if value.is_empty() { None } else { Some(value) }
    }

    fn report(&mut self, column: Column, kind: ProblemKind, value: Option<&str>) {
        let problem = Problem::cell(self.record.line, column, kind, value);
        self.problems.push(problem);
    }

    /// Returns the cell as text, or `None` when it is empty or has a problem.
    fn text(&mut self, column: Column, required: bool, max_chars: usize) -> Option<String> {
        let Some(value) = self.cell(column) else {
            if required {
                self.report(column, ProblemKind::MissingValue, None);
            }
            return None;
        };
        let value = value.to_owned();

        if value
            .chars()
            .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER)
        {
            self.report(column, ProblemKind::InvalidCharacter, Some(&value));
            return None;
        }
        if value.chars().count() > max_chars {
            let kind = ProblemKind::TooLong { max: max_chars };
            self.report(column, kind, Some(&value));
            return None;
        }
        Some(value)
    }

    fn email(&mut self) -> Option<String> {
        let value = self.cell(Column::Email)?;
        if is_valid_email(&value) {
            return Some(value);
        }
        self.report(Column::Email, ProblemKind::InvalidEmail, Some(&value));
        None
    }

    fn date(&mut self, column: Column) -> Option<NaiveDate> {
        let value = self.cell(column)?;
        let date = parse_date(&value);
        if date.is_none() {
            self.report(column, ProblemKind::InvalidDate, Some(&value));
        }
        date
    }

    fn check_date_order(&mut self, entry: Option<NaiveDate>, exit: Option<NaiveDate>) {
        let (Some(entry), Some(exit)) = (entry, exit) else {
            return;
        };
        if exit < entry {
            let value = self.cell(Column::ExitDate);
            self.report(
                Column::ExitDate,
                ProblemKind::ExitBeforeEntry,
                value.as_deref(),
            );
        }
    }

    fn language(&mut self) -> Option<Language> {
        let value = self.cell(Column::Language)?;
        let language = Language::from_cell(&value);
        if language.is_none() {
            self.report(Column::Language, ProblemKind::InvalidLanguage, Some(&value));
        }
        language
    }
}
