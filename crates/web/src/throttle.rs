//! Login throttling in the request path (contract §6, "Throttling").
//!
//! A handler that checks a password wraps the check in a [`LoginAttempt`]:
//!
//! 1. [`LoginAttempt::begin`] right after parsing the form, before any lookup or hashing: one
//!    read of the attempt's three counters; a refusal is [`AppError::Throttled`] (429 with
//!    `Retry-After`), logged as `login.throttled`, and is neither counted nor hashed.
//! 2. [`LoginAttempt::failed`] after a failed verification (unknown user or wrong password
//!    alike, so the answer never tells them apart).
//! 3. [`LoginAttempt::succeeded`] after a successful one, before the session starts: clears the
//!    username-and-address counter only.
//!
//! The policy ([`LoginThrottle`]) comes from `[login]` in the configuration and lives in
//! [`AppState`]; the counters live in the store, so every instance sees the same ones.

use crate::config::LoginSettings;
use crate::error::AppError;
use crate::state::AppState;
use auth_core::throttle::{FailureCount, LoginThrottle, ThrottleKey, username_throttle_key};
use std::net::IpAddr;
use time::OffsetDateTime;

/// The policy `[login]` describes.
pub fn policy(settings: &LoginSettings) -> LoginThrottle {
    LoginThrottle {
        max_failures: settings.max_failures,
        failure_window: settings.failure_window.0,
        max_failures_per_account: settings.max_failures_per_account,
        max_failures_per_address: settings.max_failures_per_address,
    }
}

/// One password check that the throttle allowed to go ahead; see the module documentation.
#[derive(Debug)]
#[must_use = "record the outcome with `failed` or `succeeded`"]
pub struct LoginAttempt {
    keys: [ThrottleKey; 3],
}

impl LoginAttempt {
    /// Lets an attempt for the username typed as `raw_username` from `address` go ahead, or
    /// refuses it with [`AppError::Throttled`] (not counted, no hashing).
    ///
    /// An attempt that goes ahead is counted as a failure *before* its password is checked,
    /// and taken back if it turns out not to be one ([`succeeded`](Self::succeeded),
    /// [`abandon`](Self::abandon)). Reading the counters and counting later would let a burst
    /// of concurrent guesses all pass the check before any of them was counted.
    pub async fn begin(
        app: &AppState,
        raw_username: &str,
        address: Option<IpAddr>,
    ) -> Result<Self, AppError> {
        let throttle = &app.0.throttle;
        let store = &app.0.store;
        let keys = throttle.keys(&username_throttle_key(raw_username), address);
        let now = OffsetDateTime::now_utc();
        // A cheap read first: the common refusal costs no write at all.
        let counts = store.failure_counts(&keys, now).await?;
        if let Err(wait) = throttle.decide(&keys, &counts, now) {
            return Err(refuse(raw_username, address, wait.seconds()));
        }
        let [user_and_address, account, address_key] = &keys;
        let reserved = tokio::try_join!(
            store.record_failure(
                user_and_address,
                throttle.window(user_and_address.scope()),
                now
            ),
            store.record_failure(account, throttle.window(account.scope()), now),
            store.record_failure(address_key, throttle.window(address_key.scope()), now),
        )?;
        // What the counters held before this attempt, as concurrent attempts left them.
        let before = [reserved.0, reserved.1, reserved.2].map(|c| {
            Some(FailureCount {
                count: c.count.saturating_sub(1),
                ..c
            })
        });
        let attempt = Self { keys };
        if let Err(wait) = throttle.decide(&attempt.keys, &before, now) {
            attempt.withdraw_all(app).await?;
            return Err(refuse(raw_username, address, wait.seconds()));
        }
        Ok(attempt)
    }

    async fn withdraw_all(&self, app: &AppState) -> Result<(), AppError> {
        let store = &app.0.store;
        let [a, b, c] = &self.keys;
        tokio::try_join!(
            store.withdraw_failure(a),
            store.withdraw_failure(b),
            store.withdraw_failure(c)
        )?;
        Ok(())
    }

    /// The password was wrong (or the user unknown): the failure counted at
    /// [`begin`](Self::begin) stays.
    pub fn failed(self) {}

    /// A successful login: clears the username-and-address counter and takes this attempt back
    /// from the per-account and per-address counters, which otherwise keep their counts, so one
    /// known password cannot reset an attack spread over many addresses or usernames.
    pub async fn succeeded(self, app: &AppState) -> Result<(), AppError> {
        let store = &app.0.store;
        let [user_and_address, account, address] = &self.keys;
        tokio::try_join!(
            store.clear_failures(user_and_address),
            store.withdraw_failure(account),
            store.withdraw_failure(address)
        )?;
        Ok(())
    }

    /// The attempt could not be decided (the database or the hashing pool was unavailable):
    /// it does not count.
    pub async fn abandon(self, app: &AppState) {
        if let Err(error) = self.withdraw_all(app).await {
            tracing::warn!(?error, "could not take back an undecided login attempt");
        }
    }
}

fn refuse(raw_username: &str, address: Option<IpAddr>, retry_after_seconds: u64) -> AppError {
    // The username comes from the client: `?` escapes it, so it cannot forge lines.
    tracing::info!(
        event = "login.throttled",
        username = ?raw_username,
        client = ?address,
        retry_after_seconds,
        "login refused: too many failures"
    );
    AppError::Throttled {
        retry_after_seconds,
    }
}
