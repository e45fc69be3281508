//! The group form as submitted, and its validation.
//!
//! The form has a name field and, for each right, a checkbox `right_<code>` and a node select
//! `scope_<code>` (empty for the whole organization). It is read as a list of pairs, so unknown
//! fields are ignored and a missing checkbox means the right is not granted.

use std::collections::BTreeMap;

use mep24web_platform::rights::{Grants, OrgTreeIndex, Right};

/// Maximum group name length in characters, the size of the `name` column.
const MAX_NAME_CHARS: usize = 100;

/// Field name → locale key of the message shown next to that field.
pub(crate) type FieldErrors = BTreeMap<String, &'static str>;

/// A validated group: its name and the rights it grants.
#[derive(Debug)]
pub(crate) struct GroupInput {
    pub name: String,
    pub grants: Grants,
}

/// The submitted fields, as typed.
#[derive(Debug, Default)]
pub(crate) struct GroupForm {
    pub name: String,
    /// Right → the typed node id (empty for the whole organization), for each ticked right.
    pub rights: BTreeMap<Right, String>,
}

impl GroupForm {
    /// Reads the submitted pairs. Repeated fields keep the last value.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut form = Self::default();
        let mut scopes = BTreeMap::new();
        for (key, value) in pairs {
            if key == "name" {
                form.name.clone_from(value);
            } else if let Some(code) = key.strip_prefix("right_") {
                if let Some(right) = Right::from_code(code) {
                    form.rights.entry(right).or_default();
                }
            } else if let Some(code) = key.strip_prefix("scope_")
                && let Some(right) = Right::from_code(code)
            {
                scopes.insert(right, value.trim().to_owned());
            }
        }
        for (right, node) in &mut form.rights {
            if let Some(scope) = scopes.remove(right) {
                *node = scope;
            }
        }
        form
    }

    /// Validates the name and every right's node against the tenant's tree.
    pub fn validate(&self, tree: &OrgTreeIndex) -> Result<GroupInput, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.insert("name".to_owned(), "security.groups.error_name_missing");
        } else if name.chars().count() > MAX_NAME_CHARS
            // The lower-cased name is stored as `name_key` in a column of the same size, and
            // some letters grow when lower-cased ("İ" becomes "i̇").
            || name.to_lowercase().chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            errors.insert("name".to_owned(), "security.groups.error_name_invalid");
        }
        let mut grants = Vec::new();
        for (right, raw) in &self.rights {
            let field = format!("scope_{}", right.code());
            if raw.is_empty() {
                grants.push((*right, None));
                continue;
            }
            if !right.is_scopable() {
                errors.insert(field, "security.groups.error_scope_not_allowed");
                continue;
            }
            match raw.parse::<i64>() {
                Ok(node) if !tree.subtree(node).is_empty() => grants.push((*right, Some(node))),
                _ => {
                    errors.insert(field, "security.groups.error_scope_unknown");
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(GroupInput {
            name: name.to_owned(),
            grants: Grants::from_rights(grants),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn tree() -> OrgTreeIndex {
        OrgTreeIndex::from_edges([(1, None), (2, Some(1))])
    }

    #[test]
    fn ticked_rights_with_scopes_are_read() {
        let form = GroupForm::from_pairs(&pairs(&[
            ("name", " Filialleitung "),
            ("right_masterdata_edit", "ja"),
            ("scope_masterdata_edit", "2"),
            ("scope_employees_invite", "2"),
            ("right_audit_view", "ja"),
            ("right_unknown", "ja"),
        ]));
        let Ok(input) = form.validate(&tree()) else {
            panic!("valid form rejected");
        };
        assert_eq!(input.name, "Filialleitung");
        assert_eq!(input.grants.grant(Right::EditMasterData), Some(Some(2)));
        assert_eq!(input.grants.grant(Right::ViewAuditLog), Some(None));
        // A scope without its ticked checkbox grants nothing.
        assert_eq!(input.grants.grant(Right::InviteEmployees), None);
    }

    #[test]
    fn name_growing_when_lower_cased_is_invalid() {
        let form = GroupForm::from_pairs(&pairs(&[("name", &"İ".repeat(100))]));
        let Err(errors) = form.validate(&tree()) else {
            panic!("name with a lower case of 200 characters accepted");
        };
        assert_eq!(
            errors.get("name"),
            Some(&"security.groups.error_name_invalid")
        );
        let form = GroupForm::from_pairs(&pairs(&[("name", &"İ".repeat(50))]));
        assert!(form.validate(&tree()).is_ok());
    }

    #[test]
    fn bad_name_and_scopes_are_reported_per_field() {
        let form = GroupForm::from_pairs(&pairs(&[
            ("name", "  "),
            ("right_masterdata_view", "ja"),
            ("scope_masterdata_view", "99"),
            ("right_settings_change", "ja"),
            ("scope_settings_change", "2"),
            ("right_employee_logins", "ja"),
            ("scope_employee_logins", "abc"),
        ]));
        let Err(errors) = form.validate(&tree()) else {
            panic!("bad form accepted");
        };
        assert_eq!(
            errors.get("name"),
            Some(&"security.groups.error_name_missing")
        );
        assert_eq!(
            errors.get("scope_masterdata_view"),
            Some(&"security.groups.error_scope_unknown")
        );
        assert_eq!(
            errors.get("scope_settings_change"),
            Some(&"security.groups.error_scope_not_allowed")
        );
        assert_eq!(
            errors.get("scope_employee_logins"),
            Some(&"security.groups.error_scope_unknown")
        );
    }
}
