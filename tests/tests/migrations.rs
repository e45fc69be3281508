//! Start-up migrations on PostgreSQL: a server with only the application role serves a database
//! an operator migrated and names the command when one is not, and instances starting together
//! apply each migration once.

use clap::Parser;
use mep24web::app::open_database;
use mep24web::cli::Cli;
use mep24web_tests::postgres::TestDatabase;

/// Returns the PostgreSQL server of the tests, or `None` on SQLite.
fn postgres_server() -> Option<String> {
    std::env::var("MEP24WEB_TEST_DATABASE_URL").ok()
}

fn settings(database_url: &str, migration_url: Option<&str>) -> mep24web::settings::Settings {
    let mut args = vec!["mep24web", "--database-url", database_url];
    if let Some(url) = migration_url {
        args.extend(["--migration-database-url", url]);
    }
    args.push("migrate");
    Cli::parse_from(args).settings
}

#[tokio::test]
async fn application_role_alone_needs_a_migrated_database() {
    let Some(server) = postgres_server() else {
        eprintln!("MEP24WEB_TEST_DATABASE_URL is not set; PostgreSQL start-up is not tested");
        return;
    };
    let database = TestDatabase::create(&server).await.unwrap();
    let app_only = settings(database.app_url(), None);

    let error = open_database(&app_only).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("run `mep24web migrate`"), "{message}");

    let with_owner = settings(database.app_url(), Some(database.url()));
    open_database(&with_owner)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    // Nothing is pending now, so the application role needs no right to create tables.
    open_database(&app_only)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let Some(server) = postgres_server() else {
        eprintln!("MEP24WEB_TEST_DATABASE_URL is not set; PostgreSQL start-up is not tested");
        return;
    };
    let database = TestDatabase::create(&server).await.unwrap();
    let with_owner = settings(database.app_url(), Some(database.url()));
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let settings = settings(database.app_url(), Some(database.url()));
            tokio::spawn(async move { open_database(&settings).await.map(|_| ()) })
        })
        .collect();
    for start in starts {
        start.await.unwrap().unwrap();
    }
    let conn = open_database(&with_owner).await.unwrap();
    assert!(
        mep24web_platform::db::pending_migrations(&conn)
            .await
            .unwrap()
            .is_empty()
    );
}
