//! [`EmailStore`] on SeaORM: addresses on `users`, single-use links in `email_links`.

use crate::entity::{email_link, user};
use crate::{SeaStore, from_ms, to_ms, user_from};
use async_trait::async_trait;
use auth_core::{
    EmailAddress, EmailStore, LinkPurpose, LinkRecord, StoreError, TokenDigest, User, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use time::OffsetDateTime;

pub(crate) fn purpose_from(stored: &str) -> Result<LinkPurpose, StoreError> {
    match stored {
        "verify-email" => Ok(LinkPurpose::VerifyEmail),
        "reset-password" => Ok(LinkPurpose::ResetPassword),
        other => Err(StoreError::database(format!(
            "unknown link purpose {other:?} in email_links"
        ))),
    }
}

fn link_from(model: email_link::Model) -> Result<LinkRecord, StoreError> {
    Ok(LinkRecord {
        digest: TokenDigest::from_slice(&model.token_digest)
            .ok_or_else(|| StoreError::database("a link digest is not 32 bytes"))?,
        user_id: UserId(model.user_id),
        purpose: purpose_from(&model.purpose)?,
        email: EmailAddress::from_stored(model.email),
        created_at: from_ms(model.created_at)?,
        expires_at: from_ms(model.expires_at)?,
    })
}

/// Takes (deletes and returns) the live link with `digest` and `purpose` inside `txn`: the one
/// statement that makes a link single-use, whoever races for it.
pub(crate) async fn take_link(
    store: &SeaStore,
    txn: &impl ConnectionTrait,
    digest: &TokenDigest,
    purpose: LinkPurpose,
    now: OffsetDateTime,
) -> Result<Option<LinkRecord>, StoreError> {
    let taken = email_link::Entity::delete_many()
        .filter(email_link::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
        .filter(email_link::Column::Purpose.eq(purpose.as_str()))
        .filter(email_link::Column::ExpiresAt.gt(to_ms(now)))
        .exec_with_returning(txn)
        .await
        .map_err(|e| store.error(e))?;
    taken.into_iter().next().map(link_from).transpose()
}

#[async_trait]
impl EmailStore for SeaStore {
    async fn set_email(
        &self,
        id: UserId,
        email: Option<&EmailAddress>,
        verified: bool,
    ) -> Result<bool, StoreError> {
        let key = email.map(EmailAddress::key);
        let now = to_ms(OffsetDateTime::now_utc());
        // The same address again keeps its verification; another one starts unverified.
        let verified_at = if verified {
            Expr::value(Some(now))
        } else {
            Expr::case(
                user::Column::EmailKey.eq(key.clone()),
                Expr::col(user::Column::EmailVerifiedAt),
            )
            .finally(Expr::value(Option::<i64>::None))
            .into()
        };
        let updated = user::Entity::update_many()
            .col_expr(
                user::Column::Email,
                Expr::value(email.map(|e| e.as_str().to_owned())),
            )
            .col_expr(user::Column::EmailKey, Expr::value(key))
            .col_expr(user::Column::EmailVerifiedAt, verified_at)
            .filter(user::Column::Id.eq(id.0))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(updated.rows_affected > 0)
    }

    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        user::Entity::find()
            .filter(user::Column::EmailKey.eq(email.key()))
            .one(self.connection())
            .await
            .map_err(|e| self.error(e))?
            .map(user_from)
            .transpose()
    }

    async fn insert_link(&self, link: &LinkRecord) -> Result<(), StoreError> {
        let row = email_link::ActiveModel {
            token_digest: Set(link.digest.as_bytes().to_vec()),
            user_id: Set(link.user_id.0),
            purpose: Set(link.purpose.as_str().to_owned()),
            email: Set(link.email.as_str().to_owned()),
            created_at: Set(to_ms(link.created_at)),
            expires_at: Set(to_ms(link.expires_at)),
        };
        email_link::Entity::insert(row)
            .exec_without_returning(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn find_link(
        &self,
        digest: &TokenDigest,
        purpose: LinkPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<LinkRecord>, StoreError> {
        email_link::Entity::find()
            .filter(email_link::Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .filter(email_link::Column::Purpose.eq(purpose.as_str()))
            .filter(email_link::Column::ExpiresAt.gt(to_ms(now)))
            .one(self.connection())
            .await
            .map_err(|e| self.error(e))?
            .map(link_from)
            .transpose()
    }

    async fn verify_email(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        let Some(link) = take_link(self, &txn, digest, LinkPurpose::VerifyEmail, now).await? else {
            return Ok(None);
        };
        let updated = user::Entity::update_many()
            .col_expr(user::Column::EmailVerifiedAt, Expr::value(Some(to_ms(now))))
            .filter(user::Column::Id.eq(link.user_id.0))
            .filter(user::Column::EmailKey.eq(link.email.key()))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        let user = if updated.rows_affected > 0 {
            user::Entity::find_by_id(link.user_id.0)
                .one(&txn)
                .await
                .map_err(|e| self.error(e))?
                .map(user_from)
                .transpose()?
        } else {
            None
        };
        // Committed either way: a link to a replaced address is used up, not left lying around.
        txn.commit().await.map_err(|e| self.error(e))?;
        Ok(user)
    }
}
