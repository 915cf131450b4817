//! Facts about the machine and its processes, from `/proc` (Linux).

use std::fs;

use serde::Serialize;

/// A process's peak resident set size ("high water mark") in bytes, from the `VmHWM:` line of
/// `/proc/PID/status` (given in kB, that is KiB). `None` when the line is missing or malformed.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    let mut words = line.split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => kib.checked_mul(1024),
        Some(_) => None,
    }
}

/// The peak resident set size of process `pid` so far, in bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    parse_vm_hwm(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Clock ticks per second of the CPU times in `/proc/PID/stat` (`USER_HZ`: 100 on every
/// Linux architecture that matters here).
const USER_HZ: f64 = 100.0;

/// CPU times from `/proc/PID/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTicks {
    /// The parent's process id.
    pub ppid: u32,
    /// User plus system time of the process itself.
    pub own: u64,
    /// User plus system time of its children that have exited and been waited for.
    pub reaped_children: u64,
}

/// Parses a `/proc/PID/stat` line. The command name (field 2) is in parentheses and may hold
/// spaces and parentheses itself, so fields are counted from the last `)`.
pub fn parse_stat(stat: &str) -> Option<CpuTicks> {
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    // Field 3 (state) is index 0 here; ppid is field 4, utime..cstime are fields 14–17.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let number = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some(CpuTicks {
        ppid: u32::try_from(number(4)?).ok()?,
        own: number(14)? + number(15)?,
        reaped_children: number(16)? + number(17)?,
    })
}

fn stat_of(pid: u32) -> Option<CpuTicks> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU time (user + system) process `pid` has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    stat_of(pid).map(|ticks| ticks.own as f64 / USER_HZ)
}

/// CPU time used so far by process `pid` and its children (running ones, and exited ones it
/// has waited for), in seconds: for a PostgreSQL postmaster, the whole server.
pub fn tree_cpu_seconds(pid: u32) -> Option<f64> {
    let mut ticks = 0;
    for process in process_tree(pid) {
        let stat = stat_of(process);
        if process == pid && stat.is_none() {
            return None;
        }
        ticks += stat.map_or(0, |stat| stat.own + stat.reaped_children);
    }
    Some(ticks as f64 / USER_HZ)
}

/// Process `pid` and its direct children (a PostgreSQL postmaster's processes).
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    if let Ok(entries) = fs::read_dir("/proc") {
        let children = entries.flatten().filter_map(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
        });
        tree.extend(children.filter(|&child| stat_of(child).is_some_and(|stat| stat.ppid == pid)));
    }
    tree
}

/// Processes whose CPU time is counted together: a server, plus (for PostgreSQL) the database
/// server's process tree.
#[derive(Debug, Clone, Default)]
pub struct CpuMeter {
    processes: Vec<u32>,
    trees: Vec<u32>,
}

impl CpuMeter {
    /// Counts process `pid` alone.
    pub fn process(pid: u32) -> Self {
        CpuMeter {
            processes: vec![pid],
            trees: Vec::new(),
        }
    }

    /// Also counts process `pid` and its children.
    pub fn and_tree(mut self, pid: u32) -> Self {
        self.trees.push(pid);
        self
    }

    /// The CPU seconds used so far by everything counted; `None` when any is unreadable.
    pub fn read(&self) -> Option<f64> {
        let processes: Option<f64> = self.processes.iter().map(|&pid| cpu_seconds(pid)).sum();
        let trees: Option<f64> = self.trees.iter().map(|&pid| tree_cpu_seconds(pid)).sum();
        Some(processes? + trees?)
    }
}

/// What the benchmark ran on, for the report's header.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may use (`nproc`).
    pub cpus: usize,
    /// The CPU's model name, when `/proc/cpuinfo` says.
    pub cpu_model: Option<String>,
    /// Total memory in bytes, when `/proc/meminfo` says.
    pub memory_bytes: Option<u64>,
    /// The 1-minute load average when the run started: other work on a shared machine.
    pub load_average_at_start: Option<f64>,
    /// The 1-minute load average when the run ended.
    pub load_average_at_end: Option<f64>,
}

impl Machine {
    /// The facts as they are now (`load_average_at_end` is filled in later).
    pub fn now() -> Self {
        Machine {
            cpus: cpus(),
            cpu_model: fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|text| parse_cpu_model(&text)),
            memory_bytes: fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|text| parse_mem_total(&text)),
            load_average_at_start: load_average(),
            load_average_at_end: None,
        }
    }
}

/// CPUs this process may use, as `nproc` counts them (at least 1).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 1-minute load average from `/proc/loadavg`.
pub fn load_average() -> Option<f64> {
    let text = fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?;
    line.split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()?
        .checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\twristband\nUmask:\t0022\nState:\tS (sleeping)\n\
        VmPeak:\t  612345 kB\nVmSize:\t  600000 kB\nVmHWM:\t   45312 kB\nVmRSS:\t   40000 kB\n";

    #[test]
    fn reads_the_high_water_mark_in_bytes() {
        assert_eq!(parse_vm_hwm(STATUS), Some(45_312 * 1024));
    }

    #[test]
    fn a_missing_or_malformed_high_water_mark_is_none() {
        assert_eq!(parse_vm_hwm("Name:\tx\nVmRSS:\t 1 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t lots kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t 12 MB\n"), None);
        // Not confused by a line that merely contains the name.
        assert_eq!(parse_vm_hwm("XVmHWM:\t 12 kB\n"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(peak_rss(std::process::id()).is_some_and(|bytes| bytes > 0));
    }

    #[test]
    fn reads_cpu_times_after_odd_command_names() {
        let stat = "4242 (tokio (rt) w) S 17 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 50 7 3 20 0 9 0 12345 600000 10000";
        assert_eq!(
            parse_stat(stat),
            Some(CpuTicks {
                ppid: 17,
                own: 300,
                reaped_children: 10,
            })
        );
        assert_eq!(parse_stat("4242 (x) S 17"), None);
        assert!(cpu_seconds(std::process::id()).is_some());
        assert!(tree_cpu_seconds(std::process::id()).is_some());
    }

    #[test]
    fn reads_cpu_model_and_memory() {
        assert_eq!(
            parse_cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n").as_deref(),
            Some("AMD EPYC 7B13")
        );
        assert_eq!(
            parse_mem_total("MemTotal:       24576000 kB\n"),
            Some(24_576_000 * 1024)
        );
    }
}
