//! End-to-end tests of the audit log: events recorded by real HTTP flows, the log page with its
//! filters and pages, isolation between tenants, access rights and the retention cleanup.

use chrono::{Duration, Utc};
use mep24web_entities::{account, audit_event, tenant_settings};
use mep24web_platform::audit;
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

/// Asserts that no stored text of the tenant's events contains any of `secrets`.
fn assert_no_secret(events: &[audit_event::Model], secrets: &[&str]) {
    for event in events {
        let texts = [
            event.details.as_str(),
            event.actor_name.as_deref().unwrap_or(""),
            event.target_name.as_deref().unwrap_or(""),
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
