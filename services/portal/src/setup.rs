//! The one-time setup link for a tenant's first administrator: `/setup/{token}` sets the
//! password and signs the administrator in.
//!
//! The operator CLI stores the link as a `password_tokens` row with purpose `setup`, valid for
//! 72 hours. An unknown, used or expired token, and a token of another tenant, all get the same
//! 404 page.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use mep24web_entities::{account, password_token};
use mep24web_platform::db::Scoped;
use mep24web_platform::passwords::check_new_password;
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions::{self, may_sign_in};
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, TenantContext, tokens};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, TransactionTrait};
use secrecy::SecretString;
use serde::Deserialize;

use crate::forms::{self, Form, FormErrors, password_field};
use crate::signin;

/// The `password_tokens.purpose` of setup links.
const PURPOSE: &str = "setup";

pub fn routes() -> RouteTable {
    RouteTable::new().get_post("/setup/{token}", get(show).post(submit), Access::Public)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SetupForm {
    password: String,
    password_repeat: String,
}

/// A setup token that can still be used, with the account it sets the password for.
struct SetupLink {
    token_id: i64,
    account: account::Model,
}

async fn show(
    State(state): State<AppState>,
    tenant: TenantContext,
    Path(token): Path<String>,
) -> Result<Response, Error> {
    match find_link(&state.db, &tenant, &token).await? {
        Some(link) => render_form(
            &state,
            &tenant,
            &link,
            StatusCode::OK,
            &FormErrors::default(),
        ),
        None => {
            tracing::info!(tenant_id = %tenant.id, "setup link rejected: unknown, used or expired");
            render_invalid(&state, &tenant)
        }
    }
}

/// Sets the password and signs in. The token is claimed with a conditional update, so of two
/// concurrent submits only one succeeds and the other gets the invalid-link page.
async fn submit(
    State(state): State<AppState>,
    tenant: TenantContext,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Result<Response, Error> {
    let Some(link) = find_link(&state.db, &tenant, &token).await? else {
        tracing::info!(tenant_id = %tenant.id, "setup link rejected: unknown, used or expired");
        return render_invalid(&state, &tenant);
    };
    if let Err(problem) = check_new_password(
        &form.password,
        &form.password_repeat,
        &link.account.username,
    ) {
        let mut errors = FormErrors::default();
        errors.add(
            password_field(problem, "password", "password_repeat"),
            problem.message_key(),
        );
        return render_form(
            &state,
            &tenant,
            &link,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
        );
    }

    let hash = state
        .hasher
        .hash(&SecretString::from(form.password))
        .await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let scope = Scoped::new(&txn, tenant.id);
    let claimed = scope
        .update_many::<password_token::Entity>()
        .col_expr(password_token::Column::UsedAt, Expr::value(now))
        .filter(password_token::Column::Id.eq(link.token_id))
        .filter(password_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        tracing::info!(tenant_id = %tenant.id, "setup link was used by a concurrent request");
        return render_invalid(&state, &tenant);
    }
    scope
        .update_many::<account::Entity>()
        .col_expr(account::Column::PasswordHash, Expr::value(hash))
        .col_expr(account::Column::MustChangePassword, Expr::value(false))
        .col_expr(account::Column::FailedAttempts, Expr::value(0))
        .col_expr(
            account::Column::LockedUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(account::Column::UpdatedAt, Expr::value(now))
        .filter(account::Column::Id.eq(link.account.id))
        .exec(&txn)
        .await?;
    sessions::revoke_all_for_account(&state.sessions, &txn, tenant.id, link.account.id).await?;
    let previous = signin::session_token(&state, &headers);
    let session = signin::start_session(
        &state.sessions,
        &txn,
        tenant.id,
        link.account.id,
        previous.as_deref(),
    )
    .await?;
    txn.commit().await?;

    tracing::info!(
        tenant_id = %tenant.id,
        account_id = link.account.id,
        "password set through setup link"
    );
    Ok(signin::signed_in_redirect(
        &state,
        signin::area_path(&link.account),
        &session,
        &link.account.language,
    ))
}

/// Finds an unused, unexpired setup token of this tenant whose account may still sign in.
async fn find_link<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    token: &str,
) -> Result<Option<SetupLink>, DbErr> {
    if !tokens::looks_valid(token) {
        return Ok(None);
    }
    let scope = Scoped::new(conn, tenant.id);
    let Some(row) = scope
        .find::<password_token::Entity>()
        .filter(password_token::Column::TokenHash.eq(tokens::hash(token)))
        .filter(password_token::Column::Purpose.eq(PURPOSE))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if row.used_at.is_some() || row.expires_at <= Utc::now() {
        return Ok(None);
    }
    let Some(account) = scope.find_by_id::<account::Entity>(row.account_id).await? else {
        return Ok(None);
    };
    if !may_sign_in(conn, tenant, &account).await? {
        return Ok(None);
    }
    Ok(Some(SetupLink {
        token_id: row.id,
        account,
    }))
}

fn render_form(
    state: &AppState,
    tenant: &TenantContext,
    link: &SetupLink,
    status: StatusCode,
    errors: &FormErrors,
) -> Result<Response, Error> {
    let base = base_context(tenant, None, "setup");
    let context = minijinja::context! {
        username => link.account.username,
        access_link => signin::access_link(state, tenant),
        errors => errors.to_value(),
        ..base
    };
    forms::page(status, "portal/setup.html", context)
}

fn render_invalid(state: &AppState, tenant: &TenantContext) -> Result<Response, Error> {
    let base = base_context(tenant, None, "setup");
    let context = minijinja::context! {
        title_key => "portal.setup.invalid_title",
        message_key => "portal.setup.invalid_explain",
        access_link => signin::access_link(state, tenant),
        ..base
    };
    forms::page(StatusCode::NOT_FOUND, "portal/link_problem.html", context)
}
