//! Wristband's stores on SQLite: the shared SeaORM store ([`store_seaorm::SeaStore`]) over a
//! connection tuned for a web server.
//!
//! What is SQLite's own lives here: WAL journaling with `synchronous=FULL` (a 2xx answer means
//! the write survives a crash of the process or the machine), a busy timeout so concurrent writers
//! wait instead of failing, foreign keys on, the database file's folder created at start, and
//! which SQLite result codes mean "unavailable, retry later".
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DbErr};
use std::str::FromStr;
use std::time::Duration;
use store_seaorm::SeaStore;

/// How long a statement waits for a lock held by another connection before giving up; kept
/// below the 5 s within which a request must get its answer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a request waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(4);

/// Why the SQLite store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is not a SQLite URL sqlx understands.
    #[error("invalid SQLite database URL")]
    InvalidUrl(#[source] sea_orm::sqlx::Error),
    /// The folder for the database file, or the lock file beside it, could not be created.
    #[error("cannot create or lock {path}")]
    CreateFolder {
        /// The folder.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot open the SQLite database")]
    Connect(#[source] DbErr),
    /// Migrating failed.
    #[error("cannot migrate the SQLite database")]
    Migrate(#[source] auth_core::StoreError),
}

/// Opens (creating if missing) the SQLite database at `url` (`sqlite://PATH`), applies
/// migrations, and returns the store.
pub async fn open(url: &str, max_connections: Option<u32>) -> Result<SeaStore, OpenError> {
    let parsed = SqliteConnectOptions::from_str(url).map_err(OpenError::InvalidUrl)?;
    if let Some(folder) = parsed.get_filename().parent()
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder).map_err(|source| OpenError::CreateFolder {
            path: folder.display().to_string(),
            source,
        })?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(BUSY_TIMEOUT)
                .foreign_keys(true)
        });
    if let Some(max) = max_connections {
        options.max_connections(max);
    }
    // Held from the first connection (which switches a new file to WAL, needing it alone)
    // to the end of the migrations.
    let _migrating = MigrationLock::take(parsed.get_filename()).await?;
    let db = Database::connect(options)
        .await
        .map_err(OpenError::Connect)?;
    // Other processes on the same file announce their changes through a table (migration
    // m0006), read every few hundred milliseconds.
    let store = SeaStore::new(db, "sqlite", is_unavailable)
        .with_change_follower(store_seaorm::changes::poll_change_table);
    store.migrate().await.map_err(OpenError::Migrate)?;
    Ok(store)
}

/// How long a process waits for another one's migration of the same file.
const MIGRATION_WAIT: Duration = Duration::from_secs(60);

/// Serialises opening and migrating one database file across processes (several servers
/// started at once on a new file would otherwise race to switch it to WAL, and both create the
/// tables): an exclusive lock on a file beside it, `PATH-migrate.lock`, held meanwhile. Not the database file itself: closing
/// another descriptor of it would drop SQLite's own POSIX locks.
struct MigrationLock(Option<std::fs::File>);

impl MigrationLock {
    async fn take(database: &std::path::Path) -> Result<Self, OpenError> {
        if database.as_os_str().is_empty() || database.as_os_str() == ":memory:" {
            return Ok(Self(None));
        }
        let mut path = database.as_os_str().to_owned();
        path.push("-migrate.lock");
        let path = std::path::PathBuf::from(path);
        let lock_error = |source| OpenError::CreateFolder {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(lock_error)?;
        let deadline = std::time::Instant::now() + MIGRATION_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self(Some(file))),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(lock_error(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "another process has been migrating this database for a minute",
                    )));
                }
                Err(std::fs::TryLockError::Error(error)) => return Err(lock_error(error)),
            }
        }
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        if let Some(file) = &self.0 {
            // Closing the file releases the lock anyway; unlocking first says so.
            let _ = file.unlock();
        }
    }
}

/// SQLite result codes that mean the database cannot serve now but may later: busy or locked
/// past the timeout, read-only, I/O error, disk full, cannot open.
fn is_unavailable(err: &DbErr) -> bool {
    const UNAVAILABLE_PRIMARY_CODES: [i64; 6] = [5, 6, 8, 10, 13, 14];
    let Some(sea_orm::sqlx::Error::Database(db)) = store_seaorm::sqlx_error(err) else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i64>().ok())
        // Extended result codes carry the primary code in their low byte.
        .is_some_and(|code| UNAVAILABLE_PRIMARY_CODES.contains(&(code & 0xff)))
}
