//! [`SessionStore`] on SeaORM: sessions keyed by the SHA-256 of their token.

use crate::entity::{email_link, revoked_session, session, user};
use crate::{SeaStore, session_from, to_ms, user_from};
use async_trait::async_trait;
use auth_core::session::{SessionDeadlines, SessionId};
use auth_core::{
    NewSession, SessionRecord, SessionStore, SessionTouch, StoreError, TokenDigest, User, UserId,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition,
    ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
};
use time::OffsetDateTime;

/// Sessions alive at `now`: before both deadlines.
pub(crate) fn live_at(now: OffsetDateTime) -> Condition {
    let now = to_ms(now);
    Condition::all()
        .add(session::Column::ExpiresAt.gt(now))
        .add(
            Condition::any()
                .add(session::Column::IdleExpiresAt.is_null())
                .add(session::Column::IdleExpiresAt.gt(now)),
        )
}
/// Inserts `new` on `db`: the store's connection, or a transaction that includes it.
pub(crate) async fn insert_session<C: ConnectionTrait>(
    store: &SeaStore,
    db: &C,
    new: &NewSession,
) -> Result<(), StoreError> {
    let SessionDeadlines {
        expires_at,
        idle_expires_at,
    } = new.deadlines;
    session::ActiveModel {
        id: NotSet,
        public_id: Set(new.id.as_str().to_owned()),
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
    .insert(db)
    .await
    .map_err(|e| store.error(e))?;
    Ok(())
}

#[async_trait]
impl SessionStore for SeaStore {
    async fn insert_session(&self, new: &NewSession) -> Result<(), StoreError> {
        insert_session(self, self.connection(), new).await
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
            .one(self.connection())
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
            .exec(self.connection())
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
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn delete_user_session(
        &self,
        user_id: UserId,
        session_id: &SessionId,
    ) -> Result<bool, StoreError> {
        let result = session::Entity::delete_many()
            .filter(session::Column::PublicId.eq(session_id.as_str()))
            .filter(session::Column::UserId.eq(user_id.0))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(result.rows_affected > 0)
    }

    async fn delete_session(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        let result = session::Entity::delete_many()
            .filter(session::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .exec(self.connection())
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
        let result = query
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
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
            .all(self.connection())
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
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        let revocations = revoked_session::Entity::delete_many()
            .filter(revoked_session::Column::ExpiresAt.lte(now))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        // Ceremonies never finished go too (not counted: they are not sessions).
        crate::entity::webauthn_ceremony::Entity::delete_many()
            .filter(crate::entity::webauthn_ceremony::Column::ExpiresAt.lte(now))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        // Links that can no longer be used go too (not counted: they are not sessions).
        email_link::Entity::delete_many()
            .filter(email_link::Column::ExpiresAt.lte(now))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        // SQLite's announced changes go too (not counted: they are not sessions).
        if self.connection().get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            self.connection()
                .execute_raw(crate::changes::purge_statement(
                    self.connection(),
                    now.div_euclid(1000),
                ))
                .await
                .map_err(|e| self.error(e))?;
        }
        Ok(result.rows_affected + revocations.rows_affected)
    }

    async fn revoke_session(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let row = revoked_session::ActiveModel {
            session_id: Set(session_id.as_str().to_owned()),
            user_id: Set(user_id.0),
            expires_at: Set(to_ms(until)),
        };
        revoked_session::Entity::insert(row)
            .on_conflict(
                OnConflict::column(revoked_session::Column::SessionId)
                    .update_column(revoked_session::Column::ExpiresAt)
                    .to_owned(),
            )
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn find_session_user(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<(User, bool)>, StoreError> {
        // One read: the user, left-joined with a live revocation of this session.
        let revoked = revoked_session::Entity;
        let query = Query::select()
            .columns([
                (user::Entity, user::Column::Id),
                (user::Entity, user::Column::Username),
                (user::Entity, user::Column::UsernameKey),
                (user::Entity, user::Column::PasswordHash),
                (user::Entity, user::Column::AuthStamp),
                (user::Entity, user::Column::CreatedAt),
                (user::Entity, user::Column::Email),
                (user::Entity, user::Column::EmailKey),
                (user::Entity, user::Column::EmailVerifiedAt),
            ])
            .expr_as(
                Expr::col((revoked, revoked_session::Column::SessionId)),
                Alias::new("revoked_session_id"),
            )
            .from(user::Entity)
            .join(
                JoinType::LeftJoin,
                revoked,
                Condition::all()
                    .add(
                        Expr::col((revoked, revoked_session::Column::UserId))
                            .equals((user::Entity, user::Column::Id)),
                    )
                    .add(
                        Expr::col((revoked, revoked_session::Column::SessionId))
                            .eq(session_id.as_str()),
                    )
                    .add(Expr::col((revoked, revoked_session::Column::ExpiresAt)).gt(to_ms(now))),
            )
            .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id.0))
            .to_owned();
        let Some(row) = self
            .connection()
            .query_one(&query)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(None);
        };
        let model = user::Model::from_query_result(&row, "").map_err(|e| self.error(e))?;
        let revoked: Option<String> = row
            .try_get("", "revoked_session_id")
            .map_err(|e| self.error(e))?;
        Ok(Some((user_from(model)?, revoked.is_some())))
    }
}
