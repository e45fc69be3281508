//! End-to-end tests of the self-service password reset. They cover the tenant setting, the request
//! form that returns the same response for every input, and the mail through the outbox and the
//! harness SMTP listener. They also cover the single-use link and what a reset ends and clears.
//!
//! The request is handled in a background task after the response. Tests that expect no mail
//! therefore send a request that does produce a mail afterwards and wait for that one, so the
//! earlier request has been handled by then.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate, Utc};
use mep24web_entities::{account, employee, org_unit, outbox, password_token, tenant_settings};
use mep24web_platform::tokens;
use mep24web_tests::{ReceivedMail, TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "Kasse-Fruehling-2026";
const NEW_PASSWORD: &str = "Neue-Schicht-Linde-7";
const MAIL_TIMEOUT: StdDuration = StdDuration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Fixtures

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

async fn password_hash(app: &TestApp) -> String {
    app.state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .unwrap()
}

/// Creates an employee record with `email` and a portal login `username` with [`PASSWORD`].
async fn insert_employee_login(
    app: &TestApp,
    tenant: &TestTenant,
    number: &str,
    username: &str,
    email: Option<&str>,
) -> account::Model {
    let now = Utc::now();
    let person = employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(number.to_owned()),
        first_name: Set("Anna".to_owned()),
        last_name: Set("Schmidt".to_owned()),
        email: Set(email.map(str::to_owned)),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(root_unit(app, tenant).await),
        language: Set("de".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("employee".to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(password_hash(app).await)),
        display_name: Set("Anna Schmidt".to_owned()),
        role: Set(None),
        // The account's own copy differs on purpose: mail goes to the employee record's address.
        email: Set(Some("veraltet@example.com".to_owned())),
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

/// Creates a planner user `username` with [`PASSWORD`] and `email`.
async fn insert_planner(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    email: Option<&str>,
) -> account::Model {
    let now = Utc::now();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("planner".to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(password_hash(app).await)),
        display_name: Set("Paula Meier".to_owned()),
        role: Set(Some("planer".to_owned())),
        email: Set(email.map(str::to_owned)),
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

async fn update_account(
    app: &TestApp,
    account_id: i64,
    column: account::Column,
    value: SimpleExpr,
) {
    account::Entity::update_many()
        .col_expr(column, value)
        .filter(account::Column::Id.eq(account_id))
        .exec(app.db())
        .await
        .unwrap();
}

async fn reload(app: &TestApp, account_id: i64) -> account::Model {
    account::Entity::find_by_id(account_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn allow_reset(app: &TestApp, tenant: &TestTenant, allowed: bool) {
    tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::SelfServiceReset,
            Expr::value(allowed),
        )
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
}

/// Posts the request form and checks the response every request gets.
async fn request_reset(app: &TestApp, tenant: &TestTenant, identifier: &str) {
    let response = post_form(
        &app.client(),
        &app.tenant_url(&tenant.slug, "/password/forgot"),
        &[("identifier", identifier)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{identifier}");
    assert_eq!(location(&response), "/password/forgot?sent=1");
}

/// Requests a reset for `identifier` and returns the mail to `recipient` with its link.
async fn reset_mail(
    app: &TestApp,
    tenant: &TestTenant,
    identifier: &str,
    recipient: &str,
) -> (ReceivedMail, String) {
    request_reset(app, tenant, identifier).await;
    let mail = app.wait_for_mail(recipient, MAIL_TIMEOUT).await;
    let link = mail.link_starting_with(&format!("{}/reset/", tenant.access_link));
    (mail, link)
}

async fn reset_tokens(app: &TestApp, account_id: i64) -> Vec<password_token::Model> {
    password_token::Entity::find()
        .filter(password_token::Column::AccountId.eq(account_id))
        .filter(password_token::Column::Purpose.eq("reset"))
        .all(app.db())
        .await
        .unwrap()
}

async fn outbox_count(app: &TestApp, recipient: &str) -> u64 {
    outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(recipient))
        .count(app.db())
        .await
        .unwrap()
}

async fn post_login(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    password: &str,
) -> reqwest::Response {
    post_form(
        &app.client(),
        &app.tenant_url(&tenant.slug, "/login"),
        &[("username", username), ("password", password)],
    )
    .await
}

async fn set_new_password(
    client: &reqwest::Client,
    link: &str,
    password: &str,
) -> reqwest::Response {
    post_form(
        client,
        link,
        &[("password", password), ("password_repeat", password)],
    )
    .await
}

fn berlin_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
}

// ---------------------------------------------------------------------------------------------
// The setting and the request form

#[tokio::test]
async fn reset_off_by_default_sends_nothing() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    insert_employee_login(&app, &other, "2001", "bert.bauer", Some("bert@example.com")).await;
    allow_reset(&app, &other, true).await;

    let settings = tenant_settings::Entity::find_by_id(acme.id.get())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(!settings.self_service_reset);
    let (status, login_page) = get_text(&app.client(), &app.tenant_url("acme", "/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!login_page.contains("/password/forgot"), "{login_page}");

    request_reset(&app, &acme, "anna.schmidt").await;
    request_reset(&app, &acme, "anna@example.com").await;
    reset_mail(&app, &other, "bert.bauer", "bert@example.com").await;

    assert!(reset_tokens(&app, anna.id).await.is_empty());
    assert_eq!(outbox_count(&app, "anna@example.com").await, 0);
    assert_eq!(app.mails().len(), 1);
}

#[tokio::test]
async fn login_page_links_forgot_form_when_allowed() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    allow_reset(&app, &acme, true).await;

    let (status, login_page) = get_text(&app.client(), &app.tenant_url("acme", "/login")).await;

    assert_eq!(status, StatusCode::OK);
    assert!(
        login_page.contains(
            "<a href=\"/password/forgot\" id=\"forgot-password\">Passwort vergessen?</a>"
        ),
        "{login_page}"
    );
}

#[tokio::test]
async fn forgot_answers_alike_for_unknown_and_known() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;
    let url = app.tenant_url("acme", "/password/forgot");

    let unknown = post_form(&app.client(), &url, &[("identifier", "niemand")]).await;
    let known = post_form(&app.client(), &url, &[("identifier", "anna.schmidt")]).await;

    assert_eq!(unknown.status(), StatusCode::SEE_OTHER);
    assert_eq!(known.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&unknown), location(&known));
    let (status, page) = get_text(
        &app.client(),
        &app.tenant_url("acme", "/password/forgot?sent=1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Wenn zu Ihrer Eingabe ein Zugang mit E-Mail-Adresse gehört, haben wir Ihnen soeben einen Link geschickt."),
        "{page}"
    );
    app.wait_for_mail("anna@example.com", MAIL_TIMEOUT).await;
    assert_eq!(app.mails().len(), 1);
}

#[tokio::test]
async fn forgot_rejects_empty_and_long_input() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let url = app.tenant_url("acme", "/password/forgot");

    let empty = post_form(&app.client(), &url, &[("identifier", "   ")]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = empty.text().await.unwrap();
    assert!(
        body.contains("Bitte geben Sie Ihren Benutzernamen oder Ihre E-Mail-Adresse ein."),
        "{body}"
    );

    let long = format!("{}@example.com", "a".repeat(250));
    let response = post_form(&app.client(), &url, &[("identifier", long.as_str())]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Die Eingabe ist zu lang. Geben Sie höchstens 254 Zeichen ein."),
        "{body}"
    );
    assert!(body.contains(&"a".repeat(250)), "typed input was not kept");
}

#[tokio::test]
async fn login_settings_checkbox_toggles_reset() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let hash = password_hash(&app).await;
    account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(Some(hash)))
        .filter(account::Column::TenantId.eq(acme.id.get()))
        .exec(app.db())
        .await
        .unwrap();
    let admin = app.client();
    let login = post_form(
        &admin,
        &app.tenant_url("acme", "/login"),
        &[
            ("username", acme.admin_username.as_str()),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let url = app.tenant_url("acme", "/admin/einstellungen/anmeldung");
    let stored = || async {
        tenant_settings::Entity::find_by_id(acme.id.get())
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
            .self_service_reset
    };

    let (_, page) = get_text(&admin, &url).await;
    assert!(
        page.contains(
            "name=\"self_service_reset\" type=\"checkbox\" value=\"ja\" aria-describedby"
        ),
        "{page}"
    );
    let on = post_form(
        &admin,
        &url,
        &[
            ("max_failed_logins", "5"),
            ("lockout_minutes", "15"),
            ("audit_retention_days", "365"),
            ("self_service_reset", "ja"),
        ],
    )
    .await;
    assert_eq!(on.status(), StatusCode::SEE_OTHER);
    assert!(stored().await);
    let (_, page) = get_text(&admin, &url).await;
    assert!(page.contains("value=\"ja\" checked"), "{page}");

    let off = post_form(
        &admin,
        &url,
        &[
            ("max_failed_logins", "5"),
            ("lockout_minutes", "15"),
            ("audit_retention_days", "365"),
        ],
    )
    .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert!(!stored().await);
}

// ---------------------------------------------------------------------------------------------
// The mail

#[tokio::test]
async fn reset_mail_links_to_tenant_access_link() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;

    // The request names the host in another spelling; the link uses the stored primary host.
    let response = app
        .client()
        .post(app.tenant_url("acme", "/password/forgot"))
        .header(
            reqwest::header::HOST,
            format!("ACME.Localhost:{}", app.port),
        )
        .form(&[("identifier", "Anna.Schmidt")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mail = app.wait_for_mail("anna@example.com", MAIL_TIMEOUT).await;

    assert_eq!(mail.to, vec!["anna@example.com".to_owned()]);
    assert_eq!(mail.subject, "Neues Passwort für Acme Apotheke festlegen");
    let link = mail.link_starting_with(&format!("http://acme.localhost:{}/reset/", app.port));
    let token = link.rsplit('/').next().unwrap();
    assert!(tokens::looks_valid(token), "{link}");
    assert!(
        mail.text.contains("Guten Tag Anna Schmidt,"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("für Ihren Benutzernamen anna.schmidt bei Acme Apotheke wurde ein neues Passwort angefordert."),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("Der Link ist eine Stunde gültig und lässt sich nur einmal verwenden."),
        "{}",
        mail.text
    );
    assert!(
        mail.links.contains(&format!("{}/", acme.access_link)),
        "{:?}",
        mail.links
    );
    assert!(
        // minijinja escapes `/` in HTML as `&#x2f;`.
        mail.html
            .contains(&format!("<a href=\"{}\">", link.replace('/', "&#x2f;"))),
        "{}",
        mail.html
    );

    let stored = reset_tokens(&app, anna.id).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].token_hash, tokens::hash(token));
    assert_eq!(stored[0].tenant_id, acme.id.get());
    assert_eq!(stored[0].used_at, None);
    let lifetime = stored[0].expires_at - stored[0].created_at;
    assert_eq!(lifetime, Duration::hours(1));
}

#[tokio::test]
async fn reset_mail_uses_account_language() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    update_account(&app, anna.id, account::Column::Language, Expr::value("en")).await;
    allow_reset(&app, &acme, true).await;

    let (mail, _) = reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;

    assert_eq!(mail.subject, "Set a new password for Acme Apotheke");
    assert!(mail.text.contains("Hello Anna Schmidt,"), "{}", mail.text);
    assert!(
        mail.text
            .contains("The link is valid for one hour and works only once."),
        "{}",
        mail.text
    );
}

#[tokio::test]
async fn planner_reset_by_email_address() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let paula = insert_planner(&app, &acme, "p.meier", Some("Paula.Meier@Example.com")).await;
    allow_reset(&app, &acme, true).await;

    let (mail, link) = reset_mail(
        &app,
        &acme,
        "paula.meier@example.com",
        "Paula.Meier@Example.com",
    )
    .await;

    assert!(
        mail.text
            .contains("für Ihren Benutzernamen p.meier bei Acme Apotheke"),
        "{}",
        mail.text
    );
    let response = set_new_password(&app.client(), &link, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = post_login(&app, &acme, "p.meier", NEW_PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/admin");
    assert_eq!(reset_tokens(&app, paula.id).await.len(), 1);
}

#[tokio::test]
async fn inactive_departed_and_addressless_accounts_get_no_mail() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    allow_reset(&app, &acme, true).await;
    let inactive =
        insert_employee_login(&app, &acme, "1001", "inaktiv", Some("inaktiv@example.com")).await;
    update_account(
        &app,
        inactive.id,
        account::Column::Active,
        Expr::value(false),
    )
    .await;
    let departed = insert_employee_login(
        &app,
        &acme,
        "1002",
        "ausgeschieden",
        Some("weg@example.com"),
    )
    .await;
    employee::Entity::update_many()
        .col_expr(
            employee::Column::ExitDate,
            Expr::value(berlin_today() - Duration::days(1)),
        )
        .filter(employee::Column::Id.eq(departed.employee_id.unwrap()))
        .exec(app.db())
        .await
        .unwrap();
    let addressless = insert_employee_login(&app, &acme, "1003", "ohne.mail", None).await;
    let planner = insert_planner(&app, &acme, "p.ohne", None).await;
    insert_employee_login(
        &app,
        &acme,
        "1004",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;

    for identifier in [
        "inaktiv",
        "inaktiv@example.com",
        "ausgeschieden",
        "weg@example.com",
        "ohne.mail",
        "p.ohne",
    ] {
        request_reset(&app, &acme, identifier).await;
    }
    reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;

    for account_id in [inactive.id, departed.id, addressless.id, planner.id] {
        assert!(
            reset_tokens(&app, account_id).await.is_empty(),
            "account {account_id}"
        );
    }
    assert_eq!(outbox_count(&app, "inaktiv@example.com").await, 0);
    assert_eq!(outbox_count(&app, "weg@example.com").await, 0);
    // The account's own copy of the address is not used for employees.
    assert_eq!(outbox_count(&app, "veraltet@example.com").await, 0);
    assert_eq!(app.mails().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// The link

#[tokio::test]
async fn reset_link_sets_password_once() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;
    let (_, link) = reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;
    let client = app.client();

    let (status, form) = get_text(&client, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        form.contains("Legen Sie ein neues Passwort für den Benutzernamen anna.schmidt fest."),
        "{form}"
    );

    let response = set_new_password(&client, &link, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=password_reset");
    let (_, login_page) = get_text(
        &client,
        &app.tenant_url("acme", "/login?notice=password_reset"),
    )
    .await;
    assert!(
        login_page.contains(
            "Ihr Passwort wurde geändert. Melden Sie sich jetzt mit dem neuen Passwort an."
        ),
        "{login_page}"
    );
    assert_eq!(
        post_login(&app, &acme, "anna.schmidt", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_login(&app, &acme, "anna.schmidt", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let used = reset_tokens(&app, anna.id).await;
    assert_eq!(used.len(), 1);
    assert!(used[0].used_at.is_some());

    let again = set_new_password(&client, &link, "Noch-Ein-Passwort-88").await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let body = again.text().await.unwrap();
    assert!(
        body.contains("Dieser Link ist ungültig oder abgelaufen"),
        "{body}"
    );
    let (status, _) = get_text(&client, &link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        post_login(&app, &acme, "anna.schmidt", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn reset_ends_sessions_and_clears_lockout() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;
    let browser = app.client();
    let login = post_form(
        &browser,
        &app.tenant_url("acme", "/login"),
        &[("username", "anna.schmidt"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let app_login = app
        .client()
        .post(app.apex_url("/api/app/v1/login"))
        .json(&json!({ "customer_number": acme.customer_number, "username": "anna.schmidt", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(app_login.status(), StatusCode::OK);
    let app_token = app_login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions_before = app.session_count(anna.id).await;
    assert_eq!(sessions_before, 2);
    update_account(
        &app,
        anna.id,
        account::Column::FailedAttempts,
        Expr::value(3),
    )
    .await;
    update_account(
        &app,
        anna.id,
        account::Column::LockedUntil,
        Expr::value(Utc::now() + Duration::minutes(15)),
    )
    .await;
    update_account(
        &app,
        anna.id,
        account::Column::MustChangePassword,
        Expr::value(true),
    )
    .await;

    let (_, link) = reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;
    let response = set_new_password(&app.client(), &link, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let stored = reload(&app, anna.id).await;
    assert_eq!(stored.failed_attempts, 0);
    assert_eq!(stored.locked_until, None);
    assert!(!stored.must_change_password);
    let sessions_after = app.session_count(anna.id).await;
    assert_eq!(sessions_after, 0);
    let portal = browser
        .get(app.tenant_url("acme", "/portal"))
        .send()
        .await
        .unwrap();
    assert_eq!(portal.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&portal), "/login");
    let me = app
        .client()
        .get(app.apex_url("/api/app/v1/me"))
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        post_login(&app, &acme, "anna.schmidt", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn expired_reset_link_is_not_found() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;
    let (_, link) = reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;
    password_token::Entity::update_many()
        .col_expr(
            password_token::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::seconds(1)),
        )
        .filter(password_token::Column::AccountId.eq(anna.id))
        .exec(app.db())
        .await
        .unwrap();

    let (status, page) = get_text(&app.client(), &link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        page.contains("Ein Link zum Zurücksetzen gilt eine Stunde"),
        "{page}"
    );
    let response = set_new_password(&app.client(), &link, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    assert_eq!(
        reload(&app, anna.id).await.password_hash,
        anna.password_hash
    );
    assert_eq!(reset_tokens(&app, anna.id).await[0].used_at, None);
}

#[tokio::test]
async fn newer_request_replaces_older_link() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;

    let (_, first) = reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;
    let (_, second) = reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;

    assert_ne!(first, second);
    assert_eq!(reset_tokens(&app, anna.id).await.len(), 1);
    let (status, _) = get_text(&app.client(), &first).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_text(&app.client(), &second).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn turning_reset_off_invalidates_links() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;
    let (_, link) = reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;

    allow_reset(&app, &acme, false).await;

    let response = set_new_password(&app.client(), &link, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        reload(&app, anna.id).await.password_hash,
        anna.password_hash
    );
}

#[tokio::test]
async fn reset_rejects_common_password() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let anna = insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;
    let (_, link) = reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;

    let response = set_new_password(&app.client(), &link, "Passwort123!").await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap();
    assert!(
        body.contains(
            "Dieses Passwort ist zu verbreitet: Angreifer probieren es als eines der ersten aus."
        ),
        "{body}"
    );
    assert_eq!(
        reload(&app, anna.id).await.password_hash,
        anna.password_hash
    );
    assert_eq!(reset_tokens(&app, anna.id).await[0].used_at, None);
    let mismatch = post_form(
        &app.client(),
        &link,
        &[
            ("password", NEW_PASSWORD),
            ("password_repeat", "Anders-Passwort-91"),
        ],
    )
    .await;
    assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = mismatch.text().await.unwrap();
    assert!(
        body.contains("Die beiden Passwörter stimmen nicht überein."),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tenant isolation

#[tokio::test]
async fn other_tenant_reset_token_is_not_found() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    let bert =
        insert_employee_login(&app, &other, "2001", "bert.bauer", Some("bert@example.com")).await;
    allow_reset(&app, &acme, true).await;
    allow_reset(&app, &other, true).await;
    let (_, link) = reset_mail(&app, &other, "bert.bauer", "bert@example.com").await;
    let token = link.rsplit('/').next().unwrap();
    let foreign = app.tenant_url("acme", &format!("/reset/{token}"));

    let (status, _) = get_text(&app.client(), &foreign).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = set_new_password(&app.client(), &foreign, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    assert_eq!(
        reload(&app, bert.id).await.password_hash,
        bert.password_hash
    );
    assert_eq!(reset_tokens(&app, bert.id).await[0].used_at, None);
    let (status, _) = get_text(&app.client(), &link).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn forgot_on_other_tenant_finds_no_account() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Acme Apotheke").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let bert =
        insert_employee_login(&app, &other, "2001", "bert.bauer", Some("bert@example.com")).await;
    insert_employee_login(
        &app,
        &acme,
        "1001",
        "anna.schmidt",
        Some("anna@example.com"),
    )
    .await;
    allow_reset(&app, &acme, true).await;
    allow_reset(&app, &other, true).await;

    request_reset(&app, &acme, "bert.bauer").await;
    request_reset(&app, &acme, "bert@example.com").await;
    reset_mail(&app, &acme, "anna.schmidt", "anna@example.com").await;

    assert!(reset_tokens(&app, bert.id).await.is_empty());
    assert_eq!(outbox_count(&app, "bert@example.com").await, 0);
    assert_eq!(app.mails().len(), 1);
}
