//! Password hashing: the [`PasswordHasher`] trait and the Argon2id worker pool behind it.
//!
//! Argon2id is deliberately slow and memory-hard, so it never runs on the async executor: a fixed
//! number of OS threads ([`HasherConfig::workers`]) each own one Argon2 memory area, allocated
//! once and reused for every hash (`Argon2::hash_password_into_with_memory`). Requests wait in a
//! bounded queue ([`HasherConfig::queue`]); when it is full the caller gets [`HashError::Busy`]
//! at once (the web layer answers 503 with `Retry-After`). Peak hashing memory is therefore
//! `workers × memory_kib`, whatever the login storm.
//!
//! Verification also reads the hashes of other software (Werkzeug's `pbkdf2:`/`scrypt:`/legacy
//! HMAC, bcrypt; see [`foreign_hash`]) on the same workers, and reports each
//! match as needing a rehash so the caller upgrades it to Argon2id. A foreign scrypt hash may
//! need up to [`MAX_SCRYPT_MEMORY_BYTES`](crate::foreign_hash::MAX_SCRYPT_MEMORY_BYTES) of
//! temporary memory (Werkzeug's default: 32 MiB), an Argon2 hash at other parameters up to
//! 1 GiB; both only while that verification runs.

use crate::foreign_hash::{self, Parsed, UnsupportedHashFormat};
use crate::observe::{NoObserver, Observer};
use crate::password_policy::normalise_password;
use crate::secret::{PasswordHashString, SecretString};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

/// Length of the salt of every new hash, in bytes (the argon2 crate's recommendation).
const SALT_LEN: usize = 16;
/// Length of every new hash's output, in bytes.
const OUTPUT_LEN: usize = 32;
/// Stored hashes asking for more memory than this are refused rather than allocated.
pub(crate) const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;

/// Hashes passwords for storage and verifies them against stored hashes.
///
/// Implementations must run the expensive work off the async executor and bound it. The
/// [`Argon2Hasher`] is the one Wristband ships; another implementation only needs these three
/// methods.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password into a string for the user store.
    async fn hash(&self, password: &SecretString) -> Result<PasswordHashString, HashError>;

    /// Checks `password` against a stored hash.
    async fn verify(
        &self,
        password: &SecretString,
        stored: &PasswordHashString,
    ) -> Result<Verification, HashError>;

    /// Does the work of one failed [`verify`](Self::verify), for logins of unknown users, so
    /// that a missing account costs the same time as a wrong password.
    async fn verify_dummy(&self, password: &SecretString) -> Result<(), HashError>;
}

/// The outcome of a verification that could run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password does not match.
    Mismatch,
    /// The password matches.
    Match {
        /// The stored hash is not Argon2id at the current parameters: store a new one.
        needs_rehash: bool,
    },
}

/// Why a hash or verification could not run. A wrong password is not an error.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every worker is busy and the queue is full; try again shortly.
    #[error("password hashing is at capacity")]
    Busy,
    /// The stored hash is not in a format this hasher reads.
    #[error("the stored password hash is malformed or of an unsupported kind")]
    UnsupportedHash,
    /// The worker pool has stopped (the process is shutting down).
    #[error("the password hashing workers have stopped")]
    Stopped,
    /// Argon2 refused its inputs (e.g. invalid configured parameters).
    #[error("password hashing failed: {0}")]
    Argon2(String),
}

/// Argon2id cost parameters (`password.argon2.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's first Argon2id row: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Settings {
    fn params(&self) -> Result<Params, HashError> {
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| HashError::Argon2(e.to_string()))
    }
}

/// Size of the worker pool and its queue (`password.workers`, `password.queue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasherConfig {
    /// Argon2id parameters for new hashes.
    pub argon2: Argon2Settings,
    /// Hashing threads; each owns `memory_kib` of Argon2 memory.
    pub workers: usize,
    /// Requests allowed to wait for a worker before [`HashError::Busy`].
    pub queue: usize,
    /// How the hashing threads are scheduled against request handling
    /// (`password.worker_priority`).
    pub priority: WorkerPriority,
}

/// How the hashing threads are scheduled (`password.worker_priority`). Measured with
/// `cargo xtask bench` on one core (README, "Performance"): at `normal` or `low` a running
/// hash keeps the core for the scheduler's slice (about 3 ms) before a request's thread gets
/// it back, so the p99 of logged-in requests during a login storm rose 3–5 ×; at `idle` a
/// request preempts a hash at once and the p99 did not move, while logins with the core
/// otherwise free ran as fast as raw hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerPriority {
    /// Linux `SCHED_IDLE`: hashes use only CPU time request handling leaves. Under load that
    /// keeps every core busy with requests, logins wait (at most [`HASH_WAIT`], then 503).
    #[default]
    Idle,
    /// Nice 10: about a tenth of a contended core for hashing.
    Low,
    /// The same priority as request handling.
    Normal,
}

/// Longest a caller waits for a hashing thread to take its job and answer; past it the caller
/// gets [`HashError::Busy`] (503 with `Retry-After`) and the job is dropped unhashed, so a
/// login never hangs behind a starved pool.
pub const HASH_WAIT: Duration = Duration::from_secs(10);

impl Default for HasherConfig {
    fn default() -> Self {
        Self {
            argon2: Argon2Settings::default(),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue: 256,
            priority: WorkerPriority::Idle,
        }
    }
}

/// Gives the calling thread `priority`. Failing to is logged, not fatal: hashing still works,
/// only at request handling's priority.
fn apply_priority(priority: WorkerPriority) {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    let result = match priority {
        WorkerPriority::Normal => return,
        WorkerPriority::Idle => set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        )
        .map_err(|error| format!("{error:?}")),
        WorkerPriority::Low => {
            #[cfg(target_os = "linux")]
            let lowered =
                rustix::process::setpriority_process(Some(rustix::thread::gettid()), LOW_NICE)
                    .map_err(|error| error.to_string());
            #[cfg(not(target_os = "linux"))]
            let lowered = Err("per-thread nice values are Linux's".to_owned());
            lowered
        }
    };
    if let Err(error) = result {
        tracing::warn!(%error, ?priority, "cannot lower the hashing thread's priority");
    }
}

/// The nice value of [`WorkerPriority::Low`].
const LOW_NICE: i32 = 10;

/// Counters a test or a metrics endpoint can read.
#[derive(Debug, Default)]
pub struct HasherStats {
    hashes: AtomicU64,
    verifications: AtomicU64,
    dummy_verifications: AtomicU64,
    rejected_busy: AtomicU64,
    queued: AtomicU64,
}

impl HasherStats {
    /// New hashes computed.
    pub fn hashes(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }
    /// Verifications against stored hashes.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
    /// Verifications against the dummy hash (logins of unknown users).
    pub fn dummy_verifications(&self) -> u64 {
        self.dummy_verifications.load(Ordering::Relaxed)
    }
    /// Requests refused because the queue was full.
    pub fn rejected_busy(&self) -> u64 {
        self.rejected_busy.load(Ordering::Relaxed)
    }
    /// Jobs waiting in the queue now, not yet taken by a worker.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
}

enum Job {
    Hash {
        password: SecretString,
        reply: oneshot::Sender<Result<PasswordHashString, HashError>>,
    },
    Verify {
        /// As received, not normalised: foreign hashes were made from the password as typed.
        password: SecretString,
        stored: PasswordHashString,
        reply: oneshot::Sender<Result<Verification, HashError>>,
    },
    Wrap {
        stored: PasswordHashString,
        reply: oneshot::Sender<Result<PasswordHashString, HashError>>,
    },
}

impl Job {
    /// Nobody waits for the answer any more.
    fn abandoned(&self) -> bool {
        match self {
            Job::Hash { reply, .. } | Job::Wrap { reply, .. } => reply.is_closed(),
            Job::Verify { reply, .. } => reply.is_closed(),
        }
    }
}

/// Argon2id on a bounded pool of worker threads. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Argon2Hasher {
    /// Each job with the moment it was queued.
    queue: SyncSender<(Instant, Job)>,
    stats: Arc<HasherStats>,
    /// Same parameters as new hashes, random salt and output: verifying against it costs exactly
    /// what a real mismatch costs.
    dummy: PasswordHashString,
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher").finish_non_exhaustive()
    }
}

impl Argon2Hasher {
    /// Starts the worker threads. Fails on invalid parameters or if a thread cannot start.
    pub fn start(config: HasherConfig) -> Result<Self, HashError> {
        Self::start_observed(config, Arc::new(NoObserver))
    }

    /// [`start`](Self::start), telling `observer` how long each job waited in the queue
    /// ([`Observer::hash_waited`], called on the hashing thread).
    pub fn start_observed(
        config: HasherConfig,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, HashError> {
        let params = config.argon2.params()?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(config.queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let stats = Arc::new(HasherStats::default());
        for index in 0..config.workers.max(1) {
            let receiver = Arc::clone(&receiver);
            let params = params.clone();
            let stats = Arc::clone(&stats);
            let observer = Arc::clone(&observer);
            std::thread::Builder::new()
                .name(format!("wristband-hash-{index}"))
                .spawn(move || {
                    apply_priority(config.priority);
                    worker_loop(&receiver, &params, &stats, observer.as_ref());
                })
                .map_err(|e| HashError::Argon2(format!("cannot start a hashing thread: {e}")))?;
        }
        let dummy = phc_string(
            &params,
            &random_bytes::<SALT_LEN>(),
            &random_bytes::<OUTPUT_LEN>(),
        )?;
        Ok(Self {
            queue: sender,
            stats,
            dummy,
        })
    }

    /// The hash unknown users are checked against: Argon2id at the current parameters.
    pub(crate) fn dummy_hash(&self) -> &PasswordHashString {
        &self.dummy
    }

    /// Counters of work done, for tests and metrics.
    pub fn stats(&self) -> &HasherStats {
        &self.stats
    }

    /// `stored` wrapped in Argon2id at the current parameters when it is a foreign hash (see
    /// [`foreign_hash`]); an Argon2 or already wrapped hash comes back as it is. No password is
    /// needed: the wrapper is Argon2id over the foreign hash's output.
    pub async fn wrap(&self, stored: &PasswordHashString) -> Result<PasswordHashString, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Wrap {
            stored: stored.clone(),
            reply,
        })?;
        wait_for(answer).await
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        // (The answer is awaited with `wait_for`.) Counted as queued before it is sent, so a
        // worker that takes it at once never counts below zero.
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        self.queue.try_send((Instant::now(), job)).map_err(|e| {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            match e {
                TrySendError::Full(_) => {
                    self.stats.rejected_busy.fetch_add(1, Ordering::Relaxed);
                    HashError::Busy
                }
                TrySendError::Disconnected(_) => HashError::Stopped,
            }
        })
    }

    async fn verify_inner(
        &self,
        password: &SecretString,
        stored: &PasswordHashString,
    ) -> Result<Verification, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password: password.clone(),
            stored: stored.clone(),
            reply,
        })?;
        wait_for(answer).await
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &SecretString) -> Result<PasswordHashString, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash {
            password: normalise_password(password),
            reply,
        })?;
        wait_for(answer).await
    }

    async fn verify(
        &self,
        password: &SecretString,
        stored: &PasswordHashString,
    ) -> Result<Verification, HashError> {
        let verification = self.verify_inner(password, stored).await;
        self.stats.verifications.fetch_add(1, Ordering::Relaxed);
        verification
    }

    async fn verify_dummy(&self, password: &SecretString) -> Result<(), HashError> {
        let dummy = self.dummy.clone();
        self.verify_inner(password, &dummy).await?;
        self.stats
            .dummy_verifications
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The answer to a submitted job, within [`HASH_WAIT`]; dropping `answer` on time-out tells the
/// worker to skip the job.
async fn wait_for<T>(answer: oneshot::Receiver<Result<T, HashError>>) -> Result<T, HashError> {
    match tokio::time::timeout(HASH_WAIT, answer).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(HashError::Stopped),
        Err(_) => Err(HashError::Busy),
    }
}

fn worker_loop(
    receiver: &Mutex<Receiver<(Instant, Job)>>,
    params: &Params,
    stats: &HasherStats,
    observer: &dyn Observer,
) {
    // Allocated once per worker and reused: this is what bounds memory under a login storm.
    let mut memory = vec![Block::default(); params.block_count()];
    loop {
        let job = {
            let Ok(receiver) = receiver.lock() else {
                return;
            };
            match receiver.recv() {
                Ok(job) => job,
                // Every sender is gone: the hasher was dropped.
                Err(_) => return,
            }
        };
        let (queued_at, job) = job;
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        observer.hash_waited(queued_at.elapsed());
        if job.abandoned() {
            // The caller stopped waiting (its client left, or `HASH_WAIT` passed).
            continue;
        }
        match job {
            Job::Hash { password, reply } => {
                let result = hash_new(password.expose().as_bytes(), params, &mut memory);
                if result.is_ok() {
                    stats.hashes.fetch_add(1, Ordering::Relaxed);
                }
                // The caller may have given up (client gone); nothing to do then.
                let _ = reply.send(result);
            }
            Job::Verify {
                password,
                stored,
                reply,
            } => {
                let result = verify_stored(&password, &stored, params, &mut memory);
                let _ = reply.send(result);
            }
            Job::Wrap { stored, reply } => {
                let _ = reply.send(wrap_stored(&stored, params, &mut memory));
            }
        }
    }
}

fn hash_new(
    password: &[u8],
    params: &Params,
    memory: &mut [Block],
) -> Result<PasswordHashString, HashError> {
    let salt = random_bytes::<SALT_LEN>();
    let mut output = [0u8; OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut output, &mut *memory)
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    phc_string(params, &salt, &output)
}

fn phc_string(
    params: &Params,
    salt: &[u8],
    output: &[u8],
) -> Result<PasswordHashString, HashError> {
    let to_err = |e: argon2::password_hash::phc::Error| HashError::Argon2(e.to_string());
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| HashError::Argon2(e.to_string()))?,
        salt: Some(Salt::new(salt).map_err(to_err)?),
        hash: Some(Output::new(output).map_err(to_err)?),
    };
    Ok(PasswordHashString::new(phc.to_string()))
}

/// Verifies `password` (as received) against a stored hash of any supported format.
///
/// Argon2 hashes are Wristband's own and were made from the NFKC form. Foreign hashes were made
/// from the password as typed: they are tried with it first and, only if that fails and the NFKC
/// form differs, with the NFKC form; a match always needs a rehash.
fn verify_stored(
    password: &SecretString,
    stored: &PasswordHashString,
    current: &Params,
    memory: &mut [Block],
) -> Result<Verification, HashError> {
    let parsed = foreign_hash::parse(stored.expose()).map_err(|_| HashError::UnsupportedHash)?;
    let normalised = normalise_password(password);
    match parsed {
        Parsed::Argon2(phc) => verify_phc(normalised.expose().as_bytes(), &phc, current, memory),
        Parsed::Foreign(foreign) => {
            let raw = password.expose();
            let matched = foreign.matches(raw.as_bytes())?
                || (normalised.expose() != raw
                    && foreign.matches(normalised.expose().as_bytes())?);
            Ok(if matched {
                Verification::Match { needs_rehash: true }
            } else {
                Verification::Mismatch
            })
        }
        Parsed::Wrapped { foreign, outer } => {
            // The foreign derivation first, then Argon2 over its output; as for a bare foreign
            // hash, the password as typed first, then its NFKC form.
            let raw = password.expose();
            let mut candidates = vec![raw];
            if normalised.expose() != raw {
                candidates.push(normalised.expose());
            }
            for candidate in candidates {
                let output = foreign.derive(candidate.as_bytes())?;
                if let Verification::Match { .. } = verify_phc(&output, &outer, current, memory)? {
                    return Ok(Verification::Match { needs_rehash: true });
                }
            }
            Ok(Verification::Mismatch)
        }
    }
}

/// A foreign hash wrapped in Argon2id at the current parameters: `wrapped:<stub>|<phc>`, the
/// stub being the foreign hash without its output, the PHC Argon2id over that output. Already
/// wrapped and Argon2 hashes are returned as they are.
fn wrap_stored(
    stored: &PasswordHashString,
    params: &Params,
    memory: &mut [Block],
) -> Result<PasswordHashString, HashError> {
    let text = stored.expose();
    match foreign_hash::parse(text).map_err(|_| HashError::UnsupportedHash)? {
        Parsed::Foreign(foreign) => {
            let outer = hash_new(foreign.expected(), params, memory)?;
            Ok(PasswordHashString::new(format!(
                "{}{}|{}",
                foreign_hash::WRAPPED_PREFIX,
                foreign.stub(text),
                outer.expose()
            )))
        }
        Parsed::Argon2(_) | Parsed::Wrapped { .. } => Ok(stored.clone()),
    }
}

/// An Argon2 PHC string, parsed and within the cost limits.
pub(crate) struct Phc {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Salt,
    expected: Output,
}

impl Phc {
    /// Memory, KiB.
    pub(crate) fn memory_kib(&self) -> u32 {
        self.params.m_cost()
    }

    /// Passes.
    pub(crate) fn iterations(&self) -> u32 {
        self.params.t_cost()
    }
}

/// Parses an Argon2 PHC string (any variant and parameters) and checks its cost, without hashing.
pub(crate) fn parse_phc(stored: &str) -> Result<Phc, UnsupportedHashFormat> {
    const MALFORMED: UnsupportedHashFormat = UnsupportedHashFormat::Argon2Malformed;
    let phc = PasswordHash::new(stored).map_err(|_| MALFORMED)?;
    let algorithm = Algorithm::try_from(phc.algorithm.as_str())
        .map_err(|_| UnsupportedHashFormat::PhcAlgorithm)?;
    let version = match phc.version {
        Some(v) => Version::try_from(v).map_err(|_| MALFORMED)?,
        None => Version::V0x10,
    };
    let params = Params::try_from(&phc).map_err(|_| MALFORMED)?;
    foreign_hash::check_argon2_cost(params.m_cost(), params.t_cost())?;
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Err(UnsupportedHashFormat::Argon2Malformed);
    };
    Ok(Phc {
        algorithm,
        version,
        params,
        salt,
        expected,
    })
}

/// Verifies a parsed Argon2 hash in the worker's memory, growing into a temporary allocation only
/// for a stored hash that needs more than the configured size.
fn verify_phc(
    password: &[u8],
    phc: &Phc,
    current: &Params,
    memory: &mut [Block],
) -> Result<Verification, HashError> {
    let Phc {
        algorithm,
        version,
        params,
        salt,
        expected,
    } = phc;
    let mut output = vec![0u8; expected.len()];
    let argon2 = Argon2::new(*algorithm, *version, params.clone());
    let hashed = if params.block_count() <= memory.len() {
        argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut output, &mut *memory)
    } else {
        let mut larger = vec![Block::default(); params.block_count()];
        argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut output, &mut larger)
    };
    hashed.map_err(|_| HashError::UnsupportedHash)?;
    if !bool::from(output.as_slice().ct_eq(expected.as_bytes())) {
        return Ok(Verification::Mismatch);
    }
    let needs_rehash = *algorithm != Algorithm::Argon2id
        || *version != Version::V0x13
        || params.m_cost() != current.m_cost()
        || params.t_cost() != current.t_cost()
        || params.p_cost() != current.p_cost()
        || expected.len() != OUTPUT_LEN;
    Ok(Verification::Match { needs_rehash })
}

/// Random bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Err(error) = getrandom::fill(&mut bytes) {
        // The OS CSPRNG failing is unrecoverable and must not degrade into weak randomness.
        panic!("the operating system's random number generator failed: {error}");
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(workers: usize, queue: usize) -> Argon2Hasher {
        Argon2Hasher::start(HasherConfig {
            argon2: Argon2Settings {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            workers,
            queue,
            ..HasherConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = small(1, 4);
        let password = SecretString::new("correct horse battery staple");
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.expose().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(
            hasher.verify(&password, &hash).await.unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher
                .verify(&SecretString::new("wrong horse battery staple"), &hash)
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    /// The scheduling policies of this process's hashing threads (`/proc`, stat field 41; the
    /// kernel keeps 15 bytes of a thread's name).
    #[cfg(target_os = "linux")]
    fn hashing_thread_policies() -> Vec<u32> {
        let mut policies = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.starts_with("wristband-hash") {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap();
                let after_name = stat.rsplit_once(')').unwrap().1;
                policies.push(
                    after_name
                        .split_whitespace()
                        .nth(38)
                        .unwrap()
                        .parse()
                        .unwrap(),
                );
            }
        }
        policies
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_idle_priority_by_default() {
        let hasher = small(1, 4);
        // A job done means the worker has set its policy.
        hasher
            .hash(&SecretString::new("correct horse battery"))
            .await
            .unwrap();
        const SCHED_IDLE: u32 = 5;
        assert_eq!(hashing_thread_policies(), [SCHED_IDLE]);
    }

    #[tokio::test]
    async fn hashes_at_other_parameters_need_rehash() {
        let old = small(1, 4);
        let password = SecretString::new("correct horse battery staple");
        let hash = old.hash(&password).await.unwrap();
        let new = Argon2Hasher::start(HasherConfig {
            argon2: Argon2Settings {
                memory_kib: 128,
                iterations: 1,
                parallelism: 1,
            },
            workers: 1,
            queue: 4,
            ..HasherConfig::default()
        })
        .unwrap();
        assert_eq!(
            new.verify(&password, &hash).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn nfkc_forms_of_one_password_verify() {
        let hasher = small(1, 4);
        let hash = hasher
            .hash(&SecretString::new("ｐａｓｓｐｈｒａｓｅ ｏｎｅ"))
            .await
            .unwrap();
        assert!(matches!(
            hasher
                .verify(&SecretString::new("passphrase one"), &hash)
                .await
                .unwrap(),
            Verification::Match { .. }
        ));
    }

    #[tokio::test]
    async fn foreign_hashes_try_the_password_as_typed_then_its_nfkc_form() {
        let hasher = small(1, 4);
        let typed = SecretString::new("ｐａｓｓ ｗｏｒｄ");
        // Python: hmac.new(b"salt", "ｐａｓｓ ｗｏｒｄ".encode(), hashlib.sha256).hexdigest()
        let of_typed = PasswordHashString::new(
            "sha256$salt$2822e9d8b5ad17dff1c7a0baa29cae7e4a70719933ae0b1c85a62f526a1d2617",
        );
        // The same of its NFKC form, "pass word".
        let of_nfkc = PasswordHashString::new(
            "sha256$salt$1c66ad9cfb76c0bcc37b8bf321792c515d550c04d61cef83e075e0142afce468",
        );
        let matched = Verification::Match { needs_rehash: true };
        assert_eq!(hasher.verify(&typed, &of_typed).await.unwrap(), matched);
        assert_eq!(hasher.verify(&typed, &of_nfkc).await.unwrap(), matched);
        let nfkc = SecretString::new("pass word");
        assert_eq!(hasher.verify(&nfkc, &of_nfkc).await.unwrap(), matched);
        // The NFKC form is not a way into a hash of the fullwidth spelling.
        assert_eq!(
            hasher.verify(&nfkc, &of_typed).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(hasher.stats().verifications(), 4);
    }

    #[tokio::test]
    async fn malformed_foreign_hashes_are_errors_not_panics() {
        let hasher = small(1, 4);
        for stored in [
            "",
            "plain$$x",
            "sha1$$",
            "pbkdf2:sha256$salt$00",
            "pbkdf2:sha256:99999999999$salt$00",
            "scrypt:1048576:8:1$salt$00",
            "$2b$31$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
            "$2x$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        ] {
            let result = hasher
                .verify(&SecretString::new("x"), &PasswordHashString::new(stored))
                .await;
            assert!(
                matches!(result, Err(HashError::UnsupportedHash)),
                "{stored:?}"
            );
        }
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_panic() {
        let hasher = small(1, 4);
        let err = hasher
            .verify(
                &SecretString::new("x"),
                &PasswordHashString::new("$argon2id$garbage"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, HashError::UnsupportedHash));
    }

    #[tokio::test]
    async fn dummy_verification_counts() {
        let hasher = small(1, 4);
        hasher
            .verify_dummy(&SecretString::new("anything at all"))
            .await
            .unwrap();
        assert_eq!(hasher.stats().dummy_verifications(), 1);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_instead_of_piling_up() {
        // One worker, a queue of one, and slow hashes: of many concurrent requests, some must be
        // refused with Busy rather than all waiting.
        let hasher = Argon2Hasher::start(HasherConfig {
            argon2: Argon2Settings {
                memory_kib: 8 * 1024,
                iterations: 3,
                parallelism: 1,
            },
            workers: 1,
            queue: 1,
            ..HasherConfig::default()
        })
        .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let hasher = hasher.clone();
            tasks.push(tokio::spawn(async move {
                hasher
                    .hash(&SecretString::new("correct horse battery"))
                    .await
            }));
        }
        let mut busy = 0;
        for task in tasks {
            if matches!(task.await.unwrap(), Err(HashError::Busy)) {
                busy += 1;
            }
        }
        assert!(busy > 0);
        assert_eq!(hasher.stats().rejected_busy(), busy);
        assert_eq!(hasher.stats().queued(), 0, "every job was taken or refused");
    }

    #[tokio::test]
    async fn the_queue_depth_and_each_wait_are_reported() {
        #[derive(Default)]
        struct Waits(Mutex<Vec<Duration>>);
        impl Observer for Waits {
            fn hash_waited(&self, waited: Duration) {
                self.0.lock().unwrap().push(waited);
            }
        }
        let waits = Arc::new(Waits::default());
        let hasher = Argon2Hasher::start_observed(
            HasherConfig {
                argon2: Argon2Settings {
                    memory_kib: 8 * 1024,
                    iterations: 3,
                    parallelism: 1,
                },
                workers: 1,
                queue: 8,
                ..HasherConfig::default()
            },
            waits.clone(),
        )
        .unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(&SecretString::new("correct horse")).await })
            })
            .collect();
        // One worker: while it hashes the first, the others wait in the queue.
        let mut deepest = 0;
        for _ in 0..200 {
            deepest = deepest.max(hasher.stats().queued());
            if deepest >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert!(deepest >= 2, "queue depth seen: {deepest}");
        assert_eq!(hasher.stats().queued(), 0);
        let waits = waits.0.lock().unwrap();
        assert_eq!(waits.len(), 4);
        assert!(waits.iter().any(|w| *w > Duration::ZERO));
    }
}
