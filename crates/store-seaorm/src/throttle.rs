//! Login-failure counters ([`FailureCounterStore`]) in the `login_failures` table.
//!
//! One row per [`ThrottleKey`]: the failures counted in the current window and when the window
//! ends (Unix ms). Counting is a single `INSERT … ON CONFLICT (key) DO UPDATE … RETURNING`
//! statement, which SQLite (3.35+) and PostgreSQL both run atomically, so failures recorded at
//! the same moment by several server instances are all counted.

use crate::{SeaStore, from_ms, to_ms};
use async_trait::async_trait;
use auth_core::StoreError;
use auth_core::throttle::{FailureCount, FailureCounterStore, ThrottleKey};
use sea_orm::sea_query::{Alias, CaseStatement, Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;

/// The `login_failures` table.
pub mod login_failure {
    use sea_orm::entity::prelude::*;

    /// A row of `login_failures`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_failures")]
    pub struct Model {
        /// [`auth_core::ThrottleKey::as_str`].
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// Failures in the current window.
        pub count: i64,
        /// End of the current window, Unix ms; the row is stale from then on.
        pub window_ends_at: i64,
    }

    /// `login_failures` relates to nothing: counters exist for unknown usernames too.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use login_failure::{Column, Entity};

fn count_from(model: &login_failure::Model) -> Result<FailureCount, StoreError> {
    Ok(FailureCount {
        // A count past u32::MAX cannot happen within any window; saturate rather than fail.
        count: u32::try_from(model.count.max(0)).unwrap_or(u32::MAX),
        window_ends_at: window_end(model.window_ends_at),
    })
}

/// A stored window end; one out of the range of dates (written by a release that accepted
/// absurd windows) counts as ended, rather than failing every later login.
fn window_end(ms: i64) -> OffsetDateTime {
    from_ms(ms).unwrap_or_else(|_| {
        tracing::warn!(
            window_ends_at = ms,
            "a login-failure counter with an impossible window end is ignored"
        );
        OffsetDateTime::UNIX_EPOCH
    })
}

/// Unix ms `window` after `now`, saturating rather than overflowing on absurd windows.
fn window_end_ms(now: OffsetDateTime, window: Duration) -> i64 {
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    to_ms(now).saturating_add(window_ms)
}

#[async_trait]
impl FailureCounterStore for SeaStore {
    async fn failure_counts(
        &self,
        keys: &[ThrottleKey],
        now: OffsetDateTime,
    ) -> Result<Vec<Option<FailureCount>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One read for every key; stale rows are filtered here, purged later.
        let rows = Entity::find()
            .filter(Column::Key.is_in(keys.iter().map(|k| k.as_str().to_owned())))
            .filter(Column::WindowEndsAt.gt(to_ms(now)))
            .all(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        let by_key: HashMap<&str, &login_failure::Model> =
            rows.iter().map(|row| (row.key.as_str(), row)).collect();
        keys.iter()
            .map(|key| {
                by_key
                    .get(key.as_str())
                    .map(|row| count_from(row))
                    .transpose()
            })
            .collect()
    }

    async fn record_failure(
        &self,
        key: &ThrottleKey,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<FailureCount, StoreError> {
        record(self, self.connection(), key, window, now).await
    }

    async fn record_failures(
        &self,
        keys: &[(ThrottleKey, Duration)],
        now: OffsetDateTime,
    ) -> Result<Vec<FailureCount>, StoreError> {
        // One commit for the attempt. Counters are written in key order, so concurrent attempts
        // sharing counters take their row locks in the same order and cannot deadlock.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|&a, &b| keys[a].0.as_str().cmp(keys[b].0.as_str()));
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        let mut counts = vec![None; keys.len()];
        for index in order {
            let (key, window) = &keys[index];
            counts[index] = Some(record(self, &txn, key, *window, now).await?);
        }
        txn.commit().await.map_err(|e| self.error(e))?;
        counts
            .into_iter()
            .map(|count| count.ok_or_else(|| StoreError::database("a counter was not recorded")))
            .collect()
    }

    async fn clear_and_withdraw(
        &self,
        cleared: Option<&ThrottleKey>,
        withdrawn: &[ThrottleKey],
    ) -> Result<(), StoreError> {
        let mut keys: Vec<(&ThrottleKey, bool)> = cleared
            .map(|key| (key, true))
            .into_iter()
            .chain(withdrawn.iter().map(|key| (key, false)))
            .collect();
        keys.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        for (key, clear) in keys {
            if clear {
                clear_counter(self, &txn, key).await?;
            } else {
                withdraw(self, &txn, key).await?;
            }
        }
        txn.commit().await.map_err(|e| self.error(e))
    }

    async fn withdraw_failure(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        withdraw(self, self.connection(), key).await
    }

    async fn clear_failures(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        clear_counter(self, self.connection(), key).await
    }

    async fn purge_expired_failures(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        // Served by `idx_login_failures_window_ends_at`. A window ending more than 400 days
        // ahead was written under absurd settings that are refused now: it goes too.
        let far = to_ms(now).saturating_add(401 * 24 * 3600 * 1000);
        let result = Entity::delete_many()
            .filter(
                sea_orm::Condition::any()
                    .add(Column::WindowEndsAt.lte(to_ms(now)))
                    .add(Column::WindowEndsAt.gt(far)),
            )
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected)
    }
}

/// Counts one failure for `key` on `db` (the store's connection or a transaction).
async fn record<C: ConnectionTrait>(
    store: &SeaStore,
    db: &C,
    key: &ThrottleKey,
    window: Duration,
    now: OffsetDateTime,
) -> Result<FailureCount, StoreError> {
    use sea_orm::sea_query::ExprTrait;
    let table = Alias::new("login_failures");
    let stored = |column: Column| Expr::col((table.clone(), column));
    let proposed = |column: Column| Expr::col((Alias::new("excluded"), column));
    // In `DO UPDATE SET`, every expression sees the row as it was before the update, so both
    // columns test the same (old) window end.
    let ended = || stored(Column::WindowEndsAt).lte(to_ms(now));
    let count = CaseStatement::new()
        .case(ended(), Expr::val(1i64))
        .finally(stored(Column::Count).add(1i64));
    let window_ends_at = CaseStatement::new()
        .case(ended(), proposed(Column::WindowEndsAt))
        .finally(stored(Column::WindowEndsAt));
    let mut insert = Query::insert();
    insert
        .into_table(Entity)
        .columns([Column::Key, Column::Count, Column::WindowEndsAt])
        .values([
            key.as_str().into(),
            1i64.into(),
            window_end_ms(now, window).into(),
        ])
        .map_err(StoreError::database)?
        .on_conflict(
            OnConflict::column(Column::Key)
                .values([
                    (Column::Count, count.into()),
                    (Column::WindowEndsAt, window_ends_at.into()),
                ])
                .to_owned(),
        )
        .returning(Query::returning().columns([Column::Count, Column::WindowEndsAt]));
    let row = db
        .query_one(&insert)
        .await
        .map_err(|e| store.error(e))?
        .ok_or_else(|| StoreError::database("the upsert returned no row"))?;
    let model = login_failure::Model {
        key: key.as_str().to_owned(),
        count: row.try_get("", "count").map_err(|e| store.error(e))?,
        window_ends_at: row
            .try_get("", "window_ends_at")
            .map_err(|e| store.error(e))?,
    };
    count_from(&model)
}

/// Takes one failure back from `key` on `db`.
async fn withdraw<C: ConnectionTrait>(
    store: &SeaStore,
    db: &C,
    key: &ThrottleKey,
) -> Result<(), StoreError> {
    // One statement, so concurrent withdrawals and records stay exact.
    Entity::update_many()
        .col_expr(
            Column::Count,
            sea_orm::sea_query::ExprTrait::sub(Expr::col(Column::Count), 1),
        )
        .filter(Column::Key.eq(key.as_str()))
        .filter(Column::Count.gt(0))
        .exec(db)
        .await
        .map_err(|e| store.error(e))?;
    Ok(())
}

/// Deletes `key`'s counter on `db`.
async fn clear_counter<C: ConnectionTrait>(
    store: &SeaStore,
    db: &C,
    key: &ThrottleKey,
) -> Result<(), StoreError> {
    Entity::delete_many()
        .filter(Column::Key.eq(key.as_str()))
        .exec(db)
        .await
        .map_err(|e| store.error(e))?;
    Ok(())
}
