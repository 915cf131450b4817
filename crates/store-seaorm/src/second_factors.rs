//! [`SecondFactorStore`] on SeaORM: the sealed TOTP secret on `users`, `recovery_codes`.

use crate::entity::{passkey, recovery_code, user, webauthn_ceremony};
use crate::{SeaStore, from_ms, to_ms, user_from};
use async_trait::async_trait;
use auth_core::{PasskeyRecord, SecondFactorStore, SecondFactors, StoreError, User, UserId};
use sea_orm::QueryOrder;
use time::OffsetDateTime;

fn passkey_from(model: passkey::Model) -> Result<PasskeyRecord, StoreError> {
    Ok(PasskeyRecord {
        id: model.public_id,
        user_id: UserId(model.user_id),
        credential_id: model.credential_id,
        name: model.name,
        credential: model.credential,
        created_at: from_ms(model.created_at)?,
        last_used_at: model.last_used_at.map(from_ms).transpose()?,
    })
}
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};

async fn insert_codes(
    store: &SeaStore,
    txn: &impl ConnectionTrait,
    user_id: UserId,
    codes: &[[u8; 32]],
) -> Result<(), StoreError> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id.0))
        .exec(txn)
        .await
        .map_err(|e| store.error(e))?;
    if codes.is_empty() {
        return Ok(());
    }
    let rows = codes.iter().map(|digest| recovery_code::ActiveModel {
        user_id: Set(user_id.0),
        code_digest: Set(digest.to_vec()),
    });
    recovery_code::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await
        .map_err(|e| store.error(e))?;
    Ok(())
}

#[async_trait]
impl SecondFactorStore for SeaStore {
    async fn second_factors(&self, user_id: UserId) -> Result<SecondFactors, StoreError> {
        let totp: Option<Option<Vec<u8>>> = user::Entity::find_by_id(user_id.0)
            .select_only()
            .column(user::Column::TotpSecret)
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        let recovery_codes = recovery_code::Entity::find()
            .filter(recovery_code::Column::UserId.eq(user_id.0))
            .count(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        let passkeys = passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user_id.0))
            .count(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(SecondFactors {
            totp: totp.flatten().is_some(),
            recovery_codes: u32::try_from(recovery_codes).unwrap_or(u32::MAX),
            passkeys: u32::try_from(passkeys).unwrap_or(u32::MAX),
        })
    }

    async fn enable_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        recovery_codes: &[[u8; 32]],
    ) -> Result<bool, StoreError> {
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        let updated = user::Entity::update_many()
            .col_expr(
                user::Column::TotpSecret,
                Expr::value(Some(sealed_secret.to_vec())),
            )
            .col_expr(user::Column::TotpLastStep, Expr::value(Option::<i64>::None))
            .filter(user::Column::Id.eq(user_id.0))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        if updated.rows_affected == 0 {
            return Ok(false);
        }
        insert_codes(self, &txn, user_id, recovery_codes).await?;
        txn.commit().await.map_err(|e| self.error(e))?;
        Ok(true)
    }

    async fn totp_secret(&self, user_id: UserId) -> Result<Option<Vec<u8>>, StoreError> {
        let secret: Option<Option<Vec<u8>>> = user::Entity::find_by_id(user_id.0)
            .select_only()
            .column(user::Column::TotpSecret)
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(secret.flatten())
    }

    async fn accept_totp_step(&self, user_id: UserId, step: u64) -> Result<bool, StoreError> {
        let step = i64::try_from(step).map_err(StoreError::database)?;
        let updated = user::Entity::update_many()
            .col_expr(user::Column::TotpLastStep, Expr::value(Some(step)))
            .filter(user::Column::Id.eq(user_id.0))
            .filter(user::Column::TotpSecret.is_not_null())
            .filter(
                Condition::any()
                    .add(user::Column::TotpLastStep.is_null())
                    .add(user::Column::TotpLastStep.lt(step)),
            )
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(updated.rows_affected == 1)
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        digest: &[u8; 32],
    ) -> Result<bool, StoreError> {
        let deleted = recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user_id.0))
            .filter(recovery_code::Column::CodeDigest.eq(digest.to_vec()))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(deleted.rows_affected == 1)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        insert_codes(self, &txn, user_id, recovery_codes).await?;
        txn.commit().await.map_err(|e| self.error(e))
    }

    async fn clear_second_factors(&self, user_id: UserId) -> Result<bool, StoreError> {
        let txn = self.connection().begin().await.map_err(|e| self.error(e))?;
        let totp = user::Entity::update_many()
            .col_expr(
                user::Column::TotpSecret,
                Expr::value(Option::<Vec<u8>>::None),
            )
            .col_expr(user::Column::TotpLastStep, Expr::value(Option::<i64>::None))
            .filter(user::Column::Id.eq(user_id.0))
            .filter(user::Column::TotpSecret.is_not_null())
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        let codes = recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user_id.0))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        let passkeys = passkey::Entity::delete_many()
            .filter(passkey::Column::UserId.eq(user_id.0))
            .exec(&txn)
            .await
            .map_err(|e| self.error(e))?;
        txn.commit().await.map_err(|e| self.error(e))?;
        Ok(totp.rows_affected > 0 || codes.rows_affected > 0 || passkeys.rows_affected > 0)
    }

    async fn webauthn_handle(
        &self,
        user_id: UserId,
        candidate: [u8; 16],
    ) -> Result<[u8; 16], StoreError> {
        // Set only where unset, then read: two first registrations at once agree on one.
        user::Entity::update_many()
            .col_expr(
                user::Column::WebauthnHandle,
                Expr::value(Some(candidate.to_vec())),
            )
            .filter(user::Column::Id.eq(user_id.0))
            .filter(user::Column::WebauthnHandle.is_null())
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        let stored: Option<Option<Vec<u8>>> = user::Entity::find_by_id(user_id.0)
            .select_only()
            .column(user::Column::WebauthnHandle)
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        stored
            .flatten()
            .and_then(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).ok())
            .ok_or_else(|| StoreError::database(format!("no WebAuthn handle for user {user_id}")))
    }

    async fn find_user_by_webauthn_handle(
        &self,
        handle: &[u8],
    ) -> Result<Option<User>, StoreError> {
        user::Entity::find()
            .filter(user::Column::WebauthnHandle.eq(handle.to_vec()))
            .one(self.connection())
            .await
            .map_err(|e| self.error(e))?
            .map(user_from)
            .transpose()
    }

    async fn add_passkey(&self, record: &PasskeyRecord) -> Result<(), StoreError> {
        let row = passkey::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            public_id: Set(record.id.clone()),
            user_id: Set(record.user_id.0),
            credential_id: Set(record.credential_id.clone()),
            name: Set(record.name.clone()),
            credential: Set(record.credential.clone()),
            created_at: Set(to_ms(record.created_at)),
            last_used_at: Set(record.last_used_at.map(to_ms)),
        };
        passkey::Entity::insert(row)
            .exec_without_returning(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn passkeys(&self, user_id: UserId) -> Result<Vec<PasskeyRecord>, StoreError> {
        passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user_id.0))
            .order_by_asc(passkey::Column::Id)
            .all(self.connection())
            .await
            .map_err(|e| self.error(e))?
            .into_iter()
            .map(passkey_from)
            .collect()
    }

    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        passkey::Entity::find()
            .filter(passkey::Column::CredentialId.eq(credential_id.to_vec()))
            .one(self.connection())
            .await
            .map_err(|e| self.error(e))?
            .map(passkey_from)
            .transpose()
    }

    async fn record_passkey_use(
        &self,
        id: &str,
        credential: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut update = passkey::Entity::update_many()
            .col_expr(passkey::Column::LastUsedAt, Expr::value(Some(to_ms(now))));
        if let Some(credential) = credential {
            update = update.col_expr(
                passkey::Column::Credential,
                Expr::value(credential.to_owned()),
            );
        }
        update
            .filter(passkey::Column::PublicId.eq(id))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn rename_passkey(
        &self,
        user_id: UserId,
        id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let updated = passkey::Entity::update_many()
            .col_expr(passkey::Column::Name, Expr::value(name.to_owned()))
            .filter(passkey::Column::UserId.eq(user_id.0))
            .filter(passkey::Column::PublicId.eq(id))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(updated.rows_affected > 0)
    }

    async fn remove_passkey(&self, user_id: UserId, id: &str) -> Result<bool, StoreError> {
        let deleted = passkey::Entity::delete_many()
            .filter(passkey::Column::UserId.eq(user_id.0))
            .filter(passkey::Column::PublicId.eq(id))
            .exec(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(deleted.rows_affected > 0)
    }

    async fn save_ceremony(
        &self,
        id: &str,
        user_id: Option<UserId>,
        purpose: &str,
        state: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let row = webauthn_ceremony::ActiveModel {
            id: Set(id.to_owned()),
            user_id: Set(user_id.map(|u| u.0)),
            purpose: Set(purpose.to_owned()),
            state: Set(state.to_owned()),
            expires_at: Set(to_ms(expires_at)),
        };
        webauthn_ceremony::Entity::insert(row)
            .exec_without_returning(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn take_ceremony(
        &self,
        id: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(Option<UserId>, String)>, StoreError> {
        let taken = webauthn_ceremony::Entity::delete_many()
            .filter(webauthn_ceremony::Column::Id.eq(id))
            .filter(webauthn_ceremony::Column::Purpose.eq(purpose))
            .filter(webauthn_ceremony::Column::ExpiresAt.gt(to_ms(now)))
            .exec_with_returning(self.connection())
            .await
            .map_err(|e| self.error(e))?;
        Ok(taken
            .into_iter()
            .next()
            .map(|row| (row.user_id.map(UserId), row.state)))
    }
}
