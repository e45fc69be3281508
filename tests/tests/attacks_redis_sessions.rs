//! Attacks on the session store, run against whichever store the test application uses: the
//! database, or the Redis of `MEP24WEB_TEST_REDIS_URL` when it is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mep24web_tests::accounts::{PASSWORD, insert_planner, sign_in};
use mep24web_tests::{TestApp, client, post_form, spawn_app_with};
use reqwest::StatusCode;

const NEW_PASSWORD: &str = "Neues-Passwort-2027";

/// Starts an application without login attempt limits, so a test may log in as often as it
/// needs from 127.0.0.1.
async fn spawn_unlimited() -> TestApp {
    spawn_app_with(|settings| {
        settings.login_limit_per_ip = 0;
        settings.login_limit_per_tenant = 0;
    })
    .await
}

/// Where a racing login signs in.
#[derive(Clone, Copy)]
enum Door {
    /// The login form of the tenant's host, which starts a web session.
    Form,
    /// The app API, which issues an app token.
    App { customer_number: i64 },
}

/// Logs in with the old password through `door` again and again until `stop` is set, and returns
/// how many of those logins succeeded.
async fn log_in_until(app: &TestApp, slug: &str, door: Door, stop: Arc<AtomicBool>) -> usize {
    let mut succeeded = 0;
    while !stop.load(Ordering::SeqCst) {
        let accepted = match door {
            Door::Form => {
                let response = post_form(
                    &client(),
                    &app.tenant_url(slug, "/login"),
                    &[("username", "p.meier"), ("password", PASSWORD)],
                )
                .await;
                response.status() == StatusCode::SEE_OTHER
            }
            Door::App { customer_number } => {
                let response = client()
                    .post(app.apex_url("/api/app/v1/login"))
                    .json(&serde_json::json!({
                        "customer_number": customer_number,
                        "username": "p.meier",
                        "password": PASSWORD,
                    }))
                    .send()
                    .await
                    .unwrap();
                response.status() == StatusCode::OK
            }
        };
        if accepted {
            succeeded += 1;
        }
    }
    succeeded
}

#[tokio::test]
async fn password_change_racing_logins_ends_their_sessions() {
    let app = Arc::new(spawn_unlimited().await);
    let tenant = app.create_tenant("acme", "Acme Apotheke").await;
    let planner = insert_planner(&app, &tenant, "p.meier", "planer").await;
    let owner = sign_in(&app, &tenant, "p.meier").await;

    // Logins with the old password run while the owner changes it. Each one that read the old
    // hash before the change committed may finish after it.
    let stop = Arc::new(AtomicBool::new(false));
    let app_door = Door::App {
        customer_number: tenant.customer_number,
    };
    let attackers: Vec<_> = [Door::Form, Door::Form, app_door, app_door]
        .into_iter()
        .map(|door| {
            let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
            tokio::spawn(async move { log_in_until(&app, "acme", door, stop).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = post_form(
        &owner,
        &app.tenant_url("acme", "/password/change"),
        &[
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("new_password_repeat", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    stop.store(true, Ordering::SeqCst);
    let mut old_password_logins = 0;
    for attacker in attackers {
        old_password_logins += attacker.await.unwrap();
    }
    assert!(old_password_logins > 0, "no login ran before the change");

    // Only the owner's session may remain: every web session and app token of a login with the
    // old password, finished before or after the change, is ended.
    assert_eq!(app.session_count(planner).await, 1);
}
