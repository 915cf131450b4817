//! Private PostgreSQL clusters started with the local `initdb` and `pg_ctl`, for Wristband's
//! tests and its developer tasks (`cargo xtask test`, `cargo xtask pg`).
//!
//! A [`Cluster`] is a folder holding a data folder, the server log and the server's Unix
//! socket, and a server listening on `127.0.0.1` only, where user `postgres` logs in without a
//! password. Two kinds:
//!
//! - **throw-away** ([`Cluster::start_throwaway`]): a new private folder under `/tmp`,
//!   `fsync=off`, stopped with `-m immediate` and removed when the value is dropped. For a test
//!   run, or a single test that needs a server of its own (for instance to stop and restart it).
//! - **development** ([`Cluster::start_dev`]): kept in a folder of the caller's choosing and
//!   reused from run to run, on the same port when it is still free; stopped with `-m fast`.
//!   A second server on the same data folder is refused.
//!
//! ```no_run
//! # fn main() -> Result<(), pg_cluster::Error> {
//! let mut cluster = pg_cluster::Cluster::start_throwaway()?;
//! let url = cluster.url(); // postgres://postgres@127.0.0.1:PORT/postgres
//! cluster.stop()?; // clients now fail to connect…
//! cluster.start()?; // …and reach it again on the same URL
//! drop(cluster); // stops the server and removes the folder
//! # let _ = url;
//! # Ok(())
//! # }
//! ```
//!
//! Finding PostgreSQL: `$XTASK_POSTGRES_BINDIR` ([`BINDIR_VAR`]) when set, else the first
//! folder on `PATH` with both `initdb` and `pg_ctl`, else the highest version under
//! `/usr/lib/postgresql/*/bin` (Debian, Ubuntu). When none is found, the error
//! ([`ErrorKind::NotInstalled`]) says what to install.
//!
//! PostgreSQL refuses to run as root, so as root every PostgreSQL program runs through
//! `runuser -u postgres --`, and the cluster's folder is handed to that user.
//!
//! Nothing is printed: progress is reported through a callback ([`Progress`]), and a failed
//! start returns pg_ctl's output and the server log in the [`Error`] ([`Error::details`]). The
//! one exception is [`Drop`], which has no caller to return to: it writes a one-line warning to
//! stderr when clean-up fails.
//!
//! Unix only (it uses Unix permissions, `chown` and Unix sockets).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cluster;
mod error;
mod find;
mod process;

pub use cluster::{Cluster, Kind, Progress};
pub use error::{Error, ErrorKind};
pub use process::shell_quote;

/// The variable that names an existing PostgreSQL for Wristband's tests, instead of a
/// throw-away cluster; the error for a missing PostgreSQL mentions it as the alternative.
pub const TEST_URL_VAR: &str = "WRISTBAND_TEST_POSTGRES_URL";

/// The variable that names the folder holding `initdb` and `pg_ctl`, instead of searching.
pub const BINDIR_VAR: &str = "XTASK_POSTGRES_BINDIR";

/// `url` with any password replaced by `***`, for printing.
///
/// ```
/// assert_eq!(
///     pg_cluster::redact("postgres://u:s3cret@db:5432/x"),
///     "postgres://u:***@db:5432/x"
/// );
/// ```
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:s3cret@db:5432/x?sslmode=disable"),
            "postgres://u:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5/postgres"),
            "postgres://postgres@127.0.0.1:5/postgres"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
