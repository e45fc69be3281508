//! Cross-site form submissions on tenant hosts are rejected by the browser's `Origin` and
//! `Sec-Fetch-Site` headers; same-site submissions and non-browser clients pass.

use mep24web_entities::account;
use mep24web_tests::{client, spawn_app};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

#[tokio::test]
async fn login_post_from_other_tenant_origin_is_rejected() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    app.create_tenant("evil", "Evil GmbH").await;
    let http = client();

    let response = http
        .post(app.tenant_url("acme", "/login"))
        .header("origin", format!("http://evil.localhost:{}", app.port))
        .form(&[("username", "admin"), ("password", "irgendetwas-langes")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("von einer fremden Seite abgeschickt"),
        "{body}"
    );

    // The rejected attempt never reached the login check, so no failure was counted.
    let admin = account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.failed_attempts, 0);
}

#[tokio::test]
async fn logout_post_marked_cross_site_is_rejected() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let response = client()
        .post(app.tenant_url("acme", "/logout"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn login_post_same_origin_reaches_login() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let response = client()
        .post(app.tenant_url("acme", "/login"))
        .header("origin", format!("http://acme.localhost:{}", app.port))
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "niemand"), ("password", "irgendetwas-langes")])
        .send()
        .await
        .unwrap();
    // Unknown user: the generic login failure, not the cross-site rejection.
    assert_eq!(response.status(), 401);
}
