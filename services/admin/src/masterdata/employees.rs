//! Employee records, tab "Stammdaten": creating and editing personnel number, names, contact
//! data, entry and exit date, unit and language.

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use mep24web_entities::{account, employee};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::rights::{Allowed, Reach, Right, need};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, templates};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::audit_trail::{self, Trail};
use super::forms::{self, EmployeeForm, EmployeeInput, FieldErrors, format_date};
use super::tree::OrgTree;
use super::{
    Notice, error_texts, find_employee, full_name, load_tree, lock_employee_within, redirect_with,
    unprocessable,
};
use crate::invitations::end_open_invitations;

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct EmployeePageQuery {
    /// Node selected in the overview, which preselects the unit of a new employee.
    ebene: Option<String>,
    hinweis: Option<String>,
}

/// The values the form shows: what the user typed after a failed submit, the stored record
/// otherwise.
#[derive(Default, Serialize)]
struct FormValues {
    personnel_number: String,
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    entry_date: String,
    exit_date: String,
    org_unit_id: String,
    language: String,
}

impl FormValues {
    fn typed(form: &EmployeeForm) -> Self {
        Self {
            personnel_number: form.personnel_number.clone(),
            first_name: form.first_name.clone(),
            last_name: form.last_name.clone(),
            email: form.email.clone(),
            phone: form.phone.clone(),
            entry_date: form.entry_date.clone(),
            exit_date: form.exit_date.clone(),
            org_unit_id: form.org_unit_id.clone(),
            language: form.language.clone(),
        }
    }

    fn stored(employee: &employee::Model) -> Self {
        Self {
            personnel_number: employee.personnel_number.clone(),
            first_name: employee.first_name.clone(),
            last_name: employee.last_name.clone(),
            email: employee.email.clone().unwrap_or_default(),
            phone: employee.phone.clone().unwrap_or_default(),
            entry_date: format_date(employee.entry_date),
            exit_date: format_date(employee.exit_date),
            org_unit_id: employee.org_unit_id.to_string(),
            language: employee.language.clone(),
        }
    }
}

/// Renders the employee form. `edit` is the part of the organization the planner may edit;
/// `None` shows the record read-only.
fn render(
    auth: &Authenticated,
    tree: &OrgTree,
    edit: Option<&Reach>,
    employee: Option<&employee::Model>,
    values: &FormValues,
    errors: &FieldErrors,
    notice: Option<String>,
) -> Result<Html<String>, Error> {
    let base = base_context(&auth.tenant, Some(auth), "stammdaten");
    let employee = employee.map(|employee| {
        minijinja::context! {
            id => employee.id,
            name => full_name(&employee.first_name, &employee.last_name),
            personnel_number => employee.personnel_number,
            org_unit_id => employee.org_unit_id,
        }
    });
    let context = minijinja::context! {
        notice => notice,
        tab => "stammdaten",
        employee => employee,
        values => values,
        errors => error_texts(errors),
        read_only => edit.is_none(),
        units => tree
            .assignable_options()
            .into_iter()
            .filter(|option| {
                let id = option.id.parse::<i64>().unwrap_or_default();
                match edit {
                    Some(reach) => reach.contains(id),
                    None => values.org_unit_id == option.id,
                }
            })
            .collect::<Vec<_>>(),
        ..base
    };
    templates::page("admin/masterdata/employee_form.html", context)
}

/// Runs the checks that need the database: the unit must be a branch or department of this
/// tenant within the planner's reach, and the personnel number must be free (`own_id` is the
/// employee being edited).
async fn check_against_data<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    tree: &OrgTree,
    reach: &Reach,
    input: &EmployeeInput,
    own_id: Option<i64>,
    errors: &mut FieldErrors,
) -> Result<(), DbErr> {
    let unit_ok = input
        .org_unit_id
        .and_then(|id| tree.get(id))
        .is_some_and(|unit| unit.kind.takes_employees() && reach.contains(unit.id));
    if !unit_ok {
        errors.insert("org_unit_id", "masterdata.errors.unit_missing");
    }
    if !errors.contains_key("personnel_number") {
        let mut query = scope
            .find::<employee::Entity>()
            .filter(employee::Column::PersonnelNumber.eq(input.personnel_number.as_str()));
        if let Some(id) = own_id {
            query = query.filter(employee::Column::Id.ne(id));
        }
        if query.count(scope.conn()).await? > 0 {
            errors.insert(
                "personnel_number",
                "masterdata.errors.personnel_number_taken",
            );
        }
    }
    Ok(())
}

/// Returns true when two stored addresses name the same mailbox, compared without regard to case
/// as the CSV import compares them.
fn same_address(old: Option<&str>, new: Option<&str>) -> bool {
    let normalize = |address: Option<&str>| {
        address
            .map(|address| address.trim().to_lowercase())
            .filter(|address| !address.is_empty())
    };
    normalize(old) == normalize(new)
}

/// Copies the checked values onto an active model.
fn apply(model: &mut employee::ActiveModel, input: EmployeeInput, org_unit_id: i64) {
    model.personnel_number = Set(input.personnel_number);
    model.first_name = Set(input.first_name);
    model.last_name = Set(input.last_name);
    model.email = Set(input.email);
    model.phone = Set(input.phone);
    model.entry_date = Set(input.entry_date);
    model.exit_date = Set(input.exit_date);
    model.org_unit_id = Set(org_unit_id);
    model.language = Set(input.language.code().to_owned());
    model.updated_at = Set(Utc::now());
}

/// `GET /admin/stammdaten/mitarbeiter/neu`: empty employee form, with the unit preselected when
/// `ebene` names a branch or department of this tenant.
pub(super) async fn new_form(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    query: Result<Query<EmployeePageQuery>, QueryRejection>,
) -> Result<Response, Error> {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let tree = load_tree(&Scoped::new(&state.db, auth.tenant.id)).await?;
    let preselected = query
        .ebene
        .and_then(|raw| raw.trim().parse::<i64>().ok())
        .and_then(|id| tree.get(id))
        .filter(|unit| unit.kind.takes_employees() && reach.contains(unit.id))
        .map(|unit| unit.id.to_string())
        .unwrap_or_default();
    let values = FormValues {
        org_unit_id: preselected,
        language: "de".to_owned(),
        ..FormValues::default()
    };
    Ok(render(
        &auth,
        &tree,
        Some(&reach),
        None,
        &values,
        &FieldErrors::new(),
        None,
    )?
    .into_response())
}

/// `POST /admin/stammdaten/mitarbeiter/neu`: creates an employee record and its audit event in
/// one transaction.
pub(super) async fn create(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    client: ClientIp,
    form: Result<Form<EmployeeForm>, FormRejection>,
) -> Result<Response, Error> {
    let form = forms::accept(form)?;
    let tenant_id = auth.tenant.id;
    let scope = Scoped::new(&state.db, tenant_id);
    let tree = load_tree(&scope).await?;
    let (input, mut errors) = form.check();
    check_against_data(&scope, &tree, &reach, &input, None, &mut errors).await?;
    let org_unit_id = match input.org_unit_id {
        Some(id) if errors.is_empty() => id,
        _ => {
            let page = render(
                &auth,
                &tree,
                Some(&reach),
                None,
                &FormValues::typed(&form),
                &errors,
                None,
            )?;
            return Ok(unprocessable(page));
        }
    };

    let now = Utc::now();
    let mut model = employee::ActiveModel {
        tenant_id: Set(tenant_id.get()),
        created_at: Set(now),
        ..Default::default()
    };
    apply(&mut model, input, org_unit_id);
    let txn = state.db.begin().await?;
    let created = match model.insert(&txn).await {
        Ok(created) => created,
        // Another request took the personnel number after the check above.
        Err(error) if db::is_unique_violation(&error) => {
            txn.rollback().await?;
            tracing::info!(
                tenant_id = %tenant_id,
                %error,
                "personnel number taken by a concurrent request"
            );
            let errors = FieldErrors::from([(
                "personnel_number",
                "masterdata.errors.personnel_number_taken",
            )]);
            let page = render(
                &auth,
                &tree,
                Some(&reach),
                None,
                &FormValues::typed(&form),
                &errors,
                None,
            )?;
            return Ok(unprocessable(page));
        }
        Err(error) => return Err(error.into()),
    };
    let trail = Trail {
        actor: &auth.account,
        source_ip: client.0,
    };
    trail.employee_created(&txn, &created, &tree).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        employee_id = created.id,
        actor_account_id = auth.account.id,
        "employee created"
    );
    Ok(redirect_with(
        &format!("/admin/stammdaten/mitarbeiter/{}", created.id),
        Notice::EmployeeCreated,
    ))
}

/// `GET /admin/stammdaten/mitarbeiter/{id}`: the employee's record, tab "Stammdaten".
pub(super) async fn edit_form(
    State(state): State<AppState>,
    Allowed {
        auth,
        reach,
        tree: index,
        ..
    }: Allowed<need::ViewMasterData>,
    Path(raw_id): Path<String>,
    query: Result<Query<EmployeePageQuery>, QueryRejection>,
) -> Result<Response, Error> {
    let scope = Scoped::new(&state.db, auth.tenant.id);
    let employee = find_employee(&scope, &raw_id, &reach).await?;
    let tree = load_tree(&scope).await?;
    let edit = auth
        .grants
        .reach(Right::EditMasterData, &index)
        .filter(|edit| edit.contains(employee.org_unit_id));
    let notice = query
        .ok()
        .and_then(|Query(query)| Notice::text_for(query.hinweis.as_deref()));
    let values = FormValues::stored(&employee);
    let page = render(
        &auth,
        &tree,
        edit.as_ref(),
        Some(&employee),
        &values,
        &FieldErrors::new(),
        notice,
    )?;
    Ok(page.into_response())
}

/// `POST /admin/stammdaten/mitarbeiter/{id}`: saves the record, the display name of the
/// employee's login and the audit event in one transaction. A new email address ends the open
/// invitation.
pub(super) async fn update(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    client: ClientIp,
    Path(raw_id): Path<String>,
    form: Result<Form<EmployeeForm>, FormRejection>,
) -> Result<Response, Error> {
    let tenant_id = auth.tenant.id;
    let scope = Scoped::new(&state.db, tenant_id);
    let employee = find_employee(&scope, &raw_id, &reach).await?;
    let form = forms::accept(form)?;
    let tree = load_tree(&scope).await?;
    let (input, mut errors) = form.check();
    check_against_data(
        &scope,
        &tree,
        &reach,
        &input,
        Some(employee.id),
        &mut errors,
    )
    .await?;
    let org_unit_id = match input.org_unit_id {
        Some(id) if errors.is_empty() => id,
        _ => {
            let values = FormValues::typed(&form);
            let page = render(
                &auth,
                &tree,
                Some(&reach),
                Some(&employee),
                &values,
                &errors,
                None,
            )?;
            return Ok(unprocessable(page));
        }
    };

    let display_name = full_name(&input.first_name, &input.last_name);
    let employee_id = employee.id;
    let address_changed = !same_address(employee.email.as_deref(), input.email.as_deref());
    let after = audit_trail::after_update(&employee, &input, org_unit_id);
    let mut changes = <employee::ActiveModel as Default>::default();
    apply(&mut changes, input, org_unit_id);

    let txn = state.db.begin().await?;
    lock_employee_within(&txn, tenant_id, employee_id, &reach).await?;
    let tx_scope = Scoped::new(&txn, tenant_id);
    let updated = tx_scope
        .update_many::<employee::Entity>()
        .set(changes)
        .filter(employee::Column::Id.eq(employee_id))
        .exec(&txn)
        .await;
    match updated {
        Ok(_) => {}
        Err(error) if db::is_unique_violation(&error) => {
            txn.rollback().await?;
            tracing::info!(
                tenant_id = %tenant_id,
                employee_id,
                %error,
                "personnel number taken by a concurrent request"
            );
            let errors = FieldErrors::from([(
                "personnel_number",
                "masterdata.errors.personnel_number_taken",
            )]);
            let values = FormValues::typed(&form);
            let page = render(
                &auth,
                &tree,
                Some(&reach),
                Some(&employee),
                &values,
                &errors,
                None,
            )?;
            return Ok(unprocessable(page));
        }
        Err(error) => return Err(error.into()),
    }
    tx_scope
        .update_many::<account::Entity>()
        .col_expr(account::Column::DisplayName, Expr::value(display_name))
        .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(account::Column::Kind.eq("employee"))
        .filter(account::Column::EmployeeId.eq(employee_id))
        .exec(&txn)
        .await?;
    // An open invitation went to the old address, which may have been a wrong one.
    let invitations_ended = if address_changed {
        end_open_invitations(&tx_scope, &[employee_id], Utc::now()).await?
    } else {
        0
    };
    let trail = Trail {
        actor: &auth.account,
        source_ip: client.0,
    };
    trail
        .employee_updated(&txn, &employee, &after, &tree, invitations_ended)
        .await?;
    txn.commit().await?;

    tracing::info!(
        tenant_id = %tenant_id,
        employee_id,
        invitations_ended,
        actor_account_id = auth.account.id,
        "employee updated"
    );
    Ok(redirect_with(
        &format!("/admin/stammdaten/mitarbeiter/{employee_id}"),
        Notice::EmployeeSaved,
    ))
}
