//! Stored sessions for the "1,000 against 1,000,000 stored sessions" phases, written straight
//! into the leg's database (one `INSERT … SELECT` over a generated series, so a million rows
//! take seconds, not a million logins). They belong to one benchmark user, are live for a day,
//! and their tokens are random: no request ever presents them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement};

use crate::error::{Context, Error, Result};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// How long a write may wait for the server's own SQLite writes.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

async fn connect(database_url: &str) -> Result<DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(database_url.to_owned());
    options.sqlx_logging(false).max_connections(1);
    if database_url.starts_with("sqlite:") {
        options.map_sqlx_sqlite_opts(|o| o.busy_timeout(BUSY_TIMEOUT));
    }
    Database::connect(options)
        .await
        .context("cannot open the leg's database to seed sessions")
}

/// Adds sessions of the user `username_key` until the database holds `total` sessions in all;
/// returns how many it holds then.
pub async fn top_up_sessions(database_url: &str, username_key: &str, total: u64) -> Result<u64> {
    let db = connect(database_url).await?;
    let backend = db.get_database_backend();
    let stored = count(&db).await?;
    let missing = total.saturating_sub(stored);
    if missing == 0 {
        return Ok(stored);
    }
    let user = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, "SELECT id FROM users WHERE username_key = ?"),
            [username_key.into()],
        ))
        .await
        .context("cannot find the user to seed sessions for")?
        .ok_or_else(|| Error::new(format!("no user {username_key} to seed sessions for")))?;
    let user_id: i64 = user
        .try_get("", "id")
        .context("cannot read the user's id")?;
    let now_ms = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let missing = i64::try_from(missing).unwrap_or(i64::MAX);
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "INSERT INTO sessions (public_id, token_digest, user_id, created_at, last_seen_at, \
             authenticated_at, expires_at, idle_expires_at, remember, user_agent) \
             SELECT md5(random()::text || i::text), \
                    decode(md5(random()::text) || md5(i::text || random()::text), 'hex'), \
                    $1, $2, $2, $2, $3, $3, false, NULL \
             FROM generate_series(1, $4) AS i"
        }
        _ => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?4) \
             INSERT INTO sessions (public_id, token_digest, user_id, created_at, last_seen_at, \
             authenticated_at, expires_at, idle_expires_at, remember, user_agent) \
             SELECT lower(hex(randomblob(16))), randomblob(32), ?1, ?2, ?2, ?2, ?3, ?3, 0, NULL \
             FROM n"
        }
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [
            user_id.into(),
            now_ms.into(),
            (now_ms + DAY_MS).into(),
            missing.into(),
        ],
    ))
    .await
    .context("cannot seed sessions")?;
    let stored = count(&db).await?;
    db.close()
        .await
        .context("cannot close the seeding connection")?;
    Ok(stored)
}

async fn count(db: &DatabaseConnection) -> Result<u64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM sessions",
        ))
        .await
        .context("cannot count the stored sessions")?
        .ok_or_else(|| Error::new("COUNT(*) returned no row"))?;
    let n: i64 = row
        .try_get("", "n")
        .context("cannot read the session count")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `sql` with `?` placeholders in the backend's style.
fn placeholders(backend: DatabaseBackend, sql: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => sql.replacen('?', "$1", 1),
        _ => sql.to_owned(),
    }
}
