//! The SeaORM code every Wristband SQL store shares: entities, migrations, and [`SeaStore`],
//! which implements `auth-core`'s store traits with backend-neutral queries.
//!
//! A backend crate (`store-sqlite`, `store-postgres`) opens the connection with its own options,
//! runs [`SeaStore::migrate`], and supplies the one thing that differs between databases here:
//! how to recognise "the database is unavailable" among its errors.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod api_tokens;
pub mod changes;
mod emails;
pub mod entity;
pub mod migration;
mod second_factors;
mod sessions;
pub mod throttle;
mod users;

use auth_core::session::SessionId;
use auth_core::{SessionRecord, StoreError, StoreErrorCounts, User, UserId, Username};
use entity::{session, user};
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr, SqlErr};
use sea_orm_migration::MigratorTrait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

pub use migration::Migrator;

/// How many migrations this version knows, for tests that check each ran once.
pub fn migration_count() -> usize {
    Migrator::migrations().len()
}
pub use sea_orm;

/// Tells whether a database error means "unavailable, retry later" (HTTP 503) rather than a
/// fault in the request. Each backend knows its own error codes.
pub type UnavailableClassifier = fn(&DbErr) -> bool;

/// Users and sessions on any SeaORM connection.
#[derive(Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    backend: &'static str,
    is_unavailable: UnavailableClassifier,
    follower: Option<changes::ChangeFollower>,
    /// Shared by clones: the store's errors, for metrics.
    errors: Arc<ErrorCounters>,
}

/// Database errors met, counted where they are classified ([`SeaStore::error`]).
#[derive(Debug, Default)]
struct ErrorCounters {
    unavailable: AtomicU64,
    failed: AtomicU64,
}

impl std::fmt::Debug for SeaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// The driver's error inside a SeaORM error, if there is one.
pub fn sqlx_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e),
        _ => None,
    }
}

/// Errors that mean the connection itself failed, on any backend: no connection could be had,
/// the socket broke, the pool timed out.
pub fn is_connection_error(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    matches!(
        sqlx_error(err),
        Some(
            Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed
                | Sqlx::Protocol(_)
        )
    )
}

impl SeaStore {
    /// Wraps an open connection. `backend` names it in logs.
    pub fn new(
        db: DatabaseConnection,
        backend: &'static str,
        is_unavailable: UnavailableClassifier,
    ) -> Self {
        Self {
            db,
            backend,
            is_unavailable,
            follower: None,
            errors: Arc::default(),
        }
    }

    /// Database errors met so far, by kind (what [`AuthStore::error_counts`] reports).
    ///
    /// [`AuthStore::error_counts`]: auth_core::AuthStore::error_counts
    pub fn error_counts(&self) -> StoreErrorCounts {
        StoreErrorCounts {
            unavailable: self.errors.unavailable.load(Ordering::Relaxed),
            failed: self.errors.failed.load(Ordering::Relaxed),
        }
    }

    /// Follows the database's announced session changes with `follower` (see
    /// [`changes`]); without one the session cache is never trusted.
    pub fn with_change_follower(mut self, follower: changes::ChangeFollower) -> Self {
        self.follower = Some(follower);
        self
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(|e| self.error(e))
    }

    /// The underlying connection, for backend-specific work.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Maps a database error to the store contract's error, keeping it as the source.
    pub fn error(&self, err: DbErr) -> StoreError {
        if let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() {
            // The index's or the column's name is in both backends' messages.
            if message.contains("email_key") {
                StoreError::EmailTaken
            } else {
                StoreError::Taken
            }
        } else if is_connection_error(&err) || (self.is_unavailable)(&err) {
            self.errors.unavailable.fetch_add(1, Ordering::Relaxed);
            StoreError::unavailable(err)
        } else {
            self.errors.failed.fetch_add(1, Ordering::Relaxed);
            StoreError::database(err)
        }
    }
}

pub(crate) fn to_ms(t: OffsetDateTime) -> i64 {
    // Milliseconds since 1970 fit an i64 for any date `time` can represent.
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(StoreError::database)
}

pub(crate) fn user_from(model: user::Model) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(model.id),
        username: Username::from_stored(model.username, model.username_key),
        auth_stamp: model.auth_stamp,
        created_at: from_ms(model.created_at)?,
        email_verified: model.email.is_some() && model.email_verified_at.is_some(),
        email: model.email.map(auth_core::EmailAddress::from_stored),
    })
}

pub(crate) fn session_from(model: session::Model) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: SessionId::from_stored(model.public_id),
        user_id: UserId(model.user_id),
        created_at: from_ms(model.created_at)?,
        last_seen_at: from_ms(model.last_seen_at)?,
        authenticated_at: from_ms(model.authenticated_at)?,
        expires_at: from_ms(model.expires_at)?,
        idle_expires_at: model.idle_expires_at.map(from_ms).transpose()?,
        remember: model.remember,
        user_agent: model.user_agent,
    })
}
