//! HTTP steps the tool takes itself before and between load runs: logging in to get session
//! cookies and app tokens, checking that they work, and sending the invitations.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::{CONTENT_TYPE, HOST, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::generate::PASSWORD;

/// Name of the session cookie over plain http.
const SESSION_COOKIE: &str = "mep24web_session";

/// Returns a client that does not follow redirects, so each response is the server's own.
pub fn client() -> anyhow::Result<Client> {
    Ok(Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Returns the `Host` header of a tenant.
pub fn tenant_host(slug: &str, port: u16) -> String {
    format!("{slug}.localhost:{port}")
}

/// Returns the `Host` header of the apex, where the app API lives.
pub fn apex_host(port: u16) -> String {
    format!("localhost:{port}")
}

/// Returns the form body of a portal login with the benchmark password.
pub fn login_form(username: &str) -> String {
    format!("username={username}&password={PASSWORD}")
}

/// Logs in through the portal form and returns the session cookie's value.
pub async fn web_session(
    client: &Client,
    port: u16,
    slug: &str,
    username: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("http://127.0.0.1:{port}/login"))
        .header(HOST, tenant_host(slug, port))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(login_form(username))
        .send()
        .await?;
    let status = response.status();
    anyhow::ensure!(
        status == StatusCode::SEE_OTHER,
        "login of {username} at {slug} returned {status}, expected 303"
    );
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| {
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=')?;
            (name == SESSION_COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
        .with_context(|| format!("login of {username} at {slug} set no session cookie"))
}

/// Logs in through the app API and returns the bearer token.
pub async fn app_token(
    client: &Client,
    port: u16,
    customer_number: i64,
    username: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("http://127.0.0.1:{port}/api/app/v1/login"))
        .header(HOST, apex_host(port))
        .json(&json!({
            "customer_number": customer_number,
            "username": username,
            "password": PASSWORD,
        }))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    anyhow::ensure!(
        status == StatusCode::OK,
        "app login of {username} at customer {customer_number} returned {status}: {body}"
    );
    body["token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("app login returned no token: {body}"))
}

/// Sends a GET and fails unless the response is 200, so a load run never measures redirects to
/// the login form or 401 responses by mistake.
pub async fn expect_ok(
    client: &Client,
    port: u16,
    host: &str,
    path: &str,
    header: Option<(&str, String)>,
) -> anyhow::Result<()> {
    let mut request = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header(HOST, host);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await?;
    let status = response.status();
    anyhow::ensure!(
        status == StatusCode::OK,
        "GET {path} at {host} returned {status}, expected 200"
    );
    Ok(())
}

/// The response to "invite everyone" and its duration.
pub struct InviteResponse {
    pub status: u16,
    pub seconds: f64,
    /// The redirect target, which carries the number of invitations sent.
    pub location: String,
    /// When the response arrived; the mail delivery is measured from here.
    pub responded_at: Instant,
}

/// Logs in as the administrator and posts "Alle auswählen" on the invitation page of the
/// organization `organization_id`.
pub async fn invite_all(
    client: &Client,
    port: u16,
    slug: &str,
    admin_username: &str,
    organization_id: i64,
) -> anyhow::Result<InviteResponse> {
    let cookie = web_session(client, port, slug, admin_username).await?;
    let started = Instant::now();
    let response = client
        .post(format!("http://127.0.0.1:{port}/admin/stammdaten/einladen"))
        .header(HOST, tenant_host(slug, port))
        .header("Cookie", format!("{SESSION_COOKIE}={cookie}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("ebene={organization_id}&aktion=alle"))
        .send()
        .await?;
    let responded_at = Instant::now();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(InviteResponse {
        status,
        seconds: (responded_at - started).as_secs_f64(),
        location,
        responded_at,
    })
}
