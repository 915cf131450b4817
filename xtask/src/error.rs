//! How a task fails, and the exit status that follows.

use std::fmt;

/// Why a task did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Something went wrong that has not been reported yet: `main` prints it.
    Error(String),
    /// A step failed and has already said why (its own output and the summary).
    Failed,
    /// Ctrl-C (or SIGTERM): the run was cut short on purpose.
    Interrupted,
}

impl Failure {
    /// The process exit status for this failure: 1, or 130 for an interruption (as shells do).
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Error(_) | Failure::Failed => 1,
            Failure::Interrupted => 130,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Error(message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(message) => f.write_str(message),
            Failure::Failed => f.write_str("failed"),
            Failure::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// The result of a task or one of its steps.
pub type Result<T = ()> = std::result::Result<T, Failure>;
