//! The load generator: a fixed number of keep-alive connections, each sending its request
//! again as soon as the previous response has been read, until a common deadline.
//!
//! Connections are opened before the clock starts, so a phase measures only requests. A
//! response counts when it arrives before the deadline; requests still in flight then are
//! awaited (so that they do not spill into the next phase) but not counted.
//!
//! The loop is closed: a connection sends its next request only after the previous response,
//! so when the server slows down the offered load drops with it, and a latency percentile is
//! that of the requests that were sent (the waiting a fixed-rate client would have seen while
//! its connection was busy is not counted). With a fixed number of connections, throughput ×
//! mean latency ≈ connections.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::StatusCode;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::{Context, Error, Result};
use crate::http::{Connection, RequestTemplate};
use crate::stats::{LatencySummary, micros};

/// Connections opened and ready to send, one request template each.
pub struct Prepared {
    addr: SocketAddr,
    expect: StatusCode,
    connections: Vec<(Connection, RequestTemplate)>,
}

/// Opens one connection to `addr` per template; every response is expected to have status
/// `expect` (anything else is counted, not timed).
pub async fn prepare(
    addr: SocketAddr,
    templates: Vec<RequestTemplate>,
    expect: StatusCode,
) -> Result<Prepared> {
    let mut connections = Vec::with_capacity(templates.len());
    for template in templates {
        connections.push((Connection::open(addr).await?, template));
    }
    Ok(Prepared {
        addr,
        expect,
        connections,
    })
}

/// What one phase measured on one set of connections.
#[derive(Debug, Clone, Serialize)]
pub struct LoadOutcome {
    /// Connections used.
    pub connections: usize,
    /// Length of the measurement, in seconds.
    pub seconds: f64,
    /// Responses with the expected status that arrived before the deadline.
    pub ok: u64,
    /// `ok` per second.
    pub per_second: f64,
    /// Latencies of the `ok` responses.
    pub latency: LatencySummary,
    /// Responses with another status, by status.
    pub unexpected: BTreeMap<u16, u64>,
    /// Requests that failed at the connection level (each followed by a reconnection).
    pub connection_errors: u64,
    /// CPU time the server (and its database server, if measured) used during the phase, in
    /// seconds; `None` when not measured.
    pub server_cpu_seconds: Option<f64>,
    /// `server_cpu_seconds` per `ok` response, in milliseconds.
    pub server_cpu_ms_per_request: Option<f64>,
}

impl LoadOutcome {
    /// The outcome with the server's CPU time over the phase filled in.
    pub fn with_server_cpu(mut self, seconds: Option<f64>) -> Self {
        self.server_cpu_seconds = seconds;
        self.server_cpu_ms_per_request = seconds
            .filter(|_| self.ok > 0)
            .map(|seconds| seconds * 1000.0 / self.ok as f64);
        self
    }

    /// Whether anything other than the expected responses happened.
    pub fn had_errors(&self) -> bool {
        self.connection_errors > 0 || !self.unexpected.is_empty()
    }

    /// The unexpected statuses and connection errors in a few words, e.g. `503×12, 1 conn err`.
    pub fn describe_errors(&self) -> String {
        let mut parts: Vec<String> = self
            .unexpected
            .iter()
            .map(|(status, count)| format!("{status}×{count}"))
            .collect();
        if self.connection_errors > 0 {
            parts.push(format!("{} connection errors", self.connection_errors));
        }
        parts.join(", ")
    }
}

/// Counts kept by one connection.
#[derive(Default)]
struct ConnectionCounts {
    ok: u64,
    latencies_us: Vec<u32>,
    unexpected: BTreeMap<u16, u64>,
    connection_errors: u64,
}

impl Prepared {
    /// Sends requests on every connection until `deadline`, which is `duration` after `start`.
    pub async fn run(self, start: Instant, duration: Duration) -> Result<LoadOutcome> {
        let deadline = start + duration;
        let connection_count = self.connections.len();
        let mut tasks = JoinSet::new();
        for (connection, template) in self.connections {
            tasks.spawn(drive(
                self.addr,
                connection,
                template,
                self.expect,
                deadline,
            ));
        }
        let mut latencies = Vec::new();
        let mut total = ConnectionCounts::default();
        while let Some(joined) = tasks.join_next().await {
            let counts = joined.context("a load generator task failed")??;
            total.ok += counts.ok;
            total.connection_errors += counts.connection_errors;
            for (status, count) in counts.unexpected {
                *total.unexpected.entry(status).or_default() += count;
            }
            latencies.extend(counts.latencies_us);
        }
        let seconds = duration.as_secs_f64();
        Ok(LoadOutcome {
            connections: connection_count,
            seconds,
            ok: total.ok,
            per_second: total.ok as f64 / seconds,
            latency: LatencySummary::of(&mut latencies),
            unexpected: total.unexpected,
            connection_errors: total.connection_errors,
            server_cpu_seconds: None,
            server_cpu_ms_per_request: None,
        })
    }
}

/// Opens the connections for `templates` and runs them for `duration`.
pub async fn run(
    addr: SocketAddr,
    templates: Vec<RequestTemplate>,
    expect: StatusCode,
    duration: Duration,
) -> Result<LoadOutcome> {
    let prepared = prepare(addr, templates, expect).await?;
    prepared.run(Instant::now(), duration).await
}

/// One connection's loop.
async fn drive(
    addr: SocketAddr,
    mut connection: Connection,
    template: RequestTemplate,
    expect: StatusCode,
    deadline: Instant,
) -> Result<ConnectionCounts> {
    let mut counts = ConnectionCounts::default();
    // Sized for a fast page: growing the vector while timing would add noise.
    counts.latencies_us.reserve(64 * 1024);
    while Instant::now() < deadline {
        let request = template.build()?;
        let sent = Instant::now();
        match connection.send(request).await {
            Ok(reply) => {
                let done = Instant::now();
                if done > deadline {
                    break;
                }
                if reply.status == expect {
                    counts.ok += 1;
                    counts.latencies_us.push(micros(done - sent));
                } else {
                    *counts.unexpected.entry(reply.status.as_u16()).or_default() += 1;
                }
            }
            Err(_) => {
                counts.connection_errors += 1;
                if counts.connection_errors > 10_000 {
                    return Err(Error::new(format!(
                        "{}: the server keeps failing the connection",
                        template.describe()
                    )));
                }
                // Reconnect; if even that fails, pause a moment rather than spin.
                match Connection::open(addr).await {
                    Ok(fresh) => connection = fresh,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
    }
    Ok(counts)
}
