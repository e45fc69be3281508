//! The demo tenant for `serve --demo`: created on an empty database only, so a real installation
//! never gets demo data by accident.

use chrono::{NaiveDate, Utc};
use mep24web_entities::{
    account, employee, org_unit, tenant, tenant_settings, user_group, user_group_right,
};
use mep24web_platform::AppState;
use mep24web_platform::rights::PLANER_RIGHTS;
use mep24web_platform::username::Username;
use mep24web_tenancy::provision::{self, NewTenant};
use mep24web_tenancy::{CustomerNumber, Slug};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use secrecy::SecretString;

/// Password of the demo planner and the registered demo employee.
pub const DEMO_PASSWORD: &str = "Demo-Passwort-2026";
/// Security code employees of the demo tenant enter when they register.
pub const DEMO_SECURITY_CODE: &str = "DEMO-1234";

/// Creates the demo tenant when no tenant exists yet and prints how to log in.
pub async fn provision_if_empty(state: &AppState) -> anyhow::Result<()> {
    if tenant::Entity::find().count(&state.db).await? > 0 {
        tracing::info!("--demo ignored: the database already has tenants");
        return Ok(());
    }
    let slug = Slug::parse("demo").map_err(|error| anyhow::anyhow!("demo slug: {error}"))?;
    let created = provision::create_tenant(
        state.db.pool(),
        &state.urls,
        NewTenant {
            name: "Demo-Apotheke".to_owned(),
            slug,
            customer_number: CustomerNumber::new(10001),
            admin_username: Some("planer".to_owned()),
        },
    )
    .await?;
    let hash = state
        .hasher
        .hash(&SecretString::from(DEMO_PASSWORD))
        .await?;
    let now = Utc::now();
    let txn = mep24web_platform::db::begin_unscoped(&state.db).await?;
    let tenant_id = created.tenant_id;

    account::Entity::update_many()
        .col_expr(
            account::Column::PasswordHash,
            sea_orm::sea_query::Expr::value(hash.clone()),
        )
        .col_expr(
            account::Column::DisplayName,
            sea_orm::sea_query::Expr::value("Petra Planer"),
        )
        .filter(account::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::SecurityCode,
            sea_orm::sea_query::Expr::value(DEMO_SECURITY_CODE),
        )
        .filter(tenant_settings::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;

    let root = org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant_id))
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo tenant has no organization root"))?;
    let unit = |parent: i64, kind: &str, name: &str| org_unit::ActiveModel {
        tenant_id: Set(tenant_id),
        parent_id: Set(Some(parent)),
        kind: Set(kind.to_owned()),
        name: Set(name.to_owned()),
        created_at: Set(now),
        ..Default::default()
    };
    let branch = unit(root.id, "branch", "Filiale Heidelberg")
        .insert(&txn)
        .await?;
    let sales = unit(branch.id, "department", "Verkauf")
        .insert(&txn)
        .await?;
    let checkout = unit(branch.id, "department", "Kasse").insert(&txn).await?;
    let mannheim = unit(root.id, "branch", "Filiale Mannheim")
        .insert(&txn)
        .await?;

    let people = [
        (
            "1001",
            "Anna",
            "Schmidt",
            Some("anna.schmidt@demo.example"),
            sales.id,
        ),
        (
            "1002",
            "Jürgen",
            "Weiß",
            Some("juergen.weiss@demo.example"),
            sales.id,
        ),
        (
            "1003",
            "Fatma",
            "Yılmaz",
            Some("fatma.yilmaz@demo.example"),
            checkout.id,
        ),
        ("1004", "Lukas", "Müller", None, checkout.id),
        (
            "2001",
            "Sophie",
            "Becker",
            Some("sophie.becker@demo.example"),
            mannheim.id,
        ),
    ];
    let hash_for_manager = hash.clone();
    let mut first_employee = None;
    for (number, first, last, email, unit_id) in people {
        let row = employee::ActiveModel {
            tenant_id: Set(tenant_id),
            personnel_number: Set(number.to_owned()),
            first_name: Set(first.to_owned()),
            last_name: Set(last.to_owned()),
            email: Set(email.map(str::to_owned)),
            phone: Set(None),
            entry_date: Set(NaiveDate::from_ymd_opt(2024, 4, 1)),
            exit_date: Set(None),
            org_unit_id: Set(unit_id),
            language: Set("de".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        first_employee.get_or_insert(row);
    }
    if let Some(anna) = first_employee {
        let username = Username::parse("anna.schmidt")?;
        account::ActiveModel {
            tenant_id: Set(tenant_id),
            kind: Set("employee".to_owned()),
            username: Set(username.as_str().to_owned()),
            username_key: Set(username.key().to_owned()),
            password_hash: Set(Some(hash)),
            display_name: Set("Anna Schmidt".to_owned()),
            role: Set(None),
            email: Set(anna.email.clone()),
            employee_id: Set(Some(anna.id)),
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
    }
    branch_manager(&txn, tenant_id, branch.id, hash_for_manager, now).await?;
    txn.commit().await?;

    println!();
    println!("Demo tenant ready: {}", created.name);
    println!("  Access link:     {}/", created.access_link);
    println!("  Customer number: {}", created.customer_number);
    println!("  Planner login:   planer / {DEMO_PASSWORD}");
    println!("  Branch manager:  filialleitung / {DEMO_PASSWORD} (Filiale Heidelberg only)");
    println!("  Employee login:  anna.schmidt / {DEMO_PASSWORD}");
    println!("  Security code:   {DEMO_SECURITY_CODE}");
    println!();
    Ok(())
}

/// Adds the user group "Filialleitung Heidelberg", whose employee rights cover that branch only,
/// and the planner `filialleitung` in it, so the demo shows a branch manager's view.
async fn branch_manager<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant_id: i64,
    branch_id: i64,
    hash: String,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let key = "filialleitung-heidelberg";
    let group = user_group::ActiveModel {
        tenant_id: Set(tenant_id),
        key: Set(key.to_owned()),
        name: Set("Filialleitung Heidelberg".to_owned()),
        name_key: Set("filialleitung heidelberg".to_owned()),
        builtin: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    for right in PLANER_RIGHTS {
        user_group_right::ActiveModel {
            tenant_id: Set(tenant_id),
            group_id: Set(group.id),
            right_code: Set(right.code().to_owned()),
            org_unit_id: Set(Some(branch_id)),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    let username = Username::parse("filialleitung")?;
    account::ActiveModel {
        tenant_id: Set(tenant_id),
        kind: Set("planner".to_owned()),
        username: Set(username.as_str().to_owned()),
        username_key: Set(username.key().to_owned()),
        password_hash: Set(Some(hash)),
        display_name: Set("Frank Filialleiter".to_owned()),
        role: Set(Some(key.to_owned())),
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
    .insert(conn)
    .await?;
    Ok(())
}
