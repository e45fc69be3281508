//! Tests of the operator CLI: each test runs the built `mep24web` binary against its own data
//! folder, and against its own PostgreSQL database when `MEP24WEB_TEST_DATABASE_URL` is set.

use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use mep24web_entities::{outbox, tenant};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    EntityTrait, QueryFilter, Set,
};
use serde_json::Value;

/// Settings every test sets itself; inherited values would point the binary elsewhere.
const SETTING_PREFIX: &str = "MEP24WEB_";

/// An isolated place for the CLI to keep its data: a temporary data folder and, with
/// `MEP24WEB_TEST_DATABASE_URL`, a PostgreSQL database that is dropped afterwards.
struct CliEnv {
    data_dir: tempfile::TempDir,
    database: Option<PostgresDatabase>,
    extra: Vec<(String, String)>,
}

impl CliEnv {
    fn new() -> Self {
        let data_dir = tempfile::Builder::new()
            .prefix("mep24web-cli-test-")
            .tempdir()
            .unwrap_or_else(|error| panic!("cannot create a temporary data folder: {error}"));
        let database = std::env::var("MEP24WEB_TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
            .map(|url| PostgresDatabase::create(&url));
        Self {
            data_dir,
            database,
            extra: Vec::new(),
        }
    }

    /// Sets an additional environment variable for every later run.
    fn with(mut self, name: &str, value: &str) -> Self {
        self.extra.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs the binary with `args` and returns its output.
    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mep24web"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with(SETTING_PREFIX) {
                command.env_remove(name);
            }
        }
        command
            .env("MEP24WEB_DATA_DIR", self.data_dir.path())
            .env("MEP24WEB_LOG", "warn")
            .args(args);
        if let Some(database) = &self.database {
            command.env("MEP24WEB_DATABASE_URL", &database.url);
        }
        for (name, value) in &self.extra {
            command.env(name, value);
        }
        command
            .output()
            .unwrap_or_else(|error| panic!("cannot run mep24web {args:?}: {error}"))
    }

    /// Runs the binary, asserts that it succeeded and returns its standard output.
    fn run_ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "mep24web {args:?} failed with {}:\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs the binary, asserts that it exited with code 2 and printed nothing on standard
    /// output, and returns its standard error.
    fn run_rejected(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "mep24web {args:?}:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), "", "{args:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Runs the binary and parses its standard output as one JSON value.
    fn run_json(&self, args: &[&str]) -> Value {
        let stdout = self.run_ok(args);
        serde_json::from_str(&stdout).unwrap_or_else(|error| {
            panic!("mep24web {args:?} printed no JSON ({error}):\n{stdout}")
        })
    }

    fn create(&self, slug: &str, name: &str) -> Value {
        self.run_json(&["tenant", "create", "--name", name, "--slug", slug, "--json"])
    }
}

fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    value
        .get(name)
        .unwrap_or_else(|| panic!("no field {name:?} in {value}"))
}

fn string_field(value: &Value, name: &str) -> String {
    field(value, name)
        .as_str()
        .unwrap_or_else(|| panic!("field {name:?} is no string in {value}"))
        .to_owned()
}

#[test]
fn create_json_prints_links_and_first_number() {
    let env = CliEnv::new();

    let stdout = env.run_ok(&[
        "tenant",
        "create",
        "--name",
        "Acme Apotheke",
        "--slug",
        "acme",
        "--json",
    ]);

    assert_eq!(
        stdout.lines().count(),
        1,
        "one JSON object on one line:\n{stdout}"
    );
    let created: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("no JSON ({error}):\n{stdout}"));
    assert_eq!(field(&created, "slug"), "acme");
    assert_eq!(field(&created, "name"), "Acme Apotheke");
    assert_eq!(field(&created, "customer_number"), 10001);
    assert_eq!(field(&created, "admin_username"), "admin");
    assert_eq!(field(&created, "access_link"), "http://acme.localhost:8080");
    let setup_link = string_field(&created, "setup_link");
    let token = setup_link
        .strip_prefix("http://acme.localhost:8080/setup/")
        .unwrap_or_else(|| panic!("unexpected setup link {setup_link}"));
    assert_eq!(token.len(), 43, "token {token:?}");
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "token {token:?}"
    );
}

#[test]
fn create_numbers_tenants_consecutively() {
    let env = CliEnv::new();

    let first = env.create("acme", "Acme Apotheke");
    let second = env.create("beta", "Beta Markt");

    assert_eq!(field(&first, "customer_number"), 10001);
    assert_eq!(field(&second, "customer_number"), 10002);
    assert_ne!(
        string_field(&first, "setup_link"),
        string_field(&second, "setup_link")
    );
}

#[test]
fn create_with_customer_number_uses_it() {
    let env = CliEnv::new();

    let chosen = env.run_json(&[
        "tenant",
        "create",
        "--name",
        "Acme Apotheke",
        "--slug",
        "acme",
        "--customer-number",
        "50000",
        "--json",
    ]);
    let next = env.create("beta", "Beta Markt");

    assert_eq!(field(&chosen, "customer_number"), 50000);
    assert_eq!(field(&next, "customer_number"), 50001);
}

#[test]
fn create_with_admin_username_uses_it() {
    let env = CliEnv::new();

    let created = env.run_json(&[
        "tenant",
        "create",
        "--name",
        "Acme Apotheke",
        "--slug",
        "acme",
        "--admin-username",
        "chefin",
        "--json",
    ]);

    assert_eq!(field(&created, "admin_username"), "chefin");
}

#[test]
fn create_text_output_names_every_link() {
    let env = CliEnv::new();

    let stdout = env.run_ok(&[
        "tenant",
        "create",
        "--name",
        "Acme Apotheke",
        "--slug",
        "acme",
    ]);

    assert!(
        stdout.contains("Tenant created: Acme Apotheke (acme)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Access link:      http://acme.localhost:8080\n"),
        "{stdout}"
    );
    assert!(stdout.contains("Customer number:  10001\n"), "{stdout}");
    assert!(stdout.contains("Administrator:    admin\n"), "{stdout}");
    assert!(
        stdout.contains("Setup link:       http://acme.localhost:8080/setup/"),
        "{stdout}"
    );
    assert!(stdout.contains("UTC, single use)"), "{stdout}");
}

#[test]
fn create_with_public_url_uses_its_scheme_and_port() {
    let env = CliEnv::new()
        .with("MEP24WEB_BASE_DOMAIN", "mep24web.example")
        .with("MEP24WEB_PUBLIC_URL", "https://mep24web.example");

    let created = env.create("acme", "Acme Apotheke");

    assert_eq!(
        field(&created, "access_link"),
        "https://acme.mep24web.example"
    );
    assert!(
        string_field(&created, "setup_link").starts_with("https://acme.mep24web.example/setup/"),
        "{created}"
    );
}

#[test]
fn create_taken_slug_is_rejected() {
    let env = CliEnv::new();
    env.create("acme", "Acme Apotheke");

    let stderr = env.run_rejected(&["tenant", "create", "--name", "Andere", "--slug", "ACME"]);

    assert_eq!(
        stderr.trim_end(),
        "error: the slug 'acme' is already taken; choose another one"
    );
    let tenants = env.run_json(&["tenant", "list", "--json"]);
    assert_eq!(tenants.as_array().map(Vec::len), Some(1));
}

#[test]
fn create_taken_customer_number_is_rejected() {
    let env = CliEnv::new();
    env.create("acme", "Acme Apotheke");

    let stderr = env.run_rejected(&[
        "tenant",
        "create",
        "--name",
        "Beta Markt",
        "--slug",
        "beta",
        "--customer-number",
        "10001",
    ]);

    assert_eq!(
        stderr.trim_end(),
        "error: the customer number 10001 is already taken; \
         omit --customer-number to get the next free one"
    );
    let tenants = env.run_json(&["tenant", "list", "--json"]);
    assert_eq!(tenants.as_array().map(Vec::len), Some(1));
}

#[test]
fn create_invalid_slug_is_rejected() {
    let env = CliEnv::new();

    let cases = [
        (
            "bad_slug",
            "error: invalid slug 'bad_slug': slug contains the invalid character '_'; \
             only a-z, 0-9 and '-' are allowed",
        ),
        (
            "ab",
            "error: invalid slug 'ab': slug is too short: 2 characters, at least 3 are required",
        ),
        (
            "www",
            "error: invalid slug 'www': slug 'www' is reserved for the platform, choose another one",
        ),
        (
            "1abc",
            "error: invalid slug '1abc': slug must start with a letter a-z, not '1'",
        ),
    ];
    for (slug, message) in cases {
        let stderr = env.run_rejected(&["tenant", "create", "--name", "Acme", "--slug", slug]);
        assert_eq!(stderr.trim_end(), message, "slug {slug:?}");
    }
    let tenants = env.run_json(&["tenant", "list", "--json"]);
    assert_eq!(tenants, serde_json::json!([]));
}

#[test]
fn create_invalid_customer_number_is_rejected() {
    let env = CliEnv::new();

    let stderr = env.run_rejected(&[
        "tenant",
        "create",
        "--name",
        "Acme",
        "--slug",
        "acme",
        "--customer-number",
        "0123",
    ]);

    assert_eq!(
        stderr.trim_end(),
        "error: invalid customer number: customer number must not start with 0"
    );
}

#[test]
fn create_empty_name_is_rejected() {
    let env = CliEnv::new();

    let stderr = env.run_rejected(&["tenant", "create", "--name", "  ", "--slug", "acme"]);

    assert_eq!(
        stderr.trim_end(),
        "error: the tenant name must have 1 to 200 characters"
    );
}

#[test]
fn list_shows_tenants_by_customer_number() {
    let env = CliEnv::new();
    env.run_json(&[
        "tenant",
        "create",
        "--name",
        "Zeta Apotheke",
        "--slug",
        "zeta",
        "--customer-number",
        "20000",
        "--json",
    ]);
    env.run_json(&[
        "tenant",
        "create",
        "--name",
        "Acme Apotheke",
        "--slug",
        "acme",
        "--customer-number",
        "15000",
        "--json",
    ]);

    let tenants = env.run_json(&["tenant", "list", "--json"]);
    let rows = tenants
        .as_array()
        .unwrap_or_else(|| panic!("no JSON array: {tenants}"));
    assert_eq!(rows.len(), 2);
    assert_eq!(field(&rows[0], "customer_number"), 15000);
    assert_eq!(field(&rows[0], "slug"), "acme");
    assert_eq!(field(&rows[0], "name"), "Acme Apotheke");
    assert_eq!(field(&rows[0], "status"), "active");
    assert_eq!(field(&rows[0], "access_link"), "http://acme.localhost:8080");
    assert_eq!(field(&rows[1], "customer_number"), 20000);
    assert_eq!(field(&rows[1], "slug"), "zeta");

    let text = env.run_ok(&["tenant", "list"]);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec!["NUMBER", "SLUG", "STATUS", "NAME"],
            vec!["15000", "acme", "active", "Acme", "Apotheke"],
            vec!["20000", "zeta", "active", "Zeta", "Apotheke"],
        ]
    );
}

#[test]
fn show_finds_tenant_by_slug_or_number() {
    let env = CliEnv::new();
    env.create("acme", "Acme Apotheke");

    let by_slug = env.run_json(&["tenant", "show", "acme", "--json"]);
    let by_number = env.run_json(&["tenant", "show", "10001", "--json"]);

    assert_eq!(by_slug, by_number);
    assert_eq!(field(&by_slug, "slug"), "acme");
    assert_eq!(field(&by_slug, "customer_number"), 10001);
    assert_eq!(field(&by_slug, "status"), "active");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&string_field(&by_slug, "created_at")).is_ok(),
        "{by_slug}"
    );

    let text = env.run_ok(&["tenant", "show", "acme"]);
    assert!(
        text.lines()
            .any(|line| line.split_whitespace().eq(["slug", "acme"])),
        "{text}"
    );
}

#[test]
fn show_unknown_tenant_is_rejected() {
    let env = CliEnv::new();

    let stderr = env.run_rejected(&["tenant", "show", "nobody"]);
    assert_eq!(
        stderr.trim_end(),
        "error: no tenant with slug or customer number 'nobody'"
    );

    let stderr = env.run_rejected(&["tenant", "show", "10001"]);
    assert_eq!(
        stderr.trim_end(),
        "error: no tenant with slug or customer number '10001'"
    );
}

#[test]
fn suspend_and_resume_change_status() {
    let env = CliEnv::new();
    env.create("acme", "Acme Apotheke");
    env.create("beta", "Beta Markt");

    assert_eq!(
        env.run_ok(&["tenant", "suspend", "acme"]),
        "Tenant acme suspended.\n"
    );
    let suspended = env.run_json(&["tenant", "show", "acme", "--json"]);
    assert_eq!(field(&suspended, "status"), "suspended");
    let other = env.run_json(&["tenant", "show", "beta", "--json"]);
    assert_eq!(field(&other, "status"), "active");

    assert_eq!(
        env.run_ok(&["tenant", "resume", "acme"]),
        "Tenant acme resumed.\n"
    );
    let resumed = env.run_json(&["tenant", "show", "acme", "--json"]);
    assert_eq!(field(&resumed, "status"), "active");
}

#[test]
fn suspend_unknown_tenant_is_rejected() {
    let env = CliEnv::new();

    for command in ["suspend", "resume"] {
        let stderr = env.run_rejected(&["tenant", command, "nobody"]);
        assert_eq!(
            stderr.trim_end(),
            "error: no tenant with slug 'nobody'",
            "{command}"
        );
        let stderr = env.run_rejected(&["tenant", command, "Not a slug"]);
        assert_eq!(
            stderr.trim_end(),
            "error: no tenant with slug 'Not a slug'",
            "{command}"
        );
    }
}

#[test]
fn migrate_prepares_empty_database() {
    let env = CliEnv::new();

    assert_eq!(env.run_ok(&["migrate"]), "Migrations applied.\n");
    assert_eq!(env.run_ok(&["migrate"]), "Migrations applied.\n");

    if env.database.is_none() {
        assert!(env.data_dir.path().join("mep24web.db").is_file());
    }
    let tenants = env.run_json(&["tenant", "list", "--json"]);
    assert_eq!(tenants, serde_json::json!([]));
}

#[test]
fn empty_settings_count_as_unset() {
    // Every setting given as `NAME=`, except the ones that point the binary at this test's data.
    let mut env = CliEnv::new();
    let command = <mep24web::cli::Cli as clap::CommandFactory>::command();
    for arg in command.get_arguments() {
        let Some(name) = arg.get_env().and_then(|name| name.to_str()) else {
            continue;
        };
        if name != "MEP24WEB_DATA_DIR" && name != "MEP24WEB_DATABASE_URL" {
            env = env.with(name, "");
        }
    }
    assert!(env.extra.len() > 20, "{:?}", env.extra);

    assert_eq!(env.run_ok(&["migrate"]), "Migrations applied.\n");
    let tenants = env.run_json(&["tenant", "list", "--json"]);
    assert_eq!(tenants, serde_json::json!([]));
}

#[test]
fn help_lists_commands_and_settings() {
    let env = CliEnv::new();

    let help = env.run_ok(&["--help"]);

    for command in ["serve", "migrate", "tenant", "outbox"] {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(command)),
            "command {command} missing in:\n{help}"
        );
    }
    for setting in [
        "MEP24WEB_DATA_DIR",
        "MEP24WEB_DATABASE_URL",
        "MEP24WEB_DATABASE_URL_FILE",
        "MEP24WEB_DB_MAX_CONNECTIONS",
        "MEP24WEB_LISTEN",
        "MEP24WEB_BASE_DOMAIN",
        "MEP24WEB_PUBLIC_URL",
        "MEP24WEB_TRUSTED_PROXIES",
        "MEP24WEB_SMTP_URL",
        "MEP24WEB_SMTP_URL_FILE",
        "MEP24WEB_SMTP_TIMEOUT_SECONDS",
        "MEP24WEB_MAIL_FROM",
        "MEP24WEB_OUTBOX_POLL_SECONDS",
        "MEP24WEB_OUTBOX_MAX_ATTEMPTS",
        "MEP24WEB_HASH_CONCURRENCY",
        "MEP24WEB_LOG",
        "MEP24WEB_LOG_FORMAT",
        "MEP24WEB_REQUEST_TIMEOUT_SECONDS",
    ] {
        assert!(
            help.contains(&format!("[env: {setting}")),
            "setting {setting} missing in:\n{help}"
        );
    }

    let tenant_help = env.run_ok(&["tenant", "create", "--help"]);
    for flag in [
        "--name",
        "--slug",
        "--customer-number",
        "--admin-username",
        "--json",
    ] {
        assert!(
            tenant_help.contains(flag),
            "{flag} missing in:\n{tenant_help}"
        );
    }
}

/// Subject and bodies of the mails the outbox tests write; the CLI must never print them.
const MAIL_SUBJECT: &str = "Einladung für Zora Quendel";
const MAIL_BODY: &str = "Ihr Registrierungslink: http://acme.localhost/register/geheim";

/// Returns the URL of the database the CLI of `env` uses, for the table owner.
fn database_url(env: &CliEnv) -> String {
    match &env.database {
        Some(database) => database.url.clone(),
        None => format!(
            "sqlite://{}?mode=rw",
            env.data_dir.path().join("mep24web.db").display()
        ),
    }
}

/// Writes a mail of the tenant `slug` into the outbox, due in an hour, and returns its id.
fn insert_mail(env: &CliEnv, slug: &str, recipient: &str, status: &str, attempts: i32) -> i64 {
    block_on(async {
        let db = connect(&database_url(env))
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the CLI's database: {error}"));
        let tenant = tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug))
            .one(&db)
            .await
            .unwrap_or_else(|error| panic!("cannot read tenant {slug}: {error}"))
            .unwrap_or_else(|| panic!("no tenant {slug}"));
        let now = Utc::now();
        let row = outbox::ActiveModel {
            tenant_id: Set(tenant.id),
            recipient: Set(recipient.to_owned()),
            reply_to: Set(None),
            subject: Set(MAIL_SUBJECT.to_owned()),
            body_text: Set(MAIL_BODY.to_owned()),
            body_html: Set(format!("<p>{MAIL_BODY}</p>")),
            status: Set(status.to_owned()),
            attempts: Set(attempts),
            next_attempt_at: Set(now + chrono::Duration::hours(1)),
            locked_until: Set(None),
            claimed_by: Set(None),
            last_error: Set(Some(
                "permanent error (550): 5.1.1 <***@example.com>: user unknown".to_owned(),
            )),
            created_at: Set(now),
            sent_at: Set((status == "sent").then_some(now)),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap_or_else(|error| panic!("cannot insert a mail: {error}"));
        let _ = db.close().await;
        row.id
    })
}

fn read_mail(env: &CliEnv, id: i64) -> outbox::Model {
    block_on(async {
        let db = connect(&database_url(env))
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the CLI's database: {error}"));
        let row = outbox::Entity::find_by_id(id)
            .one(&db)
            .await
            .unwrap_or_else(|error| panic!("cannot read mail {id}: {error}"))
            .unwrap_or_else(|| panic!("no mail {id}"));
        let _ = db.close().await;
        row
    })
}

/// Creates the tenants `acme` (10001) and `zeta` (10002) with a pending, a dead and a sent mail
/// of `acme` and a dead mail of `zeta`, and returns the ids in that order.
fn outbox_with_mails(env: &CliEnv) -> [i64; 4] {
    env.create("acme", "Acme Apotheke");
    env.create("zeta", "Zeta Apotheke");
    [
        insert_mail(env, "acme", "zora.quendel@apotheke.example", "pending", 3),
        insert_mail(env, "acme", "ben.berg@apotheke.example", "dead", 10),
        insert_mail(env, "acme", "carl.clausen@apotheke.example", "sent", 1),
        insert_mail(env, "zeta", "dora.dahl@zeta.example", "dead", 10),
    ]
}

fn listed_ids(listing: &Value) -> Vec<i64> {
    field(listing, "mails")
        .as_array()
        .unwrap_or_else(|| panic!("no mail array in {listing}"))
        .iter()
        .map(|mail| {
            field(mail, "id")
                .as_i64()
                .unwrap_or_else(|| panic!("no id in {mail}"))
        })
        .collect()
}

#[test]
fn outbox_list_shows_tenant_without_content() {
    let env = CliEnv::new();
    let [pending, dead, _sent, other_dead] = outbox_with_mails(&env);

    let listing = env.run_json(&["outbox", "list", "--json"]);
    let text = env.run_ok(&["outbox", "list"]);

    assert_eq!(field(&listing, "total"), 3);
    assert_eq!(listed_ids(&listing), [pending, dead, other_dead]);
    let first = &field(&listing, "mails")[0];
    assert_eq!(field(first, "status"), "pending");
    assert_eq!(field(first, "attempts"), 3);
    assert_eq!(field(first, "customer_number"), 10001);
    assert_eq!(field(first, "tenant_slug"), "acme");
    assert_eq!(field(first, "recipient_domain"), "apotheke.example");
    assert_eq!(field(first, "claimed"), false);
    assert!(field(first, "next_attempt_at").is_string(), "{first}");
    assert!(string_field(first, "last_error").contains("550"), "{first}");
    let last = &field(&listing, "mails")[2];
    assert_eq!(field(last, "status"), "dead");
    assert_eq!(field(last, "customer_number"), 10002);
    assert_eq!(field(last, "tenant_slug"), "zeta");
    assert!(field(last, "next_attempt_at").is_null(), "{last}");

    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("ID"), "{text}");
    let first_line: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        first_line[..6],
        [
            pending.to_string().as_str(),
            "pending",
            "3",
            "10001",
            "acme",
            "apotheke.example"
        ]
    );
    for output in [listing.to_string(), text] {
        for secret in ["zora.quendel", "Zora", "Registrierungslink", "geheim"] {
            assert!(!output.contains(secret), "{secret:?} printed:\n{output}");
        }
    }
}

#[test]
fn outbox_list_filters_dead_and_tenant() {
    let env = CliEnv::new();
    let [pending, dead, _sent, other_dead] = outbox_with_mails(&env);

    let dead_only = env.run_json(&["outbox", "list", "--dead", "--json"]);
    let by_slug = env.run_json(&["outbox", "list", "--tenant", "acme", "--json"]);
    let by_number = env.run_json(&["outbox", "list", "--tenant", "10002", "--json"]);
    let limited = env.run_ok(&["outbox", "list", "--limit", "1"]);
    let unknown = env.run_rejected(&["outbox", "list", "--tenant", "nobody"]);

    assert_eq!(listed_ids(&dead_only), [dead, other_dead]);
    assert_eq!(listed_ids(&by_slug), [pending, dead]);
    assert_eq!(listed_ids(&by_number), [other_dead]);
    assert_eq!(limited.lines().count(), 3, "{limited}");
    assert!(limited.contains("1 of 3 mails shown"), "{limited}");
    assert_eq!(
        unknown.trim_end(),
        "error: no tenant with slug or customer number 'nobody'"
    );
}

#[test]
fn outbox_retry_queues_mail_again() {
    let env = CliEnv::new();
    let [pending, dead, sent, other_dead] = outbox_with_mails(&env);

    let revived = env.run_ok(&["outbox", "retry", &dead.to_string()]);
    let due = env.run_ok(&["outbox", "retry", &pending.to_string()]);
    let already_sent = env.run_rejected(&["outbox", "retry", &sent.to_string()]);
    let missing = env.run_rejected(&["outbox", "retry", "999999"]);

    assert!(
        revived.starts_with(&format!("Mail {dead} is pending again")),
        "{revived}"
    );
    let row = read_mail(&env, dead);
    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 0);
    assert!(row.next_attempt_at <= Utc::now(), "{row:?}");
    assert!(row.last_error.is_some(), "{row:?}");

    assert!(
        due.starts_with(&format!("Mail {pending} is due now")),
        "{due}"
    );
    let row = read_mail(&env, pending);
    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 3);
    assert!(row.next_attempt_at <= Utc::now(), "{row:?}");

    assert_eq!(
        already_sent.trim_end(),
        format!("error: mail {sent} was already sent, so it is not queued again")
    );
    assert_eq!(read_mail(&env, sent).status, "sent");
    assert_eq!(
        missing.trim_end(),
        "error: no mail with id 999999 in the outbox"
    );
    assert_eq!(read_mail(&env, other_dead).status, "dead");
}

#[test]
fn outbox_retry_all_dead_revives_each() {
    let env = CliEnv::new();
    let [pending, dead, _sent, other_dead] = outbox_with_mails(&env);

    let of_zeta = env.run_ok(&["outbox", "retry", "--all-dead", "--tenant", "zeta"]);
    assert!(
        of_zeta.starts_with("Dead mails queued again: 1."),
        "{of_zeta}"
    );
    assert_eq!(read_mail(&env, other_dead).status, "pending");
    assert_eq!(read_mail(&env, dead).status, "dead");

    let of_all = env.run_ok(&["outbox", "retry", "--all-dead"]);
    assert!(
        of_all.starts_with("Dead mails queued again: 1."),
        "{of_all}"
    );
    let row = read_mail(&env, dead);
    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 0);
    assert_eq!(read_mail(&env, pending).attempts, 3);

    let none_left = env.run_ok(&["outbox", "retry", "--all-dead"]);
    assert!(
        none_left.starts_with("Dead mails queued again: 0."),
        "{none_left}"
    );
    let listing = env.run_json(&["outbox", "list", "--dead", "--json"]);
    assert_eq!(field(&listing, "total"), 0);
}

/// A PostgreSQL database for one test, named like the end-to-end harness names its databases
/// (`mep24web_test_<unix seconds>_<uuid>`) so that its clean-up of leaked databases covers
/// these too.
struct PostgresDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    fn create(server_url: &str) -> Self {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |age| age.as_secs());
        let name = format!("mep24web_test_{created}_{}", uuid::Uuid::new_v4().simple());
        let admin_url = block_on(async {
            // The database named in the URL may not exist; the maintenance database does.
            let fallback = with_database(server_url, "postgres");
            for candidate in [server_url.to_owned(), fallback] {
                if let Ok(admin) = connect(&candidate).await {
                    admin
                        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                        .await
                        .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
                    let _ = admin.close().await;
                    return candidate;
                }
            }
            panic!("cannot connect to PostgreSQL at MEP24WEB_TEST_DATABASE_URL");
        });
        let url = with_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        block_on(async {
            match connect(&self.admin_url).await {
                Ok(admin) => {
                    if let Err(error) = admin.execute_unprepared(&statement).await {
                        eprintln!("cannot drop the test database {}: {error}", self.name);
                    }
                    let _ = admin.close().await;
                }
                Err(error) => eprintln!("cannot drop the test database {}: {error}", self.name),
            }
        });
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("cannot start a runtime: {error}"))
        .block_on(future)
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await
}

fn with_database(server_url: &str, database: &str) -> String {
    let mut url = url::Url::parse(server_url)
        .unwrap_or_else(|error| panic!("MEP24WEB_TEST_DATABASE_URL is no URL: {error}"));
    url.set_path(&format!("/{database}"));
    url.to_string()
}
