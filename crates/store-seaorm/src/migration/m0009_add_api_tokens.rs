//! Personal API tokens (contract §11): `api_tokens`, keyed by the SHA-256 of the secret, and
//! the announcement of their deletion to every process's session cache (like a session's, see
//! [`m0006_announce_session_changes`](super::m0006_announce_session_changes)).

use super::m0006_announce_session_changes::sqlite_trigger;
use sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, big_pk_auto, blob, string};

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    PublicId,
    TokenDigest,
    UserId,
    Name,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
}

/// The function of m0006 announces `OLD.user_id` on a delete.
const POSTGRES_TRIGGER: &str = "CREATE TRIGGER api_tokens_announce_change AFTER DELETE ON api_tokens \
     FOR EACH ROW EXECUTE FUNCTION wristband_announce_session_change()";

const SQLITE_TRIGGER: &str = "api_tokens_deleted";

/// See the module documentation.
pub(super) struct AddApiTokens;

impl MigrationName for AddApiTokens {
    fn name(&self) -> &str {
        "m0009_add_api_tokens"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddApiTokens {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(big_pk_auto(ApiTokens::Id))
                    .col(string(ApiTokens::PublicId).unique_key())
                    .col(blob(ApiTokens::TokenDigest).unique_key())
                    .col(big_integer(ApiTokens::UserId))
                    .col(string(ApiTokens::Name))
                    .col(big_integer(ApiTokens::CreatedAt))
                    .col(big_integer(ApiTokens::ExpiresAt))
                    .col(big_integer_null(ApiTokens::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_user")
                            .from(ApiTokens::Table, ApiTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_api_tokens_user_id", ApiTokens::UserId),
            ("idx_api_tokens_expires_at", ApiTokens::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ApiTokens::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Postgres => db.execute_unprepared(POSTGRES_TRIGGER).await?,
            _ => {
                db.execute_unprepared(&sqlite_trigger(
                    SQLITE_TRIGGER,
                    "DELETE ON api_tokens",
                    "OLD.user_id",
                ))
                .await?
            }
        };
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER api_tokens_announce_change ON api_tokens")
                    .await?
            }
            _ => {
                db.execute_unprepared(&format!("DROP TRIGGER {SQLITE_TRIGGER}"))
                    .await?
            }
        };
        manager
            .drop_table(Table::drop().table(ApiTokens::Table).to_owned())
            .await
    }
}
