//! Schema migrations, shared by every backend (sea-orm-migration).
//!
//! Migrations are append-only: a released migration is never edited; a change is a new one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, blob, boolean, string, string_null, text, text_null,
};

pub mod m0006_announce_session_changes;
mod m0007_add_email;
mod m0008_add_second_factors;
mod m0009_add_api_tokens;

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
            Box::new(MigrateIdentitiesToRfc8265),
            Box::new(m0006_announce_session_changes::AnnounceSessionChanges),
            Box::new(m0007_add_email::AddEmail),
            Box::new(m0008_add_second_factors::AddSecondFactors),
            Box::new(m0009_add_api_tokens::AddApiTokens),
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

#[derive(DeriveIden)]
enum UsersSkeleton {
    #[sea_orm(iden = "users")]
    Table,
    Id,
    Username,
    UsernameKey,
    UsernameSkeleton,
}

/// Identities become the case-folded RFC 8265 form (so `Straße` and `strasse` are one user),
/// and each user gets a UTS #39 confusable skeleton, unique (so `аdmin` cannot sit beside
/// `admin`). Existing users are recomputed in id order; a collision with an older user is
/// reported as a warning and resolved without breaking anyone's login: the newer user keeps
/// their old identity and gets no skeleton, for an administrator to rename.
struct MigrateIdentitiesToRfc8265;

impl MigrationName for MigrateIdentitiesToRfc8265 {
    fn name(&self) -> &str {
        "m0005_migrate_identities_to_rfc8265"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for MigrateIdentitiesToRfc8265 {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UsersSkeleton::Table)
                    .add_column(string_null(UsersSkeleton::UsernameSkeleton))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let rows = db
            .query_all(
                &Query::select()
                    .columns([
                        UsersSkeleton::Id,
                        UsersSkeleton::Username,
                        UsersSkeleton::UsernameKey,
                    ])
                    .from(UsersSkeleton::Table)
                    .order_by(UsersSkeleton::Id, Order::Asc)
                    .to_owned(),
            )
            .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let display: String = row.try_get("", "username")?;
            let old_key: String = row.try_get("", "username_key")?;
            users.push((id, display, old_key));
        }
        let plan = identity_plan(&users);
        // Two passes, so no intermediate state breaks the unique index on the identity.
        for (id, _, _) in &plan {
            db.execute(
                &Query::update()
                    .table(UsersSkeleton::Table)
                    .value(UsersSkeleton::UsernameKey, format!("#migrating#{id}"))
                    .and_where(Expr::col(UsersSkeleton::Id).eq(*id))
                    .to_owned(),
            )
            .await?;
        }
        for (id, key, skeleton) in &plan {
            db.execute(
                &Query::update()
                    .table(UsersSkeleton::Table)
                    .value(UsersSkeleton::UsernameKey, key.clone())
                    .value(UsersSkeleton::UsernameSkeleton, skeleton.clone())
                    .and_where(Expr::col(UsersSkeleton::Id).eq(*id))
                    .to_owned(),
            )
            .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_users_username_skeleton")
                    .table(UsersSkeleton::Table)
                    .col(UsersSkeleton::UsernameSkeleton)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_username_skeleton")
                    .table(UsersSkeleton::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(UsersSkeleton::Table)
                    .drop_column(UsersSkeleton::UsernameSkeleton)
                    .to_owned(),
            )
            .await
    }
}

/// The new identity and skeleton of each user `(id, display, old key)`, in id order, with the
/// collisions resolved in favour of the older user (and each one reported).
pub(crate) fn identity_plan(users: &[(i64, String, String)]) -> Vec<(i64, String, Option<String>)> {
    use std::collections::HashSet;
    let mut keys: HashSet<String> = HashSet::new();
    let mut skeletons: HashSet<String> = HashSet::new();
    let mut plan = Vec::with_capacity(users.len());
    for (id, display, old_key) in users {
        let new_key = auth_core::Username::identity_of(display);
        let key = match new_key {
            Some(key) if !keys.contains(&key) => key,
            Some(key) => {
                tracing::warn!(
                    user_id = id,
                    "identity migration: the new identity of this user is an older user's; it keeps its old identity, without a skeleton: rename it"
                );
                let _ = key;
                fallback_key(*id, old_key, &keys)
            }
            None => {
                tracing::warn!(
                    user_id = id,
                    "identity migration: this username no longer passes the username rules; it keeps its old identity, without a skeleton: rename it"
                );
                fallback_key(*id, old_key, &keys)
            }
        };
        let skeleton = (Some(&key) == auth_core::Username::identity_of(display).as_ref())
            .then(|| auth_core::username::skeleton_of(&key))
            .filter(|skeleton| {
                let free = !skeletons.contains(skeleton);
                if !free {
                    tracing::warn!(user_id = id, "identity migration: this username is confusable with an older user's; it keeps its identity, without a skeleton: rename it");
                }
                free
            });
        if let Some(skeleton) = &skeleton {
            skeletons.insert(skeleton.clone());
        }
        keys.insert(key.clone());
        plan.push((*id, key, skeleton));
    }
    plan
}

/// The old identity, or (if even that is taken now) one made unique with the id.
fn fallback_key(id: i64, old_key: &str, keys: &std::collections::HashSet<String>) -> String {
    if keys.contains(old_key) {
        format!("{old_key}#{id}")
    } else {
        old_key.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::identity_plan;

    #[test]
    fn collisions_are_resolved_for_the_older_user() {
        let users = vec![
            (1, "Straße".to_owned(), "straße".to_owned()),
            (2, "strasse".to_owned(), "strasse".to_owned()),
            (3, "admin".to_owned(), "admin".to_owned()),
            (4, "аdmin".to_owned(), "аdmin".to_owned()),
            (5, ".".to_owned(), ".".to_owned()),
        ];
        let plan = identity_plan(&users);
        assert_eq!(plan[0].1, "strasse");
        assert!(plan[0].2.is_some());
        assert_eq!(
            plan[1],
            (2, "strasse#2".to_owned(), None),
            "old key taken: made unique"
        );
        assert!(plan[2].2.is_some());
        assert_eq!(plan[3].1, "аdmin");
        assert_eq!(plan[3].2, None, "confusable with admin: no skeleton");
        assert_eq!(plan[4], (5, ".".to_owned(), None));
    }
}

/// Migration checks every backend runs on a real database (`store-sqlite` and
/// `store-postgres` call them in their tests).
pub mod checks {
    use super::Migrator;
    use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
    use sea_orm_migration::MigratorTrait;

    /// Users registered under the old identity rules (NFKC lower-casing) are migrated to
    /// RFC 8265 identities and skeletons; collisions leave every row in place.
    pub async fn existing_identities_are_migrated(db: &DatabaseConnection) {
        let fail = |e: sea_orm::DbErr| -> ! { panic!("{e}") };
        Migrator::up(db, Some(4)).await.unwrap_or_else(|e| fail(e));
        let backend = db.get_database_backend();
        for (name, old_key) in [
            ("Straße", "straße"),
            ("strasse", "strasse"),
            ("admin", "admin"),
            ("аdmin", "аdmin"),
            ("Alice", "alice"),
        ] {
            db.execute_raw(Statement::from_string(
                backend,
                format!(
                    "INSERT INTO users (username, username_key, password_hash, auth_stamp, created_at) \
                     VALUES ('{name}', '{old_key}', 'h', 's', 0)"
                ),
            ))
            .await
            .unwrap_or_else(|e| fail(e));
        }
        Migrator::up(db, None).await.unwrap_or_else(|e| fail(e));
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT username, username_key, username_skeleton FROM users ORDER BY id",
            ))
            .await
            .unwrap_or_else(|e| fail(e));
        let got: Vec<(String, String, bool)> = rows
            .iter()
            .map(|row| {
                let name: String = row.try_get("", "username").unwrap_or_else(|e| fail(e));
                let key: String = row.try_get("", "username_key").unwrap_or_else(|e| fail(e));
                let skeleton: Option<String> = row
                    .try_get("", "username_skeleton")
                    .unwrap_or_else(|e| fail(e));
                (name, key, skeleton.is_some())
            })
            .collect();
        let expect =
            |name: &str, key: &str, skeleton: bool| (name.to_owned(), key.to_owned(), skeleton);
        assert_eq!(
            got,
            vec![
                expect("Straße", "strasse", true),
                expect("strasse", "strasse#2", false),
                expect("admin", "admin", true),
                expect("аdmin", "аdmin", false),
                expect("Alice", "alice", true),
            ]
        );
    }
}
