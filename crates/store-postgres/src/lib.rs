//! Wristband's stores on PostgreSQL: the shared SeaORM store ([`store_seaorm::SeaStore`]) over a
//! PostgreSQL pool.
//!
//! What is PostgreSQL's own lives here: connection and pool timeouts, migrations serialised by
//! an advisory lock (several instances may start at once on one empty database, and the schema
//! must be migrated exactly once), and which SQLSTATE codes mean "unavailable, retry later".
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod changes;
#[cfg(feature = "testing")]
pub mod testing;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbErr, Statement, TransactionTrait};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;
use store_seaorm::{Migrator, SeaStore};

/// How long a request waits for a pooled connection: a dead server must turn into a 503
/// well within the 5 s the contract allows.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long opening a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Advisory-lock key under which migrations run ("wristbnd" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x7772_6973_7462_6e64;

/// Why the PostgreSQL store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Connecting failed.
    #[error("cannot connect to PostgreSQL")]
    Connect(#[source] DbErr),
    /// Migrating failed.
    #[error("cannot migrate the PostgreSQL database")]
    Migrate(#[source] DbErr),
}

/// Connects to `url` (`postgres://…` or `postgresql://…`), applies pending migrations under an
/// advisory lock, and returns the store.
pub async fn open(url: &str, max_connections: Option<u32>) -> Result<SeaStore, OpenError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        // Connections that went through an outage are tested before reuse.
        .test_before_acquire(true);
    if let Some(max) = max_connections {
        options.max_connections(max);
    }
    let db = Database::connect(options)
        .await
        .map_err(OpenError::Connect)?;
    migrate(&db).await.map_err(OpenError::Migrate)?;
    Ok(SeaStore::new(db, "postgres", is_unavailable)
        .with_change_follower(changes::listen_for_changes))
}

/// Applies pending migrations in one transaction holding a transaction-scoped advisory lock:
/// a second instance waits for the first to commit, then finds nothing left to do.
/// PostgreSQL's DDL is transactional, so a failed migration leaves no half-made schema.
pub async fn migrate(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    let transaction = db.begin().await?;
    transaction
        .execute_raw(Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [MIGRATION_LOCK_KEY.into()],
        ))
        .await?;
    Migrator::up(&transaction, None).await?;
    transaction.commit().await
}

/// SQLSTATE classes that mean the server cannot serve now but may later: connection
/// exceptions (08), insufficient resources (53), operator intervention such as shutdown (57),
/// and system errors (58).
fn is_unavailable(err: &DbErr) -> bool {
    let Some(sea_orm::sqlx::Error::Database(db)) = store_seaorm::sqlx_error(err) else {
        return false;
    };
    db.code().is_some_and(|code| {
        ["08", "53", "57", "58"]
            .iter()
            .any(|class| code.starts_with(class))
    })
}
