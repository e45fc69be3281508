//! The data generator: tenants, employees and their portal logins, written in bulk with
//! multi-row `INSERT`s through the owner role, never through HTTP.
//!
//! Every login gets the same password hash, computed once, because hashing 200,000 passwords
//! with Argon2id would take hours on two cores and the stored hash is all that a login reads.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use mep24web_entities::{account, employee, org_unit, tenant, tenant_settings};
use mep24web_platform::audit;
use mep24web_platform::login::{DEFAULT_LOCKOUT_MINUTES, DEFAULT_MAX_FAILED_LOGINS};
use mep24web_platform::urls::PublicUrls;
use mep24web_platform::username::Username;
use mep24web_tenancy::Slug;
use mep24web_tenancy::customer_number::FIRST_CUSTOMER_NUMBER;
use mep24web_tenancy::provision::{self, DEFAULT_INVITATION_DAYS, NewTenant};
use mep24web_tenancy::resolver::bump_generation;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set, TransactionTrait,
};

/// The password of every generated login.
pub const PASSWORD: &str = "Bench-Passwort-2026";
/// Username of the administrator of the invitation tenant.
pub const ADMIN_USERNAME: &str = "admin";
/// Security code of the invitation tenant; sending invitations requires one.
const SECURITY_CODE: &str = "BENCH-2026";
/// Slug of the tenant whose employees have no logins yet and get invited.
pub const INVITE_SLUG: &str = "bench-invite";
/// Rows per multi-row `INSERT`. An account row has 18 columns, so 1,000 rows stay below the bind
/// parameter limits of SQLite (32,766) and PostgreSQL (65,535).
const INSERT_BATCH: usize = 1_000;

/// The size of a generated data set.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub tenants: usize,
    /// Employees per tenant, each with a portal login.
    pub employees_per_tenant: usize,
    /// Employees without logins in the extra invitation tenant; 0 creates no such tenant.
    pub invite_employees: usize,
    /// Prefix of the generated slugs, followed by a zero-padded number.
    pub slug_prefix: &'static str,
}

/// A generated tenant.
#[derive(Clone, Debug)]
pub struct BenchTenant {
    pub id: i64,
    pub slug: String,
    pub customer_number: i64,
}

/// The tenant whose employees get invited, with the organization id the invitation form names.
#[derive(Clone, Debug)]
pub struct InviteTenant {
    pub slug: String,
    pub organization_id: i64,
}

/// The rows the generator wrote.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub tenants: Vec<BenchTenant>,
    pub invite: Option<InviteTenant>,
    pub employees: usize,
    pub seconds: f64,
}

/// Returns the username of the employee with the 1-based `number` in every tenant.
pub fn employee_username(number: usize) -> String {
    format!("ma{number:04}")
}

/// Writes the plan into an empty, migrated database. `password_hash` is stored for every login.
pub async fn generate(
    db: &DatabaseConnection,
    plan: Plan,
    password_hash: &str,
) -> anyhow::Result<Dataset> {
    let started = Instant::now();
    let invite = if plan.invite_employees > 0 {
        Some(invite_tenant(db, plan.invite_employees, password_hash).await?)
    } else {
        None
    };

    let first_number = FIRST_CUSTOMER_NUMBER + i64::from(invite.is_some());
    let tenants = insert_tenants(db, plan, first_number).await?;
    let ids: Vec<i64> = tenants.iter().map(|tenant| tenant.id).collect();
    let organizations = organization_ids(db, &ids).await?;

    let txn = db.begin().await?;
    let mut employees = Vec::with_capacity(tenants.len() * plan.employees_per_tenant);
    for tenant in &tenants {
        let organization = *organizations
            .get(&tenant.id)
            .with_context(|| format!("tenant {} has no organization unit", tenant.slug))?;
        for number in 1..=plan.employees_per_tenant {
            employees.push(employee_row(tenant.id, &tenant.slug, organization, number));
        }
    }
    let employee_count = employees.len();
    insert_chunks(&txn, employees).await?;
    txn.commit().await?;

    if plan.employees_per_tenant > 0 {
        insert_logins(db, &tenants, password_hash).await?;
    }
    bump_generation(db).await?;

    Ok(Dataset {
        tenants,
        invite,
        employees: employee_count,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Inserts the tenants with their settings and organization units, and returns them with ids.
async fn insert_tenants(
    db: &DatabaseConnection,
    plan: Plan,
    first_number: i64,
) -> anyhow::Result<Vec<BenchTenant>> {
    let now = Utc::now();
    let width = plan.tenants.to_string().len().max(4);
    let slugs: Vec<String> = (1..=plan.tenants)
        .map(|number| format!("{}{number:0width$}", plan.slug_prefix))
        .collect();

    let txn = db.begin().await?;
    let rows = slugs
        .iter()
        .enumerate()
        .map(|(index, slug)| tenant::ActiveModel {
            customer_number: Set(first_number + index as i64),
            slug: Set(slug.clone()),
            name: Set(format!("Betrieb {slug}")),
            status: Set("active".to_owned()),
            primary_domain: Set(None),
            time_zone: Set("Europe/Berlin".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    insert_chunks(&txn, rows.collect()).await?;

    // Read the ids back, since a multi-row INSERT returns none on every engine.
    let stored: Vec<(i64, String, i64)> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .column(tenant::Column::Slug)
        .column(tenant::Column::CustomerNumber)
        .filter(tenant::Column::Slug.starts_with(plan.slug_prefix))
        .into_tuple()
        .all(&txn)
        .await?;
    let mut tenants: Vec<BenchTenant> = stored
        .into_iter()
        .filter(|(_, slug, _)| slugs.binary_search(slug).is_ok())
        .map(|(id, slug, customer_number)| BenchTenant {
            id,
            slug,
            customer_number,
        })
        .collect();
    tenants.sort_by(|a, b| a.slug.cmp(&b.slug));

    let settings = tenants.iter().map(|tenant| settings_row(tenant.id));
    insert_chunks(&txn, settings.collect()).await?;
    let units = tenants.iter().map(|tenant| org_unit::ActiveModel {
        tenant_id: Set(tenant.id),
        parent_id: Set(None),
        kind: Set("organization".to_owned()),
        name: Set(format!("Betrieb {}", tenant.slug)),
        created_at: Set(now),
        ..Default::default()
    });
    insert_chunks(&txn, units.collect()).await?;
    txn.commit().await?;

    Ok(tenants)
}

/// Inserts one login per generated employee, all with `password_hash`.
async fn insert_logins(
    db: &DatabaseConnection,
    tenants: &[BenchTenant],
    password_hash: &str,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let ids: Vec<i64> = tenants.iter().map(|tenant| tenant.id).collect();
    let mut employees: Vec<(i64, i64, String, String, String)> = Vec::new();
    for chunk in ids.chunks(INSERT_BATCH) {
        let rows: Vec<(i64, i64, String, String, String)> = employee::Entity::find()
            .select_only()
            .column(employee::Column::Id)
            .column(employee::Column::TenantId)
            .column(employee::Column::PersonnelNumber)
            .column(employee::Column::FirstName)
            .column(employee::Column::LastName)
            .filter(employee::Column::TenantId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        employees.extend(rows);
    }
    let txn = db.begin().await?;
    let mut rows = Vec::with_capacity(employees.len());
    for (id, tenant_id, personnel_number, first_name, last_name) in employees {
        let number: usize = personnel_number
            .parse()
            .with_context(|| format!("unexpected personnel number {personnel_number}"))?;
        let username = Username::parse(&employee_username(number))?;
        rows.push(account::ActiveModel {
            tenant_id: Set(tenant_id),
            kind: Set("employee".to_owned()),
            username: Set(username.as_str().to_owned()),
            username_key: Set(username.key().to_owned()),
            password_hash: Set(Some(password_hash.to_owned())),
            display_name: Set(format!("{first_name} {last_name}")),
            role: Set(None),
            email: Set(None),
            employee_id: Set(Some(id)),
            active: Set(true),
            must_change_password: Set(false),
            failed_attempts: Set(0),
            locked_until: Set(None),
            language: Set("de".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            last_login_at: Set(None),
            ..Default::default()
        });
    }
    insert_chunks(&txn, rows).await?;
    txn.commit().await?;
    Ok(())
}

/// Provisions the invitation tenant the way the operator CLI does, gives its administrator the
/// benchmark password and a security code, and adds `employees` employees without logins.
async fn invite_tenant(
    db: &DatabaseConnection,
    employees: usize,
    password_hash: &str,
) -> anyhow::Result<InviteTenant> {
    let urls = PublicUrls {
        scheme: "http".to_owned(),
        base_domain: "localhost".to_owned(),
        port: None,
    };
    let provisioned = provision::create_tenant(
        db,
        &urls,
        NewTenant {
            name: "Bench Einladungen".to_owned(),
            slug: Slug::parse(INVITE_SLUG)?,
            customer_number: None,
            admin_username: Some(ADMIN_USERNAME.to_owned()),
        },
    )
    .await?;
    let tenant_id = provisioned.tenant_id;

    account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(password_hash))
        .filter(account::Column::TenantId.eq(tenant_id))
        .filter(account::Column::UsernameKey.eq(ADMIN_USERNAME))
        .exec(db)
        .await?;
    tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::SecurityCode,
            Expr::value(SECURITY_CODE),
        )
        .filter(tenant_settings::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;

    let organization_id = *organization_ids(db, &[tenant_id])
        .await?
        .get(&tenant_id)
        .context("the invitation tenant has no organization unit")?;

    let txn = db.begin().await?;
    let rows = (1..=employees)
        .map(|number| employee_row(tenant_id, INVITE_SLUG, organization_id, number))
        .collect();
    insert_chunks(&txn, rows).await?;
    txn.commit().await?;

    Ok(InviteTenant {
        slug: INVITE_SLUG.to_owned(),
        organization_id,
    })
}

/// Returns the id of each tenant's organization unit, the root of its tree.
async fn organization_ids(
    db: &DatabaseConnection,
    tenant_ids: &[i64],
) -> Result<HashMap<i64, i64>, DbErr> {
    let mut ids = HashMap::with_capacity(tenant_ids.len());
    for chunk in tenant_ids.chunks(INSERT_BATCH) {
        let rows: Vec<(i64, i64)> = org_unit::Entity::find()
            .select_only()
            .column(org_unit::Column::TenantId)
            .column(org_unit::Column::Id)
            .filter(org_unit::Column::ParentId.is_null())
            .filter(org_unit::Column::TenantId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        ids.extend(rows);
    }
    Ok(ids)
}

fn settings_row(tenant_id: i64) -> tenant_settings::ActiveModel {
    tenant_settings::ActiveModel {
        tenant_id: Set(tenant_id),
        max_failed_logins: Set(DEFAULT_MAX_FAILED_LOGINS),
        lockout_minutes: Set(DEFAULT_LOCKOUT_MINUTES),
        security_code: Set(None),
        contact_email: Set(None),
        invitation_valid_days: Set(DEFAULT_INVITATION_DAYS),
        require_totp_for_planners: Set(false),
        self_service_reset: Set(false),
        audit_retention_days: Set(audit::DEFAULT_RETENTION_DAYS),
        updated_at: Set(Utc::now()),
    }
}

fn employee_row(
    tenant_id: i64,
    slug: &str,
    organization_id: i64,
    number: usize,
) -> employee::ActiveModel {
    let now = Utc::now();
    employee::ActiveModel {
        tenant_id: Set(tenant_id),
        personnel_number: Set(format!("{number:04}")),
        first_name: Set(format!("Vorname{number}")),
        last_name: Set(format!("Nachname{number}")),
        email: Set(Some(format!(
            "{}.{slug}@example.com",
            employee_username(number)
        ))),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(organization_id),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Inserts `rows` with one multi-row `INSERT` per [`INSERT_BATCH`] rows.
async fn insert_chunks<A, C>(conn: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_BATCH).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}
