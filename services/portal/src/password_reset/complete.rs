//! `/reset/{token}`: the link in the reset mail, where the account sets a new password.
//!
//! An unknown, used, expired or replaced token, another tenant's token, an account that may no
//! longer sign in and a tenant that turned the reset off all get the same 404 page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use mep24web_entities::{account, password_token, tenant_settings};
use mep24web_platform::audit::{self, AuditAction, AuditTarget};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::Scoped;
use mep24web_platform::passwords::check_new_password;
use mep24web_platform::sessions::{self, may_sign_in};
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, TenantContext, tokens};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, QueryFilter, TransactionTrait};
use secrecy::SecretString;
use serde::Deserialize;

use super::PURPOSE;
use crate::forms::{self, Form, FormErrors, password_field};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ResetForm {
    password: String,
    password_repeat: String,
}

/// A reset token that can still be used, with its account.
struct ResetLink {
    token_id: i64,
    account: account::Model,
}

pub(super) async fn show(
    State(state): State<AppState>,
    tenant: TenantContext,
    Path(token): Path<String>,
) -> Result<Response, Error> {
    match find_link(&state.db, &tenant, &token).await? {
        Some(link) => render_form(
            &tenant,
            &token,
            &link,
            StatusCode::OK,
            &FormErrors::default(),
        ),
        None => {
            tracing::info!(tenant_id = %tenant.id, "reset link rejected: unknown, used or expired");
            render_invalid(&tenant)
        }
    }
}

/// Sets the new password, clears the lockout and the required password change, ends every
/// session and app token of the account and records `password_reset`, in one transaction. The
/// token is claimed with a conditional update, so of two concurrent submits only one succeeds.
/// The event names the account as its actor, because the link proved access to its mailbox.
pub(super) async fn submit(
    State(state): State<AppState>,
    tenant: TenantContext,
    client: ClientIp,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, Error> {
    let Some(link) = find_link(&state.db, &tenant, &token).await? else {
        tracing::info!(tenant_id = %tenant.id, "reset link rejected: unknown, used or expired");
        return render_invalid(&tenant);
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
            &tenant,
            &token,
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
        .filter(password_token::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        tracing::info!(tenant_id = %tenant.id, "reset link was used by a concurrent request");
        return render_invalid(&tenant);
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
    let ended =
        sessions::revoke_all_for_account(&state.sessions, &txn, tenant.id, link.account.id).await?;
    let target = AuditTarget::account(&link.account);
    let details = serde_json::json!({ "sessions_ended": ended });
    let action = AuditAction::PasswordReset;
    audit::record_by(&txn, &link.account, action, target, client.0, details).await?;
    txn.commit().await?;

    tracing::info!(
        tenant_id = %tenant.id,
        account_id = link.account.id,
        sessions_ended = ended,
        "password set through reset link"
    );
    Ok(Redirect::to("/login?notice=password_reset").into_response())
}

/// Finds an unused, unexpired reset token of this tenant whose account may still sign in, while
/// the tenant allows the reset.
async fn find_link<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantContext,
    token: &str,
) -> Result<Option<ResetLink>, DbErr> {
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
    let enabled = scope
        .find::<tenant_settings::Entity>()
        .one(conn)
        .await?
        .is_some_and(|settings| settings.self_service_reset);
    if !enabled {
        return Ok(None);
    }
    let Some(account) = scope.find_by_id::<account::Entity>(row.account_id).await? else {
        return Ok(None);
    };
    if !may_sign_in(conn, tenant, &account).await? {
        return Ok(None);
    }
    Ok(Some(ResetLink {
        token_id: row.id,
        account,
    }))
}

fn render_form(
    tenant: &TenantContext,
    token: &str,
    link: &ResetLink,
    status: StatusCode,
    errors: &FormErrors,
) -> Result<Response, Error> {
    let base = base_context(tenant, None, "login");
    let context = minijinja::context! {
        token => token,
        username => link.account.username,
        errors => errors.to_value(),
        ..base
    };
    forms::page(status, "login_security/reset.html", context)
}

fn render_invalid(tenant: &TenantContext) -> Result<Response, Error> {
    let base = base_context(tenant, None, "login");
    forms::page(
        StatusCode::NOT_FOUND,
        "login_security/reset_invalid.html",
        base,
    )
}
