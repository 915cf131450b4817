//! What can go wrong in a use case, apart from the outcomes each one names.

use crate::hasher::HashError;
use crate::store::StoreError;

/// A use case could not be carried out. Expected refusals (a wrong password, a taken name) are
/// not errors: each use case returns them as its outcome.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Too many failed attempts for this username or from this address: retry after the wait.
    #[error("too many failed attempts; retry in {retry_after_seconds} s")]
    Throttled {
        /// Seconds until the blocking window ends.
        retry_after_seconds: u64,
    },
    /// Every password-hashing worker is busy and the queue is full: retry shortly.
    #[error("every password-hashing worker is busy")]
    Busy,
    /// The database cannot be reached or is locked: retry shortly. Never a reason to end a
    /// session.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// The database failed in a way retrying will not fix (a bug, a broken schema).
    #[error("the database failed")]
    Store(#[source] StoreError),
    /// Hashing failed for another reason than a full queue (the pool stopped, bad parameters).
    #[error("password hashing failed")]
    Hashing(#[source] HashError),
    /// The session could not be turned into a credential (the cookie store's payload would not
    /// fit in a cookie).
    #[error("the session cannot be sent")]
    Session(#[source] super::SessionError),
    /// A passkey use case was called while passkeys are not configured.
    #[error("passkeys are not configured")]
    PasskeysOff,
    /// State the service keeps could not be written as JSON (a bug).
    #[error("could not serialise state")]
    Serialisation(#[source] serde_json::Error),
    /// webauthn-rs refused to start a ceremony (a bug or a broken configuration; answers from
    /// browsers are outcomes, not errors).
    #[error("WebAuthn failed: {0}")]
    Webauthn(String),
}

impl ServiceError {
    pub(crate) fn webauthn(error: webauthn_rs::prelude::WebauthnError) -> Self {
        Self::Webauthn(error.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::Unavailable(error),
            // `Taken` is an outcome where it can happen; anywhere else it is a bug.
            StoreError::Taken | StoreError::EmailTaken | StoreError::Database(_) => {
                Self::Store(error)
            }
        }
    }
}

impl From<HashError> for ServiceError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Self::Busy,
            other => Self::Hashing(other),
        }
    }
}

impl From<super::SessionError> for ServiceError {
    fn from(error: super::SessionError) -> Self {
        Self::Session(error)
    }
}

/// `error` and every cause under it, joined with `: `, for a log line.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
