//! Drives the embedding example (`examples/corner_shop.rs`) over HTTP, served with
//! `axum::serve` as its docs say: the shop's routes, the user extractor and the guard behind
//! Wristband's layers; each client throttled on its own (seen from 127.0.0.2 and 127.0.0.3);
//! and, served without the peer address, an ERROR that names the fix and throttling by
//! username alone, never one bucket shared by every client. The purge of expired sessions runs
//! inside the handle, with no code in the shop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;

#[path = "../examples/corner_shop.rs"]
#[allow(dead_code, unreachable_pub)]
mod corner_shop;

use common::{Browser, PASSWORD};
use figment::Figment;
use figment::providers::Serialized;
use reqwest::StatusCode;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Everything the process logs, for the tests that look for the missing-address error.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&log);
        let _ = tracing_subscriber::fmt()
            .with_writer(move || Capture(Arc::clone(&writer)))
            .with_ansi(false)
            .try_init();
        log
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The shop's configuration as a test needs it: a fresh SQLite file, cheap hashing, `tweak`.
fn configuration(dir: &tempfile::TempDir, tweak: &[(&str, &str)]) -> Figment {
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    let mut figment = corner_shop::configuration()
        .merge(Serialized::default("wristband.database.url", url))
        .merge(Serialized::default(
            "wristband.password.argon2.memory_kib",
            64,
        ))
        .merge(Serialized::default(
            "wristband.password.argon2.iterations",
            1,
        ));
    for (key, value) in tweak {
        figment = figment.merge(Serialized::default(key, *value));
    }
    figment
}

/// Serves the shop as `main` does (`with_peer`: with the peer address) on a random port.
async fn serve(figment: Figment, with_peer: bool) -> (web::Wristband, String) {
    let (wristband, app) = corner_shop::build(figment).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    if with_peer {
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
    } else {
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    (wristband, base)
}

fn from(base: &str, address: &str) -> Browser {
    Browser::from_address(base, address.parse::<IpAddr>().unwrap())
}

async fn register(base: &str, username: &str) {
    let page = Browser::new(base)
        .post_json(
            "/auth/api/register",
            &serde_json::json!({"username": username, "password": PASSWORD}),
        )
        .await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.body);
}

async fn api_login(b: &mut Browser, username: &str, password: &str) -> StatusCode {
    b.post_json(
        "/auth/api/login",
        &serde_json::json!({"username": username, "password": password}),
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corner_shop_serves_with_wristband_under_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let (_wristband, base) = serve(configuration(&dir, &[]), true).await;
    let mut b = Browser::new(&base);
    assert_eq!(
        b.get("/").await.body,
        "Corner Shop: log in at /auth/login to see your orders",
        "the shop's own home page"
    );
    assert_eq!(
        b.get("/orders").await.location(),
        Some("/auth/login?next=/orders"),
        "the login page under the shop's prefix"
    );
    let api = b.get("/auth/api/me").await;
    api.problem(StatusCode::UNAUTHORIZED);
    let json_only = b
        .request_with_header(
            reqwest::Method::GET,
            "/orders",
            ("accept", "application/json"),
        )
        .await;
    json_only.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        b.get("/login").await.status,
        StatusCode::NOT_FOUND,
        "nothing at the root"
    );
    assert_eq!(
        b.get("/dashboard").await.status,
        StatusCode::NOT_FOUND,
        "the ready server's page is not imposed"
    );

    let registered = b
        .submit(
            "/auth/register",
            "/auth/register",
            &[("username", "Grace"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(registered.location(), Some("/auth/login"));
    let login_page = b.get("/auth/login?next=/settings").await;
    assert_eq!(login_page.input_values("next"), ["&#x2f;settings"]);
    let logged_in = b
        .submit(
            "/auth/login",
            "/auth/login",
            &[("username", "grace"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        logged_in.location(),
        Some("/orders"),
        "login.default_redirect from the shop's config"
    );
    assert_eq!(b.get("/").await.body, "Corner Shop: welcome back, Grace");
    let orders = b.get("/orders").await;
    assert_eq!(orders.body, "Orders of Grace: none yet");
    assert_eq!(orders.header("cache-control"), Some("no-store"));
    assert_eq!(
        orders.header("x-frame-options"),
        Some("DENY"),
        "Wristband's layers cover the shop"
    );
    assert_eq!(
        b.get("/settings").await.body,
        "Payment settings (recent login confirmed)"
    );
    let account = b.get("/auth/account").await;
    assert!(
        account
            .body
            .contains("action=\"&#x2f;auth&#x2f;account&#x2f;password\""),
        "forms post under the prefix"
    );
    assert_eq!(
        b.submit("/auth/logout", "/auth/logout", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get("/orders").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_peer_address_each_client_is_throttled_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (_wristband, base) = serve(configuration(&dir, &[]), true).await;
    register(&base, "alice").await;
    let mut two = from(&base, "127.0.0.2");
    let mut three = from(&base, "127.0.0.3");
    for _ in 0..5 {
        assert_eq!(
            api_login(&mut two, "alice", "wrong password!").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        api_login(&mut two, "alice", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "127.0.0.2 is held back, even with the right password"
    );
    assert_eq!(
        api_login(&mut three, "alice", PASSWORD).await,
        StatusCode::OK,
        "127.0.0.3 is another client: alice logs in"
    );
    println!(
        "with connect info: 5 failures from 127.0.0.2 → 127.0.0.2 gets 429, 127.0.0.3 logs in (200)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_peer_address_throttling_counts_by_username_and_logs_the_fix() {
    let log = captured_log();
    let dir = tempfile::tempdir().unwrap();
    let (_wristband, base) = serve(configuration(&dir, &[]), false).await;
    register(&base, "alice").await;
    register(&base, "bob").await;
    let mut two = from(&base, "127.0.0.2");
    let mut three = from(&base, "127.0.0.3");
    for _ in 0..5 {
        assert_eq!(
            api_login(&mut two, "alice", "wrong password!").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("into_make_service_with_connect_info"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "one ERROR naming the fix, at the first login:\n{text}"
    );
    assert_eq!(
        api_login(&mut three, "alice", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "clients cannot be told apart: alice's username is held back for everyone"
    );
    assert_eq!(
        api_login(&mut two, "bob", PASSWORD).await,
        StatusCode::OK,
        "no shared bucket: the client that failed five times still logs bob in"
    );
    // Far more failures than the per-address limit (50), over many usernames: still no bucket
    // that locks every client out.
    for i in 0..55 {
        let status = api_login(&mut two, &format!("nobody{i}"), "wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(api_login(&mut three, "bob", PASSWORD).await, StatusCode::OK);
    println!(
        "without connect info: one ERROR naming the fix; alice 429 from every client after 5 failures; \
         bob still logs in after 60 failures over 56 usernames"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_purged_by_the_handle() {
    use store_seaorm::sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
    let dir = tempfile::tempdir().unwrap();
    let figment = configuration(
        &dir,
        &[
            ("wristband.session.idle_timeout", "1s"),
            ("wristband.session.purge_interval", "1s"),
        ],
    );
    let (_wristband, base) = serve(figment, true).await;
    register(&base, "erin").await;
    let mut b = Browser::new(&base);
    assert_eq!(api_login(&mut b, "erin", PASSWORD).await, StatusCode::OK);
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    let db = Database::connect(&url).await.unwrap();
    let count = || async {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM sessions",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    assert_eq!(count().await, 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while count().await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired session was never purged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(b.get("/orders").await.status, StatusCode::SEE_OTHER);
    println!("an idle session expired after 1 s and was purged by the handle's background task");
}
