//! Smoke tests of the harness itself: the server starts, tenants resolve, and mail written to
//! the outbox reaches the test SMTP listener through lettre.

use std::time::Duration;

use mep24web_platform::mail::OutgoingMail;
use mep24web_tests::{get_text, spawn_app};
use reqwest::StatusCode;

#[tokio::test]
async fn spawn_app_serves_created_tenant() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;

    assert_eq!(tenant.slug, "acme");
    assert_eq!(tenant.customer_number, 10001);
    assert_eq!(tenant.admin_username, "admin");
    assert_eq!(
        tenant.access_link,
        format!("http://acme.localhost:{}", app.port)
    );
    assert!(
        tenant
            .setup_link
            .starts_with(&format!("http://acme.localhost:{}/setup/", app.port)),
        "setup link {}",
        tenant.setup_link
    );

    let client = app.client();
    let (status, body) = get_text(&client, &app.tenant_url("acme", "/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn outbox_mail_reaches_smtp_listener() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let link = format!("{}/register/abc", tenant.access_link);

    app.state()
        .mail
        .enqueue(
            app.db(),
            tenant.id,
            OutgoingMail {
                recipient: "Anna.Schmidt@example.com".to_owned(),
                reply_to: Some("chefin@example.com".to_owned()),
                subject: "Einladung für Anna Schmidt".to_owned(),
                body_text: format!("Guten Tag,\n\nbitte registrieren Sie sich: {link}.\n"),
                body_html: format!(
                    "<p>Bitte registrieren Sie sich: <a href=\"{link}\">{link}</a></p>"
                ),
            },
        )
        .await
        .unwrap_or_else(|error| panic!("enqueue failed: {error}"));
    app.state().mail.wake();

    let mail = app
        .wait_for_mail("anna.schmidt@example.com", Duration::from_secs(10))
        .await;

    assert_eq!(mail.subject, "Einladung für Anna Schmidt");
    assert_eq!(mail.recipients, ["Anna.Schmidt@example.com"]);
    assert_eq!(mail.to, ["Anna.Schmidt@example.com"]);
    assert_eq!(mail.from, ["noreply@localhost"]);
    assert_eq!(mail.reply_to, ["chefin@example.com"]);
    assert_eq!(mail.links, vec![link.clone()]);
    assert!(
        mail.text.contains("bitte registrieren Sie sich"),
        "text: {}",
        mail.text
    );
    assert!(
        mail.html.contains(&format!("<a href=\"{link}\">")),
        "html: {}",
        mail.html
    );
    assert_eq!(app.mails().len(), 1);
}

#[tokio::test]
async fn wait_for_mail_returns_each_mail_once() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    for subject in ["Erste", "Zweite"] {
        app.state()
            .mail
            .enqueue(
                app.db(),
                tenant.id,
                OutgoingMail {
                    recipient: "ben@example.com".to_owned(),
                    reply_to: None,
                    subject: subject.to_owned(),
                    body_text: "Text".to_owned(),
                    body_html: "<p>Text</p>".to_owned(),
                },
            )
            .await
            .unwrap_or_else(|error| panic!("enqueue failed: {error}"));
    }
    app.state().mail.wake();

    let first = app
        .wait_for_mail("ben@example.com", Duration::from_secs(10))
        .await;
    let second = app
        .wait_for_mail("ben@example.com", Duration::from_secs(10))
        .await;

    assert_eq!(first.subject, "Erste");
    assert_eq!(second.subject, "Zweite");
}

#[tokio::test]
async fn stop_closes_listener() {
    let app = spawn_app().await;
    let client = app.client();
    let url = app.apex_url("/healthz");
    let (status, _) = get_text(&client, &url).await;
    assert_eq!(status, StatusCode::OK);

    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .unwrap_or_else(|_| panic!("the server did not stop within 10 s"));

    let result = mep24web_tests::client().get(&url).send().await;
    assert!(result.is_err(), "the server still answers: {result:?}");
}
