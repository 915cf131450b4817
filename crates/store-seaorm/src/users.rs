//! [`UserStore`] on SeaORM: users, their hashes and auth stamps, and imports.

use crate::entity::user;
use crate::{SeaStore, to_ms, user_from};
use async_trait::async_trait;
use auth_core::store::{ImportMode, ImportOutcome, ImportReport, new_auth_stamp};
use auth_core::{
    EmailAddress, PasswordHashString, StoreError, User, UserCredentials, UserId, UserStore,
    Username,
};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Rows per `INSERT` of an import: 5 bound values each keeps a statement far below SQLite's
/// (32,766) and PostgreSQL's (65,535) limits on bound parameters.
const IMPORT_CHUNK_ROWS: usize = 500;

#[async_trait]
impl UserStore for SeaStore {
    async fn create_user(
        &self,
        username: &Username,
        password_hash: &PasswordHashString,
        email: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let model = user::ActiveModel {
            email: Set(email.map(|e| e.as_str().to_owned())),
            email_key: Set(email.map(EmailAddress::key)),
            email_verified_at: Set(None),
            totp_secret: Set(None),
            totp_last_step: Set(None),
            webauthn_handle: Set(None),
            id: NotSet,
            username: Set(username.as_str().to_owned()),
            username_key: Set(username.key().to_owned()),
            username_skeleton: Set(Some(username.skeleton())),
            password_hash: Set(password_hash.expose().to_owned()),
            auth_stamp: Set(new_auth_stamp()),
            created_at: Set(to_ms(now)),
        }
        .insert(self.connection())
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
            .one(self.connection())
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
            .one(self.connection())
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
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn rotate_auth_stamp(&self, id: UserId) -> Result<String, StoreError> {
        let stamp = new_auth_stamp();
        user::Entity::update_many()
            .col_expr(user::Column::AuthStamp, Expr::value(stamp.clone()))
            .filter(user::Column::Id.eq(id.0))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(stamp)
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        // Sessions go with the user through the foreign key's ON DELETE CASCADE.
        let result = user::Entity::delete_many()
            .filter(user::Column::Id.eq(id.0))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected > 0)
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(self.connection())
            .await
            .map_err(|e| self.error(e))?
            .into_iter()
            .map(user_from)
            .collect()
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        user::Entity::find()
            .count(self.connection())
            .await
            .map_err(|e| self.error(e))
    }

    async fn list_credentials(
        &self,
        after: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<UserCredentials>, StoreError> {
        let mut query = user::Entity::find().order_by_asc(user::Column::Id);
        if let Some(after) = after {
            query = query.filter(user::Column::Id.gt(after.0));
        }
        query
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(|e| self.error(e))?
            .into_iter()
            .map(|model| {
                let password_hash = PasswordHashString::new(model.password_hash.clone());
                Ok(UserCredentials {
                    user: user_from(model)?,
                    password_hash,
                })
            })
            .collect()
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        expected: &PasswordHashString,
        new: &PasswordHashString,
    ) -> Result<bool, StoreError> {
        let result = user::Entity::update_many()
            .col_expr(
                user::Column::PasswordHash,
                Expr::value(new.expose().to_owned()),
            )
            .filter(user::Column::Id.eq(id.0))
            .filter(user::Column::PasswordHash.eq(expected.expose()))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected > 0)
    }

    async fn import_users(
        &self,
        users: &[(Username, PasswordHashString)],
        mode: ImportMode,
        now: OffsetDateTime,
    ) -> Result<ImportReport, StoreError> {
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        let mut outcomes = Vec::with_capacity(users.len());
        for chunk in users.chunks(IMPORT_CHUNK_ROWS) {
            let mut insert = Query::insert();
            insert.into_table(user::Entity).columns([
                user::Column::Username,
                user::Column::UsernameKey,
                user::Column::UsernameSkeleton,
                user::Column::PasswordHash,
                user::Column::AuthStamp,
                user::Column::CreatedAt,
            ]);
            for (username, hash) in chunk {
                insert
                    .values([
                        username.as_str().into(),
                        username.key().into(),
                        username.skeleton().into(),
                        hash.expose().into(),
                        new_auth_stamp().into(),
                        to_ms(now).into(),
                    ])
                    .map_err(StoreError::database)?;
            }
            // DO NOTHING rather than catching unique violations: on PostgreSQL a failed
            // statement aborts the whole transaction. RETURNING names exactly the rows this
            // statement inserted, so a name registered concurrently counts as existing.
            // No conflict target: a name whose identity or confusable skeleton is taken is
            // existing either way.
            insert
                .on_conflict(OnConflict::new().do_nothing().to_owned())
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
