//! `mep24web outbox`: operator commands that list undelivered mail and queue it again.
//!
//! Output names the tenant by slug and customer number and the recipient only by domain. It never
//! shows subjects or content, which hold personal data of the tenant's employees.

use std::process::ExitCode;

use clap::Subcommand;
use mep24web_platform::mail::{self, ListFilter, OutboxListing, RetryOutcome};
use mep24web_tenancy::CustomerNumber;
use mep24web_tenancy::resolver::{unscoped_find_by_customer_number, unscoped_find_by_slug};
use sea_orm::DatabaseConnection;

use super::fail;

/// Characters of the last error shown per mail in the table.
const ERROR_PREVIEW_CHARS: usize = 60;

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// List mail not delivered yet (pending and dead), oldest first, without subject or content.
    List {
        /// Only dead mail: mail given up after its last delivery attempt.
        #[arg(long)]
        dead: bool,
        /// Only the mail of one tenant, by slug or customer number.
        #[arg(long)]
        tenant: Option<String>,
        /// Maximum number of mails listed.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Queue mail for delivery at the next poll of a running server: one mail by id, or every
    /// dead mail.
    Retry {
        /// Id of the mail, as `outbox list` shows it.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<i64>,
        /// Every dead mail, or with --tenant every dead mail of one tenant.
        #[arg(long)]
        all_dead: bool,
        /// With --all-dead: only the mail of one tenant, by slug or customer number.
        #[arg(long, requires = "all_dead")]
        tenant: Option<String>,
    },
}

/// Runs one `outbox` command with the owner role, which sees every tenant's mail.
pub async fn run(db: &DatabaseConnection, command: OutboxCommand) -> anyhow::Result<ExitCode> {
    let (OutboxCommand::List { tenant, .. } | OutboxCommand::Retry { tenant, .. }) = &command;
    let tenant_id = match tenant {
        None => None,
        Some(tenant) => match find_tenant(db, tenant).await? {
            Some(id) => Some(id),
            None => {
                return fail(format!("no tenant with slug or customer number '{tenant}'"));
            }
        },
    };
    match command {
        OutboxCommand::List {
            dead, limit, json, ..
        } => {
            let filter = if dead {
                ListFilter::Dead
            } else {
                ListFilter::Undelivered
            };
            let listing = mail::unscoped_list(db, filter, tenant_id, limit).await?;
            if json {
                println!("{}", serde_json::to_string(&listing)?);
            } else {
                print_table(&listing, filter);
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Retry { id: Some(id), .. } => retry_one(db, id).await,
        OutboxCommand::Retry { id: None, .. } => {
            let revived = mail::unscoped_retry_all_dead(db, tenant_id).await?;
            println!(
                "Dead mails queued again: {revived}. Running servers send them at their next poll."
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn retry_one(db: &DatabaseConnection, id: i64) -> anyhow::Result<ExitCode> {
    match mail::unscoped_retry(db, id).await? {
        RetryOutcome::Revived => {
            println!(
                "Mail {id} is pending again with a new count of attempts. Running servers send it at their next poll."
            );
        }
        RetryOutcome::DueNow => {
            println!("Mail {id} is due now. Running servers send it at their next poll.");
        }
        RetryOutcome::AlreadySent => {
            return fail(format!(
                "mail {id} was already sent, so it is not queued again"
            ));
        }
        RetryOutcome::NotFound => return fail(format!("no mail with id {id} in the outbox")),
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns the id of the tenant named by slug or customer number.
async fn find_tenant(db: &DatabaseConnection, tenant: &str) -> anyhow::Result<Option<i64>> {
    let found = match tenant.parse::<CustomerNumber>() {
        Ok(number) => unscoped_find_by_customer_number(db, number.get()).await?,
        Err(_) => unscoped_find_by_slug(db, tenant.trim()).await?,
    };
    Ok(found.map(|tenant| tenant.id))
}

fn print_table(listing: &OutboxListing, filter: ListFilter) {
    if listing.mails.is_empty() {
        match filter {
            ListFilter::Undelivered => println!("No pending or dead mail."),
            ListFilter::Dead => println!("No dead mail."),
        }
        return;
    }
    println!(
        "{:<8} {:<8} {:>8}  {:<10} {:<24} {:<24} {:<17} LAST ERROR",
        "ID", "STATUS", "ATTEMPTS", "NUMBER", "SLUG", "RECIPIENT DOMAIN", "NEXT ATTEMPT UTC"
    );
    for entry in &listing.mails {
        let next_attempt = match entry.next_attempt_at {
            _ if entry.claimed => "sending now".to_owned(),
            Some(at) => at.format("%Y-%m-%d %H:%M").to_string(),
            None => "-".to_owned(),
        };
        let error: String = entry
            .last_error
            .as_deref()
            .unwrap_or("-")
            .chars()
            .take(ERROR_PREVIEW_CHARS)
            .collect();
        println!(
            "{:<8} {:<8} {:>8}  {:<10} {:<24} {:<24} {:<17} {error}",
            entry.id,
            entry.status,
            entry.attempts,
            entry.customer_number,
            entry.tenant_slug,
            entry.recipient_domain,
            next_attempt
        );
    }
    if listing.total > listing.mails.len() as u64 {
        println!(
            "{} of {} mails shown. Raise --limit to see more.",
            listing.mails.len(),
            listing.total
        );
    }
}
