//! Matching of validated CSV rows against the tenant's stored employees and organization tree:
//! which employees the import creates, which fields it changes, and which branches and
//! departments it adds. Nothing here writes; [`super::apply`] carries out a plan.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use mep24web_employee_import::{Column, ImportRow, Language, ParsedImport, Problem, ProblemKind};
use mep24web_entities::{employee, org_unit};
use mep24web_platform::db::Scoped;
use sea_orm::{ConnectionTrait, DbErr, QueryOrder};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The tenant's organization tree and employees as read before planning.
pub struct Snapshot {
    root: org_unit::Model,
    units: HashMap<i64, org_unit::Model>,
    /// Branches under the root, by lower-cased name.
    branches: HashMap<String, i64>,
    /// Departments by parent branch id and lower-cased name.
    departments: HashMap<(i64, String), i64>,
    employees: HashMap<String, employee::Model>,
}

impl Snapshot {
    /// Reads the organization tree and all employees of the scope's tenant.
    ///
    /// NOTE: this loads every employee of the tenant, which is fine for the tens of thousands
    /// a tenant has, but grows with the tenant rather than with the file.
    pub async fn load<C: ConnectionTrait>(scope: &Scoped<'_, C>) -> Result<Self, DbErr> {
        let units = scope
            .find::<org_unit::Entity>()
            .order_by_asc(org_unit::Column::Id)
            .all(scope.conn())
            .await?;
        let employees = scope.find::<employee::Entity>().all(scope.conn()).await?;
        Self::from_rows(units, employees)
            .ok_or_else(|| DbErr::RecordNotFound("organization root of the tenant".to_owned()))
    }

    /// Builds the lookup tables; returns `None` when the tree has no organization root.
    pub fn from_rows(units: Vec<org_unit::Model>, employees: Vec<employee::Model>) -> Option<Self> {
        let root = units
            .iter()
            .find(|unit| unit.kind == "organization" && unit.parent_id.is_none())?
            .clone();
        let mut branches = HashMap::new();
        let mut departments = HashMap::new();
        for unit in &units {
            let key = name_key(&unit.name);
            match (unit.kind.as_str(), unit.parent_id) {
                ("branch", Some(parent)) if parent == root.id => {
                    branches.entry(key).or_insert(unit.id);
                }
                ("department", Some(parent)) => {
                    departments.entry((parent, key)).or_insert(unit.id);
                }
                _ => {}
            }
        }
        Some(Self {
            root,
            units: units.into_iter().map(|unit| (unit.id, unit)).collect(),
            branches,
            departments,
            employees: employees
                .into_iter()
                .map(|employee| (employee.personnel_number.clone(), employee))
                .collect(),
        })
    }

    pub fn root(&self) -> &org_unit::Model {
        &self.root
    }

    pub fn unit(&self, id: i64) -> Option<&org_unit::Model> {
        self.units.get(&id)
    }
}

/// Branch and department names match ignoring case.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A node of the organization tree that exists or that the import creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum UnitRef {
    Existing(i64),
    /// Index into [`Plan::new_units`].
    New(usize),
}

/// A branch or department the import creates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewUnit {
    /// `branch` or `department`, as stored in `org_units.kind`.
    pub kind: &'static str,
    /// The name as first written in the file.
    pub name: String,
    pub parent: UnitRef,
}

/// An employee field the import can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    LastName,
    FirstName,
    Email,
    Phone,
    EntryDate,
    ExitDate,
    OrgUnit,
    Language,
}

impl Field {
    /// Stable identifier, also the suffix of the label's locale key `import.column.<code>`.
    pub fn code(self) -> &'static str {
        match self {
            Field::LastName => "last_name",
            Field::FirstName => "first_name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::EntryDate => "entry_date",
            Field::ExitDate => "exit_date",
            Field::OrgUnit => "org_unit",
            Field::Language => "language",
        }
    }
}

/// A field value before or after the import, kept typed so the view can format it per locale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Value {
    Text(Option<String>),
    Date(Option<NaiveDate>),
    /// `de` or `en`.
    Language(String),
    Unit(UnitRef),
}

/// One changed field of an existing employee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: Field,
    pub old: Value,
    pub new: Value,
}

/// The import's action for one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Action {
    Create,
    Update { id: i64, changes: Vec<Change> },
    Unchanged { id: i64 },
}

/// A valid row with its target node and action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedRow {
    pub row: ImportRow,
    /// The employee's node after the import.
    pub unit: UnitRef,
    pub action: Action,
}

/// A problem that blocks the import: one the parser reported, or one that only shows when
/// rows are matched against the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub line: usize,
    pub column: Option<Column>,
    /// Suffix of the message's locale key `import.problem.<code>`.
    pub code: &'static str,
    /// Placeholders of the message: `value` and the fields of the problem kind.
    pub args: Vec<(&'static str, String)>,
}

impl From<&Problem> for RowProblem {
    fn from(problem: &Problem) -> Self {
        let mut args = Vec::new();
        if let Some(value) = &problem.value {
            args.push(("value", value.clone()));
        }
        match &problem.kind {
            ProblemKind::DuplicatePersonnelNumber { first_line } => {
                args.push(("first_line", first_line.to_string()));
            }
            ProblemKind::WrongFieldCount { expected, found } => {
                args.push(("expected", expected.to_string()));
                args.push(("found", found.to_string()));
            }
            ProblemKind::TooLong { max } => args.push(("max", max.to_string())),
            _ => {}
        }
        Self {
            line: problem.line,
            column: problem.column,
            code: problem.kind.code(),
            args,
        }
    }
}

/// Everything the import would do, computed without writing.
#[derive(Clone, Debug)]
pub struct Plan {
    pub rows: Vec<PlannedRow>,
    /// Branches come before their departments, so a parent is always created first.
    pub new_units: Vec<NewUnit>,
    /// Ordered by line. Any problem blocks the whole import.
    pub problems: Vec<RowProblem>,
    /// Data rows in the file, with or without problems.
    pub row_count: usize,
}

impl Plan {
    /// Matches the parsed rows against the snapshot.
    ///
    /// Columns missing from the file leave the stored value alone. An empty cell in a present
    /// column clears the value, except for the language, which keeps the stored one (new
    /// employees get German). Email addresses compare ignoring case, so a file that only
    /// changes the case of an address changes nothing.
    #[cfg(test)]
    pub fn build(parsed: &ParsedImport, snapshot: &Snapshot) -> Self {
        Self::build_all(parsed, snapshot)
    }

    fn build_all(parsed: &ParsedImport, snapshot: &Snapshot) -> Self {
        let mut builder = Builder {
            snapshot,
            columns: parsed.columns.iter().copied().collect(),
            new_units: Vec::new(),
            new_branches: HashMap::new(),
            new_departments: HashMap::new(),
        };
        let mut problems: Vec<RowProblem> = parsed.problems.iter().map(RowProblem::from).collect();
        let mut rows = Vec::with_capacity(parsed.rows.len());
        for row in &parsed.rows {
            let existing = snapshot.employees.get(&row.personnel_number);
            match builder.target(row, existing) {
                Ok(unit) => {
                    let action = match existing {
                        None => Action::Create,
                        Some(employee) => builder.compare(row, unit, employee),
                    };
                    rows.push(PlannedRow {
                        row: row.clone(),
                        unit,
                        action,
                    });
                }
                Err(problem) => problems.push(problem),
            }
        }
        // The sort is stable, so problems of one line keep the parser's column order.
        problems.sort_by_key(|problem| problem.line);
        Self {
            rows,
            new_units: builder.new_units,
            problems,
            row_count: parsed.row_count,
        }
    }

    /// Returns true when nothing blocks the import.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn count_new(&self) -> usize {
        self.rows
            .iter()
            .filter(|row| row.action == Action::Create)
            .count()
    }

    pub fn count_changed(&self) -> usize {
        self.rows
            .iter()
            .filter(|row| matches!(row.action, Action::Update { .. }))
            .count()
    }

    pub fn count_unchanged(&self) -> usize {
        self.rows
            .iter()
            .filter(|row| matches!(row.action, Action::Unchanged { .. }))
            .count()
    }

    /// Returns the number of distinct lines with at least one problem.
    pub fn count_problem_lines(&self) -> usize {
        self.problems
            .iter()
            .map(|problem| problem.line)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Returns a SHA-256 hex digest of the actions and new nodes. The confirm step compares it
    /// with the digest from the preview, so it never writes something other than what the
    /// planner saw, for example after someone else edited an employee in between.
    pub fn fingerprint(&self) -> String {
        let encoded = serde_json::to_vec(&(&self.rows, &self.new_units)).unwrap_or_default();
        hex::encode(Sha256::digest(encoded))
    }
}

/// State of one planning run: the new nodes found so far, so rows naming the same new branch
/// share it.
struct Builder<'s> {
    snapshot: &'s Snapshot,
    columns: BTreeSet<Column>,
    new_units: Vec<NewUnit>,
    new_branches: HashMap<String, usize>,
    new_departments: HashMap<(UnitRef, String), usize>,
}

impl Builder<'_> {
    /// Returns the node the employee of this row belongs to after the import.
    ///
    /// A file without both columns leaves the node alone: existing employees stay, and new
    /// ones go to the organization root. Without a department column, an employee who sits
    /// in a department of the named branch stays there.
    fn target(
        &mut self,
        row: &ImportRow,
        existing: Option<&employee::Model>,
    ) -> Result<UnitRef, RowProblem> {
        let root = UnitRef::Existing(self.snapshot.root.id);
        let has_branch_column = self.columns.contains(&Column::Branch);
        let has_department_column = self.columns.contains(&Column::Department);
        if !has_branch_column && !has_department_column {
            return Ok(existing.map_or(root, |employee| UnitRef::Existing(employee.org_unit_id)));
        }
        match (&row.branch, &row.department) {
            (None, None) => Ok(root),
            (None, Some(department)) => Err(RowProblem {
                line: row.line,
                column: Some(Column::Department),
                code: "department_without_branch",
                args: vec![("value", department.clone())],
            }),
            (Some(branch), None) => {
                let branch = self.branch(branch);
                if let (false, Some(employee), UnitRef::Existing(branch_id)) =
                    (has_department_column, existing, branch)
                {
                    let current = self.snapshot.unit(employee.org_unit_id);
                    if current.is_some_and(|unit| unit.parent_id == Some(branch_id)) {
                        return Ok(UnitRef::Existing(employee.org_unit_id));
                    }
                }
                Ok(branch)
            }
            (Some(branch), Some(department)) => {
                let branch = self.branch(branch);
                Ok(self.department(branch, department))
            }
        }
    }

    fn branch(&mut self, name: &str) -> UnitRef {
        let key = name_key(name);
        if let Some(id) = self.snapshot.branches.get(&key) {
            return UnitRef::Existing(*id);
        }
        if let Some(index) = self.new_branches.get(&key) {
            return UnitRef::New(*index);
        }
        let index = self.push_unit("branch", name, UnitRef::Existing(self.snapshot.root.id));
        self.new_branches.insert(key, index);
        UnitRef::New(index)
    }

    fn department(&mut self, branch: UnitRef, name: &str) -> UnitRef {
        let key = name_key(name);
        if let UnitRef::Existing(branch_id) = branch
            && let Some(id) = self.snapshot.departments.get(&(branch_id, key.clone()))
        {
            return UnitRef::Existing(*id);
        }
        if let Some(index) = self.new_departments.get(&(branch, key.clone())) {
            return UnitRef::New(*index);
        }
        let index = self.push_unit("department", name, branch);
        self.new_departments.insert((branch, key), index);
        UnitRef::New(index)
    }

    fn push_unit(&mut self, kind: &'static str, name: &str, parent: UnitRef) -> usize {
        self.new_units.push(NewUnit {
            kind,
            name: name.trim().to_owned(),
            parent,
        });
        self.new_units.len() - 1
    }

    /// Lists the fields the row changes on the stored employee.
    fn compare(&self, row: &ImportRow, unit: UnitRef, employee: &employee::Model) -> Action {
        let mut changes = Vec::new();
        let mut text = |field: Field, old: &String, new: &String| {
            if old != new {
                changes.push(Change {
                    field,
                    old: Value::Text(Some(old.clone())),
                    new: Value::Text(Some(new.clone())),
                });
            }
        };
        text(Field::LastName, &employee.last_name, &row.last_name);
        text(Field::FirstName, &employee.first_name, &row.first_name);

        if self.columns.contains(&Column::Email) && !same_email(&employee.email, &row.email) {
            changes.push(Change {
                field: Field::Email,
                old: Value::Text(employee.email.clone()),
                new: Value::Text(row.email.clone()),
            });
        }
        if self.columns.contains(&Column::Phone) && employee.phone != row.phone {
            changes.push(Change {
                field: Field::Phone,
                old: Value::Text(employee.phone.clone()),
                new: Value::Text(row.phone.clone()),
            });
        }
        let dates = [
            (
                Column::EntryDate,
                Field::EntryDate,
                employee.entry_date,
                row.entry_date,
            ),
            (
                Column::ExitDate,
                Field::ExitDate,
                employee.exit_date,
                row.exit_date,
            ),
        ];
        for (column, field, old, new) in dates {
            if self.columns.contains(&column) && old != new {
                changes.push(Change {
                    field,
                    old: Value::Date(old),
                    new: Value::Date(new),
                });
            }
        }
        if unit != UnitRef::Existing(employee.org_unit_id) {
            changes.push(Change {
                field: Field::OrgUnit,
                old: Value::Unit(UnitRef::Existing(employee.org_unit_id)),
                new: Value::Unit(unit),
            });
        }
        if let Some(language) = row.language {
            let code = language_code(language);
            if employee.language != code {
                changes.push(Change {
                    field: Field::Language,
                    old: Value::Language(employee.language.clone()),
                    new: Value::Language(code.to_owned()),
                });
            }
        }

        if changes.is_empty() {
            Action::Unchanged { id: employee.id }
        } else {
            Action::Update {
                id: employee.id,
                changes,
            }
        }
    }
}

fn same_email(stored: &Option<String>, file: &Option<String>) -> bool {
    match (stored, file) {
        (Some(stored), Some(file)) => stored.trim().to_lowercase() == file.to_lowercase(),
        (None, None) => true,
        _ => false,
    }
}

/// Returns the code stored in `employees.language`.
pub fn language_code(language: Language) -> &'static str {
    match language {
        Language::De => "de",
        Language::En => "en",
    }
}

mod reach;
#[cfg(test)]
mod tests;
