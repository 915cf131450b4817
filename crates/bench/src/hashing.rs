//! The raw Argon2id baseline: how many hashes per second this machine does at the server's
//! parameters, with as many threads as the server has hashing workers, each reusing its own
//! memory as the server's workers do.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::machine;

/// Argon2id parameters (`password.argon2.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Argon2Params {
    /// `memory_kib`.
    pub memory_kib: u32,
    /// `iterations`.
    pub iterations: u32,
    /// `parallelism`.
    pub parallelism: u32,
}

/// The raw hashing rate.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HashRate {
    /// Threads hashing at once.
    pub threads: usize,
    /// Hashes finished within the measurement.
    pub hashes: u64,
    /// Length of the measurement, in seconds.
    pub seconds: f64,
    /// `hashes` per second.
    pub per_second: f64,
    /// CPU time this process used meanwhile (the hashing threads; nothing else runs), in
    /// seconds; `None` when `/proc` cannot tell.
    pub cpu_seconds: Option<f64>,
    /// `cpu_seconds` per hash, in milliseconds.
    pub cpu_ms_per_hash: Option<f64>,
}

/// The server's salt and output lengths (`auth-core`'s hasher), so the work is the same.
const SALT: [u8; 16] = *b"wristband-bench!";
const OUTPUT_LEN: usize = 32;

/// Hashes on `threads` threads for `duration`; a hash counts when it finishes in time.
/// Each thread calls `on_start` first (to move to the server's core).
pub fn measure(
    params: Argon2Params,
    threads: usize,
    duration: Duration,
    on_start: impl Fn() + Sync,
) -> Result<HashRate> {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(OUTPUT_LEN),
    )
    .map_err(|error| Error::new(format!("invalid Argon2 parameters: {error}")))?;
    let threads = threads.max(1);
    let cpu_before = machine::cpu_seconds(std::process::id());
    let start = Instant::now();
    let deadline = start + duration;
    let failed = AtomicBool::new(false);
    let hashes: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    on_start();
                    hash_until(&params, deadline, &failed)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    failed.store(true, Ordering::Relaxed);
                    0
                })
            })
            .sum()
    });
    if failed.load(Ordering::Relaxed) {
        return Err(Error::new("Argon2 hashing failed"));
    }
    let cpu_seconds = machine::cpu_seconds(std::process::id())
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let seconds = duration.as_secs_f64();
    Ok(HashRate {
        threads,
        hashes,
        seconds,
        per_second: hashes as f64 / seconds,
        cpu_seconds,
        cpu_ms_per_hash: cpu_seconds
            .filter(|_| hashes > 0)
            .map(|cpu| cpu * 1000.0 / hashes as f64),
    })
}

fn hash_until(params: &Params, deadline: Instant, failed: &AtomicBool) -> u64 {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut memory = vec![Block::default(); params.block_count()];
    let mut output = [0u8; OUTPUT_LEN];
    let mut count = 0;
    while Instant::now() < deadline {
        let password = format!("correct horse battery staple {count}");
        if argon2
            .hash_password_into_with_memory(password.as_bytes(), &SALT, &mut output, &mut *memory)
            .is_err()
        {
            failed.store(true, Ordering::Relaxed);
            return count;
        }
        if Instant::now() <= deadline {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_small_hashes() {
        let params = Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let rate = measure(params, 2, Duration::from_millis(50), || {}).unwrap();
        assert_eq!(rate.threads, 2);
        assert!(rate.hashes > 0);
        assert!(rate.per_second > 0.0);
    }

    #[test]
    fn refuses_invalid_parameters() {
        let params = Argon2Params {
            memory_kib: 1,
            iterations: 0,
            parallelism: 1,
        };
        assert!(measure(params, 1, Duration::from_millis(10), || {}).is_err());
    }
}
