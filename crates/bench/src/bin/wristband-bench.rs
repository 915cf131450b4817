//! `wristband-bench [OPTIONS]`: the benchmark run behind `cargo xtask bench` (see the `bench`
//! crate's documentation and `--help`). Progress goes to stderr, the tables to stdout, the raw
//! numbers to a JSON file.
//!
//! Exit status: 0 on success, 1 when the run failed, 2 on a usage error, 130 when interrupted.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use bench::error::{Context, Result};
use bench::pin::Pinning;
use bench::report;
use bench::run::{self, Options};
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let options = Options::parse();
    // Before the runtime starts, so that its threads inherit the load generator's core.
    let pinning = Pinning::plan_and_pin_this_process(!options.no_pin);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("wristband-bench: error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run_until_interrupted(&options, pinning));
    // Waits for blocking tasks (a PostgreSQL start or stop) to finish their clean-up.
    drop(runtime);
    match outcome {
        Ok(Some(())) => ExitCode::SUCCESS,
        Ok(None) => {
            eprintln!("wristband-bench: interrupted; servers stopped, temporary files removed");
            ExitCode::from(130)
        }
        Err(error) => {
            eprintln!("wristband-bench: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark, or stops at Ctrl-C / SIGTERM / SIGHUP (`Ok(None)`): the run's future is
/// dropped then, which kills the servers, stops the PostgreSQL cluster and removes the
/// temporary folder.
async fn run_until_interrupted(options: &Options, pinning: Pinning) -> Result<Option<()>> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch for SIGHUP")?;
    tokio::select! {
        outcome = run_and_report(options, pinning) => outcome.map(Some),
        _ = interrupt.recv() => Ok(None),
        _ = terminate.recv() => Ok(None),
        _ = hangup.recv() => Ok(None),
    }
}

async fn run_and_report(options: &Options, pinning: Pinning) -> Result<()> {
    let out = match &options.out {
        Some(path) => path.clone(),
        None => run::default_out()?,
    };
    let report = run::run(options, pinning).await?;
    println!();
    print!("{}", report::render(&report));
    report::write_json(&report, &out)?;
    println!("\nRaw numbers: {}", out.display());
    Ok(())
}
