//! `wristband sessions …`.

use super::{Failure, open_service};
use clap::Subcommand;
use time::OffsetDateTime;
use web::Config;

/// The `sessions` subcommands.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Delete expired sessions and stale login-throttle counters, and print how many.
    ///
    /// The server does this every ten minutes by itself (`session.purge_interval`); this is for
    /// a cron job or before a backup. Nothing that is still valid is touched.
    Purge,
}

/// Runs a `sessions` subcommand.
pub async fn run(config: Config, command: SessionsCommand) -> Result<(), Failure> {
    match command {
        SessionsCommand::Purge => {
            let service = open_service(config).await?;
            let report = service.purge(OffsetDateTime::now_utc()).await?;
            println!(
                "purged {} expired sessions, {} stale login-throttle counters and {} expired API tokens",
                report.sessions, report.failure_counters, report.api_tokens
            );
            Ok(())
        }
    }
}
