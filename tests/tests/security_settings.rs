//! End-to-end tests of Konfiguration → Sicherheit → Benutzer and Konfiguration → Einstellungen:
//! planner users, the last-administrator rule, session revocation, the settings tabs and their
//! effect on the lockout, and isolation between tenants.

use chrono::{Duration, Utc};
use mep24web_entities::{account, employee, org_unit, tenant_settings};
use mep24web_platform::TenantId;
use mep24web_tests::{TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use secrecy::SecretString;

const PASSWORD: &str = "Sicheres-Passwort-2026";
const NEW_PASSWORD: &str = "Neues-Kennwort-Herbst-7";

// ---------------------------------------------------------------------------------------------
// Helpers

/// Sets the password of a login of the tenant directly in the database.
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
    assert_eq!(
        result.rows_affected, 1,
        "no login {username} in {}",
        tenant.slug
    );
}

/// Inserts a planner user with [`PASSWORD`].
async fn insert_planner(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    role: &str,
) -> account::Model {
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
    .insert(app.db())
    .await
    .unwrap()
}

/// Inserts an employee record under the organization root with a portal login and
/// [`PASSWORD`].
async fn insert_employee_login(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
) -> account::Model {
    let root = org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let now = Utc::now();
    let person = employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set("4711".to_owned()),
        first_name: Set("Erika".to_owned()),
        last_name: Set("Muster".to_owned()),
        email: Set(None),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(root.id),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .unwrap();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("employee".to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(hash)),
        display_name: Set("Erika Muster".to_owned()),
        role: Set(None),
        email: Set(None),
        employee_id: Set(Some(person.id)),
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
    .insert(app.db())
    .await
    .unwrap()
}

/// Loads a login of the tenant by username.
async fn account_named(app: &TestApp, tenant_id: TenantId, username: &str) -> account::Model {
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant_id.get()))
        .filter(account::Column::UsernameKey.eq(username.to_lowercase()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no login {username}"))
}

async fn session_count(app: &TestApp, account_id: i64) -> usize {
    app.session_count(account_id).await
}

async fn active_administrators(app: &TestApp, tenant_id: TenantId) -> u64 {
    account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant_id.get()))
        .filter(account::Column::Kind.eq("planner"))
        .filter(account::Column::Role.eq("administrator"))
        .filter(account::Column::Active.eq(true))
        .count(app.db())
        .await
        .unwrap()
}

async fn settings_of(app: &TestApp, tenant_id: TenantId) -> tenant_settings::Model {
    tenant_settings::Entity::find_by_id(tenant_id.get())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Logs in through the login form at the tenant's access link and returns the client that
/// stores the session cookie.
async fn sign_in(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    password: &str,
) -> reqwest::Client {
    let client = app.client();
    let response = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/login"),
        &[("username", username), ("password", password)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login of {username} failed"
    );
    client
}

/// Gives the provisioned administrator [`PASSWORD`] and signs them in.
async fn admin_client(app: &TestApp, tenant: &TestTenant) -> reqwest::Client {
    set_password(app, tenant, &tenant.admin_username, PASSWORD).await;
    sign_in(app, tenant, &tenant.admin_username, PASSWORD).await
}

/// Returns the fields of the edit form for an account, unchanged.
fn edit_fields(account: &account::Model) -> Vec<(&'static str, String)> {
    vec![
        ("display_name", account.display_name.clone()),
        ("email", account.email.clone().unwrap_or_default()),
        ("role", account.role.clone().unwrap_or_default()),
        (
            "active",
            if account.active { "ja" } else { "nein" }.to_owned(),
        ),
        ("password", String::new()),
        ("password_repeat", String::new()),
    ]
}

fn with(
    fields: &[(&'static str, String)],
    changes: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    fields
        .iter()
        .map(|(name, value)| {
            let changed = changes.iter().find(|(field, _)| field == name);
            (
                *name,
                changed.map_or_else(|| value.clone(), |(_, v)| (*v).to_owned()),
            )
        })
        .chain(
            changes
                .iter()
                .filter(|(field, _)| !fields.iter().any(|(name, _)| name == field))
                .map(|(field, value)| (*field, (*value).to_owned())),
        )
        .collect()
}

async fn post_fields(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&'static str, String)],
) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_form(client, url, &pairs).await
}

// ---------------------------------------------------------------------------------------------
// User list and creation

#[tokio::test]
async fn user_list_shows_planners_only() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    insert_planner(&app, &tenant, "p.meier", "planer").await;
    insert_employee_login(&app, &tenant, "erika.muster").await;

    let (status, body) = get_text(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer"),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(">admin</a>"), "{body}");
    assert!(body.contains(">p.meier</a>"), "{body}");
    assert!(body.contains("Planer p.meier"));
    assert!(
        !body.contains("erika.muster"),
        "employee login listed: {body}"
    );
}

#[tokio::test]
async fn create_user_valid_form_stores_planner() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;

    let response = post_form(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer/neu"),
        &[
            ("username", "Paula.Meier"),
            ("display_name", " Paula Meier "),
            ("email", "paula.meier@example.de"),
            ("role", "planer"),
            ("password", NEW_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
            ("must_change_password", "ja"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/sicherheit/benutzer?notice=created"
    );
    let stored = account_named(&app, tenant.id, "paula.meier").await;
    assert_eq!(stored.kind, "planner");
    assert_eq!(stored.username, "Paula.Meier");
    assert_eq!(stored.display_name, "Paula Meier");
    assert_eq!(stored.email.as_deref(), Some("paula.meier@example.de"));
    assert_eq!(stored.role.as_deref(), Some("planer"));
    assert!(stored.active);
    assert!(stored.must_change_password);
    assert!(
        stored
            .password_hash
            .as_deref()
            .is_some_and(|h| h.starts_with("$argon2id$"))
    );

    let (_, list) = get_text(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer?notice=created"),
    )
    .await;
    assert!(list.contains("Der Benutzer wurde angelegt."));

    // The new user signs in and is sent to the password change first.
    let client = app.client();
    let login = post_form(
        &client,
        &app.tenant_url("acme", "/login"),
        &[("username", "paula.meier"), ("password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/password/change");
}

#[tokio::test]
async fn create_user_unchecked_box_needs_no_password_change() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;

    let response = post_form(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer/neu"),
        &[
            ("username", "chefin"),
            ("display_name", "Chefin"),
            ("role", "administrator"),
            ("password", NEW_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let stored = account_named(&app, tenant.id, "chefin").await;
    assert_eq!(stored.role.as_deref(), Some("administrator"));
    assert_eq!(stored.email, None);
    assert!(!stored.must_change_password);
}

#[tokio::test]
async fn create_user_taken_username_shows_error() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    insert_employee_login(&app, &tenant, "erika.muster").await;

    let response = post_form(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer/neu"),
        &[
            ("username", "Erika.Muster"),
            ("display_name", "Erika als Planerin"),
            ("role", "planer"),
            ("password", NEW_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Dieser Benutzername ist bereits vergeben."),
        "{body}"
    );
    assert!(body.contains("value=\"Erika.Muster\""));
    assert!(body.contains("value=\"Erika als Planerin\""));
    assert!(!body.contains(NEW_PASSWORD), "password echoed");
    let planners = account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::Kind.eq("planner"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(planners, 1);
}

#[tokio::test]
async fn create_user_invalid_form_keeps_input() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;

    let response = post_form(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer/neu"),
        &[
            ("username", "p.meier"),
            ("display_name", ""),
            ("email", "paula.meier(at)example.de"),
            ("role", "administrator"),
            ("password", NEW_PASSWORD),
            ("password_repeat", "Anderes-Passwort-2026"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains("Bitte geben Sie einen Anzeigenamen ein."));
    assert!(body.contains("Diese E-Mail-Adresse ist ungültig."));
    assert!(body.contains("Die beiden Passwörter stimmen nicht überein."));
    assert!(body.contains("value=\"p.meier\""));
    assert!(body.contains("value=\"paula.meier(at)example.de\""));
    assert!(body.contains("<option value=\"administrator\" selected>"));
    assert!(!body.contains(NEW_PASSWORD), "password echoed");
    let count = account::Entity::find()
        .filter(account::Column::UsernameKey.eq("p.meier"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn create_user_malformed_form_is_bad_request() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;

    let response = admin
        .post(app.tenant_url("acme", "/admin/sicherheit/benutzer/neu"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=a&username=b")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(body.contains("Das Formular ist unvollständig."), "{body}");
}

// ---------------------------------------------------------------------------------------------
// Editing

#[tokio::test]
async fn edit_user_saves_changes() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    let url = app.tenant_url(
        "acme",
        &format!("/admin/sicherheit/benutzer/{}", planner.id),
    );

    let (status, page) = get_text(&admin, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Benutzer p.meier bearbeiten"));
    assert!(page.contains("value=\"Planer p.meier\""));

    let fields = with(
        &edit_fields(&planner),
        &[
            ("display_name", "Paula Meier"),
            ("email", "paula@example.de"),
            ("role", "administrator"),
        ],
    );
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/sicherheit/benutzer?notice=saved"
    );
    let stored = account_named(&app, tenant.id, "p.meier").await;
    assert_eq!(stored.display_name, "Paula Meier");
    assert_eq!(stored.email.as_deref(), Some("paula@example.de"));
    assert_eq!(stored.role.as_deref(), Some("administrator"));
    assert_eq!(stored.password_hash, planner.password_hash);
    let (_, list) = get_text(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer?notice=saved"),
    )
    .await;
    assert!(list.contains("Gespeichert."));
}

#[tokio::test]
async fn deactivate_user_ends_running_session() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    let planner_client = sign_in(&app, &tenant, "p.meier", PASSWORD).await;
    let app_login = app
        .client()
        .post(app.apex_url("/api/app/v1/login"))
        .json(&serde_json::json!({
            "customer_number": tenant.customer_number,
            "username": "p.meier",
            "password": PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(app_login.status(), StatusCode::OK);
    let app_token = app_login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin_page = app.tenant_url("acme", "/admin/sicherheit/benutzer");
    let (before, _) = get_text(&planner_client, &admin_page).await;
    assert_eq!(
        before,
        StatusCode::FORBIDDEN,
        "a Planer may not open Sicherheit"
    );
    assert_eq!(session_count(&app, planner.id).await, 2);

    let url = app.tenant_url(
        "acme",
        &format!("/admin/sicherheit/benutzer/{}", planner.id),
    );
    let fields = with(&edit_fields(&planner), &[("active", "nein")]);
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!account_named(&app, tenant.id, "p.meier").await.active);
    assert_eq!(session_count(&app, planner.id).await, 0);
    let after = planner_client.get(&admin_page).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&after), "/login");
    let me = app
        .client()
        .get(app.apex_url("/api/app/v1/me"))
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let again = post_form(
        &app.client(),
        &app.tenant_url("acme", "/login"),
        &[("username", "p.meier"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn new_password_clears_lockout_and_ends_sessions() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    let planner_client = sign_in(&app, &tenant, "p.meier", PASSWORD).await;
    account::Entity::update_many()
        .col_expr(account::Column::FailedAttempts, Expr::value(3))
        .col_expr(
            account::Column::LockedUntil,
            Expr::value(Some(Utc::now() + Duration::minutes(30))),
        )
        .filter(account::Column::Id.eq(planner.id))
        .exec(app.db())
        .await
        .unwrap();
    let url = app.tenant_url(
        "acme",
        &format!("/admin/sicherheit/benutzer/{}", planner.id),
    );
    let (_, page) = get_text(&admin, &url).await;
    assert!(page.contains("Gesperrt bis"), "lock not shown: {page}");

    let fields = with(
        &edit_fields(&planner),
        &[
            ("password", NEW_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
        ],
    );
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let stored = account_named(&app, tenant.id, "p.meier").await;
    assert_eq!(stored.failed_attempts, 0);
    assert_eq!(stored.locked_until, None);
    assert!(!stored.must_change_password, "box was not ticked");
    assert_eq!(session_count(&app, planner.id).await, 0);
    let after = planner_client
        .get(app.tenant_url("acme", "/admin/sicherheit/benutzer"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&after), "/login");
    sign_in(&app, &tenant, "p.meier", NEW_PASSWORD).await;
}

#[tokio::test]
async fn new_password_for_self_keeps_own_session() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let other_browser = sign_in(&app, &tenant, "admin", PASSWORD).await;
    let me = account_named(&app, tenant.id, "admin").await;
    let url = app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", me.id));

    let fields = with(
        &edit_fields(&me),
        &[
            ("password", NEW_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
        ],
    );
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(session_count(&app, me.id).await, 1);
    let (status, _) = get_text(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let other = other_browser
        .get(app.tenant_url("acme", "/admin/sicherheit/benutzer"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&other), "/login");
}

#[tokio::test]
async fn edit_invalid_password_keeps_input_and_data() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    let url = app.tenant_url(
        "acme",
        &format!("/admin/sicherheit/benutzer/{}", planner.id),
    );

    let fields = with(
        &edit_fields(&planner),
        &[
            ("display_name", "Neuer Name"),
            ("password", "kurz"),
            ("password_repeat", "kurz"),
        ],
    );
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(body.contains("Das Passwort muss mindestens 10 Zeichen lang sein."));
    assert!(body.contains("value=\"Neuer Name\""));
    assert_eq!(account_named(&app, tenant.id, "p.meier").await, planner);
}

// ---------------------------------------------------------------------------------------------
// Last administrator

#[tokio::test]
async fn demote_last_administrator_is_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let me = account_named(&app, tenant.id, "admin").await;
    let url = app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", me.id));

    let fields = with(
        &edit_fields(&me),
        &[("role", "planer"), ("display_name", "Chef")],
    );
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Dies ist der letzte aktive Administrator."),
        "{body}"
    );
    assert!(body.contains("value=\"Chef\""));
    assert_eq!(account_named(&app, tenant.id, "admin").await, me);
}

#[tokio::test]
async fn demote_inactive_other_leaves_last_administrator() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let second = insert_planner(&app, &tenant, "zweite", "administrator").await;
    let url = app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", second.id));

    // Deactivating the second administrator is fine: "admin" stays.
    let fields = with(&edit_fields(&second), &[("active", "nein")]);
    let response = post_fields(&admin, &url, &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Now "admin" is the last active administrator and cannot step down.
    let me = account_named(&app, tenant.id, "admin").await;
    let own = app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", me.id));
    let fields = with(&edit_fields(&me), &[("role", "planer")]);
    let response = post_fields(&admin, &own, &fields).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(active_administrators(&app, tenant.id).await, 1);
}

#[tokio::test]
async fn demote_self_with_second_administrator_leaves_area() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    insert_planner(&app, &tenant, "zweite", "administrator").await;
    let me = account_named(&app, tenant.id, "admin").await;
    let url = app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", me.id));

    let fields = with(&edit_fields(&me), &[("role", "planer")]);
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin");
    assert_eq!(
        account_named(&app, tenant.id, "admin")
            .await
            .role
            .as_deref(),
        Some("planer")
    );
    let (status, _) = get_text(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn deactivate_self_is_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    insert_planner(&app, &tenant, "zweite", "administrator").await;
    let me = account_named(&app, tenant.id, "admin").await;
    let url = app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", me.id));

    let fields = with(&edit_fields(&me), &[("active", "nein")]);
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Sie können sich nicht selbst deaktivieren."),
        "{body}"
    );
    assert!(account_named(&app, tenant.id, "admin").await.active);
    assert_eq!(session_count(&app, me.id).await, 1);
}

#[tokio::test]
async fn concurrent_demotions_keep_one_administrator() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let first_client = admin_client(&app, &tenant).await;
    let second = insert_planner(&app, &tenant, "zweite", "administrator").await;
    let second_client = sign_in(&app, &tenant, "zweite", PASSWORD).await;
    let first = account_named(&app, tenant.id, "admin").await;

    for round in 0..8 {
        // Each administrator demotes the other at the same time; at most one may succeed.
        let demote_second = with(&edit_fields(&second), &[("role", "planer")]);
        let demote_first = with(&edit_fields(&first), &[("role", "planer")]);
        let second_url =
            app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", second.id));
        let first_url = app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", first.id));
        let (a, b) = tokio::join!(
            post_fields(&first_client, &second_url, &demote_second),
            post_fields(&second_client, &first_url, &demote_first),
        );
        let statuses = [a.status(), b.status()];

        assert_eq!(
            active_administrators(&app, tenant.id).await,
            1,
            "round {round}: {statuses:?}"
        );
        let succeeded = statuses
            .iter()
            .filter(|s| **s == StatusCode::SEE_OTHER)
            .count();
        assert_eq!(succeeded, 1, "round {round}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| [
                StatusCode::SEE_OTHER,
                StatusCode::CONFLICT,
                StatusCode::FORBIDDEN
            ]
            .contains(s)),
            "round {round}: {statuses:?}"
        );

        account::Entity::update_many()
            .col_expr(account::Column::Role, Expr::value(Some("administrator")))
            .filter(account::Column::TenantId.eq(tenant.id.get()))
            .filter(account::Column::Kind.eq("planner"))
            .exec(app.db())
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Not found, forbidden and other tenants

#[tokio::test]
async fn employee_account_id_is_not_found() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let login = insert_employee_login(&app, &tenant, "erika.muster").await;
    let url = app.tenant_url("acme", &format!("/admin/sicherheit/benutzer/{}", login.id));

    let (status, _) = get_text(&admin, &url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let fields = vec![
        ("display_name", "Übernommen".to_owned()),
        ("email", String::new()),
        ("role", "administrator".to_owned()),
        ("active", "nein".to_owned()),
    ];
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(account_named(&app, tenant.id, "erika.muster").await, login);
}

#[tokio::test]
async fn malformed_or_unknown_id_is_not_found() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;

    for path in [
        "/admin/sicherheit/benutzer/abc",
        "/admin/sicherheit/benutzer/999999",
        "/admin/sicherheit/benutzer/-1",
    ] {
        let (status, _) = get_text(&admin, &app.tenant_url("acme", path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn planner_without_administrator_role_is_forbidden() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    insert_planner(&app, &tenant, "p.meier", "planer").await;
    let planner = sign_in(&app, &tenant, "p.meier", PASSWORD).await;

    for path in [
        "/admin/sicherheit/benutzer",
        "/admin/sicherheit/benutzer/neu",
        "/admin/einstellungen/anmeldung",
        "/admin/einstellungen/mitarbeiterportal",
    ] {
        let (status, _) = get_text(&planner, &app.tenant_url("acme", path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let response = post_form(
        &planner,
        &app.tenant_url("acme", "/admin/einstellungen/anmeldung"),
        &[("max_failed_logins", "20"), ("lockout_minutes", "1")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(settings_of(&app, tenant.id).await.max_failed_logins, 5);
}

#[tokio::test]
async fn other_tenant_user_id_is_not_found() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("beta", "Beta Markt").await;
    let admin = admin_client(&app, &acme).await;
    let foreign = account_named(&app, other.id, "admin").await;
    let url = app.tenant_url(
        "acme",
        &format!("/admin/sicherheit/benutzer/{}", foreign.id),
    );

    let (status, _) = get_text(&admin, &url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let fields = with(
        &edit_fields(&foreign),
        &[
            ("display_name", "Übernommen"),
            ("role", "planer"),
            ("password", NEW_PASSWORD),
            ("password_repeat", NEW_PASSWORD),
        ],
    );
    let response = post_fields(&admin, &url, &fields).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(account_named(&app, other.id, "admin").await, foreign);
}

#[tokio::test]
async fn other_tenant_cookie_is_sent_to_login() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let beta = app.create_tenant("beta", "Beta Markt").await;
    let beta_admin = admin_client(&app, &beta).await;
    let cookie = {
        // Copy Beta's session cookie onto a request to Acme's host.
        let response = post_form(
            &mep24web_tests::client(),
            &app.tenant_url("beta", "/login"),
            &[("username", "admin"), ("password", PASSWORD)],
        )
        .await;
        let set_cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("mep24web_session="))
            .unwrap()
            .to_owned();
        set_cookie.split(';').next().unwrap().to_owned()
    };
    let acme_admin = account_named(&app, acme.id, "admin").await;
    let acme_settings = settings_of(&app, acme.id).await;
    let foreign_client = app.client();

    for path in [
        "/admin/sicherheit/benutzer",
        "/admin/sicherheit/benutzer/neu",
        &format!("/admin/sicherheit/benutzer/{}", acme_admin.id),
        "/admin/einstellungen/anmeldung",
        "/admin/einstellungen/mitarbeiterportal",
    ] {
        let response = foreign_client
            .get(app.tenant_url("acme", path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }
    let posts: [(String, Vec<(&str, &str)>); 4] = [
        (
            format!("/admin/sicherheit/benutzer/{}", acme_admin.id),
            vec![
                ("display_name", "X"),
                ("role", "planer"),
                ("active", "nein"),
            ],
        ),
        (
            "/admin/sicherheit/benutzer/neu".to_owned(),
            vec![
                ("username", "eindringling"),
                ("display_name", "X"),
                ("role", "administrator"),
                ("password", NEW_PASSWORD),
                ("password_repeat", NEW_PASSWORD),
            ],
        ),
        (
            "/admin/einstellungen/anmeldung".to_owned(),
            vec![("max_failed_logins", "20"), ("lockout_minutes", "1")],
        ),
        (
            "/admin/einstellungen/mitarbeiterportal".to_owned(),
            vec![
                ("security_code", "GEHEIM-99"),
                ("contact_email", ""),
                ("invitation_valid_days", "1"),
            ],
        ),
    ];
    for (path, fields) in posts {
        let response = foreign_client
            .post(app.tenant_url("acme", &path))
            .header("cookie", &cookie)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }

    assert_eq!(account_named(&app, acme.id, "admin").await, acme_admin);
    assert_eq!(settings_of(&app, acme.id).await, acme_settings);
    let intruders = account::Entity::find()
        .filter(account::Column::UsernameKey.eq("eindringling"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(intruders, 0);
    // Beta's own session still works on Beta's host.
    let (status, _) = get_text(
        &beta_admin,
        &app.tenant_url("beta", "/admin/sicherheit/benutzer"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Settings

#[tokio::test]
async fn settings_root_opens_login_tab() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;

    let response = admin
        .get(app.tenant_url("acme", "/admin/einstellungen"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/einstellungen/anmeldung");
}

#[tokio::test]
async fn login_settings_save_shows_notice() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let url = app.tenant_url("acme", "/admin/einstellungen/anmeldung");
    let (status, page) = get_text(&admin, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("name=\"max_failed_logins\" type=\"number\" value=\"5\""),
        "{page}"
    );
    assert!(page.contains("name=\"lockout_minutes\" type=\"number\" value=\"15\""));

    let response = post_form(
        &admin,
        &url,
        &[
            ("max_failed_logins", " 3 "),
            ("lockout_minutes", "120"),
            ("audit_retention_days", "365"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/einstellungen/anmeldung?notice=saved"
    );
    let stored = settings_of(&app, tenant.id).await;
    assert_eq!(stored.max_failed_logins, 3);
    assert_eq!(stored.lockout_minutes, 120);
    let (_, page) = get_text(&admin, &format!("{url}?notice=saved")).await;
    assert!(page.contains("Gespeichert."));
    assert!(page.contains("value=\"3\""));
    assert!(page.contains("value=\"120\""));
}

#[tokio::test]
async fn login_settings_out_of_range_are_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let url = app.tenant_url("acme", "/admin/einstellungen/anmeldung");
    let before = settings_of(&app, tenant.id).await;

    for (failed, minutes) in [("0", "1441"), ("21", "0"), ("drei", "1,5"), ("", "")] {
        let response = post_form(
            &admin,
            &url,
            &[("max_failed_logins", failed), ("lockout_minutes", minutes)],
        )
        .await;

        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{failed}/{minutes}"
        );
        let body = response.text().await.unwrap();
        assert!(
            body.contains("Bitte geben Sie eine ganze Zahl von 1 bis 20 ein."),
            "{failed}"
        );
        assert!(
            body.contains("Bitte geben Sie eine ganze Zahl von 1 bis 1440 ein."),
            "{minutes}"
        );
        assert!(body.contains(&format!("value=\"{failed}\"")));
        assert!(body.contains(&format!("value=\"{minutes}\"")));
    }
    assert_eq!(settings_of(&app, tenant.id).await, before);
}

#[tokio::test]
async fn lockout_follows_configured_attempts() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    insert_planner(&app, &tenant, "p.meier", "planer").await;
    let response = post_form(
        &admin,
        &app.tenant_url("acme", "/admin/einstellungen/anmeldung"),
        &[
            ("max_failed_logins", "2"),
            ("lockout_minutes", "7"),
            ("audit_retention_days", "365"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login_url = app.tenant_url("acme", "/login");

    let first = post_form(
        &app.client(),
        &login_url,
        &[("username", "p.meier"), ("password", "falsch-falsch-1")],
    )
    .await;
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        account_named(&app, tenant.id, "p.meier").await.locked_until,
        None
    );
    let second = post_form(
        &app.client(),
        &login_url,
        &[("username", "p.meier"), ("password", "falsch-falsch-2")],
    )
    .await;
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);

    let locked = account_named(&app, tenant.id, "p.meier").await;
    let until = locked.locked_until.unwrap();
    let expected = Utc::now() + Duration::minutes(7);
    assert!(
        (until - expected).num_seconds().abs() < 60,
        "locked until {until}"
    );
    let correct = post_form(
        &app.client(),
        &login_url,
        &[("username", "p.meier"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        correct.status(),
        StatusCode::UNAUTHORIZED,
        "locked account signed in"
    );
    let (_, list) = get_text(
        &admin,
        &app.tenant_url("acme", "/admin/sicherheit/benutzer"),
    )
    .await;
    assert!(
        list.contains("class=\"status warn\""),
        "lock not listed: {list}"
    );
}

#[tokio::test]
async fn portal_settings_save_shows_code() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let url = app.tenant_url("acme", "/admin/einstellungen/mitarbeiterportal");
    let (status, page) = get_text(&admin, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("name=\"invitation_valid_days\" type=\"number\" value=\"14\""),
        "{page}"
    );

    let response = post_form(
        &admin,
        &url,
        &[
            ("security_code", "  Apotheke-2026 "),
            ("contact_email", "planung@acme.example"),
            ("invitation_valid_days", "30"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/einstellungen/mitarbeiterportal?notice=saved"
    );
    let stored = settings_of(&app, tenant.id).await;
    assert_eq!(stored.security_code.as_deref(), Some("Apotheke-2026"));
    assert_eq!(
        stored.contact_email.as_deref(),
        Some("planung@acme.example")
    );
    assert_eq!(stored.invitation_valid_days, 30);
    let (_, page) = get_text(&admin, &format!("{url}?notice=saved")).await;
    assert!(page.contains("Gespeichert."));
    assert!(page.contains("value=\"Apotheke-2026\""));

    // An empty contact address removes it.
    let response = post_form(
        &admin,
        &url,
        &[
            ("security_code", "Apotheke-2026"),
            ("contact_email", ""),
            ("invitation_valid_days", "30"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(settings_of(&app, tenant.id).await.contact_email, None);
}

#[tokio::test]
async fn portal_settings_invalid_values_are_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let admin = admin_client(&app, &tenant).await;
    let url = app.tenant_url("acme", "/admin/einstellungen/mitarbeiterportal");
    let before = settings_of(&app, tenant.id).await;
    let long_code = "x".repeat(65);

    for (code, email, days) in [
        ("abc", "planung(at)acme.example", "0"),
        (long_code.as_str(), "planung@", "91"),
        ("", "a@b", "vierzehn"),
    ] {
        let response = post_form(
            &admin,
            &url,
            &[
                ("security_code", code),
                ("contact_email", email),
                ("invitation_valid_days", days),
            ],
        )
        .await;

        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{code}"
        );
        let body = response.text().await.unwrap();
        assert!(
            body.contains("Der Sicherheitscode muss 4 bis 64 Zeichen lang sein"),
            "{code}"
        );
        assert!(
            body.contains("Diese E-Mail-Adresse ist ungültig."),
            "{email}"
        );
        assert!(
            body.contains("Bitte geben Sie eine ganze Zahl von 1 bis 90 ein."),
            "{days}"
        );
        assert!(body.contains(&format!("value=\"{days}\"")));
    }
    assert_eq!(settings_of(&app, tenant.id).await, before);
}
