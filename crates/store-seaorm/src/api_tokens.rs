//! [`ApiTokenStore`] on SeaORM: `api_tokens`, keyed by the SHA-256 of the secret.

use crate::entity::{api_token, user};
use crate::{SeaStore, from_ms, to_ms, user_from};
use async_trait::async_trait;
use auth_core::api_token::{ApiTokenRecord, NewApiToken};
use auth_core::session::SessionId;
use auth_core::{ApiTokenStore, StoreError, TokenDigest, User, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use time::OffsetDateTime;

fn record_from(model: api_token::Model) -> Result<ApiTokenRecord, StoreError> {
    Ok(ApiTokenRecord {
        id: SessionId::from_stored(model.public_id),
        user_id: UserId(model.user_id),
        name: model.name,
        created_at: from_ms(model.created_at)?,
        expires_at: from_ms(model.expires_at)?,
        last_used_at: model.last_used_at.map(from_ms).transpose()?,
    })
}

#[async_trait]
impl ApiTokenStore for SeaStore {
    async fn insert_api_token(
        &self,
        token: &NewApiToken,
        max_per_user: u64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let record = &token.record;
        // Dropping the transaction without commit rolls it back.
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        let held = api_token::Entity::find()
            .filter(api_token::Column::UserId.eq(record.user_id.0))
            .filter(api_token::Column::ExpiresAt.gt(to_ms(now)))
            .count(&txn)
            .await
            .map_err(|e| self.error(e))?;
        if held >= max_per_user {
            return Ok(false);
        }
        api_token::Entity::insert(api_token::ActiveModel {
            id: NotSet,
            public_id: Set(record.id.as_str().to_owned()),
            token_digest: Set(token.digest.as_bytes().to_vec()),
            user_id: Set(record.user_id.0),
            name: Set(record.name.clone()),
            created_at: Set(to_ms(record.created_at)),
            expires_at: Set(to_ms(record.expires_at)),
            last_used_at: Set(record.last_used_at.map(to_ms)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| self.error(e))?;
        txn.commit().await.map_err(|e| self.error(e))?;
        Ok(true)
    }

    async fn load_api_token(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(ApiTokenRecord, User)>, StoreError> {
        // Like a session: one indexed read joining the token to its user.
        let found = api_token::Entity::find()
            .filter(api_token::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .filter(api_token::Column::ExpiresAt.gt(to_ms(now)))
            .find_also_related(user::Entity)
            .one(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        match found {
            Some((token, Some(user))) => Ok(Some((record_from(token)?, user_from(user)?))),
            _ => Ok(None),
        }
    }

    async fn list_api_tokens(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<ApiTokenRecord>, StoreError> {
        api_token::Entity::find()
            .filter(api_token::Column::UserId.eq(user_id.0))
            .filter(api_token::Column::ExpiresAt.gt(to_ms(now)))
            .order_by_desc(api_token::Column::CreatedAt)
            .order_by_desc(api_token::Column::Id)
            .all(self.connection())
            .await
            .map_err(|e| self.error(e))?
            .into_iter()
            .map(record_from)
            .collect()
    }

    async fn delete_api_token(&self, user_id: UserId, id: &SessionId) -> Result<bool, StoreError> {
        let deleted = api_token::Entity::delete_many()
            .filter(api_token::Column::UserId.eq(user_id.0))
            .filter(api_token::Column::PublicId.eq(id.as_str()))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(deleted.rows_affected > 0)
    }

    async fn delete_api_tokens(
        &self,
        user_id: UserId,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        let mut query =
            api_token::Entity::delete_many().filter(api_token::Column::UserId.eq(user_id.0));
        if let Some(kept) = except {
            query = query.filter(api_token::Column::PublicId.ne(kept.as_str()));
        }
        let deleted = query
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(deleted.rows_affected)
    }

    async fn record_api_token_use(
        &self,
        digest: &TokenDigest,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(to_ms(at)))
            .filter(api_token::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn purge_expired_api_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let deleted = api_token::Entity::delete_many()
            .filter(api_token::Column::ExpiresAt.lte(to_ms(now)))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(deleted.rows_affected)
    }
}
