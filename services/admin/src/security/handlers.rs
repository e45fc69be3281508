//! Handlers of the user list, the "Neuer Benutzer" form and the edit form.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use mep24web_entities::account;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::error::Result;
use mep24web_platform::rights::{Allowed, need};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::{AppState, Error, i18n, templates, web};
use minijinja::{Value, context};
use serde::Deserialize;

use super::audit_trail::Trail;
use super::form::{EditUserForm, FieldErrors, NewUserForm};
use super::groups::{self, store as group_store};
use super::store::{self, Actor, StoreError};
use super::{ROLE_ADMINISTRATOR, ROLE_PLANNER, format_time, second_factor};

pub(super) const LIST_PATH: &str = "/admin/sicherheit/benutzer";

/// The `?notice=` parameter that a redirect after a successful save carries.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: String,
}

/// Lists the tenant's planner users.
pub(super) async fn list(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::ManageUsers>,
    query: std::result::Result<Query<NoticeQuery>, QueryRejection>,
) -> Result<Response> {
    let tenant = &auth.tenant;
    let now = Utc::now();
    let group_names: BTreeMap<String, String> = group_store::list(&state.db, tenant.id)
        .await?
        .into_iter()
        .map(|row| (row.group.key, row.group.name))
        .collect();
    let users: Vec<Value> = store::list_planners(&state.db, tenant.id)
        .await?
        .iter()
        .map(|row| {
            context! {
                id => row.id,
                username => row.username,
                display_name => row.display_name,
                group => row.role.as_ref().and_then(|key| group_names.get(key)),
                email => row.email,
                active => row.active,
                last_login => row.last_login_at.map(|at| format_time(at, tenant.time_zone)),
                locked_until => row
                    .locked_until
                    .filter(|until| *until > now)
                    .map(|until| format_time(until, tenant.time_zone)),
            }
        })
        .collect();
    let notice = match query.map(|Query(q)| q.notice).unwrap_or_default().as_str() {
        "created" => Some(text("security.users.notice_created")),
        "saved" => Some(text("common.saved")),
        "second_factor_reset" => Some(text("totp.admin.notice_reset")),
        _ => None,
    };
    let base = web::base_context(tenant, Some(&auth), "sicherheit");
    let page = templates::page(
        "admin/security/list.html",
        context! { users => users, notice => notice, ..base },
    )?;
    Ok(page.into_response())
}

/// Shows the empty "Neuer Benutzer" form: role Planer, password change required.
pub(super) async fn new_form(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
) -> Result<Response> {
    let form = context! { role => ROLE_PLANNER, must_change_password => true };
    render_new(&state, &allowed, form, &FieldErrors::new(), StatusCode::OK).await
}

/// Creates a planner user, or shows the form again with every problem next to its field.
pub(super) async fn create(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    client: ClientIp,
    form: std::result::Result<Form<NewUserForm>, FormRejection>,
) -> Result<Response> {
    let auth = &allowed.auth;
    let Form(form) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let tenant_id = auth.tenant.id;
    let mut user = form.validate();
    if let Ok(valid) = &user
        && let Some(problem) = group_problem(&state, &allowed, &valid.role).await?
    {
        user = Err(FieldErrors::from([("role", problem)]));
    }
    if let Ok(valid) = &user
        && store::username_taken(&state.db, tenant_id, valid.username.key()).await?
    {
        user = Err(FieldErrors::from([("username", "errors.username_taken")]));
    }
    let user = match user {
        Ok(user) => user,
        Err(errors) => {
            return render_new(
                &state,
                &allowed,
                typed_new(&form),
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let hash = state.hasher.hash(&user.password).await?;
    let actor = actor(&allowed, &client);
    match store::insert(&state.db, tenant_id, &user, hash, actor).await {
        Ok(row) => {
            tracing::info!(
                tenant_id = %tenant_id,
                account_id = row.id,
                by_account_id = auth.account.id,
                role = user.role.as_str(),
                "planner user created"
            );
            Ok(Redirect::to(&format!("{LIST_PATH}?notice=created")).into_response())
        }
        Err(StoreError::UsernameTaken) => {
            let errors = FieldErrors::from([("username", "errors.username_taken")]);
            render_new(
                &state,
                &allowed,
                typed_new(&form),
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(error @ (StoreError::GroupMissing | StoreError::GroupBeyondRights)) => {
            tracing::info!(
                tenant_id = %tenant_id,
                by_account_id = auth.account.id,
                role = user.role.as_str(),
                %error,
                "planner user not created: group changed since the form was checked"
            );
            let errors = FieldErrors::from([("role", role_error_key(&error))]);
            render_new(
                &state,
                &allowed,
                typed_new(&form),
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(error) => Err(internal(error)),
    }
}

/// Shows the edit form of one planner user.
pub(super) async fn edit_form(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let account = load_manageable(&state, &allowed, id).await?;
    let form = context! {
        display_name => account.display_name,
        email => account.email,
        role => account.role,
        active => account.active,
        must_change_password => true,
    };
    render_edit(
        &state,
        &allowed,
        &account,
        form,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

/// Saves the edit form. Deactivation and a new password end the user's sessions and app tokens
/// in the same transaction. The last active administrator can be neither demoted nor
/// deactivated, and an administrator cannot deactivate their own account.
pub(super) async fn update(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    client: ClientIp,
    id: std::result::Result<Path<String>, PathRejection>,
    form: std::result::Result<Form<EditUserForm>, FormRejection>,
) -> Result<Response> {
    let account = load_manageable(&state, &allowed, id).await?;
    let auth = &allowed.auth;
    let Form(form) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let editing_self = account.id == auth.account.id;
    let mut changes = form.validate(&account.username);
    if let Ok(valid) = &changes
        && account.role.as_deref() != Some(valid.role.as_str())
        && let Some(problem) = group_problem(&state, &allowed, &valid.role).await?
    {
        changes = Err(FieldErrors::from([("role", problem)]));
    }
    if let Ok(valid) = &changes
        && editing_self
        && !valid.active
    {
        changes = Err(FieldErrors::from([(
            "active",
            "security.users.error_self_deactivate",
        )]));
    }
    let changes = match changes {
        Ok(changes) => changes,
        Err(errors) => {
            return render_edit(
                &state,
                &allowed,
                &account,
                typed_edit(&form),
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };

    // Hashing takes a while, so it happens before the transaction opens.
    let hash = match &changes.new_password {
        Some(change) => Some(state.hasher.hash(&change.password).await?),
        None => None,
    };
    let keep_session = editing_self.then_some(&auth.session_id);
    match store::update(
        &state.db,
        &state.sessions,
        auth.tenant.id,
        &account,
        actor(&allowed, &client),
        &changes,
        hash,
        keep_session,
    )
    .await
    {
        Ok(revoked) => {
            tracing::info!(
                tenant_id = %auth.tenant.id,
                account_id = account.id,
                by_account_id = auth.account.id,
                active = changes.active,
                role = changes.role.as_str(),
                password_set = changes.new_password.is_some(),
                sessions_revoked = revoked,
                "planner user updated"
            );
            // Someone who moved themselves into another group may no longer open this area.
            let target = if editing_self && account.role.as_deref() != Some(changes.role.as_str()) {
                "/admin".to_owned()
            } else {
                format!("{LIST_PATH}?notice=saved")
            };
            Ok(Redirect::to(&target).into_response())
        }
        Err(StoreError::LastAdministrator) => {
            let field = if changes.active { "role" } else { "active" };
            let errors = FieldErrors::from([(field, "security.users.error_last_administrator")]);
            render_edit(
                &state,
                &allowed,
                &account,
                typed_edit(&form),
                &errors,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(error @ (StoreError::GroupMissing | StoreError::GroupBeyondRights)) => {
            tracing::info!(
                tenant_id = %auth.tenant.id,
                account_id = account.id,
                by_account_id = auth.account.id,
                role = changes.role.as_str(),
                %error,
                "planner user not saved: group changed since the form was checked"
            );
            let errors = FieldErrors::from([("role", role_error_key(&error))]);
            render_edit(
                &state,
                &allowed,
                &account,
                typed_edit(&form),
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(error @ StoreError::AccountBeyondRights) => {
            tracing::info!(
                tenant_id = %auth.tenant.id,
                account_id = account.id,
                by_account_id = auth.account.id,
                %error,
                "planner user not saved: account's group changed since the form was checked"
            );
            Err(Error::Forbidden)
        }
        Err(StoreError::NotFound) => Err(Error::NotFound),
        Err(error) => Err(internal(error)),
    }
}

/// Returns the acting user for the audit events and the rights checks of a write.
pub(super) fn actor<'a>(allowed: &'a Allowed<need::ManageUsers>, client: &ClientIp) -> Actor<'a> {
    Actor {
        trail: Trail {
            actor: &allowed.auth.account,
            source_ip: client.0,
        },
        grants: &allowed.auth.grants,
        tree: &allowed.tree,
    }
}

/// Returns the locale key of the group select's message for a group that cannot be assigned.
fn role_error_key(error: &StoreError) -> &'static str {
    match error {
        StoreError::GroupMissing => "security.users.error_role_missing",
        _ => "security.users.error_role_not_allowed",
    }
}

/// Loads the planner user named by the path. A malformed id, an employee login and another
/// tenant's account all return `Error::NotFound`.
pub(super) async fn load_planner(
    state: &AppState,
    auth: &Authenticated,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<account::Model> {
    let id = id
        .ok()
        .and_then(|Path(raw)| raw.parse::<i64>().ok())
        .ok_or(Error::NotFound)?;
    store::find_planner(&state.db, auth.tenant.id, id)
        .await?
        .ok_or(Error::NotFound)
}

/// Loads the planner user named by the path and checks that the acting user may change them:
/// an administrator may change anyone, anyone else only users whose group's rights they hold
/// themselves.
pub(super) async fn load_manageable(
    state: &AppState,
    allowed: &Allowed<need::ManageUsers>,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<account::Model> {
    let account = load_planner(state, &allowed.auth, id).await?;
    let key = account.role.as_deref().unwrap_or_default();
    let grants = groups::group_grants(state, &allowed.auth, key).await?;
    if !allowed.auth.grants.covers(&grants, &allowed.tree) {
        return Err(Error::Forbidden);
    }
    Ok(account)
}

/// Returns the problem with assigning the group `key`, or `None` when the acting user may
/// assign it.
async fn group_problem(
    state: &AppState,
    allowed: &Allowed<need::ManageUsers>,
    key: &str,
) -> Result<Option<&'static str>> {
    let found = group_store::find_by_key(&state.db, allowed.auth.tenant.id, key).await?;
    if found.is_none() {
        return Ok(Some("security.users.error_role_missing"));
    }
    let grants = groups::group_grants(state, &allowed.auth, key).await?;
    if !allowed.auth.grants.covers(&grants, &allowed.tree) {
        return Ok(Some("security.users.error_role_not_allowed"));
    }
    Ok(None)
}

/// Lists the groups the acting user may assign, for the group select.
async fn group_options(
    state: &AppState,
    allowed: &Allowed<need::ManageUsers>,
) -> Result<Vec<Value>> {
    Ok(group_store::list(&state.db, allowed.auth.tenant.id)
        .await?
        .iter()
        .filter(|row| allowed.auth.grants.covers(&row.grants, &allowed.tree))
        .map(|row| {
            context! {
                key => row.group.key,
                name => row.group.name,
                administrator => row.group.key == ROLE_ADMINISTRATOR,
            }
        })
        .collect())
}

async fn render_new(
    state: &AppState,
    allowed: &Allowed<need::ManageUsers>,
    form: Value,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let auth = &allowed.auth;
    let groups = group_options(state, allowed).await?;
    let base = web::base_context(&auth.tenant, Some(auth), "sicherheit");
    let page = templates::page(
        "admin/security/new.html",
        context! { form => form, groups => groups, errors => translate(errors), ..base },
    )?;
    Ok((status, page).into_response())
}

/// Renders the edit form, with the user's two-factor state and the reset below it.
async fn render_edit(
    state: &AppState,
    allowed: &Allowed<need::ManageUsers>,
    account: &account::Model,
    form: Value,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let auth = &allowed.auth;
    let groups = group_options(state, allowed).await?;
    let tenant = &auth.tenant;
    let locked_until = account
        .locked_until
        .filter(|until| *until > Utc::now())
        .map(|until| format_time(until, tenant.time_zone));
    let second_factor = second_factor::status(&state.db, tenant, account.id).await?;
    let base = web::base_context(tenant, Some(auth), "sicherheit");
    let page = templates::page(
        "admin/security/edit.html",
        context! {
            account => context! {
                id => account.id,
                username => account.username,
                is_self => account.id == auth.account.id,
                last_login => account.last_login_at.map(|at| format_time(at, tenant.time_zone)),
                locked_until => locked_until,
            },
            form => form,
            groups => groups,
            errors => translate(errors),
            second_factor => second_factor,
            ..base,
        },
    )?;
    Ok((status, page).into_response())
}

/// Returns what the user typed into the new-user form, without the passwords.
fn typed_new(form: &NewUserForm) -> Value {
    context! {
        username => form.username,
        display_name => form.display_name,
        email => form.email,
        role => form.role,
        must_change_password => form.must_change_password.is_some(),
    }
}

/// Returns what the user typed into the edit form, without the passwords.
fn typed_edit(form: &EditUserForm) -> Value {
    context! {
        display_name => form.display_name,
        email => form.email,
        role => form.role,
        active => form.active != "nein",
        must_change_password => form.must_change_password.is_some(),
    }
}

fn translate(errors: &FieldErrors) -> BTreeMap<&'static str, String> {
    errors
        .iter()
        .map(|(field, key)| (*field, text(key)))
        .collect()
}

fn text(key: &str) -> String {
    i18n::text(i18n::current_locale(), key)
}

fn internal(error: StoreError) -> Error {
    match error {
        StoreError::Database(error) => error.into(),
        other => Error::Internal(other.into()),
    }
}
