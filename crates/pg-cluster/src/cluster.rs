//! One cluster: a folder with a data folder, a server log and a Unix socket, and its server.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind};
use crate::find::{Binaries, User, initdb_locale, same_major};
use crate::process::{self, output_text, shell_quote};

/// The longest socket path PostgreSQL accepts is 107 bytes; keep a margin.
const MAX_SOCKET_DIR_LEN: usize = 80;
/// How many ports to try when the one picked is taken before the server binds it.
const START_ATTEMPTS: usize = 3;
/// What the server log says when its port is taken.
const PORT_TAKEN: &str = "Address already in use";

/// Which kind of cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// For one test run or one test: a new folder under `/tmp`, `fsync=off`, stopped with
    /// `-m immediate`, folder removed when done.
    Throwaway,
    /// For development: kept in a folder of the caller's choosing, stopped with `-m fast`.
    Dev,
}

impl Kind {
    /// `pg_ctl stop`'s shutdown mode for this kind.
    fn stop_mode(self) -> &'static str {
        match self {
            Kind::Throwaway => "immediate",
            Kind::Dev => "fast",
        }
    }
}

/// Something worth telling the user while a cluster starts (each displays as a short phrase,
/// e.g. `creating /path/data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// The development cluster's kept data folder is reused.
    Reusing {
        /// The data folder.
        data: &'a Path,
    },
    /// A new data folder is being made (`initdb`) for the development cluster.
    Creating {
        /// The data folder.
        data: &'a Path,
    },
    /// The port picked was taken by someone else before the server could bind it; another is
    /// tried.
    PortTaken {
        /// The port that was taken.
        port: u16,
    },
}

impl fmt::Display for Progress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Reusing { data } => write!(f, "reusing {}", data.display()),
            Progress::Creating { data } => write!(f, "creating {}", data.display()),
            Progress::PortTaken { port } => {
                write!(f, "port {port} was taken meanwhile, trying another")
            }
        }
    }
}

/// Where a cluster lives and how its programs are run; no server yet, so nothing to clean up.
#[derive(Debug)]
struct Setup {
    binaries: Binaries,
    user: User,
    /// The folder the cluster owns: `data/`, `postgres.log`, `port`, and the Unix socket.
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
}

impl Setup {
    fn new(binaries: Binaries, user: User, root: PathBuf) -> Self {
        Setup {
            binaries,
            user,
            data: root.join("data"),
            log: root.join("postgres.log"),
            root,
        }
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

    /// `pg_ctl -D DATA`, as the right user.
    fn pg_ctl(&self) -> Command {
        let mut command = self.command(&self.binaries.pg_ctl());
        command.arg("-D").arg(&self.data);
        command
    }

    /// Runs a PostgreSQL program with its output captured; `Err` with that output on failure.
    fn run(&self, what: &str, command: &mut Command) -> Result<(), Error> {
        let out = process::output(command)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(process::failure(
                ErrorKind::Failed,
                out.status,
                format!(
                    "{what} failed ({}): `{}`\n{}",
                    out.status,
                    process::describe(command),
                    output_text(&out)
                ),
            ))
        }
    }

    /// When running as root, hands the folder to the `postgres` user.
    fn chown_root(&self) -> Result<(), Error> {
        if let User::Postgres { uid, gid, .. } = self.user {
            std::os::unix::fs::chown(&self.root, Some(uid), Some(gid)).map_err(|error| {
                Error::new(
                    ErrorKind::Io,
                    format!(
                        "cannot hand {} to the postgres user: {error}",
                        self.root.display()
                    ),
                )
            })?;
        }
        Ok(())
    }

    fn init(&self) -> Result<(), Error> {
        let mut command = self.command(&self.binaries.initdb());
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .arg(format!("--locale={}", initdb_locale()));
        self.run("initdb", &mut command)
    }

    /// For the dev cluster: refuses to start a second server on the same data folder.
    fn refuse_if_running(&self) -> Result<(), Error> {
        let pid_file = self.data.join("postmaster.pid");
        let Ok(pid_text) = fs::read_to_string(&pid_file) else {
            return Ok(());
        };
        if !process::succeeds(self.pg_ctl().arg("status")) {
            return Ok(()); // a stale pid file, which pg_ctl start deals with
        }
        // postmaster.pid: pid, data folder, start time, port, …
        let port = pid_text.lines().nth(3).unwrap_or("?").trim();
        let as_postgres = match self.user {
            User::Current => "",
            User::Postgres { .. } => "runuser -u postgres -- ",
        };
        Err(Error::new(
            ErrorKind::AlreadyRunning,
            format!(
                "a PostgreSQL server is already running on {} \
                 (postgres://postgres@127.0.0.1:{port}/postgres); stop it with \
                 `{as_postgres}{} -D {} stop`",
                self.data.display(),
                shell_quote(&self.binaries.pg_ctl().to_string_lossy()),
                shell_quote(&self.data.to_string_lossy()),
            ),
        ))
    }

    /// The folder for the Unix socket: the cluster's own, unless its path is too long.
    fn socket_dir(&self) -> PathBuf {
        if self.root.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
            self.root.clone()
        } else {
            PathBuf::from("/tmp")
        }
    }
}

/// A PostgreSQL cluster with its server, listening on `127.0.0.1`; user `postgres` logs in
/// without a password.
///
/// Dropping it stops the server if it is running (`-m immediate` for a throw-away cluster,
/// `-m fast` for a development one) and removes a throw-away cluster's folder. `Drop` never
/// panics; [`shut_down`](Cluster::shut_down) does the same and reports problems.
#[derive(Debug)]
pub struct Cluster {
    kind: Kind,
    setup: Setup,
    /// `0` until first started; then kept, so that the URL never changes.
    port: u16,
    /// Whether the server is running, as far as this value knows.
    running: bool,
    /// Set once cleaned up, so that `Drop` after [`Cluster::shut_down`] does nothing.
    finished: bool,
}

impl Cluster {
    /// Starts a throw-away cluster in a new, private folder under `/tmp`.
    ///
    /// The error says what to install when PostgreSQL is missing ([`ErrorKind::NotInstalled`]).
    pub fn start_throwaway() -> Result<Cluster, Error> {
        Cluster::start_throwaway_with(|_| {})
    }

    /// As [`start_throwaway`](Cluster::start_throwaway), telling `progress` what happens.
    pub fn start_throwaway_with(mut progress: impl FnMut(Progress<'_>)) -> Result<Cluster, Error> {
        // Both before the folder exists, so that a missing PostgreSQL leaves nothing behind.
        let binaries = Binaries::locate()?;
        let user = User::detect()?;
        let root = create_temp_root()?;
        let mut cluster = Cluster::new(Kind::Throwaway, Setup::new(binaries, user, root));
        // On failure, dropping `cluster` stops whatever started and removes the folder.
        cluster.setup.chown_root()?;
        cluster.setup.init()?;
        cluster.launch(free_port()?, true, &mut progress)?;
        Ok(cluster)
    }

    /// Starts the development cluster kept in `root` (created on first use, `initdb` then),
    /// on the port it used last time when that is still free.
    ///
    /// Refuses ([`ErrorKind::AlreadyRunning`]) when a server already runs on `root`'s data
    /// folder, and leaves that server alone. A kept data folder of another major version is
    /// refused too ([`ErrorKind::UnusableData`]).
    pub fn start_dev(
        root: &Path,
        mut progress: impl FnMut(Progress<'_>),
    ) -> Result<Cluster, Error> {
        let binaries = Binaries::locate()?;
        let user = User::detect()?;
        fs::create_dir_all(root).map_err(|error| {
            Error::new(
                ErrorKind::Io,
                format!("cannot create {}: {error}", root.display()),
            )
        })?;
        let setup = Setup::new(binaries, user, root.to_path_buf());
        // Before `Cluster` exists: its `Drop` would stop the server found running.
        setup.refuse_if_running()?;
        let mut cluster = Cluster::new(Kind::Dev, setup);
        cluster.prepare_dev(&mut progress)?;
        let port = cluster.remembered_port().map_or_else(free_port, Ok)?;
        cluster.launch(port, true, &mut progress)?;
        cluster.remember_port();
        Ok(cluster)
    }

    fn new(kind: Kind, setup: Setup) -> Self {
        Cluster {
            kind,
            setup,
            port: 0,
            running: false,
            finished: false,
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`: no password, so nothing to redact.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port on `127.0.0.1`; it stays the same across [`stop`](Cluster::stop) and
    /// [`start`](Cluster::start).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Throw-away or development.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The server's version as `pg_ctl --version` gives it, e.g. `15.18`.
    pub fn version(&self) -> &str {
        &self.setup.binaries.version
    }

    /// One line saying what runs, for headers and summaries, e.g. `throw-away cluster on
    /// 127.0.0.1:PORT (PostgreSQL 15.18, /tmp/…/data)`.
    pub fn description(&self) -> String {
        let what = match self.kind {
            Kind::Throwaway => "throw-away",
            Kind::Dev => "development",
        };
        format!(
            "{what} cluster on 127.0.0.1:{} (PostgreSQL {}, {})",
            self.port,
            self.version(),
            self.setup.data.display()
        )
    }

    /// The folder the cluster owns (removed with a throw-away cluster).
    pub fn root(&self) -> &Path {
        &self.setup.root
    }

    /// The data folder, `ROOT/data`.
    pub fn data_dir(&self) -> &Path {
        &self.setup.data
    }

    /// The server log, `ROOT/postgres.log`.
    pub fn log_file(&self) -> &Path {
        &self.setup.log
    }

    /// The folder holding the PostgreSQL programs used (`initdb`, `pg_ctl`; usually `psql`,
    /// `pg_dump` of the same version too).
    pub fn bin_dir(&self) -> &Path {
        &self.setup.binaries.bindir
    }

    /// Whether the server is running, as far as this value knows (not if it was killed
    /// behind its back).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Stops the server (`-m immediate` for a throw-away cluster, `-m fast` for a development
    /// one), keeping the data and the port. Does nothing when it is not running.
    pub fn stop(&mut self) -> Result<(), Error> {
        if !self.running {
            return Ok(());
        }
        self.stop_server()
    }

    /// Starts the stopped server again, on the same port so that clients' URLs stay valid.
    /// Does nothing when it is running.
    ///
    /// Fails with [`ErrorKind::PortTaken`] when another program took the port meanwhile.
    pub fn start(&mut self) -> Result<(), Error> {
        if self.running {
            return Ok(());
        }
        self.launch(self.port, false, &mut |_| {})
    }

    /// Stops the server if it may be running and removes a throw-away cluster's folder, as
    /// dropping does, but says what went wrong. Every step is tried even when one fails.
    pub fn shut_down(mut self) -> Result<(), Error> {
        self.clean_up()
    }

    /// For the dev cluster: checks a kept data folder, or makes a new one.
    fn prepare_dev(&self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(), Error> {
        let setup = &self.setup;
        setup.chown_root()?;
        if let Ok(text) = fs::read_to_string(setup.data.join("PG_VERSION")) {
            let major = text.trim();
            if !same_major(major, self.version()) {
                return Err(Error::new(
                    ErrorKind::UnusableData,
                    format!(
                        "{} holds a PostgreSQL {major} cluster, but the server found is \
                         PostgreSQL {}: remove {} to start afresh",
                        setup.data.display(),
                        self.version(),
                        setup.root.display()
                    ),
                ));
            }
            progress(Progress::Reusing { data: &setup.data });
            return Ok(());
        }
        if fs::read_dir(&setup.data).is_ok_and(|mut entries| entries.next().is_some()) {
            return Err(Error::new(
                ErrorKind::UnusableData,
                format!(
                    "{} is not empty but holds no cluster (no PG_VERSION): remove it to start \
                     afresh",
                    setup.data.display()
                ),
            ));
        }
        progress(Progress::Creating { data: &setup.data });
        setup.init()
    }

    /// The dev cluster's port from last time, when it is still free.
    fn remembered_port(&self) -> Option<u16> {
        let text = fs::read_to_string(self.setup.root.join("port")).ok()?;
        text.trim().parse().ok().filter(|port| port_is_free(*port))
    }

    /// Keeps the dev cluster's port so that its URL stays the same from run to run.
    fn remember_port(&self) {
        // Only a convenience: a failure to write just means another port next time.
        let _ = fs::write(self.setup.root.join("port"), format!("{}\n", self.port));
    }

    /// Starts the server on `port`. If that port was taken meanwhile: with `may_move`, tries
    /// fresh ones; else fails with [`ErrorKind::PortTaken`].
    fn launch(
        &mut self,
        mut port: u16,
        may_move: bool,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(), Error> {
        let setup = &self.setup;
        for attempt in 1..=START_ATTEMPTS {
            let log_offset = fs::metadata(&setup.log).map_or(0, |meta| meta.len());
            let mut options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
                shell_quote(&setup.socket_dir().to_string_lossy())
            );
            if self.kind == Kind::Throwaway {
                options.push_str(" -c fsync=off");
            }
            let mut command = setup.pg_ctl();
            command
                .arg("-l")
                .arg(&setup.log)
                .args(["-w", "-t", "60", "-o", &options, "start"]);
            let out = process::output(&mut command)?;
            if out.status.success() {
                self.port = port;
                self.running = true;
                return Ok(());
            }
            let log = read_from(&setup.log, log_offset);
            let port_taken = log.contains(PORT_TAKEN);
            if port_taken && may_move && attempt < START_ATTEMPTS {
                progress(Progress::PortTaken { port });
                port = free_port()?;
                continue;
            }
            let details = format!(
                "---- pg_ctl output ----\n{}\n---- PostgreSQL log ({}) ----\n{}\n----",
                output_text(&out),
                setup.log.display(),
                log.trim_end()
            );
            let error = if port_taken && !may_move {
                Error::new(
                    ErrorKind::PortTaken,
                    format!(
                        "PostgreSQL did not start again: port {port} was taken by another \
                         program while the server was stopped"
                    ),
                )
            } else {
                process::failure(
                    ErrorKind::Failed,
                    out.status,
                    format!(
                        "PostgreSQL did not start ({}; `{}`)",
                        out.status,
                        process::describe(&command)
                    ),
                )
            };
            return Err(error.with_details(details));
        }
        Err(Error::new(ErrorKind::Failed, "PostgreSQL did not start"))
    }

    /// `pg_ctl stop` in this kind's mode.
    fn stop_server(&mut self) -> Result<(), Error> {
        let mut command = self.setup.pg_ctl();
        command.args(["-m", self.kind.stop_mode(), "-w", "-t", "60", "stop"]);
        let outcome = self.setup.run("pg_ctl stop", &mut command);
        // Not running any more, or never was (killed behind our back: no pid file left).
        if outcome.is_ok() || !self.setup.data.join("postmaster.pid").exists() {
            self.running = false;
        }
        outcome
    }

    /// Stops the server if it may be running, and removes a throw-away folder; once only.
    fn clean_up(&mut self) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let mut problems = Vec::new();
        // Also after a failed or interrupted start, which may have left a server behind.
        if (self.running || self.setup.data.join("postmaster.pid").exists())
            && let Err(error) = self.stop_server()
        {
            problems.push(error);
        }
        if self.kind == Kind::Throwaway
            && let Err(error) = fs::remove_dir_all(&self.setup.root)
            && error.kind() != io::ErrorKind::NotFound
        {
            problems.push(Error::new(
                ErrorKind::Io,
                format!("cannot remove {}: {error}", self.setup.root.display()),
            ));
        }
        let mut problems = problems.into_iter();
        match problems.next() {
            None => Ok(()),
            Some(first) => Err(problems.fold(first, |all, next| {
                Error::new(all.kind(), format!("{all}; {next}"))
            })),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(error) = self.clean_up() {
            // No caller to tell; a failed write to stderr is ignored (no panic in `Drop`).
            let _ = writeln!(io::stderr(), "pg-cluster: warning: {error}");
        }
    }
}

/// Makes a new, private folder `/tmp/wristband-pg-PID-NANOS` (not the system's temp folder,
/// which may be too long a path for the Unix socket).
fn create_temp_root() -> Result<PathBuf, Error> {
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
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("cannot create {}: {error}", path.display()),
                ));
            }
        }
    }
    Err(Error::new(
        ErrorKind::Io,
        "cannot create a unique folder under /tmp",
    ))
}

/// A loopback port that is free right now (the listener is dropped at once).
fn free_port() -> Result<u16, Error> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|error| {
            Error::new(
                ErrorKind::Io,
                format!("cannot find a free loopback port: {error}"),
            )
        })
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The text of `path` from byte `offset` on (the part of a log written since then).
fn read_from(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_as_before() {
        let data = Path::new("/w/target/dev-postgres/data");
        assert_eq!(
            Progress::Creating { data }.to_string(),
            "creating /w/target/dev-postgres/data"
        );
        assert_eq!(
            Progress::Reusing { data }.to_string(),
            "reusing /w/target/dev-postgres/data"
        );
        assert_eq!(
            Progress::PortTaken { port: 5 }.to_string(),
            "port 5 was taken meanwhile, trying another"
        );
    }

    #[test]
    fn reads_the_log_from_an_offset() {
        let path = std::env::temp_dir().join(format!("pg-cluster-log-{}", std::process::id()));
        fs::write(&path, "old\nnew\n").unwrap();
        assert_eq!(read_from(&path, 4), "new\n");
        assert_eq!(read_from(&path, 100), "");
        let _ = fs::remove_file(&path);
        assert_eq!(read_from(&path, 0), "");
    }

    #[test]
    fn temp_roots_are_private_and_unique() {
        use std::os::unix::fs::PermissionsExt;
        let first = create_temp_root().unwrap();
        let second = create_temp_root().unwrap();
        assert_ne!(first, second);
        assert!(first.as_os_str().len() <= MAX_SOCKET_DIR_LEN);
        let mode = fs::metadata(&first).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        fs::remove_dir(first).unwrap();
        fs::remove_dir(second).unwrap();
    }
}
