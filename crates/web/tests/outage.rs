//! The database going away while the server runs: 503 (never 500, never a logout), and the
//! same process serving again once it is back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Backend, PASSWORD, spawn};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use store_seaorm::sea_orm::{ConnectionTrait, Database, TransactionTrait};

/// SQLite's outage: another process holds the write lock past the busy timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_past_the_busy_timeout_answers_503_and_recovers() {
    let f = spawn(Backend::SQLITE, |_| {}).await;
    let mut b = f.app.browser();
    b.sign_up("uma").await;
    assert_eq!(b.logout().await.status, StatusCode::SEE_OTHER);
    let mut logged_in = f.app.browser();
    logged_in.sign_up("vic").await;

    let locker = Database::connect(f.database.url.as_str()).await.unwrap();
    let lock = locker.begin().await.unwrap();
    lock.execute_unprepared("UPDATE users SET auth_stamp = auth_stamp")
        .await
        .unwrap();

    let token = b.get("/login").await.csrf_token();
    let started = Instant::now();
    let page = b
        .post_form(
            "/login",
            &[
                ("username", "uma"),
                ("password", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    let waited = started.elapsed();
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert!(page.header("retry-after").is_some());
    assert!(page.body.contains("Service unavailable"));
    assert!(page.set_cookies().is_empty(), "an outage changes no cookie");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    // Reads still work during a write lock: the logged-in user is still logged in.
    assert_eq!(logged_in.get("/dashboard").await.status, StatusCode::OK);

    lock.rollback().await.unwrap();
    let page = b.login("uma", PASSWORD).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "serves again once the lock is gone"
    );
    println!(
        "SQLite locked: login answered {} after {waited:?}; after unlock: {}",
        StatusCode::SERVICE_UNAVAILABLE,
        page.status
    );
}

/// PostgreSQL's outage: the server is stopped while Wristband runs, then started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_answers_503_and_the_same_process_recovers() {
    // A private cluster: stopping the shared one would fail every other test.
    let mut cluster = tokio::task::spawn_blocking(pg_cluster::Cluster::start_throwaway)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("this test starts its own PostgreSQL: {e}"));
    let database = common::Database::at(&cluster.url());
    let app = common::TestApp::start(
        &database,
        common::test_settings(&database.url),
        common::keys(common::SECRET, &[]),
    )
    .await;
    let mut b = app.browser();
    b.sign_up("wes").await;
    let mut anonymous = app.browser();
    let token = anonymous.get("/login").await.csrf_token();
    assert_eq!(b.get("/healthz").await.status, StatusCode::OK);

    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().unwrap_or_else(|e| panic!("{e}"));
        cluster
    })
    .await
    .unwrap();

    let timed = |started: Instant| {
        let waited = started.elapsed();
        assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
        waited
    };
    let started = Instant::now();
    let health = b.get("/healthz").await;
    let health_wait = timed(started);
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);

    let started = Instant::now();
    let page = b.get("/dashboard").await;
    let page_wait = timed(started);
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert!(page.body.contains("Service unavailable"), "a clear page");
    assert!(page.set_cookies().is_empty(), "an outage clears no cookie");
    assert!(page.header("retry-after").is_some());

    let mut api_client = b.clone();
    api_client
        .extra_headers
        .push(("accept".into(), "application/json".into()));
    let problem = api_client.get("/dashboard").await;
    assert_eq!(problem.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        problem.header("content-type"),
        Some("application/problem+json")
    );
    let document: serde_json::Value = serde_json::from_str(&problem.body).unwrap();
    assert_eq!(document["status"], 503);

    let started = Instant::now();
    let login = anonymous
        .post_form(
            "/login",
            &[
                ("username", "wes"),
                ("password", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    let login_wait = timed(started);
    assert_eq!(login.status, StatusCode::SERVICE_UNAVAILABLE);

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start().unwrap_or_else(|e| panic!("{e}"));
        cluster
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while b.get("/healthz").await.status != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "did not recover without a restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let page = b.get("/dashboard").await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "still logged in after the outage"
    );
    let login = anonymous.login("wes", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    println!(
        "PostgreSQL stopped: /healthz 503 in {health_wait:?}, /dashboard 503 in {page_wait:?}, \
         login 503 in {login_wait:?}; restarted: /dashboard {} with the same cookie, login {}",
        page.status, login.status
    );
    app.stop().await;
    drop(cluster);
}
