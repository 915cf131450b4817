//! The rules a configuration must keep beyond its types; a broken one names its key.

use super::{ConfigError, Settings};

/// URL schemes `database.url` may use.
pub const SUPPORTED_SCHEMES: [&str; 3] = ["sqlite", "postgres", "postgresql"];

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid(format!("invalid configuration: {message}"))
}

/// Checks `settings`; the first broken rule is the error.
pub fn validate(settings: &Settings) -> Result<(), ConfigError> {
    let p = &settings.password;
    if p.min_length == 0 || p.min_length > p.max_length {
        return Err(invalid(format!(
            "`password.min_length` ({}) must be at least 1 and at most `password.max_length` ({})",
            p.min_length, p.max_length
        )));
    }
    let cookie_name = &settings.session.cookie_name;
    if cookie_name.is_empty()
        || !cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid(
            "`session.cookie_name` must be letters, digits, '_' or '-'".into(),
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
    if crate::redirect::safe_next(&settings.login.default_redirect).is_none() {
        return Err(invalid(format!(
            "`login.default_redirect` ({:?}) must be a path on this site, such as \"/dashboard\"",
            settings.login.default_redirect
        )));
    }
    Ok(())
}
