//! The level an invitation list belongs to (the organization or one branch) and its employees
//! with their portal status.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use mep24web_entities::{account, employee, invitation, org_unit};
use mep24web_platform::Error;
use mep24web_platform::db::Scoped;
use mep24web_platform::rights::Reach;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QueryOrder};

use super::status::PortalStatus;

/// Ids per `IN (...)` list, far below the bind parameter limits of SQLite and PostgreSQL.
pub const ID_BATCH: usize = 500;

/// The chosen level with the tenant's tree around it.
pub struct Level {
    pub unit: org_unit::Model,
    pub root: org_unit::Model,
    units: HashMap<i64, org_unit::Model>,
    /// The level and every node below it.
    pub subtree: Vec<i64>,
    /// The part of the organization the planner may invite in.
    reach: Reach,
}

impl Level {
    /// Loads the level `id` of the scope's tenant, or the organization root when `id` is `None`.
    ///
    /// Returns `Error::NotFound` for a department, for a node of another tenant and for an id
    /// that does not exist, so all three get the same response.
    pub async fn load<C: ConnectionTrait>(
        scope: &Scoped<'_, C>,
        id: Option<i64>,
    ) -> Result<Self, Error> {
        let units = scope
            .find::<org_unit::Entity>()
            .order_by_asc(org_unit::Column::Name)
            .all(scope.conn())
            .await?;
        let root = units
            .iter()
            .find(|unit| unit.kind == "organization" && unit.parent_id.is_none())
            .cloned()
            .ok_or(Error::NotFound)?;
        let unit = match id {
            None => root.clone(),
            Some(id) => units
                .iter()
                .find(|unit| {
                    unit.id == id && matches!(unit.kind.as_str(), "organization" | "branch")
                })
                .cloned()
                .ok_or(Error::NotFound)?,
        };
        let subtree = descendants(&units, unit.id);
        Ok(Self {
            unit,
            root,
            units: units.into_iter().map(|unit| (unit.id, unit)).collect(),
            subtree,
            reach: Reach::Everything,
        })
    }

    /// Loads a level like [`Level::load`] for a planner whose right to invite covers only
    /// `reach`: the level must contain part of the reach, its employees are only those within
    /// it, and without `id` the first level that does is chosen. Anything else is not found.
    pub async fn load_within<C: ConnectionTrait>(
        scope: &Scoped<'_, C>,
        id: Option<i64>,
        reach: &Reach,
    ) -> Result<Self, Error> {
        let mut level = Self::load(scope, id).await?;
        if reach.is_everything() {
            return Ok(level);
        }
        level.reach = reach.clone();
        if id.is_none() && !level.reaches(level.unit.id) {
            let first = level
                .choices()
                .first()
                .map(|unit| unit.id)
                .ok_or(Error::NotFound)?;
            level = Self::load(scope, Some(first)).await?;
            level.reach = reach.clone();
        }
        level.subtree.retain(|id| reach.contains(*id));
        if level.subtree.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(level)
    }

    /// Returns true when the node or a node below it lies within the reach.
    fn reaches(&self, id: i64) -> bool {
        let units: Vec<org_unit::Model> = self.units.values().cloned().collect();
        descendants(&units, id)
            .into_iter()
            .any(|node| self.reach.contains(node))
    }

    /// Returns the levels a planner can switch to: the organization, then its branches by name.
    pub fn choices(&self) -> Vec<&org_unit::Model> {
        let mut branches: Vec<&org_unit::Model> = self
            .units
            .values()
            .filter(|unit| unit.kind == "branch" && unit.parent_id == Some(self.root.id))
            .collect();
        branches.sort_by_key(|unit| unit.name.to_lowercase());
        std::iter::once(&self.root)
            .chain(branches)
            .filter(|unit| self.reach.is_everything() || self.reaches(unit.id))
            .collect()
    }

    /// Returns "Branch / Department" for a node below the root, the organization's name for
    /// the root itself.
    pub fn path(&self, id: i64) -> String {
        let mut names = Vec::new();
        let mut current = self.units.get(&id);
        // The depth bound guards against a cycle in stored parent ids.
        for _ in 0..8 {
            let Some(unit) = current else { break };
            if unit.id == self.root.id {
                break;
            }
            names.push(unit.name.clone());
            current = unit.parent_id.and_then(|parent| self.units.get(&parent));
        }
        if names.is_empty() {
            return self.root.name.clone();
        }
        names.reverse();
        names.join(" / ")
    }
}

/// Returns `id` and every node below it. The loop stops when a round adds nothing, so stored
/// cycles cannot make it spin.
fn descendants(units: &[org_unit::Model], id: i64) -> Vec<i64> {
    let mut found = vec![id];
    let mut frontier = vec![id];
    while !frontier.is_empty() {
        let next: Vec<i64> = units
            .iter()
            .filter(|unit| {
                unit.parent_id
                    .is_some_and(|parent| frontier.contains(&parent))
            })
            .map(|unit| unit.id)
            .filter(|id| !found.contains(id))
            .collect();
        found.extend(&next);
        frontier = next;
    }
    found
}

/// An employee of the level with the portal status.
pub struct Member {
    pub employee: employee::Model,
    pub status: PortalStatus,
}

/// Loads the employees of the level and its descendants, ordered by name, with their logins
/// and open invitations.
pub async fn members<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    level: &Level,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Member>, DbErr> {
    let conn = scope.conn();
    let employees = scope
        .find::<employee::Entity>()
        .filter(employee::Column::OrgUnitId.is_in(level.subtree.clone()))
        .order_by_asc(employee::Column::LastName)
        .order_by_asc(employee::Column::FirstName)
        .order_by_asc(employee::Column::PersonnelNumber)
        .all(conn)
        .await?;
    let ids: Vec<i64> = employees.iter().map(|employee| employee.id).collect();

    let mut accounts: HashMap<i64, account::Model> = HashMap::new();
    let mut invitations: HashMap<i64, invitation::Model> = HashMap::new();
    for batch in ids.chunks(ID_BATCH) {
        let rows = scope
            .find::<account::Entity>()
            .filter(account::Column::EmployeeId.is_in(batch.to_vec()))
            .all(conn)
            .await?;
        for row in rows {
            if let Some(employee_id) = row.employee_id {
                accounts.insert(employee_id, row);
            }
        }
        let rows = scope
            .find::<invitation::Entity>()
            .filter(invitation::Column::EmployeeId.is_in(batch.to_vec()))
            .filter(invitation::Column::UsedAt.is_null())
            .filter(invitation::Column::ReplacedAt.is_null())
            .all(conn)
            .await?;
        for row in rows {
            // Sending runs hold the tenant lock, so an employee has at most one open
            // invitation. Should older data hold two, the newer one counts.
            let newer = invitations
                .get(&row.employee_id)
                .is_none_or(|known| known.created_at < row.created_at);
            if newer {
                invitations.insert(row.employee_id, row);
            }
        }
    }

    Ok(employees
        .into_iter()
        .map(|employee| {
            let status = PortalStatus::of(
                &employee,
                accounts.get(&employee.id),
                invitations.get(&employee.id),
                today,
                now,
            );
            Member { employee, status }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: i64, parent_id: Option<i64>, kind: &str) -> org_unit::Model {
        org_unit::Model {
            id,
            tenant_id: 1,
            parent_id,
            kind: kind.to_owned(),
            name: format!("unit {id}"),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn descendants_cover_subtree_only() {
        let units = [
            unit(1, None, "organization"),
            unit(2, Some(1), "branch"),
            unit(3, Some(2), "department"),
            unit(4, Some(1), "branch"),
            unit(5, Some(4), "department"),
        ];
        let mut below_branch = descendants(&units, 2);
        below_branch.sort_unstable();
        assert_eq!(below_branch, [2, 3]);
        assert_eq!(descendants(&units, 1).len(), 5);
    }

    #[test]
    fn descendants_stop_on_cycle() {
        let units = [unit(1, Some(2), "branch"), unit(2, Some(1), "department")];
        let mut found = descendants(&units, 1);
        found.sort_unstable();
        assert_eq!(found, [1, 2]);
    }
}
