//! The audit events of employee records (tab "Stammdaten") and of their portal logins (tab
//! "Benutzer").
//!
//! An employee event lists the names of the fields that were set or changed. Old and new values
//! are logged only for the fields that decide where the employee belongs and until when they may
//! sign in: personnel number, entry and exit date, unit and language. Names, email address and
//! phone number are listed by name only, because the log is kept for up to 3650 days and must
//! not become a second copy of contact data. The employee's name is stored once, as the event's
//! target. Passwords never reach the log.

use std::net::IpAddr;

use mep24web_entities::{account, employee};
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::{Map, Value, json};

use super::forms::EmployeeInput;
use super::tree::OrgTree;

/// Actor and source address of a change on the master data pages.
#[derive(Clone, Copy)]
pub(super) struct Trail<'a> {
    pub actor: &'a account::Model,
    pub source_ip: IpAddr,
}

impl Trail<'_> {
    /// Records `employee_created` with the fields that have a value.
    pub(super) async fn employee_created<C: ConnectionTrait>(
        self,
        conn: &C,
        created: &employee::Model,
        tree: &OrgTree,
    ) -> Result<(), DbErr> {
        let details = created_details(created, &unit_names(tree));
        let target = employee_target(created);
        self.record(conn, AuditAction::EmployeeCreated, target, details)
            .await
    }

    /// Records `employee_updated` with the changed fields, unless nothing changed.
    /// `invitations_ended` counts the open invitations that a new email address ended.
    pub(super) async fn employee_updated<C: ConnectionTrait>(
        self,
        conn: &C,
        before: &employee::Model,
        after: &employee::Model,
        tree: &OrgTree,
        invitations_ended: u64,
    ) -> Result<(), DbErr> {
        let Some(mut details) = updated_details(before, after, &unit_names(tree)) else {
            return Ok(());
        };
        if invitations_ended > 0 {
            details.insert("invitations_ended".to_owned(), json!(invitations_ended));
        }
        let target = employee_target(after);
        let details = Value::Object(details);
        self.record(conn, AuditAction::EmployeeUpdated, target, details)
            .await
    }

    /// Records `login_created` for a new portal login.
    pub(super) async fn login_created<C: ConnectionTrait>(
        self,
        conn: &C,
        login: &account::Model,
    ) -> Result<(), DbErr> {
        let details = json!({
            "username": login.username,
            "must_change_password": login.must_change_password,
        });
        self.record_on(conn, AuditAction::LoginCreated, login, details)
            .await
    }

    /// Records `password_set_by_planner` with the number of sessions and app tokens it ended.
    pub(super) async fn password_set<C: ConnectionTrait>(
        self,
        conn: &C,
        login: &account::Model,
        must_change_password: bool,
        sessions_ended: u64,
    ) -> Result<(), DbErr> {
        let details = json!({
            "must_change_password": must_change_password,
            "sessions_ended": sessions_ended,
        });
        self.record_on(conn, AuditAction::PasswordSetByPlanner, login, details)
            .await
    }

    /// Records `username_changed` with the old and the new username, unless they are equal.
    pub(super) async fn username_changed<C: ConnectionTrait>(
        self,
        conn: &C,
        before: &account::Model,
        new_username: &str,
    ) -> Result<(), DbErr> {
        if before.username == new_username {
            return Ok(());
        }
        let details = json!({ "from": before.username, "to": new_username });
        self.record_on(conn, AuditAction::UsernameChanged, before, details)
            .await
    }

    /// Records `account_activated` or `account_deactivated`, unless the login already had that
    /// state. A deactivation lists the number of sessions and app tokens it ended.
    pub(super) async fn active_set<C: ConnectionTrait>(
        self,
        conn: &C,
        before: &account::Model,
        active: bool,
        sessions_ended: u64,
    ) -> Result<(), DbErr> {
        if before.active == active {
            return Ok(());
        }
        let (action, details) = if active {
            (AuditAction::AccountActivated, json!({}))
        } else {
            let details = json!({ "sessions_ended": sessions_ended });
            (AuditAction::AccountDeactivated, details)
        };
        self.record_on(conn, action, before, details).await
    }

    async fn record_on<C: ConnectionTrait>(
        self,
        conn: &C,
        action: AuditAction,
        login: &account::Model,
        details: Value,
    ) -> Result<(), DbErr> {
        let target = AuditTarget::account(login);
        self.record(conn, action, target, details).await
    }

    async fn record<C: ConnectionTrait>(
        self,
        conn: &C,
        action: AuditAction,
        target: AuditTarget,
        details: Value,
    ) -> Result<(), DbErr> {
        audit::record_by(conn, self.actor, action, target, self.source_ip, details).await
    }
}

/// Returns the record as `update` stores it: `before` with the checked form values.
pub(super) fn after_update(
    before: &employee::Model,
    input: &EmployeeInput,
    org_unit_id: i64,
) -> employee::Model {
    employee::Model {
        personnel_number: input.personnel_number.clone(),
        first_name: input.first_name.clone(),
        last_name: input.last_name.clone(),
        email: input.email.clone(),
        phone: input.phone.clone(),
        entry_date: input.entry_date,
        exit_date: input.exit_date,
        org_unit_id,
        language: input.language.code().to_owned(),
        ..before.clone()
    }
}

/// Looks up the name of a unit by its id.
type UnitNames<'a> = dyn Fn(i64) -> Option<String> + 'a;

fn unit_names(tree: &OrgTree) -> impl Fn(i64) -> Option<String> + '_ {
    |id| tree.get(id).map(|unit| unit.name.clone())
}

fn employee_target(record: &employee::Model) -> AuditTarget {
    AuditTarget::employee(record.id, &record.first_name, &record.last_name)
}

/// Whether the log keeps a field's values or only its name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Logged {
    Values,
    NameOnly,
}

/// One field of an employee record, with its stored value as JSON.
struct Field {
    name: &'static str,
    logged: Logged,
    value: Value,
}

/// Lists the fields of a record in the order of the form. The unit's value is its id.
fn fields_of(record: &employee::Model) -> [Field; 9] {
    let field = |name, logged, value| Field {
        name,
        logged,
        value,
    };
    let date = |date: Option<chrono::NaiveDate>| json!(date.map(|date| date.to_string()));
    [
        field(
            "personnel_number",
            Logged::Values,
            json!(record.personnel_number),
        ),
        field("first_name", Logged::NameOnly, json!(record.first_name)),
        field("last_name", Logged::NameOnly, json!(record.last_name)),
        field("email", Logged::NameOnly, json!(record.email)),
        field("phone", Logged::NameOnly, json!(record.phone)),
        field("entry_date", Logged::Values, date(record.entry_date)),
        field("exit_date", Logged::Values, date(record.exit_date)),
        field("org_unit", Logged::Values, json!(record.org_unit_id)),
        field("language", Logged::Values, json!(record.language)),
    ]
}

/// Returns the details keys and values that the log stores for a field. The unit is kept by
/// name, as the administrator read it then, and by id, because names need not be unique.
fn logged_values(field: &Field, unit_names: &UnitNames<'_>) -> Vec<(&'static str, Value)> {
    if field.name != "org_unit" {
        return vec![(field.name, field.value.clone())];
    }
    let name = field.value.as_i64().and_then(unit_names);
    vec![
        ("org_unit", json!(name)),
        ("org_unit_id", field.value.clone()),
    ]
}

fn has_value(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        _ => true,
    }
}

/// Builds the details of a new record: the names of the fields that have a value, and the
/// values of the logged fields.
fn created_details(record: &employee::Model, unit_names: &UnitNames<'_>) -> Value {
    let fields = fields_of(record);
    let with_value: Vec<&str> = fields
        .iter()
        .filter(|field| has_value(&field.value))
        .map(|field| field.name)
        .collect();
    let mut details = Map::new();
    details.insert("fields".to_owned(), json!(with_value));
    for field in fields.iter().filter(|field| field.logged == Logged::Values) {
        for (key, value) in logged_values(field, unit_names) {
            details.insert(key.to_owned(), value);
        }
    }
    Value::Object(details)
}

/// Builds the details of a change: the names of the changed fields, and `{"from", "to"}` for
/// each changed logged field. Returns `None` when no field changed.
fn updated_details(
    before: &employee::Model,
    after: &employee::Model,
    unit_names: &UnitNames<'_>,
) -> Option<Map<String, Value>> {
    let mut changed = Vec::new();
    let mut details = Map::new();
    for (old, new) in fields_of(before).iter().zip(fields_of(after).iter()) {
        if old.value == new.value {
            continue;
        }
        changed.push(old.name);
        if old.logged == Logged::NameOnly {
            continue;
        }
        for ((key, from), (_, to)) in logged_values(old, unit_names)
            .into_iter()
            .zip(logged_values(new, unit_names))
        {
            details.insert(key.to_owned(), json!({ "from": from, "to": to }));
        }
    }
    if changed.is_empty() {
        return None;
    }
    details.insert("fields".to_owned(), json!(changed));
    Some(details)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Utc};

    use super::*;

    fn record() -> employee::Model {
        let now = Utc::now();
        employee::Model {
            id: 7,
            tenant_id: 1,
            personnel_number: "1001".to_owned(),
            first_name: "Anna".to_owned(),
            last_name: "Schmidt".to_owned(),
            email: Some("anna@apotheke.example".to_owned()),
            phone: None,
            entry_date: NaiveDate::from_ymd_opt(2024, 3, 1),
            exit_date: None,
            org_unit_id: 4,
            language: "de".to_owned(),
            created_at: now,
            updated_at: now,
        }
    }

    fn unit_name(id: i64) -> Option<String> {
        match id {
            4 => Some("Filiale Nord".to_owned()),
            5 => Some("Filiale Süd".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn unchanged_record_has_no_details() {
        assert_eq!(updated_details(&record(), &record(), &unit_name), None);
    }

    #[test]
    fn changed_contact_data_lists_names_only() {
        let mut after = record();
        after.last_name = "Becker".to_owned();
        after.email = Some("a.becker@privat.example".to_owned());
        after.phone = Some("06221 123456".to_owned());
        let details = updated_details(&record(), &after, &unit_name).map(Value::Object);
        assert_eq!(
            details,
            Some(json!({ "fields": ["last_name", "email", "phone"] }))
        );
    }

    #[test]
    fn changed_dates_and_unit_keep_values() {
        let mut after = record();
        after.exit_date = NaiveDate::from_ymd_opt(2026, 12, 31);
        after.org_unit_id = 5;
        let details = updated_details(&record(), &after, &unit_name).map(Value::Object);
        assert_eq!(
            details,
            Some(json!({
                "fields": ["exit_date", "org_unit"],
                "exit_date": { "from": null, "to": "2026-12-31" },
                "org_unit": { "from": "Filiale Nord", "to": "Filiale Süd" },
                "org_unit_id": { "from": 4, "to": 5 },
            }))
        );
    }

    #[test]
    fn created_lists_given_fields() {
        let details = created_details(&record(), &unit_name);
        assert_eq!(
            details,
            json!({
                "fields": ["personnel_number", "first_name", "last_name", "email",
                           "entry_date", "org_unit", "language"],
                "personnel_number": "1001",
                "entry_date": "2024-03-01",
                "exit_date": null,
                "org_unit": "Filiale Nord",
                "org_unit_id": 4,
                "language": "de",
            })
        );
    }
}
