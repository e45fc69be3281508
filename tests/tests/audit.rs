//! End-to-end tests of the audit log: events recorded by real HTTP flows, the log page with its
//! filters and pages, isolation between tenants, access rights and the retention cleanup.

use chrono::{Duration, Utc};
use mep24web_entities::{account, account_totp, audit_event, employee, org_unit, tenant_settings};
use mep24web_platform::audit;
use mep24web_platform::totp::code::{code_at_step, decode_secret, step_of};
use mep24web_tests::{TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use secrecy::SecretString;

const PASSWORD: &str = "Sicheres-Passwort-2026";
const WRONG_PASSWORD: &str = "Falsches-Passwort-2026";
const SECURITY_CODE: &str = "Apotheke-Geheim-4711";
const LOG_PATH: &str = "/admin/sicherheit/protokoll";

// ---------------------------------------------------------------------------------------------
// Helpers

async fn set_password(app: &TestApp, tenant: &TestTenant, username: &str, password: &str) {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(password))
        .await
        .unwrap();
    let result = account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(Some(hash)))
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::UsernameKey.eq(username.to_lowercase()))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(result.rows_affected, 1, "no login {username}");
}

async fn insert_planner(app: &TestApp, tenant: &TestTenant, username: &str, role: &str) {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .unwrap();
    let now = Utc::now();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("planner".to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(hash)),
        display_name: Set(format!("Planer {username}")),
        role: Set(Some(role.to_owned())),
        active: Set(true),
        must_change_password: Set(false),
        failed_attempts: Set(0),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
}

async fn sign_in(app: &TestApp, tenant: &TestTenant, username: &str) -> reqwest::Client {
    let client = app.client();
    let response = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/login"),
        &[("username", username), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login of {username} failed"
    );
    client
}

async fn admin_client(app: &TestApp, tenant: &TestTenant) -> reqwest::Client {
    set_password(app, tenant, &tenant.admin_username, PASSWORD).await;
    sign_in(app, tenant, &tenant.admin_username).await
}

async fn admin_account(app: &TestApp, tenant: &TestTenant) -> account::Model {
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::UsernameKey.eq(tenant.admin_username.to_lowercase()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Returns the tenant's events, oldest first.
async fn events_of(app: &TestApp, tenant: &TestTenant) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(tenant.id.get()))
        .order_by_asc(audit_event::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

async fn events_with_action(
    app: &TestApp,
    tenant: &TestTenant,
    action: &str,
) -> Vec<audit_event::Model> {
    events_of(app, tenant)
        .await
        .into_iter()
        .filter(|event| event.action == action)
        .collect()
}

/// Inserts an event directly, for the paging, filter and retention tests.
async fn insert_event(
    app: &TestApp,
    tenant: &TestTenant,
    action: &str,
    actor_name: &str,
    occurred_at: chrono::DateTime<Utc>,
) {
    audit_event::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        occurred_at: Set(occurred_at),
        actor_account_id: Set(None),
        actor_name: Set(Some(actor_name.to_owned())),
        action: Set(action.to_owned()),
        target_kind: Set("settings".to_owned()),
        target_id: Set(None),
        target_name: Set(None),
        source_ip: Set(Some("192.0.2.1".to_owned())),
        details: Set("{}".to_owned()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
}

/// Asserts that no text column of the events contains any of `secrets`.
fn assert_no_secret(events: &[audit_event::Model], secrets: &[&str]) {
    for event in events {
        let texts = [
            event.action.as_str(),
            event.actor_name.as_deref().unwrap_or(""),
            event.target_kind.as_str(),
            event.target_name.as_deref().unwrap_or(""),
            event.source_ip.as_deref().unwrap_or(""),
            event.details.as_str(),
        ];
        for secret in secrets {
            for text in texts {
                assert!(
                    !text.contains(secret),
                    "event {} ({}) contains a secret: {text}",
                    event.id,
                    event.action
                );
            }
        }
    }
}

fn event_rows(body: &str) -> usize {
    body.matches("<tr id=\"event-").count()
}

// ---------------------------------------------------------------------------------------------
// Logins

#[tokio::test]
async fn login_outcomes_are_recorded_with_ip() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-audit", "Apotheke Audit").await;
    set_password(&app, &tenant, &tenant.admin_username, PASSWORD).await;
    let client = app.client();
    let login_url = app.tenant_url(&tenant.slug, "/login");

    let unknown = post_form(
        &client,
        &login_url,
        &[("username", "niemand"), ("password", WRONG_PASSWORD)],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let wrong = post_form(
        &client,
        &login_url,
        &[
            ("username", &tenant.admin_username),
            ("password", WRONG_PASSWORD),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let _ = sign_in(&app, &tenant, &tenant.admin_username).await;

    let admin = admin_account(&app, &tenant).await;
    let failed = events_with_action(&app, &tenant, "login_failed").await;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].target_kind, "username");
    assert_eq!(failed[0].target_id, None);
    assert_eq!(failed[0].target_name, None);
    assert_eq!(failed[0].actor_account_id, None);
    assert_eq!(failed[0].details, r#"{"reason":"unknown_user"}"#);
    assert_eq!(failed[1].target_kind, "account");
    assert_eq!(failed[1].target_id, Some(admin.id));
    assert_eq!(failed[1].details, r#"{"reason":"wrong_password"}"#);

    let succeeded = events_with_action(&app, &tenant, "login_succeeded").await;
    assert_eq!(succeeded.len(), 1);
    let event = &succeeded[0];
    assert_eq!(event.actor_account_id, Some(admin.id));
    assert_eq!(
        event.actor_name.as_deref(),
        Some(admin.display_name.as_str())
    );
    assert_eq!(event.target_id, Some(admin.id));
    assert_eq!(event.source_ip.as_deref(), Some("127.0.0.1"));
    assert!((Utc::now() - event.occurred_at) < Duration::minutes(1));

    let events = events_of(&app, &tenant).await;
    assert_no_secret(&events, &[PASSWORD, WRONG_PASSWORD, "niemand"]);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Settings

#[tokio::test]
async fn settings_change_records_field_names_only() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant("apotheke-einst", "Apotheke Einstellungen")
        .await;
    let client = admin_client(&app, &tenant).await;

    let portal = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/admin/einstellungen/mitarbeiterportal"),
        &[
            ("security_code", SECURITY_CODE),
            ("contact_email", ""),
            ("invitation_valid_days", "14"),
        ],
    )
    .await;
    assert_eq!(portal.status(), StatusCode::SEE_OTHER);
    let login = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/admin/einstellungen/anmeldung"),
        &[
            ("max_failed_logins", "5"),
            ("lockout_minutes", "30"),
            ("audit_retention_days", "90"),
        ],
    )
    .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);

    let changed = events_with_action(&app, &tenant, "settings_changed").await;
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[0].details, r#"{"fields":["security_code"]}"#);
    assert_eq!(
        changed[1].details,
        r#"{"fields":["lockout_minutes","audit_retention_days"]}"#
    );
    assert_eq!(changed[1].source_ip.as_deref(), Some("127.0.0.1"));
    let admin = admin_account(&app, &tenant).await;
    assert_eq!(changed[1].actor_account_id, Some(admin.id));
    let settings = tenant_settings::Entity::find_by_id(tenant.id.get())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settings.audit_retention_days, 90);
    assert_no_secret(&events_of(&app, &tenant).await, &[SECURITY_CODE, PASSWORD]);
    app.stop().await;
}

#[tokio::test]
async fn retention_out_of_range_is_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-frist", "Apotheke Frist").await;
    let client = admin_client(&app, &tenant).await;
    let response = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/admin/einstellungen/anmeldung"),
        &[
            ("max_failed_logins", "5"),
            ("lockout_minutes", "15"),
            ("audit_retention_days", "29"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains("Bitte geben Sie eine ganze Zahl von 30 bis 3650 ein."));
    assert!(body.contains("value=\"29\""));
    assert!(
        events_with_action(&app, &tenant, "settings_changed")
            .await
            .is_empty()
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Log page

#[tokio::test]
async fn log_page_shows_events_in_tenant_time() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-seite", "Apotheke Seite").await;
    let client = admin_client(&app, &tenant).await;
    let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 7, 1, 10, 30, 0).unwrap();
    insert_event(&app, &tenant, "settings_changed", "Anna Admin", at).await;

    let (status, body) = get_text(&client, &app.tenant_url(&tenant.slug, LOG_PATH)).await;
    assert_eq!(status, StatusCode::OK);
    // 10:30 UTC is 12:30 in Europe/Berlin in summer.
    assert!(body.contains("01.07.2026 12:30:00"), "{body}");
    assert!(body.contains("Einstellungen geändert"));
    assert!(body.contains("Anna Admin"));
    assert!(body.contains("192.0.2.1"));
    assert!(body.contains("Anmeldung erfolgreich"));
    assert_eq!(event_rows(&body), 2);
    app.stop().await;
}

#[tokio::test]
async fn log_page_filters_by_action_actor_and_date() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant("apotheke-filter", "Apotheke Filter")
        .await;
    let client = admin_client(&app, &tenant).await;
    let day = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 10, 12, 0, 0).unwrap();
    insert_event(&app, &tenant, "settings_changed", "Anna Admin", day).await;
    insert_event(
        &app,
        &tenant,
        "settings_changed",
        "Bernd_Planer",
        day + Duration::days(1),
    )
    .await;
    insert_event(
        &app,
        &tenant,
        "import_committed",
        "Anna Admin",
        day + Duration::days(2),
    )
    .await;

    let url = |query: &str| app.tenant_url(&tenant.slug, &format!("{LOG_PATH}?{query}"));
    let (status, body) = get_text(&client, &url("action=import_committed")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event_rows(&body), 1);
    assert!(body.contains("Import übernommen"));

    let (_, body) = get_text(&client, &url("action=settings_changed&actor=anna")).await;
    assert_eq!(event_rows(&body), 1);

    // `_` matches only itself, not any character.
    let (_, body) = get_text(&client, &url("actor=d_p")).await;
    assert_eq!(event_rows(&body), 1);
    let (_, body) = get_text(&client, &url("actor=a_a")).await;
    assert_eq!(event_rows(&body), 0);
    assert!(body.contains("Keine Einträge gefunden."));

    let (_, body) = get_text(&client, &url("from=11.03.2026&to=12.03.2026")).await;
    assert_eq!(event_rows(&body), 2);
    let (_, body) = get_text(&client, &url("from=10.03.2026&to=10.03.2026")).await;
    assert_eq!(event_rows(&body), 1);
    app.stop().await;
}

#[tokio::test]
async fn log_page_invalid_date_keeps_input() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-datum", "Apotheke Datum").await;
    let client = admin_client(&app, &tenant).await;
    let url = app.tenant_url(
        &tenant.slug,
        &format!("{LOG_PATH}?from=31.02.2026&actor=Anna"),
    );
    let (status, body) = get_text(&client, &url).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Bitte geben Sie ein gültiges Datum im Format TT.MM.JJJJ ein"));
    assert!(body.contains("value=\"31.02.2026\""));
    assert!(body.contains("value=\"Anna\""));
    assert_eq!(event_rows(&body), 0);
    app.stop().await;
}

#[tokio::test]
async fn log_page_pages_by_fifty() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-blatt", "Apotheke Blatt").await;
    let client = admin_client(&app, &tenant).await;
    let start = Utc::now() - Duration::days(1);
    for index in 0..119 {
        let actor = format!("Person {index:03}");
        insert_event(
            &app,
            &tenant,
            "employee_updated",
            &actor,
            start + Duration::seconds(index),
        )
        .await;
    }
    let url = |query: &str| app.tenant_url(&tenant.slug, &format!("{LOG_PATH}?{query}"));

    // 119 inserted events and the administrator's login make 120 rows.
    let (_, first) = get_text(&client, &url("")).await;
    assert_eq!(event_rows(&first), 50);
    assert!(first.contains("Seite 1 von 3"));
    assert!(first.contains("page=2"));
    assert!(first.find("Person 118") < first.find("Person 117"));

    let (_, last) = get_text(&client, &url("action=&actor=&target=&from=&to=&page=3")).await;
    assert_eq!(event_rows(&last), 20);
    assert!(last.contains("Seite 3 von 3"));
    assert!(last.contains("Person 000"));

    let (_, beyond) = get_text(&client, &url("page=99")).await;
    assert!(beyond.contains("Seite 3 von 3"));

    let (_, filtered) = get_text(&client, &url("action=employee_updated&page=3")).await;
    assert_eq!(event_rows(&filtered), 19);
    app.stop().await;
}

#[tokio::test]
async fn log_page_never_shows_other_tenant() {
    let app = spawn_app().await;
    let acme = app.create_tenant("apotheke-a", "Apotheke A").await;
    let other = app.create_tenant("apotheke-b", "Apotheke B").await;
    let acme_client = admin_client(&app, &acme).await;
    let other_client = admin_client(&app, &other).await;
    insert_event(
        &app,
        &other,
        "import_committed",
        "Fremde Person",
        Utc::now(),
    )
    .await;

    let (status, body) = get_text(&acme_client, &app.tenant_url(&acme.slug, LOG_PATH)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("Fremde Person"));
    assert_eq!(event_rows(&body), 1);

    // Tenant B's session cookie on tenant A's host is no session there.
    let response = other_client
        .get(app.tenant_url(&acme.slug, LOG_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    app.stop().await;
}

#[tokio::test]
async fn log_page_rejects_planner_and_anonymous() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-recht", "Apotheke Recht").await;
    insert_planner(&app, &tenant, "planer", "planer").await;
    let planner = sign_in(&app, &tenant, "planer").await;
    let (status, _) = get_text(&planner, &app.tenant_url(&tenant.slug, LOG_PATH)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let anonymous = app
        .client()
        .get(app.tenant_url(&tenant.slug, LOG_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&anonymous), "/login");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Retention

#[tokio::test]
async fn retention_cleanup_deletes_old_events() {
    let app = spawn_app().await;
    let short = app.create_tenant("apotheke-kurz", "Apotheke Kurz").await;
    let long = app.create_tenant("apotheke-lang", "Apotheke Lang").await;
    tenant_settings::Entity::update_many()
        .col_expr(tenant_settings::Column::AuditRetentionDays, Expr::value(30))
        .filter(tenant_settings::Column::TenantId.eq(short.id.get()))
        .exec(app.db())
        .await
        .unwrap();
    let now = Utc::now();
    insert_event(
        &app,
        &short,
        "settings_changed",
        "Alt",
        now - Duration::days(31),
    )
    .await;
    insert_event(
        &app,
        &short,
        "settings_changed",
        "Neu",
        now - Duration::days(29),
    )
    .await;
    insert_event(
        &app,
        &long,
        "settings_changed",
        "Alt",
        now - Duration::days(31),
    )
    .await;
    insert_event(
        &app,
        &long,
        "settings_changed",
        "Uralt",
        now - Duration::days(366),
    )
    .await;

    let deleted = audit::unscoped_delete_expired(app.db()).await.unwrap();
    assert_eq!(deleted, 2);
    let short_names: Vec<_> = events_of(&app, &short)
        .await
        .into_iter()
        .map(|event| event.actor_name.unwrap_or_default())
        .collect();
    assert_eq!(short_names, vec!["Neu"]);
    let long_names: Vec<_> = events_of(&app, &long)
        .await
        .into_iter()
        .map(|event| event.actor_name.unwrap_or_default())
        .collect();
    assert_eq!(long_names, vec!["Alt"]);
    let total = audit_event::Entity::find().count(app.db()).await.unwrap();
    assert_eq!(total, 2);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Planner users

#[tokio::test]
async fn planner_user_changes_are_recorded() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant("apotheke-nutzer", "Apotheke Nutzer")
        .await;
    let client = admin_client(&app, &tenant).await;
    let new_password = "Neues-Planer-Kennwort-9";
    let created = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/admin/sicherheit/benutzer/neu"),
        &[
            ("username", "bernd"),
            ("display_name", "Bernd Planer"),
            ("email", ""),
            ("role", "planer"),
            ("password", PASSWORD),
            ("password_repeat", PASSWORD),
        ],
    )
    .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let bernd = account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::UsernameKey.eq("bernd"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();

    let edit_url = app.tenant_url(
        &tenant.slug,
        &format!("/admin/sicherheit/benutzer/{}", bernd.id),
    );
    let updated = post_form(
        &client,
        &edit_url,
        &[
            ("display_name", "Bernd Beispiel"),
            ("email", ""),
            ("role", "administrator"),
            ("active", "nein"),
            ("password", new_password),
            ("password_repeat", new_password),
        ],
    )
    .await;
    assert_eq!(updated.status(), StatusCode::SEE_OTHER);

    let actions: Vec<String> = events_of(&app, &tenant)
        .await
        .into_iter()
        .filter(|event| event.target_id == Some(bernd.id))
        .map(|event| event.action)
        .collect();
    assert_eq!(
        actions,
        vec![
            "planner_created",
            "planner_updated",
            "role_changed",
            "account_deactivated",
            "password_set_by_planner"
        ]
    );
    let role = events_with_action(&app, &tenant, "role_changed").await;
    assert_eq!(role[0].details, r#"{"from":"planer","to":"administrator"}"#);
    assert_eq!(role[0].target_name.as_deref(), Some("Bernd Planer"));
    let admin = admin_account(&app, &tenant).await;
    assert_eq!(role[0].actor_account_id, Some(admin.id));
    assert_eq!(role[0].source_ip.as_deref(), Some("127.0.0.1"));
    assert_no_secret(&events_of(&app, &tenant).await, &[PASSWORD, new_password]);

    // Tenant B's administrator cannot edit tenant A's user through tenant A's host.
    let other = app.create_tenant("apotheke-fremd", "Apotheke Fremd").await;
    let other_client = admin_client(&app, &other).await;
    let before = events_of(&app, &tenant).await.len();
    let foreign = post_form(
        &other_client,
        &edit_url,
        &[("display_name", "X"), ("role", "planer"), ("active", "ja")],
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&foreign), "/login");
    let foreign_on_own_host = post_form(
        &other_client,
        &app.tenant_url(
            &other.slug,
            &format!("/admin/sicherheit/benutzer/{}", bernd.id),
        ),
        &[("display_name", "X"), ("role", "planer"), ("active", "ja")],
    )
    .await;
    assert_eq!(foreign_on_own_host.status(), StatusCode::NOT_FOUND);
    assert_eq!(events_of(&app, &tenant).await.len(), before);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Employee records and their portal logins

const EMPLOYEE_EMAIL: &str = "anna.schmidt@apotheke.example";
const EMPLOYEE_PHONE: &str = "06221 123456";
const EMPLOYEE_PASSWORD: &str = "Kasse-Fruehling-2026";
const NEW_EMPLOYEE_PASSWORD: &str = "Neue-Schicht-Linde-7";

fn details_of(event: &audit_event::Model) -> serde_json::Value {
    serde_json::from_str(&event.details)
        .unwrap_or_else(|error| panic!("details of event {} are not valid JSON: {error}", event.id))
}

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

async fn insert_branch(app: &TestApp, tenant: &TestTenant, name: &str) -> i64 {
    org_unit::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        parent_id: Set(Some(root_unit(app, tenant).await)),
        kind: Set("branch".to_owned()),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id
}

/// Inserts an employee record "Anna Schmidt" with [`EMPLOYEE_EMAIL`] in `unit`.
async fn insert_employee(
    app: &TestApp,
    tenant: &TestTenant,
    unit: i64,
    personnel_number: &str,
) -> employee::Model {
    let now = Utc::now();
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(personnel_number.to_owned()),
        first_name: Set("Anna".to_owned()),
        last_name: Set("Schmidt".to_owned()),
        email: Set(Some(EMPLOYEE_EMAIL.to_owned())),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(unit),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
}

/// Creates the employee's portal login on tab "Benutzer" and returns it.
async fn create_employee_login(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    employee_id: i64,
    username: &str,
) -> account::Model {
    let response = post_form(
        client,
        &app.tenant_url(
            &tenant.slug,
            &format!("/admin/stammdaten/mitarbeiter/{employee_id}/benutzer"),
        ),
        &[
            ("username", username),
            ("password", EMPLOYEE_PASSWORD),
            ("password_repeat", EMPLOYEE_PASSWORD),
            ("must_change", "ja"),
        ],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login not created"
    );
    account::Entity::find()
        .filter(account::Column::EmployeeId.eq(employee_id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Signs the employee in at `/login`, which starts one web session.
async fn employee_signs_in(app: &TestApp, tenant: &TestTenant, username: &str, password: &str) {
    let response = post_form(
        &app.client(),
        &app.tenant_url(&tenant.slug, "/login"),
        &[("username", username), ("password", password)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login of {username} failed"
    );
}

#[tokio::test]
async fn employee_create_and_update_are_recorded() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant("apotheke-stamm", "Apotheke Stammdaten")
        .await;
    let client = admin_client(&app, &tenant).await;
    let north = insert_branch(&app, &tenant, "Filiale Nord").await;
    let south = insert_branch(&app, &tenant, "Filiale Süd").await;
    let new_email = "a.becker@privat.example";
    let mut fields = vec![
        ("personnel_number", "1001".to_owned()),
        ("first_name", "Anna".to_owned()),
        ("last_name", "Schmidt".to_owned()),
        ("email", EMPLOYEE_EMAIL.to_owned()),
        ("phone", EMPLOYEE_PHONE.to_owned()),
        ("entry_date", "01.03.2024".to_owned()),
        ("exit_date", String::new()),
        ("org_unit_id", north.to_string()),
        ("language", "de".to_owned()),
    ];
    let post = |url: String, fields: Vec<(&'static str, String)>| {
        let client = client.clone();
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&client, &url, &pairs).await
        }
    };

    let created = post(
        app.tenant_url(&tenant.slug, "/admin/stammdaten/mitarbeiter/neu"),
        fields.clone(),
    )
    .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let person = employee::Entity::find()
        .filter(employee::Column::TenantId.eq(tenant.id.get()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let edit_url = app.tenant_url(
        &tenant.slug,
        &format!("/admin/stammdaten/mitarbeiter/{}", person.id),
    );
    for (name, value) in &mut fields {
        match *name {
            "last_name" => *value = "Becker".to_owned(),
            "email" => *value = new_email.to_owned(),
            "exit_date" => *value = "31.12.2026".to_owned(),
            "org_unit_id" => *value = south.to_string(),
            _ => {}
        }
    }
    let updated = post(edit_url.clone(), fields.clone()).await;
    assert_eq!(updated.status(), StatusCode::SEE_OTHER);
    // Saving the same values again changes nothing and records nothing.
    let unchanged = post(edit_url, fields).await;
    assert_eq!(unchanged.status(), StatusCode::SEE_OTHER);

    let admin = admin_account(&app, &tenant).await;
    let created_events = events_with_action(&app, &tenant, "employee_created").await;
    assert_eq!(created_events.len(), 1);
    let event = &created_events[0];
    assert_eq!(event.actor_account_id, Some(admin.id));
    assert_eq!(event.target_kind, "employee");
    assert_eq!(event.target_id, Some(person.id));
    assert_eq!(event.target_name.as_deref(), Some("Anna Schmidt"));
    assert_eq!(event.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        details_of(event),
        serde_json::json!({
            "fields": ["personnel_number", "first_name", "last_name", "email", "phone",
                       "entry_date", "org_unit", "language"],
            "personnel_number": "1001",
            "entry_date": "2024-03-01",
            "exit_date": null,
            "org_unit": "Filiale Nord",
            "org_unit_id": north,
            "language": "de",
        })
    );

    let updated_events = events_with_action(&app, &tenant, "employee_updated").await;
    assert_eq!(updated_events.len(), 1);
    let event = &updated_events[0];
    assert_eq!(event.actor_account_id, Some(admin.id));
    assert_eq!(event.target_kind, "employee");
    assert_eq!(event.target_id, Some(person.id));
    assert_eq!(event.target_name.as_deref(), Some("Anna Becker"));
    assert_eq!(event.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        details_of(event),
        serde_json::json!({
            "fields": ["last_name", "email", "exit_date", "org_unit"],
            "exit_date": { "from": null, "to": "2026-12-31" },
            "org_unit": { "from": "Filiale Nord", "to": "Filiale Süd" },
            "org_unit_id": { "from": north, "to": south },
        })
    );
    assert_no_secret(
        &events_of(&app, &tenant).await,
        &[PASSWORD, EMPLOYEE_EMAIL, new_email, EMPLOYEE_PHONE],
    );
    // Names are stored as the target, never as old or new values in the details.
    for event in events_of(&app, &tenant).await {
        assert!(!event.details.contains("Schmidt"), "{}", event.details);
        assert!(!event.details.contains("Becker"), "{}", event.details);
    }

    let (status, page) = get_text(&client, &app.tenant_url(&tenant.slug, LOG_PATH)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Mitarbeiter angelegt"), "{page}");
    assert!(page.contains("Mitarbeiter geändert"), "{page}");
    assert!(page.contains("Filiale Nord → Filiale Süd"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn employee_login_changes_are_recorded() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant("apotheke-zugang", "Apotheke Zugang")
        .await;
    let client = admin_client(&app, &tenant).await;
    let branch = insert_branch(&app, &tenant, "Filiale Nord").await;
    let person = insert_employee(&app, &tenant, branch, "1001").await;
    let tab = |path: &str| {
        app.tenant_url(
            &tenant.slug,
            &format!("/admin/stammdaten/mitarbeiter/{}/benutzer{path}", person.id),
        )
    };

    let login = create_employee_login(&app, &tenant, &client, person.id, "anna.schmidt").await;
    employee_signs_in(&app, &tenant, "anna.schmidt", EMPLOYEE_PASSWORD).await;
    let password = post_form(
        &client,
        &tab("/passwort"),
        &[
            ("password", NEW_EMPLOYEE_PASSWORD),
            ("password_repeat", NEW_EMPLOYEE_PASSWORD),
        ],
    )
    .await;
    assert_eq!(password.status(), StatusCode::SEE_OTHER);
    let renamed = post_form(&client, &tab("/name"), &[("username", "anna.becker")]).await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    employee_signs_in(&app, &tenant, "anna.becker", NEW_EMPLOYEE_PASSWORD).await;
    for active in ["nein", "ja", "ja"] {
        let response = post_form(&client, &tab("/aktiv"), &[("active", active)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "active={active}");
    }

    let events: Vec<audit_event::Model> = events_of(&app, &tenant)
        .await
        .into_iter()
        .filter(|event| event.target_id == Some(login.id) && event.action != "login_succeeded")
        .collect();
    let actions: Vec<&str> = events.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "login_created",
            "password_set_by_planner",
            "username_changed",
            "account_deactivated",
            "account_activated",
        ]
    );
    let details: Vec<serde_json::Value> = events.iter().map(details_of).collect();
    assert_eq!(
        details,
        vec![
            serde_json::json!({ "username": "anna.schmidt", "must_change_password": true }),
            serde_json::json!({ "must_change_password": false, "sessions_ended": 1 }),
            serde_json::json!({ "from": "anna.schmidt", "to": "anna.becker" }),
            serde_json::json!({ "sessions_ended": 1 }),
            serde_json::json!({}),
        ]
    );
    let admin = admin_account(&app, &tenant).await;
    for event in &events {
        assert_eq!(event.actor_account_id, Some(admin.id), "{}", event.action);
        assert_eq!(event.target_kind, "account", "{}", event.action);
        assert_eq!(
            event.target_name.as_deref(),
            Some("Anna Schmidt"),
            "{}",
            event.action
        );
        assert_eq!(
            event.source_ip.as_deref(),
            Some("127.0.0.1"),
            "{}",
            event.action
        );
    }
    assert_no_secret(
        &events_of(&app, &tenant).await,
        &[PASSWORD, EMPLOYEE_PASSWORD, NEW_EMPLOYEE_PASSWORD],
    );

    let (_, page) = get_text(&client, &app.tenant_url(&tenant.slug, LOG_PATH)).await;
    for name in [
        "Zugang angelegt",
        "Passwort durch Planer gesetzt",
        "Benutzername geändert",
        "Zugang deaktiviert",
        "Zugang aktiviert",
    ] {
        assert!(page.contains(name), "{name} missing in {page}");
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Password reset by email

#[tokio::test]
async fn password_reset_by_mail_is_recorded() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-reset", "Apotheke Reset").await;
    let client = admin_client(&app, &tenant).await;
    tenant_settings::Entity::update_many()
        .col_expr(tenant_settings::Column::SelfServiceReset, Expr::value(true))
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
    let branch = insert_branch(&app, &tenant, "Filiale Nord").await;
    let person = insert_employee(&app, &tenant, branch, "1001").await;
    let login = create_employee_login(&app, &tenant, &client, person.id, "anna.schmidt").await;
    let unknown_address = "niemand@apotheke.example";
    let forgot_url = app.tenant_url(&tenant.slug, "/password/forgot");

    // The unknown address is sent first, so its background task has run by the time the mail
    // of the second request arrives.
    for identifier in [unknown_address, EMPLOYEE_EMAIL] {
        let response = post_form(&app.client(), &forgot_url, &[("identifier", identifier)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{identifier}");
        assert_eq!(location(&response), "/password/forgot?sent=1");
    }
    let mail = app
        .wait_for_mail(EMPLOYEE_EMAIL, std::time::Duration::from_secs(20))
        .await;
    let link = mail.link_starting_with(&format!("{}/reset/", tenant.access_link));
    let token = link.rsplit('/').next().unwrap().to_owned();

    let requested = events_with_action(&app, &tenant, "password_reset_requested").await;
    assert_eq!(requested.len(), 1);
    let event = &requested[0];
    assert_eq!(event.actor_account_id, None);
    assert_eq!(event.actor_name, None);
    assert_eq!(event.target_kind, "account");
    assert_eq!(event.target_id, Some(login.id));
    assert_eq!(event.target_name.as_deref(), Some("Anna Schmidt"));
    assert_eq!(event.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(details_of(event), serde_json::json!({}));

    let response = post_form(
        &app.client(),
        &link,
        &[
            ("password", NEW_EMPLOYEE_PASSWORD),
            ("password_repeat", NEW_EMPLOYEE_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=password_reset");

    let reset = events_with_action(&app, &tenant, "password_reset").await;
    assert_eq!(reset.len(), 1);
    let event = &reset[0];
    assert_eq!(event.actor_account_id, Some(login.id));
    assert_eq!(event.actor_name.as_deref(), Some("Anna Schmidt"));
    assert_eq!(event.target_kind, "account");
    assert_eq!(event.target_id, Some(login.id));
    assert_eq!(event.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        details_of(event),
        serde_json::json!({ "sessions_ended": 0 })
    );
    assert_no_secret(
        &events_of(&app, &tenant).await,
        &[
            &token,
            EMPLOYEE_EMAIL,
            unknown_address,
            EMPLOYEE_PASSWORD,
            NEW_EMPLOYEE_PASSWORD,
        ],
    );

    let (_, page) = get_text(&client, &app.tenant_url(&tenant.slug, LOG_PATH)).await;
    assert!(
        page.contains("Zurücksetzen des Passworts angefordert"),
        "{page}"
    );
    assert!(page.contains("Passwort zurückgesetzt"), "{page}");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Two-factor login

const TOTP_SETUP_PATH: &str = "/admin/konto/zwei-faktor";

/// Returns a code the server accepts now for the account: of the current 30-second step, or of
/// the next one when the current step was used already.
async fn fresh_totp_code(app: &TestApp, account_id: i64, secret: &str) -> String {
    let now = step_of(Utc::now().timestamp());
    let last = account_totp::Entity::find_by_id(account_id)
        .one(app.db())
        .await
        .unwrap()
        .and_then(|row| row.totp_last_step);
    let step = match last {
        Some(last) if last >= now => now + 1,
        _ => now,
    };
    code_at_step(&decode_secret(secret).unwrap(), step)
}

/// Returns the text of the element with `id`.
fn element_text(body: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}""#);
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no element {id} in {body}"));
    let content_start = start + body[start..].find('>').unwrap() + 1;
    let content_end = content_start + body[content_start..].find('<').unwrap();
    body[content_start..content_end].to_owned()
}

/// Returns the recovery codes listed on a page.
fn recovery_codes_in(body: &str) -> Vec<String> {
    let start = body
        .find(r#"id="recovery-codes""#)
        .unwrap_or_else(|| panic!("no recovery codes in {body}"));
    let end = start + body[start..].find("</ol>").unwrap();
    body[start..end]
        .split("<code>")
        .skip(1)
        .map(|part| part.split("</code>").next().unwrap().to_owned())
        .collect()
}

/// Sets up two-factor login on the planner's own page and returns the secret and the first
/// recovery codes.
async fn enroll_totp(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    account_id: i64,
) -> (String, Vec<String>) {
    let setup_url = app.tenant_url(&tenant.slug, TOTP_SETUP_PATH);
    let (status, page) = get_text(client, &setup_url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let secret = element_text(&page, "totp-secret").replace(' ', "");
    let code = fresh_totp_code(app, account_id, &secret).await;
    let response = post_form(client, &setup_url, &[("code", &code)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let codes = recovery_codes_in(&response.text().await.unwrap());
    (secret, codes)
}

async fn planner_account(app: &TestApp, tenant: &TestTenant, username: &str) -> account::Model {
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::UsernameKey.eq(username))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn planner_totp_changes_are_recorded() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-totp", "Apotheke TOTP").await;
    insert_planner(&app, &tenant, "planer", "planer").await;
    let planner = planner_account(&app, &tenant, "planer").await;
    let client = sign_in(&app, &tenant, "planer").await;

    let (secret, first_codes) = enroll_totp(&app, &tenant, &client, planner.id).await;
    let renew_code = fresh_totp_code(&app, planner.id, &secret).await;
    let renewed = post_form(
        &client,
        &app.tenant_url(
            &tenant.slug,
            "/admin/konto/zwei-faktor/wiederherstellungscodes",
        ),
        &[("renew_code", &renew_code)],
    )
    .await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let new_codes = recovery_codes_in(&renewed.text().await.unwrap());
    let disabled = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/admin/konto/zwei-faktor/deaktivieren"),
        &[("password", PASSWORD), ("disable_code", &new_codes[0])],
    )
    .await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);

    let events: Vec<audit_event::Model> = events_of(&app, &tenant)
        .await
        .into_iter()
        .filter(|event| event.action != "login_succeeded")
        .collect();
    let actions: Vec<&str> = events.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["totp_enabled", "recovery_codes_renewed", "totp_disabled"]
    );
    let details: Vec<serde_json::Value> = events.iter().map(details_of).collect();
    assert_eq!(
        details,
        vec![
            serde_json::json!({}),
            serde_json::json!({ "method": "totp" }),
            serde_json::json!({ "method": "recovery_code" }),
        ]
    );
    for event in &events {
        assert_eq!(event.actor_account_id, Some(planner.id), "{}", event.action);
        assert_eq!(event.target_kind, "account", "{}", event.action);
        assert_eq!(event.target_id, Some(planner.id), "{}", event.action);
        assert_eq!(
            event.source_ip.as_deref(),
            Some("127.0.0.1"),
            "{}",
            event.action
        );
    }
    let mut secrets = vec![secret.as_str(), renew_code.as_str(), PASSWORD];
    secrets.extend(first_codes.iter().map(String::as_str));
    secrets.extend(new_codes.iter().map(String::as_str));
    assert_no_secret(&events_of(&app, &tenant).await, &secrets);

    let admin = admin_client(&app, &tenant).await;
    let (_, page) = get_text(&admin, &app.tenant_url(&tenant.slug, LOG_PATH)).await;
    for name in [
        "Zwei-Faktor-Anmeldung eingerichtet",
        "Wiederherstellungscodes erneuert",
        "Zwei-Faktor-Anmeldung abgeschaltet",
    ] {
        assert!(page.contains(name), "{name} missing in {page}");
    }
    app.stop().await;
}

#[tokio::test]
async fn app_second_factor_outcomes_are_recorded() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke-app", "Apotheke App").await;
    insert_planner(&app, &tenant, "planer", "planer").await;
    let planner = planner_account(&app, &tenant, "planer").await;
    let client = sign_in(&app, &tenant, "planer").await;
    let (secret, recovery_codes) = enroll_totp(&app, &tenant, &client, planner.id).await;
    let app_login = |totp_code: String| {
        let body = serde_json::json!({
            "customer_number": tenant.customer_number,
            "username": "planer",
            "password": PASSWORD,
            "totp_code": totp_code,
        });
        let client = app.client();
        let url = app.apex_url("/api/app/v1/login");
        async move { client.post(url).json(&body).send().await.unwrap().status() }
    };

    let now = step_of(Utc::now().timestamp());
    let wrong_code = (0..)
        .map(|n: u32| format!("{n:06}"))
        .find(|candidate| {
            (now - 3..=now + 3)
                .all(|step| code_at_step(&decode_secret(&secret).unwrap(), step) != *candidate)
        })
        .unwrap();
    assert_eq!(
        app_login(wrong_code.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let code = fresh_totp_code(&app, planner.id, &secret).await;
    assert_eq!(app_login(code.clone()).await, StatusCode::OK);

    let failed = events_with_action(&app, &tenant, "login_failed").await;
    assert_eq!(failed.len(), 1);
    let event = &failed[0];
    assert_eq!(event.actor_account_id, None);
    assert_eq!(event.target_kind, "account");
    assert_eq!(event.target_id, Some(planner.id));
    assert_eq!(event.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        details_of(event),
        serde_json::json!({ "reason": "second_factor_invalid_code" })
    );
    let succeeded: Vec<serde_json::Value> = events_with_action(&app, &tenant, "login_succeeded")
        .await
        .iter()
        .map(details_of)
        .collect();
    assert_eq!(
        succeeded.last(),
        Some(&serde_json::json!({ "channel": "app", "method": "totp" }))
    );
    let mut secrets = vec![
        secret.as_str(),
        wrong_code.as_str(),
        code.as_str(),
        PASSWORD,
    ];
    secrets.extend(recovery_codes.iter().map(String::as_str));
    assert_no_secret(&events_of(&app, &tenant).await, &secrets);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// CSV import

/// Posts `bytes` as the file of the import's upload form and returns the preview page.
async fn import_preview(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    bytes: &[u8],
) -> String {
    let boundary = "----mep24web-audit-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"datei\"; filename=\"mitarbeiter.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = client
        .post(app.tenant_url(&tenant.slug, "/admin/stammdaten/import"))
        .header(
            reqwest::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "import preview failed");
    response.text().await.unwrap()
}

/// Returns the value of the hidden input `name` on a page, with the HTML escapes undone.
fn hidden_value(body: &str, name: &str) -> String {
    let marker = format!("type=\"hidden\" name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden field {name}"))
        + marker.len();
    let end = start + body[start..].find('"').unwrap();
    body[start..end]
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn import_commit_records_counts() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant("apotheke-import", "Apotheke Import")
        .await;
    let client = admin_client(&app, &tenant).await;
    let branch = insert_branch(&app, &tenant, "Filiale Nord").await;
    insert_employee(&app, &tenant, branch, "1002").await;
    let csv = "Pers.-Nr.;Name;Vorname;E-Mail-Adresse;Standort\n\
               1001;Hoffmann;Lena;lena.hoffmann@apotheke.example;Filiale Nord\n\
               1002;Becker;Anna;anna.schmidt@apotheke.example;Filiale Nord\n\
               1003;Krüger;Paul;;Filiale Süd\n";
    let page = import_preview(&app, &tenant, &client, csv.as_bytes()).await;
    let fields =
        ["datei", "dateiname", "pruefsumme", "plan"].map(|name| (name, hidden_value(&page, name)));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/admin/stammdaten/import/bestaetigen"),
        &pairs,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/stammdaten?importiert=2&aktualisiert=1"
    );

    let committed = events_with_action(&app, &tenant, "import_committed").await;
    assert_eq!(committed.len(), 1);
    let event = &committed[0];
    let admin = admin_account(&app, &tenant).await;
    assert_eq!(event.actor_account_id, Some(admin.id));
    assert_eq!(event.target_kind, "import");
    assert_eq!(event.target_id, None);
    assert_eq!(event.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        details_of(event),
        serde_json::json!({
            "created": 2,
            "updated": 1,
            "new_units": 1,
            "file_sha256": hidden_value(&page, "pruefsumme"),
        })
    );
    assert_no_secret(
        &events_of(&app, &tenant).await,
        &[
            PASSWORD,
            "lena.hoffmann@apotheke.example",
            EMPLOYEE_EMAIL,
            "mitarbeiter.csv",
        ],
    );
    app.stop().await;
}

#[tokio::test]
async fn org_unit_changes_are_recorded() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("ebenen", "Apotheke Ebenen").await;
    let admin = admin_client(&app, &tenant).await;
    let root = root_unit(&app, &tenant).await.to_string();
    let url = |path: &str| app.tenant_url(&tenant.slug, path);
    let response = post_form(
        &admin,
        &url("/admin/stammdaten/ebene/neu"),
        &[("parent_id", root.as_str()), ("name", "Filiale Nord")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let created = events_with_action(&app, &tenant, "unit_created").await;
    assert_eq!(created.len(), 1);
    let branch = created[0].target_id.unwrap();
    assert_eq!(created[0].target_name.as_deref(), Some("Filiale Nord"));
    assert_eq!(
        details_of(&created[0]),
        serde_json::json!({ "kind": "branch", "parent": "Apotheke Ebenen" })
    );
    assert_eq!(created[0].source_ip.as_deref(), Some("127.0.0.1"));

    let path = format!("/admin/stammdaten/ebene/{branch}");
    for name in ["Filiale Nord-West", "Filiale Nord-West"] {
        let response = post_form(&admin, &url(&path), &[("name", name)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    // Saving the same name again changes nothing and records nothing.
    let renamed = events_with_action(&app, &tenant, "unit_renamed").await;
    assert_eq!(renamed.len(), 1);
    assert_eq!(
        details_of(&renamed[0]),
        serde_json::json!({ "from": "Filiale Nord", "to": "Filiale Nord-West" })
    );
    assert_eq!(
        renamed[0].actor_account_id,
        Some(admin_account(&app, &tenant).await.id)
    );
}
