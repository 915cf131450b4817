//! Every change that can end a session is announced by the database itself, in the transaction
//! that makes it, so that each process's session cache hears of it whoever wrote it (another
//! instance, the `wristband` command, a script): SPEC §8, "Across processes".
//!
//! Announced (the payload is always the user's id): a session deleted (logout, revocation, a
//! password change, the purge), a session's password proof renewed, a user's auth stamp changed
//! or the user deleted, a cookie-store session revoked.
//!
//! - **PostgreSQL**: `pg_notify` on [`CHANNEL`] from row triggers; the store's follower
//!   `LISTEN`s on a dedicated connection.
//! - **SQLite**: there is no push between processes, so triggers append to the
//!   `session_changes` table (a sequence of user ids) and each process reads what is new every
//!   few hundred milliseconds; the purge deletes rows older than [`KEPT_FOR_SECONDS`].

use sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::prelude::*;

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "wristband_session_changes";

/// How long SQLite keeps a change row: far longer than any follower may lag before it counts
/// as lost and starts over with an empty cache.
pub const KEPT_FOR_SECONDS: i64 = 600;

const POSTGRES_UP: &str = r#"
CREATE FUNCTION wristband_announce_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('wristband_session_changes', OLD.id::text);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('wristband_session_changes', OLD.user_id::text);
    ELSE
        PERFORM pg_notify('wristband_session_changes', NEW.user_id::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sessions_announce_change AFTER DELETE OR UPDATE OF authenticated_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION wristband_announce_session_change();
CREATE TRIGGER users_announce_change AFTER DELETE OR UPDATE OF auth_stamp ON users
    FOR EACH ROW EXECUTE FUNCTION wristband_announce_session_change();
CREATE TRIGGER revoked_sessions_announce_change AFTER INSERT OR UPDATE ON revoked_sessions
    FOR EACH ROW EXECUTE FUNCTION wristband_announce_session_change();
"#;

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER revoked_sessions_announce_change ON revoked_sessions;
DROP TRIGGER users_announce_change ON users;
DROP TRIGGER sessions_announce_change ON sessions;
DROP FUNCTION wristband_announce_session_change();
"#;

/// One SQLite trigger: on `event`, append `user` (an expression over OLD or NEW).
pub(super) fn sqlite_trigger(name: &str, event: &str, user: &str) -> String {
    format!(
        "CREATE TRIGGER {name} AFTER {event} FOR EACH ROW BEGIN \
         INSERT INTO session_changes (user_id, changed_at) \
         VALUES ({user}, CAST(strftime('%s', 'now') AS INTEGER)); END"
    )
}

const SQLITE_TRIGGERS: [(&str, &str, &str); 6] = [
    ("sessions_deleted", "DELETE ON sessions", "OLD.user_id"),
    (
        "sessions_reauthenticated",
        "UPDATE OF authenticated_at ON sessions",
        "NEW.user_id",
    ),
    ("users_deleted", "DELETE ON users", "OLD.id"),
    (
        "users_stamp_changed",
        "UPDATE OF auth_stamp ON users",
        "NEW.id",
    ),
    (
        "revoked_sessions_inserted",
        "INSERT ON revoked_sessions",
        "NEW.user_id",
    ),
    (
        "revoked_sessions_updated",
        "UPDATE ON revoked_sessions",
        "NEW.user_id",
    ),
];

/// See the module documentation.
pub(super) struct AnnounceSessionChanges;

impl MigrationName for AnnounceSessionChanges {
    fn name(&self) -> &str {
        "m0006_announce_session_changes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AnnounceSessionChanges {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
            }
            _ => {
                db.execute_unprepared(
                    "CREATE TABLE session_changes (\
                     seq INTEGER PRIMARY KEY AUTOINCREMENT, \
                     user_id INTEGER NOT NULL, \
                     changed_at INTEGER NOT NULL)",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE INDEX idx_session_changes_changed_at ON session_changes (changed_at)",
                )
                .await?;
                for (name, event, user) in SQLITE_TRIGGERS {
                    db.execute_unprepared(&sqlite_trigger(name, event, user))
                        .await?;
                }
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
                for (name, _, _) in SQLITE_TRIGGERS {
                    db.execute_unprepared(&format!("DROP TRIGGER {name}"))
                        .await?;
                }
                db.execute_unprepared("DROP TABLE session_changes").await?;
            }
        }
        Ok(())
    }
}
