//! SPEC §8, "Across processes": two `wristband serve` processes on one database, each with its
//! session cache warm. A session ended through one is anonymous on the other within a second —
//! on PostgreSQL through LISTEN/NOTIFY, on SQLite through the change table — and a lost
//! notification connection never lets a revoked session through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Backend, Browser, Database, SECRET, ServerProcess};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use store_seaorm::sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// The contract's bound on how long another process may still serve a revoked session.
const WITHIN: Duration = Duration::from_secs(1);

async fn start(
    database: &Database,
    backend: Backend,
    log: Option<&std::path::Path>,
) -> ServerProcess {
    let sessions = if backend.database_sessions() {
        "database"
    } else {
        "cookie"
    };
    let mut env = vec![("WRISTBAND_SESSION__STORE", sessions)];
    if log.is_some() {
        env.push(("RUST_LOG", "info"));
    }
    ServerProcess::start_with(&database.url, SECRET, &env, log).await
}

/// Keeps `browser`'s session in use on its server for a while, so its cache holds it (and
/// its change feed is fresh): the revocation must evict it, not merely find it uncached.
async fn warm(browser: &mut Browser) {
    let until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < until {
        assert_eq!(browser.get("/dashboard").await.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long after `since` `browser`'s dashboard turned anonymous; fails past 3 s.
async fn anonymous_after(browser: &mut Browser, since: Instant) -> Duration {
    loop {
        let page = browser.get("/dashboard").await;
        if page.status == StatusCode::SEE_OTHER {
            assert_eq!(page.location(), Some("/login?next=/dashboard"));
            return since.elapsed();
        }
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "still logged in after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The same session as `browser`'s, seen through `server`.
fn same_session_on(browser: &Browser, server: &ServerProcess) -> Browser {
    let mut other = Browser::new(&server.base);
    other.cookies = browser.cookies.clone();
    other
}

on_every_backend! {
    async fn a_logout_on_one_process_is_seen_by_the_other_within_a_second(backend: Backend) {
        let database = Database::new(backend).await;
        let (a, b) = tokio::join!(start(&database, backend, None), start(&database, backend, None));
        let mut latencies = Vec::new();
        for round in 0..5 {
            let mut on_a = Browser::new(&a.base);
            on_a.sign_up(&format!("user{round}")).await;
            warm(&mut on_a).await;
            let mut on_b = same_session_on(&on_a, &b);
            assert_eq!(on_b.logout().await.status, StatusCode::SEE_OTHER);
            let logged_out = Instant::now();
            latencies.push(anonymous_after(&mut on_a, logged_out).await);
        }
        latencies.sort();
        println!(
            "{backend:?}: logout on B → anonymous on A after {} ms (min), {} ms (median), {} ms (max) over {} logouts",
            latencies[0].as_millis(),
            latencies[latencies.len() / 2].as_millis(),
            latencies[latencies.len() - 1].as_millis(),
            latencies.len()
        );
        for latency in &latencies {
            assert!(*latency < WITHIN, "{latencies:?}");
        }
    }

    async fn a_password_change_on_one_process_ends_the_other_sessions_on_the_other(backend: Backend) {
        let database = Database::new(backend).await;
        let (a, b) = tokio::join!(start(&database, backend, None), start(&database, backend, None));
        let mut elsewhere = Browser::new(&a.base);
        elsewhere.sign_up("pia").await;
        warm(&mut elsewhere).await;
        let mut changing = Browser::new(&b.base);
        assert_eq!(changing.login("pia", common::PASSWORD).await.status, StatusCode::SEE_OTHER);
        let changed = changing
            .submit(
                "/account",
                "/account/password",
                &[("current_password", common::PASSWORD), ("new_password", "a brand new passphrase for me")],
            )
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER);
        let latency = anonymous_after(&mut elsewhere, Instant::now()).await;
        println!("{backend:?}: password change on B → the other session anonymous on A after {} ms", latency.as_millis());
        assert!(latency < WITHIN);
        assert_eq!(same_session_on(&changing, &a).get("/dashboard").await.status, StatusCode::OK);
    }

    async fn a_token_revoked_on_one_process_is_refused_by_the_other_within_a_second(backend: Backend) {
        let database = Database::new(backend).await;
        let (a, b) = tokio::join!(start(&database, backend, None), start(&database, backend, None));
        let mut owner = Browser::new(&b.base);
        owner.sign_up("tia").await;
        let made = owner.post_json("/api/v1/tokens", &serde_json::json!({"name": "cli"})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let (token, id) = (made.json()["token"].as_str().unwrap().to_owned(), made.json()["id"].as_str().unwrap().to_owned());
        let mut script = Browser::new(&a.base);
        script.extra_headers.push(("authorization".into(), format!("Bearer {token}")));
        let until = Instant::now() + Duration::from_millis(600);
        while Instant::now() < until {
            assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(owner.delete(&format!("/api/v1/tokens/{id}")).await.status, StatusCode::NO_CONTENT);
        let revoked = Instant::now();
        let latency = loop {
            let page = script.get("/api/v1/me").await;
            if page.status == StatusCode::UNAUTHORIZED {
                break revoked.elapsed();
            }
            assert_eq!(page.status, StatusCode::OK);
            assert!(revoked.elapsed() < Duration::from_secs(3), "still accepted after 3 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        println!("{backend:?}: token revoked on B → refused on A after {} ms", latency.as_millis());
        assert!(latency < WITHIN);
    }
}

async fn listening_connections(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_notification_connection_never_serves_a_revoked_session_and_recovers() {
    let backend = Backend::POSTGRES;
    let database = Database::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    let (a, b) = tokio::join!(
        start(&database, backend, Some(&log)),
        start(&database, backend, None)
    );
    let db = store_seaorm::sea_orm::Database::connect(&database.url)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening_connections(&db).await < 2 {
        assert!(Instant::now() < deadline, "both processes listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut first = Browser::new(&a.base);
    first.sign_up("kim").await;
    let mut second = Browser::new(&a.base);
    assert_eq!(
        second.login("kim", common::PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    warm(&mut first).await;
    warm(&mut second).await;

    // Kill the listening connections, then revoke at once: nothing will be notified.
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN %'",
    ))
    .await
    .unwrap();
    assert_eq!(
        same_session_on(&first, &b).logout().await.status,
        StatusCode::SEE_OTHER
    );
    let latency = anonymous_after(&mut first, Instant::now()).await;
    println!(
        "listener killed, then a logout on B → anonymous on A after {} ms",
        latency.as_millis()
    );
    assert!(latency < WITHIN);

    // The follower reconnects; revocation goes through notifications again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening_connections(&db).await < 2 {
        assert!(Instant::now() < deadline, "both processes listen again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    warm(&mut second).await;
    assert_eq!(
        same_session_on(&second, &b).logout().await.status,
        StatusCode::SEE_OTHER
    );
    let latency = anonymous_after(&mut second, Instant::now()).await;
    println!(
        "after reconnecting, a logout on B → anonymous on A after {} ms",
        latency.as_millis()
    );
    assert!(latency < WITHIN);

    drop(a);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("was lost"), "{log}");
    assert_eq!(log.matches("following session changes").count(), 2, "{log}");
}
