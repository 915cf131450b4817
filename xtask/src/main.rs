//! `cargo xtask …`: Wristband's developer tasks.
//!
//! - `test`: the whole test suite, against SQLite and a PostgreSQL cluster that it starts itself
//!   unless `WRISTBAND_TEST_POSTGRES_URL` names one;
//! - `ci`: what `.ci/run` runs: formatting, clippy and rustdoc with warnings denied, `test`,
//!   `schemathesis`, then `bench --quick`;
//! - `schemathesis`: the API's OpenAPI document validated, and a live server fuzzed against it
//!   with schemathesis, on SQLite and PostgreSQL;
//! - `smtp-check`: makes sure the tests' SMTP server (Python's aiosmtpd) is installed, as
//!   `test` does first;
//! - `chromium-check`: makes sure the tests' browser (Chromium) is installed and runs headless,
//!   as `test` does first;
//! - `pg`: a development PostgreSQL in `target/dev-postgres`, running until Ctrl-C;
//! - `fuzz`: the coverage-guided fuzz targets of `fuzz/` under AFL++, with their figures;
//! - `bench`: builds the release server and the `bench` crate (the debug build for `--quick`),
//!   then runs `wristband-bench` (the load generator and the run live there; see that crate).
//!
//! Only the standard library, `ctrlc` and the workspace's `pg-cluster` (which starts and stops
//! the clusters; std only) are used, so the tasks build quickly on a fresh clone.

#![forbid(unsafe_code)]

mod cargo;
mod chromium;
mod error;
mod fuzz;
mod interrupt;
mod postgres;
mod process;
mod schemathesis;
mod smtp;
mod summary;
mod tasks;
mod tidy;

use std::ffi::OsString;
use std::process::ExitCode;

use error::Failure;

/// The usage text, printed by `help` (stdout) and on a usage error (stderr).
const USAGE: &str = "\
Usage: cargo xtask <TASK>

Tasks:
  test [-- ARGS]  Run the whole test suite: unit, integration and doc tests, every store
                  against SQLite and PostgreSQL. Uses cargo-nextest when installed, else
                  `cargo test`; ARGS go to that runner (doc tests run first, in full).
                  First installs the tests' SMTP server, Python's aiosmtpd, and browser,
                  Chromium, when missing (see smtp-check and chromium-check).
  ci              What CI runs (`.ci/run`): `cargo fmt --check`, clippy and rustdoc with
                  warnings denied, `test`, `schemathesis` (on the tests' PostgreSQL), then
                  `bench -- --quick`. Stops at the first failing step.
  schemathesis [-- ARGS]
                  Check the API against its OpenAPI document: in a virtualenv in
                  target/schemathesis/venv (made with `python3 -m venv`, python3-venv
                  installed with apt-get when missing), install schemathesis==4.32.5 and
                  openapi-spec-validator==0.9.0; then for SQLite and for PostgreSQL start
                  `wristband serve` on a fresh database (cheap Argon2, from a scratch folder
                  target/schemathesis/<store>), validate GET /api/v1/openapi.json as
                  OpenAPI 3.1, and run schemathesis against it (examples, coverage and
                  fuzzing phases, derandomised, 100 cases per operation; checks: no 5xx,
                  status codes, content types, headers and bodies as documented), once
                  anonymous and once logged in. Fails on any failed check. ARGS go to every
                  `schemathesis run` (e.g. `-- --max-examples 500`). About two minutes.
  smtp-check      Check that python3 can import aiosmtpd (the SMTP server every mail test
                  starts); when not, install aiosmtpd==1.4.6 with pip (and pip itself with
                  ensurepip or apt-get when python3 has none).
  chromium-check  Check that Chromium (the headless browser of the browser tests) is there
                  and renders a page headless; when it is missing, install it with
                  `apt-get update && apt-get install -y --no-install-recommends chromium`
                  (root; about 125 MB to download).
  pg              Start a development PostgreSQL in target/dev-postgres (kept between runs),
                  print its URL, and keep it running until Ctrl-C.
  bench [-- ARGS] Build `wristband` and the benchmark in release mode, then measure, for each
                  store (sqlite, postgres) and session mode (database, cookie), the server on
                  one core and the load generator on another: authenticated GET /dashboard
                  req/s as a ratio to a bare axum server, its p50/p99 latency alone and
                  during a login storm, logins/s as a ratio to raw Argon2id hashes/s, the
                  cost with 1,000 and 1,000,000 stored sessions, and the server's peak RSS.
                  Starts a throw-away PostgreSQL; takes about ten minutes. Tables on stdout,
                  JSON in target/bench/results.json. ARGS go to `wristband-bench` (e.g.
                  `-- --duration 10s --stores sqlite`; `-- --quick` for a smoke run on the
                  debug build; `-- --help` lists them).
  fuzz [--time S] [TARGET…]
                  Run the fuzz targets of fuzz/ (session_cookie, foreign_hash, import_file,
                  config_values) under AFL++ for S seconds each (default 600), installing
                  cargo-afl when missing; prints executions, corpus, crashes and hangs per
                  target. Fails when a target crashed (inputs in target/fuzz/out/TARGET).
  help            Print this text.

Environment:
  WRISTBAND_TEST_POSTGRES_URL  PostgreSQL for `test`; when unset, a throw-away cluster is
                               started (initdb/pg_ctl from PATH or /usr/lib/postgresql/*/bin)
                               and removed afterwards.
  XTASK_POSTGRES_BINDIR        Folder holding initdb and pg_ctl, instead of searching.
";

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    /// `test`, with the arguments for the test runner.
    Test(Vec<OsString>),
    /// `ci`.
    Ci,
    /// `pg`.
    Pg,
    /// `smtp-check`.
    SmtpCheck,
    /// `chromium-check`.
    ChromiumCheck,
    /// `schemathesis`, with the arguments for `schemathesis run`.
    Schemathesis(Vec<OsString>),
    /// `bench`, with the arguments for `wristband-bench`.
    Bench(Vec<OsString>),
    /// `fuzz`, with its plan.
    Fuzz(fuzz::FuzzPlan),
    /// `help`, `-h`, `--help`.
    Help,
}

/// Parses the arguments after the program name; `Err` carries a one-line usage error.
fn parse(args: Vec<OsString>) -> Result<Task, String> {
    let mut args = args.into_iter();
    let Some(task) = args.next() else {
        return Err("no task given".to_owned());
    };
    let rest: Vec<OsString> = args.collect();
    let no_more = |task: Task| match rest.first() {
        None => Ok(task),
        Some(arg) => Err(format!("unexpected argument `{}`", arg.to_string_lossy())),
    };
    // `cargo xtask test -- ARGS`; a bare `cargo xtask test ARGS` is accepted as well.
    let passed_on = |mut rest: Vec<OsString>| {
        if rest.first().is_some_and(|arg| arg == "--") {
            rest.remove(0);
        }
        rest
    };
    match task.to_str() {
        Some("test") => Ok(Task::Test(passed_on(rest))),
        Some("bench") => Ok(Task::Bench(passed_on(rest))),
        Some("schemathesis") => Ok(Task::Schemathesis(passed_on(rest))),
        Some("fuzz") => {
            let words: Vec<String> = passed_on(rest)
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            fuzz::parse(&words).map(Task::Fuzz)
        }
        Some("ci") => no_more(Task::Ci),
        Some("pg") => no_more(Task::Pg),
        Some("smtp-check") => no_more(Task::SmtpCheck),
        Some("chromium-check") => no_more(Task::ChromiumCheck),
        Some("help" | "-h" | "--help") => Ok(Task::Help),
        _ => Err(format!("unknown task `{}`", task.to_string_lossy())),
    }
}

fn main() -> ExitCode {
    let task = match parse(std::env::args_os().skip(1).collect()) {
        Ok(task) => task,
        Err(message) => {
            eprintln!("xtask: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match task {
        Task::Help => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Task::Test(extra) => interrupt::install_exit_handler().and_then(|()| tasks::test(&extra)),
        Task::Ci => interrupt::install_exit_handler().and_then(|()| tasks::ci()),
        Task::Pg => tasks::pg(),
        Task::SmtpCheck => tasks::smtp_check(),
        Task::ChromiumCheck => tasks::chromium_check(),
        Task::Bench(extra) => interrupt::install_exit_handler().and_then(|()| tasks::bench(&extra)),
        Task::Schemathesis(extra) => {
            interrupt::install_exit_handler().and_then(|()| tasks::schemathesis(&extra))
        }
        Task::Fuzz(plan) => fuzz::run(&plan),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Failure::Error(message) = &failure {
                eprintln!("xtask: error: {message}");
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_tasks() {
        assert_eq!(parse(args(&["ci"])), Ok(Task::Ci));
        assert_eq!(parse(args(&["pg"])), Ok(Task::Pg));
        assert_eq!(parse(args(&["smtp-check"])), Ok(Task::SmtpCheck));
        assert_eq!(parse(args(&["chromium-check"])), Ok(Task::ChromiumCheck));
        assert_eq!(parse(args(&["--help"])), Ok(Task::Help));
        assert_eq!(parse(args(&["test"])), Ok(Task::Test(vec![])));
        assert_eq!(
            parse(args(&["schemathesis", "--", "--max-examples", "5"])),
            Ok(Task::Schemathesis(args(&["--max-examples", "5"])))
        );
    }

    #[test]
    fn test_passes_arguments_after_the_separator() {
        assert_eq!(
            parse(args(&["test", "--", "store_", "--", "--nocapture"])),
            Ok(Task::Test(args(&["store_", "--", "--nocapture"])))
        );
        assert_eq!(
            parse(args(&["test", "store_"])),
            Ok(Task::Test(args(&["store_"])))
        );
    }

    #[test]
    fn bench_passes_arguments_after_the_separator() {
        assert_eq!(parse(args(&["bench"])), Ok(Task::Bench(vec![])));
        assert_eq!(
            parse(args(&["bench", "--", "--duration", "2s"])),
            Ok(Task::Bench(args(&["--duration", "2s"])))
        );
    }

    #[test]
    fn rejects_unknown_and_missing_tasks() {
        assert!(parse(args(&[])).is_err());
        assert!(parse(args(&["benchmark"])).is_err());
        assert!(parse(args(&["ci", "--fast"])).is_err());
    }
}
