//! Schema migrations, shared by every backend (sea-orm-migration).
//!
//! Migrations are append-only: a released migration is never edited; a change is a new one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, blob, boolean, string, text, text_null,
};

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateUsersAndSessions),
            Box::new(CreateLoginFailures),
            Box::new(AddSessionPublicIds),
            Box::new(CreateRevokedSessions),
        ]
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameKey,
    PasswordHash,
    AuthStamp,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenDigest,
    UserId,
    CreatedAt,
    LastSeenAt,
    AuthenticatedAt,
    ExpiresAt,
    IdleExpiresAt,
    Remember,
    UserAgent,
}

/// The first schema: users and their sessions.
struct CreateUsersAndSessions;

impl MigrationName for CreateUsersAndSessions {
    fn name(&self) -> &str {
        "m0001_create_users_and_sessions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateUsersAndSessions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string(Users::Username))
                    .col(string(Users::UsernameKey).unique_key())
                    .col(string(Users::PasswordHash))
                    .col(string(Users::AuthStamp))
                    .col(big_integer(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(big_pk_auto(Sessions::Id))
                    .col(blob(Sessions::TokenDigest).unique_key())
                    .col(big_integer(Sessions::UserId))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::LastSeenAt))
                    .col(big_integer(Sessions::AuthenticatedAt))
                    .col(big_integer(Sessions::ExpiresAt))
                    .col(big_integer_null(Sessions::IdleExpiresAt))
                    .col(boolean(Sessions::Remember))
                    .col(text_null(Sessions::UserAgent))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Listing and "log out everywhere" go by user; purging goes by deadline.
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user_id")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_expires_at")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_idle_expires_at")
                    .table(Sessions::Table)
                    .col(Sessions::IdleExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Key,
    Count,
    WindowEndsAt,
}

/// Login-failure counters for throttling (contract §6), shared by every server instance.
struct CreateLoginFailures;

impl MigrationName for CreateLoginFailures {
    fn name(&self) -> &str {
        "m0002_create_login_failures"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateLoginFailures {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    // The primary key is what `ON CONFLICT (key)` upserts against.
                    .col(text(LoginFailures::Key).primary_key())
                    .col(big_integer(LoginFailures::Count))
                    .col(big_integer(LoginFailures::WindowEndsAt))
                    .to_owned(),
            )
            .await?;
        // Purging stale counters goes by window end.
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failures_window_ends_at")
                    .table(LoginFailures::Table)
                    .col(LoginFailures::WindowEndsAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginFailures::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SessionsPublicId {
    #[sea_orm(iden = "sessions")]
    Table,
    PublicId,
}

/// Sessions get a random public id: the ids shown to clients are no longer sequence numbers
/// (contract §6, "Public ids are opaque"). Existing sessions are deleted rather than given
/// made-up ids: the session cookie's format changed in the same release, so none of them
/// could be presented again anyway.
struct AddSessionPublicIds;

impl MigrationName for AddSessionPublicIds {
    fn name(&self) -> &str {
        "m0003_add_session_public_ids"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddSessionPublicIds {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(SessionsPublicId::Table)
                    .to_owned(),
            )
            .await?;
        // SQLite adds a NOT NULL column only with a default; every insert sets the real value.
        manager
            .alter_table(
                Table::alter()
                    .table(SessionsPublicId::Table)
                    .add_column(string(SessionsPublicId::PublicId).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_public_id")
                    .table(SessionsPublicId::Table)
                    .col(SessionsPublicId::PublicId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_sessions_public_id")
                    .table(SessionsPublicId::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SessionsPublicId::Table)
                    .drop_column(SessionsPublicId::PublicId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum RevokedSessions {
    Table,
    SessionId,
    UserId,
    ExpiresAt,
}

/// Logged-out cookie-store sessions (contract §6, "Logout ends the session in both stores").
struct CreateRevokedSessions;

impl MigrationName for CreateRevokedSessions {
    fn name(&self) -> &str {
        "m0004_create_revoked_sessions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRevokedSessions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RevokedSessions::Table)
                    .col(string(RevokedSessions::SessionId).primary_key())
                    .col(big_integer(RevokedSessions::UserId))
                    .col(big_integer(RevokedSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_revoked_sessions_user")
                            .from(RevokedSessions::Table, RevokedSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Purging goes by expiry.
        manager
            .create_index(
                Index::create()
                    .name("idx_revoked_sessions_expires_at")
                    .table(RevokedSessions::Table)
                    .col(RevokedSessions::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RevokedSessions::Table).to_owned())
            .await
    }
}
