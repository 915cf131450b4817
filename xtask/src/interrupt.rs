//! Ctrl-C and SIGTERM: stop the PostgreSQL cluster before the process goes away.
//!
//! A terminal's Ctrl-C reaches every process in the foreground group: xtask, the cargo or
//! nextest it is running, but not the postmaster, which `pg_ctl` detaches into its own session.
//! So xtask catches the signal, stops its cluster and removes its folder, and only then exits.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Failure, Result};
use crate::postgres;

/// Set as soon as an interrupt arrives.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// SIGINT and SIGTERM, by their Linux and BSD numbers.
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// For `test` and `ci`: on an interrupt, stop the active cluster (if any) and exit with 130.
pub fn install_exit_handler() -> Result {
    set_handler(|| {
        REQUESTED.store(true, Ordering::SeqCst);
        eprintln!("\nxtask: interrupted, cleaning up");
        postgres::shut_down_active();
        std::process::exit(130);
    })
}

/// For `pg`: an interrupt is the normal way to stop, so it is only reported on the channel.
pub fn install_notifying_handler() -> Result<mpsc::Receiver<()>> {
    let (sender, receiver) = mpsc::channel();
    set_handler(move || {
        REQUESTED.store(true, Ordering::SeqCst);
        // Nobody listening any more means the task is already on its way out.
        let _ = sender.send(());
    })?;
    Ok(receiver)
}

fn set_handler(handler: impl FnMut() + Send + 'static) -> Result {
    ctrlc::set_handler(handler)
        .map_err(|error| Failure::Error(format!("cannot install the Ctrl-C handler: {error}")))
}

/// Whether an interrupt has arrived.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Checks a finished child: `Err(Interrupted)` when the run is being interrupted, so that no
/// further step starts. A child killed by SIGINT/SIGTERM usually means our own handler is about
/// to run (the signal went to the whole process group), so wait a moment for it to say so.
pub fn check(status: ExitStatus) -> Result<ExitStatus> {
    settle(matches!(status.signal(), Some(SIGINT | SIGTERM)))?;
    Ok(status)
}

/// As [`check`], for a step that reports only whether a signal stopped its child (`killed`).
pub fn settle(killed: bool) -> Result {
    if killed {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !requested() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }
    if requested() {
        Err(Failure::Interrupted)
    } else {
        Ok(())
    }
}
