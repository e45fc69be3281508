//! End-to-end test in headless Chromium: the planner sets up the tenant, imports employees from a
//! CSV file and invites one; the employee registers through the emailed link, logs in and sees
//! their name and the customer number.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`).
//! The test fails when they are missing, because a skipped browser test would look like a pass.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use mep24web_entities::employee;
use mep24web_tests::{TestApp, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD_PLANNER: &str = "Planer-Passwort-2026";
const PASSWORD_EMPLOYEE: &str = "Mitarbeiter-Passwort-2026";
const SECURITY_CODE: &str = "Sicher-4711";

/// A chromedriver process on a free loopback port, killed when dropped.
struct Driver {
    process: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the browser test needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("free port for chromedriver");
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let status_url = format!("http://127.0.0.1:{port}/status");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(&status_url).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("browser profile folder");
        Self {
            process,
            port,
            _profile: profile,
        }
    }

    async fn browser(&self) -> Client {
        // Several crates enable different rustls backends, so the provider is chosen here. The
        // driver is reached over plain HTTP; the provider is still required to build the client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                    format!("--user-data-dir={}", self._profile.path().display()),
                ],
            }),
        );
        ClientBuilder::rustls()
            .expect("rustls client")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("chromedriver session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
    }
}

async fn fill(browser: &Client, id: &str, value: &str) {
    let input = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|error| panic!("input #{id} not found: {error}"));
    input.clear().await.expect("clear input");
    input.send_keys(value).await.expect("type into input");
}

/// Clicks a button or link that loads a new page, and waits until the old page is gone, so the
/// next step never acts on a page that is about to be replaced.
async fn submit(browser: &Client, selector: &str) {
    let element = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|error| panic!("button {selector} not found: {error}"));
    element.click().await.expect("click");
    for _ in 0..200 {
        // Any command on an element of a replaced page fails with "stale element reference".
        if element.is_displayed().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("clicking {selector} did not load a new page within 10 seconds");
}

async fn path_of(browser: &Client) -> String {
    browser
        .current_url()
        .await
        .expect("current url")
        .path()
        .to_owned()
}

/// Asserts the current path, waiting up to five seconds for it, and shows the page text when it
/// differs, so a failure explains
/// itself (an error message on the page, a login form where a menu was expected).
async fn assert_path(browser: &Client, expected: &str) {
    // A click returns before the navigation it starts has always finished, so wait for it.
    let mut actual = path_of(browser).await;
    for _ in 0..50 {
        if actual == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        actual = path_of(browser).await;
    }
    if actual != expected {
        let text = match browser.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        panic!("expected path {expected}, found {actual}; page text:\n{text}");
    }
}

async fn text_of(browser: &Client, id: &str) -> String {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|error| panic!("element #{id} not found: {error}"))
        .text()
        .await
        .expect("element text")
}

async fn employee_id(app: &TestApp, personnel_number: &str) -> i64 {
    employee::Entity::find()
        .filter(employee::Column::PersonnelNumber.eq(personnel_number))
        .one(app.db())
        .await
        .expect("employee query")
        .expect("imported employee")
        .id
}

#[tokio::test]
async fn planner_imports_invites_employee_registers_and_logs_in() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("apotheke", "Apotheke am Markt").await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;

    // "Zugangslink finden" on the landing page leads from the customer number to the access link.
    browser
        .goto(&app.apex_url("/"))
        .await
        .expect("open landing page");
    fill(
        &browser,
        "f-customer_number",
        &tenant.customer_number.to_string(),
    )
    .await;
    submit(&browser, "form.finder button[type=submit]").await;
    let found = browser.current_url().await.expect("current url");
    assert_eq!(
        found.host_str(),
        Some(format!("{}.localhost", tenant.slug).as_str())
    );
    assert_path(&browser, "/login").await;

    // The first administrator sets a password through the setup link and lands in the main program.
    browser
        .goto(&tenant.setup_link)
        .await
        .expect("open setup link");
    fill(&browser, "f-password", PASSWORD_PLANNER).await;
    fill(&browser, "f-password_repeat", PASSWORD_PLANNER).await;
    submit(&browser, "button[type=submit]").await;
    assert_path(&browser, "/admin").await;

    // Log out and in again at the access link, as a planner does every day.
    submit(&browser, "form[action='/logout'] button").await;
    browser
        .goto(&format!("{}/", tenant.access_link))
        .await
        .expect("open access link");
    assert_path(&browser, "/login").await;
    fill(&browser, "f-username", &tenant.admin_username).await;
    fill(&browser, "f-password", PASSWORD_PLANNER).await;
    submit(&browser, "form[action='/login'] button[type=submit]").await;
    assert_path(&browser, "/admin").await;
    assert_eq!(
        text_of(&browser, "customer-number").await,
        format!("Kundennummer {}", tenant.customer_number)
    );

    // Security code for registrations.
    browser
        .goto(&format!(
            "{}/admin/einstellungen/mitarbeiterportal",
            tenant.access_link
        ))
        .await
        .expect("open portal settings");
    fill(&browser, "f-security_code", SECURITY_CODE).await;
    submit(
        &browser,
        "form[action='/admin/einstellungen/mitarbeiterportal'] button[type=submit]",
    )
    .await;

    // CSV import: upload, preview, confirm.
    browser
        .goto(&format!("{}/admin/stammdaten/import", tenant.access_link))
        .await
        .expect("open import");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/import/windows1252_semicolon.csv")
        .canonicalize()
        .expect("fixture path");
    browser
        .find(Locator::Id("f-datei"))
        .await
        .expect("file input")
        .send_keys(&fixture.display().to_string())
        .await
        .expect("choose file");
    submit(
        &browser,
        "form[enctype='multipart/form-data'] button[type=submit]",
    )
    .await;
    submit(&browser, "#confirm").await;
    assert_path(&browser, "/admin/stammdaten").await;
    let juergen = employee_id(&app, "1001").await;

    // Invite Jürgen Weiß from the organization level.
    browser
        .goto(&format!("{}/admin/stammdaten", tenant.access_link))
        .await
        .expect("open master data");
    submit(&browser, "a[href^='/admin/stammdaten/einladen']").await;
    browser
        .find(Locator::Id(&format!("m-{juergen}")))
        .await
        .expect("checkbox of the employee")
        .click()
        .await
        .expect("tick employee");
    submit(&browser, "button[name=aktion][value=auswahl]").await;
    submit(&browser, "form[action='/logout'] button").await;

    // The employee follows the registration link from the mail.
    let mail = app
        .wait_for_mail(
            "juergen.weiss@apotheke-am-markt.de",
            Duration::from_secs(15),
        )
        .await;
    let registration = mail
        .links
        .iter()
        .find(|link| link.contains("/register/"))
        .cloned()
        .expect("registration link in the mail");
    assert!(registration.starts_with(&tenant.access_link));
    browser
        .goto(&registration)
        .await
        .expect("open registration link");
    fill(&browser, "f-security_code", SECURITY_CODE).await;
    fill(&browser, "f-username", "j.weiss").await;
    fill(&browser, "f-password", PASSWORD_EMPLOYEE).await;
    fill(&browser, "f-password_repeat", PASSWORD_EMPLOYEE).await;
    submit(&browser, "button[type=submit]").await;

    // Log in at the access link and see name and customer number.
    browser
        .goto(&format!("{}/login", tenant.access_link))
        .await
        .expect("open login");
    if path_of(&browser).await == "/login" {
        fill(&browser, "f-username", "J.Weiss").await;
        fill(&browser, "f-password", PASSWORD_EMPLOYEE).await;
        submit(&browser, "form[action='/login'] button[type=submit]").await;
    }
    assert_path(&browser, "/portal").await;
    assert_eq!(text_of(&browser, "user-name").await, "Jürgen Weiß");
    assert_eq!(
        text_of(&browser, "customer-number").await,
        format!("Kundennummer {}", tenant.customer_number)
    );

    browser.close().await.expect("close browser");
}
