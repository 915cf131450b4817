//! PostgreSQL clusters for the tasks: a throw-away one for `test`, a kept one for `pg`. The
//! clusters themselves are `pg-cluster`'s; what is xtask's own is below.
//!
//! At most one cluster is active per xtask run. It lives in [`ACTIVE`] so that both the normal
//! path (the [`Running`] guard's `Drop`) and the Ctrl-C handler can stop it; whichever comes
//! first does, under the lock, and the other then finds nothing left to do. The lock is held
//! while a cluster starts, so an interrupt then waits for the start to finish (or fail, which
//! cleans up by itself) before shutting down what is there.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use pg_cluster::{Cluster, ErrorKind, Kind, Progress};

use crate::error::{Failure, Result};
use crate::interrupt;

pub use pg_cluster::{TEST_URL_VAR, redact};

/// The active cluster, if any.
static ACTIVE: Mutex<Option<Cluster>> = Mutex::new(None);

fn active() -> MutexGuard<'static, Option<Cluster>> {
    ACTIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Stops the active cluster, if any (and removes it when it is a throw-away one).
pub fn shut_down_active() {
    let mut slot = active();
    if let Some(cluster) = slot.take() {
        shut_down(cluster);
    }
}

/// A started cluster; dropping it stops the cluster.
pub struct Running {
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
    /// One line saying what was started, for headers and summaries.
    pub description: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        shut_down_active();
    }
}

/// Starts a throw-away cluster in a new folder under /tmp.
pub fn start_throwaway() -> Result<Running> {
    let slot = active();
    activate(slot, Cluster::start_throwaway_with(print_progress))
}

/// Starts the development cluster kept in `root` (created on first use).
pub fn start_dev(root: &Path) -> Result<Running> {
    let slot = active();
    activate(slot, Cluster::start_dev(root, print_progress))
}

/// Makes a started cluster the active one and returns its guard; or, having let go of the
/// lock, turns the error into a failure.
fn activate(
    mut slot: MutexGuard<'_, Option<Cluster>>,
    started: std::result::Result<Cluster, pg_cluster::Error>,
) -> Result<Running> {
    match started {
        Ok(cluster) => {
            let running = Running {
                url: cluster.url(),
                description: cluster.description(),
            };
            if let Some(previous) = slot.replace(cluster) {
                shut_down(previous); // not expected: one cluster per run
            }
            Ok(running)
        }
        Err(error) => {
            drop(slot);
            Err(failure(error))
        }
    }
}

fn print_progress(progress: Progress<'_>) {
    println!("==> PostgreSQL: {progress}");
}

/// Stops `cluster` (removing a throw-away one) and says so. Never fails: problems are reported
/// as warnings, and every clean-up step is still tried.
fn shut_down(cluster: Cluster) {
    let done = match cluster.kind() {
        Kind::Throwaway => format!(
            "stopped the throw-away cluster and removed {}",
            cluster.root().display()
        ),
        Kind::Dev => format!(
            "stopped the development cluster (data kept in {})",
            cluster.data_dir().display()
        ),
    };
    match cluster.shut_down() {
        Ok(()) => println!("==> PostgreSQL: {done}"),
        Err(error) => eprintln!("xtask: warning: {error}"),
    }
}

/// A cluster that did not start, as a task failure: an interruption when the run is being
/// interrupted; else the error, with pg_ctl's output and the server log printed first.
fn failure(error: pg_cluster::Error) -> Failure {
    if let Err(interrupted) = interrupt::settle(error.kind() == ErrorKind::Interrupted) {
        return interrupted;
    }
    match error.details() {
        Some(details) => {
            eprintln!("{details}");
            Failure::Error(format!("{error}; its output and log are above"))
        }
        None => Failure::Error(error.to_string()),
    }
}
