//! Several Wristband processes on one PostgreSQL database, with one `SECRET_KEY`, behave as one
//! server; started at the same moment on an empty database, they migrate it once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Backend, Browser, Database, PASSWORD, SECRET, ServerProcess};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_database_act_as_one_server() {
    let database = Database::new(Backend::POSTGRES).await;
    // Both start at the same moment on an empty database: both must come up.
    let (a, b) = tokio::join!(
        ServerProcess::start(&database.url, SECRET),
        ServerProcess::start(&database.url, SECRET)
    );
    println!("A on {}, B on {}, one empty database", a.base, b.base);

    // A login through A is authenticated on B.
    let mut via_a = Browser::new(&a.base);
    via_a.sign_up("Ann").await;
    let cookies = via_a.cookies.clone();
    let mut via_b = Browser::new(&b.base);
    via_b.cookies = cookies.clone();
    let dashboard = via_b.get("/dashboard").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(
        dashboard
            .body
            .contains("Welcome to your private dashboard, Ann!")
    );
    println!(
        "login through A → dashboard through B: {}",
        dashboard.status
    );

    // A logout through B makes the cookie anonymous on A.
    assert_eq!(via_b.logout().await.status, StatusCode::SEE_OTHER);
    let mut replay_on_a = Browser::new(&a.base);
    replay_on_a.cookies = cookies;
    let after = replay_on_a.get("/dashboard").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), Some("/login?next=/dashboard"));
    println!(
        "logout through B → same cookie on A: {} to {:?}",
        after.status,
        after.location()
    );

    // A user registered through A cannot be registered again through B.
    let first = Browser::new(&a.base).register("Bea", PASSWORD).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let again = Browser::new(&b.base).register("bea", PASSWORD).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    println!(
        "register Bea through A: {}; bea through B: {}",
        first.status, again.status
    );
}
