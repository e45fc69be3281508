//! The user forms as typed, and their validation into the values that are stored.
//!
//! Validation returns locale keys per field, so the handlers can show every problem next to its
//! field at once and the rules stay testable without a database.

use std::collections::BTreeMap;

use mep24web_employee_import::is_valid_email;
use mep24web_platform::passwords::check_new_password;
use mep24web_platform::username::Username;
use secrecy::SecretString;
use serde::Deserialize;

use super::ROLE_ADMINISTRATOR;

/// Maximum display name length in characters, the size of the `display_name` column.
const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Field name → locale key of the message shown next to that field.
pub(super) type FieldErrors = BTreeMap<&'static str, &'static str>;

/// The "Neuer Benutzer" form as submitted. Every field defaults to empty, so a form with missing
/// fields reaches validation instead of failing in the extractor.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NewUserForm {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub role: String,
    pub password: String,
    pub password_repeat: String,
    /// Checkbox: present (`"ja"`) when ticked, absent otherwise.
    pub must_change_password: Option<String>,
}

/// The edit form of an existing user as submitted. The password fields are optional: left
/// empty, the password stays as it is.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct EditUserForm {
    pub display_name: String,
    pub email: String,
    pub role: String,
    /// `"ja"` or `"nein"`.
    pub active: String,
    pub password: String,
    pub password_repeat: String,
    pub must_change_password: Option<String>,
}

/// A validated new planner user.
pub(super) struct NewUser {
    pub username: Username,
    pub display_name: String,
    pub email: Option<String>,
    pub role: String,
    pub password: SecretString,
    pub must_change_password: bool,
}

/// A new password with the flag that forces a change at the next login.
pub(super) struct PasswordChange {
    pub password: SecretString,
    pub must_change_password: bool,
}

/// The validated changes to an existing planner user.
pub(super) struct UserChanges {
    pub display_name: String,
    pub email: Option<String>,
    pub role: String,
    pub active: bool,
    pub new_password: Option<PasswordChange>,
}

impl UserChanges {
    /// Returns true when the account would no longer count as an active administrator.
    pub fn removes_administrator(&self) -> bool {
        !self.active || self.role != ROLE_ADMINISTRATOR
    }
}

impl NewUserForm {
    /// Validates every field and returns the new user, or the problems of all fields.
    pub fn validate(&self) -> Result<NewUser, FieldErrors> {
        let mut errors = FieldErrors::new();
        let username = Username::parse(&self.username)
            .map_err(|problem| errors.insert("username", problem.message_key()))
            .ok();
        let display_name = record(
            &mut errors,
            "display_name",
            parse_display_name(&self.display_name),
        );
        let email = record(&mut errors, "email", parse_email(&self.email));
        let role = record(&mut errors, "role", parse_role(&self.role));
        if let Err(problem) =
            check_new_password(&self.password, &self.password_repeat, &self.username)
        {
            errors.insert("password", problem.message_key());
        }
        match (username, display_name, email, role) {
            (Some(username), Some(display_name), Some(email), Some(role)) if errors.is_empty() => {
                Ok(NewUser {
                    username,
                    display_name,
                    email,
                    role,
                    password: SecretString::from(self.password.clone()),
                    must_change_password: self.must_change_password.is_some(),
                })
            }
            _ => Err(errors),
        }
    }
}

impl EditUserForm {
    /// Validates every field. `username` is the account's stored username, which the new
    /// password must not contain.
    pub fn validate(&self, username: &str) -> Result<UserChanges, FieldErrors> {
        let mut errors = FieldErrors::new();
        let display_name = record(
            &mut errors,
            "display_name",
            parse_display_name(&self.display_name),
        );
        let email = record(&mut errors, "email", parse_email(&self.email));
        let role = record(&mut errors, "role", parse_role(&self.role));
        let active = record(&mut errors, "active", parse_active(&self.active));
        let wants_password = !self.password.is_empty() || !self.password_repeat.is_empty();
        if wants_password
            && let Err(problem) =
                check_new_password(&self.password, &self.password_repeat, username)
        {
            errors.insert("password", problem.message_key());
        }
        match (display_name, email, role, active) {
            (Some(display_name), Some(email), Some(role), Some(active)) if errors.is_empty() => {
                Ok(UserChanges {
                    display_name,
                    email,
                    role,
                    active,
                    new_password: wants_password.then(|| PasswordChange {
                        password: SecretString::from(self.password.clone()),
                        must_change_password: self.must_change_password.is_some(),
                    }),
                })
            }
            _ => Err(errors),
        }
    }
}

/// Stores the problem of a failed parse under `field` and returns the value of a good one.
fn record<T>(
    errors: &mut FieldErrors,
    field: &'static str,
    parsed: Result<T, &'static str>,
) -> Option<T> {
    parsed.map_err(|key| errors.insert(field, key)).ok()
}

fn parse_display_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("security.users.error_display_name_missing");
    }
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err("security.users.error_display_name_invalid");
    }
    Ok(name.to_owned())
}

/// Parses the optional email address: empty means none.
fn parse_email(raw: &str) -> Result<Option<String>, &'static str> {
    let email = raw.trim();
    if email.is_empty() {
        return Ok(None);
    }
    if !is_valid_email(email) {
        return Err("security.users.error_email_invalid");
    }
    Ok(Some(email.to_owned()))
}

/// Parses the group key from the select. Whether the group exists and may be assigned is
/// checked against the database by the handler.
fn parse_role(raw: &str) -> Result<String, &'static str> {
    let key = raw.trim();
    if key.is_empty() || key.len() > 32 {
        return Err("security.users.error_role_missing");
    }
    Ok(key.to_owned())
}

fn parse_active(raw: &str) -> Result<bool, &'static str> {
    match raw {
        "ja" => Ok(true),
        "nein" => Ok(false),
        _ => Err("security.users.error_active_missing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_form() -> NewUserForm {
        NewUserForm {
            username: "p.meier".to_owned(),
            display_name: " Paula Meier ".to_owned(),
            email: "paula.meier@example.de".to_owned(),
            role: "planer".to_owned(),
            password: "Lange-Passphrase-1".to_owned(),
            password_repeat: "Lange-Passphrase-1".to_owned(),
            must_change_password: Some("ja".to_owned()),
        }
    }

    fn edit_form() -> EditUserForm {
        EditUserForm {
            display_name: "Paula Meier".to_owned(),
            email: String::new(),
            role: "administrator".to_owned(),
            active: "ja".to_owned(),
            password: String::new(),
            password_repeat: String::new(),
            must_change_password: None,
        }
    }

    #[test]
    fn new_user_valid_form_is_accepted() {
        let Ok(user) = new_form().validate() else {
            panic!("valid form rejected");
        };
        assert_eq!(user.username.as_str(), "p.meier");
        assert_eq!(user.display_name, "Paula Meier");
        assert_eq!(user.email.as_deref(), Some("paula.meier@example.de"));
        assert_eq!(user.role, "planer");
        assert!(user.must_change_password);
    }

    #[test]
    fn new_user_empty_form_lists_every_field() {
        let Err(errors) = NewUserForm::default().validate() else {
            panic!("empty form accepted");
        };
        assert_eq!(errors.get("username"), Some(&"errors.username_too_short"));
        assert_eq!(
            errors.get("display_name"),
            Some(&"security.users.error_display_name_missing")
        );
        assert_eq!(
            errors.get("role"),
            Some(&"security.users.error_role_missing")
        );
        assert_eq!(errors.get("password"), Some(&"errors.password_too_short"));
        assert_eq!(errors.get("email"), None);
    }

    #[test]
    fn new_user_bad_email_and_mismatch_are_reported() {
        let mut form = new_form();
        form.email = "paula.meier@".to_owned();
        form.password_repeat = "Lange-Passphrase-2".to_owned();
        let Err(errors) = form.validate() else {
            panic!("bad form accepted");
        };
        assert_eq!(
            errors.get("email"),
            Some(&"security.users.error_email_invalid")
        );
        assert_eq!(errors.get("password"), Some(&"errors.password_mismatch"));
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn edit_without_password_keeps_password() {
        let Ok(changes) = edit_form().validate("p.meier") else {
            panic!("valid form rejected");
        };
        assert!(changes.new_password.is_none());
        assert_eq!(changes.email, None);
        assert!(!changes.removes_administrator());
    }

    #[test]
    fn edit_with_password_checks_policy() {
        let mut form = edit_form();
        form.password = "P.Meier-2026-x".to_owned();
        form.password_repeat = "P.Meier-2026-x".to_owned();
        let Err(errors) = form.validate("p.meier") else {
            panic!("password containing the username accepted");
        };
        assert_eq!(
            errors.get("password"),
            Some(&"errors.password_contains_username")
        );
    }

    #[test]
    fn edit_demotion_or_deactivation_removes_administrator() {
        let mut form = edit_form();
        form.role = "planer".to_owned();
        assert!(
            form.validate("p.meier")
                .is_ok_and(|c| c.removes_administrator())
        );
        let mut form = edit_form();
        form.active = "nein".to_owned();
        assert!(
            form.validate("p.meier")
                .is_ok_and(|c| c.removes_administrator())
        );
    }

    #[test]
    fn edit_unknown_role_or_active_is_rejected() {
        let mut form = edit_form();
        form.role = String::new();
        form.active = "vielleicht".to_owned();
        let Err(errors) = form.validate("p.meier") else {
            panic!("bad form accepted");
        };
        assert_eq!(
            errors.get("role"),
            Some(&"security.users.error_role_missing")
        );
        assert_eq!(
            errors.get("active"),
            Some(&"security.users.error_active_missing")
        );
    }
}
