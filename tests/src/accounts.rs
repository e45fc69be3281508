//! Planner accounts and user groups for the integration tests: signing in the provisioned
//! administrator, inserting planners of a group, and creating groups through the form.

use chrono::Utc;
use mep24web_entities::{account, user_group};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::SecretString;

use crate::http::{location, post_form};
use crate::{TestApp, TestTenant};

/// Password of every account these helpers create.
pub const PASSWORD: &str = "Sicheres-Passwort-2026";

/// Sets the administrator's password through the setup link, which signs `client` in.
pub async fn sign_in_admin(tenant: &TestTenant, client: &reqwest::Client) {
    let response = post_form(
        client,
        &tenant.setup_link,
        &[("password", PASSWORD), ("password_repeat", PASSWORD)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "setup link failed"
    );
    assert_eq!(location(&response), "/admin");
}

/// Inserts an active planner in the group `group_key` with [`PASSWORD`] and returns its id.
pub async fn insert_planner(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    group_key: &str,
) -> i64 {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .expect("hashing the test password");
    let now = Utc::now();
    account::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        kind: Set("planner".to_owned()),
        username: Set(username.to_owned()),
        username_key: Set(username.to_lowercase()),
        password_hash: Set(Some(hash)),
        display_name: Set(format!("Planer {username}")),
        role: Set(Some(group_key.to_owned())),
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
    .expect("inserting a planner")
    .id
}

/// Signs in at `/login` with a new client and checks that the login succeeded.
pub async fn sign_in(app: &TestApp, tenant: &TestTenant, username: &str) -> reqwest::Client {
    let client = app.client();
    let response = post_form(
        &client,
        &app.tenant_url(&tenant.slug, "/login"),
        &[("username", username), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login of {username}"
    );
    assert_eq!(location(&response), "/admin", "login of {username}");
    client
}

/// Inserts a planner of the group and signs them in.
pub async fn planner_in_group(
    app: &TestApp,
    tenant: &TestTenant,
    username: &str,
    group_key: &str,
) -> reqwest::Client {
    insert_planner(app, tenant, username, group_key).await;
    sign_in(app, tenant, username).await
}

/// Creates a group through the form as `client` and returns its id and key. `rights` lists
/// right codes with an optional node.
pub async fn create_group(
    app: &TestApp,
    tenant: &TestTenant,
    client: &reqwest::Client,
    name: &str,
    rights: &[(&str, Option<i64>)],
) -> (i64, String) {
    let response = client
        .post(app.tenant_url(&tenant.slug, "/admin/sicherheit/gruppen/neu"))
        .form(&group_fields(name, rights))
        .send()
        .await
        .expect("posting the group form");
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "creating group {name}"
    );
    let group = user_group::Entity::find()
        .filter(user_group::Column::TenantId.eq(tenant.id.get()))
        .filter(user_group::Column::Name.eq(name))
        .one(app.db())
        .await
        .expect("reading the group")
        .expect("the group was stored");
    (group.id, group.key)
}

/// Codes of the four rights over employees, the ones a group can limit to a node.
pub const EMPLOYEE_RIGHTS: [&str; 4] = [
    "masterdata_view",
    "masterdata_edit",
    "employees_invite",
    "employee_logins",
];

/// Creates the group `name` with the four employee rights limited to `node` as the signed-in
/// administrator `admin`, and signs in its new member `username`.
pub async fn node_manager(
    app: &TestApp,
    tenant: &TestTenant,
    admin: &reqwest::Client,
    (name, node): (&str, i64),
    username: &str,
) -> reqwest::Client {
    let rights: Vec<(&str, Option<i64>)> = EMPLOYEE_RIGHTS
        .iter()
        .map(|code| (*code, Some(node)))
        .collect();
    let (_, key) = create_group(app, tenant, admin, name, &rights).await;
    planner_in_group(app, tenant, username, &key).await
}

/// Returns the form fields of a group with these rights.
pub fn group_fields(name: &str, rights: &[(&str, Option<i64>)]) -> Vec<(String, String)> {
    let mut fields = vec![("name".to_owned(), name.to_owned())];
    for (code, node) in rights {
        fields.push((format!("right_{code}"), "ja".to_owned()));
        fields.push((
            format!("scope_{code}"),
            node.map(|node| node.to_string()).unwrap_or_default(),
        ));
    }
    fields
}

/// Inserts a user group without any right directly and returns its key.
pub async fn group_without_rights(app: &TestApp, tenant: &TestTenant) -> String {
    let now = Utc::now();
    let key = format!("ohne-rechte-{}", tenant.id.get());
    user_group::ActiveModel {
        tenant_id: Set(tenant.id.get()),
        key: Set(key.clone()),
        name: Set("Ohne Rechte".to_owned()),
        name_key: Set("ohne rechte".to_owned()),
        builtin: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .expect("inserting a group");
    key
}

/// Moves a planner, found by username, into the group `group_key`.
pub async fn set_group(app: &TestApp, tenant: &TestTenant, username: &str, group_key: &str) {
    let account = account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::UsernameKey.eq(username.to_lowercase()))
        .one(app.db())
        .await
        .expect("reading the planner")
        .expect("the planner exists");
    let mut active: account::ActiveModel = account.into();
    active.role = Set(Some(group_key.to_owned()));
    active.update(app.db()).await.expect("moving the planner");
}
