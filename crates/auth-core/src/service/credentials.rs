//! Checking a username and password: one implementation for login, re-authentication and
//! password change, throttled (contract §6), with the same cost for unknown users.
//!
//! A check is wrapped in a [`LoginAttempt`]:
//!
//! 1. [`LoginAttempt::begin`] before any lookup or hashing: one read of the attempt's counters;
//!    a refusal is [`ServiceError::Throttled`], logged as `login.throttled`, neither counted nor
//!    hashed. An attempt that goes ahead is counted as a failure *before* its password is
//!    checked (reading the counters and counting later would let a burst of concurrent guesses
//!    all pass the check).
//! 2. [`LoginAttempt::succeeded`] after a right password: clears the username-and-address
//!    counter and takes the attempt back from the others.
//! 3. A wrong password leaves the failure counted; an undecided attempt (the database or the
//!    hashing pool was unavailable) is [`abandon`](LoginAttempt::abandon)ed and does not count.

use super::{AuthService, Client, ServiceError};
use crate::foreign_hash::cost_class;
use crate::hasher::{HashError, PasswordHasher, Verification};
use crate::secret::SecretString;
use crate::store::{User, UserId};
use crate::throttle::{FailureCount, ThrottleKey, username_throttle_key};
use crate::username::Username;
use futures_util::future::join_all;
use std::time::Instant;
use time::OffsetDateTime;

/// One password check that the throttle allowed to go ahead.
#[derive(Debug)]
#[must_use = "record the outcome with `succeeded`, or `abandon` it"]
struct LoginAttempt {
    keys: Vec<ThrottleKey>,
}

impl LoginAttempt {
    async fn begin(
        service: &AuthService,
        raw_username: &str,
        client: &Client,
    ) -> Result<Self, ServiceError> {
        let throttle = &service.0.settings.throttle;
        let store = service.store();
        let keys = throttle.keys(&username_throttle_key(raw_username), client.address);
        let now = OffsetDateTime::now_utc();
        // A cheap read first: the common refusal costs no write at all.
        let counts = store.failure_counts(&keys, now).await?;
        if let Err(wait) = throttle.decide(&keys, &counts, now) {
            return Err(refuse(raw_username, client, wait.seconds()));
        }
        let recorded = join_all(
            keys.iter()
                .map(|key| store.record_failure(key, throttle.window(key.scope()), now)),
        )
        .await;
        let mut before = Vec::with_capacity(keys.len());
        let mut counted = Vec::with_capacity(keys.len());
        let mut failure = None;
        for (key, result) in keys.iter().zip(recorded) {
            match result {
                // What the counter held before this attempt, as concurrent attempts left it.
                Ok(count) => {
                    before.push(Some(FailureCount {
                        count: count.count.saturating_sub(1),
                        ..count
                    }));
                    counted.push(key.clone());
                }
                Err(error) => failure = Some(error),
            }
        }
        if let Some(error) = failure {
            // Take back what was counted; when nothing was (the usual outage) there is no
            // second wait for the database.
            Self { keys: counted }.abandon(service).await;
            return Err(error.into());
        }
        let attempt = Self { keys };
        if let Err(wait) = throttle.decide(&attempt.keys, &before, now) {
            attempt.withdraw_all(service).await?;
            return Err(refuse(raw_username, client, wait.seconds()));
        }
        Ok(attempt)
    }

    async fn withdraw_all(&self, service: &AuthService) -> Result<(), ServiceError> {
        let store = service.store();
        for result in join_all(self.keys.iter().map(|key| store.withdraw_failure(key))).await {
            result?;
        }
        Ok(())
    }

    /// A right password: clears the username-and-address counter and takes this attempt back
    /// from the per-account and per-address counters, which otherwise keep their counts, so one
    /// known password cannot reset an attack spread over many addresses or usernames.
    async fn succeeded(self, service: &AuthService) -> Result<(), ServiceError> {
        let store = service.store();
        let results = join_all(self.keys.iter().enumerate().map(|(i, key)| async move {
            if i == 0 {
                store.clear_failures(key).await
            } else {
                store.withdraw_failure(key).await
            }
        }))
        .await;
        for result in results {
            result?;
        }
        Ok(())
    }

    /// The attempt could not be decided: it does not count.
    async fn abandon(&self, service: &AuthService) {
        if let Err(error) = self.withdraw_all(service).await {
            tracing::warn!(error = %error_text(&error), "could not take back an undecided login attempt");
        }
    }
}

fn error_text(error: &ServiceError) -> String {
    super::error::error_chain(error)
}

fn refuse(raw_username: &str, client: &Client, retry_after_seconds: u64) -> ServiceError {
    // The username comes from the client: `?` escapes it, so it cannot forge lines.
    tracing::info!(
        event = "login.throttled",
        username = ?raw_username,
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
        let attempt = LoginAttempt::begin(self, raw_username, client).await?;
        match self.verify(raw_username, password).await {
            Ok(Ok(user)) => {
                attempt.succeeded(self).await?;
                Ok(Some(user))
            }
            Ok(Err(user_id)) => {
                log_failure(user_id, raw_username, client);
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

/// Logs a failed check: the user id when the name exists, the (escaped) name as typed when it
/// does not.
fn log_failure(user_id: Option<UserId>, raw_username: &str, client: &Client) {
    match user_id {
        Some(user_id) => {
            tracing::info!(event = "login.failure", reason = "wrong password", %user_id, client = %client.address_field(), "login failed");
        }
        None => {
            tracing::info!(event = "login.failure", reason = "unknown user", username = ?raw_username, client = %client.address_field(), "login failed");
        }
    }
}
