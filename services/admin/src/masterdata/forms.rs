//! Form bodies of the master data pages and the checks that need no database. Every field is a
//! string with a default, so a missing or malformed field becomes an inline error instead of a
//! rejected request.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::rejection::FormRejection;
use chrono::NaiveDate;
use mep24web_employee_import::{is_valid_email, parse_date};
use mep24web_platform::Error;
use mep24web_platform::i18n::Locale;
use serde::Deserialize;

/// Maximum length of a personnel number in characters, the width of
/// `employees.personnel_number`.
pub const MAX_PERSONNEL_NUMBER_CHARS: usize = 32;
/// Maximum length of a first or last name in characters, the width of the name columns.
pub const MAX_NAME_CHARS: usize = 100;
/// Maximum length of a phone number in characters, the width of `employees.phone`.
pub const MAX_PHONE_CHARS: usize = 40;
/// Maximum length of a node name in characters, the width of `org_units.name`.
pub const MAX_UNIT_NAME_CHARS: usize = 100;

/// Inline errors of a form: field name → locale key of the message.
pub type FieldErrors = BTreeMap<&'static str, &'static str>;

/// Unwraps a parsed form body. A body that cannot be parsed at all, such as one with the wrong
/// content type or a field given twice, gets the 400 page for broken forms.
pub fn accept<T>(form: Result<Form<T>, FormRejection>) -> Result<T, Error> {
    match form {
        Ok(Form(value)) => Ok(value),
        Err(rejection) => {
            tracing::debug!(%rejection, "form body rejected");
            Err(Error::BadRequest("errors.bad_form"))
        }
    }
}

/// Returns true when the text contains a control character such as a line break or tab.
fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Body of the form that creates or renames a branch or department.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UnitForm {
    /// Id of the parent node, read only when creating.
    pub parent_id: String,
    pub name: String,
}

/// Checks a node name and returns it trimmed, or the locale key of the problem.
pub fn check_unit_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("masterdata.errors.unit_name_missing");
    }
    if name.chars().count() > MAX_UNIT_NAME_CHARS {
        return Err("masterdata.errors.unit_name_too_long");
    }
    if has_control(name) {
        return Err("masterdata.errors.unit_name_invalid");
    }
    Ok(name.to_owned())
}

/// Body of the employee form (tab "Stammdaten").
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct EmployeeForm {
    pub personnel_number: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub entry_date: String,
    pub exit_date: String,
    pub org_unit_id: String,
    pub language: String,
}

/// The values of an employee form after the checks, trimmed and parsed. A value whose check
/// failed is empty or `None`, and the accompanying [`FieldErrors`] name the field.
#[derive(Debug, PartialEq, Eq)]
pub struct EmployeeInput {
    pub personnel_number: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub entry_date: Option<NaiveDate>,
    pub exit_date: Option<NaiveDate>,
    /// Parsed id of the chosen unit; whether it is a branch or department of this tenant is
    /// checked against the tree by the caller.
    pub org_unit_id: Option<i64>,
    pub language: Locale,
}

impl EmployeeForm {
    /// Checks every field and returns the parsed values with the errors of all fields at once.
    pub fn check(&self) -> (EmployeeInput, FieldErrors) {
        let mut errors = FieldErrors::new();

        let personnel_number = self.personnel_number.trim().to_owned();
        if personnel_number.is_empty() {
            errors.insert(
                "personnel_number",
                "masterdata.errors.personnel_number_missing",
            );
        } else if personnel_number.chars().count() > MAX_PERSONNEL_NUMBER_CHARS {
            errors.insert(
                "personnel_number",
                "masterdata.errors.personnel_number_too_long",
            );
        } else if has_control(&personnel_number) {
            errors.insert(
                "personnel_number",
                "masterdata.errors.personnel_number_invalid",
            );
        }

        let first_name = check_person_name(&self.first_name, "first_name", &mut errors);
        let last_name = check_person_name(&self.last_name, "last_name", &mut errors);

        let email = self.email.trim();
        let email = if email.is_empty() {
            None
        } else if is_valid_email(email) {
            Some(email.to_owned())
        } else {
            errors.insert("email", "masterdata.errors.email_invalid");
            None
        };

        let phone = self.phone.trim();
        let phone = if phone.is_empty() {
            None
        } else if phone.chars().count() > MAX_PHONE_CHARS {
            errors.insert("phone", "masterdata.errors.phone_too_long");
            None
        } else if !is_phone_number(phone) {
            errors.insert("phone", "masterdata.errors.phone_invalid");
            None
        } else {
            Some(phone.to_owned())
        };

        let entry_date = check_date(&self.entry_date, "entry_date", &mut errors);
        let exit_date = check_date(&self.exit_date, "exit_date", &mut errors);
        if let (Some(entry), Some(exit)) = (entry_date, exit_date)
            && exit < entry
        {
            errors.insert("exit_date", "masterdata.errors.exit_before_entry");
        }

        let org_unit_id = self.org_unit_id.trim().parse::<i64>().ok();
        if org_unit_id.is_none() {
            errors.insert("org_unit_id", "masterdata.errors.unit_missing");
        }

        let language = match self.language.trim() {
            "" | "de" => Locale::De,
            "en" => Locale::En,
            _ => {
                errors.insert("language", "masterdata.errors.language_invalid");
                Locale::De
            }
        };

        let input = EmployeeInput {
            personnel_number,
            first_name,
            last_name,
            email,
            phone,
            entry_date,
            exit_date,
            org_unit_id,
            language,
        };
        (input, errors)
    }
}

fn check_person_name(raw: &str, field: &'static str, errors: &mut FieldErrors) -> String {
    let name = raw.trim();
    if name.is_empty() {
        let key = match field {
            "first_name" => "masterdata.errors.first_name_missing",
            _ => "masterdata.errors.last_name_missing",
        };
        errors.insert(field, key);
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.insert(field, "masterdata.errors.name_too_long");
    } else if has_control(name) {
        errors.insert(field, "masterdata.errors.name_invalid");
    }
    name.to_owned()
}

/// Parses an optional date in `dd.mm.yyyy` or `yyyy-mm-dd`. An empty field is `None`.
fn check_date(raw: &str, field: &'static str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let value = raw.trim();
    if value.is_empty() {
        return None;
    }
    let date = parse_date(value);
    if date.is_none() {
        errors.insert(field, "masterdata.errors.date_invalid");
    }
    date
}

/// Returns true for digits with the separators people type in German phone numbers:
/// spaces, `+`, `-`, `/`, `(`, `)` and `.`, with at least one digit.
fn is_phone_number(phone: &str) -> bool {
    phone.chars().any(|c| c.is_ascii_digit())
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '/' | '(' | ')' | '.'))
}

/// Formats a date the way German users type it, `dd.mm.yyyy`.
pub fn format_date(date: Option<NaiveDate>) -> String {
    date.map(|date| date.format("%d.%m.%Y").to_string())
        .unwrap_or_default()
}

/// Body of the form that creates an employee's login on tab "Benutzer". The passwords are
/// never written back into a page.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct NewLoginForm {
    pub username: String,
    pub password: String,
    pub password_repeat: String,
    /// Present (`ja`) when the checkbox "Passwort muss beim nächsten Anmelden geändert
    /// werden" is ticked.
    pub must_change: Option<String>,
}

/// Body of the form that sets a new password for an existing login.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    pub password: String,
    pub password_repeat: String,
    pub must_change: Option<String>,
}

/// Body of the form that changes the username of an existing login.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UsernameForm {
    pub username: String,
}

/// Body of the "Aktiv?" form: `ja` or `nein`.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ActiveForm {
    pub active: String,
}

/// Reads a checkbox: ticked when the field is present with any value but `nein`.
pub fn is_ticked(value: Option<&str>) -> bool {
    value.is_some_and(|value| value != "nein")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_form() -> EmployeeForm {
        EmployeeForm {
            personnel_number: " 1001 ".to_owned(),
            first_name: "Anna".to_owned(),
            last_name: "Schmidt".to_owned(),
            email: " anna.schmidt@apotheke.example ".to_owned(),
            phone: "+49 6221 / 12345".to_owned(),
            entry_date: "01.03.2024".to_owned(),
            exit_date: "2026-12-31".to_owned(),
            org_unit_id: "7".to_owned(),
            language: "en".to_owned(),
        }
    }

    #[test]
    fn employee_check_trims_and_parses() {
        let (input, errors) = valid_form().check();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(input.personnel_number, "1001");
        assert_eq!(
            input.email.as_deref(),
            Some("anna.schmidt@apotheke.example")
        );
        assert_eq!(input.phone.as_deref(), Some("+49 6221 / 12345"));
        assert_eq!(input.entry_date, NaiveDate::from_ymd_opt(2024, 3, 1));
        assert_eq!(input.exit_date, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(input.org_unit_id, Some(7));
        assert_eq!(input.language, Locale::En);
    }

    #[test]
    fn employee_check_reports_every_field() {
        let form = EmployeeForm {
            personnel_number: "x".repeat(33),
            first_name: "  ".to_owned(),
            last_name: "a".repeat(101),
            email: "anna(at)apotheke.de".to_owned(),
            phone: "ruf mich an".to_owned(),
            entry_date: "31.02.2024".to_owned(),
            exit_date: "gestern".to_owned(),
            org_unit_id: "Verkauf".to_owned(),
            language: "fr".to_owned(),
        };
        let (_, errors) = form.check();
        let expected = [
            ("email", "masterdata.errors.email_invalid"),
            ("entry_date", "masterdata.errors.date_invalid"),
            ("exit_date", "masterdata.errors.date_invalid"),
            ("first_name", "masterdata.errors.first_name_missing"),
            ("language", "masterdata.errors.language_invalid"),
            ("last_name", "masterdata.errors.name_too_long"),
            ("org_unit_id", "masterdata.errors.unit_missing"),
            (
                "personnel_number",
                "masterdata.errors.personnel_number_too_long",
            ),
            ("phone", "masterdata.errors.phone_invalid"),
        ];
        assert_eq!(errors, FieldErrors::from(expected));
    }

    #[test]
    fn employee_check_rejects_exit_before_entry() {
        let mut form = valid_form();
        form.entry_date = "2024-03-01".to_owned();
        form.exit_date = "28.02.2024".to_owned();
        let (_, errors) = form.check();
        assert_eq!(
            errors.get("exit_date"),
            Some(&"masterdata.errors.exit_before_entry")
        );
        form.exit_date = "01.03.2024".to_owned();
        assert!(form.check().1.is_empty());
    }

    #[test]
    fn employee_check_allows_empty_optional_fields() {
        let mut form = valid_form();
        form.email = " ".to_owned();
        form.phone = String::new();
        form.entry_date = String::new();
        form.exit_date = String::new();
        form.language = String::new();
        let (input, errors) = form.check();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(input.email, None);
        assert_eq!(input.phone, None);
        assert_eq!(input.entry_date, None);
        assert_eq!(input.language, Locale::De);
    }

    #[test]
    fn unit_name_check_trims_and_limits() {
        assert_eq!(check_unit_name("  Verkauf "), Ok("Verkauf".to_owned()));
        assert_eq!(
            check_unit_name(" "),
            Err("masterdata.errors.unit_name_missing")
        );
        assert_eq!(check_unit_name(&"ä".repeat(100)), Ok("ä".repeat(100)));
        assert_eq!(
            check_unit_name(&"ä".repeat(101)),
            Err("masterdata.errors.unit_name_too_long")
        );
        assert_eq!(
            check_unit_name("Ver\nkauf"),
            Err("masterdata.errors.unit_name_invalid")
        );
    }

    #[test]
    fn format_date_is_german() {
        assert_eq!(
            format_date(NaiveDate::from_ymd_opt(2024, 3, 1)),
            "01.03.2024"
        );
        assert_eq!(format_date(None), "");
    }
}
