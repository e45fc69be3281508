//! Attacks on the rights of user groups: a branch manager whose employee rights are limited to
//! one branch, and a user manager who is not an administrator. Each test names the value the
//! product must return and checks the stored rows, because a leak or an escalation shows in the
//! page or in the data, not always in the status.

use chrono::{NaiveDate, Utc};
use mep24web_entities::{account, employee, org_unit};
use mep24web_platform::rights::Right;
use mep24web_platform::routes::Access;
use mep24web_platform::sessions::SessionKind;
use mep24web_tests::accounts::{self, create_group, planner_in_group};
use mep24web_tests::{TestApp, TestTenant, get_text, post_form, spawn_app};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// Data of the south branch that no page may show to the north branch's manager.
const SOUTH_SECRETS: [&str; 4] = [
    "Filiale Süd",
    "Geheimrath",
    "bernd.geheim@sued.example",
    "17.09.2013",
];

/// A tenant with the branches North and South, one employee in each, and its signed-in
/// administrator.
struct Company {
    tenant: TestTenant,
    admin: reqwest::Client,
    north: i64,
    south: i64,
    bernd_south: i64,
}

impl Company {
    fn url(&self, app: &TestApp, path: &str) -> String {
        app.tenant_url(&self.tenant.slug, path)
    }
}

async fn company(app: &TestApp, slug: &str) -> Company {
    let tenant = app.create_tenant(slug, &format!("Apotheke {slug}")).await;
    let admin = app.client();
    accounts::sign_in_admin(&tenant, &admin).await;
    let root = org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::ParentId.is_null())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    let north = insert_unit(app, &tenant, root, "Filiale Nord").await;
    let south = insert_unit(app, &tenant, root, "Filiale Süd").await;
    insert_employee(
        app,
        &tenant,
        north,
        ("2001", "Anna", "Nordmann"),
        "anna.nord@nord.example",
    )
    .await;
    let bernd_south = insert_employee(
        app,
        &tenant,
        south,
        ("2002", "Bernd", "Geheimrath"),
        "bernd.geheim@sued.example",
    )
    .await;
    Company {
        tenant,
        admin,
        north,
        south,
        bernd_south,
    }
}

async fn insert_unit(app: &TestApp, tenant: &TestTenant, parent: i64, name: &str) -> i64 {
    let kind = if name.starts_with("Filiale") {
        "branch"
    } else {
        "department"
    };
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

/// Inserts an employee who entered on 17 September 2013. The tuple contains personnel number,
/// first and last name.
async fn insert_employee(
    app: &TestApp,
    tenant: &TestTenant,
    unit: i64,
    (number, first, last): (&str, &str, &str),
    email: &str,
) -> i64 {
    let now = Utc::now();
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(number.to_owned()),
        first_name: Set(first.to_owned()),
        last_name: Set(last.to_owned()),
        email: Set(Some(email.to_owned())),
        phone: Set(None),
        entry_date: Set(NaiveDate::from_ymd_opt(2013, 9, 17)),
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
    .id
}

/// Signs in a member of a group with the four employee rights limited to the north branch.
async fn north_manager(app: &TestApp, company: &Company) -> reqwest::Client {
    let group = ("Leitung Nord", company.north);
    accounts::node_manager(app, &company.tenant, &company.admin, group, "leitung.nord").await
}

async fn upload_csv(
    app: &TestApp,
    company: &Company,
    client: &reqwest::Client,
    csv: &str,
) -> (StatusCode, String) {
    let boundary = "----mep24web-rights-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"datei\"; filename=\"liste.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(csv.as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = client
        .post(company.url(app, "/admin/stammdaten/import"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn assert_no_south_secret(body: &str, what: &str) {
    for secret in SOUTH_SECRETS {
        assert!(!body.contains(secret), "{what} shows {secret:?}:\n{body}");
    }
}

async fn all_employees(app: &TestApp, company: &Company) -> Vec<employee::Model> {
    employee::Entity::find()
        .filter(employee::Column::TenantId.eq(company.tenant.id.get()))
        .order_by_asc(employee::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

async fn all_units(app: &TestApp, company: &Company) -> Vec<org_unit::Model> {
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(company.tenant.id.get()))
        .order_by_asc(org_unit::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Branch manager
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_preview_hides_employees_outside_reach() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-import").await;
    let manager = north_manager(&app, &company).await;

    // A file that changes the south employee would show the stored values next to the new ones.
    // The north employee's row is shown with its change.
    let changing = "Personalnummer;Nachname;Vorname;E-Mail;Eintrittsdatum\n\
                    2001;Nordmann;Anna;anna.neu@nord.example;17.09.2013\n\
                    2002;Anders;Bernd;neu@example.de;01.01.2020\n";
    let (status, body) = upload_csv(&app, &company, &manager, changing).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Der Mitarbeiter mit der Personalnummer 2002 gehört nicht zu Ihrem Bereich."),
        "{body}"
    );
    assert_no_south_secret(&body, "preview of a changing row");
    assert_eq!(body.matches("class=\"row-changed\"").count(), 1, "{body}");
    assert!(
        body.contains("anna.nord@nord.example → anna.neu@nord.example"),
        "{body}"
    );

    // A file with the stored values would mark the row unchanged, which confirms a guess.
    let guessing = "Personalnummer;Nachname;Vorname;E-Mail;Eintrittsdatum\n\
                    2002;Geheimrath;Bernd;bernd.geheim@sued.example;17.09.2013\n";
    let (status, body) = upload_csv(&app, &company, &manager, guessing).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("row-unchanged"), "{body}");
    assert!(!body.contains("row-changed"), "{body}");
    assert!(!body.contains("name=\"plan\""), "{body}");
}

#[tokio::test]
async fn branch_manager_cannot_rename_own_branch() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-umbenennen").await;
    let manager = north_manager(&app, &company).await;
    let units_before = all_units(&app, &company).await;

    // The branch's name belongs to the organization, which lies outside the reach.
    let path = format!("/admin/stammdaten/ebene/{}", company.north);
    let (status, _) = get_text(&manager, &company.url(&app, &path)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = post_form(
        &manager,
        &company.url(&app, &path),
        &[("name", "Filiale Nord (meine)")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(all_units(&app, &company).await, units_before);

    // The overview offers no rename of the branch itself, only new departments.
    let overview = format!("/admin/stammdaten?ebene={}", company.north);
    let (status, body) = get_text(&manager, &company.url(&app, &overview)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(&format!(
        "href=\"/admin/stammdaten/ebene/{}\"",
        company.north
    )));
    assert!(body.contains("/admin/stammdaten/ebene/neu?uebergeordnet="));

    // A department inside the branch can still be renamed.
    let kasse = insert_unit(&app, &company.tenant, company.north, "Kasse").await;
    let response = post_form(
        &manager,
        &company.url(&app, &format!("/admin/stammdaten/ebene/{kasse}")),
        &[("name", "Kasse 1")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let renamed = org_unit::Entity::find_by_id(kasse)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "Kasse 1");

    // The administrator renames branches as before.
    let response = post_form(
        &company.admin,
        &company.url(&app, &path),
        &[("name", "Filiale Nordstadt")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// Fills a path of the route table with ids of the south branch.
fn south_path(path: &str, company: &Company) -> String {
    let id = if path.starts_with("/admin/stammdaten/mitarbeiter/") {
        company.bernd_south
    } else {
        company.south
    };
    path.replace("{id}", &id.to_string())
}

/// Returns a form that names the south branch and its employee wherever a form takes an id.
fn south_form(company: &Company) -> Vec<(&'static str, String)> {
    let south = company.south.to_string();
    vec![
        ("parent_id", south.clone()),
        ("org_unit_id", south.clone()),
        ("ebene", south),
        ("mitarbeiter", company.bernd_south.to_string()),
        ("aktion", "alle".to_owned()),
        ("name", "Übernommen".to_owned()),
        ("personnel_number", "9999".to_owned()),
        ("first_name", "X".to_owned()),
        ("last_name", "Y".to_owned()),
        ("entry_date", String::new()),
        ("exit_date", String::new()),
        ("language", "de".to_owned()),
        ("username", "uebernommen".to_owned()),
        ("active", "nein".to_owned()),
        ("password", "Ein-langes-Passwort-77".to_owned()),
        ("password_repeat", "Ein-langes-Passwort-77".to_owned()),
    ]
}

/// Every route that needs one of the four employee rights, called by the north branch's
/// manager with the south branch's ids in path, query and form: none may change a row or show
/// the south branch's data. A handler that checks the right but not its reach fails here.
#[tokio::test]
async fn every_employee_route_keeps_to_the_reach() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-matrix").await;
    let response = post_form(
        &company.admin,
        &company.url(&app, "/admin/einstellungen/mitarbeiterportal"),
        &[
            ("security_code", "NORD-2026"),
            ("invitation_valid_days", "14"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "security code");
    let manager = north_manager(&app, &company).await;
    let employees_before = all_employees(&app, &company).await;
    let units_before = all_units(&app, &company).await;
    let accounts_before = account::Entity::find()
        .filter(account::Column::TenantId.eq(company.tenant.id.get()))
        .order_by_asc(account::Column::Id)
        .all(app.db())
        .await
        .unwrap();

    let routes = mep24web::pages::tenant_routes().into_parts().1;
    let scoped: Vec<_> = routes
        .iter()
        .filter(|entry| matches!(entry.access, Access::Right(right) if right.is_scopable()))
        .collect();
    assert!(
        scoped.len() >= 15,
        "only {} routes need an employee right",
        scoped.len()
    );
    for entry in scoped {
        let what = format!("{} {}", entry.method, entry.path);
        let path = south_path(&entry.path, &company);
        let response = if entry.method == Method::GET {
            let query = format!("?ebene={0}&uebergeordnet={0}", company.south);
            manager
                .get(company.url(&app, &format!("{path}{query}")))
                .send()
                .await
                .unwrap()
        } else {
            manager
                .post(company.url(&app, &path))
                .form(&south_form(&company))
                .send()
                .await
                .unwrap()
        };
        let status = response.status();
        let body = response.text().await.unwrap();
        let allowed: &[StatusCode] = if entry.method == Method::GET {
            &[StatusCode::OK, StatusCode::NOT_FOUND]
        } else {
            &[StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY]
        };
        assert!(allowed.contains(&status), "{what}: {status}\n{body}");
        assert_no_south_secret(&body, &what);
    }

    assert_eq!(all_employees(&app, &company).await, employees_before);
    assert_eq!(all_units(&app, &company).await, units_before);
    let accounts_after = account::Entity::find()
        .filter(account::Column::TenantId.eq(company.tenant.id.get()))
        .order_by_asc(account::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(accounts_after.len(), accounts_before.len());
    for (after, before) in accounts_after.iter().zip(&accounts_before) {
        assert_eq!(
            (
                after.id,
                &after.username,
                &after.password_hash,
                after.active
            ),
            (
                before.id,
                &before.username,
                &before.password_hash,
                before.active
            )
        );
    }
    let invitations = mep24web_entities::invitation::Entity::find()
        .filter(mep24web_entities::invitation::Column::TenantId.eq(company.tenant.id.get()))
        .all(app.db())
        .await
        .unwrap();
    assert!(invitations.is_empty(), "{invitations:?}");
}

// ---------------------------------------------------------------------------------------------
// User manager who is not an administrator
// ---------------------------------------------------------------------------------------------

/// Signs in a member of "Personalbüro", who manages users and views master data, and creates
/// the group "Leser" that only views master data. Returns the client and Leser's key.
async fn user_manager(app: &TestApp, company: &Company) -> (reqwest::Client, String) {
    let tenant = &company.tenant;
    let rights = [("users_manage", None), ("masterdata_view", None)];
    let (_, office) = create_group(app, tenant, &company.admin, "Personalbüro", &rights).await;
    let (_, reader) = create_group(
        app,
        tenant,
        &company.admin,
        "Leser",
        &[("masterdata_view", None)],
    )
    .await;
    let client = planner_in_group(app, tenant, "personal", &office).await;
    (client, reader)
}

async fn account_row(app: &TestApp, id: i64) -> account::Model {
    account::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Sends `request` while an uncommitted transaction of the test contains the change `hold`, and
/// commits the change half a second later. The request reads the state before the change and
/// then waits for the write lock (SQLite) or the changed row (PostgreSQL), so its write comes
/// after the change. Returns the request's status.
async fn send_during_change<H, F>(app: &TestApp, hold: H, request: F) -> StatusCode
where
    H: AsyncFnOnce(&sea_orm::DatabaseTransaction),
    F: std::future::Future<Output = reqwest::Response> + Send + 'static,
{
    use sea_orm::TransactionTrait;
    let txn = app.db().begin().await.unwrap();
    hold(&txn).await;
    let request = tokio::spawn(request);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    txn.commit().await.unwrap();
    request.await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_during_save_keeps_administrator() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-befoerdert").await;
    let (manager, reader) = user_manager(&app, &company).await;
    let colleague = accounts::insert_planner(&app, &company.tenant, "kollege", &reader).await;
    let before = account_row(&app, colleague).await;

    // The user manager sets the colleague's password while an administrator promotes them.
    let url = company.url(&app, &format!("/admin/sicherheit/benutzer/{colleague}"));
    let fields = [
        ("display_name", "Kollege".to_owned()),
        ("email", String::new()),
        ("role", reader.clone()),
        ("active", "ja".to_owned()),
        ("password", "Uebernommen-Passwort-2026".to_owned()),
        ("password_repeat", "Uebernommen-Passwort-2026".to_owned()),
    ];
    let promote = async |txn: &sea_orm::DatabaseTransaction| {
        account::Entity::update_many()
            .col_expr(
                account::Column::Role,
                sea_orm::sea_query::Expr::value("administrator"),
            )
            .filter(account::Column::Id.eq(colleague))
            .exec(txn)
            .await
            .unwrap();
    };
    let save = async move { manager.post(url).form(&fields).send().await.unwrap() };
    let status = send_during_change(&app, promote, save).await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    let after = account_row(&app, colleague).await;
    assert_eq!(after.role.as_deref(), Some("administrator"));
    assert_eq!(after.password_hash, before.password_hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_raised_during_create_refuse_user() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-erweitert").await;
    let (manager, reader) = user_manager(&app, &company).await;
    let reader_group = mep24web_entities::user_group::Entity::find()
        .filter(mep24web_entities::user_group::Column::Key.eq(reader.clone()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();

    // The user manager creates a user in Leser while an administrator adds a right to Leser
    // that the user manager lacks.
    let url = company.url(&app, "/admin/sicherheit/benutzer/neu");
    let fields = [
        ("username", "neu.leser".to_owned()),
        ("display_name", "Neu".to_owned()),
        ("email", String::new()),
        ("role", reader.clone()),
        ("password", "Ein-langes-Passwort-77".to_owned()),
        ("password_repeat", "Ein-langes-Passwort-77".to_owned()),
    ];
    let tenant_id = company.tenant.id.get();
    let raise = async |txn: &sea_orm::DatabaseTransaction| {
        mep24web_entities::user_group_right::ActiveModel {
            tenant_id: Set(tenant_id),
            group_id: Set(reader_group.id),
            right_code: Set(Right::ChangeSettings.code().to_owned()),
            org_unit_id: Set(None),
            ..Default::default()
        }
        .insert(txn)
        .await
        .unwrap();
        mep24web_entities::user_group::Entity::update_many()
            .col_expr(
                mep24web_entities::user_group::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(mep24web_entities::user_group::Column::Id.eq(reader_group.id))
            .exec(txn)
            .await
            .unwrap();
    };
    let create = async move { manager.post(url).form(&fields).send().await.unwrap() };
    let status = send_during_change(&app, raise, create).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let created = account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant_id))
        .filter(account::Column::UsernameKey.eq("neu.leser"))
        .one(app.db())
        .await
        .unwrap();
    assert_eq!(created, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_deleted_during_save_is_not_assigned() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-geloescht").await;
    let (manager, reader) = user_manager(&app, &company).await;
    let no_rights = accounts::group_without_rights(&app, &company.tenant).await;
    let colleague = accounts::insert_planner(&app, &company.tenant, "kollege", &no_rights).await;
    let before = account_row(&app, colleague).await;

    // The user manager moves the colleague into Leser while an administrator deletes Leser.
    let url = company.url(&app, &format!("/admin/sicherheit/benutzer/{colleague}"));
    let fields = [
        ("display_name", "Kollege".to_owned()),
        ("email", String::new()),
        ("role", reader.clone()),
        ("active", "ja".to_owned()),
    ];
    let tenant_id = company.tenant.id.get();
    let delete = async |txn: &sea_orm::DatabaseTransaction| {
        mep24web_entities::user_group::Entity::delete_many()
            .filter(mep24web_entities::user_group::Column::TenantId.eq(tenant_id))
            .filter(mep24web_entities::user_group::Column::Key.eq(reader.clone()))
            .exec(txn)
            .await
            .unwrap();
    };
    let save = async move { manager.post(url).form(&fields).send().await.unwrap() };
    let status = send_during_change(&app, delete, save).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(account_row(&app, colleague).await.role, before.role);
}

// ---------------------------------------------------------------------------------------------
// Branch manager while an employee moves to another branch
// ---------------------------------------------------------------------------------------------

async fn employee_numbered(app: &TestApp, company: &Company, number: &str) -> employee::Model {
    employee::Entity::find()
        .filter(employee::Column::TenantId.eq(company.tenant.id.get()))
        .filter(employee::Column::PersonnelNumber.eq(number))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Returns a change that moves the employee `id` into the node `unit`.
fn move_employee(id: i64, unit: i64) -> impl AsyncFnOnce(&sea_orm::DatabaseTransaction) {
    async move |txn: &sea_orm::DatabaseTransaction| {
        employee::Entity::update_many()
            .col_expr(
                employee::Column::OrgUnitId,
                sea_orm::sea_query::Expr::value(unit),
            )
            .filter(employee::Column::Id.eq(id))
            .exec(txn)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employee_moved_during_password_set_keeps_password() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-versetzt").await;
    let manager = north_manager(&app, &company).await;
    let anna = employee_numbered(&app, &company, "2001").await;
    let tab = format!("/admin/stammdaten/mitarbeiter/{}/benutzer", anna.id);
    let response = post_form(
        &company.admin,
        &company.url(&app, &tab),
        &[
            ("username", "anna.nord"),
            ("password", "Annas-Passwort-2026"),
            ("password_repeat", "Annas-Passwort-2026"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "login of Anna");
    let login = account::Entity::find()
        .filter(account::Column::EmployeeId.eq(anna.id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();

    // The north manager sets Anna's password while an administrator moves her to the south.
    let url = company.url(&app, &format!("{tab}/passwort"));
    let fields = [
        ("password", "Uebernommen-Passwort-2026"),
        ("password_repeat", "Uebernommen-Passwort-2026"),
    ];
    let set = async move { manager.post(url).form(&fields).send().await.unwrap() };
    let status = send_during_change(&app, move_employee(anna.id, company.south), set).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        account_row(&app, login.id).await.password_hash,
        login.password_hash
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employee_moved_during_edit_stays_moved() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-zurueck").await;
    let manager = north_manager(&app, &company).await;
    let anna = employee_numbered(&app, &company, "2001").await;

    // The north manager saves Anna's record while an administrator moves her to the south.
    let url = company.url(&app, &format!("/admin/stammdaten/mitarbeiter/{}", anna.id));
    let fields = [
        ("personnel_number", "2001".to_owned()),
        ("first_name", "Anna".to_owned()),
        ("last_name", "Nordmann".to_owned()),
        ("email", "anna.nord@nord.example".to_owned()),
        ("phone", String::new()),
        ("entry_date", "17.09.2013".to_owned()),
        ("exit_date", String::new()),
        ("org_unit_id", company.north.to_string()),
        ("language", "de".to_owned()),
    ];
    let save = async move { manager.post(url).form(&fields).send().await.unwrap() };
    let status = send_during_change(&app, move_employee(anna.id, company.south), save).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    let after = employee_numbered(&app, &company, "2001").await;
    assert_eq!(after.org_unit_id, company.south);
}

#[tokio::test]
async fn group_form_tricks_store_nothing() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-formular").await;
    let tenant = &company.tenant;
    let rights = [
        ("users_manage", None),
        ("masterdata_view", Some(company.north)),
    ];
    let (_, office) = create_group(&app, tenant, &company.admin, "Personal Nord", &rights).await;
    let manager = planner_in_group(&app, tenant, "personal.nord", &office).await;
    let groups_before = all_groups(&app, &company).await;
    let url = company.url(&app, "/admin/sicherheit/gruppen/neu");

    // A repeated scope field counts with its last value, and that value is checked.
    let north = company.north.to_string();
    let repeated = [
        ("name", "Doppelt"),
        ("right_masterdata_view", "ja"),
        ("scope_masterdata_view", north.as_str()),
        ("scope_masterdata_view", ""),
    ];
    let response = post_form(&manager, &url, &repeated).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A name whose lower case is longer than the name itself, and a name far too long.
    let expanding = "İ".repeat(100);
    let response = post_form(&company.admin, &url, &[("name", expanding.as_str())]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let huge = "x".repeat(200_000);
    let response = post_form(&company.admin, &url, &[("name", huge.as_str())]).await;
    assert!(
        [
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNPROCESSABLE_ENTITY
        ]
        .contains(&response.status()),
        "{}",
        response.status()
    );

    assert_eq!(all_groups(&app, &company).await, groups_before);
}

async fn all_groups(app: &TestApp, company: &Company) -> Vec<mep24web_entities::user_group::Model> {
    mep24web_entities::user_group::Entity::find()
        .filter(mep24web_entities::user_group::Column::TenantId.eq(company.tenant.id.get()))
        .order_by_asc(mep24web_entities::user_group::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Declared access against the handlers
// ---------------------------------------------------------------------------------------------

/// Inserts the group `label` with exactly these rights, on the whole organization, and a planner
/// in it, and returns the planner's session cookie.
async fn cookie_with_rights(
    app: &TestApp,
    tenant: &TestTenant,
    label: &str,
    rights: &[Right],
) -> String {
    let now = Utc::now();
    let group = mep24web_entities::user_group::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        key: Set(format!("r-{label}")),
        name: Set(format!("Rechte {label}")),
        name_key: Set(format!("rechte {label}")),
        builtin: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    for right in rights {
        mep24web_entities::user_group_right::ActiveModel {
            tenant_id: Set(tenant.id.get()),
            group_id: Set(group.id),
            right_code: Set(right.code().to_owned()),
            org_unit_id: Set(None),
            ..Default::default()
        }
        .insert(app.db())
        .await
        .unwrap();
    }
    let username = format!("planer.{label}");
    let account = accounts::insert_planner(app, tenant, &username, &group.key).await;
    let token = app.new_session(tenant.id, account, SessionKind::Web).await;
    format!("mep24web_session={token}")
}

/// For every route that declares a right: a planner with every other right gets 403, and a
/// planner with only that right gets past the check. A handler that requires another right than
/// its route declares fails here, while the route matrix checks only planners without any right.
#[tokio::test]
async fn every_right_route_enforces_declared_right() {
    let app = spawn_app().await;
    let company = company(&app, "rechte-erklaert").await;
    let tenant = &company.tenant;
    let anna = employee_numbered(&app, &company, "2001").await;
    let no_rights = accounts::group_without_rights(&app, tenant).await;
    let no_rights_group = mep24web_entities::user_group::Entity::find()
        .filter(mep24web_entities::user_group::Column::Key.eq(no_rights.clone()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let target = accounts::insert_planner(&app, tenant, "ziel", &no_rights).await;
    let fill = |path: &str| {
        let id = if path.starts_with("/admin/stammdaten/mitarbeiter/") {
            anna.id
        } else if path.starts_with("/admin/stammdaten/ebene/") {
            company.north
        } else if path.starts_with("/admin/sicherheit/benutzer/") {
            target
        } else {
            no_rights_group.id
        };
        path.replace("{id}", &id.to_string())
    };
    let form = [
        ("parent_id", company.north.to_string()),
        ("ebene", company.north.to_string()),
        ("role", no_rights.clone()),
        ("name", "Geändert".to_owned()),
        ("display_name", "Ziel".to_owned()),
        ("active", "ja".to_owned()),
    ];
    let routes = mep24web::pages::tenant_routes().into_parts().1;

    for right in Right::ALL {
        let mut others: Vec<Right> = Right::ALL
            .into_iter()
            .filter(|other| *other != right)
            .collect();
        if right == Right::ViewMasterData {
            // Editing master data includes viewing it.
            others.retain(|other| *other != Right::EditMasterData);
        }
        let without_label = format!("ohne-{}", right.code());
        let without = cookie_with_rights(&app, tenant, &without_label, &others).await;
        let only_label = format!("nur-{}", right.code());
        let only = cookie_with_rights(&app, tenant, &only_label, &[right]).await;
        for entry in routes
            .iter()
            .filter(|entry| entry.access == Access::Right(right))
        {
            let what = format!("{} {}", entry.method, entry.path);
            let url = company.url(&app, &fill(&entry.path));
            for (cookie, who) in [(&without, "every other right"), (&only, "only this right")] {
                let mut request = app
                    .client()
                    .request(entry.method.clone(), &url)
                    .header(reqwest::header::COOKIE, cookie);
                if entry.method == Method::POST {
                    request = request.form(&form);
                }
                let status = request.send().await.unwrap().status();
                if who == "every other right" {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what} with {who}");
                } else {
                    assert_ne!(status, StatusCode::FORBIDDEN, "{what} with {who}");
                    assert!(status.as_u16() < 500, "{what} with {who}: {status}");
                }
            }
        }
    }
}
