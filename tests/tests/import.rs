//! End-to-end tests of the employee CSV import: upload, preview, confirm, with the shared
//! fixtures in `tests/fixtures/import/`.

use std::path::PathBuf;

use chrono::{NaiveDate, Utc};
use mep24web_entities::{account, employee, org_unit};
use mep24web_platform::sessions::SessionKind;
use mep24web_platform::tokens;
use mep24web_tests::{TestApp, TestTenant, get_text, location, post_form, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

const ADMIN_PASSWORD: &str = "Import-Pruefung-2026";
const SESSION_COOKIE: &str = "mep24web_session";
const UPLOAD_PATH: &str = "/admin/stammdaten/import";
const CONFIRM_PATH: &str = "/admin/stammdaten/import/bestaetigen";
/// The parser's `MAX_FILE_BYTES`: 5 MiB.
const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fixtures", "import", name]
        .iter()
        .collect();
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

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

/// Returns the value of the hidden input `name`, unescaped.
fn hidden_field(body: &str, name: &str) -> String {
    let start = format!("type=\"hidden\" name=\"{name}\" value=\"");
    let position = body.find(&start).unwrap_or_else(|| {
        panic!(
            "no hidden field {name} in page:\n{}",
            &body[..body.len().min(4000)]
        )
    }) + start.len();
    let end = body[position..]
        .find('"')
        .unwrap_or_else(|| panic!("hidden field {name} is not closed"));
    unescape(&body[position..position + end])
}

/// Returns the text of the element with the given id, e.g. `count-new`.
fn text_of(body: &str, id: &str) -> String {
    let start = format!("id=\"{id}\">");
    let position = body
        .find(&start)
        .unwrap_or_else(|| panic!("no element {id} in page"))
        + start.len();
    let end = body[position..].find('<').unwrap_or(0);
    unescape(&body[position..position + end])
}

/// URL-safe base64 without padding, as the preview puts the file in its hidden field.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
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

/// Creates a tenant and signs its administrator in through the setup link.
async fn tenant_with_admin(
    app: &TestApp,
    slug: &str,
    name: &str,
) -> (TestTenant, reqwest::Client, String) {
    let tenant = app.create_tenant(slug, name).await;
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
    (tenant, client, token)
}

/// Posts a file to the upload form as `multipart/form-data`.
async fn upload(
    client: &reqwest::Client,
    url: &str,
    file_name: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let boundary = "----mep24web-test-boundary-7d3f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"datei\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
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
        .unwrap_or_else(|error| panic!("upload to {url} failed: {error}"))
}

async fn preview(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    name: &str,
) -> String {
    let response = upload(
        client,
        &app.tenant_url(&tenant.slug, UPLOAD_PATH),
        name,
        &fixture(name),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "preview of {name}");
    response.text().await.unwrap_or_default()
}

/// Submits the confirm form of a preview page as the browser would.
async fn confirm(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    page: &str,
) -> reqwest::Response {
    let fields =
        ["datei", "dateiname", "pruefsumme", "plan"].map(|name| (name, hidden_field(page, name)));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    post_form(client, &app.tenant_url(&tenant.slug, CONFIRM_PATH), &fields).await
}

/// Previews and confirms a fixture, and returns the redirect target.
async fn import(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    name: &str,
) -> String {
    let page = preview(app, tenant, client, name).await;
    let response = confirm(app, tenant, client, &page).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "confirm of {name}"
    );
    location(&response)
}

async fn employees(app: &TestApp, tenant: &TestTenant) -> Vec<employee::Model> {
    employee::Entity::find()
        .filter(employee::Column::TenantId.eq(tenant.id.get()))
        .order_by_asc(employee::Column::PersonnelNumber)
        .all(app.db())
        .await
        .unwrap_or_else(|error| panic!("reading employees failed: {error}"))
}

async fn units(app: &TestApp, tenant: &TestTenant) -> Vec<org_unit::Model> {
    org_unit::Entity::find()
        .filter(org_unit::Column::TenantId.eq(tenant.id.get()))
        .order_by_asc(org_unit::Column::Id)
        .all(app.db())
        .await
        .unwrap_or_else(|error| panic!("reading org units failed: {error}"))
}

/// Returns "Branch / Department" for a node, or the node's name when it hangs at the root.
fn path_of(units: &[org_unit::Model], id: i64) -> String {
    let unit = units
        .iter()
        .find(|unit| unit.id == id)
        .unwrap_or_else(|| panic!("no unit {id}"));
    match unit.kind.as_str() {
        "department" => {
            let parent = units
                .iter()
                .find(|candidate| Some(candidate.id) == unit.parent_id)
                .unwrap_or_else(|| panic!("department {id} has no parent"));
            format!("{} / {}", parent.name, unit.name)
        }
        _ => unit.name.clone(),
    }
}

fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
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

async fn root_id(app: &TestApp, tenant: &TestTenant) -> i64 {
    units(app, tenant)
        .await
        .into_iter()
        .find(|unit| unit.kind == "organization")
        .unwrap_or_else(|| panic!("tenant has no root"))
        .id
}

async fn insert_employee(
    app: &TestApp,
    tenant: &TestTenant,
    number: &str,
    unit: i64,
) -> employee::Model {
    employee::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        personnel_number: Set(number.to_owned()),
        first_name: Set("Bestand".to_owned()),
        last_name: Set("Person".to_owned()),
        email: Set(None),
        phone: Set(None),
        entry_date: Set(None),
        exit_date: Set(None),
        org_unit_id: Set(unit),
        language: Set("de".to_owned()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap_or_else(|error| panic!("inserting employee {number} failed: {error}"))
}

// ---------------------------------------------------------------------------------------------
// Upload page
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn upload_page_explains_format() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;

    let (status, body) = get_text(&client, &app.tenant_url(&tenant.slug, UPLOAD_PATH)).await;

    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("enctype=\"multipart/form-data\""));
    assert!(body.contains("accept=\".csv,text/csv\""));
    assert!(body.contains("Höchstens 5 MB und 10.000 Mitarbeiterzeilen."));
    assert!(body.contains("<th scope=\"row\">Personalnummer</th>"));
    assert!(body.contains("<th scope=\"row\">Austrittsdatum</th>"));
    assert!(body.contains("Datumsangaben im Format TT.MM.JJJJ"));
    assert!(body.contains("Windows-1252"));
}

// ---------------------------------------------------------------------------------------------
// Preview
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn preview_errors_file_lists_problems() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Dom").await;

    let page = preview(&app, &tenant, &client, "errors.csv").await;

    assert_eq!(text_of(&page, "count-rows"), "5");
    assert_eq!(text_of(&page, "count-problems"), "3");
    assert_eq!(text_of(&page, "count-new"), "2");
    let problems: Vec<&str> = page.split("<tr class=\"problem\">").skip(1).collect();
    assert_eq!(problems.len(), 3);
    let expected = [
        (
            "3",
            "E-Mail",
            "„deniz.yilmaz(at)apotheke-am-dom.de“ ist keine gültige E-Mail-Adresse. Tragen Sie eine Adresse wie name@firma.de ein oder lassen Sie das Feld leer.",
        ),
        (
            "4",
            "Eintrittsdatum",
            "„31.02.2023“ ist kein gültiges Datum. Schreiben Sie das Datum als TT.MM.JJJJ, zum Beispiel 01.04.2024.",
        ),
        (
            "5",
            "Personalnummer",
            "Die Personalnummer 2001 steht schon in Zeile 2. Jede Personalnummer darf nur einmal vorkommen.",
        ),
    ];
    for (row, (line, column, message)) in problems.iter().zip(expected) {
        let cells = format!(
            "<td>{line}</td>\n          <td>{}</td>\n          <td>{}</td>",
            html(column),
            html(message)
        );
        assert!(row.contains(&cells), "problem row {row} lacks {cells}");
    }
    assert!(
        !page.contains("id=\"confirm\""),
        "import button offered despite problems"
    );
    assert!(
        !page.contains("name=\"datei\""),
        "file carried on despite problems"
    );
    assert!(employees(&app, &tenant).await.is_empty());
    assert_eq!(units(&app, &tenant).await.len(), 1);
}

#[tokio::test]
async fn confirm_errors_file_is_rejected() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Dom").await;
    let bytes = fixture("errors.csv");
    let digest = tokens::hash(std::str::from_utf8(&bytes).unwrap_or_default());

    let response = post_form(
        &client,
        &app.tenant_url(&tenant.slug, CONFIRM_PATH),
        &[
            ("datei", &base64_url(&bytes)),
            ("pruefsumme", &digest),
            ("plan", "0"),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap_or_default();
    assert!(body.contains("Fehler in der Datei"));
    assert!(employees(&app, &tenant).await.is_empty());
    assert_eq!(units(&app, &tenant).await.len(), 1);
}

#[tokio::test]
async fn preview_shows_encoding_and_planned_units() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;

    let page = preview(&app, &tenant, &client, "windows1252_semicolon.csv").await;

    assert_eq!(
        text_of(&page, "encoding"),
        "Windows-1252 (Excel „CSV (Trennzeichen-getrennt)“)"
    );
    assert_eq!(text_of(&page, "delimiter"), "Semikolon (;)");
    assert_eq!(text_of(&page, "file-name"), "windows1252_semicolon.csv");
    assert_eq!(text_of(&page, "count-new"), "5");
    assert_eq!(text_of(&page, "count-changed"), "0");
    assert_eq!(text_of(&page, "count-unchanged"), "0");
    assert_eq!(text_of(&page, "count-problems"), "0");
    for unit in [
        "Filiale: Filiale Heidelberg",
        "Abteilung: Filiale Heidelberg / Abteilung Kasse",
        "Abteilung: Filiale Heidelberg / Abteilung Rezeptur",
        "Filiale: Filiale Mannheim",
        "Abteilung: Filiale Schwetzingen / Abteilung Büro",
    ] {
        assert!(
            page.contains(&format!("<li>{}</li>", html(unit))),
            "new unit {unit} missing"
        );
    }
    assert_eq!(page.matches("<tr class=\"row-new\">").count(), 5);
    assert!(page.contains("id=\"confirm\""));
    assert!(
        employees(&app, &tenant).await.is_empty(),
        "preview wrote employees"
    );
    assert_eq!(units(&app, &tenant).await.len(), 1, "preview wrote units");
}

#[tokio::test]
async fn upload_oversize_file_rejected() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    let mut bytes = b"Personalnummer;Nachname;Vorname\r\n".to_vec();
    bytes.resize(MAX_FILE_BYTES + 1, b' ');

    let response = upload(
        &client,
        &app.tenant_url(&tenant.slug, UPLOAD_PATH),
        "gross.csv",
        &bytes,
    )
    .await;

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = response.text().await.unwrap_or_default();
    let message = "Die Datei ist größer als 5 MB. Teilen Sie die Liste auf mehrere Dateien auf.";
    assert!(body.contains(&format!(
        "<p class=\"error\" id=\"e-datei\">{}</p>",
        html(message)
    )));
    assert!(employees(&app, &tenant).await.is_empty());
}

#[tokio::test]
async fn upload_without_file_asks_for_one() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;

    let response = upload(&client, &app.tenant_url(&tenant.slug, UPLOAD_PATH), "", b"").await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap_or_default();
    assert!(body.contains("Bitte wählen Sie eine CSV-Datei aus."));
}

#[tokio::test]
async fn upload_missing_columns_names_them() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;

    let response = upload(
        &client,
        &app.tenant_url(&tenant.slug, UPLOAD_PATH),
        "liste.csv",
        b"Personalnummer;Name;E-Mail\n1;A;a@example.com\n",
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap_or_default();
    let message = "Der Datei fehlen Pflichtspalten: Vorname. Ergänzen Sie diese Überschriften in der ersten Zeile.";
    assert!(body.contains(&html(message)), "missing message in {body}");
}

// ---------------------------------------------------------------------------------------------
// Confirm
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_windows1252_stores_umlauts() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;

    let target = import(&app, &tenant, &client, "windows1252_semicolon.csv").await;

    assert_eq!(target, "/admin/stammdaten?importiert=5&aktualisiert=0");
    let (status, page) = get_text(&client, &app.tenant_url(&tenant.slug, &target)).await;
    assert_eq!(status, StatusCode::OK, "Stammdaten page after the import");
    assert!(
        page.contains("5 Mitarbeiter importiert, 0 aktualisiert."),
        "import notice missing"
    );
    let stored = employees(&app, &tenant).await;
    let units = units(&app, &tenant).await;
    let rows: Vec<(&str, &str, &str, String, &str)> = stored
        .iter()
        .map(|row| {
            (
                row.personnel_number.as_str(),
                row.last_name.as_str(),
                row.first_name.as_str(),
                path_of(&units, row.org_unit_id),
                row.language.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "1001",
                "Weiß",
                "Jürgen",
                "Filiale Heidelberg / Abteilung Kasse".to_owned(),
                "de"
            ),
            (
                "1002",
                "Müller",
                "Käthe",
                "Filiale Heidelberg / Abteilung Rezeptur".to_owned(),
                "de"
            ),
            (
                "1003",
                "Strauß",
                "Björn",
                "Filiale Mannheim / Abteilung Kasse".to_owned(),
                "de"
            ),
            (
                "1004",
                "Özdemir",
                "Elif",
                "Filiale Mannheim / Abteilung Offizin".to_owned(),
                "en"
            ),
            (
                "1005",
                "Schäfer",
                "Sören",
                "Filiale Schwetzingen / Abteilung Büro".to_owned(),
                "de"
            ),
        ]
    );
    assert_eq!(
        stored[0].email.as_deref(),
        Some("juergen.weiss@apotheke-am-markt.de")
    );
    assert_eq!(stored[0].phone.as_deref(), Some("06221 4711-0"));
    assert_eq!(stored[0].entry_date, date(2019, 4, 1));
    assert_eq!(stored[2].exit_date, date(2024, 12, 31));
    assert_eq!(stored[2].email, None);
}

#[tokio::test]
async fn import_utf8_bom_comma_file() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "filialapotheke", "Filialapotheke").await;

    let page = preview(&app, &tenant, &client, "utf8_bom_comma.csv").await;
    assert_eq!(
        text_of(&page, "encoding"),
        "UTF-8 mit BOM (Excel „CSV UTF-8“)"
    );
    assert_eq!(text_of(&page, "delimiter"), "Komma (,)");
    let response = confirm(&app, &tenant, &client, &page).await;

    assert_eq!(
        location(&response),
        "/admin/stammdaten?importiert=4&aktualisiert=0"
    );
    let stored = employees(&app, &tenant).await;
    let units = units(&app, &tenant).await;
    let rows: Vec<(&str, &str, String, &str)> = stored
        .iter()
        .map(|row| {
            (
                row.personnel_number.as_str(),
                row.last_name.as_str(),
                path_of(&units, row.org_unit_id),
                row.language.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "00123",
                "Hoffmann",
                "Filiale Heidelberg, Hauptstraße / Abteilung Kasse".to_owned(),
                "en"
            ),
            (
                "00124",
                "Krüger",
                "Filiale Heidelberg, Hauptstraße / Abteilung Rezeptur".to_owned(),
                "de"
            ),
            (
                "00125",
                "Nguyen",
                "Filiale Mannheim / Abteilung Offizin".to_owned(),
                "de"
            ),
            (
                "00126",
                "Hartmann",
                "Filiale Mannheim / Abteilung \"Kasse & Kosmetik\"".to_owned(),
                "de"
            ),
        ]
    );
    assert_eq!(stored[0].phone.as_deref(), Some("+49 171 1234567"));
    assert_eq!(stored[0].entry_date, date(2020, 3, 1));
    assert_eq!(stored[2].exit_date, date(2024, 6, 30));
    assert_eq!(stored[3].entry_date, date(2015, 7, 1));
}

#[tokio::test]
async fn import_same_file_twice_changes_nothing() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    import(&app, &tenant, &client, "windows1252_semicolon.csv").await;
    let employees_before = employees(&app, &tenant).await;
    let units_before = units(&app, &tenant).await;

    let page = preview(&app, &tenant, &client, "windows1252_semicolon.csv").await;
    assert_eq!(text_of(&page, "count-new"), "0");
    assert_eq!(text_of(&page, "count-changed"), "0");
    assert_eq!(text_of(&page, "count-unchanged"), "5");
    assert!(page.contains("id=\"nothing-to-do\""));
    assert!(!page.contains("id=\"new-units\""));
    let response = confirm(&app, &tenant, &client, &page).await;

    assert_eq!(
        location(&response),
        "/admin/stammdaten?importiert=0&aktualisiert=0"
    );
    assert_eq!(employees(&app, &tenant).await, employees_before);
    assert_eq!(units(&app, &tenant).await, units_before);
}

#[tokio::test]
async fn import_matches_existing_units_ignoring_case() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    let root = root_id(&app, &tenant).await;
    let branch = insert_unit(&app, &tenant, root, "branch", "FILIALE HEIDELBERG").await;
    let department = insert_unit(&app, &tenant, branch, "department", "abteilung kasse").await;

    import(&app, &tenant, &client, "windows1252_semicolon.csv").await;

    let stored = employees(&app, &tenant).await;
    assert_eq!(stored[0].org_unit_id, department);
    let units = units(&app, &tenant).await;
    let heidelberg: Vec<&str> = units
        .iter()
        .filter(|unit| unit.name.to_lowercase() == "filiale heidelberg")
        .map(|unit| unit.name.as_str())
        .collect();
    assert_eq!(heidelberg, ["FILIALE HEIDELBERG"]);
    let names: Vec<(&str, String)> = units
        .iter()
        .map(|unit| (unit.kind.as_str(), path_of(&units, unit.id)))
        .collect();
    assert_eq!(
        names,
        [
            ("organization", "Apotheke am Markt".to_owned()),
            ("branch", "FILIALE HEIDELBERG".to_owned()),
            (
                "department",
                "FILIALE HEIDELBERG / abteilung kasse".to_owned()
            ),
            (
                "department",
                "FILIALE HEIDELBERG / Abteilung Rezeptur".to_owned()
            ),
            ("branch", "Filiale Mannheim".to_owned()),
            (
                "department",
                "Filiale Mannheim / Abteilung Kasse".to_owned()
            ),
            (
                "department",
                "Filiale Mannheim / Abteilung Offizin".to_owned()
            ),
            ("branch", "Filiale Schwetzingen".to_owned()),
            (
                "department",
                "Filiale Schwetzingen / Abteilung Büro".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn import_updates_changed_fields_only() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    import(&app, &tenant, &client, "windows1252_semicolon.csv").await;
    let before = employees(&app, &tenant).await;
    let mut edited: employee::ActiveModel = before[1].clone().into();
    edited.phone = Set(Some("0621 000".to_owned()));
    edited.email = Set(Some("K.Mueller@Apotheke-am-Markt.de".to_owned()));
    edited
        .update(app.db())
        .await
        .unwrap_or_else(|error| panic!("edit failed: {error}"));
    let edited = employees(&app, &tenant).await;

    let page = preview(&app, &tenant, &client, "windows1252_semicolon.csv").await;
    assert_eq!(text_of(&page, "count-changed"), "1");
    assert_eq!(text_of(&page, "count-unchanged"), "4");
    assert!(page.contains(&format!("<li>Telefon: 0621 000 → {}</li>", "leer")));
    let response = confirm(&app, &tenant, &client, &page).await;

    assert_eq!(
        location(&response),
        "/admin/stammdaten?importiert=0&aktualisiert=1"
    );
    let after = employees(&app, &tenant).await;
    assert_eq!(after[1].phone, None);
    // The address differs only in case, so the stored spelling stays.
    assert_eq!(
        after[1].email.as_deref(),
        Some("K.Mueller@Apotheke-am-Markt.de")
    );
    assert!(after[1].updated_at > edited[1].updated_at);
    for index in [0, 2, 3, 4] {
        assert_eq!(after[index], before[index], "row {index} was touched");
    }
}

#[tokio::test]
async fn confirm_after_edit_shows_new_preview() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    let root = root_id(&app, &tenant).await;
    insert_employee(&app, &tenant, "1001", root).await;
    let page = preview(&app, &tenant, &client, "windows1252_semicolon.csv").await;
    insert_employee(&app, &tenant, "1002", root).await;
    let before = employees(&app, &tenant).await;

    let response = confirm(&app, &tenant, &client, &page).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.text().await.unwrap_or_default();
    assert!(body.contains(&html(
        "Die Stammdaten wurden seit der Vorschau geändert. Prüfen Sie die aktualisierte Vorschau und klicken Sie erneut auf „Importieren“."
    )));
    assert_eq!(text_of(&body, "count-changed"), "2");
    assert_eq!(employees(&app, &tenant).await, before);
    let response = confirm(&app, &tenant, &client, &body).await;
    assert_eq!(
        location(&response),
        "/admin/stammdaten?importiert=3&aktualisiert=2"
    );
}

#[tokio::test]
async fn confirm_with_altered_file_is_rejected() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    let page = preview(&app, &tenant, &client, "windows1252_semicolon.csv").await;
    let altered = base64_url(b"Personalnummer;Nachname;Vorname\n9999;Fremd;Eingeschleust\n");

    let response = post_form(
        &client,
        &app.tenant_url(&tenant.slug, CONFIRM_PATH),
        &[
            ("datei", altered.as_str()),
            ("pruefsumme", hidden_field(&page, "pruefsumme").as_str()),
            ("plan", hidden_field(&page, "plan").as_str()),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.unwrap_or_default();
    assert!(body.contains(&html(
        "Die Importdaten aus der Vorschau sind unvollständig oder verändert angekommen. Bitte laden Sie die Datei erneut hoch."
    )));
    assert!(employees(&app, &tenant).await.is_empty());
}

#[tokio::test]
async fn import_failure_rolls_back_everything() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    let page = preview(&app, &tenant, &client, "windows1252_semicolon.csv").await;
    // A trigger makes the insert of the last employee fail after the branches, departments
    // and the other employees were written in the same transaction.
    let statements: &[&str] = match app.db().get_database_backend() {
        DatabaseBackend::Postgres => &[
            "CREATE FUNCTION fail_import() RETURNS trigger AS $$ BEGIN \
             IF NEW.personnel_number = '1005' THEN RAISE EXCEPTION 'test failure'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_import BEFORE INSERT ON employees FOR EACH ROW EXECUTE FUNCTION fail_import()",
        ],
        _ => &["CREATE TRIGGER fail_import BEFORE INSERT ON employees \
                WHEN NEW.personnel_number = '1005' BEGIN SELECT RAISE(ABORT, 'test failure'); END"],
    };
    for statement in statements {
        app.db()
            .execute_unprepared(statement)
            .await
            .unwrap_or_else(|error| panic!("creating the trigger failed: {error}"));
    }

    let response = confirm(&app, &tenant, &client, &page).await;

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(employees(&app, &tenant).await.is_empty());
    assert_eq!(units(&app, &tenant).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Access and isolation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_leaves_other_tenant_untouched() {
    let app = spawn_app().await;
    let (tenant_a, client_a, _) = tenant_with_admin(&app, "apotheke-a", "Apotheke A").await;
    let (tenant_b, _, _) = tenant_with_admin(&app, "apotheke-b", "Apotheke B").await;
    let root_b = root_id(&app, &tenant_b).await;
    insert_unit(&app, &tenant_b, root_b, "branch", "Filiale Heidelberg").await;
    insert_employee(&app, &tenant_b, "1001", root_b).await;
    let employees_b = employees(&app, &tenant_b).await;
    let units_b = units(&app, &tenant_b).await;

    let page = preview(&app, &tenant_a, &client_a, "windows1252_semicolon.csv").await;
    assert_eq!(text_of(&page, "count-new"), "5");
    let response = confirm(&app, &tenant_a, &client_a, &page).await;

    assert_eq!(
        location(&response),
        "/admin/stammdaten?importiert=5&aktualisiert=0"
    );
    assert_eq!(employees(&app, &tenant_a).await.len(), 5);
    assert_eq!(employees(&app, &tenant_b).await, employees_b);
    assert_eq!(units(&app, &tenant_b).await, units_b);
}

#[tokio::test]
async fn import_routes_reject_other_tenant_cookie() {
    let app = spawn_app().await;
    let (tenant_a, client_a, _) = tenant_with_admin(&app, "apotheke-a", "Apotheke A").await;
    let (_, _, token_b) = tenant_with_admin(&app, "apotheke-b", "Apotheke B").await;
    let page = preview(&app, &tenant_a, &client_a, "windows1252_semicolon.csv").await;
    let fields =
        ["datei", "dateiname", "pruefsumme", "plan"].map(|name| (name, hidden_field(&page, name)));
    let stranger = app.client();
    let cookie = format!("{SESSION_COOKIE}={token_b}");

    let response = stranger
        .get(app.tenant_url(&tenant_a.slug, UPLOAD_PATH))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET failed: {error}"));
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");

    let bytes = fixture("windows1252_semicolon.csv");
    let boundary = "b0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"datei\"; filename=\"a.csv\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = stranger
        .post(app.tenant_url(&tenant_a.slug, UPLOAD_PATH))
        .header(COOKIE, &cookie)
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST failed: {error}"));
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");

    let response = stranger
        .post(app.tenant_url(&tenant_a.slug, CONFIRM_PATH))
        .header(COOKIE, &cookie)
        .form(&fields)
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST failed: {error}"));
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    assert!(employees(&app, &tenant_a).await.is_empty());
}

#[tokio::test]
async fn import_page_forbidden_without_edit_right() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke", "Apotheke am Markt").await;
    let no_rights = mep24web_tests::accounts::group_without_rights(&app, &tenant).await;
    let now = Utc::now();
    let planner = account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("planner".to_owned()),
        username: Set("planer".to_owned()),
        username_key: Set("planer".to_owned()),
        password_hash: Set(None),
        display_name: Set("Petra Planer".to_owned()),
        role: Set(Some(no_rights)),
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
    .unwrap_or_else(|error| panic!("inserting planner failed: {error}"));
    let token = app
        .new_session(tenant.id, planner.id, SessionKind::Web)
        .await;

    let response = app
        .client()
        .get(app.tenant_url(&tenant.slug, UPLOAD_PATH))
        .header(COOKIE, format!("{SESSION_COOKIE}={token}"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET failed: {error}"));

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

/// Builds a valid file of 10,000 rows (the parser's `MAX_ROWS`) just under 5 MiB.
fn largest_file() -> Vec<u8> {
    let mut text = String::from(
        "Personalnummer;Nachname;Vorname;E-Mail;Telefon;Eintrittsdatum;Filiale;Abteilung\r\n",
    );
    for i in 0..10_000 {
        let last_name = format!("{:x<100}", format!("Nachname{i}"));
        let first_name = format!("{:y<80}", format!("Vorname{i}"));
        let email = format!("person{i}@{}.de", "a".repeat(40));
        let phone = format!("{:0<40}", "+49");
        let branch = format!("{:b<100}", format!("Filiale {}", i % 3));
        let department = format!("{:d<100}", format!("Abteilung {}", i % 7));
        text.push_str(&format!(
            "{i:06};{last_name};{first_name};{email};{phone};01.04.2019;{branch};{department}\r\n"
        ));
    }
    text.into_bytes()
}

#[tokio::test]
async fn import_largest_file_round_trips() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    let bytes = largest_file();
    assert!(
        bytes.len() > MAX_FILE_BYTES - 256 * 1024,
        "file has {} bytes",
        bytes.len()
    );
    assert!(
        bytes.len() <= MAX_FILE_BYTES,
        "file has {} bytes",
        bytes.len()
    );

    let started = std::time::Instant::now();
    let response = upload(
        &client,
        &app.tenant_url(&tenant.slug, UPLOAD_PATH),
        "gross.csv",
        &bytes,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap_or_default();
    assert_eq!(text_of(&page, "count-new"), "10000");
    let previewed = started.elapsed();
    let response = confirm(&app, &tenant, &client, &page).await;
    let confirmed = started.elapsed() - previewed;

    assert_eq!(
        location(&response),
        "/admin/stammdaten?importiert=10000&aktualisiert=0"
    );
    assert_eq!(employees(&app, &tenant).await.len(), 10_000);
    assert_eq!(units(&app, &tenant).await.len(), 1 + 3 + 21);
    eprintln!("preview of 10,000 rows took {previewed:?}, confirm took {confirmed:?}");
}

#[tokio::test]
async fn import_rename_updates_login_display_name() {
    let app = spawn_app().await;
    let (tenant, client, _) = tenant_with_admin(&app, "apotheke", "Apotheke am Markt").await;
    let root = root_id(&app, &tenant).await;
    let existing = insert_employee(&app, &tenant, "1001", root).await;
    mep24web_entities::account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("employee".to_owned()),
        username: Set("bestand".to_owned()),
        username_key: Set("bestand".to_owned()),
        password_hash: Set(None),
        display_name: Set("Bestand Person".to_owned()),
        role: Set(None),
        email: Set(None),
        employee_id: Set(Some(existing.id)),
        active: Set(true),
        must_change_password: Set(false),
        failed_attempts: Set(0),
        locked_until: Set(None),
        language: Set("de".to_owned()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();

    let csv = "Personalnummer;Nachname;Vorname\r\n1001;Weiß;Jürgen\r\n";
    let response = upload(
        &client,
        &app.tenant_url(&tenant.slug, UPLOAD_PATH),
        "umbenennung.csv",
        csv.as_bytes(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    let response = confirm(&app, &tenant, &client, &page).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let login = mep24web_entities::account::Entity::find()
        .filter(mep24web_entities::account::Column::EmployeeId.eq(existing.id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(login.display_name, "Jürgen Weiß");
}
