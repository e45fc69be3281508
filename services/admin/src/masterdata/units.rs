//! Creating and renaming branches and departments. A branch's parent is the organization, a
//! department's parent is a branch; deleting nodes is not offered.

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use mep24web_entities::org_unit;
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::rights::{Allowed, Reach, need};
use mep24web_platform::sessions::Authenticated;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, templates};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, Set};
use serde::Deserialize;

use super::forms::{self, FieldErrors, UnitForm};
use super::tree::{OrgTree, Unit, UnitKind};
use super::{Notice, error_texts, load_tree, parse_id, redirect_with, unprocessable};

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct NewUnitQuery {
    /// Id of the node the new one goes under.
    uebergeordnet: String,
}

/// The action of the unit form: creating a child of `parent`, or renaming `unit`.
enum Mode<'a> {
    Create { parent: &'a Unit, kind: UnitKind },
    Rename { unit: &'a Unit },
}

/// Finds the parent for a new node: a node of this tenant within the planner's reach that can
/// have children. Another tenant's node, one outside the reach, a missing one and a department
/// all return 404.
fn creatable_parent<'t>(
    tree: &'t OrgTree,
    reach: &Reach,
    raw_id: &str,
) -> Result<(&'t Unit, UnitKind), Error> {
    let parent = reachable_unit(tree, reach, raw_id)?;
    let kind = parent.kind.child_kind().ok_or(Error::NotFound)?;
    Ok((parent, kind))
}

/// Finds a node of this tenant within the planner's reach.
fn reachable_unit<'t>(tree: &'t OrgTree, reach: &Reach, raw_id: &str) -> Result<&'t Unit, Error> {
    tree.get(parse_id(raw_id)?)
        .filter(|unit| reach.contains(unit.id))
        .ok_or(Error::NotFound)
}

/// Finds a node of this tenant that the planner may rename (see [`may_rename`]). Any other node
/// returns 404, like a node outside the reach.
fn renamable_unit<'t>(tree: &'t OrgTree, reach: &Reach, raw_id: &str) -> Result<&'t Unit, Error> {
    tree.get(parse_id(raw_id)?)
        .filter(|unit| may_rename(reach, unit))
        .ok_or(Error::NotFound)
}

/// Returns true when the reach covers the node's parent. A node's name is an entry in its
/// parent's list, so renaming it needs the parent, as creating it does. A branch manager thus
/// renames the departments of their branch but not the branch, and only a grant on the whole
/// organization renames the organization node.
pub(super) fn may_rename(reach: &Reach, unit: &Unit) -> bool {
    match unit.parent_id {
        Some(parent) => reach.contains(parent),
        None => reach.is_everything(),
    }
}

fn render(
    auth: &Authenticated,
    mode: &Mode<'_>,
    name: &str,
    errors: &FieldErrors,
) -> Result<Html<String>, Error> {
    let base = base_context(&auth.tenant, Some(auth), "stammdaten");
    let (action, kind, parent_id, back_id, current_name) = match mode {
        Mode::Create { parent, kind } => (
            "/admin/stammdaten/ebene/neu".to_owned(),
            *kind,
            Some(parent.id),
            parent.id,
            None,
        ),
        Mode::Rename { unit } => (
            format!("/admin/stammdaten/ebene/{}", unit.id),
            unit.kind,
            None,
            unit.id,
            Some(unit.name.clone()),
        ),
    };
    let context = minijinja::context! {
        creating => matches!(mode, Mode::Create { .. }),
        action => action,
        kind => kind,
        parent_id => parent_id,
        parent_name => match mode {
            Mode::Create { parent, .. } => Some(parent.name.clone()),
            Mode::Rename { .. } => None,
        },
        current_name => current_name,
        back_url => format!("/admin/stammdaten?ebene={back_id}"),
        name => name,
        errors => error_texts(errors),
        ..base
    };
    templates::page("admin/masterdata/unit_form.html", context)
}

/// `GET /admin/stammdaten/ebene/neu?uebergeordnet=<id>`: form for a new branch or department.
pub(super) async fn new_form(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    query: Result<Query<NewUnitQuery>, QueryRejection>,
) -> Result<Response, Error> {
    let Ok(Query(query)) = query else {
        return Err(Error::NotFound);
    };
    let tree = load_tree(&Scoped::new(&state.db, auth.tenant.id)).await?;
    let (parent, kind) = creatable_parent(&tree, &reach, &query.uebergeordnet)?;
    let mode = Mode::Create { parent, kind };
    Ok(render(&auth, &mode, "", &FieldErrors::new())?.into_response())
}

/// `POST /admin/stammdaten/ebene/neu`: creates a branch under the organization or a department
/// under a branch, depending on the parent's kind.
pub(super) async fn create(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    client: ClientIp,
    form: Result<Form<UnitForm>, FormRejection>,
) -> Result<Response, Error> {
    let form = forms::accept(form)?;
    let tenant_id = auth.tenant.id;
    // The tenant lock makes the sibling check and the insert one step, so two administrators
    // creating the same name at the same moment get one node and one "name taken".
    let txn = db::begin_tenant(&state.db, tenant_id).await?;
    db::lock_tenant(&txn, tenant_id).await?;
    let scope = Scoped::new(&txn, tenant_id);
    let tree = load_tree(&scope).await?;
    let (parent, kind) = creatable_parent(&tree, &reach, &form.parent_id)?;
    let mode = Mode::Create { parent, kind };

    let name = match forms::check_unit_name(&form.name) {
        Ok(name) if tree.sibling_has_name(Some(parent.id), &name, None) => {
            Err("masterdata.errors.unit_name_taken")
        }
        other => other,
    };
    let name = match name {
        Ok(name) => name,
        Err(key) => {
            let errors = FieldErrors::from([("name", key)]);
            return Ok(unprocessable(render(&auth, &mode, &form.name, &errors)?));
        }
    };

    let created = org_unit::ActiveModel {
        tenant_id: Set(tenant_id.get()),
        parent_id: Set(Some(parent.id)),
        kind: Set(kind.as_str().to_owned()),
        name: Set(name),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let details = serde_json::json!({ "kind": kind.as_str(), "parent": parent.name });
    let target = AuditTarget::org_unit(created.id, &created.name);
    let action = AuditAction::UnitCreated;
    audit::record_by(&txn, &auth.account, action, target, client.0, details).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        org_unit_id = created.id,
        parent_id = parent.id,
        kind = kind.as_str(),
        actor_account_id = auth.account.id,
        "organization unit created"
    );
    Ok(redirect_with(
        &format!("/admin/stammdaten?ebene={}", created.id),
        Notice::UnitCreated,
    ))
}

/// `GET /admin/stammdaten/ebene/{id}`: form to rename a node.
pub(super) async fn rename_form(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    Path(raw_id): Path<String>,
) -> Result<Response, Error> {
    let tree = load_tree(&Scoped::new(&state.db, auth.tenant.id)).await?;
    let unit = renamable_unit(&tree, &reach, &raw_id)?;
    let mode = Mode::Rename { unit };
    Ok(render(&auth, &mode, &unit.name, &FieldErrors::new())?.into_response())
}

/// `POST /admin/stammdaten/ebene/{id}`: renames a node, keeping names unique among siblings.
pub(super) async fn rename(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::EditMasterData>,
    client: ClientIp,
    Path(raw_id): Path<String>,
    form: Result<Form<UnitForm>, FormRejection>,
) -> Result<Response, Error> {
    let tenant_id = auth.tenant.id;
    let txn = db::begin_tenant(&state.db, tenant_id).await?;
    db::lock_tenant(&txn, tenant_id).await?;
    let scope = Scoped::new(&txn, tenant_id);
    let tree = load_tree(&scope).await?;
    let unit = renamable_unit(&tree, &reach, &raw_id)?;
    let form = forms::accept(form)?;
    let mode = Mode::Rename { unit };

    let name = match forms::check_unit_name(&form.name) {
        Ok(name) if tree.sibling_has_name(unit.parent_id, &name, Some(unit.id)) => {
            Err("masterdata.errors.unit_name_taken")
        }
        other => other,
    };
    let name = match name {
        Ok(name) => name,
        Err(key) => {
            let errors = FieldErrors::from([("name", key)]);
            return Ok(unprocessable(render(&auth, &mode, &form.name, &errors)?));
        }
    };

    scope
        .update_many::<org_unit::Entity>()
        .col_expr(org_unit::Column::Name, Expr::value(name.clone()))
        .filter(org_unit::Column::Id.eq(unit.id))
        .exec(&txn)
        .await?;
    if name != unit.name {
        let details = serde_json::json!({ "from": unit.name, "to": name });
        let target = AuditTarget::org_unit(unit.id, &name);
        let action = AuditAction::UnitRenamed;
        audit::record_by(&txn, &auth.account, action, target, client.0, details).await?;
    }
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        org_unit_id = unit.id,
        actor_account_id = auth.account.id,
        "organization unit renamed"
    );
    Ok(redirect_with(
        &format!("/admin/stammdaten?ebene={}", unit.id),
        Notice::UnitRenamed,
    ))
}
