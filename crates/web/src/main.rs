//! The `wristband` binary: serve, migrate, generate a secret, show the configuration, and
//! administer users and sessions (`cli`).
//!
//! Exit status: 0 on success, 1 on a runtime error, 2 on a usage or configuration error; every
//! error is one line on stderr.
#![forbid(unsafe_code)]

mod cli;

use clap::{Parser, Subcommand};
use cli::{Failure, open_store};
use std::net::SocketAddr;
use std::process::ExitCode;
use web::config::{self, LoadedConfig};
use web::{AppState, server, telemetry};

/// Session authentication for Rust web services.
#[derive(Debug, Parser)]
#[command(name = "wristband", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, then serve (the default).
    Serve {
        /// Listen address; overrides `server.bind`.
        #[arg(long)]
        bind: Option<SocketAddr>,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Print a fresh random key for SECRET_KEY (32 random bytes as 64 hex digits).
    GenSecret,
    /// Print the effective configuration, secrets redacted, with each value's source.
    Config,
    /// Manage users: add, list, delete, set-password, import.
    User {
        #[command(subcommand)]
        command: cli::users::UserCommand,
    },
    /// Manage sessions: purge.
    Sessions {
        #[command(subcommand)]
        command: cli::sessions::SessionsCommand,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = error.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first line already says what was wrong.
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("wristband: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("wristband: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("wristband: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let command = cli.command.unwrap_or(Command::Serve { bind: None });
    if matches!(command, Command::GenSecret) {
        println!("{}", auth_core::KeyRing::generate_secret().expose());
        return Ok(());
    }
    let config = config::load().map_err(|e| Failure::Usage(e.to_string()))?;
    if matches!(command, Command::Config) {
        for line in config.describe() {
            println!("{line}");
        }
        return Ok(());
    }
    telemetry::init(config.settings.log.format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        match command {
            Command::Migrate => {
                open_store(&config).await?;
                tracing::info!("migrations applied");
                Ok(())
            }
            Command::Serve { bind } => serve(config, bind).await,
            Command::User { command } => cli::users::run(&config, command).await,
            Command::Sessions { command } => cli::sessions::run(&config, command).await,
            Command::GenSecret | Command::Config => Ok(()),
        }
    })
}

/// How often expired sessions and stale throttle counters are deleted. Neither is ever read
/// once expired (every query filters on time), so this only keeps the tables small.
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Deletes expired sessions and stale login-failure counters every [`PURGE_INTERVAL`], for as
/// long as the server runs. Failures are logged and retried at the next tick.
async fn purge_periodically(store: std::sync::Arc<dyn auth_core::AuthStore>) {
    let mut ticker = tokio::time::interval(PURGE_INTERVAL);
    // After a stall (a suspended machine), purge once rather than in a burst.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = time::OffsetDateTime::now_utc();
        match store.purge_expired_sessions(now).await {
            Ok(purged) => tracing::debug!(purged, "expired sessions purged"),
            Err(error) => tracing::warn!(%error, "could not purge expired sessions"),
        }
        match store.purge_expired_failures(now).await {
            Ok(purged) => tracing::debug!(purged, "stale login-failure counters purged"),
            Err(error) => tracing::warn!(%error, "could not purge stale login-failure counters"),
        }
    }
}

async fn serve(config: LoadedConfig, bind: Option<SocketAddr>) -> Result<(), Failure> {
    if config.random_key {
        tracing::warn!(
            "SECRET_KEY is not set: using a random key, so every session ends when the server \
             restarts; set SECRET_KEY (make one with `wristband gen-secret`)"
        );
    }
    let store = open_store(&config).await?;
    let state = AppState::new(&config, store).map_err(|e| Failure::Runtime(e.to_string()))?;
    // Ends with the runtime when serving stops; nothing is lost if a purge is cut short.
    tokio::spawn(purge_periodically(std::sync::Arc::clone(state.store())));
    let address = bind.unwrap_or(config.settings.server.bind);
    let listener = server::bind(address)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {address}: {e}")))?;
    let header_timeout = state.header_timeout();
    // Installed before the announcement: a SIGTERM right after it must still be graceful.
    let shutdown = server::shutdown_signal();
    let address = listener.local_addr().unwrap_or(address);
    tracing::info!(
        address = %address,
        profile = config.profile.name(),
        backend = state.store().backend_name(),
        "wristband listening on http://{address}"
    );
    server::serve(listener, web::router(state), header_timeout, shutdown).await;
    Ok(())
}
