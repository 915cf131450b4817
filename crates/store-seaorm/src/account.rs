//! [`AuthStore`] on SeaORM: the writes that span users and sessions, and the health check.

use crate::emails::take_link;
use crate::entity::{email_link, session, user};
use crate::sessions::insert_session;
use crate::{SeaStore, user_from};
use async_trait::async_trait;
use auth_core::store::{PasswordChanged, new_auth_stamp};
use auth_core::{
    AuthStore, LinkPurpose, NewSession, PasswordHashString, SessionCache, StoreError, TokenDigest,
    User, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use time::OffsetDateTime;

#[async_trait]
impl AuthStore for SeaStore {
    async fn change_password(
        &self,
        id: UserId,
        password_hash: &PasswordHashString,
        renewed: Option<&NewSession>,
    ) -> Result<PasswordChanged, StoreError> {
        let auth_stamp = new_auth_stamp();
        // Dropping the transaction without commit rolls it back, so every early return below
        // leaves the user exactly as they were.
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        let updated = user::Entity::update_many()
            .col_expr(
                user::Column::PasswordHash,
                Expr::value(password_hash.expose().to_owned()),
            )
            .col_expr(user::Column::AuthStamp, Expr::value(auth_stamp.clone()))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        if updated.rows_affected == 0 {
            return Err(StoreError::database(format!("no user with id {id}")));
        }
        let ended = session::Entity::delete_many()
            .filter(session::Column::UserId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        if let Some(renewed) = renewed {
            insert_session(self, &txn, renewed).await?;
        }
        txn.commit().await.map_err(|e| self.error(e))?;
        Ok(PasswordChanged {
            auth_stamp,
            sessions_ended: ended.rows_affected,
        })
    }

    async fn reset_password(
        &self,
        digest: &TokenDigest,
        password_hash: &PasswordHashString,
        now: OffsetDateTime,
    ) -> Result<Option<(User, PasswordChanged)>, StoreError> {
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        let Some(link) = take_link(self, &txn, digest, LinkPurpose::ResetPassword, now).await?
        else {
            return Ok(None);
        };
        let id = link.user_id;
        let auth_stamp = new_auth_stamp();
        user::Entity::update_many()
            .col_expr(
                user::Column::PasswordHash,
                Expr::value(password_hash.expose().to_owned()),
            )
            .col_expr(user::Column::AuthStamp, Expr::value(auth_stamp.clone()))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        let ended = session::Entity::delete_many()
            .filter(session::Column::UserId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        email_link::Entity::delete_many()
            .filter(email_link::Column::UserId.eq(id.0))
            .filter(email_link::Column::Purpose.eq(LinkPurpose::ResetPassword.as_str()))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        // The link's user is deleted with their links (a cascade), so they exist here.
        let Some(user) = user::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Err(StoreError::database(format!("no user with id {id}")));
        };
        let user = user_from(user)?;
        txn.commit().await.map_err(|e| self.error(e))?;
        Ok(Some((
            user,
            PasswordChanged {
                auth_stamp,
                sessions_ended: ended.rows_affected,
            },
        )))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.connection().ping().await.map_err(|e| self.error(e))
    }

    fn backend_name(&self) -> &'static str {
        self.backend
    }

    fn error_counts(&self) -> Option<auth_core::StoreErrorCounts> {
        Some(SeaStore::error_counts(self))
    }

    fn follow_changes(&self, cache: SessionCache) -> Option<tokio::task::JoinHandle<()>> {
        let follower = self.follower?;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => Some(runtime.spawn(follower(self.connection().clone(), cache))),
            Err(_) => {
                tracing::warn!(
                    "no Tokio runtime to follow session changes in; the session cache stays bypassed"
                );
                None
            }
        }
    }
}
