//! End-to-end tests of "Mitarbeiter einladen": the status list of a level, invitation mails
//! received by the test SMTP server, replacing invitations, and isolation between tenants and
//! branches.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate, Utc};
use mep24web_entities::{account, employee, invitation, org_unit, tenant_domain, tenant_settings};
use mep24web_platform::tokens;
use mep24web_tests::{ReceivedMail, TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

const ADMIN_PASSWORD: &str = "Einladungen-2026-Dom";
const SECURITY_CODE: &str = "DOM-2468";
const CONTACT_EMAIL: &str = "personal@apotheke-am-dom.de";
const VALID_DAYS: i32 = 5;
const SESSION_COOKIE: &str = "mep24web_session";
const PATH: &str = "/admin/stammdaten/einladen";
const MAIL_TIMEOUT: StdDuration = StdDuration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

/// A tenant with two branches and employees in every portal status.
struct Pharmacy {
    tenant: TestTenant,
    client: reqwest::Client,
    token: String,
    root: i64,
    heidelberg: i64,
    kasse: i64,
    mannheim: i64,
    /// Employee ids by first name.
    ids: HashMap<&'static str, i64>,
}

impl Pharmacy {
    fn id(&self, first_name: &str) -> i64 {
        *self
            .ids
            .get(first_name)
            .unwrap_or_else(|| panic!("no employee {first_name}"))
    }

    fn url(&self, app: &TestApp, path: &str) -> String {
        app.tenant_url(&self.tenant.slug, path)
    }

    fn list_url(&self, app: &TestApp, level: i64) -> String {
        self.url(app, &format!("{PATH}?ebene={level}"))
    }
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
    .unwrap_or_else(|error| panic!("inserting unit {name} failed: {error}"))
    .id
}

#[expect(
    clippy::too_many_arguments,
    reason = "one argument per column keeps the fixture table readable"
)]
async fn insert_employee(
    app: &TestApp,
    tenant: &TestTenant,
    number: &str,
    first_name: &str,
    last_name: &str,
    email: Option<&str>,
    unit: i64,
    exit_date: Option<NaiveDate>,
    language: &str,
) -> i64 {
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(number.to_owned()),
        first_name: Set(first_name.to_owned()),
        last_name: Set(last_name.to_owned()),
        email: Set(email.map(str::to_owned)),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(exit_date),
        org_unit_id: Set(unit),
        language: Set(language.to_owned()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap_or_else(|error| panic!("inserting employee {first_name} failed: {error}"))
    .id
}

async fn insert_login(
    app: &TestApp,
    tenant: &TestTenant,
    employee_id: i64,
    username: &str,
    active: bool,
) {
    let now = Utc::now();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("employee".to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_owned()),
        password_hash: Set(None),
        display_name: Set(username.to_owned()),
        role: Set(None),
        email: Set(None),
        employee_id: Set(Some(employee_id)),
        active: Set(active),
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
    .unwrap_or_else(|error| panic!("inserting login {username} failed: {error}"));
}

async fn insert_invitation(
    app: &TestApp,
    tenant: &TestTenant,
    employee_id: i64,
    created_days_ago: i64,
    valid_days: i64,
) {
    let created_at = Utc::now() - Duration::days(created_days_ago);
    invitation::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        employee_id: Set(employee_id),
        email: Set("alt@example.com".to_owned()),
        token_hash: Set(tokens::hash(&tokens::generate())),
        created_at: Set(created_at),
        expires_at: Set(created_at + Duration::days(valid_days)),
        used_at: Set(None),
        replaced_at: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap_or_else(|error| panic!("inserting invitation failed: {error}"));
}

async fn set_security_code(app: &TestApp, tenant: &TestTenant, code: Option<&str>) {
    tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::SecurityCode,
            Expr::value(code.map(str::to_owned)),
        )
        .col_expr(
            tenant_settings::Column::ContactEmail,
            Expr::value(CONTACT_EMAIL),
        )
        .col_expr(
            tenant_settings::Column::InvitationValidDays,
            Expr::value(VALID_DAYS),
        )
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap_or_else(|error| panic!("updating settings failed: {error}"));
}

/// First name, last name, email, org unit id, exit date and language of a seeded employee.
type Person = (
    &'static str,
    &'static str,
    Option<&'static str>,
    i64,
    Option<NaiveDate>,
    &'static str,
);

/// Creates the tenant `slug` with its administrator signed in and one employee per status.
///
/// - Heidelberg / Kasse: Anna (not invited), Carla (registered), Dora (deactivated), Ida
///   (invalid address), Jana (Anna's address in other case, English).
/// - Heidelberg: Bert (no address), Emil (departed), Fritz (invitation expired), Gina (invited).
/// - Mannheim: Hans.
async fn pharmacy(app: &TestApp, slug: &str) -> Pharmacy {
    let tenant = app.create_tenant(slug, "Apotheke am Dom").await;
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
    set_security_code(app, &tenant, Some(SECURITY_CODE)).await;

    let root = org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .one(app.db())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("tenant has no root"))
        .id;
    let heidelberg = insert_unit(app, &tenant, root, "branch", "Filiale Heidelberg").await;
    let kasse = insert_unit(app, &tenant, heidelberg, "department", "Kasse").await;
    let mannheim = insert_unit(app, &tenant, root, "branch", "Filiale Mannheim").await;

    let departed = Utc::now().date_naive() - Duration::days(2);
    let people: [Person; 10] = [
        (
            "Anna",
            "Schmidt",
            Some("anna.schmidt@example.com"),
            kasse,
            None,
            "de",
        ),
        ("Bert", "Braun", None, heidelberg, None, "de"),
        (
            "Carla",
            "Conrad",
            Some("carla@example.com"),
            kasse,
            None,
            "de",
        ),
        ("Dora", "Dietz", Some("dora@example.com"), kasse, None, "de"),
        (
            "Emil",
            "Ernst",
            Some("emil@example.com"),
            heidelberg,
            Some(departed),
            "de",
        ),
        (
            "Fritz",
            "Fuchs",
            Some("fritz@example.com"),
            heidelberg,
            None,
            "de",
        ),
        (
            "Gina",
            "Graf",
            Some("gina@example.com"),
            heidelberg,
            None,
            "de",
        ),
        (
            "Hans",
            "Huber",
            Some("hans@example.com"),
            mannheim,
            None,
            "de",
        ),
        (
            "Ida",
            "Imhof",
            Some("ida(at)example.com"),
            kasse,
            None,
            "de",
        ),
        (
            "Jana",
            "Jung",
            Some("Anna.Schmidt@Example.com"),
            kasse,
            None,
            "en",
        ),
    ];
    let mut ids = HashMap::new();
    for (number, (first, last, email, unit, exit, language)) in people.into_iter().enumerate() {
        let id = insert_employee(
            app,
            &tenant,
            &format!("{}", 100 + number),
            first,
            last,
            email,
            unit,
            exit,
            language,
        )
        .await;
        ids.insert(first, id);
    }
    insert_login(app, &tenant, ids["Carla"], "carla", true).await;
    insert_login(app, &tenant, ids["Dora"], "dora", false).await;
    insert_invitation(app, &tenant, ids["Fritz"], 20, 14).await;
    insert_invitation(app, &tenant, ids["Gina"], 2, 14).await;

    Pharmacy {
        tenant,
        client,
        token,
        root,
        heidelberg,
        kasse,
        mannheim,
        ids,
    }
}

/// Returns the table row of an employee in the list page.
fn row(body: &str, id: i64) -> &str {
    let start = body
        .find(&format!("<tr id=\"employee-{id}\">"))
        .unwrap_or_else(|| panic!("employee {id} not listed"));
    let end = body[start..].find("</tr>").unwrap_or(body.len() - start);
    &body[start..start + end]
}

fn status_of(body: &str, id: i64) -> String {
    let row = row(body, id);
    let start = row
        .find("data-status>")
        .unwrap_or_else(|| panic!("no status in {row}"))
        + "data-status>".len();
    let end = row[start..].find('<').unwrap_or(0);
    row[start..start + end].to_owned()
}

fn has_checkbox(body: &str, id: i64) -> bool {
    row(body, id).contains("type=\"checkbox\"")
}

async fn invitations_of(app: &TestApp, employee_id: i64) -> Vec<invitation::Model> {
    invitation::Entity::find()
        .filter(invitation::Column::EmployeeId.eq(employee_id))
        .order_by_asc(invitation::Column::Id)
        .all(app.db())
        .await
        .unwrap_or_else(|error| panic!("reading invitations failed: {error}"))
}

async fn all_invitations(app: &TestApp) -> Vec<invitation::Model> {
    invitation::Entity::find()
        .order_by_asc(invitation::Column::Id)
        .all(app.db())
        .await
        .unwrap_or_else(|error| panic!("reading invitations failed: {error}"))
}

async fn invite(
    app: &TestApp,
    pharmacy: &Pharmacy,
    level: i64,
    action: &str,
    ids: &[i64],
) -> reqwest::Response {
    let level = level.to_string();
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    let mut fields = vec![("ebene", level.as_str()), ("aktion", action)];
    fields.extend(ids.iter().map(|id| ("mitarbeiter", id.as_str())));
    post_form(&pharmacy.client, &pharmacy.url(app, PATH), &fields).await
}

/// Returns the token of the registration link in a mail.
fn token_of(mail: &ReceivedMail, access_link: &str) -> String {
    let prefix = format!("{access_link}/register/");
    mail.links
        .iter()
        .find_map(|link| link.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no registration link in {:?}", mail.links))
        .to_owned()
}

/// Waits until `count` mails arrived, or panics after the mail timeout.
async fn wait_for_mails(app: &TestApp, count: usize) -> Vec<ReceivedMail> {
    let deadline = std::time::Instant::now() + MAIL_TIMEOUT;
    loop {
        let mails = app.mails();
        if mails.len() >= count || std::time::Instant::now() > deadline {
            return mails;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// Waits for the outbox worker's next rounds and returns every mail received by then.
async fn mails_after_worker(app: &TestApp) -> Vec<ReceivedMail> {
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    app.mails()
}

// ---------------------------------------------------------------------------------------------
// Status list
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn invitation_list_shows_portal_status() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;

    let (status, body) = get_text(
        &pharmacy.client,
        &pharmacy.list_url(&app, pharmacy.heidelberg),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    let gina = invitations_of(&app, pharmacy.id("Gina")).await;
    let berlin = |at: chrono::DateTime<Utc>| {
        at.with_timezone(&chrono_tz::Europe::Berlin)
            .format("%d.%m.%Y")
            .to_string()
    };
    let invited = format!(
        "eingeladen am {}, gültig bis {}",
        berlin(gina[0].created_at),
        berlin(gina[0].expires_at)
    );
    let expected = [
        ("Anna", "nicht eingeladen", true),
        ("Bert", "keine E-Mail", false),
        ("Carla", "registriert", false),
        ("Dora", "deaktiviert", false),
        ("Emil", "ausgeschieden", false),
        ("Fritz", "Einladung abgelaufen", true),
        ("Gina", invited.as_str(), true),
        ("Ida", "E-Mail ungültig", false),
        ("Jana", "nicht eingeladen", true),
    ];
    for (name, text, checkbox) in expected {
        let id = pharmacy.id(name);
        assert_eq!(status_of(&body, id), text, "status of {name}");
        assert_eq!(has_checkbox(&body, id), checkbox, "checkbox of {name}");
    }
    assert!(
        !body.contains(&format!("employee-{}", pharmacy.id("Hans"))),
        "other branch listed"
    );
    assert!(body.contains("Alle auswählen und einladen (4)"));
    assert!(body.contains("Eine Einladung ist 5 Tage gültig."));
}

#[tokio::test]
async fn organization_list_includes_all_branches() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;

    let (status, body) = get_text(&pharmacy.client, &pharmacy.url(&app, PATH)).await;

    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Mitarbeiter einladen: Apotheke am Dom"));
    assert_eq!(status_of(&body, pharmacy.id("Hans")), "nicht eingeladen");
    assert!(row(&body, pharmacy.id("Hans")).contains("<td>Filiale Mannheim</td>"));
    assert!(row(&body, pharmacy.id("Anna")).contains("<td>Filiale Heidelberg &#x2f; Kasse</td>"));
    assert!(body.contains("Alle auswählen und einladen (5)"));
    let (status, _) = get_text(&pharmacy.client, &pharmacy.list_url(&app, pharmacy.root)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn invitation_list_rejects_other_levels() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;

    for level in [
        pharmacy.kasse.to_string(),
        "999999".to_owned(),
        "abc".to_owned(),
    ] {
        let (status, _) = get_text(
            &pharmacy.client,
            &pharmacy.url(&app, &format!("{PATH}?ebene={level}")),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "level {level}");
    }
}

#[tokio::test]
async fn invitation_list_without_security_code_warns() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;
    set_security_code(&app, &pharmacy.tenant, None).await;

    let (_, body) = get_text(
        &pharmacy.client,
        &pharmacy.list_url(&app, pharmacy.heidelberg),
    )
    .await;

    assert!(body.contains("Es ist noch kein Sicherheitscode festgelegt."));
    assert!(!body.contains("value=\"alle\""));
    let response = invite(
        &app,
        &pharmacy,
        pharmacy.heidelberg,
        "auswahl",
        &[pharmacy.id("Anna")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap_or_default();
    assert!(body.contains("id=\"alert\">Es ist noch kein Sicherheitscode festgelegt."));
    assert!(
        row(&body, pharmacy.id("Anna")).contains("checked"),
        "selection lost"
    );
    assert!(invitations_of(&app, pharmacy.id("Anna")).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn invite_selected_sends_mail_with_access_links() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;
    // The planner works under a verified custom domain of the tenant; the mail must still
    // point at the tenant's access link.
    tenant_domain::ActiveModel {
        tenant_id: Set(pharmacy.tenant.id.get()),
        domain: Set("dienstplan.apotheke-am-dom.test".to_owned()),
        verified: Set(true),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap_or_else(|error| panic!("inserting domain failed: {error}"));
    let other_host = format!("http://dienstplan.apotheke-am-dom.test:{}{PATH}", app.port);
    let anna = pharmacy.id("Anna");

    let response = app
        .client()
        .post(&other_host)
        .header(COOKIE, format!("{SESSION_COOKIE}={}", pharmacy.token))
        .form(&[
            ("ebene", pharmacy.heidelberg.to_string()),
            ("aktion", "auswahl".to_owned()),
            ("mitarbeiter", anna.to_string()),
        ])
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST failed: {error}"));

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("{PATH}?ebene={}&versendet=1", pharmacy.heidelberg)
    );
    let access_link = pharmacy.tenant.access_link.clone();
    assert_eq!(
        access_link,
        format!("http://apotheke-am-dom.localhost:{}", app.port)
    );
    let mail = app
        .wait_for_mail("anna.schmidt@example.com", MAIL_TIMEOUT)
        .await;
    assert_eq!(mail.recipients, ["anna.schmidt@example.com"]);
    assert_eq!(
        mail.subject,
        "Einladung zum Mitarbeiterportal – Apotheke am Dom"
    );
    assert_eq!(mail.reply_to, [CONTACT_EMAIL]);
    let token = token_of(&mail, &access_link);
    assert_eq!(
        mail.links,
        [
            format!("{access_link}/register/{token}"),
            format!("{access_link}/")
        ]
    );
    assert!(!mail.text.contains("dienstplan.apotheke-am-dom.test"));
    assert!(!mail.html.contains("dienstplan.apotheke-am-dom.test"));
    assert!(
        mail.html
            .contains(&format!("href=\"{access_link}/register/{token}\"").replace('/', "&#x2f;"))
    );
    assert!(!mail.text.contains(SECURITY_CODE));
    assert!(!mail.html.contains(SECURITY_CODE));
    assert!(mail.text.contains("Guten Tag Anna Schmidt,"));
    assert!(mail.text.contains(
        "Administrator von Apotheke am Dom lädt Sie in das Mitarbeiterportal von MEP24web ein."
    ));
    assert!(mail.text.contains(&format!(
        "Ihre Kundennummer lautet {}.",
        pharmacy.tenant.customer_number
    )));
    assert!(
        mail.text
            .contains("Speichern Sie diesen Link als Lesezeichen:")
    );
    assert!(
        mail.text
            .contains("Diesen Code erhalten Sie persönlich von Ihrer Planerin oder Ihrem Planer.")
    );

    let rows = invitations_of(&app, anna).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash, tokens::hash(&token));
    assert_eq!(rows[0].email, "anna.schmidt@example.com");
    assert_eq!(
        rows[0].expires_at - rows[0].created_at,
        Duration::days(i64::from(VALID_DAYS))
    );
    assert_eq!(rows[0].replaced_at, None);
    let valid_until = rows[0]
        .expires_at
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%d.%m.%Y, %H:%M Uhr")
        .to_string();
    assert!(mail.text.contains(&format!(
        "Der Registrierungslink ist bis {valid_until} gültig"
    )));

    let (status, _) = get_text(&app.client(), &format!("{access_link}/register/{token}")).await;
    assert_eq!(status, StatusCode::OK, "registration link does not open");
    let (_, body) = get_text(
        &pharmacy.client,
        &pharmacy.list_url(&app, pharmacy.heidelberg),
    )
    .await;
    assert!(status_of(&body, anna).starts_with("eingeladen am "));
}

#[tokio::test]
async fn invite_sent_notice_shows_count() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;

    let response = invite(
        &app,
        &pharmacy,
        pharmacy.heidelberg,
        "auswahl",
        &[pharmacy.id("Anna"), pharmacy.id("Fritz")],
    )
    .await;
    let (_, body) = get_text(&pharmacy.client, &pharmacy.url(&app, &location(&response))).await;

    assert!(body.contains("<p class=\"notice\" role=\"status\">2 Einladungen versendet.</p>"));
}

#[tokio::test]
async fn reinvite_replaces_earlier_invitation() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;
    let anna = pharmacy.id("Anna");
    let access_link = pharmacy.tenant.access_link.clone();

    invite(&app, &pharmacy, pharmacy.heidelberg, "auswahl", &[anna]).await;
    let first = token_of(
        &app.wait_for_mail("anna.schmidt@example.com", MAIL_TIMEOUT)
            .await,
        &access_link,
    );
    let response = invite(&app, &pharmacy, pharmacy.heidelberg, "auswahl", &[anna]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let second = token_of(
        &app.wait_for_mail("anna.schmidt@example.com", MAIL_TIMEOUT)
            .await,
        &access_link,
    );

    assert_ne!(first, second);
    let rows = invitations_of(&app, anna).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].token_hash, tokens::hash(&first));
    assert!(
        rows[0].replaced_at.is_some(),
        "first invitation not replaced"
    );
    assert_eq!(rows[1].token_hash, tokens::hash(&second));
    assert_eq!(rows[1].replaced_at, None);
    let (status, _) = get_text(&app.client(), &format!("{access_link}/register/{first}")).await;
    assert_eq!(status, StatusCode::GONE, "replaced link still opens");
    let (status, _) = get_text(&app.client(), &format!("{access_link}/register/{second}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn invite_all_invites_every_invitable_employee() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;
    let before = all_invitations(&app).await;

    let response = invite(&app, &pharmacy, pharmacy.heidelberg, "alle", &[]).await;

    assert_eq!(
        location(&response),
        format!("{PATH}?ebene={}&versendet=4", pharmacy.heidelberg)
    );
    let mails = wait_for_mails(&app, 4).await;
    let mut received: Vec<(Vec<String>, String)> = mails
        .iter()
        .map(|mail| (mail.recipients.clone(), mail.subject.clone()))
        .collect();
    received.sort();
    let german = "Einladung zum Mitarbeiterportal – Apotheke am Dom".to_owned();
    assert_eq!(
        received,
        [
            (
                vec!["Anna.Schmidt@Example.com".to_owned()],
                "Invitation to the employee portal – Apotheke am Dom".to_owned()
            ),
            (vec!["anna.schmidt@example.com".to_owned()], german.clone()),
            (vec!["fritz@example.com".to_owned()], german.clone()),
            (vec!["gina@example.com".to_owned()], german),
        ]
    );
    let after = all_invitations(&app).await;
    assert_eq!(after.len(), before.len() + 4);
    for previous in &before {
        let now = after
            .iter()
            .find(|row| row.id == previous.id)
            .unwrap_or_else(|| panic!("row vanished"));
        assert!(
            now.replaced_at.is_some(),
            "invitation {} not replaced",
            previous.id
        );
    }
    let invited: Vec<i64> = after[before.len()..]
        .iter()
        .map(|row| row.employee_id)
        .collect();
    let mut expected = vec![
        pharmacy.id("Anna"),
        pharmacy.id("Fritz"),
        pharmacy.id("Gina"),
        pharmacy.id("Jana"),
    ];
    let mut invited_sorted = invited.clone();
    invited_sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(invited_sorted, expected);
    assert_eq!(
        mails_after_worker(&app).await.len(),
        4,
        "more mails than invitations"
    );
}

#[tokio::test]
async fn invite_english_employee_gets_english_mail() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;

    invite(
        &app,
        &pharmacy,
        pharmacy.heidelberg,
        "auswahl",
        &[pharmacy.id("Jana")],
    )
    .await;

    let mails = wait_for_mails(&app, 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.recipients, ["Anna.Schmidt@Example.com"]);
    assert_eq!(
        mail.subject,
        "Invitation to the employee portal – Apotheke am Dom"
    );
    assert!(mail.text.contains("Hello Jana Jung,"));
    assert!(
        mail.text
            .contains("For security reasons it is not in this email.")
    );
    let rows = invitations_of(&app, pharmacy.id("Jana")).await;
    let valid_until = rows[0]
        .expires_at
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%d %B %Y, %H:%M")
        .to_string();
    assert!(mail.text.contains(&format!("valid until {valid_until}")));
    assert!(invitations_of(&app, pharmacy.id("Anna")).await.is_empty());
}

#[tokio::test]
async fn invite_ineligible_employees_skipped_and_reported() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;
    let (anna, bert, carla) = (
        pharmacy.id("Anna"),
        pharmacy.id("Bert"),
        pharmacy.id("Carla"),
    );

    let response = invite(
        &app,
        &pharmacy,
        pharmacy.heidelberg,
        "auswahl",
        &[carla, anna, bert],
    )
    .await;

    let target = location(&response);
    assert_eq!(
        target,
        format!(
            "{PATH}?ebene={}&versendet=1&uebersprungen={carla},{bert}",
            pharmacy.heidelberg
        )
    );
    let (_, body) = get_text(&pharmacy.client, &pharmacy.url(&app, &target)).await;
    assert!(body.contains("1 Einladung versendet."));
    assert!(body.contains("<li>Carla Conrad: registriert</li>"));
    assert!(body.contains("<li>Bert Braun: keine E-Mail</li>"));
    assert_eq!(invitations_of(&app, anna).await.len(), 1);
    assert!(invitations_of(&app, carla).await.is_empty());
    assert!(invitations_of(&app, bert).await.is_empty());
    let mails = mails_after_worker(&app).await;
    let recipients: Vec<Vec<String>> = mails.into_iter().map(|mail| mail.recipients).collect();
    assert_eq!(recipients, [vec!["anna.schmidt@example.com".to_owned()]]);
}

#[tokio::test]
async fn invite_without_selection_shows_message() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;

    let response = invite(&app, &pharmacy, pharmacy.heidelberg, "auswahl", &[]).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap_or_default();
    assert!(body.contains("Es ist kein Mitarbeiter ausgewählt."));
    assert_eq!(all_invitations(&app).await.len(), 2);
}

#[tokio::test]
async fn invite_completed_registration_shows_registered() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;
    let anna = pharmacy.id("Anna");
    invite(&app, &pharmacy, pharmacy.heidelberg, "auswahl", &[anna]).await;
    let mail = app
        .wait_for_mail("anna.schmidt@example.com", MAIL_TIMEOUT)
        .await;
    let token = token_of(&mail, &pharmacy.tenant.access_link);

    let response = post_form(
        &app.client(),
        &format!("{}/register/{token}", pharmacy.tenant.access_link),
        &[
            ("security_code", SECURITY_CODE),
            ("username", "anna.schmidt"),
            ("password", "Kasse-Frühling-2026"),
            ("password_repeat", "Kasse-Frühling-2026"),
        ],
    )
    .await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "registration failed: {}",
        response.status()
    );

    let (_, body) = get_text(
        &pharmacy.client,
        &pharmacy.list_url(&app, pharmacy.heidelberg),
    )
    .await;
    assert_eq!(status_of(&body, anna), "registriert");
    assert!(!has_checkbox(&body, anna));
}

// ---------------------------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn invite_employee_of_other_branch_not_found() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;

    let response = invite(
        &app,
        &pharmacy,
        pharmacy.heidelberg,
        "auswahl",
        &[pharmacy.id("Anna"), pharmacy.id("Hans")],
    )
    .await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(all_invitations(&app).await.len(), 2);
    assert!(mails_after_worker(&app).await.is_empty());
    let response = invite(
        &app,
        &pharmacy,
        pharmacy.mannheim,
        "auswahl",
        &[pharmacy.id("Hans")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn invite_employee_of_other_tenant_not_found() {
    let app = spawn_app().await;
    let pharmacy_a = pharmacy(&app, "apotheke-a").await;
    let pharmacy_b = pharmacy(&app, "apotheke-b").await;
    let before = all_invitations(&app).await;

    // Tenant B's employee and tenant B's levels, sent with tenant A's session to A's host.
    let foreign_employee = invite(
        &app,
        &pharmacy_a,
        pharmacy_a.heidelberg,
        "auswahl",
        &[pharmacy_a.id("Anna"), pharmacy_b.id("Anna")],
    )
    .await;
    let foreign_level = invite(
        &app,
        &pharmacy_a,
        pharmacy_b.heidelberg,
        "auswahl",
        &[pharmacy_b.id("Anna")],
    )
    .await;
    let foreign_level_all = invite(&app, &pharmacy_a, pharmacy_b.root, "alle", &[]).await;
    let (list_status, _) = get_text(
        &pharmacy_a.client,
        &pharmacy_a.list_url(&app, pharmacy_b.heidelberg),
    )
    .await;

    assert_eq!(foreign_employee.status(), StatusCode::NOT_FOUND);
    assert_eq!(foreign_level.status(), StatusCode::NOT_FOUND);
    assert_eq!(foreign_level_all.status(), StatusCode::NOT_FOUND);
    assert_eq!(list_status, StatusCode::NOT_FOUND);
    assert_eq!(all_invitations(&app).await, before);
    assert!(mails_after_worker(&app).await.is_empty());
}

#[tokio::test]
async fn invite_routes_reject_other_tenant_cookie() {
    let app = spawn_app().await;
    let pharmacy_a = pharmacy(&app, "apotheke-a").await;
    let pharmacy_b = pharmacy(&app, "apotheke-b").await;
    let before = all_invitations(&app).await;
    let stranger = app.client();
    let cookie = format!("{SESSION_COOKIE}={}", pharmacy_b.token);

    let list = stranger
        .get(pharmacy_a.list_url(&app, pharmacy_a.heidelberg))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET failed: {error}"));
    let send = stranger
        .post(pharmacy_a.url(&app, PATH))
        .header(COOKIE, &cookie)
        .form(&[
            ("ebene", pharmacy_a.heidelberg.to_string()),
            ("aktion", "alle".to_owned()),
        ])
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST failed: {error}"));

    assert_eq!(list.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&list), "/login");
    assert_eq!(send.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&send), "/login");
    assert_eq!(all_invitations(&app).await, before);
    assert!(mails_after_worker(&app).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Volume
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn invite_five_thousand_employees_at_once() {
    let app = spawn_app().await;
    let pharmacy = pharmacy(&app, "apotheke-am-dom").await;
    let branch = insert_unit(
        &app,
        &pharmacy.tenant,
        pharmacy.root,
        "branch",
        "Zentrallager",
    )
    .await;
    let now = Utc::now();
    let rows: Vec<employee::ActiveModel> = (0..5000)
        .map(|i| employee::ActiveModel {
            tenant_id: Set(pharmacy.tenant.id.get()),
            personnel_number: Set(format!("L{i:05}")),
            first_name: Set(format!("Person{i}")),
            last_name: Set("Lager".to_owned()),
            email: Set(Some(format!("lager{i}@example.com"))),
            phone: Set(None),
            entry_date: Set(None),
            exit_date: Set(None),
            org_unit_id: Set(branch),
            language: Set("de".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    for batch in rows.chunks(500) {
        employee::Entity::insert_many(batch.to_vec())
            .exec_without_returning(app.db())
            .await
            .unwrap_or_else(|error| panic!("inserting employees failed: {error}"));
    }

    let started = std::time::Instant::now();
    let response = invite(&app, &pharmacy, branch, "alle", &[]).await;
    let elapsed = started.elapsed();

    assert_eq!(
        location(&response),
        format!("{PATH}?ebene={branch}&versendet=5000")
    );
    let stored = invitation::Entity::find()
        .filter(invitation::Column::TenantId.eq(pharmacy.tenant.id.get()))
        .all(app.db())
        .await
        .unwrap_or_else(|error| panic!("reading invitations failed: {error}"));
    assert_eq!(stored.len(), 5000 + 2);
    eprintln!("inviting 5,000 employees took {elapsed:?}");
}
