//! Konfiguration → Sicherheit → Benutzergruppen: the user groups and the rights they grant.
//!
//! Every handler takes `Allowed<need::ManageUsers>`. A user manager who is not an administrator
//! may create, change and delete only groups whose rights they have themselves (on at least the
//! same part of the organization), so no one can grant more than they have. Administrator is
//! fixed. Planer keeps its name, but its rights can change.

use axum::Form;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mep24web_entities::user_group;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::Scoped;
use mep24web_platform::error::Result;
use mep24web_platform::rights::{ADMINISTRATOR_GROUP, Allowed, Grants, Right, need};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::{AppState, Error, i18n, templates, web};
use minijinja::{Value, context};

pub(crate) mod form;
pub(crate) mod store;

use form::{FieldErrors, GroupForm};
use store::GroupError;

use crate::masterdata::tree::OrgTree;

pub(super) const GROUPS_PATH: &str = "/admin/sicherheit/gruppen";

/// Lists the groups with their rights and member counts.
pub(super) async fn list(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    query: axum::extract::RawQuery,
) -> Result<Response> {
    let auth = &allowed.auth;
    let tree = OrgTree::load(&Scoped::new(&state.db, auth.tenant.id)).await?;
    let groups: Vec<Value> = store::list(&state.db, auth.tenant.id)
        .await?
        .iter()
        .map(|row| {
            context! {
                id => row.group.id,
                name => row.group.name,
                builtin => row.group.builtin,
                members => row.members,
                rights => rights_text(&row.grants, &tree),
                editable => may_change(&allowed, &row.group, &row.grants),
            }
        })
        .collect();
    let notice = match query.0.as_deref() {
        Some("hinweis=angelegt") => Some(text("security.groups.notice_created")),
        Some("hinweis=gespeichert") => Some(text("common.saved")),
        Some("hinweis=geloescht") => Some(text("security.groups.notice_deleted")),
        _ => None,
    };
    let base = web::base_context(&auth.tenant, Some(auth), "sicherheit");
    let page = templates::page(
        "admin/security/groups.html",
        context! { groups => groups, notice => notice, ..base },
    )?;
    Ok(page.into_response())
}

/// Shows the empty form of a new group.
pub(super) async fn new_form(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
) -> Result<Response> {
    render_form(
        &state,
        &allowed.auth,
        None,
        &GroupForm::default(),
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

/// Creates a group, or shows the form again with its problems.
pub(super) async fn create(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    client: ClientIp,
    form: std::result::Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response> {
    let Form(pairs) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let form = GroupForm::from_pairs(&pairs);
    let input = match checked_input(&allowed, &form) {
        Ok(input) => input,
        Err(errors) => {
            return render_form(
                &state,
                &allowed.auth,
                None,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let auth = &allowed.auth;
    match store::create(&state.db, auth.tenant.id, &input, &auth.account, client.0).await {
        Ok(group) => {
            tracing::info!(tenant_id = %auth.tenant.id, group_id = group.id, by_account_id = auth.account.id, "user group created");
            Ok(Redirect::to(&format!("{GROUPS_PATH}?hinweis=angelegt")).into_response())
        }
        Err(GroupError::NameTaken) => {
            let errors =
                FieldErrors::from([("name".to_owned(), "security.groups.error_name_taken")]);
            render_form(
                &state,
                auth,
                None,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(error) => Err(internal(error)),
    }
}

/// Shows the form of an existing group.
pub(super) async fn edit_form(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let (group, grants) = load_group(&state, &allowed, id).await?;
    let form = GroupForm {
        name: group.name.clone(),
        rights: grants
            .iter()
            .map(|(right, node)| (right, node.map(|n| n.to_string()).unwrap_or_default()))
            .collect(),
    };
    render_form(
        &state,
        &allowed.auth,
        Some(&group),
        &form,
        &FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

/// Saves a group's name and rights.
pub(super) async fn update(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    client: ClientIp,
    id: std::result::Result<Path<String>, PathRejection>,
    form: std::result::Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response> {
    let (group, grants) = load_group(&state, &allowed, id).await?;
    if !may_change(&allowed, &group, &grants) {
        return Err(Error::Forbidden);
    }
    let Form(pairs) = form.map_err(|_| Error::BadRequest("errors.bad_form"))?;
    let mut form = GroupForm::from_pairs(&pairs);
    if group.builtin {
        // The form shows the name of a built-in group read-only.
        form.name.clone_from(&group.name);
    }
    let input = match checked_input(&allowed, &form) {
        Ok(input) => input,
        Err(errors) => {
            return render_form(
                &state,
                &allowed.auth,
                Some(&group),
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let auth = &allowed.auth;
    match store::update(
        &state.db,
        auth.tenant.id,
        &group,
        &input,
        &auth.account,
        client.0,
    )
    .await
    {
        Ok(()) => {
            tracing::info!(tenant_id = %auth.tenant.id, group_id = group.id, by_account_id = auth.account.id, "user group updated");
            Ok(Redirect::to(&format!("{GROUPS_PATH}?hinweis=gespeichert")).into_response())
        }
        Err(GroupError::NameTaken) => {
            let errors =
                FieldErrors::from([("name".to_owned(), "security.groups.error_name_taken")]);
            render_form(
                &state,
                auth,
                Some(&group),
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(GroupError::NotFound) => Err(Error::NotFound),
        Err(GroupError::Builtin) => Err(Error::Forbidden),
        Err(error) => Err(internal(error)),
    }
}

/// Deletes a group without members.
pub(super) async fn delete(
    State(state): State<AppState>,
    allowed: Allowed<need::ManageUsers>,
    client: ClientIp,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let (group, grants) = load_group(&state, &allowed, id).await?;
    if group.builtin || !may_change(&allowed, &group, &grants) {
        return Err(Error::Forbidden);
    }
    let auth = &allowed.auth;
    match store::delete(&state.db, auth.tenant.id, &group, &auth.account, client.0).await {
        Ok(()) => {
            tracing::info!(tenant_id = %auth.tenant.id, group_id = group.id, by_account_id = auth.account.id, "user group deleted");
            Ok(Redirect::to(&format!("{GROUPS_PATH}?hinweis=geloescht")).into_response())
        }
        Err(GroupError::InUse) => {
            let form = GroupForm {
                name: group.name.clone(),
                rights: grants
                    .iter()
                    .map(|(right, node)| (right, node.map(|n| n.to_string()).unwrap_or_default()))
                    .collect(),
            };
            let errors = FieldErrors::from([("delete".to_owned(), "security.groups.error_in_use")]);
            render_form(
                &state,
                auth,
                Some(&group),
                &form,
                &errors,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(GroupError::NotFound) => Err(Error::NotFound),
        Err(error) => Err(internal(error)),
    }
}

/// Validates the form and checks that the acting user has every right it grants.
fn checked_input(
    allowed: &Allowed<need::ManageUsers>,
    form: &GroupForm,
) -> std::result::Result<form::GroupInput, FieldErrors> {
    let input = form.validate(&allowed.tree)?;
    if !allowed.auth.grants.covers(&input.grants, &allowed.tree) {
        return Err(FieldErrors::from([(
            "rights".to_owned(),
            "security.groups.error_beyond_own_rights",
        )]));
    }
    Ok(input)
}

/// Returns true when the acting user may change this group: never Administrator, and only
/// groups whose rights they hold themselves.
fn may_change(
    allowed: &Allowed<need::ManageUsers>,
    group: &user_group::Model,
    grants: &Grants,
) -> bool {
    group.key != ADMINISTRATOR_GROUP && allowed.auth.grants.covers(grants, &allowed.tree)
}

/// Loads the group named by the path with its grants; a malformed id or another tenant's
/// group is not found.
async fn load_group(
    state: &AppState,
    allowed: &Allowed<need::ManageUsers>,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<(user_group::Model, Grants)> {
    let id = id
        .ok()
        .and_then(|Path(raw)| raw.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or(Error::NotFound)?;
    let tenant_id = allowed.auth.tenant.id;
    let group = store::find(&state.db, tenant_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let grants = Grants::load(&state.db, tenant_id, Some(&group.key)).await?;
    Ok((group, grants))
}

async fn render_form(
    state: &AppState,
    auth: &Authenticated,
    group: Option<&user_group::Model>,
    form: &GroupForm,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let tree = OrgTree::load(&Scoped::new(&state.db, auth.tenant.id)).await?;
    let nodes: Vec<Value> = tree
        .assignable_options()
        .into_iter()
        .map(|option| context! { id => option.id, label => option.label })
        .collect();
    let rights: Vec<Value> = Right::ALL
        .into_iter()
        .map(|right| {
            let field = format!("scope_{}", right.code());
            context! {
                code => right.code(),
                name => text(&format!("rights.right.{}", right.code())),
                explain => text(&format!("rights.explain.{}", right.code())),
                granted => form.rights.contains_key(&right),
                scope => form.rights.get(&right).cloned().unwrap_or_default(),
                scopable => right.is_scopable(),
                error => errors.get(&field).map(|key| text(key)),
            }
        })
        .collect();
    let translated: std::collections::BTreeMap<&str, String> = errors
        .iter()
        .map(|(field, key)| (field.as_str(), text(key)))
        .collect();
    let base = web::base_context(&auth.tenant, Some(auth), "sicherheit");
    let page = templates::page(
        "admin/security/group_form.html",
        context! {
            group => group.map(|group| context! {
                id => group.id,
                name => group.name,
                builtin => group.builtin,
                administrator => group.key == ADMINISTRATOR_GROUP,
            }),
            name => form.name,
            rights => rights,
            nodes => nodes,
            errors => translated,
            ..base
        },
    )?;
    Ok((status, page).into_response())
}

/// Describes the grants in one line, such as "Stammdaten ansehen (Filiale Nord), Protokoll
/// ansehen".
pub(crate) fn rights_text(grants: &Grants, tree: &OrgTree) -> String {
    if grants.is_administrator() {
        return text("security.groups.all_rights");
    }
    let parts: Vec<String> = grants
        .iter()
        .map(|(right, node)| {
            let name = text(&format!("rights.right.{}", right.code()));
            match node {
                None => name,
                Some(node) => format!("{name} ({})", tree.label(node)),
            }
        })
        .collect();
    if parts.is_empty() {
        text("security.groups.no_rights")
    } else {
        parts.join(", ")
    }
}

/// Returns the grants of the group with this key, for the checks of the user forms.
pub(crate) async fn group_grants(
    state: &AppState,
    auth: &Authenticated,
    key: &str,
) -> Result<Grants> {
    Ok(Grants::load(&state.db, auth.tenant.id, Some(key)).await?)
}

fn text(key: &str) -> String {
    i18n::text(i18n::current_locale(), key)
}

fn internal(error: GroupError) -> Error {
    match error {
        GroupError::Database(error) => error.into(),
        other => Error::Internal(other.into()),
    }
}
