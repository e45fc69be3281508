//! The employee's start page in the portal, `/portal`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use mep24web_entities::{employee, org_unit};
use mep24web_platform::db::Scoped;
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions::Employee;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error};
use sea_orm::{ConnectionTrait, DbErr};

use crate::forms::{self, NoticeQuery};

/// Maximum number of levels walked up the organization tree. The tree has three levels
/// (organization, branch, department), and the extra levels stop the walk if rows form a cycle.
const MAX_TREE_DEPTH: usize = 8;

pub fn routes() -> RouteTable {
    RouteTable::new().get("/portal", get(show), Access::Employee)
}

/// The branch and department above an employee's unit in the organization tree.
#[derive(Debug, Default)]
struct Placement {
    branch: Option<String>,
    department: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    Employee(signed_in): Employee,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, Error> {
    let scope = Scoped::new(&state.db, signed_in.tenant.id);
    let employee_id = signed_in.account.employee_id.ok_or(Error::NotFound)?;
    let employee = scope
        .find_by_id::<employee::Entity>(employee_id)
        .await?
        .ok_or(Error::NotFound)?;
    let placement = placement_of(&scope, employee.org_unit_id).await?;

    let base = base_context(&signed_in.tenant, Some(&signed_in), "portal");
    let context = minijinja::context! {
        display_name => signed_in.account.display_name,
        personnel_number => employee.personnel_number,
        branch => placement.branch,
        department => placement.department,
        notice => forms::notice_text(query.notice.as_deref()),
        ..base
    };
    forms::page(StatusCode::OK, "portal/home.html", context)
}

/// Walks from the employee's unit up to the root and picks the nearest department and branch.
async fn placement_of<C: ConnectionTrait>(
    scope: &Scoped<'_, C>,
    unit_id: i64,
) -> Result<Placement, DbErr> {
    let mut placement = Placement::default();
    let mut next = Some(unit_id);
    for _ in 0..MAX_TREE_DEPTH {
        let Some(id) = next else {
            break;
        };
        let Some(unit) = scope.find_by_id::<org_unit::Entity>(id).await? else {
            break;
        };
        match unit.kind.as_str() {
            "department" if placement.department.is_none() => {
                placement.department = Some(unit.name)
            }
            "branch" if placement.branch.is_none() => placement.branch = Some(unit.name),
            _ => {}
        }
        next = unit.parent_id;
    }
    Ok(placement)
}
