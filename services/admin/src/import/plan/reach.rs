//! Limiting a plan to the part of the organization a planner may edit. The preview of a file
//! with rows outside that part lists the problems but shows no stored value from outside it.

use std::collections::HashMap;

use mep24web_employee_import::{Column, ParsedImport};
use mep24web_platform::rights::Reach;

use super::{Action, Plan, RowProblem, Snapshot, UnitRef, Value};

impl Plan {
    /// Plans the import like [`Plan::build`] for a planner whose right to edit master data
    /// covers only `reach`: a row that changes an employee outside it, or puts an employee
    /// into a node outside it (or into a new node below one outside it), is a problem.
    ///
    /// Such a row is also left out of [`Plan::rows`], and a new node below a node outside the
    /// reach is left out of [`Plan::new_units`]. Otherwise the preview would show the stored
    /// fields of an employee outside the reach or mark a guessed row as unchanged. It would also
    /// show whether a branch or department of some name exists there.
    pub fn build_within(parsed: &ParsedImport, snapshot: &Snapshot, reach: &Reach) -> Self {
        let mut plan = Self::build_all(parsed, snapshot);
        if reach.is_everything() {
            return plan;
        }
        let mut outside = Vec::new();
        let mut inside = Vec::with_capacity(plan.rows.len());
        for planned in std::mem::take(&mut plan.rows) {
            let existing = snapshot.employees.get(&planned.row.personnel_number);
            if existing.is_some_and(|employee| !reach.contains(employee.org_unit_id)) {
                outside.push(RowProblem {
                    line: planned.row.line,
                    column: Some(Column::PersonnelNumber),
                    code: "employee_outside_reach",
                    args: vec![("value", planned.row.personnel_number.clone())],
                });
            } else if !reach.contains(plan.existing_ancestor(planned.unit)) {
                outside.push(RowProblem {
                    line: planned.row.line,
                    column: Some(Column::Branch),
                    code: "unit_outside_reach",
                    args: vec![("value", planned.row.branch.clone().unwrap_or_default())],
                });
            } else {
                inside.push(planned);
            }
        }
        plan.rows = inside;
        if !outside.is_empty() {
            plan.keep_new_units_within(reach);
            plan.problems.extend(outside);
            plan.problems.sort_by_key(|problem| problem.line);
        }
        plan
    }

    /// Returns the node itself for an existing node, and the nearest existing node above it
    /// for a node the import creates.
    fn existing_ancestor(&self, unit: UnitRef) -> i64 {
        let mut current = unit;
        // New nodes point at earlier entries or existing nodes, so this ends; the bound is a
        // guard against a planning bug.
        for _ in 0..=self.new_units.len() {
            match current {
                UnitRef::Existing(id) => return id,
                UnitRef::New(index) => match self.new_units.get(index) {
                    Some(unit) => current = unit.parent,
                    None => break,
                },
            }
        }
        0
    }

    /// Drops the new nodes whose nearest existing node lies outside the reach, and renumbers
    /// the references of the remaining rows and nodes. A kept node's parent is kept too,
    /// because both have the same nearest existing node.
    fn keep_new_units_within(&mut self, reach: &Reach) {
        let inside: Vec<bool> = (0..self.new_units.len())
            .map(|index| reach.contains(self.existing_ancestor(UnitRef::New(index))))
            .collect();
        let mut numbers = HashMap::new();
        let mut kept = Vec::new();
        for (index, (mut unit, inside)) in std::mem::take(&mut self.new_units)
            .into_iter()
            .zip(inside)
            .enumerate()
        {
            if inside {
                unit.parent = renumber(unit.parent, &numbers);
                numbers.insert(index, kept.len());
                kept.push(unit);
            }
        }
        self.new_units = kept;
        for planned in &mut self.rows {
            planned.unit = renumber(planned.unit, &numbers);
            if let Action::Update { changes, .. } = &mut planned.action {
                for change in changes {
                    for value in [&mut change.old, &mut change.new] {
                        if let Value::Unit(unit) = value {
                            *unit = renumber(*unit, &numbers);
                        }
                    }
                }
            }
        }
    }
}

/// Returns the reference with the new index of a kept new node.
fn renumber(unit: UnitRef, numbers: &HashMap<usize, usize>) -> UnitRef {
    match unit {
        UnitRef::New(index) => numbers
            .get(&index)
            .map_or(unit, |number| UnitRef::New(*number)),
        UnitRef::Existing(_) => unit,
    }
}
