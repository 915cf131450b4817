//! The tasks themselves: `test`, `ci`, `pg`, `bench`, `schemathesis`, `smtp-check` and
//! `chromium-check`.

use std::env;
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::cargo::{self, cargo};
use crate::chromium;
use crate::error::{Failure, Result};
use crate::interrupt;
use crate::postgres::{self, TEST_URL_VAR};
use crate::process;
use crate::schemathesis;
use crate::smtp;
use crate::summary::Summary;

/// `cargo xtask test`: the whole test suite, with a PostgreSQL for the PostgreSQL tests.
pub fn test(extra: &[OsString]) -> Result {
    let mut summary = Summary::new("test");
    let outcome = test_steps(extra, &mut summary);
    conclude(&summary, outcome)
}

/// `cargo xtask ci`: fmt, clippy and rustdoc with warnings denied, then `test`, then
/// `schemathesis` on the same PostgreSQL; stops at the first failing step. Installs nothing but
/// the tests' SMTP server (Python's aiosmtpd, with pip), browser (Chromium, with apt-get) and
/// the fuzzer's virtualenv (schemathesis, with pip): any other missing tool is a failure that
/// says what to install.
pub fn ci() -> Result {
    let mut summary = Summary::new("ci");
    let outcome = ci_steps(&mut summary);
    if let Err(Failure::Failed) = outcome
        && let Some(step) = summary.failed().first()
    {
        eprintln!("\nci: step `{step}` failed; the steps after it did not run");
    }
    conclude(&summary, outcome)
}

/// `cargo xtask schemathesis`: the OpenAPI document validated and a live server fuzzed
/// against it, on SQLite and on PostgreSQL (see [`crate::schemathesis`]); `extra` goes to every
/// `schemathesis run`.
pub fn schemathesis(extra: &[OsString]) -> Result {
    let mut summary = Summary::new("schemathesis");
    let outcome = schemathesis_task_steps(extra, &mut summary);
    conclude(&summary, outcome)
}

fn schemathesis_task_steps(extra: &[OsString], summary: &mut Summary) -> Result {
    let tools = schemathesis_tools_step(summary)?;
    let binary = wristband_binary_step(summary, false)?;
    let (url, cluster) = postgres_for_tests(summary)?;
    schemathesis::steps(summary, &tools, &binary, &url, extra)?;
    drop(cluster);
    Ok(())
}

/// The step's name in summaries.
const SCHEMATHESIS_TOOLS_STEP: &str = "schemathesis tools";

/// The fuzzer's virtualenv (schemathesis and openapi-spec-validator, pinned), made when
/// missing.
fn schemathesis_tools_step(summary: &mut Summary) -> Result<schemathesis::Tools> {
    println!(
        "
==> {SCHEMATHESIS_TOOLS_STEP}: a virtualenv with {}, installed when missing",
        schemathesis::REQUIREMENTS.join(", ")
    );
    let started = Instant::now();
    let target = target_dir(&cargo::workspace_root(), env::var_os("CARGO_TARGET_DIR"));
    match schemathesis::ensure_tools(&target) {
        Ok((tools, note)) => {
            summary.record(SCHEMATHESIS_TOOLS_STEP, true, note, started);
            Ok(tools)
        }
        Err(Failure::Error(message)) => {
            eprintln!("xtask: error: {message}");
            summary.record(
                SCHEMATHESIS_TOOLS_STEP,
                false,
                "the fuzzer could not be installed (see the error above)",
                started,
            );
            Err(Failure::Failed)
        }
        Err(other) => Err(other),
    }
}

/// The `wristband` binary the fuzzer runs: alone, `cargo build -p wristband`; in `ci`
/// (`built_by_tests`), the one the tests have just built and run (`cargo build -p wristband`
/// would build `web` once more, without the features the tests turn on).
fn wristband_binary_step(summary: &mut Summary, built_by_tests: bool) -> Result<PathBuf> {
    let binary = target_dir(&cargo::workspace_root(), env::var_os("CARGO_TARGET_DIR"))
        .join("debug")
        .join("wristband");
    if !built_by_tests {
        ci_step(
            summary,
            "build wristband",
            &mut cargo(["build", "-p", "wristband"]),
        )?;
    } else if !binary.exists() {
        let note = format!("{} is missing after the tests", binary.display());
        eprintln!("xtask: {note}");
        summary.record("wristband binary", false, note, Instant::now());
        return Err(Failure::Failed);
    }
    Ok(binary)
}

/// `cargo xtask smtp-check`: the `SMTP server (aiosmtpd)` step of `test` alone.
pub fn smtp_check() -> Result {
    let mut summary = Summary::new("smtp-check");
    let outcome = smtp_step(&mut summary);
    conclude(&summary, outcome)
}

/// `cargo xtask chromium-check`: the `Chromium` step of `test` alone.
pub fn chromium_check() -> Result {
    let mut summary = Summary::new("chromium-check");
    let outcome = chromium_step(&mut summary);
    conclude(&summary, outcome)
}

/// `cargo xtask pg`: the development cluster in `target/dev-postgres`, until Ctrl-C.
pub fn pg() -> Result {
    let interrupts = interrupt::install_notifying_handler()?;
    let root = cargo::workspace_root().join("target").join("dev-postgres");
    let running = postgres::start_dev(&root)?;
    println!("==> PostgreSQL: started {}", running.description);
    println!();
    println!("    {}", running.url);
    println!();
    println!("    export DATABASE_URL={}", running.url);
    println!();
    println!("Press Ctrl-C to stop it (the data stays for next time).");
    // An error here means the handler is gone, which only happens on the way out: stop too.
    let _ = interrupts.recv();
    println!();
    drop(running);
    Ok(())
}

/// `cargo xtask bench`: builds the server and the benchmark in release mode, then replaces
/// this process with `wristband-bench` (so that Ctrl-C reaches it directly and it cleans up its
/// servers and cluster itself), telling it where the binaries are; `extra` follows, so it can
/// override those paths too. With `--quick` (a smoke run whose figures mean nothing) the
/// debug build is used, which the tests have built already.
pub fn bench(extra: &[OsString]) -> Result {
    let mut run = built_bench(extra)?;
    println!("==> bench: {}", process::describe(&run));
    // Only returns when the program could not be started.
    let error = run.exec();
    Err(Failure::Error(format!(
        "cannot run {}: {error}",
        run.get_program().to_string_lossy()
    )))
}

/// Builds the server and the benchmark (release, or debug for `--quick`) and returns the
/// benchmark's command with `extra` appended.
fn built_bench(extra: &[OsString]) -> Result<Command> {
    let quick = extra.iter().any(|arg| arg == "--quick");
    let (profile_args, profile_dir): (&[&str], &str) = if quick {
        (&[], "debug")
    } else {
        (&["--release"], "release")
    };
    let mut build = cargo(["build", "-p", "wristband", "-p", "bench"]);
    build.args(profile_args);
    println!("==> build: {}", process::describe(&build));
    let status = process::run(&mut build)?;
    if !status.success() {
        return Err(Failure::Error(format!(
            "the {profile_dir} build failed ({status})"
        )));
    }
    let binaries =
        target_dir(&cargo::workspace_root(), env::var_os("CARGO_TARGET_DIR")).join(profile_dir);
    let mut run = Command::new(binaries.join("wristband-bench"));
    run.current_dir(cargo::workspace_root())
        .arg("--wristband")
        .arg(binaries.join("wristband"))
        .arg("--bare")
        .arg(binaries.join("bench-bare"))
        .args(extra);
    Ok(run)
}

/// `cargo xtask bench --quick` as a CI step: proves the benchmark runs on every leg.
fn bench_smoke_step(summary: &mut Summary) -> Result {
    let started = Instant::now();
    let mut run = match built_bench(&[OsString::from("--quick")]) {
        Ok(run) => run,
        Err(Failure::Error(error)) => {
            eprintln!("xtask: {error}");
            summary.record("bench --quick", false, error, started);
            return Err(Failure::Failed);
        }
        Err(other) => return Err(other),
    };
    ci_step(summary, "bench --quick", &mut run)
}

/// Cargo's target folder: `$CARGO_TARGET_DIR` (relative to the workspace root, as cargo reads
/// it from the environment) or `target` in the workspace root.
fn target_dir(root: &Path, from_env: Option<OsString>) -> PathBuf {
    match from_env.filter(|dir| !dir.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Prints the summary (unless interrupted) and turns failed steps into a failure.
fn conclude(summary: &Summary, outcome: Result) -> Result {
    if !matches!(outcome, Err(Failure::Interrupted)) {
        summary.print();
    }
    outcome
}

fn ci_steps(summary: &mut Summary) -> Result {
    architecture_step(summary)?;
    require_subcommand(summary, "fmt", "rustfmt")?;
    ci_step(
        summary,
        "fmt",
        &mut cargo(["fmt", "--all", "--", "--check"]),
    )?;

    require_subcommand(summary, "clippy", "clippy")?;
    ci_step(
        summary,
        "clippy",
        &mut cargo([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;

    let mut doc = cargo(["doc", "--workspace", "--no-deps"]);
    doc.env(
        "RUSTDOCFLAGS",
        with_flag(env::var_os("RUSTDOCFLAGS"), "-D warnings"),
    );
    ci_step(summary, "doc", &mut doc)?;

    // The tests' PostgreSQL serves the fuzzing run too, so one cluster starts.
    test_tool_steps(summary)?;
    let (url, cluster) = postgres_for_tests(summary)?;
    test_runs(&[], &url, summary)?;
    let tools = schemathesis_tools_step(summary)?;
    let binary = wristband_binary_step(summary, true)?;
    schemathesis::steps(summary, &tools, &binary, &url, &[])?;
    drop(cluster);
    bench_smoke_step(summary)
}

/// Every path ARCHITECTURE.md names must exist (see [`crate::tidy`]).
fn architecture_step(summary: &mut Summary) -> Result {
    println!("\n==> architecture: every path ARCHITECTURE.md names exists");
    let started = Instant::now();
    let root = cargo::workspace_root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md"))
        .map_err(|e| Failure::Error(format!("cannot read ARCHITECTURE.md: {e}")))?;
    let missing = crate::tidy::missing_architecture_paths(&root, &map);
    for path in &missing {
        eprintln!("xtask: ARCHITECTURE.md names `{path}`, which does not exist");
    }
    let note = if missing.is_empty() {
        String::new()
    } else {
        format!("{} missing path(s)", missing.len())
    };
    summary.record("architecture", missing.is_empty(), note, started);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed)
    }
}

/// A ci step: as [`step`], but a failure stops the run.
fn ci_step(summary: &mut Summary, name: &str, command: &mut Command) -> Result {
    if step(summary, name, command)? {
        Ok(())
    } else {
        Err(Failure::Failed)
    }
}

/// Fails the `name` step up front when `cargo SUBCOMMAND` is not installed.
fn require_subcommand(summary: &mut Summary, subcommand: &str, component: &str) -> Result {
    if cargo::has_subcommand(subcommand) {
        return Ok(());
    }
    let note = format!("`cargo {subcommand}` is missing: rustup component add {component}");
    eprintln!("xtask: {note}");
    summary.record(subcommand, false, note, Instant::now());
    Err(Failure::Failed)
}

fn test_steps(extra: &[OsString], summary: &mut Summary) -> Result {
    test_tool_steps(summary)?;
    // Keeps a throw-away cluster alive until the tests are done; dropping it stops it.
    let (url, cluster) = postgres_for_tests(summary)?;
    test_runs(extra, &url, summary)?;
    drop(cluster);
    Ok(())
}

/// What the tests need installed. Before the cluster starts: cheap, and a reason not to start
/// one.
fn test_tool_steps(summary: &mut Summary) -> Result {
    smtp_step(summary)?;
    chromium_step(summary)
}

/// The doc tests, then the other tests, with PostgreSQL at `url`; fails when either did.
fn test_runs(extra: &[OsString], url: &OsStr, summary: &mut Summary) -> Result {
    // Doc tests first (nextest does not run them, nor does `cargo test --all-targets`), so that
    // the log ends with the main runner's totals.
    let mut doctests = cargo(["test", "--workspace", "--doc"]);
    doctests.env(TEST_URL_VAR, url);
    step(summary, "doctests", &mut doctests)?;

    let (name, mut tests) = if cargo::has_subcommand("nextest") {
        (
            "tests (nextest)",
            cargo([
                "nextest",
                "run",
                "--workspace",
                "--all-targets",
                "--no-fail-fast",
            ]),
        )
    } else {
        println!("==> note: cargo-nextest is not installed, so `cargo test` runs the tests");
        (
            "tests (cargo test)",
            cargo(["test", "--workspace", "--all-targets", "--no-fail-fast"]),
        )
    };
    tests.args(extra).env(TEST_URL_VAR, url);
    step(summary, name, &mut tests)?;

    if summary.failed().is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed)
    }
}

/// The PostgreSQL for the tests: `WRISTBAND_TEST_POSTGRES_URL`, or a throw-away cluster.
fn postgres_for_tests(summary: &mut Summary) -> Result<(OsString, Option<postgres::Running>)> {
    let started = Instant::now();
    if let Some(url) = env::var_os(TEST_URL_VAR).filter(|url| !url.is_empty()) {
        let shown = postgres::redact(&url.to_string_lossy());
        println!("==> PostgreSQL: using {TEST_URL_VAR} ({shown})");
        summary.record(
            "PostgreSQL",
            true,
            format!("{TEST_URL_VAR} ({shown})"),
            started,
        );
        return Ok((url, None));
    }
    println!("==> PostgreSQL: starting a throw-away cluster ({TEST_URL_VAR} is not set)");
    match postgres::start_throwaway() {
        Ok(running) => {
            println!("==> PostgreSQL: started {}", running.description);
            summary.record("PostgreSQL", true, running.description.clone(), started);
            Ok((running.url.clone().into(), Some(running)))
        }
        Err(Failure::Error(message)) => {
            eprintln!("xtask: error: {message}");
            summary.record(
                "PostgreSQL",
                false,
                "no PostgreSQL for the tests (see the error above)",
                started,
            );
            Err(Failure::Failed)
        }
        Err(other) => Err(other),
    }
}

/// The step's name in summaries.
const SMTP_STEP: &str = "SMTP server (aiosmtpd)";

/// The tests' SMTP server: aiosmtpd importable by `python3`, installed with pip when it is not
/// (the harness starts one server per test; see `crates/test-harness/src/smtp.rs`).
fn smtp_step(summary: &mut Summary) -> Result {
    println!("\n==> {SMTP_STEP}: `python3 -c 'import aiosmtpd'`, installing it when missing");
    tool_step(
        summary,
        SMTP_STEP,
        smtp::ensure_aiosmtpd,
        "aiosmtpd is missing and could not be installed (see the error above)",
    )
}

/// The step's name in summaries.
const CHROMIUM_STEP: &str = "Chromium";

/// The tests' browser: a Chromium that renders a page headless, installed with apt-get when
/// there is none (the harness starts one per browser test; see
/// `crates/test-harness/src/browser.rs`).
fn chromium_step(summary: &mut Summary) -> Result {
    println!(
        "\n==> {CHROMIUM_STEP}: `chromium --version` and a headless render, installing it when missing"
    );
    tool_step(
        summary,
        CHROMIUM_STEP,
        chromium::ensure_chromium,
        "Chromium is missing, could not be installed, or does not run headless (see the error above)",
    )
}

/// Records a step that makes sure a tool the tests need is there (`ensure` installs it when
/// missing and returns the summary's note); its error is reported, and fails the run.
fn tool_step(
    summary: &mut Summary,
    name: &str,
    ensure: fn() -> Result<String>,
    failure_note: &str,
) -> Result {
    let started = Instant::now();
    match ensure() {
        Ok(note) => {
            summary.record(name, true, note, started);
            Ok(())
        }
        Err(Failure::Error(message)) => {
            eprintln!("xtask: error: {message}");
            summary.record(name, false, failure_note, started);
            Err(Failure::Failed)
        }
        Err(other) => Err(other),
    }
}

/// Runs one step with a header line and records it; `Ok(false)` when it failed.
fn step(summary: &mut Summary, name: &str, command: &mut Command) -> Result<bool> {
    println!("\n==> {name}: {}", process::describe(command));
    let started = Instant::now();
    let status = process::run(command)?;
    let note = if status.success() {
        String::new()
    } else {
        status.to_string()
    };
    summary.record(name, status.success(), note, started);
    Ok(status.success())
}

/// `existing` flags (e.g. the user's RUSTDOCFLAGS) with `flag` added.
fn with_flag(existing: Option<OsString>, flag: &str) -> OsString {
    match existing.filter(|flags| !flags.is_empty()) {
        Some(mut flags) => {
            flags.push(OsStr::new(" "));
            flags.push(flag);
            flags
        }
        None => flag.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_target_folder() {
        let root = Path::new("/w");
        assert_eq!(target_dir(root, None), Path::new("/w/target"));
        assert_eq!(target_dir(root, Some("".into())), Path::new("/w/target"));
        assert_eq!(target_dir(root, Some("out".into())), Path::new("/w/out"));
        assert_eq!(target_dir(root, Some("/t".into())), Path::new("/t"));
    }

    #[test]
    fn adds_to_existing_flags() {
        assert_eq!(with_flag(None, "-D warnings"), "-D warnings");
        assert_eq!(with_flag(Some("".into()), "-D warnings"), "-D warnings");
        assert_eq!(
            with_flag(Some("--cfg docsrs".into()), "-D warnings"),
            "--cfg docsrs -D warnings"
        );
    }
}
