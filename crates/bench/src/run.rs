//! The benchmark run: options, the bare baseline server, one leg per store and session mode.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use hyper::StatusCode;
use serde::Serialize;
use tokio::process::Command;
use tokio::time::Instant;

use crate::error::{Context, Error, Result};
use crate::hashing::{self, Argon2Params, HashRate};
use crate::http::RequestTemplate;
use crate::load::{self, LoadOutcome};
use crate::machine::{self, CpuMeter, Machine};
use crate::pin::Pinning;
use crate::postgres::Postgres;
use crate::server::{Server, free_loopback_addr};
use crate::setup;

/// `wristband-bench`: drives the release `wristband` server and a bare axum server with the
/// same load generator over 127.0.0.1, and reports Wristband's numbers as ratios to the
/// baselines measured in the same run.
#[derive(Debug, Clone, Parser)]
#[command(name = "wristband-bench", version, about, args_override_self = true)]
pub struct Options {
    /// The `wristband` binary (a release build). Default: next to this program.
    #[arg(long, value_name = "PATH")]
    pub wristband: Option<PathBuf>,

    /// The `bench-bare` binary. Default: next to this program.
    #[arg(long, value_name = "PATH")]
    pub bare: Option<PathBuf>,

    /// Connections sending authenticated `GET /dashboard` (and `GET /` to the bare server).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub connections: usize,

    /// Connections of the login storm (`POST /login` in a loop, each as its own user).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub storm_connections: usize,

    /// Length of each measured phase (nine per leg), e.g. `5s`, `1500ms`.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub duration: Duration,

    /// Stores to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values = ["sqlite", "postgres"], value_name = "STORES")]
    pub stores: Vec<Store>,

    /// Session modes to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values = ["database", "cookie"], value_name = "MODES")]
    pub sessions: Vec<SessionMode>,

    /// An existing PostgreSQL (its user needs CREATEDB) instead of a throw-away cluster; a
    /// database is created per leg and dropped at the end.
    #[arg(long, value_name = "URL")]
    pub postgres_url: Option<String>,

    /// `password.workers` for the server, and the threads of the raw Argon2id baseline.
    /// Default: the server's CPUs (1 when pinned; the server's own default).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// `password.worker_priority` for the server: idle, low or normal.
    #[arg(long, default_value = "idle", value_name = "PRIORITY")]
    pub worker_priority: String,

    /// Stored sessions of the last phase, against 1,000 in the one before.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub many_sessions: u64,

    /// Do not pin the servers and the load generator to cores of their own.
    #[arg(long)]
    pub no_pin: bool,

    /// A smoke run (CI): every phase for 300 ms and 20,000 stored sessions instead of a
    /// million. Proves the benchmark works; its figures mean nothing.
    #[arg(long)]
    pub quick: bool,

    /// `password.argon2.memory_kib`.
    #[arg(long, default_value_t = 19_456, value_name = "KIB")]
    pub memory_kib: u32,

    /// `password.argon2.iterations`.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub iterations: u32,

    /// `password.argon2.parallelism`.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub parallelism: u32,

    /// Where to write the raw numbers as JSON. Default: `bench/results.json` in the target
    /// folder this program was built in.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// A store backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    /// A new SQLite file per leg.
    Sqlite,
    /// A new PostgreSQL database per leg.
    Postgres,
}

/// Where sessions live (`session.store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// Server-side sessions: the cookie holds a token.
    Database,
    /// The cookie holds the signed session.
    Cookie,
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Store::Sqlite => "sqlite",
            Store::Postgres => "postgres",
        })
    }
}

impl fmt::Display for SessionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionMode::Database => "database",
            SessionMode::Cookie => "cookie",
        })
    }
}

/// Everything the run measured; printed as tables and written as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the run started, in seconds since the Unix epoch.
    pub started_unix_seconds: u64,
    /// The machine.
    pub machine: Machine,
    /// How the run was set up.
    pub settings: Settings,
    /// One entry per store and session mode.
    pub legs: Vec<Leg>,
    /// The bare server's peak RSS over the whole run, in bytes.
    pub bare_peak_rss_bytes: Option<u64>,
}

/// How the run was set up.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Connections of the `GET` load.
    pub connections: usize,
    /// Connections of the login storm.
    pub storm_connections: usize,
    /// Length of each phase, in seconds.
    pub phase_seconds: f64,
    /// Argon2id parameters of the server and the raw baseline.
    pub argon2: Argon2Params,
    /// `password.workers`, and the raw baseline's threads.
    pub workers: usize,
    /// The contract's bound on the server's peak memory: 64 MiB + 2 × CPUs × `memory_kib`,
    /// CPUs being the server's (1 when pinned).
    pub rss_bound_bytes: u64,
    /// The bare server's page size, in bytes.
    pub bare_page_bytes: usize,
    /// The PostgreSQL used, when a postgres leg ran.
    pub postgres: Option<String>,
    /// Where the servers and the load generator ran.
    pub pinning: Pinning,
    /// `password.worker_priority`.
    pub worker_priority: String,
    /// Stored sessions in the "few" and "many" phases (at least; storm logins add some).
    pub stored_sessions: (u64, u64),
    /// A `--quick` smoke run: the figures mean nothing.
    pub quick: bool,
    /// The server binary.
    pub wristband: PathBuf,
}

/// One store and session mode.
#[derive(Debug, Clone, Serialize)]
pub struct Leg {
    /// The store.
    pub store: Store,
    /// The session mode.
    pub sessions: SessionMode,
    /// The dashboard page's size, in bytes.
    pub dashboard_bytes: usize,
    /// Phase 1: `GET /` on the bare server, just before phase 2…
    pub bare_before: LoadOutcome,
    /// Phase 2: authenticated `GET /dashboard` alone.
    pub dashboard: LoadOutcome,
    /// …phase 3: `GET /` on the bare server again, just after.
    pub bare_after: LoadOutcome,
    /// The bare server's requests per second: the mean of phases 1 and 3, which bracket
    /// phase 2 so that a machine getting busier or quieter meanwhile evens out.
    pub bare_per_second: f64,
    /// Phase 4: authenticated `GET /dashboard` while the login storm runs…
    pub dashboard_during_storm: LoadOutcome,
    /// …and the login storm's side of phase 4.
    pub logins_during_load: LoadOutcome,
    /// Phase 5: raw Argon2id hashes in this process (the server idle), just before phase 6…
    pub raw_hashes_before: HashRate,
    /// Phase 6: the login storm alone.
    pub logins: LoadOutcome,
    /// …phase 7: raw Argon2id hashes again, just after.
    pub raw_hashes_after: HashRate,
    /// Raw hashes per second: the mean of phases 5 and 7, which bracket phase 6.
    pub raw_hashes_per_second: f64,
    /// Phase 8: authenticated `GET /dashboard` with about 1,000 sessions stored…
    pub dashboard_few_stored: LoadOutcome,
    /// …phase 9: the same with about 1,000,000 stored.
    pub dashboard_many_stored: LoadOutcome,
    /// Sessions stored in phases 8 and 9.
    pub stored_sessions: (u64, u64),
    /// The cost of a request with many sessions stored over its cost with few
    /// (`dashboard_few_stored.per_second / dashboard_many_stored.per_second`; goal ≤ 1.5).
    pub stored_sessions_cost_ratio: f64,
    /// `dashboard_during_storm` p99 over `dashboard` p99 (goal ≤ 3).
    pub storm_p99_ratio: f64,
    /// `dashboard.per_second / bare_per_second`.
    pub dashboard_ratio: f64,
    /// `logins.per_second / raw_hashes_per_second`.
    pub login_ratio: f64,
    /// CPU time per request: Wristband's (with its PostgreSQL's, when a throw-away cluster)
    /// for `GET /dashboard` over the bare server's for `GET /` (phases 1 and 3 pooled). Less
    /// sensitive than `dashboard_ratio` to other work on the machine; `None` when `/proc`
    /// cannot tell.
    pub dashboard_cpu_ratio: Option<f64>,
    /// CPU time per login (server, and its PostgreSQL when a throw-away cluster) over CPU
    /// time per raw hash (phases 5 and 7 pooled): 1 + the cost of a login beyond its hash.
    pub login_cpu_ratio: Option<f64>,
    /// The server's peak RSS (`VmHWM`) over the leg, in bytes.
    pub peak_rss_bytes: Option<u64>,
}

/// The resolved plan of a run.
struct Plan {
    wristband: PathBuf,
    bare: PathBuf,
    connections: usize,
    storm_connections: usize,
    duration: Duration,
    legs: Vec<(Store, SessionMode)>,
    workers: usize,
    worker_priority: String,
    argon2: Argon2Params,
    many_sessions: u64,
    pinning: Pinning,
}

/// Stored sessions of phase 8.
const FEW_SESSIONS: u64 = 1_000;
/// Stored sessions of phase 9 in a `--quick` run.
const QUICK_MANY_SESSIONS: u64 = 20_000;
/// Phase length of a `--quick` run.
const QUICK_PHASE: Duration = Duration::from_millis(300);
/// The user the seeded sessions belong to (a storm user: never a dashboard one).
const SEEDED_USER: &str = "bench-storm-000";

/// A 64-hex-digit key for the throw-away servers (their databases die with the run).
const SECRET_KEY: &str = "62656e63682d6f6e6c792d6b65792d6e6f742d7365637265742d617420616c6c";
/// Set so that the login storm is never throttled, however the attempts interleave.
const GENEROUS_LIMIT: &str = "1000000000";

/// Runs the benchmark with the pinning already applied to this process; progress goes to
/// stderr.
pub async fn run(options: &Options, pinning: Pinning) -> Result<Report> {
    let plan = plan(options, pinning)?;
    eprintln!("==> pinning: {}", plan.pinning.note);
    let started_unix_seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut machine = Machine::now();
    // The machine's CPUs, not this (pinned) process's; the bound counts the server's.
    machine.cpus = plan.pinning.cpus;
    let cpus = plan.pinning.server_cpus() as u64;
    let rss_bound_bytes = 64 * 1024 * 1024 + 2 * cpus * u64::from(plan.argon2.memory_kib) * 1024;
    let work = tempfile::Builder::new()
        .prefix("wristband-bench-")
        .tempdir()
        .context("cannot create a temporary folder")?;

    let bare_addr = free_loopback_addr()?;
    let mut bare_command = plan.pinning.server_command(&plan.bare);
    bare_command
        .arg("--bind")
        .arg(bare_addr.to_string())
        .current_dir(work.path());
    let bare = Server::start(
        "bench-bare",
        bare_command,
        bare_addr,
        "/",
        work.path().join("bench-bare.log"),
    )
    .await?;

    let mut postgres = if plan.legs.iter().any(|(store, _)| *store == Store::Postgres) {
        let postgres = match &options.postgres_url {
            Some(url) => Postgres::existing(url.clone()),
            None => {
                let postgres = Postgres::throwaway().await?;
                if let Some(postmaster) = postgres.postmaster_pid() {
                    plan.pinning.move_tree_to_the_server_cpu(postmaster);
                }
                postgres
            }
        };
        eprintln!("==> PostgreSQL: {}", postgres.description);
        Some(postgres)
    } else {
        None
    };
    let postgres_description = postgres.as_ref().map(|pg| pg.description.clone());
    let postmaster = postgres.as_ref().and_then(Postgres::postmaster_pid);

    let mut legs = Vec::new();
    for &(store, sessions) in &plan.legs {
        eprintln!("\n==> leg {store} / {sessions}");
        let database_url = match store {
            Store::Sqlite => {
                let path = work.path().join(format!("{sessions}.db"));
                format!("sqlite://{}", path.display())
            }
            Store::Postgres => {
                let name = format!("wristband_bench_{}_{sessions}", std::process::id());
                match postgres.as_mut() {
                    Some(postgres) => postgres.create_database(&name).await?,
                    None => return Err(Error::new("no PostgreSQL for a postgres leg")),
                }
            }
        };
        let database_server = if store == Store::Postgres {
            postmaster
        } else {
            None
        };
        let leg = run_leg(
            &plan,
            (store, sessions),
            &database_url,
            database_server,
            &bare,
            work.path(),
        )
        .await?;
        eprintln!(
            "    GET /dashboard {:.0}/s = {:.3} × bare; logins {:.1}/s = {:.3} × raw Argon2id",
            leg.dashboard.per_second, leg.dashboard_ratio, leg.logins.per_second, leg.login_ratio
        );
        legs.push(leg);
    }

    let bare_peak_rss_bytes = bare.peak_rss();
    bare.stop().await?;
    if let Some(postgres) = postgres {
        postgres.finish().await?;
    }
    machine.load_average_at_end = machine::load_average();
    Ok(Report {
        started_unix_seconds,
        machine,
        settings: Settings {
            connections: plan.connections,
            storm_connections: plan.storm_connections,
            phase_seconds: plan.duration.as_secs_f64(),
            argon2: plan.argon2,
            workers: plan.workers,
            rss_bound_bytes,
            bare_page_bytes: crate::bare::PAGE.len(),
            postgres: postgres_description,
            pinning: plan.pinning.clone(),
            worker_priority: plan.worker_priority.clone(),
            stored_sessions: (FEW_SESSIONS, plan.many_sessions),
            quick: options.quick,
            wristband: plan.wristband,
        },
        legs,
        bare_peak_rss_bytes,
    })
}

/// The default path for `name`: next to this program (both are built into the same folder).
fn sibling(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this program's path")?;
    Ok(me.with_file_name(name))
}

/// Where the JSON goes by default: `TARGET/bench/results.json`, this program being
/// `TARGET/PROFILE/wristband-bench`.
pub fn default_out() -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this program's path")?;
    let target = me
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| Error::new("cannot find the target folder from this program's path"))?;
    Ok(target.join("bench").join("results.json"))
}

fn plan(options: &Options, pinning: Pinning) -> Result<Plan> {
    let wristband = match &options.wristband {
        Some(path) => path.clone(),
        None => sibling("wristband")?,
    };
    let bare = match &options.bare {
        Some(path) => path.clone(),
        None => sibling("bench-bare")?,
    };
    for (what, path) in [("wristband", &wristband), ("bench-bare", &bare)] {
        if !path.is_file() {
            return Err(Error::new(format!(
                "no {what} binary at {} (build it with `cargo build --release -p wristband -p bench`, \
                 or run `cargo xtask bench`)",
                path.display()
            )));
        }
    }
    if options.connections == 0 || options.storm_connections == 0 {
        return Err(Error::new(
            "--connections and --storm-connections must be at least 1",
        ));
    }
    if options.duration.is_zero() {
        return Err(Error::new("--duration must be longer than zero"));
    }
    let mut legs = Vec::new();
    for &store in &options.stores {
        for &sessions in &options.sessions {
            if !legs.contains(&(store, sessions)) {
                legs.push((store, sessions));
            }
        }
    }
    if !["idle", "low", "normal"].contains(&options.worker_priority.as_str()) {
        return Err(Error::new("--worker-priority must be idle, low or normal"));
    }
    Ok(Plan {
        wristband,
        bare,
        connections: options.connections,
        storm_connections: options.storm_connections,
        duration: if options.quick {
            QUICK_PHASE
        } else {
            options.duration
        },
        legs,
        workers: options
            .workers
            .unwrap_or_else(|| pinning.server_cpus())
            .max(1),
        worker_priority: options.worker_priority.clone(),
        many_sessions: if options.quick {
            options.many_sessions.min(QUICK_MANY_SESSIONS)
        } else {
            options.many_sessions
        }
        .max(FEW_SESSIONS),
        pinning,
        argon2: Argon2Params {
            memory_kib: options.memory_kib,
            iterations: options.iterations,
            parallelism: options.parallelism,
        },
    })
}

/// Starts the server for one leg, prepares it, runs the seven phases, and stops it.
///
/// `database_server` is the PostgreSQL postmaster whose processes' CPU time counts as the
/// server's, when known.
async fn run_leg(
    plan: &Plan,
    (store, sessions): (Store, SessionMode),
    database_url: &str,
    database_server: Option<u32>,
    bare: &Server,
    work: &Path,
) -> Result<Leg> {
    let addr = free_loopback_addr()?;
    let dir = work.join(format!("{store}-{sessions}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let command = wristband_command(plan, sessions, database_url, addr, &dir);
    let mut server = Server::start(
        &format!("wristband ({store}, {sessions} sessions)"),
        command,
        addr,
        "/healthz",
        dir.join("wristband.log"),
    )
    .await?;
    eprintln!("    started wristband on {addr} (pid {})", server.pid());

    let started = Instant::now();
    let prepared = setup::prepare(
        addr,
        plan.connections,
        plan.storm_connections,
        2 * plan.workers,
    )
    .await
    .map_err(|error| server.failure(&format!("could not be prepared: {error}")))?;
    eprintln!(
        "    registered {} users and logged them in ({:.1}s)",
        plan.connections + plan.storm_connections,
        started.elapsed().as_secs_f64()
    );

    let mut server_cpu = CpuMeter::process(server.pid());
    if let Some(postmaster) = database_server {
        server_cpu = server_cpu.and_tree(postmaster);
    }
    let bare_cpu = CpuMeter::process(bare.pid());

    let bare_page = vec![RequestTemplate::get(bare.addr(), "/")?; plan.connections];
    let bare_get = || {
        phase(
            "bare axum GET /",
            &bare_cpu,
            load::run(
                bare.addr(),
                bare_page.clone(),
                StatusCode::OK,
                plan.duration,
            ),
        )
    };
    let bare_before = bare_get().await?;
    let dashboard = phase(
        "GET /dashboard",
        &server_cpu,
        load::run(
            addr,
            prepared.dashboard.clone(),
            StatusCode::OK,
            plan.duration,
        ),
    )
    .await?;
    let bare_after = bare_get().await?;
    let bare_per_second = (bare_before.per_second + bare_after.per_second) / 2.0;
    let bare_cpu_ms_per_request = pooled_cpu_ms(&[
        (bare_before.server_cpu_seconds, bare_before.ok),
        (bare_after.server_cpu_seconds, bare_after.ok),
    ]);

    let (dashboard_during_storm, logins_during_load) = {
        let gets = load::prepare(addr, prepared.dashboard.clone(), StatusCode::OK).await?;
        let posts = load::prepare(addr, prepared.storm.clone(), StatusCode::SEE_OTHER).await?;
        let start = Instant::now();
        let (gets, posts) = tokio::join!(
            gets.run(start, plan.duration),
            posts.run(start, plan.duration)
        );
        let (gets, posts) = (gets?, posts?);
        report_phase("GET /dashboard during the login storm", &gets);
        report_phase("POST /login during the GET load", &posts);
        (gets, posts)
    };

    let raw_hashes_before = raw_hashes(plan).await?;
    let logins = phase(
        "POST /login alone",
        &server_cpu,
        load::run(
            addr,
            prepared.storm.clone(),
            StatusCode::SEE_OTHER,
            plan.duration,
        ),
    )
    .await?;
    let raw_hashes_after = raw_hashes(plan).await?;
    let raw_hashes_per_second = (raw_hashes_before.per_second + raw_hashes_after.per_second) / 2.0;
    let cpu_ms_per_hash = pooled_cpu_ms(&[
        (raw_hashes_before.cpu_seconds, raw_hashes_before.hashes),
        (raw_hashes_after.cpu_seconds, raw_hashes_after.hashes),
    ]);

    let mut stored = [0; 2];
    let mut stored_phases = Vec::new();
    for (slot, total) in [FEW_SESSIONS, plan.many_sessions].into_iter().enumerate() {
        let started = Instant::now();
        stored[slot] = crate::seed::top_up_sessions(database_url, SEEDED_USER, total).await?;
        eprintln!(
            "    {} sessions stored ({:.1}s to seed)",
            stored[slot],
            started.elapsed().as_secs_f64()
        );
        stored_phases.push(
            phase(
                &format!("GET /dashboard, {} stored sessions", stored[slot]),
                &server_cpu,
                load::run(
                    addr,
                    prepared.dashboard.clone(),
                    StatusCode::OK,
                    plan.duration,
                ),
            )
            .await?,
        );
    }
    let (Some(dashboard_many_stored), Some(dashboard_few_stored)) =
        (stored_phases.pop(), stored_phases.pop())
    else {
        return Err(Error::new("the stored-sessions phases did not run"));
    };

    let storm_p99_ratio = ratio(
        dashboard_during_storm.latency.p99_ms,
        dashboard.latency.p99_ms,
    );
    server.check_alive()?;
    let peak_rss_bytes = server.peak_rss();
    server.stop().await?;

    Ok(Leg {
        store,
        sessions,
        dashboard_bytes: prepared.dashboard_bytes,
        dashboard_ratio: ratio(dashboard.per_second, bare_per_second),
        login_ratio: ratio(logins.per_second, raw_hashes_per_second),
        dashboard_cpu_ratio: dashboard
            .server_cpu_ms_per_request
            .zip(bare_cpu_ms_per_request)
            .map(|(wristband, bare)| ratio(wristband, bare)),
        login_cpu_ratio: logins
            .server_cpu_ms_per_request
            .zip(cpu_ms_per_hash)
            .map(|(login, hash)| ratio(login, hash)),
        bare_before,
        dashboard,
        bare_after,
        bare_per_second,
        dashboard_during_storm,
        logins_during_load,
        raw_hashes_before,
        logins,
        raw_hashes_after,
        raw_hashes_per_second,
        stored_sessions_cost_ratio: ratio(
            dashboard_few_stored.per_second,
            dashboard_many_stored.per_second,
        ),
        dashboard_few_stored,
        dashboard_many_stored,
        stored_sessions: (stored[0], stored[1]),
        storm_p99_ratio,
        peak_rss_bytes,
    })
}

/// Measures raw Argon2id hashes per second at the plan's parameters, on a blocking thread.
async fn raw_hashes(plan: &Plan) -> Result<HashRate> {
    let (argon2, workers, duration) = (plan.argon2, plan.workers, plan.duration);
    let pinning = plan.pinning.clone();
    let rate = tokio::task::spawn_blocking(move || {
        hashing::measure(argon2, workers, duration, || {
            pinning.move_this_thread_to_the_server_cpu();
        })
    })
    .await
    .context("the hashing task failed")??;
    let cpu = rate
        .cpu_ms_per_hash
        .map(|ms| format!(", CPU {ms:.1} ms each"))
        .unwrap_or_default();
    eprintln!(
        "    raw Argon2id on {} threads: {:.1} hashes/s{cpu}",
        rate.threads, rate.per_second
    );
    Ok(rate)
}

/// The server command of one leg: configured entirely from the environment (run in an empty
/// folder, so no `config/` files apply), inherited Wristband variables removed.
fn wristband_command(
    plan: &Plan,
    sessions: SessionMode,
    database_url: &str,
    addr: SocketAddr,
    dir: &Path,
) -> Command {
    let mut command = plan.pinning.server_command(&plan.wristband);
    command
        .arg("serve")
        .arg("--bind")
        .arg(addr.to_string())
        .current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let inherited = key.to_string_lossy();
        if inherited.starts_with("WRISTBAND_")
            || matches!(
                inherited.as_ref(),
                "SECRET_KEY" | "SECRET_KEY_FALLBACKS" | "DATABASE_URL" | "RUST_LOG"
            )
        {
            command.env_remove(&key);
        }
    }
    let workers = plan.workers.to_string();
    let memory = plan.argon2.memory_kib.to_string();
    let iterations = plan.argon2.iterations.to_string();
    let parallelism = plan.argon2.parallelism.to_string();

    command.envs([
        ("DATABASE_URL", database_url),
        ("SECRET_KEY", SECRET_KEY),
        ("RUST_LOG", "warn"),
        ("WRISTBAND_PROFILE", "test"),
        ("WRISTBAND_SESSION__STORE", &sessions.to_string()),
        ("WRISTBAND_PASSWORD__WORKERS", &workers),
        ("WRISTBAND_PASSWORD__ARGON2__MEMORY_KIB", &memory),
        ("WRISTBAND_PASSWORD__ARGON2__ITERATIONS", &iterations),
        ("WRISTBAND_PASSWORD__ARGON2__PARALLELISM", &parallelism),
        ("WRISTBAND_PASSWORD__WORKER_PRIORITY", &plan.worker_priority),
        ("WRISTBAND_LOGIN__MAX_FAILURES", GENEROUS_LIMIT),
        ("WRISTBAND_LOGIN__MAX_FAILURES_PER_ACCOUNT", GENEROUS_LIMIT),
        ("WRISTBAND_LOGIN__MAX_FAILURES_PER_ADDRESS", GENEROUS_LIMIT),
        // Every benchmark user registers from the one load-generator address.
        ("WRISTBAND_REGISTER__MAX_PER_ADDRESS", "0"),
    ]);
    command
}

/// Awaits a load phase, measuring the CPU time `cpu` counts meanwhile, and prints its
/// one-line result.
async fn phase(
    name: &str,
    cpu: &CpuMeter,
    outcome: impl Future<Output = Result<LoadOutcome>>,
) -> Result<LoadOutcome> {
    let before = cpu.read();
    let outcome = outcome.await.with_context(|| name.to_owned())?;
    let used = cpu.read().zip(before).map(|(after, before)| after - before);
    let outcome = outcome.with_server_cpu(used);
    report_phase(name, &outcome);
    Ok(outcome)
}

fn report_phase(name: &str, outcome: &LoadOutcome) {
    let errors = if outcome.had_errors() {
        format!("; also {}", outcome.describe_errors())
    } else {
        String::new()
    };
    let cpu = outcome
        .server_cpu_ms_per_request
        .map(|ms| format!(", server CPU {ms:.3} ms each"))
        .unwrap_or_default();
    eprintln!(
        "    {name}: {:.1}/s, p50 {:.2} ms, p99 {:.2} ms ({} connections){cpu}{errors}",
        outcome.per_second, outcome.latency.p50_ms, outcome.latency.p99_ms, outcome.connections
    );
}

/// Milliseconds of CPU per item over several measurements `(cpu seconds, items)`; `None` when
/// any CPU time is unknown or there are no items.
fn pooled_cpu_ms(parts: &[(Option<f64>, u64)]) -> Option<f64> {
    let cpu: Option<f64> = parts.iter().map(|(cpu, _)| *cpu).sum();
    let items: u64 = parts.iter().map(|(_, items)| items).sum();
    cpu.filter(|_| items > 0)
        .map(|cpu| cpu * 1000.0 / items as f64)
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}
