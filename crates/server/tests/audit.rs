//! The audit trail: one structured event per login success, failure, throttle, logout,
//! revocation and password change, with user id and client address — and no password, hash,
//! token or key anywhere in the log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Backend, Browser, Database, PASSWORD, SECRET, ServerProcess};
use reqwest::StatusCode;

const NEW_PASSWORD: &str = "another long passphrase here";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_security_event_is_logged_and_no_secret_is() {
    let database = Database::new(Backend::SQLITE).await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("wristband.log");
    let server = ServerProcess::start_with(
        &database.url,
        SECRET,
        &[
            ("RUST_LOG", "info"),
            ("WRISTBAND_LOG__FORMAT", "json"),
            ("WRISTBAND_LOGIN__MAX_FAILURES", "2"),
        ],
        Some(&log_path),
    )
    .await;

    let mut a = Browser::new(&server.base);
    a.sign_up("auditor").await; // register + login.success
    let session_cookie = a.cookies["wristband_session"].clone();
    let mut b = Browser::new(&server.base);
    assert_eq!(
        b.login("auditor", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let revoke = b
        .submit("/account", "/account/sessions/revoke", &[("all", "1")])
        .await;
    assert_eq!(revoke.status, StatusCode::SEE_OTHER);
    let change = b
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(change.status, StatusCode::SEE_OTHER);
    assert_eq!(b.logout().await.status, StatusCode::SEE_OTHER);
    // A forged username trying to inject a log line.
    let mut attacker = Browser::new(&server.base);
    let forged = "x\n{\"event\":\"login.success\",\"user_id\":1}";
    assert_eq!(
        attacker.login(forged, "wrong password 1").await.status,
        StatusCode::UNAUTHORIZED
    );
    // A password typed into the username field.
    let typed_as_username = "Hunter2-my-real-passphrase";
    assert_eq!(
        attacker
            .login(typed_as_username, "wrong password 1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.login("auditor", "wrong password 1").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.login("auditor", "wrong password 2").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.login("auditor", NEW_PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"))
        })
        .collect();
    let named = |name: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["event"] == name).collect()
    };
    let store = common::open_store(&database.url).await;
    let user = store
        .find_credentials(&auth_core::Username::parse("auditor").unwrap())
        .await
        .unwrap()
        .unwrap();
    let id = user.user.id.to_string();
    for (event, with_user) in [
        ("login.success", true),
        ("login.failure", true),
        ("login.throttled", false),
        ("revocation.all", true),
        ("password.change", true),
        ("logout", true),
    ] {
        let found = named(event);
        assert!(!found.is_empty(), "no {event} event in:\n{log}");
        for e in &found {
            assert!(
                e.get("client").is_some(),
                "{event} without client address: {e}"
            );
        }
        if with_user {
            assert!(
                found
                    .iter()
                    .any(|e| e["user_id"].to_string().trim_matches('"') == id),
                "{event} without user id"
            );
        }
    }
    assert_eq!(named("login.success").len(), 2);
    // Plain JSON values: addresses and ids as plain strings, never `Some(…)` or a quoted string
    // inside a string; unknown usernames only as a keyed hash.
    for e in &events {
        if let Some(client) = e.get("client") {
            let client = client
                .as_str()
                .unwrap_or_else(|| panic!("client is not a string: {e}"));
            assert!(
                client.parse::<std::net::IpAddr>().is_ok() || client == "-",
                "client {client:?} in {e}"
            );
        }
        assert!(
            e.get("username").is_none(),
            "a username logged as typed: {e}"
        );
    }
    let unknown: Vec<_> = named("login.failure")
        .into_iter()
        .filter(|e| e["reason"] == "unknown user")
        .collect();
    assert_eq!(unknown.len(), 2);
    for e in &unknown {
        let hash = e["username_hash"].as_str().unwrap();
        assert!(
            hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{e}"
        );
    }
    assert!(!log.contains(typed_as_username) && !log.contains("my-real-passphrase"));
    // The forged username stayed inside one event, escaped.
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "login.success" && e["user_id"] == 1)
            .count(),
        0
    );
    // No secret of any kind.
    let hash = user.password_hash.expose().to_owned();
    let token_part = session_cookie.rsplit('=').next().unwrap().to_owned();
    for secret in [
        PASSWORD,
        NEW_PASSWORD,
        "wrong password 1",
        SECRET,
        &hash,
        "$argon2id$",
        &session_cookie,
        &token_part,
    ] {
        assert!(!log.contains(secret), "the log contains a secret: {secret}");
    }
    println!(
        "{} log events; every audit event present; no secret in the log",
        events.len()
    );
}
