//! The servers under test, as child processes: started, awaited until they answer, measured,
//! and killed (also when the benchmark is dropped half-way, e.g. on Ctrl-C).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hyper::StatusCode;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::error::{Context, Error, Result};
use crate::http::{Connection, RequestTemplate};
use crate::machine;

/// How long a server may take to answer its readiness check (migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of a server's log shown when it fails.
const LOG_TAIL_LINES: usize = 30;

/// A running server; dropping it kills the process.
pub struct Server {
    name: String,
    child: Child,
    pid: u32,
    addr: SocketAddr,
    log: PathBuf,
}

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it a moment later).
pub fn free_loopback_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot find a free port on 127.0.0.1")?;
    listener
        .local_addr()
        .context("cannot read the address of a bound port")
}

impl Server {
    /// Starts `command` (program, arguments, environment and folder already set), its output
    /// going to `log`, and waits until `GET ready_path` on `addr` answers 200.
    pub async fn start(
        name: &str,
        mut command: Command,
        addr: SocketAddr,
        ready_path: &str,
        log: PathBuf,
    ) -> Result<Server> {
        let log_file =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .with_context(|| format!("cannot reopen {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .kill_on_drop(true);
        let child = command.spawn().with_context(|| {
            format!("cannot start {name} ({:?})", command.as_std().get_program())
        })?;
        let pid = child
            .id()
            .ok_or_else(|| Error::new(format!("{name} exited at once")))?;
        let mut server = Server {
            name: name.to_owned(),
            child,
            pid,
            addr,
            log,
        };
        server.wait_ready(ready_path).await?;
        Ok(server)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its peak resident set size so far, in bytes (`VmHWM`).
    pub fn peak_rss(&self) -> Option<u64> {
        machine::peak_rss(self.pid)
    }

    /// Fails with the log's tail when the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.failure(&format!("exited ({status})"))),
            Err(error) => Err(self.failure(&format!("cannot be watched: {error}"))),
        }
    }

    /// An error about this server, with the end of its log.
    pub fn failure(&self, what: &str) -> Error {
        let tail = std::fs::read_to_string(&self.log)
            .map(|text| {
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
            })
            .unwrap_or_default();
        if tail.trim().is_empty() {
            Error::new(format!("{} {what} (it wrote nothing)", self.name))
        } else {
            Error::new(format!(
                "{} {what}; the end of its output:\n{tail}",
                self.name
            ))
        }
    }

    async fn wait_ready(&mut self, path: &str) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let request = RequestTemplate::get(self.addr, path)?;
        loop {
            self.check_alive()?;
            if let Ok(mut connection) = Connection::open(self.addr).await
                && let Ok(reply) = connection.send(request.build()?).await
                && reply.status == StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.failure(&format!(
                    "did not answer GET {path} with 200 within {}s",
                    START_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process and waits for it.
    pub async fn stop(mut self) -> Result<()> {
        self.child
            .kill()
            .await
            .with_context(|| format!("cannot stop {}", self.name))
    }
}
