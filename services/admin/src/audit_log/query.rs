//! Reading one page of the tenant's audit log under a filter.

use mep24web_entities::audit_event;
use mep24web_platform::TenantId;
use mep24web_platform::db::Scoped;
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use super::filter::Filter;

/// Events per page.
pub(super) const PAGE_SIZE: u64 = 50;

/// One page of events, newest first, and the page numbers around it.
pub(super) struct EventPage {
    pub events: Vec<audit_event::Model>,
    /// The page shown, 1-based, at most `pages`.
    pub page: u64,
    /// Number of pages, at least 1.
    pub pages: u64,
}

/// Loads the page of the tenant's events that `filter` selects, clamped to the last page.
pub(super) async fn load_page<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    filter: &Filter,
) -> Result<EventPage, DbErr> {
    let select = filtered(
        Scoped::new(conn, tenant_id).find::<audit_event::Entity>(),
        filter,
    );
    let total = select.clone().count(conn).await?;
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page.min(pages);
    let events = select
        .order_by_desc(audit_event::Column::OccurredAt)
        .order_by_desc(audit_event::Column::Id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .all(conn)
        .await?;
    Ok(EventPage {
        events,
        page,
        pages,
    })
}

fn filtered(
    mut select: Select<audit_event::Entity>,
    filter: &Filter,
) -> Select<audit_event::Entity> {
    if let Some(action) = filter.action {
        select = select.filter(audit_event::Column::Action.eq(action.code()));
    }
    if let Some(actor) = &filter.actor {
        select = select.filter(contains(audit_event::Column::ActorName, actor));
    }
    if let Some(target) = &filter.target {
        select = select.filter(contains(audit_event::Column::TargetName, target));
    }
    if let Some(from) = filter.from {
        select = select.filter(audit_event::Column::OccurredAt.gte(from));
    }
    if let Some(before) = filter.before {
        select = select.filter(audit_event::Column::OccurredAt.lt(before));
    }
    select
}

/// Matches rows whose column contains `text`, ignoring case. `%`, `_` and `\` in the text
/// match only themselves.
// NOTE: SQLite's LOWER folds ASCII letters only, so there "Ä" does not match "ä".
fn contains(column: audit_event::Column, text: &str) -> sea_orm::sea_query::SimpleExpr {
    let mut pattern = String::from("%");
    for character in text.to_lowercase().chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\'))
}
