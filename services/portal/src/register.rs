//! Employee registration at `/register/{token}`, the link in the invitation email.
//!
//! A successful registration does not sign the employee in. The browser goes to the login form,
//! which shows a notice together with the access link and the customer number, so the employee
//! learns where to log in from then on. The registration form states this before it is sent.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::Utc;
use mep24web_entities::{account, invitation};
use mep24web_platform::audit::{self, AuditAction};
use mep24web_platform::client_ip::ClientIp;
use mep24web_platform::db::{self, Scoped};
use mep24web_platform::i18n::Locale;
use mep24web_platform::passwords::check_new_password;
use mep24web_platform::routes::{Access, RouteTable};
use mep24web_platform::username::Username;
use mep24web_platform::web::base_context;
use mep24web_platform::{AppState, Error, TenantContext};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, PaginatorTrait, QueryFilter, Set, TransactionTrait,
};
use secrecy::SecretString;
use serde::Deserialize;

use crate::attempt_limit;
use crate::forms::{self, Form, FormErrors, password_field};
use crate::invitation_link::{self, LinkStatus, MAX_SECURITY_CODE_FAILURES, Usable};
use crate::signin;

pub fn routes() -> RouteTable {
    RouteTable::new().get_post("/register/{token}", get(show).post(submit), Access::Public)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RegisterForm {
    security_code: String,
    username: String,
    password: String,
    password_repeat: String,
}

/// Outcome of the registration transaction.
enum Registration {
    Created {
        account_id: i64,
    },
    /// Another account took the username between the check and the insert.
    UsernameTaken,
    /// The invitation stopped being usable in the meantime, for example because a concurrent
    /// submit used it first.
    LinkGone,
}

async fn show(
    State(state): State<AppState>,
    tenant: TenantContext,
    Path(token): Path<String>,
) -> Result<Response, Error> {
    match invitation_link::find(&state.db, &tenant, &token).await? {
        LinkStatus::Usable(usable) => render_form(
            &state,
            &tenant,
            &usable,
            StatusCode::OK,
            &RegisterForm::default(),
            &FormErrors::default(),
        ),
        other => {
            tracing::info!(
                tenant_id = %tenant.id,
                link_status = other.as_str(),
                "registration link not usable"
            );
            render_problem(&state, &tenant, &other)
        }
    }
}

/// Checks the security code first, then the username and password, and creates the login.
/// A wrong security code stores nothing but the failure count of the invitation. Every submit
/// counts against the login attempt limits before anything is checked.
async fn submit(
    State(state): State<AppState>,
    tenant: TenantContext,
    client: ClientIp,
    Path(token): Path<String>,
    Form(mut form): Form<RegisterForm>,
) -> Result<Response, Error> {
    let back_path = format!("/register/{token}");
    if let Some(limited) =
        attempt_limit::reject_if_limited(&state, &tenant, client, &back_path).await
    {
        return Ok(limited);
    }
    let usable = match invitation_link::find(&state.db, &tenant, &token).await? {
        LinkStatus::Usable(usable) => usable,
        other => {
            tracing::info!(
                tenant_id = %tenant.id,
                link_status = other.as_str(),
                "registration rejected"
            );
            return render_problem(&state, &tenant, &other);
        }
    };

    let Some(failures) =
        invitation_link::claim_code_attempt(&state.db, &tenant, usable.invitation.id).await?
    else {
        tracing::info!(
            tenant_id = %tenant.id,
            invitation_id = usable.invitation.id,
            "registration rejected: no security code attempt left"
        );
        return render_problem(&state, &tenant, &LinkStatus::Blocked);
    };
    let mut errors = FormErrors::default();
    if invitation_link::security_code_matches(&form.security_code, &usable.security_code) {
        invitation_link::release_code_attempt(&state.db, &tenant, usable.invitation.id).await?;
        // The correct code is the tenant's secret, so the form never repeats it. A wrong code
        // is shown again for correction.
        form.security_code.clear();
    } else {
        tracing::info!(
            tenant_id = %tenant.id,
            invitation_id = usable.invitation.id,
            failures,
            "wrong security code at registration"
        );
        if failures >= MAX_SECURITY_CODE_FAILURES {
            return render_problem(&state, &tenant, &LinkStatus::Blocked);
        }
        let remaining = (MAX_SECURITY_CODE_FAILURES - failures).to_string();
        errors.add_with(
            "security_code",
            "portal.register.code_wrong",
            &[("remaining", remaining.as_str())],
        );
    }
    let username = match Username::parse(&form.username) {
        Ok(username) => Some(username),
        Err(problem) => {
            errors.add("username", problem.message_key());
            None
        }
    };
    if let Err(problem) =
        check_new_password(&form.password, &form.password_repeat, form.username.trim())
    {
        errors.add(
            password_field(problem, "password", "password_repeat"),
            problem.message_key(),
        );
    }
    // Only a visitor who entered the correct security code learns whether a username is taken.
    if errors.is_empty()
        && let Some(username) = &username
        && username_taken(&state, &tenant, username).await?
    {
        errors.add("username", "errors.username_taken");
    }
    let Some(username) = username.filter(|_| errors.is_empty()) else {
        return render_form(
            &state,
            &tenant,
            &usable,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            &errors,
        );
    };

    let hash = state
        .hasher
        .hash(&SecretString::from(form.password.clone()))
        .await?;
    match create_account(&state, &tenant, &usable, &username, hash, client.0).await? {
        Registration::Created { account_id } => {
            tracing::info!(
                tenant_id = %tenant.id,
                account_id,
                employee_id = usable.employee.id,
                "employee registered"
            );
            Ok(Redirect::to("/login?notice=registered").into_response())
        }
        Registration::UsernameTaken => {
            errors.add("username", "errors.username_taken");
            render_form(
                &state,
                &tenant,
                &usable,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &errors,
            )
        }
        Registration::LinkGone => {
            let status = invitation_link::find(&state.db, &tenant, &token).await?;
            tracing::info!(
                tenant_id = %tenant.id,
                link_status = status.as_str(),
                "registration lost a race for the invitation"
            );
            // The invitation can only have become used, replaced or blocked here.
            let status = match status {
                LinkStatus::Usable(_) => LinkStatus::Used,
                other => other,
            };
            render_problem(&state, &tenant, &status)
        }
    }
}

async fn username_taken(
    state: &AppState,
    tenant: &TenantContext,
    username: &Username,
) -> Result<bool, DbErr> {
    let count = Scoped::new(&state.db, tenant.id)
        .find::<account::Entity>()
        .filter(account::Column::UsernameKey.eq(username.key()))
        .count(&state.db)
        .await?;
    Ok(count > 0)
}

/// Marks the invitation used and creates the employee's login in one transaction. The invitation
/// is claimed with a conditional update first, so of two concurrent submits only one gets past it.
async fn create_account(
    state: &AppState,
    tenant: &TenantContext,
    usable: &Usable,
    username: &Username,
    password_hash: String,
    source_ip: std::net::IpAddr,
) -> Result<Registration, DbErr> {
    let now = Utc::now();
    let employee = &usable.employee;
    let txn = state.db.begin().await?;
    let claimed = Scoped::new(&txn, tenant.id)
        .update_many::<invitation::Entity>()
        .col_expr(invitation::Column::UsedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(usable.invitation.id))
        .filter(invitation::Column::UsedAt.is_null())
        .filter(invitation::Column::ReplacedAt.is_null())
        .filter(invitation::Column::SecurityCodeFailures.lt(MAX_SECURITY_CODE_FAILURES))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(Registration::LinkGone);
    }

    let display_name = format!(
        "{} {}",
        employee.first_name.trim(),
        employee.last_name.trim()
    )
    .trim()
    .to_owned();
    let language = Locale::parse(&employee.language).unwrap_or_default();
    let inserted = account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("employee".to_owned()),
        username: Set(username.as_str().to_owned()),
        username_key: Set(username.key().to_owned()),
        password_hash: Set(Some(password_hash)),
        display_name: Set(display_name),
        role: Set(None),
        email: Set(employee.email.clone()),
        employee_id: Set(Some(employee.id)),
        active: Set(true),
        must_change_password: Set(false),
        failed_attempts: Set(0),
        locked_until: Set(None),
        language: Set(language.code().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;

    match inserted {
        Ok(account) => {
            audit::record_own(
                &txn,
                &account,
                AuditAction::RegistrationCompleted,
                source_ip,
            )
            .await?;
            txn.commit().await?;
            Ok(Registration::Created {
                account_id: account.id,
            })
        }
        // Either the username or the employee's single login was taken concurrently.
        Err(error) if db::is_unique_violation(&error) => {
            txn.rollback().await?;
            if username_taken(state, tenant, username).await? {
                Ok(Registration::UsernameTaken)
            } else {
                Ok(Registration::LinkGone)
            }
        }
        Err(error) => Err(error),
    }
}

fn render_form(
    state: &AppState,
    tenant: &TenantContext,
    usable: &Usable,
    status: StatusCode,
    form: &RegisterForm,
    errors: &FormErrors,
) -> Result<Response, Error> {
    let employee = &usable.employee;
    let base = base_context(tenant, None, "register");
    let context = minijinja::context! {
        employee_name => format!("{} {}", employee.first_name.trim(), employee.last_name.trim()),
        access_link => signin::access_link(state, tenant),
        security_code => form.security_code,
        username => form.username,
        errors => errors.to_value(),
        ..base
    };
    forms::page(status, "portal/register.html", context)
}

fn render_problem(
    state: &AppState,
    tenant: &TenantContext,
    status: &LinkStatus,
) -> Result<Response, Error> {
    let Some((code, title_key, message_key)) = status.problem_page() else {
        return Err(Error::Internal(anyhow::anyhow!(
            "a usable invitation was rendered as a problem page"
        )));
    };
    let base = base_context(tenant, None, "register");
    let context = minijinja::context! {
        title_key => title_key,
        message_key => message_key,
        access_link => signin::access_link(state, tenant),
        ..base
    };
    forms::page(code, "portal/link_problem.html", context)
}
