//! The attack of issue 9: many clients whose bodies stall, against a process with few file
//! descriptors. With the connection cap and the body deadline the server keeps answering, and
//! a cap the open-file limit cannot hold is refused at start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;

use common::{Backend, Database, SECRET, ServerProcess, config_dir, stderr, wristband_binary};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `wristband` under `prlimit --nofile=LIMIT:LIMIT`, the test profile, cheap hashing.
fn limited(limit: u32, database_url: &str, env: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new("prlimit");
    command
        .arg(format!("--nofile={limit}:{limit}"))
        .arg(wristband_binary())
        .env("WRISTBAND_PROFILE", "test")
        .env("WRISTBAND_CONFIG_DIR", config_dir())
        .env("DATABASE_URL", database_url)
        .env("SECRET_KEY", SECRET)
        .env("WRISTBAND_PASSWORD__ARGON2__MEMORY_KIB", "64")
        .env("WRISTBAND_PASSWORD__ARGON2__ITERATIONS", "1")
        .env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cap_the_open_file_limit_cannot_hold_exits_2_naming_it() {
    let database = Database::new(Backend::SQLITE).await;
    let output = limited(256, &database.url, &[])
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("`server.max_connections` (1024)"), "{text}");
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_from_many_clients_cannot_exhaust_the_server() {
    let database = Database::new(Backend::SQLITE).await;
    let env = [
        ("WRISTBAND_SERVER__MAX_CONNECTIONS", "100"),
        ("WRISTBAND_SERVER__BODY_TIMEOUT", "2s"),
    ];
    let server = ServerProcess::launch(3, || limited(256, &database.url, &env)).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    // 300 clients, three times the cap and more than the process's 256 descriptors, each
    // sending a body that stalls after one byte.
    let mut stalled = Vec::new();
    for _ in 0..300 {
        let address = address.clone();
        stalled.push(tokio::spawn(async move {
            let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
                return String::new();
            };
            let head = format!(
                "POST /login HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nu"
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let mut buffer = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buffer)).await;
            String::from_utf8_lossy(&buffer).into_owned()
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The health check waits its turn in the backlog, and is answered.
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let waited = started.elapsed();
    let mut timed_out = 0;
    for task in stalled {
        if task.await.unwrap().starts_with("HTTP/1.1 408") {
            timed_out += 1;
        }
    }
    assert!(
        timed_out >= 290,
        "only {timed_out} of 300 stalled bodies got 408"
    );
    println!(
        "300 stalled bodies against 256 descriptors and a cap of 100: /healthz answered after \
         {waited:.1?}; {timed_out} stalled requests got 408"
    );
    drop(server);
}
