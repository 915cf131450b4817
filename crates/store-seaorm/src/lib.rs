//! The SeaORM code every Wristband SQL store shares: entities, migrations, and [`SeaStore`],
//! which implements `auth-core`'s store traits with backend-neutral queries.
//!
//! A backend crate (`store-sqlite`, `store-postgres`) opens the connection with its own options,
//! runs [`SeaStore::migrate`], and supplies the one thing that differs between databases here:
//! how to recognise "the database is unavailable" among its errors.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod entity;
pub mod migration;
pub mod throttle;

use async_trait::async_trait;
use auth_core::session::{SessionDeadlines, SessionId};
use auth_core::store::{ImportMode, ImportOutcome, ImportReport, new_auth_stamp};
use auth_core::{
    AuthStore, NewSession, PasswordHashString, SessionRecord, SessionStore, SessionTouch,
    StoreError, TokenDigest, User, UserCredentials, UserId, UserStore, Username,
};
use entity::{session, user};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition,
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, RuntimeErr,
    SqlErr, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::collections::HashMap;
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
        }
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

    /// Maps a database error to the store contract's error.
    pub fn error(&self, err: DbErr) -> StoreError {
        if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            StoreError::Taken
        } else if is_connection_error(&err) || (self.is_unavailable)(&err) {
            StoreError::Unavailable(err.to_string())
        } else {
            StoreError::Database(err.to_string())
        }
    }
}

fn to_ms(t: OffsetDateTime) -> i64 {
    // Milliseconds since 1970 fit an i64 for any date `time` can represent.
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Database(format!("timestamp out of range: {ms}")))
}

fn user_from(model: user::Model) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(model.id),
        username: Username::from_stored(model.username, model.username_key),
        auth_stamp: model.auth_stamp,
        created_at: from_ms(model.created_at)?,
    })
}

fn session_from(model: session::Model) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: model.id,
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

/// Rows per `INSERT` of an import: 5 bound values each keeps a statement far below SQLite's
/// (32,766) and PostgreSQL's (65,535) limits on bound parameters.
const IMPORT_CHUNK_ROWS: usize = 500;

/// Sessions alive at `now`: before both deadlines.
fn live_at(now: OffsetDateTime) -> Condition {
    let now = to_ms(now);
    Condition::all()
        .add(session::Column::ExpiresAt.gt(now))
        .add(
            Condition::any()
                .add(session::Column::IdleExpiresAt.is_null())
                .add(session::Column::IdleExpiresAt.gt(now)),
        )
}

#[async_trait]
impl UserStore for SeaStore {
    async fn create_user(
        &self,
        username: &Username,
        password_hash: &PasswordHashString,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let model = user::ActiveModel {
            id: NotSet,
            username: Set(username.as_str().to_owned()),
            username_key: Set(username.key().to_owned()),
            password_hash: Set(password_hash.expose().to_owned()),
            auth_stamp: Set(new_auth_stamp()),
            created_at: Set(to_ms(now)),
        }
        .insert(&self.db)
        .await
        .map_err(|e| self.error(e))?;
        user_from(model)
    }

    async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let found = user::Entity::find()
            .filter(user::Column::UsernameKey.eq(username.key()))
            .one(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        found
            .map(|model| {
                let password_hash = PasswordHashString::new(model.password_hash.clone());
                Ok(UserCredentials {
                    user: user_from(model)?,
                    password_hash,
                })
            })
            .transpose()
    }

    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        user::Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(|e| self.error(e))?
            .map(user_from)
            .transpose()
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &PasswordHashString,
    ) -> Result<(), StoreError> {
        user::Entity::update_many()
            .col_expr(
                user::Column::PasswordHash,
                Expr::value(password_hash.expose().to_owned()),
            )
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn rotate_auth_stamp(&self, id: UserId) -> Result<String, StoreError> {
        let stamp = new_auth_stamp();
        user::Entity::update_many()
            .col_expr(user::Column::AuthStamp, Expr::value(stamp.clone()))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        Ok(stamp)
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        // Sessions go with the user through the foreign key's ON DELETE CASCADE.
        let result = user::Entity::delete_many()
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected > 0)
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(&self.db)
            .await
            .map_err(|e| self.error(e))?
            .into_iter()
            .map(user_from)
            .collect()
    }

    async fn import_users(
        &self,
        users: &[(Username, PasswordHashString)],
        mode: ImportMode,
        now: OffsetDateTime,
    ) -> Result<ImportReport, StoreError> {
        let txn = self.db.begin().await.map_err(|e| self.error(e))?;
        let mut outcomes = Vec::with_capacity(users.len());
        for chunk in users.chunks(IMPORT_CHUNK_ROWS) {
            let mut insert = Query::insert();
            insert.into_table(user::Entity).columns([
                user::Column::Username,
                user::Column::UsernameKey,
                user::Column::PasswordHash,
                user::Column::AuthStamp,
                user::Column::CreatedAt,
            ]);
            for (username, hash) in chunk {
                insert
                    .values([
                        username.as_str().into(),
                        username.key().into(),
                        hash.expose().into(),
                        new_auth_stamp().into(),
                        to_ms(now).into(),
                    ])
                    .map_err(|e| StoreError::Database(e.to_string()))?;
            }
            // DO NOTHING rather than catching unique violations: on PostgreSQL a failed
            // statement aborts the whole transaction. RETURNING names exactly the rows this
            // statement inserted, so a name registered concurrently counts as existing.
            insert
                .on_conflict(
                    OnConflict::column(user::Column::UsernameKey)
                        .do_nothing()
                        .to_owned(),
                )
                .returning_col(user::Column::UsernameKey);
            let rows = txn.query_all(&insert).await.map_err(|e| self.error(e))?;
            let mut inserted: HashMap<String, usize> = HashMap::new();
            for row in rows {
                let key: String = row.try_get("", "username_key").map_err(|e| self.error(e))?;
                *inserted.entry(key).or_default() += 1;
            }
            // A key given twice is inserted once: the first row of it is the new one.
            for (username, _) in chunk {
                let outcome = match inserted.get_mut(username.key()) {
                    Some(left) if *left > 0 => {
                        *left -= 1;
                        ImportOutcome::New
                    }
                    _ => ImportOutcome::Existing,
                };
                outcomes.push(outcome);
            }
        }
        let commit = match mode {
            ImportMode::SkipExisting => true,
            ImportMode::AllOrNothing => outcomes.iter().all(|o| *o == ImportOutcome::New),
            ImportMode::DryRun => false,
        };
        if commit {
            txn.commit().await.map_err(|e| self.error(e))?;
        } else {
            txn.rollback().await.map_err(|e| self.error(e))?;
        }
        Ok(ImportReport {
            outcomes,
            committed: commit,
        })
    }
}

#[async_trait]
impl SessionStore for SeaStore {
    async fn insert_session(&self, new: &NewSession) -> Result<SessionId, StoreError> {
        let SessionDeadlines {
            expires_at,
            idle_expires_at,
        } = new.deadlines;
        let model = session::ActiveModel {
            id: NotSet,
            token_digest: Set(new.digest.as_bytes().to_vec()),
            user_id: Set(new.user_id.0),
            created_at: Set(to_ms(new.created_at)),
            last_seen_at: Set(to_ms(new.created_at)),
            authenticated_at: Set(to_ms(new.authenticated_at)),
            expires_at: Set(to_ms(expires_at)),
            idle_expires_at: Set(idle_expires_at.map(to_ms)),
            remember: Set(new.remember),
            user_agent: Set(new.user_agent.clone()),
        }
        .insert(&self.db)
        .await
        .map_err(|e| self.error(e))?;
        Ok(model.id)
    }

    async fn load_session(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        // The hot path: one indexed read joining the session to its user.
        let found = session::Entity::find()
            .filter(session::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .filter(live_at(now))
            .find_also_related(user::Entity)
            .one(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        match found {
            Some((session, Some(user))) => Ok(Some((session_from(session)?, user_from(user)?))),
            _ => Ok(None),
        }
    }

    async fn touch_session(
        &self,
        digest: &TokenDigest,
        touch: &SessionTouch,
    ) -> Result<(), StoreError> {
        session::Entity::update_many()
            .col_expr(
                session::Column::LastSeenAt,
                Expr::value(to_ms(touch.last_seen_at)),
            )
            .col_expr(
                session::Column::IdleExpiresAt,
                Expr::value(touch.idle_expires_at.map(to_ms)),
            )
            .filter(session::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .exec(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn mark_authenticated(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        session::Entity::update_many()
            .col_expr(session::Column::AuthenticatedAt, Expr::value(to_ms(now)))
            .filter(session::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .exec(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn delete_user_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> Result<bool, StoreError> {
        let result = session::Entity::delete_many()
            .filter(session::Column::Id.eq(session_id))
            .filter(session::Column::UserId.eq(user_id.0))
            .exec(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected > 0)
    }

    async fn delete_session(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        let result = session::Entity::delete_many()
            .filter(session::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .exec(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected > 0)
    }

    async fn delete_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError> {
        let mut query =
            session::Entity::delete_many().filter(session::Column::UserId.eq(user_id.0));
        if let Some(keep) = keep {
            query = query.filter(session::Column::TokenDigest.ne(keep.as_bytes().to_vec()));
        }
        let result = query.exec(&self.db).await.map_err(|e| self.error(e))?;
        Ok(result.rows_affected)
    }

    async fn list_user_sessions(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        session::Entity::find()
            .filter(session::Column::UserId.eq(user_id.0))
            .filter(live_at(now))
            .order_by_asc(session::Column::CreatedAt)
            .order_by_asc(session::Column::Id)
            .all(&self.db)
            .await
            .map_err(|e| self.error(e))?
            .into_iter()
            .map(session_from)
            .collect()
    }

    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now = to_ms(now);
        let result = session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(session::Column::ExpiresAt.lte(now))
                    .add(session::Column::IdleExpiresAt.lte(now)),
            )
            .exec(&self.db)
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected)
    }
}

#[async_trait]
impl AuthStore for SeaStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(|e| self.error(e))
    }

    fn backend_name(&self) -> &'static str {
        self.backend
    }
}
