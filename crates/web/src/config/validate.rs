//! The rules a configuration must keep beyond its types; a broken one names its key.
//!
//! Every value the server accepts is one it can honour: durations between one nanosecond and
//! 400 days (so no date arithmetic can overflow and no stored time leaves the range every
//! backend keeps), sizes and counts within what one process can serve. The same rules run on
//! values set in code, at [`Wristband::builder`](crate::Wristband::builder)`(…).start()`.

use super::{ConfigDuration, ConfigError, Settings};

/// URL schemes `database.url` may use.
pub const SUPPORTED_SCHEMES: [&str; 3] = ["sqlite", "postgres", "postgresql"];

/// Largest `server.body_limit`: bodies are read whole into memory before a handler runs.
const MAX_BODY_LIMIT: u64 = 16 * 1024 * 1024;
/// Smallest `server.body_limit`: a login form with a long password must fit.
const MIN_BODY_LIMIT: u64 = 1024;
/// Largest `server.max_connections` (one file descriptor each).
const MAX_CONNECTIONS: usize = 65_536;
/// Sessions the cache may hold: 10 million is about 10 GiB at worst, more than any one
/// process should keep; beyond that, run more instances.
const MAX_CACHE_ENTRIES: u64 = 10_000_000;
/// Largest `password.workers` and `password.queue`.
const MAX_WORKERS: usize = 1024;
const MAX_QUEUE: usize = 65_536;
/// Longest `password.max_length`, in code points (hashing cost grows with it; 128 is the default).
const MAX_PASSWORD_LENGTH: usize = 4096;
/// Most Argon2 memory per hash, KiB (1 GiB), times the workers must still fit a machine.
const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 64;
const MAX_ARGON2_PARALLELISM: u32 = 64;

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid(format!("invalid configuration: {message}"))
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(invalid(format!(
            "`{key}` is {value}; it must be between {min} and {max}"
        )));
    }
    Ok(())
}

/// Checks `settings`; the first broken rule is the error.
pub fn validate(settings: &Settings) -> Result<(), ConfigError> {
    let durations: [(&str, ConfigDuration); 8] = [
        ("server.header_timeout", settings.server.header_timeout),
        ("server.body_timeout", settings.server.body_timeout),
        ("session.idle_timeout", settings.session.idle_timeout),
        (
            "session.absolute_timeout",
            settings.session.absolute_timeout,
        ),
        ("session.remember_for", settings.session.remember_for),
        ("session.fresh_for", settings.session.fresh_for),
        ("session.purge_interval", settings.session.purge_interval),
        ("login.failure_window", settings.login.failure_window),
    ];
    for (key, duration) in durations {
        if let Some(problem) = duration.problem() {
            return Err(invalid(format!("`{key}`: {problem}")));
        }
    }
    let server = &settings.server;
    in_range(
        "server.body_limit",
        server.body_limit.0,
        MIN_BODY_LIMIT,
        MAX_BODY_LIMIT,
    )?;
    in_range(
        "server.max_connections",
        server.max_connections,
        1,
        MAX_CONNECTIONS,
    )?;
    in_range(
        "session.cache_entries",
        settings.session.cache_entries,
        0,
        MAX_CACHE_ENTRIES,
    )?;
    let p = &settings.password;
    if p.min_length == 0 || p.min_length > p.max_length {
        return Err(invalid(format!(
            "`password.min_length` ({}) must be at least 1 and at most `password.max_length` ({})",
            p.min_length, p.max_length
        )));
    }
    in_range("password.max_length", p.max_length, 1, MAX_PASSWORD_LENGTH)?;
    if let Some(workers) = p.workers {
        in_range("password.workers", workers, 1, MAX_WORKERS)?;
    }
    in_range("password.queue", p.queue, 1, MAX_QUEUE)?;
    let a = &p.argon2;
    in_range(
        "password.argon2.memory_kib",
        a.memory_kib,
        8 * a.parallelism.max(1),
        MAX_ARGON2_MEMORY_KIB,
    )?;
    in_range(
        "password.argon2.iterations",
        a.iterations,
        1,
        MAX_ARGON2_ITERATIONS,
    )?;
    in_range(
        "password.argon2.parallelism",
        a.parallelism,
        1,
        MAX_ARGON2_PARALLELISM,
    )?;
    if let Err(problem) = p.import_max_cost.check() {
        return Err(invalid(format!("`password.import_max_cost.{problem}")));
    }
    let cookie_name = &settings.session.cookie_name;
    if cookie_name.is_empty()
        || cookie_name.len() > 64
        || !cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid(
            "`session.cookie_name` must be 1 to 64 letters, digits, '_' or '-'".into(),
        ));
    }
    let scheme = settings
        .database
        .url
        .split("://")
        .next()
        .unwrap_or_default();
    if !SUPPORTED_SCHEMES.contains(&scheme) {
        return Err(invalid(format!(
            "`database.url` has the unsupported scheme {scheme:?}; supported: {}",
            SUPPORTED_SCHEMES.map(|s| format!("{s}://")).join(", ")
        )));
    }
    if let Some(max) = settings.database.max_connections {
        in_range("database.max_connections", max, 1, 1024)?;
    }
    if crate::redirect::safe_next(&settings.login.default_redirect).is_none() {
        return Err(invalid(format!(
            "`login.default_redirect` ({:?}) must be a path on this site, such as \"/dashboard\"",
            settings.login.default_redirect
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn refused(tweak: impl FnOnce(&mut Settings)) -> String {
        let mut settings = Settings::default();
        tweak(&mut settings);
        validate(&settings).expect_err("refused").to_string()
    }

    #[test]
    fn the_defaults_are_valid() {
        validate(&Settings::default()).unwrap();
    }

    #[test]
    fn values_the_server_cannot_honour_name_their_key() {
        let long = ConfigDuration(Duration::from_secs(401 * 24 * 3600));
        assert!(refused(|s| s.session.idle_timeout = long).contains("`session.idle_timeout`"));
        assert!(refused(|s| s.login.failure_window = long).contains("`login.failure_window`"));
        assert!(
            refused(|s| s.session.remember_for = ConfigDuration(Duration::ZERO))
                .contains("`session.remember_for`")
        );
        assert!(refused(|s| s.server.body_limit.0 = 0).contains("`server.body_limit`"));
        assert!(refused(|s| s.server.body_limit.0 = u64::MAX).contains("`server.body_limit`"));
        assert!(refused(|s| s.server.max_connections = 0).contains("`server.max_connections`"));
        assert!(refused(|s| s.password.workers = Some(0)).contains("`password.workers`"));
        assert!(refused(|s| s.password.queue = 0).contains("`password.queue`"));
        assert!(
            refused(|s| s.password.argon2.memory_kib = u32::MAX)
                .contains("`password.argon2.memory_kib`")
        );
        assert!(
            refused(|s| s.password.argon2.parallelism = 0)
                .contains("`password.argon2.parallelism`")
        );
        assert!(refused(|s| s.password.max_length = usize::MAX).contains("`password.max_length`"));
        assert!(
            refused(|s| s.database.max_connections = Some(0))
                .contains("`database.max_connections`")
        );
        assert!(
            refused(|s| s.password.import_max_cost.bcrypt_cost = 99)
                .contains("`password.import_max_cost.bcrypt_cost`")
        );
    }
}
