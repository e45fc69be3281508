//! Rights of planner users: the user groups (Benutzergruppen) grant them, each grant optionally
//! limited to a node of the organization tree with everything below it.
//!
//! A planner's rights are loaded from the database on every request (see
//! [`crate::sessions::authenticate`]), so a right taken away applies to the next request of every
//! session of that account. Handlers ask for a right with the [`Allowed`] extractor and get back
//! a [`Reach`]: the organization nodes the right covers. Records outside the reach are "not
//! found", exactly like another tenant's records.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use mep24web_entities::{org_unit, user_group, user_group_right};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, QueryFilter, QuerySelect, Set,
};

use crate::db::Scoped;
use crate::error::Error;
use crate::sessions::{Authenticated, Planner};
use crate::state::AppState;
use crate::tenant::TenantId;

/// Key of the built-in group whose members hold every right on the whole organization.
pub const ADMINISTRATOR_GROUP: &str = "administrator";
/// Key of the built-in group for planners.
pub const PLANER_GROUP: &str = "planer";

/// Rights of the built-in Planer group when a tenant is created.
pub const PLANER_RIGHTS: [Right; 4] = [
    Right::ViewMasterData,
    Right::EditMasterData,
    Right::InviteEmployees,
    Right::ManageEmployeeLogins,
];

/// Creates the built-in groups Administrator and Planer of a new tenant.
pub async fn create_builtin_groups<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    let mut planer_id = 0;
    for (key, name) in [
        (ADMINISTRATOR_GROUP, "Administrator"),
        (PLANER_GROUP, "Planer"),
    ] {
        let group = user_group::ActiveModel {
            tenant_id: Set(tenant_id.get()),
            key: Set(key.to_owned()),
            name: Set(name.to_owned()),
            name_key: Set(name.to_lowercase()),
            builtin: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        planer_id = group.id;
    }
    for right in PLANER_RIGHTS {
        user_group_right::ActiveModel {
            tenant_id: Set(tenant_id.get()),
            group_id: Set(planer_id),
            right_code: Set(right.code().to_owned()),
            org_unit_id: Set(None),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// A named right of planner users. The code of each variant is stored, so it must never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Right {
    /// See the organization tree and employee records.
    ViewMasterData,
    /// Create and change organization nodes and employee records, and import employees.
    EditMasterData,
    /// Send invitations to employees.
    InviteEmployees,
    /// Create, rename, activate and deactivate employee logins and set their passwords.
    ManageEmployeeLogins,
    /// Manage planner users and user groups.
    ManageUsers,
    /// Change the tenant's settings, including the security settings.
    ChangeSettings,
    /// Read the audit log.
    ViewAuditLog,
}

impl Right {
    /// Every right, in the order the group form lists them.
    pub const ALL: [Self; 7] = [
        Self::ViewMasterData,
        Self::EditMasterData,
        Self::InviteEmployees,
        Self::ManageEmployeeLogins,
        Self::ManageUsers,
        Self::ChangeSettings,
        Self::ViewAuditLog,
    ];

    /// Returns the stored code. The locale key of its name is `rights.right.<code>`.
    pub fn code(self) -> &'static str {
        match self {
            Self::ViewMasterData => "masterdata_view",
            Self::EditMasterData => "masterdata_edit",
            Self::InviteEmployees => "employees_invite",
            Self::ManageEmployeeLogins => "employee_logins",
            Self::ManageUsers => "users_manage",
            Self::ChangeSettings => "settings_change",
            Self::ViewAuditLog => "audit_view",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|right| right.code() == code)
    }

    /// Returns true when a grant of this right may be limited to a node. Rights over planner
    /// users, settings and the log concern the whole tenant, so they are granted whole or not.
    pub fn is_scopable(self) -> bool {
        matches!(
            self,
            Self::ViewMasterData
                | Self::EditMasterData
                | Self::InviteEmployees
                | Self::ManageEmployeeLogins
        )
    }
}

/// The organization tree as child lists, enough to compute which nodes lie below a node.
#[derive(Clone, Debug, Default)]
pub struct OrgTreeIndex {
    children: HashMap<i64, Vec<i64>>,
    parents: HashMap<i64, Option<i64>>,
}

impl OrgTreeIndex {
    /// Loads the nodes of one tenant.
    pub async fn load<C: ConnectionTrait>(conn: &C, tenant_id: TenantId) -> Result<Self, DbErr> {
        let rows: Vec<(i64, Option<i64>)> = Scoped::new(conn, tenant_id)
            .find::<org_unit::Entity>()
            .select_only()
            .column(org_unit::Column::Id)
            .column(org_unit::Column::ParentId)
            .into_tuple()
            .all(conn)
            .await?;
        Ok(Self::from_edges(rows))
    }

    /// Builds the index from `(id, parent_id)` pairs.
    pub fn from_edges(rows: impl IntoIterator<Item = (i64, Option<i64>)>) -> Self {
        let mut index = Self::default();
        for (id, parent) in rows {
            index.parents.insert(id, parent);
            if let Some(parent) = parent {
                index.children.entry(parent).or_default().push(id);
            }
        }
        index
    }

    /// Returns the node and every node below it; empty for an unknown node.
    pub fn subtree(&self, root: i64) -> BTreeSet<i64> {
        let mut found = BTreeSet::new();
        if !self.parents.contains_key(&root) {
            return found;
        }
        let mut pending = vec![root];
        while let Some(node) = pending.pop() {
            if found.insert(node) {
                pending.extend(self.children.get(&node).into_iter().flatten().copied());
            }
        }
        found
    }

    /// Returns true when `node` is `ancestor` or lies below it.
    pub fn is_within(&self, node: i64, ancestor: i64) -> bool {
        let mut current = Some(node);
        let mut steps = 0;
        while let Some(id) = current {
            if id == ancestor {
                return true;
            }
            // A cycle cannot be stored through the forms; the bound keeps bad data from looping.
            steps += 1;
            if steps > self.parents.len() {
                return false;
            }
            current = self.parents.get(&id).copied().flatten();
        }
        false
    }
}

/// The organization nodes a right covers for one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The whole organization.
    Everything,
    /// These nodes only (each grant's node with everything below it).
    Units(BTreeSet<i64>),
}

impl Reach {
    /// Returns true when records of this node are covered.
    pub fn contains(&self, unit_id: i64) -> bool {
        match self {
            Self::Everything => true,
            Self::Units(units) => units.contains(&unit_id),
        }
    }

    /// Returns the covered nodes, or `None` for the whole organization, for use in a query
    /// filter.
    pub fn units(&self) -> Option<&BTreeSet<i64>> {
        match self {
            Self::Everything => None,
            Self::Units(units) => Some(units),
        }
    }

    /// Returns true when the whole organization is covered.
    pub fn is_everything(&self) -> bool {
        matches!(self, Self::Everything)
    }
}

/// The rights of one planner account: the right and, for a limited grant, its node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    administrator: bool,
    /// Right → `None` for the whole organization, `Some(node)` for a limited grant.
    rights: BTreeMap<Right, Option<i64>>,
}

impl Grants {
    /// Returns the rights of a member of the built-in Administrator group.
    pub fn administrator() -> Self {
        Self {
            administrator: true,
            rights: Right::ALL.into_iter().map(|right| (right, None)).collect(),
        }
    }

    /// Grants built from stored rows; unknown codes are skipped.
    pub fn from_rights(rights: impl IntoIterator<Item = (Right, Option<i64>)>) -> Self {
        Self {
            administrator: false,
            rights: rights.into_iter().collect(),
        }
    }

    /// Loads the grants of the group with this key. An unknown key grants nothing.
    pub async fn load<C: ConnectionTrait>(
        conn: &C,
        tenant_id: TenantId,
        group_key: Option<&str>,
    ) -> Result<Self, DbErr> {
        let Some(group_key) = group_key else {
            return Ok(Self::default());
        };
        if group_key == ADMINISTRATOR_GROUP {
            return Ok(Self::administrator());
        }
        let scope = Scoped::new(conn, tenant_id);
        let Some(group) = scope
            .find::<user_group::Entity>()
            .filter(user_group::Column::Key.eq(group_key))
            .one(conn)
            .await?
        else {
            return Ok(Self::default());
        };
        let rows = scope
            .find::<user_group_right::Entity>()
            .filter(user_group_right::Column::GroupId.eq(group.id))
            .all(conn)
            .await?;
        Ok(Self::from_rights(rows.into_iter().filter_map(|row| {
            Right::from_code(&row.right_code).map(|right| (right, row.org_unit_id))
        })))
    }

    /// Returns true for a member of the built-in Administrator group.
    pub fn is_administrator(&self) -> bool {
        self.administrator
    }

    /// Returns true when the right is held, on any part of the organization. Editing master
    /// data includes viewing it.
    pub fn has(&self, right: Right) -> bool {
        self.rights.contains_key(&right)
            || (right == Right::ViewMasterData && self.rights.contains_key(&Right::EditMasterData))
    }

    /// Returns true when the right is held on the whole organization.
    pub fn has_everywhere(&self, right: Right) -> bool {
        matches!(self.rights.get(&right), Some(None))
    }

    /// Returns the grant of one right: `None` when not held, `Some(None)` for the whole
    /// organization, `Some(Some(node))` for a limited grant.
    pub fn grant(&self, right: Right) -> Option<Option<i64>> {
        self.rights.get(&right).copied()
    }

    /// Returns every held right with its node.
    pub fn iter(&self) -> impl Iterator<Item = (Right, Option<i64>)> + '_ {
        self.rights.iter().map(|(right, node)| (*right, *node))
    }

    /// Returns the nodes the right covers, or `None` when it is not held. Editing master data
    /// includes viewing it, so the view reach joins both grants.
    pub fn reach(&self, right: Right, tree: &OrgTreeIndex) -> Option<Reach> {
        let mut grants: Vec<Option<i64>> = self.grant(right).into_iter().collect();
        if right == Right::ViewMasterData
            && let Some(edit) = self.grant(Right::EditMasterData)
        {
            grants.push(edit);
        }
        if grants.is_empty() {
            return None;
        }
        let mut units = BTreeSet::new();
        for grant in grants {
            match grant {
                None => return Some(Reach::Everything),
                Some(node) => units.extend(tree.subtree(node)),
            }
        }
        Some(Reach::Units(units))
    }

    /// Returns true when these grants include every grant of `other`, each on at least the same
    /// part of the organization. A user manager may hand out only what they hold themselves.
    pub fn covers(&self, other: &Self, tree: &OrgTreeIndex) -> bool {
        if other.administrator && !self.administrator {
            return false;
        }
        other.iter().all(|(right, node)| match self.grant(right) {
            None => false,
            Some(None) => true,
            Some(Some(own)) => node.is_some_and(|node| tree.is_within(node, own)),
        })
    }
}

/// A marker type naming the right an [`Allowed`] extractor requires.
pub trait RequiredRight {
    const RIGHT: Right;
}

macro_rules! required_rights {
    ($($(#[$doc:meta])* $name:ident => $right:ident),* $(,)?) => {
        /// Marker types for [`Allowed`], one per [`Right`].
        pub mod need {
            $(
                $(#[$doc])*
                pub struct $name;

                impl super::RequiredRight for $name {
                    const RIGHT: super::Right = super::Right::$right;
                }
            )*
        }
    };
}

required_rights!(
    /// [`Right::ViewMasterData`](super::Right::ViewMasterData).
    ViewMasterData => ViewMasterData,
    /// [`Right::EditMasterData`](super::Right::EditMasterData).
    EditMasterData => EditMasterData,
    /// [`Right::InviteEmployees`](super::Right::InviteEmployees).
    InviteEmployees => InviteEmployees,
    /// [`Right::ManageEmployeeLogins`](super::Right::ManageEmployeeLogins).
    ManageEmployeeLogins => ManageEmployeeLogins,
    /// [`Right::ManageUsers`](super::Right::ManageUsers).
    ManageUsers => ManageUsers,
    /// [`Right::ChangeSettings`](super::Right::ChangeSettings).
    ChangeSettings => ChangeSettings,
    /// [`Right::ViewAuditLog`](super::Right::ViewAuditLog).
    ViewAuditLog => ViewAuditLog,
);

/// Signed-in planner who has the right `R`, with the part of the organization it covers.
/// A planner without it gets 403.
pub struct Allowed<R: RequiredRight> {
    pub auth: Authenticated,
    pub reach: Reach,
    /// The tenant's organization tree, for checks of nodes against the reach.
    pub tree: OrgTreeIndex,
    right: PhantomData<R>,
}

impl<S, R> FromRequestParts<S> for Allowed<R>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    R: RequiredRight,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Planner(auth) = Planner::from_request_parts(parts, state).await?;
        if !auth.grants.has(R::RIGHT) {
            return Err(Error::Forbidden);
        }
        let app = AppState::from_ref(state);
        let tree = OrgTreeIndex::load(&app.db, auth.tenant.id).await?;
        let reach = auth.grants.reach(R::RIGHT, &tree).ok_or(Error::Forbidden)?;
        Ok(Self {
            auth,
            reach,
            tree,
            right: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 ─┬─ 2 ── 4
    ///    └─ 3
    fn tree() -> OrgTreeIndex {
        OrgTreeIndex::from_edges([(1, None), (2, Some(1)), (3, Some(1)), (4, Some(2))])
    }

    #[test]
    fn codes_round_trip() {
        for right in Right::ALL {
            assert_eq!(Right::from_code(right.code()), Some(right));
        }
        assert_eq!(Right::from_code("root"), None);
    }

    #[test]
    fn subtree_and_within() {
        let tree = tree();
        assert_eq!(tree.subtree(2), BTreeSet::from([2, 4]));
        assert_eq!(tree.subtree(1), BTreeSet::from([1, 2, 3, 4]));
        assert!(tree.subtree(99).is_empty());
        assert!(tree.is_within(4, 1));
        assert!(tree.is_within(4, 2));
        assert!(!tree.is_within(3, 2));
        assert!(!tree.is_within(99, 1));
    }

    #[test]
    fn view_reach_joins_edit_grant() {
        let tree = tree();
        let grants = Grants::from_rights([
            (Right::ViewMasterData, Some(3)),
            (Right::EditMasterData, Some(2)),
        ]);
        assert_eq!(
            grants.reach(Right::ViewMasterData, &tree),
            Some(Reach::Units(BTreeSet::from([2, 3, 4])))
        );
        assert_eq!(
            grants.reach(Right::EditMasterData, &tree),
            Some(Reach::Units(BTreeSet::from([2, 4])))
        );
        assert_eq!(grants.reach(Right::InviteEmployees, &tree), None);
        let edit_only = Grants::from_rights([(Right::EditMasterData, None)]);
        assert_eq!(
            edit_only.reach(Right::ViewMasterData, &tree),
            Some(Reach::Everything)
        );
    }

    #[test]
    fn covers_needs_each_right_on_a_node_within() {
        let tree = tree();
        let branch =
            Grants::from_rights([(Right::EditMasterData, Some(2)), (Right::ManageUsers, None)]);
        let below = Grants::from_rights([(Right::EditMasterData, Some(4))]);
        let sibling = Grants::from_rights([(Right::EditMasterData, Some(3))]);
        let whole = Grants::from_rights([(Right::EditMasterData, None)]);
        let other_right = Grants::from_rights([(Right::ChangeSettings, None)]);
        assert!(branch.covers(&below, &tree));
        assert!(branch.covers(&Grants::default(), &tree));
        assert!(!branch.covers(&sibling, &tree));
        assert!(!branch.covers(&whole, &tree));
        assert!(!branch.covers(&other_right, &tree));
        assert!(!branch.covers(&Grants::administrator(), &tree));
        assert!(Grants::administrator().covers(&Grants::administrator(), &tree));
        assert!(Grants::administrator().covers(&branch, &tree));
    }
}
