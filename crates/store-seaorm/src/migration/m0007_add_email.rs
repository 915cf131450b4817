//! Email addresses on users and the links sent to them (contract §9).
//!
//! `users` gains `email` (as given), `email_key` (lower-cased, unique) and `email_verified_at`;
//! `email_links` keeps each verification or reset link by its token's SHA-256. An address
//! change is announced like an auth stamp change (see [`super::m0006_announce_session_changes`]),
//! so no process's session cache keeps showing a user's old address.

use super::m0006_announce_session_changes::sqlite_trigger;
use sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, blob, string, string_null};

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailKey,
    EmailVerifiedAt,
}

#[derive(DeriveIden)]
enum EmailLinks {
    Table,
    TokenDigest,
    UserId,
    Purpose,
    Email,
    CreatedAt,
    ExpiresAt,
}

const POSTGRES_UP: &str = r#"
DROP TRIGGER users_announce_change ON users;
CREATE TRIGGER users_announce_change AFTER DELETE OR UPDATE OF auth_stamp, email, email_verified_at ON users
    FOR EACH ROW EXECUTE FUNCTION wristband_announce_session_change();
"#;

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER users_announce_change ON users;
CREATE TRIGGER users_announce_change AFTER DELETE OR UPDATE OF auth_stamp ON users
    FOR EACH ROW EXECUTE FUNCTION wristband_announce_session_change();
"#;

const SQLITE_TRIGGER: &str = "users_email_changed";

/// See the module documentation.
pub(super) struct AddEmail;

impl MigrationName for AddEmail {
    fn name(&self) -> &str {
        "m0007_add_email"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddEmail {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            string_null(Users::Email),
            string_null(Users::EmailKey),
            big_integer_null(Users::EmailVerifiedAt),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_users_email_key")
                    .table(Users::Table)
                    .col(Users::EmailKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailLinks::Table)
                    .col(blob(EmailLinks::TokenDigest).primary_key())
                    .col(big_integer(EmailLinks::UserId))
                    .col(string(EmailLinks::Purpose))
                    .col(string(EmailLinks::Email))
                    .col(big_integer(EmailLinks::CreatedAt))
                    .col(big_integer(EmailLinks::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_links_user")
                            .from(EmailLinks::Table, EmailLinks::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_email_links_user_id", EmailLinks::UserId),
            ("idx_email_links_expires_at", EmailLinks::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(EmailLinks::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
            }
            _ => {
                db.execute_unprepared(&sqlite_trigger(
                    SQLITE_TRIGGER,
                    "UPDATE OF email, email_verified_at ON users",
                    "NEW.id",
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_DOWN).await?;
            }
            _ => {
                db.execute_unprepared(&format!("DROP TRIGGER {SQLITE_TRIGGER}"))
                    .await?;
            }
        }
        manager
            .drop_table(Table::drop().table(EmailLinks::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_email_key")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Users::EmailVerifiedAt, Users::EmailKey, Users::Email] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
