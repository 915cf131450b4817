//! [`SecondFactorStore`] on SeaORM: the sealed TOTP secret on `users`, `recovery_codes`.

use crate::SeaStore;
use crate::entity::{recovery_code, user};
use async_trait::async_trait;
use auth_core::{SecondFactorStore, SecondFactors, StoreError, UserId};
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
        Ok(SecondFactors {
            totp: totp.flatten().is_some(),
            recovery_codes: u32::try_from(recovery_codes).unwrap_or(u32::MAX),
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
        txn.commit().await.map_err(|e| self.error(e))?;
        Ok(totp.rows_affected > 0 || codes.rows_affected > 0)
    }
}
