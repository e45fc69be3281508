//! Row-level security on PostgreSQL: the second wall between tenants. The application role is
//! neither superuser nor table owner, so these checks run against it through the app's own pool.
//! On SQLite there is no such wall (the scoped repositories are the only one), so each test
//! returns early there; CI runs the suite on PostgreSQL too.

use mep24web_entities::{account, org_unit};
use mep24web_platform::db::{begin_tenant, begin_unscoped};
use mep24web_tests::{TestApp, spawn_app};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Set, Statement,
};

async fn postgres_app() -> Option<TestApp> {
    let app = spawn_app().await;
    if app.postgres_database().is_none() {
        eprintln!("row-level security exists on PostgreSQL only; set MEP24WEB_TEST_DATABASE_URL");
        return None;
    }
    Some(app)
}

#[tokio::test]
async fn tenant_tables_all_have_forced_policies() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let rows = app
        .db()
        .query_all(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT c.relname::text AS name, c.relrowsecurity AS enabled, \
             c.relforcerowsecurity AS forced, \
             (SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname) AS policies \
             FROM pg_class c JOIN information_schema.columns col \
             ON col.table_name = c.relname AND col.column_name = 'tenant_id' \
             AND col.table_schema = current_schema() \
             WHERE c.relkind = 'r' ORDER BY c.relname",
        ))
        .await
        .unwrap();
    assert!(
        rows.len() >= 9,
        "expected every tenant-owned table, got {}",
        rows.len()
    );
    for row in rows {
        let name: String = row.try_get("", "name").unwrap();
        let enabled: bool = row.try_get("", "enabled").unwrap();
        let forced: bool = row.try_get("", "forced").unwrap();
        let policies: i64 = row.try_get("", "policies").unwrap();
        assert!(enabled, "row-level security is off on {name}");
        assert!(forced, "row-level security is not forced on {name}");
        assert_eq!(policies, 1, "{name} needs exactly the tenant policy");
    }
}

#[tokio::test]
async fn query_without_tenant_returns_no_rows() {
    let Some(app) = postgres_app().await else {
        return;
    };
    app.create_tenant("acme", "Acme Apotheke").await;
    // The owner sees the administrator account, the application role without a tenant nothing.
    assert_eq!(account::Entity::find().count(app.db()).await.unwrap(), 1);
    let pool = app.state().db.pool();
    assert_eq!(account::Entity::find().count(pool).await.unwrap(), 0);
    assert_eq!(org_unit::Entity::find().count(pool).await.unwrap(), 0);
}

#[tokio::test]
async fn query_missing_tenant_filter_reads_own_tenant_only() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;

    let txn = begin_tenant(app.state().db.pool(), acme.id).await.unwrap();
    // No tenant filter in the query: the policy still confines it to the transaction's tenant.
    let accounts = account::Entity::find().all(&txn).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].tenant_id, acme.id.get());
    let units = org_unit::Entity::find().all(&txn).await.unwrap();
    assert!(units.iter().all(|unit| unit.tenant_id == acme.id.get()));
    // The other tenant's administrator exists (the owner sees it) but not inside this scope.
    let other_admin = account::Entity::find()
        .filter(account::Column::TenantId.eq(other.id.get()))
        .one(app.db())
        .await
        .unwrap()
        .expect("the other tenant's administrator");
    assert!(
        account::Entity::find_by_id(other_admin.id)
            .one(&txn)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn insert_for_other_tenant_is_rejected() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;

    let txn = begin_tenant(app.state().db.pool(), acme.id).await.unwrap();
    let inserted = org_unit::ActiveModel {
        tenant_id: Set(other.id.get()),
        parent_id: Set(None),
        kind: Set("branch".to_owned()),
        name: Set("Fremde Filiale".to_owned()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let error = inserted.expect_err("the policy must reject a row of another tenant");
    assert!(
        error.to_string().contains("row-level security"),
        "unexpected error: {error}"
    );
}

#[tokio::test]
async fn unscoped_transaction_sees_every_tenant() {
    let Some(app) = postgres_app().await else {
        return;
    };
    app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("other", "Andere Apotheke").await;
    let txn = begin_unscoped(app.state().db.pool()).await.unwrap();
    assert_eq!(account::Entity::find().count(&txn).await.unwrap(), 2);
}
