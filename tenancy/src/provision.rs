//! Provisioning: creating a tenant with its settings, organization root and first administrator,
//! and suspending or resuming it. Used by the operator CLI and the demo set-up.

use chrono::{Duration, Utc};
use mep24web_entities::{account, org_unit, password_token, tenant, tenant_settings};
use mep24web_platform::login::{DEFAULT_LOCKOUT_MINUTES, DEFAULT_MAX_FAILED_LOGINS};
use mep24web_platform::urls::PublicUrls;
use mep24web_platform::username::Username;
use mep24web_platform::{TenantId, audit, db, rights, tokens};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;

use crate::customer_number::{CustomerNumber, FIRST_CUSTOMER_NUMBER};
use crate::resolver::{self, bump_generation};
use crate::slug::Slug;

/// How long the administrator's setup link stays valid, in hours.
pub const SETUP_LINK_HOURS: i64 = 72;
/// Default invitation validity in days.
pub const DEFAULT_INVITATION_DAYS: i32 = 14;

/// A provisioning request from the operator.
#[derive(Clone, Debug)]
pub struct NewTenant {
    pub name: String,
    pub slug: Slug,
    pub customer_number: Option<CustomerNumber>,
    pub admin_username: Option<String>,
}

/// The result of provisioning, printed by the CLI.
#[derive(Clone, Debug, Serialize)]
pub struct Provisioned {
    pub tenant_id: i64,
    pub name: String,
    pub slug: String,
    pub customer_number: i64,
    pub access_link: String,
    pub admin_username: String,
    pub setup_link: String,
    pub setup_link_expires_at: chrono::DateTime<Utc>,
}

/// Reason provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("the slug '{0}' is already taken; choose another one")]
    SlugTaken(String),
    #[error(
        "the customer number {0} is already taken; omit --customer-number to get the next free one"
    )]
    CustomerNumberTaken(i64),
    #[error("the tenant name must have 1 to 200 characters")]
    InvalidName,
    #[error("invalid administrator username: {0}")]
    InvalidUsername(#[from] mep24web_platform::username::InvalidUsername),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// Creates a tenant in one transaction and returns its access link and setup link.
pub async fn create_tenant(
    db: &DatabaseConnection,
    urls: &PublicUrls,
    request: NewTenant,
) -> Result<Provisioned, ProvisionError> {
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ProvisionError::InvalidName);
    }
    let admin_username = Username::parse(request.admin_username.as_deref().unwrap_or("admin"))?;
    // The new tenant's rows are written before any tenant scope could name it.
    let txn = db::begin_unscoped(db).await?;
    if resolver::unscoped_find_by_slug(&txn, request.slug.as_str())
        .await?
        .is_some()
    {
        return Err(ProvisionError::SlugTaken(request.slug.to_string()));
    }
    let customer_number = match request.customer_number {
        Some(number) => {
            if resolver::unscoped_find_by_customer_number(&txn, number.get())
                .await?
                .is_some()
            {
                return Err(ProvisionError::CustomerNumberTaken(number.get()));
            }
            number.get()
        }
        None => next_customer_number(&txn).await?,
    };
    let now = Utc::now();
    let inserted = tenant::ActiveModel {
        customer_number: Set(customer_number),
        slug: Set(request.slug.as_str().to_owned()),
        name: Set(name.clone()),
        status: Set("active".to_owned()),
        primary_domain: Set(None),
        time_zone: Set("Europe/Berlin".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let tenant = match inserted {
        Ok(tenant) => tenant,
        // A concurrent create took the slug or number between the checks and the insert.
        Err(error) if db::is_unique_violation(&error) => {
            return Err(ProvisionError::SlugTaken(request.slug.to_string()));
        }
        Err(error) => return Err(error.into()),
    };
    let tenant_id = TenantId::new(tenant.id);
    tenant_settings::ActiveModel {
        tenant_id: Set(tenant.id),
        max_failed_logins: Set(DEFAULT_MAX_FAILED_LOGINS),
        lockout_minutes: Set(DEFAULT_LOCKOUT_MINUTES),
        security_code: Set(None),
        contact_email: Set(None),
        invitation_valid_days: Set(DEFAULT_INVITATION_DAYS),
        require_totp_for_planners: Set(false),
        self_service_reset: Set(false),
        audit_retention_days: Set(audit::DEFAULT_RETENTION_DAYS),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    org_unit::ActiveModel {
        tenant_id: Set(tenant.id),
        parent_id: Set(None),
        kind: Set("organization".to_owned()),
        name: Set(name.clone()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    rights::create_builtin_groups(&txn, tenant_id).await?;
    let admin = account::ActiveModel {
        tenant_id: Set(tenant.id),
        kind: Set("planner".to_owned()),
        username: Set(admin_username.as_str().to_owned()),
        username_key: Set(admin_username.key().to_owned()),
        password_hash: Set(None),
        display_name: Set("Administrator".to_owned()),
        role: Set(Some(rights::ADMINISTRATOR_GROUP.to_owned())),
        email: Set(None),
        employee_id: Set(None),
        active: Set(true),
        must_change_password: Set(false),
        failed_attempts: Set(0),
        locked_until: Set(None),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let (setup_token, expires_at) = create_password_token(
        &txn,
        tenant_id,
        admin.id,
        "setup",
        Duration::hours(SETUP_LINK_HOURS),
    )
    .await?;
    bump_generation(&txn).await?;
    txn.commit().await?;

    let access_link = urls.host_url(&urls.tenant_host(&tenant.slug));
    Ok(Provisioned {
        tenant_id: tenant.id,
        name,
        slug: tenant.slug,
        customer_number,
        setup_link: format!("{access_link}/setup/{setup_token}"),
        access_link,
        admin_username: admin_username.as_str().to_owned(),
        setup_link_expires_at: expires_at,
    })
}

/// Stores a single-use password token and returns the token and its expiry.
pub async fn create_password_token<C: ConnectionTrait>(
    conn: &C,
    tenant_id: TenantId,
    account_id: i64,
    purpose: &str,
    valid_for: Duration,
) -> Result<(String, chrono::DateTime<Utc>), DbErr> {
    let token = tokens::generate();
    let now = Utc::now();
    let expires_at = now + valid_for;
    password_token::ActiveModel {
        tenant_id: Set(tenant_id.get()),
        account_id: Set(account_id),
        purpose: Set(purpose.to_owned()),
        token_hash: Set(tokens::hash(&token)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok((token, expires_at))
}

/// Returns the next free customer number: one above the highest ever given, so numbers are never
/// reused (tenants are suspended, never deleted).
async fn next_customer_number<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let highest = tenant::Entity::find()
        .order_by_desc(tenant::Column::CustomerNumber)
        .limit(1)
        .one(conn)
        .await?
        .map(|row| row.customer_number);
    Ok(highest.map_or(FIRST_CUSTOMER_NUMBER, |n| {
        (n + 1).max(FIRST_CUSTOMER_NUMBER)
    }))
}

/// Sets a tenant's status to `active` or `suspended`; returns false when no tenant has the slug.
pub async fn set_status(
    db: &DatabaseConnection,
    slug: &Slug,
    suspended: bool,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let status = if suspended { "suspended" } else { "active" };
    let result = tenant::Entity::update_many()
        .col_expr(
            tenant::Column::Status,
            sea_orm::sea_query::Expr::value(status),
        )
        .col_expr(
            tenant::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(tenant::Column::Slug.eq(slug.as_str()))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Ok(false);
    }
    bump_generation(&txn).await?;
    txn.commit().await?;
    Ok(true)
}

/// Lists all tenants ordered by customer number.
pub async fn unscoped_list(db: &DatabaseConnection) -> Result<Vec<tenant::Model>, DbErr> {
    tenant::Entity::find()
        .order_by_asc(tenant::Column::CustomerNumber)
        .all(db)
        .await
}
