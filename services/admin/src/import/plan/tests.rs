use chrono::{NaiveDate, Utc};
use mep24web_employee_import::parse;
use mep24web_platform::rights::Reach;

use super::*;

const ROOT: i64 = 1;
const HEIDELBERG: i64 = 2;
const KASSE: i64 = 3;

fn unit(id: i64, parent_id: Option<i64>, kind: &str, name: &str) -> org_unit::Model {
    org_unit::Model {
        id,
        tenant_id: 1,
        parent_id,
        kind: kind.to_owned(),
        name: name.to_owned(),
        created_at: Utc::now(),
    }
}

fn stored(id: i64, number: &str, org_unit_id: i64) -> employee::Model {
    employee::Model {
        id,
        tenant_id: 1,
        personnel_number: number.to_owned(),
        first_name: "Jürgen".to_owned(),
        last_name: "Weiß".to_owned(),
        email: Some("Juergen.Weiss@Example.com".to_owned()),
        phone: None,
        entry_date: NaiveDate::from_ymd_opt(2019, 4, 1),
        exit_date: None,
        org_unit_id,
        language: "de".to_owned(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn snapshot(employees: Vec<employee::Model>) -> Snapshot {
    let units = vec![
        unit(ROOT, None, "organization", "Apotheke am Markt"),
        unit(HEIDELBERG, Some(ROOT), "branch", "Filiale Heidelberg"),
        unit(KASSE, Some(HEIDELBERG), "department", "Kasse"),
    ];
    match Snapshot::from_rows(units, employees) {
        Some(snapshot) => snapshot,
        None => panic!("test tree has no root"),
    }
}

fn plan(csv: &str, snapshot: &Snapshot) -> Plan {
    match parse(csv.as_bytes()) {
        Ok(parsed) => Plan::build(&parsed, snapshot),
        Err(error) => panic!("test file rejected: {error}"),
    }
}

fn fields(action: &Action) -> Vec<Field> {
    match action {
        Action::Update { changes, .. } => changes.iter().map(|change| change.field).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn unknown_number_is_created_at_root() {
    let plan = plan(
        "Personalnummer;Nachname;Vorname\n1001;Weiß;Jürgen\n",
        &snapshot(vec![]),
    );
    assert_eq!(plan.rows.len(), 1);
    assert_eq!(plan.rows[0].action, Action::Create);
    assert_eq!(plan.rows[0].unit, UnitRef::Existing(ROOT));
    assert_eq!(plan.count_new(), 1);
}

#[test]
fn same_values_are_unchanged() {
    let csv = "Personalnummer;Nachname;Vorname;E-Mail;Eintrittsdatum;Filiale;Abteilung\n\
               1001;Weiß;Jürgen;juergen.weiss@example.com;01.04.2019;filiale heidelberg;KASSE\n";
    let plan = plan(csv, &snapshot(vec![stored(10, "1001", KASSE)]));
    assert_eq!(plan.rows[0].action, Action::Unchanged { id: 10 });
    assert!(plan.new_units.is_empty());
    assert_eq!(plan.count_unchanged(), 1);
}

#[test]
fn changed_fields_are_listed() {
    let csv = "Personalnummer;Nachname;Vorname;Telefon;Eintrittsdatum;Sprache\n\
               1001;Weiß;Jürgen;06221 4711;;en\n";
    let plan = plan(csv, &snapshot(vec![stored(10, "1001", KASSE)]));
    assert_eq!(
        fields(&plan.rows[0].action),
        [Field::Phone, Field::EntryDate, Field::Language]
    );
    let Action::Update { changes, .. } = &plan.rows[0].action else {
        panic!("expected an update");
    };
    assert_eq!(changes[1].new, Value::Date(None));
    assert_eq!(changes[2].new, Value::Language("en".to_owned()));
}

#[test]
fn missing_columns_keep_stored_values() {
    let csv = "Personalnummer;Nachname;Vorname\n1001;Weiß;Jürgen\n";
    let plan = plan(csv, &snapshot(vec![stored(10, "1001", KASSE)]));
    assert_eq!(plan.rows[0].action, Action::Unchanged { id: 10 });
    assert_eq!(plan.rows[0].unit, UnitRef::Existing(KASSE));
}

#[test]
fn empty_language_keeps_stored_language() {
    let mut employee = stored(10, "1001", ROOT);
    employee.language = "en".to_owned();
    let plan = plan(
        "Personalnummer;Nachname;Vorname;Sprache\n1001;Weiß;Jürgen;\n",
        &snapshot(vec![employee]),
    );
    assert_eq!(plan.rows[0].action, Action::Unchanged { id: 10 });
}

#[test]
fn branch_only_keeps_department_of_that_branch() {
    let csv = "Personalnummer;Nachname;Vorname;Filiale\n1001;Weiß;Jürgen;Filiale Heidelberg\n";
    let plan = plan(csv, &snapshot(vec![stored(10, "1001", KASSE)]));
    assert_eq!(plan.rows[0].unit, UnitRef::Existing(KASSE));
    assert_eq!(plan.rows[0].action, Action::Unchanged { id: 10 });
}

#[test]
fn empty_branch_and_department_move_to_root() {
    let csv = "Personalnummer;Nachname;Vorname;Filiale;Abteilung\n1001;Weiß;Jürgen;;\n";
    let plan = plan(csv, &snapshot(vec![stored(10, "1001", KASSE)]));
    assert_eq!(plan.rows[0].unit, UnitRef::Existing(ROOT));
    assert_eq!(fields(&plan.rows[0].action), [Field::OrgUnit]);
}

#[test]
fn new_units_are_shared_and_ordered() {
    let csv = "Personalnummer;Nachname;Vorname;Filiale;Abteilung\n\
               1;A;A;Filiale Mannheim;Offizin\n\
               2;B;B;filiale mannheim;OFFIZIN\n\
               3;C;C;Filiale Heidelberg;Rezeptur\n\
               4;D;D;Filiale Mannheim;\n";
    let plan = plan(csv, &snapshot(vec![]));
    let units: Vec<(&str, &str, UnitRef)> = plan
        .new_units
        .iter()
        .map(|unit| (unit.kind, unit.name.as_str(), unit.parent))
        .collect();
    assert_eq!(
        units,
        [
            ("branch", "Filiale Mannheim", UnitRef::Existing(ROOT)),
            ("department", "Offizin", UnitRef::New(0)),
            ("department", "Rezeptur", UnitRef::Existing(HEIDELBERG)),
        ]
    );
    let targets: Vec<UnitRef> = plan.rows.iter().map(|row| row.unit).collect();
    assert_eq!(
        targets,
        [
            UnitRef::New(1),
            UnitRef::New(1),
            UnitRef::New(2),
            UnitRef::New(0)
        ]
    );
}

#[test]
fn department_without_branch_is_a_problem() {
    let csv = "Personalnummer;Nachname;Vorname;Filiale;Abteilung\n1;A;A;;Kasse\n2;B;B;;\n";
    let plan = plan(csv, &snapshot(vec![]));
    assert!(!plan.is_valid());
    assert_eq!(plan.problems.len(), 1);
    assert_eq!(plan.problems[0].line, 2);
    assert_eq!(plan.problems[0].code, "department_without_branch");
    assert_eq!(plan.problems[0].args, [("value", "Kasse".to_owned())]);
    assert_eq!(plan.rows.len(), 1);
    assert_eq!(plan.count_problem_lines(), 1);
}

#[test]
fn parser_problems_keep_their_arguments() {
    let csv = "Personalnummer;Nachname;Vorname\n1;A;A\n1;B;B\n";
    let plan = plan(csv, &snapshot(vec![]));
    assert_eq!(plan.problems.len(), 1);
    assert_eq!(plan.problems[0].code, "duplicate_personnel_number");
    assert_eq!(
        plan.problems[0].args,
        [("value", "1".to_owned()), ("first_line", "2".to_owned())]
    );
}

#[test]
fn fingerprint_follows_stored_state() {
    let csv = "Personalnummer;Nachname;Vorname;Telefon\n1001;Weiß;Jürgen;0621 1\n";
    let before = plan(csv, &snapshot(vec![stored(10, "1001", ROOT)]));
    let again = plan(csv, &snapshot(vec![stored(10, "1001", ROOT)]));
    assert_eq!(before.fingerprint(), again.fingerprint());

    let mut edited = stored(10, "1001", ROOT);
    edited.phone = Some("0621 2".to_owned());
    let after = plan(csv, &snapshot(vec![edited]));
    assert_ne!(before.fingerprint(), after.fingerprint());
}

#[test]
fn rows_and_units_outside_reach_are_left_out() {
    let csv = "Personalnummer;Nachname;Vorname;Filiale;Abteilung\n\
               1;A;A;Filiale Mannheim;Offizin\n\
               2;B;B;Filiale Heidelberg;Rezeptur\n\
               3;C;C;Filiale Heidelberg;Kasse\n\
               1001;Weiß;Jürgen;Filiale Heidelberg;Kasse\n";
    let parsed = match parse(csv.as_bytes()) {
        Ok(parsed) => parsed,
        Err(error) => panic!("test file rejected: {error}"),
    };
    let reach = Reach::Units([HEIDELBERG, KASSE].into());
    let plan = Plan::build_within(&parsed, &snapshot(vec![stored(10, "1001", ROOT)]), &reach);

    let problems: Vec<(usize, &str)> = plan
        .problems
        .iter()
        .map(|problem| (problem.line, problem.code))
        .collect();
    assert_eq!(
        problems,
        [(2, "unit_outside_reach"), (5, "employee_outside_reach")]
    );
    let units: Vec<(&str, &str, UnitRef)> = plan
        .new_units
        .iter()
        .map(|unit| (unit.kind, unit.name.as_str(), unit.parent))
        .collect();
    assert_eq!(
        units,
        [("department", "Rezeptur", UnitRef::Existing(HEIDELBERG))]
    );
    let rows: Vec<(&str, UnitRef)> = plan
        .rows
        .iter()
        .map(|row| (row.row.personnel_number.as_str(), row.unit))
        .collect();
    assert_eq!(
        rows,
        [("2", UnitRef::New(0)), ("3", UnitRef::Existing(KASSE))]
    );
}
