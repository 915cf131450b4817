//! What an administrator does (the command line, or an application's own admin pages): find,
//! list and delete users, reset a password, import users with existing hashes, purge.

use super::{AuthService, Client, ServiceError};
use crate::foreign_hash::identify;
use crate::hasher::PasswordHasher;
use crate::password_policy::PasswordRuleViolation;
use crate::secret::{PasswordHashString, SecretString};
use crate::store::{ImportMode, ImportReport, User};
use crate::username::Username;
use futures_util::future::join_all;
use time::OffsetDateTime;

/// What an administrator's password reset came to.
#[derive(Debug)]
pub enum AdminPasswordReset {
    /// The password was set and every session of the user ended.
    Done {
        /// The user.
        user: User,
        /// How many database sessions ended (cookie sessions end through the auth stamp).
        sessions_ended: u64,
    },
    /// There is no such user.
    UnknownUser,
    /// The new password breaks a rule.
    Refused(PasswordRuleViolation),
}

/// How many foreign hashes are wrapped at once: enough to keep every worker busy, well under
/// the queue's limit.
const WRAP_CHUNK: usize = 32;

/// What [`AuthService::wrap_stored_hashes`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WrapReport {
    /// Users looked at.
    pub examined: u64,
    /// Foreign hashes now wrapped.
    pub wrapped: u64,
    /// Foreign hashes that changed while being wrapped (left as they now are).
    pub changed_meanwhile: u64,
}

/// What [`AuthService::purge`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Expired sessions.
    pub sessions: u64,
    /// Login-throttle counters whose window has ended.
    pub failure_counters: u64,
    /// Expired API tokens.
    pub api_tokens: u64,
}

impl AuthService {
    /// The user registered as `username` (in any case).
    pub async fn find_user(&self, username: &Username) -> Result<Option<User>, ServiceError> {
        Ok(self
            .store()
            .find_credentials(username)
            .await?
            .map(|credentials| credentials.user))
    }

    /// Every user, in registration order.
    pub async fn list_users(&self) -> Result<Vec<User>, ServiceError> {
        Ok(self.store().list_users().await?)
    }

    /// Deletes the user registered as `username` with every session of theirs (cookie-store
    /// sessions name a user who no longer exists, so they end too); `None` if there is none.
    pub async fn delete_user(
        &self,
        username: &Username,
        client: &Client,
    ) -> Result<Option<User>, ServiceError> {
        let Some(user) = self.find_user(username).await? else {
            return Ok(None);
        };
        let result = self.store().delete_user(user.id).await;
        if !self.changed(user.id, result)? {
            return Ok(None);
        }
        tracing::info!(event = "user.delete", user_id = %user.id, client = %client.address_field(), "user deleted; every session ended");
        Ok(Some(user))
    }

    /// Checks a new password for `username` against the policy, before anyone waits for a hash.
    pub fn check_new_password(
        &self,
        password: &SecretString,
        username: &Username,
    ) -> Result<(), PasswordRuleViolation> {
        self.0.settings.policy.check(password, Some(username))
    }

    /// An administrator's reset: the policy applied, the new hash and a new auth stamp stored
    /// and every session of the user ended, in one transaction.
    pub async fn set_password(
        &self,
        username: &Username,
        password: &SecretString,
        client: &Client,
    ) -> Result<AdminPasswordReset, ServiceError> {
        let Some(user) = self.find_user(username).await? else {
            return Ok(AdminPasswordReset::UnknownUser);
        };
        if let Err(violation) = self.check_new_password(password, &user.username) {
            return Ok(AdminPasswordReset::Refused(violation));
        }
        let hash = self.0.hasher.hash(password).await?;
        let result = self.store().change_password(user.id, &hash, None).await;
        let changed = self.changed(user.id, result)?;
        tracing::info!(event = "password.reset", user_id = %user.id, client = %client.address_field(), sessions_ended = changed.sessions_ended, "password reset by an administrator; every session ended");
        self.notify(&user, crate::mail::LetterKind::PasswordReset);
        Ok(AdminPasswordReset::Done {
            user,
            sessions_ended: changed.sessions_ended,
        })
    }

    /// Creates users with existing password hashes (checked by the caller with
    /// [`identify`] and the import cost limits), in one
    /// transaction; see [`UserStore::import_users`](crate::UserStore::import_users).
    ///
    /// Every foreign hash is first wrapped in Argon2id at the configured parameters, on the
    /// hashing workers (`progress` hears how many are done), so the store never holds a
    /// Werkzeug, legacy SHA or bcrypt hash. A dry run wraps nothing.
    pub async fn import_users(
        &self,
        users: &[(Username, PasswordHashString)],
        mode: ImportMode,
        client: &Client,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<ImportReport, ServiceError> {
        let users = if mode == ImportMode::DryRun {
            users.to_vec()
        } else {
            self.wrap_all(users, progress).await?
        };
        let report = self
            .store()
            .import_users(&users, mode, OffsetDateTime::now_utc())
            .await?;
        let created = report.created();
        if report.committed && created > 0 {
            tracing::info!(
                event = "user.import",
                created,
                existing = report.count(crate::store::ImportOutcome::Existing),
                client = %client.address_field(),
                "users imported"
            );
        }
        Ok(report)
    }

    /// `users` with every foreign hash wrapped, a few at a time on the hashing workers.
    async fn wrap_all(
        &self,
        users: &[(Username, PasswordHashString)],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Vec<(Username, PasswordHashString)>, ServiceError> {
        let mut wrapped = Vec::with_capacity(users.len());
        for chunk in users.chunks(WRAP_CHUNK) {
            let hashes = join_all(chunk.iter().map(|(_, hash)| self.0.hasher.wrap(hash))).await;
            for ((username, _), hash) in chunk.iter().zip(hashes) {
                wrapped.push((username.clone(), hash?));
            }
            progress(wrapped.len());
        }
        Ok(wrapped)
    }

    /// Wraps in Argon2id every foreign hash still stored as it was imported (before imports
    /// wrapped them), `batch` users at a time; `progress` hears how many users were examined
    /// of how many. Resumable: a wrapped or Argon2 hash is left alone, and each hash is
    /// replaced only if it did not change meanwhile (a login may have upgraded it).
    pub async fn wrap_stored_hashes(
        &self,
        batch: u64,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<WrapReport, ServiceError> {
        let store = self.store();
        let total = store.count_users().await?;
        let mut report = WrapReport::default();
        let mut after = None;
        loop {
            let users = store.list_credentials(after, batch.max(1)).await?;
            let Some(last) = users.last() else { break };
            after = Some(last.user.id);
            let foreign: Vec<_> = users
                .iter()
                .filter(|c| identify(c.password_hash.expose()).is_ok_and(|f| f.needs_wrapping()))
                .collect();
            for chunk in foreign.chunks(WRAP_CHUNK) {
                let hashes =
                    join_all(chunk.iter().map(|c| self.0.hasher.wrap(&c.password_hash))).await;
                for (credentials, hash) in chunk.iter().zip(hashes) {
                    let id = credentials.user.id;
                    if store
                        .replace_password_hash(id, &credentials.password_hash, &hash?)
                        .await?
                    {
                        report.wrapped += 1;
                    } else {
                        report.changed_meanwhile += 1;
                    }
                }
            }
            report.examined += users.len() as u64;
            progress(report.examined, total.max(report.examined));
        }
        if report.wrapped > 0 {
            tracing::info!(
                event = "password.wrap",
                wrapped = report.wrapped,
                "imported hashes wrapped in Argon2id"
            );
        }
        Ok(report)
    }

    /// Deletes what has expired at `now`: sessions, login-throttle counters and API tokens. Nothing still
    /// valid is touched; nothing expired is ever read, so this only keeps the tables small.
    pub async fn purge(&self, now: OffsetDateTime) -> Result<PurgeReport, ServiceError> {
        let store = self.store();
        Ok(PurgeReport {
            sessions: store.purge_expired_sessions(now).await?,
            failure_counters: store.purge_expired_failures(now).await?,
            api_tokens: store.purge_expired_api_tokens(now).await?,
        })
    }
}
