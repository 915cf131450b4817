//! CPU pinning (SPEC §8): the server under test on one core, the load generator on another,
//! so they never compete for a core and each figure is one core's work.
//!
//! The servers (and a throw-away PostgreSQL) run under `taskset -c SERVER_CPU`; this process
//! pins itself to the load CPU before its runtime starts, so every thread it makes inherits
//! it; the raw Argon2id baseline's threads move to the server CPU, where the server hashes.

use std::path::Path;
use std::process::Stdio;

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
use serde::Serialize;
use tokio::process::Command;

/// Where things run.
#[derive(Debug, Clone, Serialize)]
pub struct Pinning {
    /// The core of the servers (Wristband, the bare baseline, PostgreSQL, raw hashing).
    pub server_cpu: Option<usize>,
    /// The core of the load generator.
    pub load_cpu: Option<usize>,
    /// One line for the report saying what was done, or why not.
    pub note: String,
    /// The CPUs this process could use before pinning.
    pub cpus: usize,
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    match sched_getaffinity(None) {
        Ok(set) => (0..CpuSet::MAX_CPU)
            .filter(|&cpu| set.is_set(cpu))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn taskset_works() -> bool {
    std::process::Command::new("taskset")
        .args(["-c", "0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn one_cpu(cpu: usize) -> CpuSet {
    let mut set = CpuSet::new();
    set.set(cpu);
    set
}

impl Pinning {
    /// Decides the cores (unless `wanted` is false) and pins this process's calling thread —
    /// call it before starting any other thread.
    pub fn plan_and_pin_this_process(wanted: bool) -> Pinning {
        let cpus = allowed_cpus();
        let count = cpus.len().max(1);
        let unpinned = |note: String| Pinning {
            server_cpu: None,
            load_cpu: None,
            note,
            cpus: count,
        };
        if !wanted {
            return unpinned(
                "not pinned (--no-pin): servers and load generator share every core".into(),
            );
        }
        let [server, load, ..] = cpus[..] else {
            return unpinned(format!(
                "not pinned: this process may use {} CPU(s), two are needed",
                cpus.len()
            ));
        };
        if !taskset_works() {
            return unpinned("not pinned: `taskset` (util-linux) is not available".into());
        }
        if let Err(error) = sched_setaffinity(None, &one_cpu(load)) {
            return unpinned(format!(
                "not pinned: cannot pin the load generator: {error}"
            ));
        }
        Pinning {
            server_cpu: Some(server),
            load_cpu: Some(load),
            note: format!("servers on CPU {server} (taskset), load generator on CPU {load}"),
            cpus: count,
        }
    }

    /// How many cores the servers have: 1 when pinned, else every one this process may use.
    pub fn server_cpus(&self) -> usize {
        match self.server_cpu {
            Some(_) => 1,
            None => self.cpus,
        }
    }

    /// A command running `program` on the server CPU.
    pub fn server_command(&self, program: &Path) -> Command {
        match self.server_cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// Moves the calling thread to the server CPU (the raw hashing baseline's threads).
    pub fn move_this_thread_to_the_server_cpu(&self) {
        if let Some(cpu) = self.server_cpu {
            let _ = sched_setaffinity(None, &one_cpu(cpu));
        }
    }

    /// Moves process `pid` and its children (a PostgreSQL postmaster and its processes; new
    /// backends inherit from the postmaster) to the server CPU.
    pub fn move_tree_to_the_server_cpu(&self, pid: u32) {
        let Some(cpu) = self.server_cpu else {
            return;
        };
        let set = one_cpu(cpu);
        for process in crate::machine::process_tree(pid) {
            if let Some(pid) = rustix::process::Pid::from_raw(process as i32) {
                let _ = sched_setaffinity(Some(pid), &set);
            }
        }
    }
}
