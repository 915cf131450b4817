//! Why a cluster could not be started, stopped or removed.

use std::fmt;

/// What went wrong, for callers that act on it (a test may skip when PostgreSQL is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No `initdb` and `pg_ctl` were found (or [`BINDIR_VAR`](crate::BINDIR_VAR) names a folder
    /// without them); the message says what to install.
    NotInstalled,
    /// Running as root, but there is no `postgres` user, or no `runuser` to become it.
    NoPostgresUser,
    /// A server is already running on the development cluster's data folder.
    AlreadyRunning,
    /// The development cluster's data folder cannot be used (another major version, or a
    /// non-empty folder that holds no cluster).
    UnusableData,
    /// [`Cluster::start`](crate::Cluster::start): another program took the cluster's port
    /// while it was stopped.
    PortTaken,
    /// A PostgreSQL program failed (`initdb`, `pg_ctl start`, `pg_ctl stop`…).
    Failed,
    /// A PostgreSQL program was stopped by SIGINT or SIGTERM (usually a Ctrl-C).
    Interrupted,
    /// A file or folder could not be created or removed, or a program could not be run.
    Io,
}

/// Why a cluster could not be started, stopped or removed.
///
/// `Display` gives the one-line (or few-line) message; the alternate form (`{:#}`) and `Debug`
/// add the [`details`](Error::details), if any.
pub struct Error {
    kind: ErrorKind,
    message: String,
    details: Option<String>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            details: None,
        }
    }

    pub(crate) fn with_details(mut self, details: String) -> Self {
        self.details = Some(details);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// For a failed start: pg_ctl's output and the server log written during the attempt,
    /// several lines between `----` markers, to show the user.
    pub fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.details {
            Some(details) if f.alternate() => write!(f, "\n{details}"),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for Error {
    /// The message and the details, unescaped: what a test that unwraps an error should show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:#}")
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_only_in_the_alternate_form() {
        let error =
            Error::new(ErrorKind::Failed, "it failed").with_details("the log\n----".to_owned());
        assert_eq!(error.to_string(), "it failed");
        assert_eq!(format!("{error:#}"), "it failed\nthe log\n----");
        assert_eq!(format!("{error:?}"), "it failed\nthe log\n----");
        assert_eq!(error.details(), Some("the log\n----"));
        assert_eq!(error.kind(), ErrorKind::Failed);
    }
}
