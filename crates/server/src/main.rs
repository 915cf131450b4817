//! The `wristband` binary: serve, migrate, generate a secret, show the configuration, and
//! administer users and sessions (`cli`). Thin glue over the `web` library and the use-case
//! service; the ready server is one user of the library, like any embedding application.
//!
//! Exit status: 0 on success, 1 on a runtime error, 2 on a usage or configuration error; every
//! error is one line on stderr.
#![forbid(unsafe_code)]

mod cli;
mod import_file;
mod signals;
mod telemetry;

use clap::{Parser, Subcommand};
use cli::{Failure, open_service, start_failure};
use std::net::SocketAddr;
use std::process::ExitCode;
use web::{Config, Wristband};
use wristband_server::pages;

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
    let config = Config::load().map_err(|e| Failure::Usage(e.to_string()))?;
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
                open_service(config).await?;
                tracing::info!("migrations applied");
                Ok(())
            }
            Command::Serve { bind } => serve(config, bind).await,
            Command::User { command } => cli::users::run(config, command).await,
            Command::Sessions { command } => cli::sessions::run(config, command).await,
            Command::GenSecret | Command::Config => Ok(()),
        }
    })
}

async fn serve(config: Config, bind: Option<SocketAddr>) -> Result<(), Failure> {
    if config.random_key() {
        tracing::warn!(
            "SECRET_KEY is not set: using a random key, so every session ends when the server \
             restarts; set SECRET_KEY (make one with `wristband gen-secret`)"
        );
    }
    let address = bind.unwrap_or(config.settings.server.bind);
    let profile = config.profile.name();
    let wristband = pages::templates(Wristband::builder(config))
        .start()
        .await
        .map_err(start_failure)?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {address}: {e}")))?;
    // Installed before the announcement: a SIGTERM right after it must still be graceful.
    let shutdown = signals::shutdown_signal();
    let address = listener.local_addr().unwrap_or(address);
    tracing::info!(
        address = %address,
        profile,
        backend = wristband.service().store().backend_name(),
        "wristband listening on http://{address}"
    );
    let app = wristband.wrap(pages::routes());
    let served = wristband.serve(listener, app, shutdown).await;
    wristband.shutdown().await;
    served.map_err(start_failure)
}
