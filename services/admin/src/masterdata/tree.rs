//! The organization tree of one tenant (organization → branches → departments), loaded whole
//! because a tenant has at most a few hundred nodes.

use std::collections::HashSet;

use mep24web_entities::org_unit;
use mep24web_platform::db::Scoped;
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

/// Kind of a node, stored in `org_units.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    Organization,
    Branch,
    Department,
}

impl UnitKind {
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "organization" => Some(Self::Organization),
            "branch" => Some(Self::Branch),
            "department" => Some(Self::Department),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::Branch => "branch",
            Self::Department => "department",
        }
    }

    /// Returns the kind of the nodes created under this one: branches under the organization,
    /// departments under a branch, nothing under a department.
    pub fn child_kind(self) -> Option<Self> {
        match self {
            Self::Organization => Some(Self::Branch),
            Self::Branch => Some(Self::Department),
            Self::Department => None,
        }
    }

    /// Returns true for the kinds an employee can be assigned to.
    pub fn takes_employees(self) -> bool {
        matches!(self, Self::Branch | Self::Department)
    }
}

/// One node with its parsed kind.
#[derive(Clone, Debug)]
pub struct Unit {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub kind: UnitKind,
    pub name: String,
}

/// A node as the tree template shows it, with its children in display order.
#[derive(Serialize)]
pub struct TreeNode {
    pub id: i64,
    pub name: String,
    pub kind: UnitKind,
    pub selected: bool,
    /// False for a node shown only as the path to nodes the planner may open.
    pub reachable: bool,
    pub children: Vec<TreeNode>,
}

/// An entry of the department select: a branch or a department with its branch in front.
#[derive(Serialize)]
pub struct UnitOption {
    pub id: String,
    pub label: String,
    pub kind: UnitKind,
}

/// All nodes of one tenant.
pub struct OrgTree {
    units: Vec<Unit>,
}

impl OrgTree {
    /// Loads every node of the tenant. Rows with an unknown kind are skipped and logged, so a
    /// bad row hides one node instead of breaking the page.
    pub async fn load<C: ConnectionTrait>(scope: &Scoped<'_, C>) -> Result<Self, DbErr> {
        let rows = scope.find::<org_unit::Entity>().all(scope.conn()).await?;
        let mut units = Vec::with_capacity(rows.len());
        for row in rows {
            match UnitKind::parse(&row.kind) {
                Some(kind) => units.push(Unit {
                    id: row.id,
                    parent_id: row.parent_id,
                    kind,
                    name: row.name,
                }),
                None => tracing::error!(
                    tenant_id = %scope.tenant_id(),
                    org_unit_id = row.id,
                    kind = row.kind,
                    "organization unit with unknown kind skipped"
                ),
            }
        }
        Ok(Self { units })
    }

    /// Returns the organization node, the root that provisioning creates for every tenant.
    pub fn root(&self) -> Option<&Unit> {
        self.units
            .iter()
            .find(|unit| unit.kind == UnitKind::Organization && unit.parent_id.is_none())
    }

    pub fn get(&self, id: i64) -> Option<&Unit> {
        self.units.iter().find(|unit| unit.id == id)
    }

    /// Returns the children of a node, sorted by name without regard to case.
    pub fn children(&self, id: i64) -> Vec<&Unit> {
        let mut children: Vec<&Unit> = self
            .units
            .iter()
            .filter(|unit| unit.parent_id == Some(id))
            .collect();
        children.sort_by_cached_key(|unit| (unit.name.to_lowercase(), unit.id));
        children
    }

    /// Returns true when a child of `parent_id` other than `except_id` has this name, compared
    /// without regard to case.
    pub fn sibling_has_name(
        &self,
        parent_id: Option<i64>,
        name: &str,
        except_id: Option<i64>,
    ) -> bool {
        let wanted = name.to_lowercase();
        self.units.iter().any(|unit| {
            unit.parent_id == parent_id
                && Some(unit.id) != except_id
                && unit.name.to_lowercase() == wanted
        })
    }

    /// Returns the ids of a node and all nodes below it.
    pub fn subtree_ids(&self, id: i64) -> Vec<i64> {
        let mut ids = vec![id];
        let mut seen: HashSet<i64> = HashSet::from([id]);
        let mut next = 0;
        while next < ids.len() {
            let current = ids[next];
            next += 1;
            for unit in &self.units {
                if unit.parent_id == Some(current) && seen.insert(unit.id) {
                    ids.push(unit.id);
                }
            }
        }
        ids
    }

    /// Returns the branch a node belongs to: the node itself for a branch, the parent for a
    /// department, none for the organization.
    pub fn branch_of(&self, id: i64) -> Option<&Unit> {
        let unit = self.get(id)?;
        match unit.kind {
            UnitKind::Branch => Some(unit),
            UnitKind::Department => unit.parent_id.and_then(|parent| self.get(parent)),
            UnitKind::Organization => None,
        }
    }

    /// Returns the name shown for an employee's unit: "Branch › Department" for a department,
    /// the plain name otherwise.
    pub fn label(&self, id: i64) -> String {
        let Some(unit) = self.get(id) else {
            return String::new();
        };
        match (unit.kind, self.branch_of(id)) {
            (UnitKind::Department, Some(branch)) => format!("{} › {}", branch.name, unit.name),
            _ => unit.name.clone(),
        }
    }

    /// Builds the nested tree for the template, starting at the organization.
    pub fn nodes(&self, selected: i64) -> Vec<TreeNode> {
        self.root()
            .map(|root| vec![self.node(root, selected, 0)])
            .unwrap_or_default()
    }

    fn node(&self, unit: &Unit, selected: i64, depth: usize) -> TreeNode {
        // The schema allows only three levels, and the depth limit keeps a corrupt parent
        // chain from recursing without end.
        let children = if depth < 3 {
            self.children(unit.id)
                .into_iter()
                .map(|child| self.node(child, selected, depth + 1))
                .collect()
        } else {
            Vec::new()
        };
        TreeNode {
            id: unit.id,
            name: unit.name.clone(),
            kind: unit.kind,
            selected: unit.id == selected,
            reachable: true,
            children,
        }
    }

    /// Lists the branches and departments in tree order, for the select of an employee form.
    pub fn assignable_options(&self) -> Vec<UnitOption> {
        let Some(root) = self.root() else {
            return Vec::new();
        };
        let mut options = Vec::new();
        for branch in self.children(root.id) {
            options.push(UnitOption {
                id: branch.id.to_string(),
                label: branch.name.clone(),
                kind: branch.kind,
            });
            for department in self.children(branch.id) {
                options.push(UnitOption {
                    id: department.id.to_string(),
                    label: self.label(department.id),
                    kind: department.kind,
                });
            }
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: i64, parent_id: Option<i64>, kind: UnitKind, name: &str) -> Unit {
        Unit {
            id,
            parent_id,
            kind,
            name: name.to_owned(),
        }
    }

    fn sample() -> OrgTree {
        OrgTree {
            units: vec![
                unit(1, None, UnitKind::Organization, "Apotheke am Markt"),
                unit(2, Some(1), UnitKind::Branch, "Heidelberg"),
                unit(3, Some(2), UnitKind::Department, "Verkauf"),
                unit(4, Some(2), UnitKind::Department, "Kasse"),
                unit(5, Some(1), UnitKind::Branch, "Bonn"),
                unit(6, Some(5), UnitKind::Department, "verkauf"),
            ],
        }
    }

    #[test]
    fn subtree_ids_include_descendants() {
        let tree = sample();
        assert_eq!(tree.subtree_ids(1), vec![1, 2, 5, 3, 4, 6]);
        assert_eq!(tree.subtree_ids(2), vec![2, 3, 4]);
        assert_eq!(tree.subtree_ids(6), vec![6]);
    }

    #[test]
    fn children_sort_by_name() {
        let tree = sample();
        let names: Vec<&str> = tree.children(1).iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, vec!["Bonn", "Heidelberg"]);
    }

    #[test]
    fn sibling_name_check_ignores_case_and_self() {
        let tree = sample();
        assert!(tree.sibling_has_name(Some(2), "VERKAUF", None));
        assert!(!tree.sibling_has_name(Some(2), "Verkauf", Some(3)));
        assert!(!tree.sibling_has_name(Some(2), "Labor", None));
    }

    #[test]
    fn label_puts_branch_before_department() {
        let tree = sample();
        assert_eq!(tree.label(3), "Heidelberg › Verkauf");
        assert_eq!(tree.label(2), "Heidelberg");
        assert_eq!(tree.branch_of(4).map(|u| u.id), Some(2));
        assert!(tree.branch_of(1).is_none());
    }

    #[test]
    fn assignable_options_follow_tree_order() {
        let labels: Vec<String> = sample()
            .assignable_options()
            .into_iter()
            .map(|option| option.label)
            .collect();
        assert_eq!(
            labels,
            vec![
                "Bonn",
                "Bonn › verkauf",
                "Heidelberg",
                "Heidelberg › Kasse",
                "Heidelberg › Verkauf"
            ]
        );
    }
}
