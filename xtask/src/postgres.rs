//! PostgreSQL clusters: a throw-away one for `test`, a kept one for `pg`.
//!
//! At most one cluster is active per xtask run. It lives in [`ACTIVE`] so that both the normal
//! path (the [`Running`] guard's `Drop`) and the Ctrl-C handler can stop it; whichever comes
//! first does, under the lock, and the other then finds nothing left to do.

use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Failure, Result};
use crate::process::{self, output_text, shell_quote};

mod find;

use find::{Binaries, User, initdb_locale, same_major};

/// The variable that names an existing PostgreSQL for the tests.
pub const TEST_URL_VAR: &str = "WRISTBAND_TEST_POSTGRES_URL";
/// The longest socket path PostgreSQL accepts is 107 bytes; keep a margin.
const MAX_SOCKET_DIR_LEN: usize = 80;
/// How many ports to try when the one picked is taken before the server binds it.
const START_ATTEMPTS: usize = 3;

/// The active cluster, if any.
static ACTIVE: Mutex<Option<Cluster>> = Mutex::new(None);

fn active() -> MutexGuard<'static, Option<Cluster>> {
    ACTIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Stops the active cluster, if any (and removes it when it is a throw-away one).
pub fn shut_down_active() {
    let mut slot = active();
    if let Some(cluster) = slot.take() {
        cluster.shut_down();
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
    let binaries = Binaries::locate()?;
    let user = User::detect()?;
    let mut slot = active();
    let root = create_temp_root()?;
    let cluster = slot.insert(Cluster::new(Kind::Throwaway, binaries, user, root));
    let outcome = cluster
        .chown_root()
        .and_then(|()| cluster.init())
        .and_then(|()| cluster.start(free_port()?));
    finish(slot, outcome)
}

/// Starts the development cluster kept in `root` (created on first use).
pub fn start_dev(root: &Path) -> Result<Running> {
    let binaries = Binaries::locate()?;
    let user = User::detect()?;
    let mut slot = active();
    fs::create_dir_all(root)
        .map_err(|error| format!("cannot create {}: {error}", root.display()))?;
    let cluster = Cluster::new(Kind::Dev, binaries, user, root.to_path_buf());
    cluster.refuse_if_running()?;
    let cluster = slot.insert(cluster);
    let outcome = cluster.prepare_dev().and_then(|()| {
        let port = cluster.remembered_port().map_or_else(free_port, Ok)?;
        cluster.start(port)?;
        cluster.remember_port();
        Ok(())
    });
    finish(slot, outcome)
}

/// Wraps up a start: the guard on success; on failure the cluster is stopped (and removed).
fn finish(mut slot: MutexGuard<'_, Option<Cluster>>, outcome: Result) -> Result<Running> {
    match (outcome, slot.as_ref()) {
        (Ok(()), Some(cluster)) => Ok(Running {
            url: cluster.url(),
            description: cluster.description(),
        }),
        (outcome, _) => {
            if let Some(cluster) = slot.take() {
                cluster.shut_down();
            }
            outcome.and(Err(Failure::Error("the cluster vanished".to_owned())))
        }
    }
}

/// Makes a new, private folder `/tmp/wristband-pg-PID-NANOS`.
fn create_temp_root() -> Result<PathBuf> {
    let mut builder = fs::DirBuilder::new();
    builder.mode(0o700);
    for attempt in 0u32..100 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let path = PathBuf::from(format!(
            "/tmp/wristband-pg-{}-{nanos:09}{attempt}",
            std::process::id()
        ));
        match builder.create(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(Failure::Error(format!(
                    "cannot create {}: {error}",
                    path.display()
                )));
            }
        }
    }
    Err(Failure::Error(
        "cannot create a unique folder under /tmp".to_owned(),
    ))
}

/// A loopback port that is free right now (the listener is dropped at once).
fn free_port() -> Result<u16> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|error| Failure::Error(format!("cannot find a free loopback port: {error}")))
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// For one test run: fsync off, stopped with `-m immediate`, folder removed.
    Throwaway,
    /// For development: kept in `target/dev-postgres`, stopped with `-m fast`.
    Dev,
}

/// One cluster: a folder holding the data folder, the server log and the socket.
struct Cluster {
    kind: Kind,
    binaries: Binaries,
    user: User,
    /// The folder we own: `data/`, `postgres.log`, `port`, and the Unix socket.
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    /// `0` until started.
    port: u16,
}

impl Cluster {
    fn new(kind: Kind, binaries: Binaries, user: User, root: PathBuf) -> Self {
        Cluster {
            kind,
            binaries,
            user,
            data: root.join("data"),
            log: root.join("postgres.log"),
            root,
            port: 0,
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn description(&self) -> String {
        let what = match self.kind {
            Kind::Throwaway => "throw-away",
            Kind::Dev => "development",
        };
        format!(
            "{what} cluster on 127.0.0.1:{} (PostgreSQL {}, {})",
            self.port,
            self.binaries.version,
            self.data.display()
        )
    }

    /// A command for a PostgreSQL program, as the right user, run in the cluster's folder.
    fn command(&self, program: &Path) -> Command {
        let mut command = match &self.user {
            User::Current => Command::new(program),
            User::Postgres { runuser, .. } => {
                let mut command = Command::new(runuser);
                command.args(["-u", "postgres", "--"]).arg(program);
                command
            }
        };
        command.current_dir(&self.root);
        command
    }

    /// Runs a PostgreSQL program with its output captured; `Err` with that output on failure.
    fn run(&self, what: &str, command: &mut Command) -> Result {
        let out = process::output(command)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Failure::Error(format!(
                "{what} failed ({}): `{}`\n{}",
                out.status,
                process::describe(command),
                output_text(&out)
            )))
        }
    }

    /// When running as root, hands the folder to the `postgres` user.
    fn chown_root(&self) -> Result {
        if let User::Postgres { uid, gid, .. } = self.user {
            std::os::unix::fs::chown(&self.root, Some(uid), Some(gid)).map_err(|error| {
                format!(
                    "cannot hand {} to the postgres user: {error}",
                    self.root.display()
                )
            })?;
        }
        Ok(())
    }

    fn init(&self) -> Result {
        let mut command = self.command(&self.binaries.initdb());
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .arg(format!("--locale={}", initdb_locale()));
        self.run("initdb", &mut command)
    }

    /// For the dev cluster: checks a kept data folder, or makes a new one.
    fn prepare_dev(&self) -> Result {
        self.chown_root()?;
        let pg_version = self.data.join("PG_VERSION");
        if let Ok(text) = fs::read_to_string(&pg_version) {
            let major = text.trim();
            if !same_major(major, &self.binaries.version) {
                return Err(Failure::Error(format!(
                    "{} holds a PostgreSQL {major} cluster, but the server found is PostgreSQL {}: \
                     remove {} to start afresh",
                    self.data.display(),
                    self.binaries.version,
                    self.root.display()
                )));
            }
            println!("==> PostgreSQL: reusing {}", self.data.display());
            return Ok(());
        }
        if fs::read_dir(&self.data).is_ok_and(|mut entries| entries.next().is_some()) {
            return Err(Failure::Error(format!(
                "{} is not empty but holds no cluster (no PG_VERSION): remove it to start afresh",
                self.data.display()
            )));
        }
        println!("==> PostgreSQL: creating {}", self.data.display());
        self.init()
    }

    /// For the dev cluster: refuses to start a second server on the same data folder.
    fn refuse_if_running(&self) -> Result {
        let pid_file = self.data.join("postmaster.pid");
        let Ok(pid_text) = fs::read_to_string(&pid_file) else {
            return Ok(());
        };
        let mut status = self.command(&self.binaries.pg_ctl());
        status.arg("-D").arg(&self.data).arg("status");
        if !process::succeeds(&mut status) {
            return Ok(()); // a stale pid file, which pg_ctl start deals with
        }
        // postmaster.pid: pid, data folder, start time, port, …
        let port = pid_text.lines().nth(3).unwrap_or("?").trim();
        let as_postgres = match self.user {
            User::Current => "",
            User::Postgres { .. } => "runuser -u postgres -- ",
        };
        Err(Failure::Error(format!(
            "a PostgreSQL server is already running on {} \
             (postgres://postgres@127.0.0.1:{port}/postgres); stop it with `{as_postgres}{} -D {} stop`",
            self.data.display(),
            shell_quote(&self.binaries.pg_ctl().to_string_lossy()),
            shell_quote(&self.data.to_string_lossy()),
        )))
    }

    /// The dev cluster's port from last time, when it is still free.
    fn remembered_port(&self) -> Option<u16> {
        let text = fs::read_to_string(self.root.join("port")).ok()?;
        text.trim().parse().ok().filter(|port| port_is_free(*port))
    }

    /// Keeps the dev cluster's port so that its URL stays the same from run to run.
    fn remember_port(&self) {
        // Only a convenience: a failure to write just means another port next time.
        let _ = fs::write(self.root.join("port"), format!("{}\n", self.port));
    }

    /// The folder for the Unix socket: the cluster's own, unless its path is too long.
    fn socket_dir(&self) -> PathBuf {
        if self.root.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
            self.root.clone()
        } else {
            PathBuf::from("/tmp")
        }
    }

    /// Starts the server on `port`; if that port was taken meanwhile, tries fresh ones.
    fn start(&mut self, mut port: u16) -> Result {
        for attempt in 1..=START_ATTEMPTS {
            let log_offset = fs::metadata(&self.log).map_or(0, |meta| meta.len());
            let mut options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
                shell_quote(&self.socket_dir().to_string_lossy())
            );
            if self.kind == Kind::Throwaway {
                options.push_str(" -c fsync=off");
            }
            let mut command = self.command(&self.binaries.pg_ctl());
            command
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&self.log)
                .args(["-w", "-t", "60", "-o", &options, "start"]);
            let out = process::output(&mut command)?;
            if out.status.success() {
                self.port = port;
                return Ok(());
            }
            let log = read_from(&self.log, log_offset);
            let port_taken = log.contains("Address already in use");
            if port_taken && attempt < START_ATTEMPTS {
                println!("==> PostgreSQL: port {port} was taken meanwhile, trying another");
                port = free_port()?;
                continue;
            }
            eprintln!(
                "---- pg_ctl output ----\n{}\n---- PostgreSQL log ({}) ----\n{}\n----",
                output_text(&out),
                self.log.display(),
                log.trim_end()
            );
            return Err(Failure::Error(format!(
                "PostgreSQL did not start ({}; `{}`); its output and log are above",
                out.status,
                process::describe(&command)
            )));
        }
        Err(Failure::Error("PostgreSQL did not start".to_owned()))
    }

    /// Stops the server (if it may be running) and removes a throw-away folder. Never fails:
    /// problems are reported and the rest of the clean-up still happens.
    fn shut_down(self) {
        if self.data.join("postmaster.pid").exists() {
            let mode = match self.kind {
                Kind::Throwaway => "immediate",
                Kind::Dev => "fast",
            };
            let mut command = self.command(&self.binaries.pg_ctl());
            command
                .arg("-D")
                .arg(&self.data)
                .args(["-m", mode, "-w", "-t", "60", "stop"]);
            // Not `process::output`: this also runs after an interrupt, and must not give up.
            match command.stdin(Stdio::null()).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!(
                    "xtask: warning: `{}` failed ({}):\n{}",
                    process::describe(&command),
                    out.status,
                    output_text(&out)
                ),
                Err(error) => eprintln!(
                    "xtask: warning: cannot run `{}`: {error}",
                    process::describe(&command)
                ),
            }
        }
        match self.kind {
            Kind::Throwaway => match fs::remove_dir_all(&self.root) {
                Ok(()) => println!(
                    "==> PostgreSQL: stopped the throw-away cluster and removed {}",
                    self.root.display()
                ),
                Err(error) => eprintln!(
                    "xtask: warning: cannot remove {}: {error}",
                    self.root.display()
                ),
            },
            Kind::Dev => println!(
                "==> PostgreSQL: stopped the development cluster (data kept in {})",
                self.data.display()
            ),
        }
    }
}

/// The text of `path` from byte `offset` on (the part of a log written since then).
fn read_from(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// `url` with any password replaced by `***`, for printing.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:s3cret@db:5432/x?sslmode=disable"),
            "postgres://u:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5/postgres"),
            "postgres://postgres@127.0.0.1:5/postgres"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
