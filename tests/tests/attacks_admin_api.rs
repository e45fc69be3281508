//! Attacks on the main program, the CSV import, invitations, the app API and the database wall,
//! run with real HTTP against the real server.
//!
//! Every test asserts the value the product must return. The concurrency tests send their
//! requests at the same moment and then check the stored rows, because a race shows in the data,
//! not in one response. On PostgreSQL the application connects as a role that row-level security
//! applies to, so the same tests also probe that wall.

use std::time::{Duration, Instant};

use chrono::Utc;
use mep24web_entities::{account, employee, invitation, org_unit, outbox, tenant, tenant_domain};
use mep24web_tests::{TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const ADMIN_PASSWORD: &str = "Angriff-Abwehr-2026";
const PLANNER_PASSWORD: &str = "Dienstplan-Angriff-2026";
const EMPLOYEE_PASSWORD: &str = "Kasse-Angriff-2026";
const SECURITY_CODE: &str = "Apotheke-7731";
const SESSION_COOKIE: &str = "mep24web_session";
const INVITE_PATH: &str = "/admin/stammdaten/einladen";
const UPLOAD_PATH: &str = "/admin/stammdaten/import";
const CONFIRM_PATH: &str = "/admin/stammdaten/import/bestaetigen";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Escapes text the way minijinja's HTML auto-escaping does, to find it in a page.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn session_token(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            value
                .strip_prefix(&format!("{SESSION_COOKIE}="))
                .and_then(|rest| rest.split(';').next())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no session cookie on {}", response.url()))
}

/// A tenant with its administrator signed in.
struct Admin {
    tenant: TestTenant,
    client: reqwest::Client,
    token: String,
}

impl Admin {
    fn url(&self, app: &TestApp, path: &str) -> String {
        app.tenant_url(&self.tenant.slug, path)
    }
}

/// Creates a tenant with a security code and signs its administrator in through the setup link.
async fn admin(app: &TestApp, slug: &str, name: &str) -> Admin {
    let tenant = app.create_tenant(slug, name).await;
    set_security_code(app, &tenant).await;
    let client = app.client();
    let response = post_form(
        &client,
        &tenant.setup_link,
        &[
            ("password", ADMIN_PASSWORD),
            ("password_repeat", ADMIN_PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "setup link failed"
    );
    let token = session_token(&response);
    Admin {
        tenant,
        client,
        token,
    }
}

async fn set_security_code(app: &TestApp, tenant: &TestTenant) {
    mep24web_entities::tenant_settings::Entity::update_many()
        .col_expr(
            mep24web_entities::tenant_settings::Column::SecurityCode,
            Expr::value(Some(SECURITY_CODE.to_owned())),
        )
        .filter(mep24web_entities::tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
}

async fn root_id(app: &TestApp, tenant: &TestTenant) -> i64 {
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn insert_unit(
    app: &TestApp,
    tenant: &TestTenant,
    parent: i64,
    kind: &str,
    name: &str,
) -> i64 {
    org_unit::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        parent_id: Set(Some(parent)),
        kind: Set(kind.to_owned()),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id
}

async fn insert_employee(
    app: &TestApp,
    tenant: &TestTenant,
    unit: i64,
    personnel_number: &str,
    email: Option<&str>,
    language: &str,
) -> employee::Model {
    let now = Utc::now();
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(personnel_number.to_owned()),
        first_name: Set("Anna".to_owned()),
        last_name: Set(format!("Schmidt {personnel_number}")),
        email: Set(email.map(str::to_owned)),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(unit),
        language: Set(language.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
}

/// Inserts a login with a known password: a planner when `employee_id` is `None`.
async fn insert_login(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    password: &str,
    role: Option<&str>,
    employee_id: Option<i64>,
) -> account::Model {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(password))
        .await
        .unwrap();
    let now = Utc::now();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set(if employee_id.is_some() {
            "employee"
        } else {
            "planner"
        }
        .to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(hash)),
        display_name: Set(format!("{username} ({})", tenant.name)),
        role: Set(role.map(str::to_owned)),
        email: Set(None),
        employee_id: Set(employee_id),
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

/// Signs in at `/login` with a new client and returns it with the session token.
async fn sign_in(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    password: &str,
) -> (reqwest::Client, String) {
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
    let token = session_token(&response);
    (client, token)
}

async fn open_invitations(app: &TestApp, employee_id: i64) -> Vec<invitation::Model> {
    invitation::Entity::find()
        .filter(invitation::Column::EmployeeId.eq(employee_id))
        .filter(invitation::Column::UsedAt.is_null())
        .filter(invitation::Column::ReplacedAt.is_null())
        .all(app.db())
        .await
        .unwrap()
}

async fn units_named(app: &TestApp, tenant: &TestTenant, name: &str) -> Vec<org_unit::Model> {
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::Name.eq(name))
        .all(app.db())
        .await
        .unwrap()
}

async fn employee_count(app: &TestApp, tenant: &TestTenant) -> u64 {
    employee::Entity::find()
        .filter(employee::Column::TenantId.eq(tenant.id.get()))
        .count(app.db())
        .await
        .unwrap()
}

/// Posts a file to the upload form as `multipart/form-data`.
async fn upload(client: &reqwest::Client, url: &str, bytes: &[u8]) -> reqwest::Response {
    let boundary = "----mep24web-attack-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"datei\"; filename=\"liste.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    client
        .post(url)
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Returns the value of the hidden input `name`, unescaped.
fn hidden_field(body: &str, name: &str) -> String {
    let start = format!("type=\"hidden\" name=\"{name}\" value=\"");
    let position = body.find(&start).unwrap_or_else(|| {
        panic!(
            "no hidden field {name} in page:\n{}",
            &body[..body.len().min(3000)]
        )
    }) + start.len();
    let end = body[position..].find('"').unwrap();
    unescape(&body[position..position + end])
}

/// Uploads a file and returns the fields of the preview's confirm form.
async fn preview_fields(app: &TestApp, admin: &Admin, bytes: &[u8]) -> Vec<(&'static str, String)> {
    let response = upload(&admin.client, &admin.url(app, UPLOAD_PATH), bytes).await;
    assert_eq!(response.status(), StatusCode::OK, "preview failed");
    let page = response.text().await.unwrap();
    ["datei", "dateiname", "pruefsumme", "plan"]
        .into_iter()
        .map(|name| (name, hidden_field(&page, name)))
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

/// Opens every pooled connection once, so concurrent requests of a test start together instead
/// of waiting one after another for new connections.
async fn warm_pool(app: &TestApp, admin: &Admin) {
    let url = admin.url(app, "/admin");
    let pages = join_all((0..5).map(|_| get_text(&admin.client, &url))).await;
    for (status, _) in pages {
        assert_eq!(status, StatusCode::OK);
    }
}

// ---------------------------------------------------------------------------------------------
// Replay and concurrency
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invites_leave_one_open_invitation() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme.tenant).await;
    let anna = insert_employee(
        &app,
        &acme.tenant,
        root,
        "1001",
        Some("anna@apotheke.example"),
        "de",
    )
    .await;

    let level = root.to_string();
    let id = anna.id.to_string();
    let fields = [
        ("ebene", level.as_str()),
        ("aktion", "auswahl"),
        ("mitarbeiter", id.as_str()),
    ];
    let url = acme.url(&app, INVITE_PATH);
    warm_pool(&app, &acme).await;
    let requests = (0..6).map(|_| post_form(&acme.client, &url, &fields));
    let responses = join_all(requests).await;

    for response in &responses {
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "invitation request failed"
        );
    }
    assert_eq!(open_invitations(&app, anna.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_same_branch_concurrently_creates_one() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme.tenant).await.to_string();
    let url = acme.url(&app, "/admin/stammdaten/ebene/neu");
    let fields = [("parent_id", root.as_str()), ("name", "Filiale Nord")];
    warm_pool(&app, &acme).await;
    let responses = join_all((0..6).map(|_| post_form(&acme.client, &url, &fields))).await;

    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::UNPROCESSABLE_ENTITY)
            .count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        units_named(&app, &acme.tenant, "Filiale Nord").await.len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_confirm_writes_once() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let file = "Personalnummer;Nachname;Vorname;Filiale\r\n\
                2001;Weiß;Jürgen;Filiale Süd\r\n\
                2002;Öztürk;Ayşe;Filiale Süd\r\n";
    let fields = preview_fields(&app, &acme, file.as_bytes()).await;
    let url = acme.url(&app, CONFIRM_PATH);
    warm_pool(&app, &acme).await;
    let responses = join_all((0..4).map(|_| post_fields(&acme.client, &url, &fields))).await;

    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::CONFLICT)
            .count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(employee_count(&app, &acme.tenant).await, 2);
    assert_eq!(
        units_named(&app, &acme.tenant, "Filiale Süd").await.len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_confirm_creates_branch_once() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme.tenant).await;
    insert_employee(&app, &acme.tenant, root, "3001", None, "de").await;
    insert_employee(&app, &acme.tenant, root, "3002", None, "de").await;
    // Same names as stored, so the only change is the move into a new branch.
    let file = "Personalnummer;Nachname;Vorname;Filiale\r\n\
                3001;Schmidt 3001;Anna;Filiale West\r\n\
                3002;Schmidt 3002;Anna;Filiale West\r\n";
    let fields = preview_fields(&app, &acme, file.as_bytes()).await;
    let url = acme.url(&app, CONFIRM_PATH);
    warm_pool(&app, &acme).await;
    let responses = join_all((0..4).map(|_| post_fields(&acme.client, &url, &fields))).await;

    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::CONFLICT)
            .count(),
        3,
        "{statuses:?}"
    );
    let branches = units_named(&app, &acme.tenant, "Filiale West").await;
    assert_eq!(branches.len(), 1, "{branches:?}");
    let moved = employee::Entity::find()
        .filter(employee::Column::TenantId.eq(acme.tenant.id.get()))
        .filter(employee::Column::OrgUnitId.eq(branches[0].id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(moved, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_username_change_reports_taken() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme.tenant).await;
    let mut employees = Vec::new();
    for number in ["4001", "4002", "4003", "4004"] {
        let person = insert_employee(&app, &acme.tenant, root, number, None, "de").await;
        insert_login(
            &app,
            &acme.tenant,
            &format!("user{number}"),
            EMPLOYEE_PASSWORD,
            None,
            Some(person.id),
        )
        .await;
        employees.push(person);
    }
    let requests = employees.iter().map(|person| {
        let url = acme.url(
            &app,
            &format!("/admin/stammdaten/mitarbeiter/{}/benutzer/name", person.id),
        );
        let client = acme.client.clone();
        async move { post_form(&client, &url, &[("username", "kasse.nord")]).await }
    });
    warm_pool(&app, &acme).await;
    let responses = join_all(requests).await;

    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::UNPROCESSABLE_ENTITY)
            .count(),
        3,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_demotions_keep_an_administrator() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let first = account::Entity::find()
        .filter(account::Column::TenantId.eq(acme.tenant.id.get()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let second = insert_login(
        &app,
        &acme.tenant,
        "chefin",
        PLANNER_PASSWORD,
        Some("administrator"),
        None,
    )
    .await;
    let (second_client, _) = sign_in(&app, &acme.tenant, "chefin", PLANNER_PASSWORD).await;

    // Deactivation ends the target's sessions, so it comes last.
    for (action, role, active, own_account) in [
        ("demote each other", "planer", "ja", false),
        ("demote oneself", "planer", "ja", true),
        ("deactivate each other", "administrator", "nein", false),
    ] {
        let fields = |name: &str| {
            vec![
                ("display_name", name.to_owned()),
                ("email", String::new()),
                ("role", role.to_owned()),
                ("active", active.to_owned()),
                ("password", String::new()),
                ("password_repeat", String::new()),
            ]
        };
        let first_fields = fields("Erste");
        let second_fields = fields("Zweite");
        let (first_target, second_target) = if own_account {
            (first.id, second.id)
        } else {
            (second.id, first.id)
        };
        let first_url = acme.url(&app, &format!("/admin/sicherheit/benutzer/{first_target}"));
        let second_url = acme.url(&app, &format!("/admin/sicherheit/benutzer/{second_target}"));
        let (one, two) = tokio::join!(
            post_fields(&acme.client, &first_url, &first_fields),
            post_fields(&second_client, &second_url, &second_fields),
        );
        let active_admins = account::Entity::find()
            .filter(account::Column::TenantId.eq(acme.tenant.id.get()))
            .filter(account::Column::Role.eq("administrator"))
            .filter(account::Column::Active.eq(true))
            .count(app.db())
            .await
            .unwrap();
        assert_eq!(
            active_admins,
            1,
            "{action}: {} / {}",
            one.status(),
            two.status()
        );
        // Restore both administrators for the next round.
        account::Entity::update_many()
            .col_expr(account::Column::Role, Expr::value("administrator"))
            .col_expr(account::Column::Active, Expr::value(true))
            .filter(account::Column::TenantId.eq(acme.tenant.id.get()))
            .exec(app.db())
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The database wall
// ---------------------------------------------------------------------------------------------

/// Returns the application's database handle on PostgreSQL, where row-level security applies to
/// it, or `None` on SQLite.
fn postgres_db(app: &TestApp) -> Option<mep24web_platform::db::Db> {
    if app.postgres_database().is_none() {
        eprintln!("row-level security exists on PostgreSQL only; set MEP24WEB_TEST_DATABASE_URL");
        return None;
    }
    Some(app.state().db.clone())
}

fn tenant_ids(rows: &[account::Model]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().map(|row| row.tenant_id).collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn nested_scope_reads_inner_tenant_only() {
    let app = spawn_app().await;
    let Some(db) = postgres_db(&app) else {
        return;
    };
    let acme = app.create_tenant("acme", "Apotheke am Markt").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;

    assert!(account::Entity::find().all(&db).await.unwrap().is_empty());
    let (outer, inner, after) = db
        .scope_tenant(acme.id, async {
            let outer = account::Entity::find().all(&db).await.unwrap();
            let inner = db
                .scope_tenant(other.id, async {
                    account::Entity::find().all(&db).await.unwrap()
                })
                .await
                .unwrap();
            let after = account::Entity::find().all(&db).await.unwrap();
            (outer, inner, after)
        })
        .await
        .unwrap();
    assert_eq!(tenant_ids(&outer), vec![acme.id.get()]);
    assert_eq!(tenant_ids(&inner), vec![other.id.get()]);
    assert_eq!(tenant_ids(&after), vec![acme.id.get()]);
}

#[tokio::test]
async fn scope_failed_write_keeps_transaction_usable() {
    let app = spawn_app().await;
    let Some(db) = postgres_db(&app) else {
        return;
    };
    let acme = app.create_tenant("acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme).await;
    let admin = account::Entity::find()
        .filter(account::Column::TenantId.eq(acme.id.get()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();

    let (duplicate, branch) = db
        .scope_tenant(acme.id, async {
            let mut copy: account::ActiveModel = admin.clone().into();
            copy.id = sea_orm::ActiveValue::NotSet;
            let duplicate = copy.insert(&db).await;
            let branch = org_unit::ActiveModel {
                tenant_id: Set(acme.id.get()),
                parent_id: Set(Some(root)),
                kind: Set("branch".to_owned()),
                name: Set("Nach dem Fehler".to_owned()),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&db)
            .await;
            (duplicate, branch)
        })
        .await
        .unwrap();
    assert!(duplicate.is_err_and(|error| mep24web_platform::db::is_unique_violation(&error)));
    assert!(branch.is_ok(), "{branch:?}");
    assert_eq!(units_named(&app, &acme, "Nach dem Fehler").await.len(), 1);
}

/// Sends the head of a form POST whose body never arrives, and keeps the connection open.
async fn stalled_post(port: u16, host: &str, path: &str, cookie: Option<&str>) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let cookie = cookie.map_or_else(String::new, |token| {
        format!("Cookie: {SESSION_COOKIE}={token}\r\n")
    });
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 4000\r\n\r\nusername=a"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn stalled_login_bodies_leave_other_tenants_served() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Apotheke am Markt").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let host = format!("{}.localhost:{}", acme.slug, app.port);
    // More stalled requests than the test pool has connections (5).
    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(stalled_post(app.port, &host, "/login", None).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let (status, _) = get_text(&app.client(), &app.tenant_url(&other.slug, "/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    drop(stalled);
}

// A signed-in request used to take its transaction, and with it a pooled connection, at the
// session lookup, before the client had sent its body. The gateway now reads the body first.
#[tokio::test]
async fn stalled_session_bodies_leave_others_served() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    let host = format!("{}.localhost:{}", acme.tenant.slug, app.port);
    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(
            stalled_post(
                app.port,
                &host,
                "/admin/stammdaten/ebene/neu",
                Some(&acme.token),
            )
            .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let (status, _) = get_text(&app.client(), &app.tenant_url(&other.slug, "/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    drop(stalled);
}

async fn app_login(app: &TestApp, body: &Value, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut request = app
        .client()
        .post(app.apex_url("/api/app/v1/login"))
        .json(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn app_login_with_foreign_token_succeeds() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme", "Apotheke am Markt").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    insert_login(
        &app,
        &acme,
        "planung",
        PLANNER_PASSWORD,
        Some("planer"),
        None,
    )
    .await;
    insert_login(
        &app,
        &other,
        "planung",
        PLANNER_PASSWORD,
        Some("planer"),
        None,
    )
    .await;

    let (status, body) = app_login(
        &app,
        &json!({ "customer_number": other.customer_number, "username": "planung", "password": PLANNER_PASSWORD }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other_token = body["token"].as_str().unwrap().to_owned();

    // An app that switches accounts may still send the old token with the next login.
    let (status, body) = app_login(
        &app,
        &json!({ "customer_number": acme.customer_number, "username": "planung", "password": PLANNER_PASSWORD }),
        Some(&other_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tenant_name"], "Apotheke am Markt");
    assert_eq!(body["customer_number"], acme.customer_number);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_employee_edits_keep_login_name() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme.tenant).await;
    let branch = insert_unit(&app, &acme.tenant, root, "branch", "Filiale Nord").await;
    let person = insert_employee(&app, &acme.tenant, branch, "8001", None, "de").await;
    let login = insert_login(
        &app,
        &acme.tenant,
        "anna",
        EMPLOYEE_PASSWORD,
        None,
        Some(person.id),
    )
    .await;
    let form = |first_name: &str| {
        vec![
            ("personnel_number", "8001".to_owned()),
            ("first_name", first_name.to_owned()),
            ("last_name", "Schmidt".to_owned()),
            ("email", String::new()),
            ("phone", String::new()),
            ("entry_date", String::new()),
            ("exit_date", String::new()),
            ("org_unit_id", branch.to_string()),
            ("language", "de".to_owned()),
        ]
    };
    let url = acme.url(
        &app,
        &format!("/admin/stammdaten/mitarbeiter/{}", person.id),
    );
    let forms: Vec<_> = ["Anna", "Anne", "Annika", "Antje"]
        .map(form)
        .into_iter()
        .collect();
    warm_pool(&app, &acme).await;
    let responses = join_all(
        forms
            .iter()
            .map(|fields| post_fields(&acme.client, &url, fields)),
    )
    .await;

    for response in &responses {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let stored = employee::Entity::find_by_id(person.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let account = account::Entity::find_by_id(login.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        account.display_name,
        format!("{} {}", stored.first_name, stored.last_name)
    );
}

// ---------------------------------------------------------------------------------------------
// Cross-tenant ids, cookies and tokens
// ---------------------------------------------------------------------------------------------

/// The ids of one tenant's rows that an attack names.
struct Rows {
    root: i64,
    branch: i64,
    department: i64,
    employee: i64,
    employee_login: i64,
    planner: i64,
}

async fn tenant_rows(app: &TestApp, tenant: &TestTenant, prefix: &str) -> Rows {
    let root = root_id(app, tenant).await;
    let branch = insert_unit(app, tenant, root, "branch", &format!("{prefix} Filiale")).await;
    let department = insert_unit(app, tenant, branch, "department", "Verkauf").await;
    let person = insert_employee(
        app,
        tenant,
        branch,
        "1001",
        Some("anna@apotheke.example"),
        "de",
    )
    .await;
    let login = insert_login(
        app,
        tenant,
        "anna",
        EMPLOYEE_PASSWORD,
        None,
        Some(person.id),
    )
    .await;
    let planner = insert_login(
        app,
        tenant,
        "planung",
        PLANNER_PASSWORD,
        Some("planer"),
        None,
    )
    .await;
    Rows {
        root,
        branch,
        department,
        employee: person.id,
        employee_login: login.id,
        planner: planner.id,
    }
}

/// Every stored row of a tenant that an admin route could change, for before/after checks.
#[derive(Debug, PartialEq)]
struct TenantState {
    units: Vec<org_unit::Model>,
    employees: Vec<employee::Model>,
    accounts: Vec<account::Model>,
    invitations: Vec<invitation::Model>,
    settings: Vec<mep24web_entities::tenant_settings::Model>,
    mails: u64,
}

async fn tenant_state(app: &TestApp, tenant: &TestTenant) -> TenantState {
    let id = tenant.id.get();
    TenantState {
        units: org_unit::Entity::find()
            .filter(org_unit::Column::TenantId.eq(id))
            .order_by_asc(org_unit::Column::Id)
            .all(app.db())
            .await
            .unwrap(),
        employees: employee::Entity::find()
            .filter(employee::Column::TenantId.eq(id))
            .order_by_asc(employee::Column::Id)
            .all(app.db())
            .await
            .unwrap(),
        accounts: account::Entity::find()
            .filter(account::Column::TenantId.eq(id))
            .order_by_asc(account::Column::Id)
            .all(app.db())
            .await
            .unwrap(),
        invitations: invitation::Entity::find()
            .filter(invitation::Column::TenantId.eq(id))
            .order_by_asc(invitation::Column::Id)
            .all(app.db())
            .await
            .unwrap(),
        settings: mep24web_entities::tenant_settings::Entity::find()
            .filter(mep24web_entities::tenant_settings::Column::TenantId.eq(id))
            .all(app.db())
            .await
            .unwrap(),
        mails: outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(id))
            .count(app.db())
            .await
            .unwrap(),
    }
}

/// GET routes of the main program that name a row of `rows`.
fn get_routes(rows: &Rows) -> Vec<String> {
    vec![
        format!("/admin/stammdaten?ebene={}", rows.branch),
        format!("/admin/stammdaten?ebene={}", rows.department),
        format!("/admin/stammdaten/ebene/neu?uebergeordnet={}", rows.branch),
        format!("/admin/stammdaten/ebene/{}", rows.branch),
        format!("/admin/stammdaten/ebene/{}", rows.department),
        format!("/admin/stammdaten/mitarbeiter/{}", rows.employee),
        format!("/admin/stammdaten/mitarbeiter/{}/benutzer", rows.employee),
        format!("/admin/stammdaten/einladen?ebene={}", rows.branch),
        format!("/admin/stammdaten/einladen?ebene={}", rows.root),
        format!("/admin/sicherheit/benutzer/{}", rows.planner),
        format!("/admin/sicherheit/benutzer/{}", rows.employee_login),
    ]
}

/// POST routes of the main program that name a row of `rows`, with a valid form otherwise.
fn post_routes(rows: &Rows, own_root: i64) -> Vec<(String, Vec<(&'static str, String)>)> {
    let employee_form = |unit: i64| {
        vec![
            ("personnel_number", "7777".to_owned()),
            ("first_name", "Eve".to_owned()),
            ("last_name", "Eindringling".to_owned()),
            ("email", "eve@example.com".to_owned()),
            ("phone", String::new()),
            ("entry_date", String::new()),
            ("exit_date", String::new()),
            ("org_unit_id", unit.to_string()),
            ("language", "de".to_owned()),
        ]
    };
    let user_form = vec![
        ("display_name", "Eve".to_owned()),
        ("email", String::new()),
        ("role", "planer".to_owned()),
        ("active", "nein".to_owned()),
        ("password", "Uebernahme-Versuch-2026".to_owned()),
        ("password_repeat", "Uebernahme-Versuch-2026".to_owned()),
    ];
    let employee = rows.employee;
    vec![
        (
            "/admin/stammdaten/ebene/neu".to_owned(),
            vec![
                ("parent_id", rows.branch.to_string()),
                ("name", "Fremd".to_owned()),
            ],
        ),
        (
            format!("/admin/stammdaten/ebene/{}", rows.branch),
            vec![("name", "Umbenannt".to_owned())],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}"),
            employee_form(rows.branch),
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer"),
            vec![
                ("username", "eve.neu".to_owned()),
                ("password", "Uebernahme-Versuch-2026".to_owned()),
                ("password_repeat", "Uebernahme-Versuch-2026".to_owned()),
            ],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/passwort"),
            vec![
                ("password", "Uebernahme-Versuch-2026".to_owned()),
                ("password_repeat", "Uebernahme-Versuch-2026".to_owned()),
            ],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/name"),
            vec![("username", "eve.neu".to_owned())],
        ),
        (
            format!("/admin/stammdaten/mitarbeiter/{employee}/benutzer/aktiv"),
            vec![("active", "nein".to_owned())],
        ),
        (
            format!("/admin/sicherheit/benutzer/{}", rows.planner),
            user_form.clone(),
        ),
        (
            format!("/admin/sicherheit/benutzer/{}", rows.employee_login),
            user_form,
        ),
        (
            format!(
                "/admin/sicherheit/benutzer/{}/zwei-faktor/zuruecksetzen",
                rows.planner
            ),
            Vec::new(),
        ),
        (
            INVITE_PATH.to_owned(),
            vec![
                ("ebene", rows.branch.to_string()),
                ("aktion", "auswahl".to_owned()),
                ("mitarbeiter", employee.to_string()),
            ],
        ),
        (
            INVITE_PATH.to_owned(),
            vec![
                ("ebene", own_root.to_string()),
                ("aktion", "auswahl".to_owned()),
                ("mitarbeiter", employee.to_string()),
            ],
        ),
    ]
}

#[tokio::test]
async fn admin_routes_foreign_ids_not_found() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let other = admin(&app, "other", "Andere Apotheke").await;
    let own = tenant_rows(&app, &acme.tenant, "Acme").await;
    let foreign = tenant_rows(&app, &other.tenant, "Andere").await;
    let acme_before = tenant_state(&app, &acme.tenant).await;
    let other_before = tenant_state(&app, &other.tenant).await;

    for path in get_routes(&foreign) {
        let (status, _) = get_text(&acme.client, &acme.url(&app, &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
    }
    for (path, fields) in post_routes(&foreign, own.root) {
        let response = post_fields(&acme.client, &acme.url(&app, &path), &fields).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {path}");
    }
    // A new employee placed into another tenant's branch: the unit is unknown here.
    let response = post_fields(
        &acme.client,
        &acme.url(&app, "/admin/stammdaten/mitarbeiter/neu"),
        &post_routes(&foreign, own.root)[2].1,
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(tenant_state(&app, &other.tenant).await, other_before);
    assert_eq!(tenant_state(&app, &acme.tenant).await, acme_before);
}

#[tokio::test]
async fn admin_routes_foreign_cookie_redirect_login() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let other = admin(&app, "other", "Andere Apotheke").await;
    let own = tenant_rows(&app, &acme.tenant, "Acme").await;
    let acme_before = tenant_state(&app, &acme.tenant).await;
    let cookie = format!("{SESSION_COOKIE}={}", other.token);
    let stranger = app.client();

    let mut paths = get_routes(&own);
    paths.extend(
        [
            "/admin",
            "/admin/stammdaten",
            UPLOAD_PATH,
            "/admin/einstellungen/anmeldung",
            "/admin/einstellungen/mitarbeiterportal",
            "/admin/sicherheit/benutzer",
            "/admin/konto/zwei-faktor",
        ]
        .map(str::to_owned),
    );
    for path in paths {
        let response = stranger
            .get(acme.url(&app, &path))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(location(&response), "/login", "GET {path}");
    }
    for (path, fields) in post_routes(&own, own.root) {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = stranger
            .post(acme.url(&app, &path))
            .header(COOKIE, &cookie)
            .form(&pairs)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
        assert_eq!(location(&response), "/login", "POST {path}");
    }
    assert_eq!(tenant_state(&app, &acme.tenant).await, acme_before);
}

#[tokio::test]
async fn app_token_on_tenant_host_rejected() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let other = app.create_tenant("other", "Andere Apotheke").await;
    insert_login(
        &app,
        &other,
        "planung",
        PLANNER_PASSWORD,
        Some("administrator"),
        None,
    )
    .await;
    let (status, body) = app_login(
        &app,
        &json!({ "customer_number": other.customer_number, "username": "planung", "password": PLANNER_PASSWORD }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();

    // The app token is neither a web session of its own tenant nor of another.
    for host_tenant in [&acme.tenant, &other] {
        let response = app
            .client()
            .get(app.tenant_url(&host_tenant.slug, "/admin"))
            .header(COOKIE, format!("{SESSION_COOKIE}={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{}",
            host_tenant.slug
        );
        assert_eq!(location(&response), "/login");
    }
    // The web session of acme's administrator is no app token.
    let response = app
        .client()
        .get(app.apex_url("/api/app/v1/me"))
        .bearer_auth(&acme.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The app token reads its own tenant only.
    let response = app
        .client()
        .get(app.apex_url("/api/app/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["tenant_name"], "Andere Apotheke");
    assert_eq!(me["customer_number"], other.customer_number);
}

/// URL-safe base64 without padding, as the preview puts the file into its hidden field.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut encoded = String::new();
    for chunk in bytes.chunks(3) {
        let padded = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let bits =
            (u32::from(padded[0]) << 16) | (u32::from(padded[1]) << 8) | u32::from(padded[2]);
        for index in 0..=chunk.len() {
            encoded.push(char::from(
                ALPHABET[((bits >> (18 - 6 * index)) & 63) as usize],
            ));
        }
    }
    encoded
}

#[tokio::test]
async fn crafted_import_writes_own_tenant_only() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let other = admin(&app, "other", "Andere Apotheke").await;
    let other_root = root_id(&app, &other.tenant).await;
    let other_branch =
        insert_unit(&app, &other.tenant, other_root, "branch", "Andere Filiale").await;
    insert_employee(
        &app,
        &other.tenant,
        other_branch,
        "1001",
        Some("tom@andere.example"),
        "de",
    )
    .await;
    let other_before = tenant_state(&app, &other.tenant).await;

    // The planner previews a harmless file, then swaps the hidden file for one that names the
    // other tenant's branch and personnel number, with a matching digest.
    let mut fields =
        preview_fields(&app, &acme, b"Personalnummer;Nachname;Vorname\r\n9;A;B\r\n").await;
    let crafted =
        "Personalnummer;Nachname;Vorname;Filiale\r\n1001;Eindringling;Eve;Andere Filiale\r\n";
    for (name, value) in &mut fields {
        match *name {
            "datei" => *value = base64_url(crafted.as_bytes()),
            "pruefsumme" => *value = mep24web_platform::tokens::hash(crafted),
            _ => {}
        }
    }
    let url = acme.url(&app, CONFIRM_PATH);
    let response = post_fields(&acme.client, &url, &fields).await;
    // The plan of the preview no longer fits, so a new preview shows what would happen.
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert_eq!(employee_count(&app, &acme.tenant).await, 0);
    let plan = hidden_field(&page, "plan");
    for (name, value) in &mut fields {
        if *name == "plan" {
            *value = plan.clone();
        }
    }
    let response = post_fields(&acme.client, &url, &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    assert_eq!(tenant_state(&app, &other.tenant).await, other_before);
    let created = employee::Entity::find()
        .filter(employee::Column::TenantId.eq(acme.tenant.id.get()))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].personnel_number, "1001");
    assert_eq!(created[0].last_name, "Eindringling");
    let branch = org_unit::Entity::find_by_id(created[0].org_unit_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(branch.tenant_id, acme.tenant.id.get());
    assert_eq!(branch.name, "Andere Filiale");
    assert_ne!(branch.id, other_branch);
}

// ---------------------------------------------------------------------------------------------
// Authorization inside one tenant
// ---------------------------------------------------------------------------------------------

/// GET routes under Konfiguration that need the Administrator role.
fn configuration_paths(rows: &Rows) -> Vec<String> {
    let mut paths = get_routes(rows);
    paths.extend(
        [
            "/admin/stammdaten",
            "/admin/stammdaten/mitarbeiter/neu",
            UPLOAD_PATH,
            "/admin/einstellungen",
            "/admin/einstellungen/anmeldung",
            "/admin/einstellungen/mitarbeiterportal",
            "/admin/sicherheit/benutzer",
            "/admin/sicherheit/benutzer/neu",
        ]
        .map(str::to_owned),
    );
    paths
}

#[tokio::test]
async fn planner_without_rights_forbidden_on_configuration() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let rows = tenant_rows(&app, &acme.tenant, "Acme").await;
    let no_rights = mep24web_tests::accounts::group_without_rights(&app, &acme.tenant).await;
    mep24web_tests::accounts::set_group(&app, &acme.tenant, "planung", &no_rights).await;
    let (planner, _) = sign_in(&app, &acme.tenant, "planung", PLANNER_PASSWORD).await;
    let before = tenant_state(&app, &acme.tenant).await;

    let (status, _) = get_text(&planner, &acme.url(&app, "/admin")).await;
    assert_eq!(status, StatusCode::OK);
    for path in configuration_paths(&rows) {
        let (status, _) = get_text(&planner, &acme.url(&app, &path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "GET {path}");
    }
    let mut posts = post_routes(&rows, rows.root);
    posts.push((
        "/admin/einstellungen/anmeldung".to_owned(),
        vec![
            ("max_failed_logins", "20".to_owned()),
            ("lockout_minutes", "1".to_owned()),
        ],
    ));
    posts.push((
        "/admin/einstellungen/mitarbeiterportal".to_owned(),
        vec![
            ("security_code", "Geklaut-1234".to_owned()),
            ("contact_email", String::new()),
            ("invitation_valid_days", "90".to_owned()),
        ],
    ));
    posts.push((
        "/admin/sicherheit/benutzer/neu".to_owned(),
        vec![
            ("username", "hintertuer".to_owned()),
            ("display_name", "Hintertür".to_owned()),
            ("email", String::new()),
            ("role", "administrator".to_owned()),
            ("password", "Uebernahme-Versuch-2026".to_owned()),
            ("password_repeat", "Uebernahme-Versuch-2026".to_owned()),
        ],
    ));
    // The planner promoting itself.
    posts.push((
        format!("/admin/sicherheit/benutzer/{}", rows.planner),
        vec![
            ("display_name", "Planung".to_owned()),
            ("email", String::new()),
            ("role", "administrator".to_owned()),
            ("active", "ja".to_owned()),
            ("password", String::new()),
            ("password_repeat", String::new()),
        ],
    ));
    for (path, fields) in posts {
        let response = post_fields(&planner, &acme.url(&app, &path), &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    assert_eq!(tenant_state(&app, &acme.tenant).await, before);
}

#[tokio::test]
async fn employee_session_forbidden_on_main_program() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let rows = tenant_rows(&app, &acme.tenant, "Acme").await;
    let (employee, _) = sign_in(&app, &acme.tenant, "anna", EMPLOYEE_PASSWORD).await;
    let before = tenant_state(&app, &acme.tenant).await;

    let mut paths = configuration_paths(&rows);
    paths.push("/admin".to_owned());
    for path in paths {
        let (status, _) = get_text(&employee, &acme.url(&app, &path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "GET {path}");
    }
    for (path, fields) in post_routes(&rows, rows.root) {
        let response = post_fields(&employee, &acme.url(&app, &path), &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    assert_eq!(tenant_state(&app, &acme.tenant).await, before);
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_ids_answer_not_found() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    for raw in [
        "0",
        "-1",
        "99999999999999999999",
        "1e3",
        "%00",
        "1%2F2",
        "%C3%A4",
        "x",
    ] {
        for path in [
            format!("/admin/stammdaten/mitarbeiter/{raw}"),
            format!("/admin/stammdaten/mitarbeiter/{raw}/benutzer"),
            format!("/admin/stammdaten/ebene/{raw}"),
            format!("/admin/sicherheit/benutzer/{raw}"),
            format!("/admin/stammdaten?ebene={raw}"),
            format!("/admin/stammdaten/einladen?ebene={raw}"),
            format!("/admin/stammdaten/ebene/neu?uebergeordnet={raw}"),
        ] {
            let (status, _) = get_text(&acme.client, &acme.url(&app, &path)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
        }
    }
}

#[tokio::test]
async fn settings_out_of_range_rejected() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let before = tenant_state(&app, &acme.tenant).await;
    for value in [
        "-1",
        "0",
        "99999999999999999999",
        "1e3",
        "5.0",
        "٣",
        "",
        "NaN",
        "2147483648",
    ] {
        let response = post_form(
            &acme.client,
            &acme.url(&app, "/admin/einstellungen/anmeldung"),
            &[("max_failed_logins", value), ("lockout_minutes", value)],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "login tab {value:?}"
        );
        let response = post_form(
            &acme.client,
            &acme.url(&app, "/admin/einstellungen/mitarbeiterportal"),
            &[
                ("security_code", SECURITY_CODE),
                ("contact_email", ""),
                ("invitation_valid_days", value),
            ],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "portal tab {value:?}"
        );
    }
    // A contact address that would add a mail header.
    let response = post_form(
        &acme.client,
        &acme.url(&app, "/admin/einstellungen/mitarbeiterportal"),
        &[
            ("security_code", SECURITY_CODE),
            (
                "contact_email",
                "planung@example.com\r\nBcc: alle@example.com",
            ),
            ("invitation_valid_days", "14"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(tenant_state(&app, &acme.tenant).await, before);
}

#[tokio::test]
async fn employee_form_bad_values_rejected_inline() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme.tenant).await;
    let branch = insert_unit(&app, &acme.tenant, root, "branch", "Filiale Nord").await;
    let before = tenant_state(&app, &acme.tenant).await;

    let valid = |field: &'static str, value: &str| {
        let mut fields = vec![
            ("personnel_number", "5001".to_owned()),
            ("first_name", "Anna".to_owned()),
            ("last_name", "Schmidt".to_owned()),
            ("email", String::new()),
            ("phone", String::new()),
            ("entry_date", String::new()),
            ("exit_date", String::new()),
            ("org_unit_id", branch.to_string()),
            ("language", "de".to_owned()),
        ];
        for entry in &mut fields {
            if entry.0 == field {
                entry.1 = value.to_owned();
            }
        }
        fields
    };
    let cases = [
        ("entry_date", "31.02.2024"),
        ("entry_date", "2024-13-01"),
        ("entry_date", "00.00.0000"),
        ("exit_date", "01.01.9999"),
        ("first_name", &"ä".repeat(101)),
        ("last_name", "Schmidt\u{0}"),
        ("personnel_number", &"9".repeat(33)),
        ("org_unit_id", "99999999999999999999"),
        ("org_unit_id", "-1"),
        ("org_unit_id", &root.to_string()),
        ("language", "fr"),
        ("email", "anna@example.com\r\nBcc: x@example.com"),
        ("phone", "+49 <script>"),
    ];
    for (field, value) in cases {
        let response = post_fields(
            &acme.client,
            &acme.url(&app, "/admin/stammdaten/mitarbeiter/neu"),
            &valid(field, value),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value:?}"
        );
        let body = response.text().await.unwrap();
        assert!(
            body.contains(&format!("id=\"e-{field}\"")),
            "{field}: no inline error"
        );
    }

    // A form body that is not a form at all.
    let response = acme
        .client
        .post(acme.url(&app, "/admin/stammdaten/mitarbeiter/neu"))
        .header(CONTENT_TYPE, "application/json")
        .body("{\"personnel_number\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    assert_eq!(tenant_state(&app, &acme.tenant).await, before);
}

#[tokio::test]
async fn username_case_and_nfc_variants_taken() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let form = |username: &str| {
        vec![
            ("username", username.to_owned()),
            ("display_name", "Jürgen Weiß".to_owned()),
            ("email", String::new()),
            ("role", "planer".to_owned()),
            ("password", "Dienstplan-Winter-2026".to_owned()),
            ("password_repeat", "Dienstplan-Winter-2026".to_owned()),
        ]
    };
    let url = acme.url(&app, "/admin/sicherheit/benutzer/neu");
    let response = post_fields(&acme.client, &url, &form("Jürgen.Weiß")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    for taken in [
        "JÜRGEN.WEIß",
        "jürgen.weiß",
        "Ju\u{0308}rgen.Weiß",
        " Jürgen.Weiß ",
        "ADMIN",
    ] {
        let response = post_fields(&acme.client, &url, &form(taken)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{taken:?}"
        );
    }
    for invalid in [
        "jürgen\u{200b}weiß",
        "jürgen weiß",
        "<b>jürgen</b>",
        "jürgen\u{202e}ssiew",
    ] {
        let response = post_fields(&acme.client, &url, &form(invalid)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{invalid:?}"
        );
        let body = response.text().await.unwrap();
        assert!(
            body.contains("id=\"e-username\""),
            "{invalid:?}: no inline error"
        );
    }
    let planners = account::Entity::find()
        .filter(account::Column::TenantId.eq(acme.tenant.id.get()))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(planners, 2);
}

#[tokio::test]
async fn import_unreadable_files_rejected_readably() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let utf16: Vec<u8> = std::iter::once([0xFF, 0xFE])
        .chain(
            "Personalnummer;Nachname;Vorname\r\n1;A;B\r\n"
                .encode_utf16()
                .map(u16::to_le_bytes),
        )
        .flatten()
        .collect();
    let binary: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let quotes = "\"Personalnummer\";\"Nachname\";\"Vorname\"\r\n\"1\";\"Weiß\"\"\";\"\"\"\"\"\r\n\"2\";\"unclosed;x\r\n".as_bytes().to_vec();
    for (name, bytes) in [("utf16", utf16), ("binary", binary), ("quotes", quotes)] {
        let response = upload(&acme.client, &acme.url(&app, UPLOAD_PATH), &bytes).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {status}"
        );
        assert!(
            body.contains("class=\"alert\"")
                || body.contains("class=\"error\"")
                || body.contains("problem"),
            "{name}: no message"
        );
        assert!(
            !body.contains("type=\"hidden\" name=\"datei\""),
            "{name}: offered for import"
        );
    }
    assert_eq!(employee_count(&app, &acme.tenant).await, 0);
}

#[tokio::test]
async fn import_markup_and_formulas_escaped_everywhere() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let script = "<script>alert(1)</script>";
    let image = "\"><img src=x onerror=alert(2)>";
    let formula = "=cmd|' /C calc'!A0";
    let file = format!(
        "Personalnummer;Nachname;Vorname;E-Mail;Filiale;Sprache\r\n\
         6001;{script};\"{}\";mallory@example.com;<b>Filiale</b>;en\r\n\
         6002;\"{}\";Eva;;<b>Filiale</b>;de\r\n",
        image.replace('"', "\"\""),
        formula.replace('"', "\"\"")
    );
    let response = upload(&acme.client, &acme.url(&app, UPLOAD_PATH), file.as_bytes()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    for raw in [script, image, "<b>Filiale</b>"] {
        assert!(!page.contains(raw), "preview shows {raw} unescaped");
    }
    assert!(page.contains(&html(script)));
    let fields =
        ["datei", "dateiname", "pruefsumme", "plan"].map(|name| (name, hidden_field(&page, name)));
    let response = post_fields(&acme.client, &acme.url(&app, CONFIRM_PATH), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Stored verbatim: the text is data, and every page escapes it.
    let stored = employee::Entity::find()
        .filter(employee::Column::TenantId.eq(acme.tenant.id.get()))
        .order_by_asc(employee::Column::PersonnelNumber)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(stored[0].last_name, script);
    assert_eq!(stored[1].last_name, formula);
    let mallory = stored[0].id;
    let root = root_id(&app, &acme.tenant).await;
    for path in [
        "/admin/stammdaten".to_owned(),
        format!("/admin/stammdaten/mitarbeiter/{mallory}"),
        format!("/admin/stammdaten/mitarbeiter/{mallory}/benutzer"),
        format!("/admin/stammdaten/einladen?ebene={root}"),
    ] {
        let (status, body) = get_text(&acme.client, &acme.url(&app, &path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        for raw in [script, image, "<b>Filiale</b>"] {
            assert!(!body.contains(raw), "{path} shows {raw} unescaped");
        }
    }

    let root = root.to_string();
    let id = mallory.to_string();
    let response = post_form(
        &acme.client,
        &acme.url(&app, INVITE_PATH),
        &[
            ("ebene", root.as_str()),
            ("aktion", "auswahl"),
            ("mitarbeiter", id.as_str()),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mail = app
        .wait_for_mail("mallory@example.com", Duration::from_secs(10))
        .await;
    assert!(
        !mail.html.contains(script),
        "mail HTML shows the script unescaped"
    );
    assert!(
        !mail.html.contains("<img"),
        "mail HTML shows the image unescaped"
    );
    assert!(mail.html.contains(&html(script)) || mail.html.contains("&lt;script&gt;"));
    assert!(mail.subject.starts_with("Invitation"), "{}", mail.subject);
    assert!(!mail.text.contains(SECURITY_CODE));
    assert!(!mail.html.contains(SECURITY_CODE));
}

// ---------------------------------------------------------------------------------------------
// Mail links
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn invitation_links_use_primary_host() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Apotheke am Markt").await;
    set_security_code(&app, &tenant).await;
    // Before the first request, so the resolver caches the custom domains.
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::PrimaryDomain,
            Expr::value(Some("dienstplan.apotheke.example")),
        )
        .filter(tenant::Column::Id.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
    for (domain, verified) in [
        ("dienstplan.apotheke.example", true),
        ("alt.apotheke.example", true),
    ] {
        tenant_domain::ActiveModel {
            tenant_id: Set(tenant.id.get()),
            domain: Set(domain.to_owned()),
            verified: Set(verified),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(app.db())
        .await
        .unwrap();
    }
    let root = root_id(&app, &tenant).await;
    let anna = insert_employee(
        &app,
        &tenant,
        root,
        "1001",
        Some("anna@apotheke.example"),
        "de",
    )
    .await;
    insert_login(
        &app,
        &tenant,
        "chefin",
        ADMIN_PASSWORD,
        Some("administrator"),
        None,
    )
    .await;
    let port = app.port;

    for host in [
        format!("acme.localhost:{port}"),
        format!("alt.apotheke.example:{port}"),
    ] {
        let client = app.client();
        let response = post_form(
            &client,
            &format!("http://{host}/login"),
            &[("username", "chefin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login via {host}");
        let level = root.to_string();
        let id = anna.id.to_string();
        let response = post_form(
            &client,
            &format!("http://{host}{INVITE_PATH}"),
            &[
                ("ebene", level.as_str()),
                ("aktion", "auswahl"),
                ("mitarbeiter", id.as_str()),
            ],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "invite via {host}"
        );
        let mail = app
            .wait_for_mail("anna@apotheke.example", Duration::from_secs(10))
            .await;
        let primary = format!("http://dienstplan.apotheke.example:{port}/");
        assert!(
            mail.links.iter().all(|link| link.starts_with(&primary)),
            "via {host}: {:?}",
            mail.links
        );
        assert!(
            mail.links
                .iter()
                .any(|link| link.starts_with(&format!("{primary}register/")))
        );
    }
}

/// Invites one employee through the form and returns the registration token from the mail.
async fn invite_and_read_token(
    app: &TestApp,
    admin: &Admin,
    level: i64,
    employee_id: i64,
    address: &str,
) -> String {
    let level = level.to_string();
    let id = employee_id.to_string();
    let response = post_form(
        &admin.client,
        &admin.url(app, INVITE_PATH),
        &[
            ("ebene", level.as_str()),
            ("aktion", "auswahl"),
            ("mitarbeiter", id.as_str()),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mail = app.wait_for_mail(address, Duration::from_secs(10)).await;
    let link = mail.link_starting_with(&format!("{}/register/", admin.tenant.access_link));
    link.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn email_change_ends_open_invitation() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme.tenant).await;
    let branch = insert_unit(&app, &acme.tenant, root, "branch", "Filiale Nord").await;
    // The planner typed a colleague's address by mistake and corrects it after sending.
    let anna = insert_employee(
        &app,
        &acme.tenant,
        branch,
        "1001",
        Some("kollege@apotheke.example"),
        "de",
    )
    .await;
    let token = invite_and_read_token(&app, &acme, root, anna.id, "kollege@apotheke.example").await;
    let register_url = acme.url(&app, &format!("/register/{token}"));
    let (status, _) = get_text(&app.client(), &register_url).await;
    assert_eq!(status, StatusCode::OK);

    let fields = vec![
        ("personnel_number", "1001".to_owned()),
        ("first_name", "Anna".to_owned()),
        ("last_name", "Schmidt".to_owned()),
        ("email", "anna@apotheke.example".to_owned()),
        ("phone", String::new()),
        ("entry_date", String::new()),
        ("exit_date", String::new()),
        ("org_unit_id", branch.to_string()),
        ("language", "de".to_owned()),
    ];
    let response = post_fields(
        &acme.client,
        &acme.url(&app, &format!("/admin/stammdaten/mitarbeiter/{}", anna.id)),
        &fields,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    assert!(open_invitations(&app, anna.id).await.is_empty());
    let (status, _) = get_text(&app.client(), &register_url).await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test]
async fn import_email_change_ends_invitation() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let root = root_id(&app, &acme.tenant).await;
    let anna = insert_employee(
        &app,
        &acme.tenant,
        root,
        "1001",
        Some("kollege@apotheke.example"),
        "de",
    )
    .await;
    let untouched = insert_employee(
        &app,
        &acme.tenant,
        root,
        "1002",
        Some("ben@apotheke.example"),
        "de",
    )
    .await;
    let token = invite_and_read_token(&app, &acme, root, anna.id, "kollege@apotheke.example").await;
    invite_and_read_token(&app, &acme, root, untouched.id, "ben@apotheke.example").await;

    let file = "Personalnummer;Nachname;Vorname;E-Mail\r\n\
                1001;Schmidt 1001;Anna;anna@apotheke.example\r\n\
                1002;Schmidt 1002;Anna;BEN@apotheke.example\r\n";
    let fields = preview_fields(&app, &acme, file.as_bytes()).await;
    let response = post_fields(&acme.client, &acme.url(&app, CONFIRM_PATH), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    assert!(open_invitations(&app, anna.id).await.is_empty());
    let (status, _) = get_text(
        &app.client(),
        &acme.url(&app, &format!("/register/{token}")),
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    // Only the case differs, which the import does not count as a change.
    assert_eq!(open_invitations(&app, untouched.id).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Long requests and other tenants
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_import_leaves_other_tenant_writable() {
    let app = spawn_app().await;
    let acme = admin(&app, "acme", "Apotheke am Markt").await;
    let other = admin(&app, "other", "Andere Apotheke").await;
    let mut file = String::from("Personalnummer;Nachname;Vorname;Filiale;Abteilung\r\n");
    for number in 1..=10_000 {
        file.push_str(&format!(
            "{number};Nachname {number};Vorname;Filiale {};Abteilung {}\r\n",
            number % 20,
            number % 7
        ));
    }
    let fields = preview_fields(&app, &acme, file.as_bytes()).await;
    let confirm_url = acme.url(&app, CONFIRM_PATH);
    let import = tokio::spawn({
        let client = acme.client.clone();
        async move {
            let started = Instant::now();
            let response = post_fields(&client, &confirm_url, &fields).await;
            (response.status(), started.elapsed())
        }
    });

    tokio::time::sleep(Duration::from_millis(200)).await;
    let root = root_id(&app, &other.tenant).await.to_string();
    let started = Instant::now();
    let response = post_form(
        &other.client,
        &other.url(&app, "/admin/stammdaten/ebene/neu"),
        &[("parent_id", root.as_str()), ("name", "Filiale Ost")],
    )
    .await;
    let other_took = started.elapsed();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let (status, import_took) = import.await.unwrap();
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(employee_count(&app, &acme.tenant).await, 10_000);
    eprintln!("import took {import_took:?}, the other tenant's write {other_took:?}");
    assert!(
        other_took < Duration::from_secs(3),
        "other tenant waited {other_took:?}"
    );
}

/// Runs the futures concurrently on the current task and returns their outputs in the order
/// given, like `futures::future::join_all`, which this crate does not depend on.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut all_done = true;
        for (index, slot) in pending.iter_mut().enumerate() {
            if let Some(future) = slot {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(output) => {
                        results[index] = Some(output);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    for result in results {
        outputs.push(result.unwrap());
    }
    outputs
}
