//! Following the changes the database announces (migration m0006) into a session cache: the
//! [`ChangeFollower`] a backend plugs into [`SeaStore`](crate::SeaStore), and
//! [`poll_change_table`], SQLite's.

use crate::migration::m0006_announce_session_changes::KEPT_FOR_SECONDS;
use auth_core::{SessionCache, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A backend's way of following announced changes: runs until aborted, evicting the users
/// named and keeping the cache's feed fresh (see [`auth_core::session_cache`]).
pub type ChangeFollower =
    fn(DatabaseConnection, SessionCache) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// How often [`poll_change_table`] reads what is new: a change made by another process is
/// seen within this plus one read, well inside the contract's second.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Changes read at most per query; a longer backlog is read in several.
const BATCH: i64 = 10_000;

/// SQLite's follower: reads the `session_changes` rows appended since the last read, every
/// [`POLL_INTERVAL`]. A read that fails empties the cache and bypasses it until a read
/// succeeds again.
pub fn poll_change_table(
    db: DatabaseConnection,
    cache: SessionCache,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut last_seen: Option<i64> = None;
        let mut failing = false;
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let started = Instant::now();
            match read_new_changes(&db, &cache, &mut last_seen).await {
                Ok(()) => {
                    if failing {
                        tracing::info!("the session cache follows the database again");
                        failing = false;
                    }
                    cache.feed_fresh_at(started);
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot read session changes; the session cache is bypassed until it can");
                        failing = true;
                    }
                    cache.feed_lost();
                    // Start again from the newest row once the database answers: the cache is
                    // empty, so nothing older matters.
                    last_seen = None;
                }
            }
        }
    })
}

async fn read_new_changes(
    db: &DatabaseConnection,
    cache: &SessionCache,
    last_seen: &mut Option<i64>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let Some(mut after) = *last_seen else {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COALESCE(MAX(seq), 0) AS seq FROM session_changes",
            ))
            .await?;
        let newest = match row {
            Some(row) => row.try_get::<i64>("", "seq")?,
            None => 0,
        };
        *last_seen = Some(newest);
        return Ok(());
    };
    loop {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT seq, user_id FROM session_changes WHERE seq > ? ORDER BY seq LIMIT ?",
                [after.into(), BATCH.into()],
            ))
            .await?;
        let count = rows.len();
        for row in rows {
            let seq: i64 = row.try_get("", "seq")?;
            let user: i64 = row.try_get("", "user_id")?;
            cache.evict_user(UserId(user));
            after = after.max(seq);
        }
        *last_seen = Some(after);
        if i64::try_from(count).unwrap_or(i64::MAX) < BATCH {
            return Ok(());
        }
    }
}

/// The statement that deletes change rows older than [`KEPT_FOR_SECONDS`] at `now_seconds`.
pub(crate) fn purge_statement(db: &DatabaseConnection, now_seconds: i64) -> Statement {
    Statement::from_sql_and_values(
        db.get_database_backend(),
        "DELETE FROM session_changes WHERE changed_at < ?",
        [(now_seconds - KEPT_FOR_SECONDS).into()],
    )
}
