//! The rules a configuration must keep beyond its types; a broken one names its key.
//!
//! Every value the server accepts is one it can honour: durations between one nanosecond and
//! 400 days (so no date arithmetic can overflow and no stored time leaves the range every
//! backend keeps), sizes and counts within what one process can serve. The same rules run on
//! values set in code, at [`Wristband::builder`](crate::Wristband::builder)`(…).start()`.

use super::sources::describe_source;
use super::{ConfigDuration, ConfigError, MailSettings, MailTransportKind, Settings};
use figment::Figment;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

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
    validate_mail(&settings.mail)?;
    let webauthn = &settings.webauthn;
    match (&webauthn.rp_id, &webauthn.origin) {
        (None, None) => {}
        (Some(rp_id), Some(origin)) => {
            let relying_party = auth_core::service::WebauthnSettings {
                rp_id: rp_id.clone(),
                origin: origin.clone(),
                rp_name: String::new(),
            };
            if let Err(problem) = relying_party.relying_party() {
                return Err(invalid(problem));
            }
        }
        _ => {
            return Err(invalid(
                "`webauthn.rp_id` and `webauthn.origin` are set together, or neither (then both come from `server.public_url`)".into(),
            ));
        }
    }
    if let Some(public_url) = &settings.server.public_url {
        validate_public_url(public_url)?;
    }
    if let Some(metrics) = settings.metrics.bind {
        validate_metrics_bind(metrics, settings.server.bind)?;
    }
    Ok(())
}

/// `metrics.bind`: a listener of its own, so never the public one (`server.bind`; an
/// unspecified address such as `0.0.0.0` overlaps every address of its family). Port 0 (a
/// free port) never collides.
fn validate_metrics_bind(
    metrics: std::net::SocketAddr,
    public: std::net::SocketAddr,
) -> Result<(), ConfigError> {
    let overlaps = metrics.ip() == public.ip()
        || (metrics.ip().is_unspecified() && metrics.is_ipv4() == public.is_ipv4())
        || (public.ip().is_unspecified() && metrics.is_ipv4() == public.is_ipv4());
    if metrics.port() != 0 && metrics.port() == public.port() && overlaps {
        return Err(invalid(format!(
            "`metrics.bind` ({metrics}) is the public listener `server.bind` ({public}): metrics \
             are served on an address of their own, such as 127.0.0.1:9090, never on the public port"
        )));
    }
    Ok(())
}

/// `server.public_url`: an `http` or `https` origin (a path is allowed, for an app mounted
/// under one), with no query, fragment or credentials: links in mail are built from it.
fn validate_public_url(public_url: &str) -> Result<(), ConfigError> {
    let refused = |why: &str| {
        invalid(format!(
            "`server.public_url` ({public_url:?}) {why}; use the site's origin, such as \"https://shop.example\""
        ))
    };
    let url = url::Url::parse(public_url).map_err(|_| refused("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(refused("must be an http:// or https:// URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refused("must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("must not carry credentials"));
    }
    Ok(())
}

/// `[mail]`: an SMTP URL lettre accepts (whenever one is set, and required by `smtp`), and a
/// `From` that is an address. The URL itself is never repeated in a message: it may hold a
/// password, and one too malformed to parse could not be redacted.
fn validate_mail(mail: &MailSettings) -> Result<(), ConfigError> {
    const FORMS: &str = "smtp://HOST:PORT (plain), smtp://HOST:PORT?tls=required (STARTTLS) \
                         or smtps://HOST:PORT (implicit TLS), with USER@ before the host to log in";
    match &mail.smtp_url {
        None if mail.transport == MailTransportKind::Smtp => {
            return Err(invalid(format!(
                "`mail.smtp_url` must be set when `mail.transport` is \"smtp\": {FORMS}"
            )));
        }
        None => {}
        Some(url) => {
            if let Err(error) = AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
                return Err(invalid(format!(
                    "`mail.smtp_url` is not an SMTP URL ({error}); use {FORMS}"
                )));
            }
        }
    }
    if let Some(from) = &mail.from
        && from.parse::<Mailbox>().is_err()
    {
        return Err(invalid(format!(
            "`mail.from` ({from:?}) is not a mail address; use one such as \
             \"Wristband <no-reply@example.com>\" or \"no-reply@example.com\""
        )));
    }
    Ok(())
}

/// `error` from [`validate`] with the source of the key it names (the first key in backticks
/// that a file, the environment or the application set), e.g. `(from config/production.toml)`.
pub(super) fn name_source(error: ConfigError, figment: &Figment) -> ConfigError {
    let ConfigError::Invalid(message) = error;
    let keys = message
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|k| k.contains('.') && !k.contains(char::is_whitespace));
    // The built-in defaults (`Serialized::defaults(Settings::default())`) are named by their type.
    let built_in = std::any::type_name::<Settings>();
    for (position, key) in keys.enumerate() {
        if let Some(metadata) = figment
            .find_metadata(key)
            .filter(|metadata| metadata.name != built_in)
        {
            let path: Vec<&str> = key.split('.').collect();
            let source = describe_source(metadata, &path);
            let suffix = if position == 0 {
                format!(" (from {source})")
            } else {
                format!(" (`{key}` from {source})")
            };
            return ConfigError::Invalid(message + &suffix);
        }
    }
    ConfigError::Invalid(message)
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
    fn a_public_url_must_be_an_http_origin() {
        for bad in [
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/?a=1",
            "https://u:p@shop.example",
            "https://",
        ] {
            assert!(
                refused(|s| s.server.public_url = Some(bad.into())).contains("`server.public_url`"),
                "{bad}"
            );
        }
        let mut settings = Settings::default();
        settings.server.public_url = Some("https://shop.example/auth/".into());
        validate(&settings).unwrap();
    }

    #[test]
    fn metrics_are_never_on_the_public_listener() {
        let at = |address: &str| Some(address.parse().unwrap());
        for clash in ["127.0.0.1:3000", "0.0.0.0:3000"] {
            let message = refused(|s| s.metrics.bind = at(clash));
            assert!(
                message.contains("`metrics.bind`") && message.contains("`server.bind`"),
                "{clash}: {message}"
            );
        }
        for fine in [
            "127.0.0.1:9090",
            "127.0.0.1:0",
            "[::1]:3000",
            "10.0.0.5:3000",
        ] {
            let mut settings = Settings::default();
            settings.metrics.bind = at(fine);
            validate(&settings).unwrap_or_else(|e| panic!("{fine}: {e}"));
        }
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

    #[test]
    fn mail_needs_a_usable_smtp_url_and_from_address() {
        let smtp = |s: &mut Settings| s.mail.transport = MailTransportKind::Smtp;
        assert!(refused(smtp).contains("`mail.smtp_url` must be set"));
        for url in [
            "http://mail.example",
            "smtp://",
            "not a url",
            "smtp://host?tls=sometimes",
        ] {
            let message = refused(|s| s.mail.smtp_url = Some(url.into()));
            assert!(message.contains("`mail.smtp_url`"), "{url}: {message}");
        }
        let message = refused(|s| {
            s.mail.smtp_url = Some("smtpx://mailer:hunter2@smtp.example".into());
        });
        assert!(!message.contains("hunter2"), "{message}");
        for from in ["", "no-reply", "Wristband <no-reply>", "a@b@c"] {
            let message = refused(|s| s.mail.from = Some(from.into()));
            assert!(message.contains("`mail.from`"), "{from:?}: {message}");
        }
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://mailer@smtp.example:587?tls=required",
            "smtps://mailer:secret@smtp.example",
        ] {
            let mut settings = Settings::default();
            settings.mail.transport = MailTransportKind::Smtp;
            settings.mail.smtp_url = Some(url.into());
            settings.mail.from = Some("Shop <no-reply@shop.example>".into());
            validate(&settings).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        let mut settings = Settings::default();
        settings.mail.from = Some(crate::config::DEFAULT_MAIL_FROM.into());
        validate(&settings).unwrap();
    }

    #[test]
    fn a_refusal_names_the_source_of_its_key() {
        use figment::providers::{Format, Serialized, Toml};
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("mail.toml");
        std::fs::write(&file, "[mail]\ntransport = \"smtp\"\nfrom = \"nobody\"\n").unwrap();
        let figment =
            Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file(&file));
        let settings: Settings = figment.extract().unwrap();
        let message = name_source(validate(&settings).unwrap_err(), &figment).to_string();
        assert!(
            message.contains("`mail.smtp_url`")
                && message.contains("(`mail.transport` from ")
                && message.ends_with("mail.toml)"),
            "{message}"
        );
        let mut settings = settings;
        settings.mail.smtp_url = Some("smtp://127.0.0.1:25".into());
        let message = name_source(validate(&settings).unwrap_err(), &figment).to_string();
        assert!(
            message.contains("`mail.from`") && message.ends_with("mail.toml)"),
            "{message}"
        );
    }
}
