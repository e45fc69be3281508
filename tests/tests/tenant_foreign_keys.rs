//! The composite foreign keys between tenant-owned tables: a row of one tenant cannot point at a
//! row of another tenant, even when code writes it without the scoped repositories.
//!
//! The rows are written with the test's owner connection, which row-level security does not
//! restrict on PostgreSQL, so only the foreign keys stand in the way. Each test first shows that
//! the same row with a reference inside its own tenant is accepted.

use chrono::{Duration, Utc};
use mep24web_entities::{account, employee, org_unit, session};
use mep24web_platform::tokens;
use mep24web_tests::{TestApp, TestTenant, spawn_app};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set, SqlErr,
};

async fn root_unit(app: &TestApp, tenant: &TestTenant) -> i64 {
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn admin_account(app: &TestApp, tenant: &TestTenant) -> i64 {
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::Kind.eq("planner"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

fn new_employee(
    tenant: &TestTenant,
    personnel_number: &str,
    unit_id: i64,
) -> employee::ActiveModel {
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(personnel_number.to_owned()),
        first_name: Set("Anna".to_owned()),
        last_name: Set("Schmidt".to_owned()),
        org_unit_id: Set(unit_id),
        language: Set("de".to_owned()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
}

fn new_session(tenant: &TestTenant, account_id: i64) -> session::ActiveModel {
    session::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        account_id: Set(account_id),
        kind: Set("web".to_owned()),
        token_hash: Set(tokens::hash(&tokens::generate())),
        created_at: Set(Utc::now()),
        expires_at: Set(Utc::now() + Duration::hours(1)),
        last_seen_at: Set(Utc::now()),
        ..Default::default()
    }
}

fn assert_foreign_key_violation(result: Result<(), DbErr>) {
    let error = result.expect_err("the row crossing tenants was stored");
    assert!(
        matches!(
            error.sql_err(),
            Some(SqlErr::ForeignKeyConstraintViolation(_))
        ),
        "expected a foreign key violation, got {error:?}"
    );
}

#[tokio::test]
async fn employee_in_other_tenant_unit_is_rejected() {
    let app = spawn_app().await;
    let alpha = app.create_tenant("alpha", "Apotheke Alpha").await;
    let beta = app.create_tenant("beta", "Apotheke Beta").await;
    let alpha_root = root_unit(&app, &alpha).await;
    let beta_root = root_unit(&app, &beta).await;

    new_employee(&alpha, "1001", alpha_root)
        .insert(app.db())
        .await
        .unwrap();
    let crossing = new_employee(&alpha, "1002", beta_root)
        .insert(app.db())
        .await;

    assert_foreign_key_violation(crossing.map(|_| ()));
    let stored = employee::Entity::find()
        .filter(employee::Column::TenantId.eq(alpha.id.get()))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn session_for_other_tenant_account_is_rejected() {
    let app = spawn_app().await;
    let alpha = app.create_tenant("alpha", "Apotheke Alpha").await;
    let beta = app.create_tenant("beta", "Apotheke Beta").await;
    let alpha_admin = admin_account(&app, &alpha).await;
    let beta_admin = admin_account(&app, &beta).await;

    new_session(&alpha, alpha_admin)
        .insert(app.db())
        .await
        .unwrap();
    let crossing = new_session(&alpha, beta_admin).insert(app.db()).await;

    assert_foreign_key_violation(crossing.map(|_| ()));
    let stored = session::Entity::find()
        .filter(session::Column::TenantId.eq(alpha.id.get()))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(stored, 1);
}
