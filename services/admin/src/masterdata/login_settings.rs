//! Changes to an employee's existing portal login on tab "Benutzer": a new password, a new
//! username and "Aktiv?" Ja/Nein. A new password and "Nein" end the login's running sessions and
//! app tokens in the same transaction as the change.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use mep24web_entities::account;
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::rights::{Allowed, need};
use mep24web_platform::sessions;
use mep24web_platform::username::Username;
use mep24web_platform::{AppState, Error};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, TransactionTrait};
use secrecy::SecretString;

use super::audit_trail::Trail;
use super::forms::{self, ActiveForm, FieldErrors, PasswordForm, UsernameForm};
use super::login_tab::{TabErrors, TabValues, check_password, render, tab_url, username_taken};
use super::{
    Notice, find_employee, find_login, lock_employee_within, redirect_with, unprocessable,
};

/// `POST /admin/stammdaten/mitarbeiter/{id}/benutzer/passwort`: sets a new password, lifts a
/// lockout, ends the login's running sessions and app tokens and records the audit event, in
/// one transaction.
pub(super) async fn set_password(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::ManageEmployeeLogins>,
    client: ClientIp,
    Path(raw_id): Path<String>,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, Error> {
    let tenant_id = auth.tenant.id;
    let scope = Scoped::new(&state.db, tenant_id);
    let employee = find_employee(&scope, &raw_id, &reach).await?;
    let form = forms::accept(form)?;
    let Some(login) = find_login(&scope, employee.id).await? else {
        return Ok(Redirect::to(&tab_url(employee.id)).into_response());
    };

    let mut errors = FieldErrors::new();
    check_password(
        &form.password,
        &form.password_repeat,
        &login.username,
        &mut errors,
    );
    let must_change = forms::is_ticked(form.must_change.as_deref());
    if !errors.is_empty() {
        let values = TabValues {
            must_change,
            new_username: login.username.clone(),
            ..TabValues::default()
        };
        let errors = TabErrors {
            password: errors,
            ..TabErrors::default()
        };
        let page = render(
            &scope,
            &auth,
            &employee,
            Some(&login),
            &values,
            &errors,
            None,
        )
        .await?;
        return Ok(unprocessable(page));
    }

    let hash = state
        .hasher
        .hash(&SecretString::from(form.password))
        .await?;
    let txn = state.db.begin().await?;
    lock_employee_within(&txn, tenant_id, employee.id, &reach).await?;
    Scoped::new(&txn, tenant_id)
        .update_many::<account::Entity>()
        .col_expr(account::Column::PasswordHash, Expr::value(Some(hash)))
        .col_expr(
            account::Column::MustChangePassword,
            Expr::value(must_change),
        )
        .col_expr(account::Column::FailedAttempts, Expr::value(0))
        .col_expr(
            account::Column::LockedUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(account::Column::Id.eq(login.id))
        .exec(&txn)
        .await?;
    let revoked =
        sessions::revoke_all_for_account(&state.sessions, &txn, tenant_id, login.id).await?;
    let trail = Trail {
        actor: &auth.account,
        source_ip: client.0,
    };
    trail
        .password_set(&txn, &login, must_change, revoked)
        .await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        employee_id = employee.id,
        account_id = login.id,
        must_change_password = must_change,
        sessions_revoked = revoked,
        actor_account_id = auth.account.id,
        "employee password set by administrator"
    );
    Ok(redirect_with(&tab_url(employee.id), Notice::PasswordSet))
}

/// `POST /admin/stammdaten/mitarbeiter/{id}/benutzer/name`: changes the username, which must
/// stay unique across the tenant's planners and employees, and records the audit event in the
/// same transaction.
pub(super) async fn change_username(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::ManageEmployeeLogins>,
    client: ClientIp,
    Path(raw_id): Path<String>,
    form: Result<Form<UsernameForm>, FormRejection>,
) -> Result<Response, Error> {
    let tenant_id = auth.tenant.id;
    let scope = Scoped::new(&state.db, tenant_id);
    let employee = find_employee(&scope, &raw_id, &reach).await?;
    let form = forms::accept(form)?;
    let Some(login) = find_login(&scope, employee.id).await? else {
        return Ok(Redirect::to(&tab_url(employee.id)).into_response());
    };

    let parsed = match Username::parse(&form.username) {
        Ok(username) if username_taken(&scope, username.key(), Some(login.id)).await? => {
            Err("errors.username_taken")
        }
        Ok(username) => Ok(username),
        Err(problem) => Err(problem.message_key()),
    };
    let failed = |key: &'static str| TabErrors {
        username: FieldErrors::from([("username", key)]),
        ..TabErrors::default()
    };
    let values = TabValues {
        new_username: form.username.clone(),
        ..TabValues::default()
    };
    let username = match parsed {
        Ok(username) => username,
        Err(key) => {
            let page = render(
                &scope,
                &auth,
                &employee,
                Some(&login),
                &values,
                &failed(key),
                None,
            )
            .await?;
            return Ok(unprocessable(page));
        }
    };

    let txn = state.db.begin().await?;
    lock_employee_within(&txn, tenant_id, employee.id, &reach).await?;
    let updated = Scoped::new(&txn, tenant_id)
        .update_many::<account::Entity>()
        .col_expr(account::Column::Username, Expr::value(username.as_str()))
        .col_expr(account::Column::UsernameKey, Expr::value(username.key()))
        .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(account::Column::Id.eq(login.id))
        .exec(&txn)
        .await;
    match updated {
        Ok(_) => {}
        Err(error) if db::is_unique_violation(&error) => {
            txn.rollback().await?;
            tracing::info!(
                tenant_id = %tenant_id,
                account_id = login.id,
                %error,
                "username taken by a concurrent request"
            );
            let errors = failed("errors.username_taken");
            let page = render(
                &scope,
                &auth,
                &employee,
                Some(&login),
                &values,
                &errors,
                None,
            )
            .await?;
            return Ok(unprocessable(page));
        }
        Err(error) => return Err(error.into()),
    }
    let trail = Trail {
        actor: &auth.account,
        source_ip: client.0,
    };
    trail
        .username_changed(&txn, &login, username.as_str())
        .await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        employee_id = employee.id,
        account_id = login.id,
        actor_account_id = auth.account.id,
        "employee username changed"
    );
    Ok(redirect_with(
        &tab_url(employee.id),
        Notice::UsernameChanged,
    ))
}

/// `POST /admin/stammdaten/mitarbeiter/{id}/benutzer/aktiv`: switches "Aktiv?" Ja/Nein.
/// Switching to Nein ends the login's running sessions and app tokens in the same transaction,
/// which also records the audit event of a changed state.
pub(super) async fn set_active(
    State(state): State<AppState>,
    Allowed { auth, reach, .. }: Allowed<need::ManageEmployeeLogins>,
    client: ClientIp,
    Path(raw_id): Path<String>,
    form: Result<Form<ActiveForm>, FormRejection>,
) -> Result<Response, Error> {
    let tenant_id = auth.tenant.id;
    let scope = Scoped::new(&state.db, tenant_id);
    let employee = find_employee(&scope, &raw_id, &reach).await?;
    let form = forms::accept(form)?;
    let active = match form.active.as_str() {
        "ja" => true,
        "nein" => false,
        _ => return Err(Error::BadRequest("errors.bad_form")),
    };
    let Some(login) = find_login(&scope, employee.id).await? else {
        return Ok(Redirect::to(&tab_url(employee.id)).into_response());
    };

    let txn = state.db.begin().await?;
    lock_employee_within(&txn, tenant_id, employee.id, &reach).await?;
    Scoped::new(&txn, tenant_id)
        .update_many::<account::Entity>()
        .col_expr(account::Column::Active, Expr::value(active))
        .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(account::Column::Id.eq(login.id))
        .exec(&txn)
        .await?;
    let revoked = if active {
        0
    } else {
        sessions::revoke_all_for_account(&state.sessions, &txn, tenant_id, login.id).await?
    };
    let trail = Trail {
        actor: &auth.account,
        source_ip: client.0,
    };
    trail.active_set(&txn, &login, active, revoked).await?;
    txn.commit().await?;
    tracing::info!(
        tenant_id = %tenant_id,
        employee_id = employee.id,
        account_id = login.id,
        active,
        sessions_revoked = revoked,
        actor_account_id = auth.account.id,
        "employee login active flag set"
    );
    let notice = if active {
        Notice::LoginActivated
    } else {
        Notice::LoginDeactivated
    };
    Ok(redirect_with(&tab_url(employee.id), notice))
}
