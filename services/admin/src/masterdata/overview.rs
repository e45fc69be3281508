//! `GET /admin/stammdaten`: the organization tree on the left, the employees of the selected
//! node and all nodes below it on the right.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use mep24web_entities::{account, employee};
use mep24web_platform::db::Scoped;
use mep24web_platform::rights::{Allowed, Reach, Right, need};
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, templates};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect, QueryTrait};
use serde::{Deserialize, Serialize};

use super::forms::format_date;
use super::tree::{TreeNode, UnitKind};
use super::{LoginStatus, Notice, load_tree, parse_id, units};

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct OverviewQuery {
    /// Id of the selected node. Without it the organization is selected.
    ebene: Option<String>,
    /// Present when departed employees are listed too.
    ausgeschiedene: Option<String>,
    hinweis: Option<String>,
    /// Counts of a finished CSV import, shown as a notice.
    importiert: Option<String>,
    aktualisiert: Option<String>,
}

/// One row of the employee table.
#[derive(Serialize)]
struct EmployeeRow {
    id: i64,
    personnel_number: String,
    last_name: String,
    first_name: String,
    unit: String,
    email: Option<String>,
    entry_date: String,
    exit_date: String,
    status: LoginStatus,
    username: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Allowed {
        auth,
        reach,
        tree: index,
        ..
    }: Allowed<need::ViewMasterData>,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Response, Error> {
    let Ok(Query(query)) = query else {
        return Err(Error::BadRequest("errors.bad_form"));
    };
    let tenant = &auth.tenant;
    let scope = Scoped::new(&state.db, tenant.id);
    let tree = load_tree(&scope).await?;

    // A branch manager starts at the first node of their reach; nodes outside it are not found.
    let selected = match query.ebene.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => {
            let id = parse_id(raw)?;
            tree.get(id)
                .filter(|unit| reach.contains(unit.id))
                .ok_or(Error::NotFound)?
        }
        _ => first_reachable(&tree.nodes(0), &reach)
            .and_then(|id| tree.get(id))
            .ok_or(Error::NotFound)?,
    };
    let show_departed = query
        .ausgeschiedene
        .as_deref()
        .is_some_and(|value| !value.is_empty());

    let unit_ids = tree.subtree_ids(selected.id);
    let mut employees = scope
        .find::<employee::Entity>()
        .filter(employee::Column::OrgUnitId.is_in(unit_ids.clone()))
        .all(scope.conn())
        .await?;
    // Sorted here rather than in SQL, because SQLite and PostgreSQL order case differently.
    employees.sort_by_cached_key(|employee| {
        (
            employee.last_name.to_lowercase(),
            employee.first_name.to_lowercase(),
            employee.personnel_number.clone(),
        )
    });
    let employee_ids = scope
        .find::<employee::Entity>()
        .select_only()
        .column(employee::Column::Id)
        .filter(employee::Column::OrgUnitId.is_in(unit_ids))
        .into_query();
    let logins = scope
        .find::<account::Entity>()
        .filter(account::Column::Kind.eq("employee"))
        .filter(account::Column::EmployeeId.in_subquery(employee_ids))
        .all(scope.conn())
        .await?;

    let today = tenant.today();
    let mut rows = Vec::with_capacity(employees.len());
    let mut hidden_departed = 0;
    for employee in employees {
        let login = logins
            .iter()
            .find(|login| login.employee_id == Some(employee.id));
        let status = LoginStatus::of(employee.exit_date, login, today);
        if status == LoginStatus::Departed && !show_departed {
            hidden_departed += 1;
            continue;
        }
        rows.push(EmployeeRow {
            id: employee.id,
            unit: tree.label(employee.org_unit_id),
            personnel_number: employee.personnel_number,
            last_name: employee.last_name,
            first_name: employee.first_name,
            email: employee.email,
            entry_date: format_date(employee.entry_date),
            exit_date: format_date(employee.exit_date),
            status,
            username: login.map(|login| login.username.clone()),
        });
    }

    let grants = &auth.grants;
    let edit_reach = grants.reach(Right::EditMasterData, &index);
    let edit = edit_reach
        .as_ref()
        .is_some_and(|edit| edit.contains(selected.id));
    let rename = edit_reach
        .as_ref()
        .is_some_and(|edit| units::may_rename(edit, selected));
    let invite = grants
        .reach(Right::InviteEmployees, &index)
        .is_some_and(|invite| invite.contains(selected.id));
    let base = base_context(tenant, Some(&auth), "stammdaten");
    let context = minijinja::context! {
        notice => import_notice(&query).or_else(|| Notice::text_for(query.hinweis.as_deref())),
        tree => prune(tree.nodes(selected.id), &reach),
        may_edit => edit,
        may_rename => rename,
        selected => minijinja::context! {
            id => selected.id,
            name => selected.name,
            kind => selected.kind,
            parent_id => selected.parent_id,
        },
        child_kind => selected.kind.child_kind(),
        can_invite => invite && matches!(selected.kind, UnitKind::Organization | UnitKind::Branch),
        can_assign => selected.kind.takes_employees(),
        employees => rows,
        show_departed => show_departed,
        hidden_departed => hidden_departed,
        ..base
    };
    Ok(templates::page("admin/masterdata/overview.html", context)?.into_response())
}

/// Returns the first node of the reach in tree order.
fn first_reachable(nodes: &[TreeNode], reach: &Reach) -> Option<i64> {
    nodes.iter().find_map(|node| {
        if reach.contains(node.id) {
            Some(node.id)
        } else {
            first_reachable(&node.children, reach)
        }
    })
}

/// Keeps the nodes of the reach and the path to them; a node on the path only is marked
/// unreachable, so the page shows it without a link.
fn prune(nodes: Vec<TreeNode>, reach: &Reach) -> Vec<TreeNode> {
    nodes
        .into_iter()
        .filter_map(|mut node| {
            node.reachable = reach.contains(node.id);
            node.children = prune(node.children, reach);
            (node.reachable || !node.children.is_empty()).then_some(node)
        })
        .collect()
}

/// Returns the notice after a CSV import, from the counts the import put into the redirect.
fn import_notice(query: &OverviewQuery) -> Option<String> {
    let created: u32 = query.importiert.as_deref()?.parse().ok()?;
    let updated: u32 = query
        .aktualisiert
        .as_deref()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    Some(mep24web_platform::i18n::text_with(
        mep24web_platform::i18n::current_locale(),
        "import.done",
        &[
            ("created", &created.to_string()),
            ("updated", &updated.to_string()),
        ],
    ))
}
