//! The password change at `/password/change` for every signed-in account, required before
//! anything else while `must_change_password` is set.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::Utc;
use mep24web_entities::account;
use mep24web_platform::audit::{self, AuditAction};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::Scoped;
use mep24web_platform::login;
use mep24web_platform::passwords::check_new_password;
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::sessions::{self, Authenticated, SignedIn};
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, TransactionTrait};
use secrecy::SecretString;
use serde::Deserialize;

use crate::forms::{self, Form, FormErrors, password_field};
use crate::signin;

pub fn routes() -> RouteTable {
    RouteTable::new().get_post("/password/change", get(show).post(submit), Access::SignedIn)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChangeForm {
    current_password: String,
    new_password: String,
    new_password_repeat: String,
}

async fn show(SignedIn(signed_in): SignedIn) -> Result<Response, Error> {
    render(&signed_in, StatusCode::OK, &FormErrors::default())
}

/// Changes the password, clears `must_change_password` and ends every other session and app
/// token of the account. The current session stays signed in.
async fn submit(
    State(state): State<AppState>,
    SignedIn(signed_in): SignedIn,
    client: ClientIp,
    Form(form): Form<ChangeForm>,
) -> Result<Response, Error> {
    let account = &signed_in.account;
    let mut errors = FormErrors::default();
    // The current password is checked under the login lockout, so a stolen session cannot be
    // used to guess it without limit. A locked account gets the same message as a wrong password.
    let current = SecretString::from(form.current_password.clone());
    let checked = login::check_password(
        &state.db,
        &state.hasher,
        &signed_in.tenant,
        account,
        &current,
    )
    .await?;
    if let Err(reason) = checked {
        tracing::info!(
            tenant_id = %signed_in.tenant.id,
            account_id = account.id,
            reason = reason.as_str(),
            "current password rejected at password change"
        );
        errors.add("current_password", "portal.password.current_wrong");
    }
    match check_new_password(
        &form.new_password,
        &form.new_password_repeat,
        &account.username,
    ) {
        Err(problem) => errors.add(
            password_field(problem, "new_password", "new_password_repeat"),
            problem.message_key(),
        ),
        Ok(()) if errors.is_empty() && form.new_password == form.current_password => {
            errors.add("new_password", "portal.password.same_as_current");
        }
        Ok(()) => {}
    }
    if !errors.is_empty() {
        return render(&signed_in, StatusCode::UNPROCESSABLE_ENTITY, &errors);
    }

    let hash = state
        .hasher
        .hash(&SecretString::from(form.new_password))
        .await?;
    let now = Utc::now();
    let tenant_id = signed_in.tenant.id;
    let txn = state.db.begin().await?;
    let scope = Scoped::new(&txn, tenant_id);
    scope
        .update_many::<account::Entity>()
        .col_expr(account::Column::PasswordHash, Expr::value(hash))
        .col_expr(account::Column::MustChangePassword, Expr::value(false))
        .col_expr(account::Column::UpdatedAt, Expr::value(now))
        .filter(account::Column::Id.eq(account.id))
        .exec(&txn)
        .await?;
    let keep = &signed_in.session_id;
    let ended = sessions::revoke_others(&state.sessions, &txn, tenant_id, account.id, keep).await?;
    audit::record_own(&txn, account, AuditAction::PasswordChanged, client.0).await?;
    txn.commit().await?;

    tracing::info!(
        tenant_id = %tenant_id,
        account_id = account.id,
        other_sessions_ended = ended,
        "password changed"
    );
    let target = if signed_in.is_planner() {
        signin::area_path(account).to_owned()
    } else {
        format!("{}?notice=password_changed", signin::area_path(account))
    };
    Ok(Redirect::to(&target).into_response())
}

fn render(
    signed_in: &Authenticated,
    status: StatusCode,
    errors: &FormErrors,
) -> Result<Response, Error> {
    let base = base_context(&signed_in.tenant, Some(signed_in), "password");
    let context = minijinja::context! {
        required => signed_in.account.must_change_password,
        area_path => signin::area_path(&signed_in.account),
        errors => errors.to_value(),
        ..base
    };
    forms::page(status, "portal/password_change.html", context)
}
