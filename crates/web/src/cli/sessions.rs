//! `wristband sessions …`.

use super::{Failure, open_store};
use clap::Subcommand;
use time::OffsetDateTime;
use web::config::LoadedConfig;

/// The `sessions` subcommands.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Delete expired sessions and stale login-throttle counters, and print how many.
    ///
    /// The server does this every ten minutes by itself; this is for a cron job or before a
    /// backup. Nothing that is still valid is touched.
    Purge,
}

/// Runs a `sessions` subcommand.
pub async fn run(config: &LoadedConfig, command: SessionsCommand) -> Result<(), Failure> {
    match command {
        SessionsCommand::Purge => {
            let store = open_store(config).await?;
            let now = OffsetDateTime::now_utc();
            let sessions = store.purge_expired_sessions(now).await?;
            let counters = store.purge_expired_failures(now).await?;
            println!(
                "purged {sessions} expired sessions and {counters} stale login-throttle counters"
            );
            Ok(())
        }
    }
}
