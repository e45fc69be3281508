//! User groups (Konfiguration → Sicherheit → Benutzergruppen): rights granted per group, limited
//! to a branch where chosen, taken away on the next request, and never handed out beyond one's
//! own.

use mep24web_entities::{audit_event, employee, invitation, org_unit, user_group};
use mep24web_tests::accounts::{
    self, create_group, group_fields, insert_planner, planner_in_group, sign_in,
};
use mep24web_tests::{TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

/// A tenant with two branches, one employee in each, and its signed-in administrator.
struct Company {
    tenant: TestTenant,
    admin: reqwest::Client,
    root: i64,
    north: i64,
    south: i64,
    anna_north: i64,
    bernd_south: i64,
}

fn url(app: &TestApp, tenant: &TestTenant, path: &str) -> String {
    app.tenant_url(&tenant.slug, path)
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
    let north = create_unit(app, &tenant, &admin, root, "Filiale Nord").await;
    let south = create_unit(app, &tenant, &admin, root, "Filiale Süd").await;
    let anna_north = create_employee(app, &tenant, &admin, north, "2001", "Anna", "Nord").await;
    let bernd_south = create_employee(app, &tenant, &admin, south, "2002", "Bernd", "Süd").await;
    Company {
        tenant,
        admin,
        root,
        north,
        south,
        anna_north,
        bernd_south,
    }
}

async fn create_unit(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    parent: i64,
    name: &str,
) -> i64 {
    let parent = parent.to_string();
    let response = post_form(
        client,
        &url(app, tenant, "/admin/stammdaten/ebene/neu"),
        &[("parent_id", parent.as_str()), ("name", name)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "creating {name}");
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .filter(org_unit::Column::Name.eq(name))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

fn employee_form(unit: i64, number: &str, first: &str, last: &str) -> Vec<(&'static str, String)> {
    vec![
        ("personnel_number", number.to_owned()),
        ("first_name", first.to_owned()),
        ("last_name", last.to_owned()),
        (
            "email",
            format!("{}.{}@apotheke.example", first.to_lowercase(), number),
        ),
        ("phone", String::new()),
        ("entry_date", "01.03.2024".to_owned()),
        ("exit_date", String::new()),
        ("org_unit_id", unit.to_string()),
        ("language", "de".to_owned()),
    ]
}

async fn post_employee(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&'static str, String)],
) -> reqwest::Response {
    client
        .post(url(app, tenant, path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn create_employee(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    unit: i64,
    number: &str,
    first: &str,
    last: &str,
) -> i64 {
    let fields = employee_form(unit, number, first, last);
    let response = post_employee(
        app,
        tenant,
        client,
        "/admin/stammdaten/mitarbeiter/neu",
        &fields,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "creating {first}");
    employee::Entity::find()
        .filter(employee::Column::TenantId.eq(tenant.id.get()))
        .filter(employee::Column::PersonnelNumber.eq(number))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn status_of(client: &reqwest::Client, url: &str) -> StatusCode {
    client.get(url).send().await.unwrap().status()
}

async fn employee_row(app: &TestApp, id: i64) -> employee::Model {
    employee::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Creates "Filialleitung Nord" with the employee rights limited to the north branch and signs in
/// a member.
async fn branch_manager(app: &TestApp, company: &Company) -> reqwest::Client {
    let group = ("Filialleitung Nord", company.north);
    accounts::node_manager(app, &company.tenant, &company.admin, group, "leitung.nord").await
}

#[tokio::test]
async fn provisioning_creates_builtin_groups_and_planer_reaches_master_data_only() {
    let app = spawn_app().await;
    let company = company(&app, "gruppen-basis").await;
    let groups = user_group::Entity::find()
        .filter(user_group::Column::TenantId.eq(company.tenant.id.get()))
        .order_by_asc(user_group::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    let keys: Vec<&str> = groups.iter().map(|group| group.key.as_str()).collect();
    assert_eq!(keys, ["administrator", "planer"]);
    assert!(groups.iter().all(|group| group.builtin));

    let planner = planner_in_group(&app, &company.tenant, "petra", "planer").await;
    let tenant = &company.tenant;
    let (status, body) = get_text(&planner, &url(&app, tenant, "/admin/stammdaten")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Anna"));
    assert!(body.contains("Bernd"));
    for path in [
        "/admin/sicherheit/benutzer",
        "/admin/sicherheit/gruppen",
        "/admin/sicherheit/protokoll",
        "/admin/einstellungen/anmeldung",
    ] {
        assert_eq!(
            status_of(&planner, &url(&app, tenant, path)).await,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // The navigation offers what the group allows and nothing else.
    let (_, home) = get_text(&planner, &url(&app, tenant, "/admin")).await;
    assert!(home.contains("href=\"/admin/stammdaten\""));
    assert!(!home.contains("href=\"/admin/sicherheit/benutzer\""));
    assert!(!home.contains("href=\"/admin/einstellungen/anmeldung\""));
}

#[tokio::test]
async fn branch_manager_sees_and_changes_only_their_branch() {
    let app = spawn_app().await;
    let company = company(&app, "gruppen-filiale").await;
    let manager = branch_manager(&app, &company).await;
    let tenant = &company.tenant;

    // Lists: the overview starts at the branch and lists only its employees.
    let (status, body) = get_text(&manager, &url(&app, tenant, "/admin/stammdaten")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Anna"), "{body}");
    assert!(!body.contains("Bernd"));
    assert!(!body.contains("Filiale Süd"));
    let south_level = format!("/admin/stammdaten?ebene={}", company.south);
    assert_eq!(
        status_of(&manager, &url(&app, tenant, &south_level)).await,
        StatusCode::NOT_FOUND
    );
    let root_level = format!("/admin/stammdaten?ebene={}", company.root);
    assert_eq!(
        status_of(&manager, &url(&app, tenant, &root_level)).await,
        StatusCode::NOT_FOUND
    );

    // Direct URLs of an employee of the other branch are not found.
    for path in [
        format!("/admin/stammdaten/mitarbeiter/{}", company.bernd_south),
        format!(
            "/admin/stammdaten/mitarbeiter/{}/benutzer",
            company.bernd_south
        ),
        format!("/admin/stammdaten/ebene/{}", company.south),
        format!(
            "/admin/stammdaten/ebene/neu?uebergeordnet={}",
            company.south
        ),
    ] {
        assert_eq!(
            status_of(&manager, &url(&app, tenant, &path)).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let own = format!("/admin/stammdaten/mitarbeiter/{}", company.anna_north);
    assert_eq!(
        status_of(&manager, &url(&app, tenant, &own)).await,
        StatusCode::OK
    );

    // Changes: the other branch's employee stays as it was, and nobody lands in the other
    // branch, neither by editing nor by creating.
    let before = employee_row(&app, company.bernd_south).await;
    let fields = employee_form(company.south, "2002", "Bernhard", "Süd");
    let path = format!("/admin/stammdaten/mitarbeiter/{}", company.bernd_south);
    let response = post_employee(&app, tenant, &manager, &path, &fields).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(employee_row(&app, company.bernd_south).await, before);

    let fields = employee_form(company.south, "2001", "Anna", "Nord");
    let path = format!("/admin/stammdaten/mitarbeiter/{}", company.anna_north);
    let response = post_employee(&app, tenant, &manager, &path, &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        employee_row(&app, company.anna_north).await.org_unit_id,
        company.north
    );

    let fields = employee_form(company.south, "2003", "Clara", "Neu");
    let response = post_employee(
        &app,
        tenant,
        &manager,
        "/admin/stammdaten/mitarbeiter/neu",
        &fields,
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields = employee_form(company.north, "2003", "Clara", "Neu");
    let response = post_employee(
        &app,
        tenant,
        &manager,
        "/admin/stammdaten/mitarbeiter/neu",
        &fields,
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Nodes: a department under the own branch, none under the other one.
    let south = company.south.to_string();
    let response = post_form(
        &manager,
        &url(&app, tenant, "/admin/stammdaten/ebene/neu"),
        &[("parent_id", south.as_str()), ("name", "Kasse")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let north = company.north.to_string();
    let response = post_form(
        &manager,
        &url(&app, tenant, "/admin/stammdaten/ebene/neu"),
        &[("parent_id", north.as_str()), ("name", "Kasse")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Employee logins of the other branch cannot be created.
    let path = format!(
        "/admin/stammdaten/mitarbeiter/{}/benutzer",
        company.bernd_south
    );
    let response = post_form(
        &manager,
        &url(&app, tenant, &path),
        &[
            ("username", "bernd.sued"),
            ("password", "Bernds-Passwort-2026"),
            ("password_repeat", "Bernds-Passwort-2026"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn branch_manager_invites_only_their_branch() {
    let app = spawn_app().await;
    let company = company(&app, "gruppen-einladen").await;
    let tenant = &company.tenant;
    let response = post_form(
        &company.admin,
        &url(&app, tenant, "/admin/einstellungen/mitarbeiterportal"),
        &[
            ("security_code", "FILIALE-2026"),
            ("invitation_valid_days", "14"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "security code");
    let manager = branch_manager(&app, &company).await;

    let (status, body) = get_text(&manager, &url(&app, tenant, "/admin/stammdaten/einladen")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Anna"));
    assert!(!body.contains("Bernd"));

    // The other branch's level, and its employee chosen on the own level, are not found.
    let south = format!("/admin/stammdaten/einladen?ebene={}", company.south);
    assert_eq!(
        status_of(&manager, &url(&app, tenant, &south)).await,
        StatusCode::NOT_FOUND
    );
    let north = company.north.to_string();
    let bernd = company.bernd_south.to_string();
    let response = post_form(
        &manager,
        &url(&app, tenant, "/admin/stammdaten/einladen"),
        &[("ebene", north.as_str()), ("mitarbeiter", bernd.as_str())],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let invitations = invitation::Entity::find()
        .filter(invitation::Column::TenantId.eq(tenant.id.get()))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(invitations, 0);

    // "Invite all" on the whole organization reaches the own branch only.
    let root = company.root.to_string();
    let response = post_form(
        &manager,
        &url(&app, tenant, "/admin/stammdaten/einladen"),
        &[("ebene", root.as_str()), ("aktion", "alle")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let invited: Vec<i64> = invitation::Entity::find()
        .filter(invitation::Column::TenantId.eq(tenant.id.get()))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|row| row.employee_id)
        .collect();
    assert_eq!(invited, [company.anna_north]);
}

#[tokio::test]
async fn branch_manager_imports_only_into_their_branch() {
    let app = spawn_app().await;
    let company = company(&app, "gruppen-import").await;
    let manager = branch_manager(&app, &company).await;
    let tenant = &company.tenant;
    let csv = "Personalnummer;Nachname;Vorname;Filiale\n\
               2002;Süd;Bernd;Filiale Nord\n\
               2010;Neu;Nina;Filiale Süd\n\
               2011;Neu;Norbert;Filiale Nord\n";
    let body = upload(&app, tenant, &manager, csv.as_bytes()).await;
    assert!(
        body.contains("Der Mitarbeiter mit der Personalnummer 2002 gehört nicht zu Ihrem Bereich."),
        "{body}"
    );
    assert!(
        body.contains(
            "Diese Filiale oder Abteilung („Filiale Süd“) liegt außerhalb Ihres Bereichs."
        ),
        "{body}"
    );
    // A new branch would be created under the organization, which is outside the reach too.
    let body = upload(
        &app,
        tenant,
        &manager,
        "Personalnummer;Nachname;Vorname;Filiale\n2012;Neu;Olga;Filiale West\n".as_bytes(),
    )
    .await;
    assert!(body.contains("(„Filiale West“) liegt außerhalb"), "{body}");
    // Only the own branch goes through to the preview.
    let body = upload(
        &app,
        tenant,
        &manager,
        "Personalnummer;Nachname;Vorname;Filiale\n2011;Neu;Norbert;Filiale Nord\n".as_bytes(),
    )
    .await;
    assert!(!body.contains("außerhalb"), "{body}");
    assert!(body.contains("name=\"plan\""), "{body}");
}

async fn upload(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    bytes: &[u8],
) -> String {
    let boundary = "----mep24web-groups-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"datei\"; filename=\"m.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    client
        .post(url(app, tenant, "/admin/stammdaten/import"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn taking_a_right_away_applies_to_the_next_request() {
    let app = spawn_app().await;
    let company = company(&app, "gruppen-entzug").await;
    let tenant = &company.tenant;
    let (group_id, key) = create_group(
        &app,
        tenant,
        &company.admin,
        "Protokoll lesen",
        &[("audit_view", None), ("masterdata_view", None)],
    )
    .await;
    let reader = planner_in_group(&app, tenant, "leser", &key).await;
    let log = url(&app, tenant, "/admin/sicherheit/protokoll");
    assert_eq!(status_of(&reader, &log).await, StatusCode::OK);

    let response = company
        .admin
        .post(url(
            &app,
            tenant,
            &format!("/admin/sicherheit/gruppen/{group_id}"),
        ))
        .form(&group_fields(
            "Protokoll lesen",
            &[("masterdata_view", None)],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&reader, &log).await, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&reader, &url(&app, tenant, "/admin/stammdaten")).await,
        StatusCode::OK
    );

    // Moving the user to a group without rights closes master data as well.
    let (_, empty_key) = create_group(&app, tenant, &company.admin, "Ohne Rechte", &[]).await;
    let reader_id = accounts_id(&app, tenant, "leser").await;
    let response = post_form(
        &company.admin,
        &url(
            &app,
            tenant,
            &format!("/admin/sicherheit/benutzer/{reader_id}"),
        ),
        &[
            ("display_name", "Leser"),
            ("email", ""),
            ("role", empty_key.as_str()),
            ("active", "ja"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        status_of(&reader, &url(&app, tenant, "/admin/stammdaten")).await,
        StatusCode::FORBIDDEN
    );
    let (status, home) = get_text(&reader, &url(&app, tenant, "/admin")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Ihre Benutzergruppe hat keine Rechte in der Konfiguration."));
}

/// Saves the edit form of a planner user: display name, group key and "ja"/"nein" for active.
async fn save_user(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    path: &str,
    (display_name, role, active): (&str, &str, &str),
) -> reqwest::Response {
    post_form(
        client,
        &url(app, tenant, path),
        &[
            ("display_name", display_name),
            ("email", ""),
            ("role", role),
            ("active", active),
        ],
    )
    .await
}

/// Posts the "Neuer Benutzer" form for a user of the group `role`.
async fn create_user(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    username: &str,
    role: &str,
) -> reqwest::Response {
    post_form(
        client,
        &url(app, tenant, "/admin/sicherheit/benutzer/neu"),
        &[
            ("username", username),
            ("display_name", "Neu"),
            ("email", ""),
            ("role", role),
            ("password", "Ein-langes-Passwort-77"),
            ("password_repeat", "Ein-langes-Passwort-77"),
        ],
    )
    .await
}

async fn accounts_id(app: &TestApp, tenant: &TestTenant, username: &str) -> i64 {
    mep24web_entities::account::Entity::find()
        .filter(mep24web_entities::account::Column::TenantId.eq(tenant.id.get()))
        .filter(mep24web_entities::account::Column::UsernameKey.eq(username))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn user_managers_hand_out_no_more_than_they_hold() {
    let app = spawn_app().await;
    let company = company(&app, "gruppen-eskalation").await;
    let tenant = &company.tenant;
    let (_, key) = create_group(
        &app,
        tenant,
        &company.admin,
        "Personalbüro",
        &[
            ("users_manage", None),
            ("masterdata_view", Some(company.north)),
        ],
    )
    .await;
    let office = planner_in_group(&app, tenant, "personal", &key).await;
    let office_id = accounts_id(&app, tenant, "personal").await;

    // A group with a right the user manager lacks, or on a wider part of the tree, is refused.
    for (name, rights) in [
        ("Einstellungen", vec![("settings_change", None)]),
        ("Alle Stammdaten", vec![("masterdata_view", None)]),
        ("Süd", vec![("masterdata_view", Some(company.south))]),
    ] {
        let response = office
            .post(url(&app, tenant, "/admin/sicherheit/gruppen/neu"))
            .form(&group_fields(name, &rights))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains("Sie können nur Rechte vergeben, die Sie selbst haben"));
    }
    let (_, narrow_key) = create_group(
        &app,
        tenant,
        &office,
        "Nord lesen",
        &[("masterdata_view", Some(company.north))],
    )
    .await;

    // They cannot make anyone an administrator, themselves included.
    let response = save_user(
        &app,
        tenant,
        &office,
        &format!("/admin/sicherheit/benutzer/{office_id}"),
        ("Personal", "administrator", "ja"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = create_user(&app, tenant, &office, "neu.admin", "administrator").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = create_user(&app, tenant, &office, "neu.leser", narrow_key.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The administrator's account and the Planer group lie beyond the user manager's rights.
    let admin_id = accounts_id(&app, tenant, &tenant.admin_username).await;
    let admin_path = format!("/admin/sicherheit/benutzer/{admin_id}");
    assert_eq!(
        status_of(&office, &url(&app, tenant, &admin_path)).await,
        StatusCode::FORBIDDEN
    );
    let response = save_user(
        &app,
        tenant,
        &office,
        &admin_path,
        ("Übernommen", "administrator", "nein"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let planer_id = group_id(&app, tenant, "planer").await;
    let response = office
        .post(url(
            &app,
            tenant,
            &format!("/admin/sicherheit/gruppen/{planer_id}"),
        ))
        .form(&group_fields("Planer", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let admin_group = group_id(&app, tenant, "administrator").await;
    let response = company
        .admin
        .post(url(
            &app,
            tenant,
            &format!("/admin/sicherheit/gruppen/{admin_group}"),
        ))
        .form(&group_fields("Administrator", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

async fn group_id(app: &TestApp, tenant: &TestTenant, key: &str) -> i64 {
    user_group::Entity::find()
        .filter(user_group::Column::TenantId.eq(tenant.id.get()))
        .filter(user_group::Column::Key.eq(key))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn groups_are_deleted_only_without_members_and_every_change_is_logged() {
    let app = spawn_app().await;
    let company = company(&app, "gruppen-loeschen").await;
    let tenant = &company.tenant;
    let (id, key) = create_group(
        &app,
        tenant,
        &company.admin,
        "Aushilfen",
        &[("masterdata_view", Some(company.north))],
    )
    .await;
    let member = insert_planner(&app, tenant, "aushilfe", &key).await;
    let delete = url(
        &app,
        tenant,
        &format!("/admin/sicherheit/gruppen/{id}/loeschen"),
    );
    let response = post_form(&company.admin, &delete, &[]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.text().await.unwrap();
    assert!(body.contains("Dieser Gruppe gehören noch Benutzer an."));

    // Move the member to Planer, rename the group, then delete it.
    let response = save_user(
        &app,
        tenant,
        &company.admin,
        &format!("/admin/sicherheit/benutzer/{member}"),
        ("Aushilfe", "planer", "ja"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = company
        .admin
        .post(url(
            &app,
            tenant,
            &format!("/admin/sicherheit/gruppen/{id}"),
        ))
        .form(&group_fields(
            "Aushilfen Nord",
            &[("masterdata_view", Some(company.north))],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = post_form(&company.admin, &delete, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/sicherheit/gruppen?hinweis=geloescht"
    );

    // Built-in groups cannot be deleted.
    let planer = group_id(&app, tenant, "planer").await;
    let response = post_form(
        &company.admin,
        &url(
            &app,
            tenant,
            &format!("/admin/sicherheit/gruppen/{planer}/loeschen"),
        ),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let events = audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(tenant.id.get()))
        .filter(audit_event::Column::TargetKind.eq("user_group"))
        .order_by_asc(audit_event::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(actions, ["group_created", "group_updated", "group_deleted"]);
    assert_eq!(
        events[0].details,
        format!(r#"{{"rights":["masterdata_view@{}"]}}"#, company.north)
    );
    assert!(events[1].details.contains(r#""renamed_from":"Aushilfen""#));
    assert_eq!(events[2].target_name.as_deref(), Some("Aushilfen Nord"));
    assert!(
        events
            .iter()
            .all(|event| event.source_ip.as_deref() == Some("127.0.0.1"))
    );
}

#[tokio::test]
async fn another_tenants_groups_and_nodes_are_not_found() {
    let app = spawn_app().await;
    let first = company(&app, "gruppen-eins").await;
    let second = company(&app, "gruppen-zwei").await;
    let (other_group, _) = create_group(&app, &second.tenant, &second.admin, "Fremd", &[]).await;
    for path in [
        format!("/admin/sicherheit/gruppen/{other_group}"),
        "/admin/sicherheit/gruppen/0".to_owned(),
        "/admin/sicherheit/gruppen/abc".to_owned(),
    ] {
        assert_eq!(
            status_of(&first.admin, &url(&app, &first.tenant, &path)).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let response = post_form(
        &first.admin,
        &url(
            &app,
            &first.tenant,
            &format!("/admin/sicherheit/gruppen/{other_group}/loeschen"),
        ),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        user_group::Entity::find_by_id(other_group)
            .one(app.db())
            .await
            .unwrap()
            .is_some()
    );
    // A node of the other tenant cannot limit a grant.
    let response = first
        .admin
        .post(url(&app, &first.tenant, "/admin/sicherheit/gruppen/neu"))
        .form(&group_fields(
            "Fremde Filiale",
            &[("masterdata_view", Some(second.north))],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // And a planner of the first tenant cannot sign in to the second.
    insert_planner(&app, &first.tenant, "nur.eins", "planer").await;
    let response = post_form(
        &app.client(),
        &url(&app, &second.tenant, "/login"),
        &[("username", "nur.eins"), ("password", accounts::PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let _ = sign_in(&app, &first.tenant, "nur.eins").await;
}

#[tokio::test]
async fn demo_branch_manager_sees_heidelberg_only() {
    let app = spawn_app().await;
    mep24web::demo::provision_if_empty(app.state())
        .await
        .unwrap();
    let tenant = TestTenant {
        id: mep24web_platform::TenantId::new(0),
        slug: "demo".to_owned(),
        name: "Demo-Apotheke".to_owned(),
        customer_number: 10001,
        access_link: String::new(),
        setup_link: String::new(),
        admin_username: "planer".to_owned(),
    };
    let manager = app.client();
    let response = post_form(
        &manager,
        &url(&app, &tenant, "/login"),
        &[
            ("username", "filialleitung"),
            ("password", mep24web::demo::DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, body) = get_text(&manager, &url(&app, &tenant, "/admin/stammdaten")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Anna"));
    assert!(body.contains("Filiale Heidelberg"));
    assert!(!body.contains("Sophie"));
    assert!(!body.contains("Filiale Mannheim"));
}
