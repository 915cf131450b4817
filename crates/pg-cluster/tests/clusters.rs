//! Real clusters: started with the local PostgreSQL, reached with `psql`.
//!
//! Needs PostgreSQL's server programs (and `psql`). Without them these tests fail with the
//! message that says what to install: they are never skipped.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pg_cluster::{Cluster, ErrorKind, Kind, Progress};

/// The started cluster; a missing PostgreSQL fails the test with what to install.
fn started(outcome: Result<Cluster, pg_cluster::Error>) -> Cluster {
    outcome.unwrap_or_else(|error| panic!("{error:?}"))
}

/// `psql URL -c 'select 1'`, with the cluster's own psql when it has one.
fn psql(cluster: &Cluster, url: &str) -> Output {
    let own = cluster.bin_dir().join("psql");
    let program = if own.is_file() {
        own
    } else {
        PathBuf::from("psql")
    };
    Command::new(program)
        .args([url, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", "select 1"])
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run psql (PostgreSQL's client): {error}"))
}

fn assert_reachable(cluster: &Cluster, url: &str) {
    let out = psql(cluster, url);
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

fn assert_unreachable(cluster: &Cluster, url: &str) {
    let out = psql(cluster, url);
    assert!(
        !out.status.success(),
        "psql still connects to {url}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn throwaway_cluster_stops_restarts_on_the_same_url_and_is_removed() {
    let mut cluster = started(Cluster::start_throwaway());
    let url = cluster.url();
    let root = cluster.root().to_path_buf();
    assert_eq!(
        url,
        format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port())
    );
    assert_eq!(cluster.kind(), Kind::Throwaway);
    assert!(
        cluster
            .description()
            .starts_with("throw-away cluster on 127.0.0.1:")
    );
    assert!(cluster.description().contains(cluster.version()));
    assert!(root.starts_with("/tmp") && cluster.data_dir().join("PG_VERSION").is_file());
    assert!(cluster.is_running());
    assert_reachable(&cluster, &url);

    cluster.stop().unwrap();
    assert!(!cluster.is_running());
    assert_unreachable(&cluster, &url);
    cluster.stop().unwrap(); // already stopped: nothing to do

    cluster.start().unwrap();
    assert!(cluster.is_running());
    assert_eq!(cluster.url(), url);
    assert_reachable(&cluster, &url);

    drop(cluster);
    assert!(!root.exists(), "{} is still there", root.display());
}

#[test]
fn restart_fails_when_the_port_was_taken_meanwhile() {
    let mut cluster = started(Cluster::start_throwaway());
    let url = cluster.url();
    cluster.stop().unwrap();

    let squatter = TcpListener::bind(("127.0.0.1", cluster.port())).unwrap();
    let error = cluster.start().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PortTaken, "{error:?}");
    assert!(error.to_string().contains("was taken"), "{error}");
    assert!(
        error.details().unwrap().contains("Address already in use"),
        "{error:?}"
    );
    assert!(!cluster.is_running());

    drop(squatter);
    cluster.start().unwrap();
    assert_reachable(&cluster, &url);

    let root = cluster.root().to_path_buf();
    cluster.shut_down().unwrap();
    assert!(!root.exists());
}

#[test]
fn dev_cluster_is_kept_reused_and_never_started_twice() {
    let root = Path::new("/tmp").join(format!("pg-cluster-dev-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let mut seen = Vec::new();
    let cluster = started(Cluster::start_dev(&root, |progress| {
        seen.push(progress.to_string());
    }));
    let data = root.join("data");
    assert_eq!(seen, [format!("creating {}", data.display())]);
    assert_eq!(cluster.kind(), Kind::Dev);
    assert!(
        cluster
            .description()
            .starts_with("development cluster on 127.0.0.1:")
    );
    let url = cluster.url();
    assert_reachable(&cluster, &url);

    // A second server on the same data folder is refused, and the first one left alone.
    let error = Cluster::start_dev(&root, |_| {}).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyRunning, "{error:?}");
    assert!(error.to_string().contains(&url), "{error}");
    assert_reachable(&cluster, &url);

    // Dropping stops it and keeps the data and the port.
    let port = cluster.port();
    let bin_dir = cluster.bin_dir().to_path_buf();
    drop(cluster);
    assert!(data.join("PG_VERSION").is_file());
    assert!(!data.join("postmaster.pid").exists());
    assert_eq!(
        fs::read_to_string(root.join("port")).unwrap().trim(),
        port.to_string()
    );

    let mut seen = Vec::new();
    let cluster = Cluster::start_dev(&root, |progress| {
        if let Progress::Reusing { data } = progress {
            seen.push(data.to_path_buf());
        }
    })
    .unwrap();
    assert_eq!(seen, std::slice::from_ref(&data));
    assert_eq!(cluster.bin_dir(), bin_dir);
    assert_eq!(cluster.port(), port, "the remembered port was free");
    assert_reachable(&cluster, &url);
    cluster.shut_down().unwrap();
    assert!(data.join("PG_VERSION").is_file());
    fs::remove_dir_all(&root).unwrap();
}
