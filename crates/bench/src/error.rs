//! One error type for the whole benchmark: a message that already says what failed.

use std::fmt;

/// What went wrong, as one line (possibly followed by a server's log tail).
#[derive(Debug)]
pub struct Error(String);

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The result of a benchmark step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds what was being done to an error, `anyhow`-style: `"{what}: {error}"`.
pub trait Context<T> {
    /// Wraps the error with `what`.
    fn context(self, what: impl fmt::Display) -> Result<T>;

    /// Wraps the error with the message `what()` returns (built only on failure).
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|error| Error(format!("{what}: {error}")))
    }

    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|error| Error(format!("{}: {error}", what())))
    }
}
