//! Turning a parsed file and its plan into the values the upload and preview templates show,
//! with every label and message taken from the locale files.

use mep24web_employee_import::{
    Column, FileError, MAX_FILE_BYTES, MAX_ROWS, ParsedImport, SourceEncoding,
};
use mep24web_platform::i18n::{self, Locale};
use serde::Serialize;

use super::plan::{Action, Plan, RowProblem, Snapshot, UnitRef, Value};

/// A problem as one line of the problem table.
#[derive(Debug, Serialize)]
pub struct ProblemView {
    pub line: usize,
    pub column: String,
    pub message: String,
}

/// A changed field with its old and new value.
#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A row of the preview table.
#[derive(Debug, Serialize)]
pub struct RowView {
    pub line: usize,
    pub personnel_number: String,
    pub name: String,
    pub unit: String,
    /// `new`, `changed` or `unchanged`, which also picks the status style.
    pub action: &'static str,
    pub changes: Vec<ChangeView>,
}

/// A branch or department the import creates.
#[derive(Debug, Serialize)]
pub struct NewUnitView {
    pub kind: String,
    pub path: String,
}

/// Everything the preview page shows besides the hidden fields.
#[derive(Debug, Serialize)]
pub struct PreviewView {
    pub row_count: usize,
    pub count_new: usize,
    pub count_changed: usize,
    pub count_unchanged: usize,
    pub count_problem_lines: usize,
    pub encoding: String,
    pub delimiter: String,
    pub problems: Vec<ProblemView>,
    pub new_units: Vec<NewUnitView>,
    pub rows: Vec<RowView>,
}

/// Builds the preview of a plan in the request's locale.
pub fn preview(parsed: &ParsedImport, plan: &Plan, snapshot: &Snapshot) -> PreviewView {
    let locale = i18n::current_locale();
    let paths = UnitPaths { plan, snapshot };
    PreviewView {
        row_count: plan.row_count,
        count_new: plan.count_new(),
        count_changed: plan.count_changed(),
        count_unchanged: plan.count_unchanged(),
        count_problem_lines: plan.count_problem_lines(),
        encoding: encoding_label(locale, parsed.encoding),
        delimiter: delimiter_label(locale, parsed.delimiter),
        problems: plan
            .problems
            .iter()
            .map(|problem| problem_view(locale, problem))
            .collect(),
        new_units: plan
            .new_units
            .iter()
            .enumerate()
            .map(|(index, unit)| NewUnitView {
                kind: i18n::text(locale, &format!("import.unit_kind.{}", unit.kind)),
                path: paths.path(UnitRef::New(index)),
            })
            .collect(),
        rows: plan
            .rows
            .iter()
            .map(|planned| {
                let (action, changes) = match &planned.action {
                    Action::Create => ("new", Vec::new()),
                    Action::Unchanged { .. } => ("unchanged", Vec::new()),
                    Action::Update { changes, .. } => (
                        "changed",
                        changes
                            .iter()
                            .map(|change| ChangeView {
                                field: column_label(locale, change.field.code()),
                                old: paths.value(locale, &change.old),
                                new: paths.value(locale, &change.new),
                            })
                            .collect(),
                    ),
                };
                RowView {
                    line: planned.row.line,
                    personnel_number: planned.row.personnel_number.clone(),
                    name: format!("{} {}", planned.row.first_name, planned.row.last_name),
                    unit: paths.path(planned.unit),
                    action,
                    changes,
                }
            })
            .collect(),
    }
}

/// Returns the message for a file that cannot be imported at all.
pub fn file_error_message(locale: Locale, error: &FileError) -> String {
    let key = format!("import.file_error.{}", error.code());
    match error {
        FileError::MissingColumns(columns) => {
            let names: Vec<String> = columns
                .iter()
                .map(|column| column_label(locale, column.code()))
                .collect();
            i18n::text_with(locale, &key, &[("columns", &names.join(", "))])
        }
        _ => limit_message(locale, &key),
    }
}

/// Returns a message that may name the size and row limits.
pub fn limit_message(locale: Locale, key: &str) -> String {
    i18n::text_with(
        locale,
        key,
        &[
            ("max_mb", &max_megabytes().to_string()),
            ("max_rows", &i18n::format_integer(locale, MAX_ROWS)),
        ],
    )
}

/// Returns the size limit in whole MiB, the unit the page shows as "MB".
pub fn max_megabytes() -> usize {
    MAX_FILE_BYTES / (1024 * 1024)
}

/// A column of the format explanation on the upload page.
#[derive(Debug, Serialize)]
pub struct ColumnHelp {
    pub label: String,
    pub required: bool,
    pub aliases: String,
    pub content: String,
}

/// Lists the recognised columns with their header names, in the order of a typical file.
pub fn column_help(locale: Locale) -> Vec<ColumnHelp> {
    Column::ALL
        .iter()
        .map(|column| ColumnHelp {
            label: column_label(locale, column.code()),
            required: Column::REQUIRED.contains(column),
            aliases: i18n::text(locale, &format!("import.column_aliases.{}", column.code())),
            content: i18n::text(locale, &format!("import.column_content.{}", column.code())),
        })
        .collect()
}

fn column_label(locale: Locale, code: &str) -> String {
    i18n::text(locale, &format!("import.column.{code}"))
}

fn problem_view(locale: Locale, problem: &RowProblem) -> ProblemView {
    let column = match problem.column {
        Some(column) => column_label(locale, column.code()),
        None => i18n::text(locale, "import.whole_row"),
    };
    let args: Vec<(&str, &str)> = problem
        .args
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let key = format!("import.problem.{}", problem.code);
    let mut message = i18n::text_with(locale, &key, &args);
    if message == key {
        // A problem kind newer than the locale files still gets a readable line.
        message = i18n::text_with(locale, "import.problem.unknown", &[("code", problem.code)]);
    }
    ProblemView {
        line: problem.line,
        column,
        message,
    }
}

fn encoding_label(locale: Locale, encoding: SourceEncoding) -> String {
    let key = match encoding {
        SourceEncoding::Utf8 => "import.encoding_utf8",
        SourceEncoding::Utf8Bom => "import.encoding_utf8_bom",
        SourceEncoding::Windows1252 => "import.encoding_windows1252",
    };
    i18n::text(locale, key)
}

fn delimiter_label(locale: Locale, delimiter: u8) -> String {
    let key = match delimiter {
        b';' => "import.delimiter_semicolon",
        b',' => "import.delimiter_comma",
        _ => "import.delimiter_tab",
    };
    i18n::text(locale, key)
}

/// Display names of nodes, existing or planned, as "Branch / Department".
struct UnitPaths<'a> {
    plan: &'a Plan,
    snapshot: &'a Snapshot,
}

impl UnitPaths<'_> {
    /// Returns the names from the branch down, or the organization's name for the root itself.
    fn path(&self, unit: UnitRef) -> String {
        let root = UnitRef::Existing(self.snapshot.root().id);
        if unit == root {
            return self.snapshot.root().name.clone();
        }
        let mut names = Vec::new();
        let mut current = Some(unit);
        // The depth bound guards against a cycle in stored parent ids.
        for _ in 0..8 {
            let Some(unit) = current.filter(|unit| *unit != root) else {
                break;
            };
            current = match unit {
                UnitRef::New(index) => self.plan.new_units.get(index).map(|new| {
                    names.push(new.name.clone());
                    new.parent
                }),
                UnitRef::Existing(id) => self.snapshot.unit(id).and_then(|stored| {
                    names.push(stored.name.clone());
                    stored.parent_id.map(UnitRef::Existing)
                }),
            };
        }
        names.reverse();
        names.join(" / ")
    }

    fn value(&self, locale: Locale, value: &Value) -> String {
        let empty = || i18n::text(locale, "import.empty_value");
        match value {
            Value::Text(Some(text)) => text.clone(),
            Value::Date(Some(date)) => date.format("%d.%m.%Y").to_string(),
            Value::Text(None) | Value::Date(None) => empty(),
            Value::Language(code) => i18n::text(locale, &format!("import.language_{code}")),
            Value::Unit(unit) => self.path(*unit),
        }
    }
}
