//! Equal cost for every failed password check: a wrong password for an unknown user, a native
//! user or an imported user (whose wrapped hash needs the foreign derivation too) takes as long
//! as the slowest kind of verification the store's hashes need, so the time of a failure tells
//! nothing about the account.
//!
//! The cost of each kind ([`foreign_hash::cost_class`](crate::foreign_hash::cost_class): the
//! format and its parameters) is learned from the verifications themselves, as a moving
//! average; a failure is padded with a sleep (no worker is held) up to the largest average.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Weight of a new measurement in a kind's moving average.
const NEW_WEIGHT: f64 = 0.2;
/// Kinds remembered at most; a store holds a handful (Argon2 at one or two parameter sets and
/// the imported formats).
const MAX_CLASSES: usize = 64;

/// The moving average cost of each kind of verification.
#[derive(Debug, Default)]
pub(crate) struct VerificationCosts {
    classes: Mutex<HashMap<String, Duration>>,
}

impl VerificationCosts {
    /// Records that a verification of `class` took `took`.
    pub fn record(&self, class: String, took: Duration) {
        let mut classes = self.classes.lock().unwrap_or_else(|p| p.into_inner());
        if classes.len() >= MAX_CLASSES && !classes.contains_key(&class) {
            return;
        }
        classes
            .entry(class)
            .and_modify(|average| {
                *average = average.mul_f64(1.0 - NEW_WEIGHT) + took.mul_f64(NEW_WEIGHT);
            })
            .or_insert(took);
    }

    /// The slowest kind's average.
    pub fn slowest(&self) -> Duration {
        let classes = self.classes.lock().unwrap_or_else(|p| p.into_inner());
        classes.values().copied().max().unwrap_or_default()
    }

    /// Sleeps until `started` plus the slowest kind's average.
    pub async fn pad(&self, started: Instant) {
        let target = started + self.slowest();
        tokio::time::sleep_until(target.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_average_wins_and_averages_move_slowly() {
        let costs = VerificationCosts::default();
        costs.record("argon2".into(), Duration::from_millis(20));
        costs.record("wrapped:bcrypt:12".into(), Duration::from_millis(300));
        assert_eq!(costs.slowest(), Duration::from_millis(300));
        costs.record("wrapped:bcrypt:12".into(), Duration::from_millis(100));
        assert_eq!(costs.slowest(), Duration::from_millis(260));
    }
}
