//! The `mep24web` binary: server and operator CLI.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = mep24web::cli::Cli::parse_process();
    mep24web::telemetry::init(&cli.settings);
    match mep24web::cli::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
