//! Checking a username and password: one implementation for login, re-authentication and
//! password change, throttled (contract §6), with the same cost for unknown users.
//!
//! A check is a counted [`Attempt`] on the three login counters: refused (429, logged as
//! `login.throttled`, neither counted nor hashed) while one is at its limit; a wrong password
//! stays counted; a right one clears the username-and-address counter.

use super::attempt::Attempt;
use super::{AuthService, Client, ServiceError};
use crate::foreign_hash::cost_class;
use crate::hasher::{HashError, PasswordHasher, Verification};
use crate::secret::SecretString;
use crate::store::{User, UserId};
use crate::throttle::{ThrottleScope, username_throttle_key};
use crate::username::Username;
use std::time::Instant;

fn refuse(
    service: &AuthService,
    raw_username: &str,
    client: &Client,
    retry_after_seconds: u64,
) -> ServiceError {
    // What was typed may be a password in the wrong field: only its keyed hash is logged.
    tracing::info!(
        event = "login.throttled",
        username_hash = %service.username_log_hash(raw_username),
        client = %client.address_field(),
        retry_after_seconds,
        "login refused: too many failures"
    );
    ServiceError::Throttled {
        retry_after_seconds,
    }
}

impl AuthService {
    /// The user whose password `password` is, for the name typed as `raw_username`, checked
    /// with throttling; `None` for an unknown user or a wrong password (logged as
    /// `login.failure`). A right password whose hash is outdated gets a new one.
    pub(crate) async fn check_credentials(
        &self,
        raw_username: &str,
        password: &SecretString,
        client: &Client,
    ) -> Result<Option<User>, ServiceError> {
        let username_key = username_throttle_key(raw_username);
        let mut keys = self.0.settings.throttle.keys(&username_key, client.address);
        if client.knows_device(&username_key) {
            // A device this user has logged in from is not held back by the per-account rule,
            // so a stranger's guesses cannot lock the user out of their own devices; its
            // failures still count per username and address, and per address.
            keys.retain(|key| key.scope() != ThrottleScope::Account);
        }
        let attempt = match Attempt::begin(self, keys).await? {
            Ok(attempt) => attempt,
            Err(wait) => return Err(refuse(self, raw_username, client, wait.seconds())),
        };
        match self.verify(raw_username, password).await {
            Ok(Ok(user)) => {
                attempt.succeeded(self).await?;
                Ok(Some(user))
            }
            Ok(Err(user_id)) => {
                attempt.keep();
                self.log_failure(user_id, raw_username, client);
                Ok(None)
            }
            Err(error) => {
                attempt.abandon(self).await;
                Err(error)
            }
        }
    }

    /// One hash verification: the user on a match, else the id of the user if the name exists.
    async fn verify(
        &self,
        raw_username: &str,
        password: &SecretString,
    ) -> Result<Result<User, Option<UserId>>, ServiceError> {
        let hasher = &self.0.hasher;
        let costs = &self.0.costs;
        let started = Instant::now();
        let credentials = match Username::parse(raw_username) {
            Ok(username) => self.store().find_credentials(&username).await?,
            Err(_) => None,
        };
        let Some(credentials) = credentials else {
            // Unknown user: the same hashing work as a wrong password, padded like every other
            // failure, so timing tells nothing.
            let verifying = Instant::now();
            hasher.verify_dummy(password).await?;
            costs.record(
                cost_class(hasher.dummy_hash().expose()),
                verifying.elapsed(),
            );
            costs.pad(started).await;
            return Ok(Err(None));
        };
        let user = credentials.user;
        let verifying = Instant::now();
        let verification = match hasher.verify(password, &credentials.password_hash).await {
            Ok(v) => {
                costs.record(
                    cost_class(credentials.password_hash.expose()),
                    verifying.elapsed(),
                );
                v
            }
            Err(HashError::UnsupportedHash) => {
                tracing::error!(user_id = %user.id, "stored password hash is unreadable");
                // Same cost as any other failure.
                hasher.verify_dummy(password).await?;
                Verification::Mismatch
            }
            Err(other) => return Err(other.into()),
        };
        match verification {
            Verification::Mismatch => {
                costs.pad(started).await;
                Ok(Err(Some(user.id)))
            }
            Verification::Match { needs_rehash } => {
                if needs_rehash {
                    self.upgrade_hash(&user, password).await;
                }
                Ok(Ok(user))
            }
        }
    }

    /// Replaces an outdated hash after a successful verification; a failure here is logged and
    /// does not fail the login.
    async fn upgrade_hash(&self, user: &User, password: &SecretString) {
        match self.0.hasher.hash(password).await {
            Ok(hash) => match self.store().set_password_hash(user.id, &hash).await {
                Ok(()) => {
                    tracing::info!(event = "password.rehash", user_id = %user.id, "password hash upgraded");
                }
                Err(error) => {
                    tracing::warn!(error = %super::error::error_chain(&error), user_id = %user.id, "could not store the upgraded hash");
                }
            },
            Err(error) => {
                tracing::warn!(error = %super::error::error_chain(&error), user_id = %user.id, "could not upgrade the hash");
            }
        }
    }
}

impl AuthService {
    /// Logs a failed check: the user id when the name exists; when it does not, a keyed hash of
    /// what was typed (often a password typed into the wrong field), never the text itself.
    fn log_failure(&self, user_id: Option<UserId>, raw_username: &str, client: &Client) {
        match user_id {
            Some(user_id) => {
                tracing::info!(event = "login.failure", reason = "wrong password", %user_id, client = %client.address_field(), "login failed");
            }
            None => {
                tracing::info!(event = "login.failure", reason = "unknown user", username_hash = %self.username_log_hash(raw_username), client = %client.address_field(), "login failed");
            }
        }
    }

    /// A keyed hash of a typed username for the log: the same text always gives the same hash
    /// (so attempts can be correlated), and without the key nothing can be learned from it.
    pub(crate) fn username_log_hash(&self, raw_username: &str) -> String {
        let tag = self
            .0
            .username_log_key
            .sign(&[username_throttle_key(raw_username).as_bytes()]);
        hex::encode(tag.as_bytes().get(..8).unwrap_or_default())
    }
}
