//! The `wristband` binary: exit codes, one-line errors, configuration sources and refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Project, assert_one_line, stderr};
use std::process::Command;

#[test]
fn production_without_secret_key_exits_2_naming_the_fix() {
    let dir = Project::new();
    let output = dir.run(&["serve"], &[("WRISTBAND_PROFILE", "production")], None);
    assert_eq!(output.status.code(), Some(2));
    assert_one_line(&output);
    let text = stderr(&output);
    assert!(
        text.contains("SECRET_KEY") && text.contains("wristband gen-secret"),
        "{text}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing created before refusing"
    );
}

#[test]
fn production_with_a_short_secret_key_exits_2() {
    let dir = Project::new();
    let output = dir.run(
        &["serve"],
        &[
            ("WRISTBAND_PROFILE", "production"),
            ("SECRET_KEY", "only-twenty-bytes!!!"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert_one_line(&output);
    let text = stderr(&output);
    assert!(
        text.contains("SECRET_KEY") && text.contains("32 bytes"),
        "{text}"
    );
    assert!(
        !text.contains("only-twenty-bytes"),
        "the key itself is never printed"
    );
}

#[test]
fn an_unknown_key_in_a_config_file_exits_2_naming_key_and_file() {
    let dir = Project::new();
    let path = dir.path().join("config/development.toml");
    std::fs::write(&path, "[server]\nbnd = \"127.0.0.1:1\"\n").unwrap();
    let output = dir.run(&["migrate"], &[], None);
    assert_eq!(output.status.code(), Some(2));
    assert_one_line(&output);
    let text = stderr(&output);
    assert!(
        text.contains("bnd") && text.contains("development.toml"),
        "{text}"
    );
}

#[test]
fn a_malformed_duration_from_the_environment_exits_2_naming_the_variable() {
    let dir = Project::new();
    let output = dir.run(
        &["migrate"],
        &[("WRISTBAND_SESSION__IDLE_TIMEOUT", "soon")],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert_one_line(&output);
    let text = stderr(&output);
    assert!(
        text.contains("session.idle_timeout") && text.contains("WRISTBAND_SESSION__IDLE_TIMEOUT"),
        "{text}"
    );
}

#[test]
fn values_the_server_cannot_honour_exit_2_naming_the_key() {
    let dir = Project::new();
    for (variable, value, key) in [
        (
            "WRISTBAND_SESSION__IDLE_TIMEOUT",
            "100000000d",
            "session.idle_timeout",
        ),
        (
            "WRISTBAND_LOGIN__FAILURE_WINDOW",
            "90000000d",
            "login.failure_window",
        ),
        (
            "WRISTBAND_SESSION__REMEMBER_FOR",
            "401d",
            "session.remember_for",
        ),
        (
            "WRISTBAND_SERVER__BODY_TIMEOUT",
            "0s",
            "server.body_timeout",
        ),
        ("WRISTBAND_SERVER__BODY_LIMIT", "1TiB", "server.body_limit"),
        (
            "WRISTBAND_SERVER__MAX_CONNECTIONS",
            "0",
            "server.max_connections",
        ),
        ("WRISTBAND_PASSWORD__QUEUE", "0", "password.queue"),
        ("WRISTBAND_PASSWORD__WORKERS", "100000", "password.workers"),
        (
            "WRISTBAND_PASSWORD__ARGON2__MEMORY_KIB",
            "99999999",
            "password.argon2.memory_kib",
        ),
        (
            "WRISTBAND_PASSWORD__MAX_LENGTH",
            "1000000",
            "password.max_length",
        ),
        (
            "WRISTBAND_PASSWORD__IMPORT_MAX_COST__BCRYPT_COST",
            "40",
            "password.import_max_cost.bcrypt_cost",
        ),
    ] {
        let output = dir.run(&["migrate"], &[(variable, value)], None);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{variable}={value}: {}",
            stderr(&output)
        );
        assert_one_line(&output);
        assert!(
            stderr(&output).contains(key),
            "{variable}={value}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn an_unknown_store_scheme_exits_2_naming_it() {
    let dir = Project::new();
    let output = dir.run(
        &["migrate"],
        &[("DATABASE_URL", "mysql://localhost/x")],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert_one_line(&output);
    let text = stderr(&output);
    assert!(text.contains("\"mysql\""), "{text}");
    assert!(
        text.contains("sqlite://") && text.contains("postgres://"),
        "names the supported schemes: {text}"
    );
}

#[test]
fn usage_errors_exit_2_in_one_line() {
    let dir = Project::new();
    let output = dir.run(&["frobnicate"], &[], None);
    assert_eq!(output.status.code(), Some(2));
    assert_one_line(&output);
}

#[test]
fn gen_secret_prints_64_hex_digits_each_time_new() {
    let dir = Project::new();
    let a = dir.run(&["gen-secret"], &[], None);
    let b = dir.run(&["gen-secret"], &[], None);
    assert_eq!(a.status.code(), Some(0));
    let a = String::from_utf8(a.stdout).unwrap();
    let b = String::from_utf8(b.stdout).unwrap();
    assert_eq!(a.trim().len(), 64);
    assert!(a.trim().chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn config_redacts_credentials_anywhere_in_the_database_url() {
    let dir = Project::new();
    let output = dir.run(
        &["config"],
        &[(
            "DATABASE_URL",
            "postgres://u:pw@h/db?password=q&sslpassword=z&sslmode=require",
        )],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("database.url ="))
        .unwrap();
    assert!(
        line.contains("postgres://u:[redacted]@h/db?password=[redacted]&sslpassword=[redacted]&sslmode=require"),
        "{line}"
    );
    for secret in [":pw@", "password=q", "sslpassword=z"] {
        assert!(!text.contains(secret), "{secret} printed: {line}");
    }
}

#[test]
fn config_shows_sources_and_redacts_secrets() {
    let dir = Project::new();
    let key = "a-very-secret-key-value-that-is-long-enough-0123";
    let output = dir.run(
        &["config"],
        &[
            ("SECRET_KEY", key),
            ("DATABASE_URL", "sqlite://elsewhere/w.db"),
            ("WRISTBAND_SERVER__BIND", "127.0.0.1:8080"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains(key), "secret printed");
    assert!(text.contains("SECRET_KEY = [redacted]"));
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("{key} missing: {text}"))
            .to_owned()
    };
    assert!(
        line("server.bind").contains("127.0.0.1:8080")
            && line("server.bind").contains("WRISTBAND_SERVER__BIND")
    );
    assert!(
        line("database.url").contains("elsewhere") && line("database.url").contains("DATABASE_URL")
    );
    assert!(
        line("session.idle_timeout").contains("default.toml"),
        "{}",
        line("session.idle_timeout")
    );
}

#[test]
fn migrate_creates_the_sqlite_file_and_its_folder() {
    let dir = Project::new();
    let output = dir.run(&["migrate"], &[], None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(dir.path().join("data/wristband.db").exists());
}

#[test]
fn sigterm_shuts_the_server_down_cleanly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = Project::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wristband"));
    command
        .current_dir(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("WRISTBAND_CONFIG_DIR", dir.path().join("config"))
        .env("RUST_LOG", "info")
        .env_remove("SECRET_KEY")
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let listening = lines
        .by_ref()
        // Every migration logs two lines before the server listens.
        .take(200)
        .map_while(Result::ok)
        .any(|l| l.contains("listening"));
    assert!(listening, "the server did not start");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
