//! Serving a router over HTTP/1.1 so that slow or many clients cannot exhaust the server: what
//! [`Wristband::serve`](crate::Wristband::serve) does.
//!
//! - Request headers must arrive within `server.header_timeout` (hyper's header read timeout);
//!   bodies within `server.body_timeout` (a layer of the router, so `axum::serve` users have it
//!   too: 408 and the connection closed).
//! - At most `server.max_connections` connections are served at once: the loop stops
//!   accepting at the cap, so further clients wait in the kernel's listen backlog, and the
//!   process never runs out of file descriptors (the open-file limit is raised to what the cap
//!   needs at start, or serving refuses to begin).
//! - A failing `accept` is logged at most once a second, with the count of those not logged.
//! - The peer address goes into each request for the throttle; shutdown is graceful.

use crate::config::ConfigError;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// File descriptors kept free beside the connections: the listener, database connections,
/// log and database files, the runtime's own.
const RESERVED_DESCRIPTORS: u64 = 128;
/// Least time between two logged `accept` failures.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// What the serving loop needs to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// Raises the soft open-file limit as far as the hard one allows, and checks that it holds
/// `max_connections` plus a reserve.
fn ensure_file_descriptors(max_connections: usize) -> Result<(), ConfigError> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = (max_connections as u64).saturating_add(RESERVED_DESCRIPTORS);
    let current = getrlimit(Resource::Nofile);
    let soft = current.current.unwrap_or(u64::MAX);
    if soft >= needed {
        return Ok(());
    }
    let hard = current.maximum.unwrap_or(u64::MAX);
    let raised = needed.min(hard);
    if raised > soft {
        let result = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: current.maximum,
            },
        );
        if let Err(error) = result {
            tracing::warn!(%error, "could not raise the open-file limit");
        }
    }
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    if now < needed {
        return Err(ConfigError::Invalid(format!(
            "invalid configuration: `server.max_connections` ({max_connections}) needs about \
             {needed} open files, but this process may open only {now}: lower \
             `server.max_connections` or raise the limit (`ulimit -n`)"
        )));
    }
    Ok(())
}

/// Logs failing `accept`s at most once per [`ACCEPT_LOG_INTERVAL`].
struct AcceptErrors {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    fn failed(&mut self, error: &std::io::Error) {
        let due = self
            .last_logged
            .is_none_or(|at| at.elapsed() >= ACCEPT_LOG_INTERVAL);
        if due {
            tracing::warn!(%error, not_logged_since_last = self.unlogged, "accept failed");
            self.last_logged = Some(Instant::now());
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ConfigError> {
    ensure_file_descriptors(limits.max_connections)?;
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut accept_errors = AcceptErrors {
        last_logged: None,
        unlogged: 0,
    };
    tokio::pin!(shutdown);
    loop {
        // A free slot first: at the cap nothing is accepted, and clients wait in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    accept_errors.failed(&error);
                    // Out of file descriptors and similar: wait a moment rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                });
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("shutdown grace period over; closing"),
    }
    Ok(())
}
