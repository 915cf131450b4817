//! Attempts counted against throttle counters before they are decided (contract §6,
//! "Throttling"), for logins and registrations alike.
//!
//! 1. [`Attempt::begin`] before any lookup or hashing: one read of the attempt's counters; when
//!    one is at its limit the answer is the wait ([`RetryAfter`]), and nothing is counted. An
//!    attempt that goes ahead is counted *before* it is decided: reading the counters and
//!    counting later would let a burst of concurrent attempts all pass the check.
//! 2. What happens next is the caller's: a failed login keeps its count
//!    ([`Attempt::keep`]), a successful one clears the first counter and takes the attempt back
//!    from the others ([`Attempt::succeeded`]), an undecided one (the database or the hashing
//!    pool was unavailable, the registration was invalid) is [`abandon`](Attempt::abandon)ed.

use super::{AuthService, ServiceError};
use crate::throttle::{FailureCount, RetryAfter, ThrottleKey, ThrottleScope};
use time::OffsetDateTime;

/// An attempt the throttle let go ahead, counted in each of its counters.
#[derive(Debug)]
#[must_use = "record the outcome with `keep`, `succeeded` or `abandon`"]
pub(crate) struct Attempt {
    keys: Vec<ThrottleKey>,
}

/// The wait of a refused attempt, the refusal reported to the observer (the one place every
/// throttled attempt passes).
fn refused(service: &AuthService, (scope, wait): (ThrottleScope, RetryAfter)) -> RetryAfter {
    service.observer().throttled(scope);
    wait
}

impl Attempt {
    /// Counts an attempt on `keys`, or answers how long to wait when a counter is at its limit
    /// (then nothing is counted).
    pub(crate) async fn begin(
        service: &AuthService,
        keys: Vec<ThrottleKey>,
    ) -> Result<Result<Self, RetryAfter>, ServiceError> {
        let throttle = &service.0.settings.throttle;
        let store = service.store();
        let now = OffsetDateTime::now_utc();
        // A cheap read first: the common refusal costs no write at all.
        let counts = store.failure_counts(&keys, now).await?;
        if let Some(refusal) = throttle.refusal(&keys, &counts, now) {
            return Ok(Err(refused(service, refusal)));
        }
        let windows: Vec<(ThrottleKey, std::time::Duration)> = keys
            .iter()
            .map(|key| (key.clone(), throttle.window(key.scope())))
            .collect();
        let counts = match store.record_failures(&windows, now).await {
            Ok(counts) => counts,
            // One transaction: nothing was counted, nothing to take back.
            Err(error) => return Err(error.into()),
        };
        // What each counter held before this attempt, as concurrent attempts left it.
        let before: Vec<Option<FailureCount>> = counts
            .into_iter()
            .map(|count| {
                Some(FailureCount {
                    count: count.count.saturating_sub(1),
                    ..count
                })
            })
            .collect();
        let attempt = Self { keys };
        if let Some(refusal) = throttle.refusal(&attempt.keys, &before, now) {
            attempt.withdraw_all(service).await?;
            return Ok(Err(refused(service, refusal)));
        }
        Ok(Ok(attempt))
    }

    async fn withdraw_all(&self, service: &AuthService) -> Result<(), ServiceError> {
        Ok(service.store().clear_and_withdraw(None, &self.keys).await?)
    }

    /// The attempt stays counted (a wrong password, a registration made).
    pub(crate) fn keep(self) {}

    /// A successful login: clears the first counter (username and address) and takes this
    /// attempt back from the others, which otherwise keep their counts, so one known password
    /// cannot reset an attack spread over many addresses or usernames.
    pub(crate) async fn succeeded(self, service: &AuthService) -> Result<(), ServiceError> {
        let (cleared, withdrawn) = match self.keys.split_first() {
            Some((first, rest)) => (Some(first), rest),
            None => (None, &[][..]),
        };
        Ok(service
            .store()
            .clear_and_withdraw(cleared, withdrawn)
            .await?)
    }

    /// The attempt was not decided: it does not count.
    pub(crate) async fn abandon(&self, service: &AuthService) {
        if let Err(error) = self.withdraw_all(service).await {
            tracing::warn!(error = %super::error::error_chain(&error), "could not take back an undecided attempt");
        }
    }
}
