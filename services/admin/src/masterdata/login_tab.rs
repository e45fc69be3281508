//! Tab "Benutzer" of an employee record: the employee's portal login. Before a login exists,
//! the tab offers to create one or to invite the employee. Afterwards it shows the username and
//! the forms of `login_settings` for a new password, a new username and "Aktiv?".

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use mep24web_entities::{account, employee};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::passwords::{self, PasswordProblem};
use mep24web_platform::rights::{Allowed, need};
use mep24web_platform::sessions::{self, Authenticated};
use mep24web_platform::username::Username;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, templates};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::audit_trail::Trail;
use super::forms::{self, FieldErrors, NewLoginForm};
use super::{
    Notice, error_texts, find_employee, find_login, full_name, load_tree, lock_employee_within,
    redirect_with, unprocessable,
};

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct TabQuery {
    hinweis: Option<String>,
}

/// Values typed into the tab's forms, shown again after a failed submit. Passwords are never
/// among them.
#[derive(Default, Serialize)]
pub(super) struct TabValues {
    pub(super) username: String,
    pub(super) must_change: bool,
    pub(super) new_username: String,
}

/// Inline errors, one map per form of the tab.
#[derive(Default)]
pub(super) struct TabErrors {
    pub(super) create: FieldErrors,
    pub(super) password: FieldErrors,
    pub(super) username: FieldErrors,
}

pub(super) fn tab_url(employee_id: i64) -> String {
    format!("/admin/stammdaten/mitarbeiter/{employee_id}/benutzer")
}

pub(super) async fn render<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    auth: &Authenticated,
    employee: &employee::Model,
    login: Option<&account::Model>,
    values: &TabValues,
    errors: &TabErrors,
    notice: Option<String>,
) -> Result<Html<String>, Error> {
    let tenant = &auth.tenant;
    let tree = load_tree(scope).await?;
    // Invitations are sent per organization or branch, so the link opens the employee's branch,
    // or the organization for an employee placed directly under it.
    let invite_level = tree
        .branch_of(employee.org_unit_id)
        .or_else(|| tree.root())
        .map(|unit| unit.id);
    let now = Utc::now();
    let login = login.map(|login| {
        let locked_until = login
            .locked_until
            .filter(|until| *until > now)
            .map(|until| {
                until
                    .with_timezone(&tenant.time_zone)
                    .format("%d.%m.%Y %H:%M")
                    .to_string()
            });
        minijinja::context! {
            username => login.username,
            active => login.active,
            must_change_password => login.must_change_password,
            locked_until => locked_until,
        }
    });
    let departed = sessions::is_departed(employee.exit_date, tenant.today());
    let base = base_context(tenant, Some(auth), "stammdaten");
    let context = minijinja::context! {
        notice => notice,
        tab => "benutzer",
        employee => minijinja::context! {
            id => employee.id,
            name => full_name(&employee.first_name, &employee.last_name),
            personnel_number => employee.personnel_number,
            org_unit_id => employee.org_unit_id,
            departed => departed,
        },
        login => login,
        invite_url => invite_level.map(|id| format!("/admin/stammdaten/einladen?ebene={id}")),
        values => values,
        create_errors => error_texts(&errors.create),
        password_errors => error_texts(&errors.password),
        username_errors => error_texts(&errors.username),
        ..base
    };
    templates::page("admin/masterdata/employee_login.html", context)
}

/// Returns true when another account of the tenant, planner or employee, has this username key.
pub(super) async fn username_taken<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    key: &str,
    own_account_id: Option<i64>,
) -> Result<bool, DbErr> {
    let mut query = scope
        .find::<account::Entity>()
        .filter(account::Column::UsernameKey.eq(key));
    if let Some(id) = own_account_id {
        query = query.filter(account::Column::Id.ne(id));
    }
    Ok(query.count(scope.conn()).await? > 0)
}

/// Checks a new password against the policy. A mismatch is shown at the repetition field.
pub(super) fn check_password(
    password: &str,
    repeated: &str,
    username: &str,
    errors: &mut FieldErrors,
) {
    if let Err(problem) = passwords::check_new_password(password, repeated, username) {
        let field = match problem {
            PasswordProblem::Mismatch => "password_repeat",
            _ => "password",
        };
        errors.insert(field, problem.message_key());
    }
}

/// `GET /admin/stammdaten/mitarbeiter/{id}/benutzer`.
pub(super) async fn show(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::ManageEmployeeLogins>,
    Path(raw_id): Path<String>,
    query: Result<Query<TabQuery>, QueryRejection>,
) -> Result<Response, Error> {
    let scope = Scoped::new(&state.db, auth.tenant.id);
    let employee = find_employee(&scope, &raw_id, &reach).await?;
    let login = find_login(&scope, employee.id).await?;
    let notice = query
        .ok()
        .and_then(|Query(query)| Notice::text_for(query.hinweis.as_deref()));
    let values = TabValues {
        new_username: login
            .as_ref()
            .map(|login| login.username.clone())
            .unwrap_or_default(),
        ..TabValues::default()
    };
    let page = render(
        &scope,
        &auth,
        &employee,
        login.as_ref(),
        &values,
        &TabErrors::default(),
        notice,
    )
    .await?;
    Ok(page.into_response())
}

/// `POST /admin/stammdaten/mitarbeiter/{id}/benutzer`: creates the employee's portal login
/// ("Neuen Benutzer erstellen") and its audit event in one transaction. A second submit after
/// the login exists changes nothing.
pub(super) async fn create(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::ManageEmployeeLogins>,
    client: ClientIp,
    Path(raw_id): Path<String>,
    form: Result<Form<NewLoginForm>, FormRejection>,
) -> Result<Response, Error> {
    let tenant_id = auth.tenant.id;
    let scope = Scoped::new(&state.db, tenant_id);
    let employee = find_employee(&scope, &raw_id, &reach).await?;
    let form = forms::accept(form)?;
    if find_login(&scope, employee.id).await?.is_some() {
        return Ok(Redirect::to(&tab_url(employee.id)).into_response());
    }

    let mut errors = FieldErrors::new();
    let username = match Username::parse(&form.username) {
        Ok(username) => {
            if username_taken(&scope, username.key(), None).await? {
                errors.insert("username", "errors.username_taken");
            }
            Some(username)
        }
        Err(problem) => {
            errors.insert("username", problem.message_key());
            None
        }
    };
    let username_text = username.as_ref().map_or_else(
        || form.username.trim().to_owned(),
        |u| u.as_str().to_owned(),
    );
    check_password(
        &form.password,
        &form.password_repeat,
        &username_text,
        &mut errors,
    );
    let values = TabValues {
        username: form.username.clone(),
        must_change: forms::is_ticked(form.must_change.as_deref()),
        new_username: String::new(),
    };
    let username = match username {
        Some(username) if errors.is_empty() => username,
        _ => {
            let errors = TabErrors {
                create: errors,
                ..TabErrors::default()
            };
            let page = render(&scope, &auth, &employee, None, &values, &errors, None).await?;
            return Ok(unprocessable(page));
        }
    };

    let hash = state
        .hasher
        .hash(&SecretString::from(form.password))
        .await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    lock_employee_within(&txn, tenant_id, employee.id, &reach).await?;
    let inserted = account::ActiveModel {
        tenant_id: Set(tenant_id.get()),
        kind: Set("employee".to_owned()),
        username: Set(username.as_str().to_owned()),
        username_key: Set(username.key().to_owned()),
        password_hash: Set(Some(hash)),
        display_name: Set(full_name(&employee.first_name, &employee.last_name)),
        role: Set(None),
        email: Set(employee.email.clone()),
        employee_id: Set(Some(employee.id)),
        active: Set(true),
        must_change_password: Set(values.must_change),
        failed_attempts: Set(0),
        locked_until: Set(None),
        language: Set(employee.language.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(created) => created,
        // A concurrent request took the username, or created this employee's login.
        Err(error) if db::is_unique_violation(&error) => {
            txn.rollback().await?;
            tracing::info!(
                tenant_id = %tenant_id,
                employee_id = employee.id,
                %error,
                "employee login not created: username or login taken by a concurrent request"
            );
            if find_login(&scope, employee.id).await?.is_some() {
                return Ok(Redirect::to(&tab_url(employee.id)).into_response());
            }
            let errors = TabErrors {
                create: FieldErrors::from([("username", "errors.username_taken")]),
                ..TabErrors::default()
            };
            let page = render(&scope, &auth, &employee, None, &values, &errors, None).await?;
            return Ok(unprocessable(page));
        }
        Err(error) => return Err(error.into()),
    };
    let trail = Trail {
        actor: &auth.account,
        source_ip: client.0,
    };
    trail.login_created(&txn, &created).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        employee_id = employee.id,
        account_id = created.id,
        must_change_password = values.must_change,
        actor_account_id = auth.account.id,
        "employee login created"
    );
    Ok(redirect_with(&tab_url(employee.id), Notice::LoginCreated))
}
