//! What the use cases report as they happen, for metrics: an [`Observer`] the service (and the
//! hasher) call at the moments an exporter counts — a login decided, a registration decided, an
//! attempt refused by the throttle, a hashing job taken off the queue.
//!
//! auth-core knows no exporter: the web crate implements the trait with Prometheus counters
//! (`metrics.bind`), and everything else gets [`NoObserver`]. Every method has a default that
//! does nothing, so an observer implements only what it counts. What is cheap to read at any
//! moment is not reported here but read when metrics are scraped: the session cache's
//! counters ([`SessionCache::stats`](crate::SessionCache::stats)), the hashing queue's depth
//! ([`HasherStats::queued`](crate::hasher::HasherStats::queued)), the store's error counts
//! ([`AuthStore::error_counts`](crate::AuthStore::error_counts)).
//!
//! Observers are called on the request's task (or a hashing thread), so they must be quick and
//! must not block: an atomic increment, not a write to anywhere. Nothing they are given is
//! secret or comes from a client: only the bounded values of the enums below and durations.
//!
//! ```
//! use auth_core::observe::{LoginMethod, Observer, Outcome};
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! #[derive(Default)]
//! struct FailedLogins(AtomicU64);
//!
//! impl Observer for FailedLogins {
//!     fn login(&self, _method: LoginMethod, outcome: Outcome) {
//!         if outcome == Outcome::InvalidCredentials {
//!             self.0.fetch_add(1, Ordering::Relaxed);
//!         }
//!     }
//! }
//!
//! let observer = FailedLogins::default();
//! observer.login(LoginMethod::Password, Outcome::InvalidCredentials);
//! observer.registration(Outcome::Success); // not counted: the default does nothing
//! assert_eq!(observer.0.load(Ordering::Relaxed), 1);
//! ```

use crate::service::ServiceError;
use crate::throttle::ThrottleScope;
use std::time::Duration;

/// Told what the service does, as it does it; see the [module documentation](self).
pub trait Observer: Send + Sync {
    /// A login step was decided: a password checked ([`LoginMethod::Password`]), a second
    /// step completed or refused, a passkey sign-in finished.
    fn login(&self, method: LoginMethod, outcome: Outcome) {
        let _ = (method, outcome);
    }

    /// A registration was decided (by a visitor or by an administrator's `user add`).
    fn registration(&self, outcome: Outcome) {
        let _ = outcome;
    }

    /// An attempt (a login, a second step, a re-authentication, a registration, a reset
    /// request) was refused by the throttle; `scope` is the limit that refused it.
    fn throttled(&self, scope: ThrottleScope) {
        let _ = scope;
    }

    /// A hashing job waited `waited` in the queue before a worker took it (called on the
    /// hashing thread).
    fn hash_waited(&self, waited: Duration) {
        let _ = waited;
    }
}

/// The observer that counts nothing: what a service gets unless one is given.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

/// How a login step proved who the user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginMethod {
    /// The username and password (the first step).
    Password,
    /// The second step after a right password: a TOTP code, a recovery code or a passkey.
    SecondFactor,
    /// A passkey alone (both factors at once, no username).
    Passkey,
}

impl LoginMethod {
    /// Every method, for an exporter that shows each from the start.
    pub const ALL: [Self; 3] = [Self::Password, Self::SecondFactor, Self::Passkey];

    /// The label: `password`, `second_factor`, `passkey`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::SecondFactor => "second_factor",
            Self::Passkey => "passkey",
        }
    }

    /// What a step of this method can come to, for an exporter that shows each from the
    /// start. Only a password is hashed (so only it can find the workers busy) and leads to a
    /// second step; only a second step has a pending login that can expire; a passkey alone
    /// is not throttled (a signature cannot be guessed).
    pub fn outcomes(self) -> &'static [Outcome] {
        use Outcome::{
            Busy, Error, Expired, InvalidCredentials, SecondFactorRequired, Success, Throttled,
            Unavailable,
        };
        match self {
            Self::Password => &[
                Success,
                InvalidCredentials,
                SecondFactorRequired,
                Throttled,
                Busy,
                Unavailable,
                Error,
            ],
            Self::SecondFactor => &[
                Success,
                InvalidCredentials,
                Expired,
                Throttled,
                Unavailable,
                Error,
            ],
            Self::Passkey => &[Success, InvalidCredentials, Unavailable, Error],
        }
    }
}

/// What a login step or a registration came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Logged in (a new session), or registered (a new user).
    Success,
    /// A wrong password, an unknown user, a wrong or used code, a refused passkey.
    InvalidCredentials,
    /// The password was right; the second step is next (no session yet).
    SecondFactorRequired,
    /// The pending login of a second step is too old, or its account changed: start again.
    Expired,
    /// A registration broke a rule (username, password policy, confirmation, address).
    Invalid,
    /// The username is taken.
    Taken,
    /// The email address is another user's.
    EmailTaken,
    /// Refused by the throttle (429).
    Throttled,
    /// Every hashing worker was busy (503).
    Busy,
    /// The database was unavailable (503).
    Unavailable,
    /// Anything else that failed (500).
    Error,
}

impl Outcome {
    /// What a registration can come to.
    pub const REGISTRATION: [Self; 8] = [
        Self::Success,
        Self::Invalid,
        Self::Taken,
        Self::EmailTaken,
        Self::Throttled,
        Self::Busy,
        Self::Unavailable,
        Self::Error,
    ];

    /// The label: `success`, `invalid_credentials`, `second_factor_required`, `expired`,
    /// `invalid`, `taken`, `email_taken`, `throttled`, `busy`, `unavailable`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidCredentials => "invalid_credentials",
            Self::SecondFactorRequired => "second_factor_required",
            Self::Expired => "expired",
            Self::Invalid => "invalid",
            Self::Taken => "taken",
            Self::EmailTaken => "email_taken",
            Self::Throttled => "throttled",
            Self::Busy => "busy",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
        }
    }

    /// The outcome of a use case that ended with `error`.
    pub fn of_error(error: &ServiceError) -> Self {
        match error {
            ServiceError::Throttled { .. } => Self::Throttled,
            ServiceError::Busy => Self::Busy,
            ServiceError::Unavailable(_) => Self::Unavailable,
            _ => Self::Error,
        }
    }
}
