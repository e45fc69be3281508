//! Command line: `serve`, `migrate` and the operator commands under `tenant` and `outbox`.

mod outbox;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use mep24web_tenancy::provision::{self, NewTenant};
use mep24web_tenancy::{CustomerNumber, Slug};
use sea_orm::DatabaseConnection;

use self::outbox::OutboxCommand;
use crate::app::{Application, open_database, open_owner_database, public_urls};
use crate::settings::{self, Settings};

/// mep24web: staff scheduling for many companies on one server.
#[derive(Parser, Debug)]
#[command(name = "mep24web", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments and `MEP24WEB_*` variables as `Parser::parse` does, except
    /// that a variable set to the empty string counts as unset. Prints clap's message and exits
    /// on an invalid value or after `--help`.
    pub fn parse_process() -> Self {
        let mut command =
            settings::ignore_empty_env(Self::command(), |name| std::env::var_os(name));
        command
            .try_get_matches_from_mut(std::env::args_os())
            .and_then(|mut matches| Self::from_arg_matches_mut(&mut matches))
            .unwrap_or_else(|error| error.format(&mut command).exit())
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (applies pending migrations first).
    Serve {
        /// On an empty database only: create the demo tenant `demo` and print how to log in.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Operator commands for tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Operator commands for the mail outbox: list undelivered mail and queue it again.
    #[command(subcommand)]
    Outbox(OutboxCommand),
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Provision a tenant and print its access link, customer number and one-time setup link.
    Create {
        /// Company name, shown in the header.
        #[arg(long)]
        name: String,
        /// Subdomain of the access link: 3-63 characters a-z, 0-9 and '-'.
        #[arg(long)]
        slug: String,
        /// Customer number from billing; default: the next free one.
        #[arg(long)]
        customer_number: Option<String>,
        /// Username of the first administrator; default: admin.
        #[arg(long)]
        admin_username: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List all tenants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant by slug or customer number.
    Show {
        /// Slug or customer number.
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Suspend a tenant: its users can no longer log in or use the app.
    Suspend { slug: String },
    /// Resume a suspended tenant.
    Resume { slug: String },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { demo } => {
            let app = Application::build(cli.settings, demo).await?;
            let db = app.state().db.pool().clone();
            let served = app.run_until_stopped().await;
            close_database(&db).await;
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            // Migrates with the owner role, grants the application role, and checks that the
            // application role can connect.
            let db = open_database(&cli.settings).await?;
            close_database(&db).await;
            println!("Migrations applied.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(command) => {
            let db = open_owner_database(&cli.settings).await?;
            let outcome = tenant_command(&cli.settings, &db, command).await;
            close_database(&db).await;
            outcome
        }
        Command::Outbox(command) => {
            let db = open_owner_database(&cli.settings).await?;
            let outcome = outbox::run(&db, command).await;
            close_database(&db).await;
            outcome
        }
    }
}

/// Time the pool may take to close its connections before the process exits without waiting.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Closes every pooled connection before the process exits. On SQLite, closing the last
/// connection folds the write-ahead log into `mep24web.db`, so a stopped server leaves a
/// complete database file. A request still running after the shutdown timeout keeps its
/// connection, so closing waits at most `CLOSE_TIMEOUT`.
async fn close_database(db: &DatabaseConnection) {
    match tokio::time::timeout(CLOSE_TIMEOUT, db.close_by_ref()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "closing the database connections failed"),
        Err(_) => tracing::warn!(
            timeout_seconds = CLOSE_TIMEOUT.as_secs(),
            "database connections still in use at exit; on SQLite the write-ahead log file \
             mep24web.db-wal stays and belongs to the database"
        ),
    }
}

async fn tenant_command(
    settings: &Settings,
    db: &DatabaseConnection,
    command: TenantCommand,
) -> anyhow::Result<ExitCode> {
    let urls = public_urls(settings, settings.listen.port())?;
    match command {
        TenantCommand::Create {
            name,
            slug,
            customer_number,
            admin_username,
            json,
        } => {
            let slug = match Slug::parse(&slug) {
                Ok(slug) => slug,
                Err(error) => return fail(format!("invalid slug '{slug}': {error}")),
            };
            let customer_number = match customer_number.as_deref().map(str::parse::<CustomerNumber>)
            {
                None => None,
                Some(Ok(number)) => Some(number),
                Some(Err(error)) => return fail(format!("invalid customer number: {error}")),
            };
            let request = NewTenant {
                name,
                slug,
                customer_number,
                admin_username,
            };
            match provision::create_tenant(db, &urls, request).await {
                Ok(created) => {
                    announce_tenant_change(settings).await;
                    if json {
                        println!("{}", serde_json::to_string(&created)?);
                    } else {
                        println!("Tenant created: {} ({})", created.name, created.slug);
                        println!("Access link:      {}", created.access_link);
                        println!("Customer number:  {}", created.customer_number);
                        println!("Administrator:    {}", created.admin_username);
                        println!(
                            "Setup link:       {} (valid until {} UTC, single use)",
                            created.setup_link,
                            created.setup_link_expires_at.format("%Y-%m-%d %H:%M")
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error @ provision::ProvisionError::Database(_)) => Err(error.into()),
                Err(error) => fail(error.to_string()),
            }
        }
        TenantCommand::List { json } => {
            let tenants = provision::unscoped_list(db).await?;
            if json {
                let rows: Vec<_> = tenants.iter().map(|t| tenant_json(t, &urls)).collect();
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                println!("{:<10} {:<24} {:<10} NAME", "NUMBER", "SLUG", "STATUS");
                for t in &tenants {
                    println!(
                        "{:<10} {:<24} {:<10} {}",
                        t.customer_number, t.slug, t.status, t.name
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::Show { tenant, json } => {
            let found = match tenant.parse::<CustomerNumber>() {
                Ok(number) => {
                    mep24web_tenancy::resolver::unscoped_find_by_customer_number(db, number.get())
                        .await?
                }
                Err(_) => {
                    mep24web_tenancy::resolver::unscoped_find_by_slug(db, tenant.trim()).await?
                }
            };
            let Some(row) = found else {
                return fail(format!("no tenant with slug or customer number '{tenant}'"));
            };
            let value = tenant_json(&row, &urls);
            if json {
                println!("{value}");
            } else {
                for (key, field) in value.as_object().into_iter().flatten() {
                    println!(
                        "{key:<16} {}",
                        field
                            .as_str()
                            .map_or_else(|| field.to_string(), str::to_owned)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::Suspend { slug } => set_status(settings, db, &slug, true).await,
        TenantCommand::Resume { slug } => set_status(settings, db, &slug, false).await,
    }
}

async fn set_status(
    settings: &Settings,
    db: &sea_orm::DatabaseConnection,
    slug: &str,
    suspended: bool,
) -> anyhow::Result<ExitCode> {
    let Ok(parsed) = Slug::parse(slug) else {
        return fail(format!("no tenant with slug '{slug}'"));
    };
    if !provision::set_status(db, &parsed, suspended).await? {
        return fail(format!("no tenant with slug '{slug}'"));
    }
    announce_tenant_change(settings).await;
    println!(
        "Tenant {slug} {}.",
        if suspended { "suspended" } else { "resumed" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Tells running servers through Redis, when configured, that a tenant changed, so they empty
/// their tenant cache now rather than at their next poll. A failure only costs that speed.
async fn announce_tenant_change(settings: &Settings) {
    let redis_url = match settings.redis_url() {
        Ok(Some(url)) => url,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "cannot read the Redis URL; servers see the change at their next poll");
            return;
        }
    };
    if let Err(error) =
        mep24web_tenancy::change_feed::announce(&redis_url, &settings.redis_key_prefix).await
    {
        tracing::warn!(%error, "tenant change not announced; servers see it at their next poll");
    }
}

fn tenant_json(
    row: &mep24web_entities::tenant::Model,
    urls: &mep24web_platform::urls::PublicUrls,
) -> serde_json::Value {
    let host = row
        .primary_domain
        .clone()
        .unwrap_or_else(|| urls.tenant_host(&row.slug));
    serde_json::json!({
        "customer_number": row.customer_number,
        "slug": row.slug,
        "name": row.name,
        "status": row.status,
        "access_link": urls.host_url(&host),
        "created_at": row.created_at.to_rfc3339(),
    })
}

fn fail(message: String) -> anyhow::Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(2))
}
