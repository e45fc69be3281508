//! Tests of the gateway over real HTTP: apex pages, the access-link finder, unknown and invalid
//! hosts, suspended tenants, forwarded hosts from proxies, request ids and security headers.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use chrono::Utc;
use mep24web_entities::tenant_domain;
use mep24web_platform::i18n::{self, Locale};
use mep24web_tests::{
    TestApp, get_text, location, raw_get, raw_request, spawn_app, spawn_app_with,
};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_LANGUAGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERER, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use sea_orm::{ActiveModelTrait, Set};

/// How long a tenant change may take to reach the server in these tests. The resolver checks
/// for changes every 500 ms; the rest is slack for a loaded machine.
const CHANGE_DEADLINE: Duration = Duration::from_secs(2);

/// Returns the text of `key`, failing when the locale files lack it.
fn text(locale: Locale, key: &str) -> String {
    let value = i18n::text(locale, key);
    assert_ne!(value, key, "no {} text for {key}", locale.code());
    value
}

/// Escapes text the way the templates' auto-escaping does.
fn escape_html(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// Returns the text of `key` as it appears in a rendered page.
fn rendered_text(locale: Locale, key: &str) -> String {
    escape_html(&text(locale, key))
}

fn assert_contains(body: &str, expected: &str) {
    assert!(
        body.contains(expected),
        "expected {expected:?} in the page:\n{body}"
    );
}

fn assert_lacks(body: &str, unexpected: &str) {
    assert!(
        !body.contains(unexpected),
        "did not expect {unexpected:?} in the page:\n{body}"
    );
}

/// Sends GET with an `Accept-Language` header and returns status and body.
async fn get_in_language(app: &TestApp, url: &str, language: &str) -> (StatusCode, String) {
    let response = app
        .client()
        .get(url)
        .header(ACCEPT_LANGUAGE, language)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    (status, body)
}

/// Polls `url` every 50 ms until `served` accepts the response, and returns how long that took.
/// Panics after [`CHANGE_DEADLINE`].
async fn wait_until(
    app: &TestApp,
    url: &str,
    served: impl Fn(StatusCode, &str) -> bool,
) -> Duration {
    let client = app.client();
    let started = Instant::now();
    loop {
        let (status, body) = get_text(&client, url).await;
        if served(status, &body) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < CHANGE_DEADLINE,
            "GET {url} still answers {status} after {CHANGE_DEADLINE:?}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_suspended_page(status: StatusCode, body: &str) -> bool {
    status == StatusCode::FORBIDDEN && body.contains(&rendered_text(Locale::De, "suspended.title"))
}

fn is_tenant_not_found_page(status: StatusCode, body: &str) -> bool {
    status == StatusCode::NOT_FOUND && body.contains(&rendered_text(Locale::De, "errors.not_found"))
}

fn is_unknown_host_page(status: StatusCode, body: &str) -> bool {
    status == StatusCode::NOT_FOUND
        && body.contains(&rendered_text(Locale::De, "unknown_host.title"))
}

// Landing page and language.

#[tokio::test]
async fn landing_without_language_is_german() {
    let app = spawn_app().await;

    let (status, body) = get_text(&app.client(), &app.apex_url("/")).await;

    assert_eq!(status, StatusCode::OK);
    assert_contains(&body, "<html lang=\"de\">");
    assert_contains(&body, "Willkommen bei MEP24web");
    assert_contains(&body, &rendered_text(Locale::De, "finder.title"));
    assert_contains(&body, "<form method=\"get\" action=\"/find\"");
    assert_contains(&body, "name=\"customer_number\"");
}

#[tokio::test]
async fn landing_with_accept_language_en_is_english() {
    let app = spawn_app().await;

    let (status, body) = get_in_language(&app, &app.apex_url("/"), "en-US,en;q=0.9,de;q=0.5").await;

    assert_eq!(status, StatusCode::OK);
    assert_contains(&body, "<html lang=\"en\">");
    assert_contains(&body, "Welcome to MEP24web");
    assert_lacks(&body, "Willkommen");
}

#[tokio::test]
async fn landing_with_unsupported_language_is_german() {
    let app = spawn_app().await;

    let (status, body) = get_in_language(&app, &app.apex_url("/"), "fr-FR,fr;q=0.9").await;

    assert_eq!(status, StatusCode::OK);
    assert_contains(&body, "<html lang=\"de\">");
}

#[tokio::test]
async fn language_switch_sets_cookie_and_returns_to_page() {
    let app = spawn_app().await;
    let client = app.client();

    let response = client
        .get(app.apex_url("/lang/en"))
        .header(REFERER, app.apex_url("/find?customer_number=1"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET /lang/en failed: {error}"));

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/find");
    assert_eq!(
        response
            .headers()
            .get(SET_COOKIE)
            .and_then(|value| value.to_str().ok()),
        Some("lang=en; Path=/; Max-Age=31536000; SameSite=Lax")
    );
    let (status, body) = get_text(&client, &app.apex_url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_contains(&body, "Welcome to MEP24web");
}

#[tokio::test]
async fn language_switch_to_foreign_referer_stays_on_host() {
    let app = spawn_app().await;

    let response = app
        .client()
        .get(app.apex_url("/lang/de"))
        .header(REFERER, "http://elsewhere.example/some/page")
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET /lang/de failed: {error}"));

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/some/page");
}

#[tokio::test]
async fn language_switch_unknown_language_is_not_found() {
    let app = spawn_app().await;

    let (status, body) = get_text(&app.client(), &app.apex_url("/lang/fr")).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_contains(&body, &rendered_text(Locale::De, "errors.not_found"));
}

#[tokio::test]
async fn apex_unknown_path_is_not_found() {
    let app = spawn_app().await;

    let (status, body) = get_text(&app.client(), &app.apex_url("/gibt-es-nicht")).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_contains(&body, &rendered_text(Locale::De, "errors.not_found"));
}

#[tokio::test]
async fn stylesheet_is_served_on_every_host() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let client = app.client();

    for url in [
        app.apex_url("/static/app.css"),
        app.tenant_url("acme", "/static/app.css"),
        app.tenant_url("nobody", "/static/app.css"),
    ] {
        let response = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert_eq!(
            response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok()),
            Some("text/css; charset=utf-8"),
            "{url}"
        );
    }
}

// Health check.

#[tokio::test]
async fn healthz_answers_ok_on_every_host_kind() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("pause", "Pause GmbH").await;
    app.set_suspended("pause", true).await;
    let client = app.client();

    for url in [
        app.apex_url("/healthz"),
        app.tenant_url("acme", "/healthz"),
        app.tenant_url("pause", "/healthz"),
        app.tenant_url("nobody", "/healthz"),
        format!("http://127.0.0.1:{}/healthz", app.port),
    ] {
        let (status, body) = get_text(&client, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(body, "ok", "{url}");
    }
}

// Finding the access link by customer number.

#[tokio::test]
async fn find_known_customer_number_redirects_to_access_link() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let tenant = app.create_tenant("beta", "Beta Markt").await;
    assert_eq!(tenant.customer_number, 10002);

    let response = app
        .client()
        .get(app.apex_url("/find?customer_number=10002"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET /find failed: {error}"));

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("{}/", tenant.access_link));
    assert_eq!(
        location(&response),
        format!("http://beta.localhost:{}/", app.port)
    );
}

#[tokio::test]
async fn find_number_with_spaces_redirects_to_access_link() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = app
        .client()
        .get(app.apex_url("/find?customer_number=+10+001+"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET /find failed: {error}"));

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("{}/", tenant.access_link));
}

#[tokio::test]
async fn find_unknown_customer_number_shows_not_found() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;

    let (status, body) =
        get_text(&app.client(), &app.apex_url("/find?customer_number=99999")).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_contains(&body, &rendered_text(Locale::De, "finder.not_found"));
    assert_contains(&body, "value=\"99999\"");
    assert_contains(&body, "aria-invalid=\"true\"");
}

#[tokio::test]
async fn find_garbage_customer_number_is_bad_request() {
    let app = spawn_app().await;
    let client = app.client();

    for query in [
        "customer_number=abc",
        "customer_number=",
        "",
        "customer_number=010001",
        "customer_number=1000000000",
        "customer_number=-5",
    ] {
        let (status, body) = get_text(&client, &app.apex_url(&format!("/find?{query}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "query {query:?}");
        assert_contains(&body, &rendered_text(Locale::De, "finder.invalid"));
    }
}

#[tokio::test]
async fn find_escapes_echoed_input() {
    let app = spawn_app().await;

    let (status, body) = get_text(
        &app.client(),
        &app.apex_url("/find?customer_number=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    )
    .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_lacks(&body, "<script>");
    assert_contains(
        &body,
        "value=\"&lt;script&gt;alert(1)&lt;&#x2f;script&gt;\"",
    );
}

#[tokio::test]
async fn find_answers_in_english_when_asked() {
    let app = spawn_app().await;

    let (status, body) =
        get_in_language(&app, &app.apex_url("/find?customer_number=x"), "en").await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_contains(&body, &rendered_text(Locale::En, "finder.invalid"));
}

#[tokio::test]
async fn find_on_unknown_host_redirects_to_access_link() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    let response = app
        .client()
        .get(app.tenant_url("tippfehler", "/find?customer_number=10001"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET /find failed: {error}"));

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("{}/", tenant.access_link));
}

// Unknown hosts.

#[tokio::test]
async fn unknown_host_shows_access_link_help_with_finder() {
    let app = spawn_app().await;
    let client = app.client();

    for path in ["/", "/login", "/admin/stammdaten"] {
        let (status, body) = get_text(&client, &app.tenant_url("nobody", path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_contains(&body, "<html lang=\"de\">");
        assert_contains(&body, &rendered_text(Locale::De, "unknown_host.title"));
        assert_contains(&body, &rendered_text(Locale::De, "unknown_host.explain"));
        assert_contains(&body, "action=\"/find\"");
        assert_contains(&body, "name=\"customer_number\"");
    }
}

#[tokio::test]
async fn unknown_host_answers_in_english_when_asked() {
    let app = spawn_app().await;

    let (status, body) = get_in_language(&app, &app.tenant_url("nobody", "/"), "en").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_contains(&body, &rendered_text(Locale::En, "unknown_host.title"));
}

#[tokio::test]
async fn ip_address_host_is_unknown_host() {
    let app = spawn_app().await;

    let (status, body) = get_text(&app.client(), &format!("http://127.0.0.1:{}/", app.port)).await;

    assert!(is_unknown_host_page(status, &body), "{status}:\n{body}");
}

// Tenant hosts: creation, suspension and resumption while the server runs.

#[tokio::test]
async fn tenant_created_while_running_is_served_within_a_second() {
    let app = spawn_app().await;
    let url = app.tenant_url("spaet", "/gibt-es-nicht");
    let (status, body) = get_text(&app.client(), &url).await;
    assert!(is_unknown_host_page(status, &body), "{status}:\n{body}");

    app.create_tenant("spaet", "Späte Apotheke").await;
    let took = wait_until(&app, &url, is_tenant_not_found_page).await;

    assert!(took <= CHANGE_DEADLINE, "took {took:?}");
}

#[tokio::test]
async fn suspended_tenant_shows_suspension_on_every_path() {
    let app = spawn_app().await;
    app.create_tenant("pause", "Pause & Co").await;
    let url = app.tenant_url("pause", "/gibt-es-nicht");
    let (status, body) = get_text(&app.client(), &url).await;
    assert!(is_tenant_not_found_page(status, &body), "{status}:\n{body}");

    app.set_suspended("pause", true).await;
    wait_until(&app, &url, is_suspended_page).await;

    let client = app.client();
    let explain = escape_html(&i18n::text_with(
        Locale::De,
        "suspended.explain",
        &[("name", "Pause & Co")],
    ));
    for path in [
        "/",
        "/login",
        "/admin",
        "/lang/en",
        "/find?customer_number=10001",
        "/setup/abc",
    ] {
        let (status, body) = get_text(&client, &app.tenant_url("pause", path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_contains(&body, &rendered_text(Locale::De, "suspended.title"));
        assert_contains(&body, &explain);
    }
    // The page names a contact for planners other than the planners themselves.
    assert_contains(
        &explain,
        "Planerinnen und Planer an den Kundendienst von MEP24web",
    );
    let (status, body) = get_text(&client, &app.apex_url("/")).await;
    assert_eq!(status, StatusCode::OK, "the apex stays up:\n{body}");
}

#[tokio::test]
async fn suspended_tenant_is_served_again_after_resume() {
    let app = spawn_app().await;
    app.create_tenant("pause", "Pause GmbH").await;
    app.set_suspended("pause", true).await;
    let url = app.tenant_url("pause", "/gibt-es-nicht");
    let (status, body) = get_text(&app.client(), &url).await;
    assert!(is_suspended_page(status, &body), "{status}:\n{body}");

    app.set_suspended("pause", false).await;
    let took = wait_until(&app, &url, is_tenant_not_found_page).await;

    assert!(took <= CHANGE_DEADLINE, "took {took:?}");
}

#[tokio::test]
async fn suspension_of_one_tenant_leaves_others_served() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("pause", "Pause GmbH").await;
    app.set_suspended("pause", true).await;
    wait_until(&app, &app.tenant_url("pause", "/x"), is_suspended_page).await;

    let (status, body) = get_text(&app.client(), &app.tenant_url("acme", "/x")).await;

    assert!(is_tenant_not_found_page(status, &body), "{status}:\n{body}");
}

// Host header forms.

#[tokio::test]
async fn tenant_host_variants_reach_the_tenant() {
    let app = spawn_app().await;
    app.create_tenant("pause", "Pause GmbH").await;
    app.set_suspended("pause", true).await;
    let port = app.port;

    // The suspended page names the tenant, so each response shows which tenant was resolved.
    for host in [
        format!("pause.localhost:{port}"),
        "pause.localhost".to_owned(),
        format!("PAUSE.LOCALHOST:{port}"),
        format!("Pause.LocalHost:{port}"),
        format!("pause.localhost.:{port}"),
        "pause.localhost.".to_owned(),
    ] {
        let response = raw_get(port, host.as_bytes(), "/").await;
        assert_eq!(response.status, 403, "Host {host:?}: {}", response.body);
        assert_contains(&response.body, "Pause GmbH");
    }
}

#[tokio::test]
async fn apex_host_variants_reach_the_landing_page() {
    let app = spawn_app().await;
    let port = app.port;

    for host in [
        format!("localhost:{port}"),
        "localhost".to_owned(),
        format!("LOCALHOST:{port}"),
        "localhost.".to_owned(),
    ] {
        let response = raw_get(port, host.as_bytes(), "/").await;
        assert_eq!(response.status, 200, "Host {host:?}: {}", response.body);
        assert_contains(&response.body, "Willkommen bei MEP24web");
    }
}

#[tokio::test]
async fn idn_host_is_looked_up_as_punycode() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("baeckerei", "Bäckerei Müller").await;
    app.set_suspended("baeckerei", true).await;
    let domain = mep24web_tenancy::normalize_host("bäckerei-müller.example")
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(domain, "xn--bckerei-mller-bfb28a.example");
    tenant_domain::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        domain: Set(domain.clone()),
        verified: Set(true),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap_or_else(|error| panic!("cannot add the custom domain: {error}"));
    mep24web_tenancy::resolver::bump_generation(app.db())
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    // reqwest sends the Unicode name as punycode, as browsers do.
    let unicode_url = format!("http://Bäckerei-Müller.example:{}/", app.port);
    wait_until(&app, &unicode_url, is_suspended_page).await;
    let response = raw_get(app.port, b"XN--BCKEREI-MLLER-BFB28A.EXAMPLE", "/").await;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_contains(&response.body, &escape_html("Bäckerei Müller"));
}

#[tokio::test]
async fn idn_host_without_tenant_is_unknown_host() {
    let app = spawn_app().await;

    let (status, body) = get_text(
        &app.client(),
        &format!("http://Bäckerei.localhost:{}/", app.port),
    )
    .await;
    assert!(is_unknown_host_page(status, &body), "{status}:\n{body}");

    let response = raw_get(app.port, b"xn--bckerei-5wa.localhost", "/").await;
    assert_eq!(response.status, 404, "{}", response.body);
    assert_contains(
        &response.body,
        &rendered_text(Locale::De, "unknown_host.title"),
    );
}

#[tokio::test]
async fn www_host_redirects_permanently_to_apex() {
    let app = spawn_app().await;

    let response = app
        .client()
        .get(app.tenant_url("www", "/find?customer_number=10001"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET www failed: {error}"));

    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        location(&response),
        format!("http://localhost:{}/find?customer_number=10001", app.port)
    );
}

#[tokio::test]
async fn invalid_host_is_bad_request() {
    let app = spawn_app().await;
    let port = app.port;
    let overlong_label = format!("{}.localhost", "a".repeat(64));
    let overlong_name = format!("{}localhost", "abcdefghi.".repeat(26));
    let oversized_input = "a".repeat(2000);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty label", b"a..b".to_vec()),
        (
            "empty label before base domain",
            b"acme..localhost".to_vec(),
        ),
        ("leading dot", b".localhost".to_vec()),
        ("underscore", b"bad_host.localhost".to_vec()),
        ("bare underscore name", b"bad_host".to_vec()),
        ("space", b"bad host.localhost".to_vec()),
        ("user information", b"user@acme.localhost".to_vec()),
        ("path", b"acme.localhost/admin".to_vec()),
        ("port out of range", b"acme.localhost:99999".to_vec()),
        ("port not a number", b"acme.localhost:http".to_vec()),
        ("two colons", b"acme.localhost:80:80".to_vec()),
        ("label longer than 63", overlong_label.into_bytes()),
        ("name longer than 253", overlong_name.into_bytes()),
        ("input longer than 1024 bytes", oversized_input.into_bytes()),
        (
            "raw UTF-8 instead of punycode",
            "bäckerei.localhost".as_bytes().to_vec(),
        ),
        ("empty", Vec::new()),
    ];
    for (case, host) in cases {
        let response = raw_get(port, &host, "/").await;
        assert_eq!(response.status, 400, "{case}: {}", response.body);
        assert_contains(
            &response.body,
            &rendered_text(Locale::De, "errors.invalid_host"),
        );
    }
}

#[tokio::test]
async fn request_without_host_is_bad_request() {
    let app = spawn_app().await;

    let response = raw_request(app.port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;

    assert_eq!(response.status, 400, "{}", response.body);
    assert_contains(
        &response.body,
        &rendered_text(Locale::De, "errors.invalid_host"),
    );
}

// Forwarded hosts.

/// Sends GET `/` to `host` on the app's port with one extra header.
async fn get_with_header(
    app: &TestApp,
    host: &str,
    name: &str,
    value: &str,
) -> (StatusCode, String) {
    let url = format!("http://{host}:{}/", app.port);
    let response = app
        .client()
        .get(&url)
        .header(name, value)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn forwarded_host_from_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("pause", "Pause GmbH").await;
    app.set_suspended("pause", true).await;

    // The real Host decides: acme is served, not the suspended tenant named in the header.
    let (status, body) = get_with_header(
        &app,
        "acme.localhost",
        "x-forwarded-host",
        "pause.localhost",
    )
    .await;
    assert_ne!(status, StatusCode::FORBIDDEN, "{body}");
    assert_lacks(&body, "Pause GmbH");

    let (status, body) = get_with_header(
        &app,
        "acme.localhost",
        "forwarded",
        "host=pause.localhost;proto=http",
    )
    .await;
    assert_ne!(status, StatusCode::FORBIDDEN, "{body}");
    assert_lacks(&body, "Pause GmbH");

    // And the other way round: a forwarded header cannot lift the suspension.
    let (status, body) = get_with_header(
        &app,
        "pause.localhost",
        "x-forwarded-host",
        "acme.localhost",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_contains(&body, "Pause GmbH");
}

#[tokio::test]
async fn forwarded_host_from_trusted_proxy_is_used() {
    let app = spawn_app_with(|settings| {
        settings.trusted_proxies = vec![IpAddr::V4(Ipv4Addr::LOCALHOST).into()];
    })
    .await;
    app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("pause", "Pause GmbH").await;
    app.set_suspended("pause", true).await;

    let (status, body) = get_with_header(
        &app,
        "acme.localhost",
        "x-forwarded-host",
        "pause.localhost",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_contains(&body, "Pause GmbH");

    let (status, body) = get_with_header(
        &app,
        "acme.localhost",
        "x-forwarded-host",
        "PAUSE.localhost:443, proxy.internal",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_contains(&body, "Pause GmbH");

    let (status, body) = get_with_header(
        &app,
        "acme.localhost",
        "forwarded",
        "for=192.0.2.1;host=\"pause.localhost\";proto=https",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_contains(&body, "Pause GmbH");

    let (status, body) =
        get_with_header(&app, "pause.localhost", "x-forwarded-host", "localhost").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_contains(&body, "Willkommen bei MEP24web");

    let (status, body) =
        get_with_header(&app, "acme.localhost", "x-forwarded-host", "bad_host").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

// Request ids and security headers.

#[tokio::test]
async fn request_id_is_echoed() {
    let app = spawn_app().await;

    let response = app
        .client()
        .get(app.apex_url("/"))
        .header("x-request-id", "test-request-42")
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET / failed: {error}"));

    assert_eq!(
        response
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok()),
        Some("test-request-42")
    );
}

#[tokio::test]
async fn request_id_is_generated_when_missing() {
    let app = spawn_app().await;

    let response = app
        .client()
        .get(app.apex_url("/"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET / failed: {error}"));

    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no x-request-id header"));
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "x-request-id {id:?} is no UUID"
    );
}

#[tokio::test]
async fn security_headers_are_set_on_every_host_kind() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("pause", "Pause GmbH").await;
    app.set_suspended("pause", true).await;
    let client = app.client();

    for url in [
        app.apex_url("/"),
        app.apex_url("/find?customer_number=x"),
        app.tenant_url("acme", "/gibt-es-nicht"),
        app.tenant_url("pause", "/"),
        app.tenant_url("nobody", "/"),
        app.tenant_url("www", "/"),
    ] {
        let response = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = header(CONTENT_SECURITY_POLICY);
        assert!(csp.contains("frame-ancestors 'none'"), "{url}: CSP {csp:?}");
        assert!(csp.contains("default-src 'self'"), "{url}: CSP {csp:?}");
        assert!(csp.contains("script-src 'self'"), "{url}: CSP {csp:?}");
        assert!(!csp.contains("unsafe-inline"), "{url}: CSP {csp:?}");
        assert_eq!(header(X_CONTENT_TYPE_OPTIONS), "nosniff", "{url}");
        assert_eq!(header(X_FRAME_OPTIONS), "DENY", "{url}");
        assert_eq!(header(REFERRER_POLICY), "same-origin", "{url}");
    }

    let response = raw_get(app.port, b"bad_host", "/").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    let csp = response
        .header("content-security-policy")
        .unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "CSP {csp:?}");
}

#[tokio::test]
async fn plain_http_sets_no_hsts() {
    let app = spawn_app().await;

    let response = app
        .client()
        .get(app.apex_url("/"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET / failed: {error}"));

    assert_eq!(response.headers().get("strict-transport-security"), None);
}
