//! The settings: every section and key, with its default.

use super::values::{ByteSize, ConfigDuration, SecureSetting};
use auth_core::foreign_hash::ImportCostLimits;
use auth_core::hasher::Argon2Settings;
use auth_core::{PasswordPolicy, SessionStorage, SessionTimeouts};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Every setting, as read from all sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[server]`
    pub server: ServerSettings,
    /// `[database]`
    pub database: DatabaseSettings,
    /// `[session]`
    pub session: SessionSettings,
    /// `[password]`
    pub password: PasswordSettings,
    /// `[login]`
    pub login: LoginSettings,
    /// `[register]`
    pub register: RegisterSettings,
    /// `[log]`
    pub log: LogSettings,
    /// `[web]`
    pub web: WebSettings,
    /// `[account]`
    pub account: AccountSettings,
    /// `[mfa]`
    pub mfa: MfaSettings,
    /// `[webauthn]`
    pub webauthn: WebauthnSection,
    /// `[mail]`
    pub mail: MailSettings,
    /// `[metrics]`
    pub metrics: MetricsSettings,
}

/// `[server]`: the listener and limits on what clients may send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Listen address.
    pub bind: SocketAddr,
    /// Largest request body.
    pub body_limit: ByteSize,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Time allowed for a request's headers.
    pub header_timeout: ConfigDuration,
    /// Time allowed for a request's body.
    pub body_timeout: ConfigDuration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Origins allowed to call the JSON API from a browser.
    pub cors_origins: Vec<String>,
    /// The site's public origin (`https://shop.example`), which links in mail are built
    /// from; unset: `http://` + `bind`. Never taken from a request's headers.
    pub public_url: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            body_limit: ByteSize(64 * 1024),
            trusted_proxies: Vec::new(),
            header_timeout: ConfigDuration(Duration::from_secs(10)),
            body_timeout: ConfigDuration(Duration::from_secs(10)),
            max_connections: 1024,
            cors_origins: Vec::new(),
            public_url: None,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://…`; the scheme chooses the store.
    pub url: String,
    /// Pool size; the backend's default when unset.
    pub max_connections: Option<u32>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/wristband.db".into(),
            max_connections: None,
        }
    }
}

/// `[session]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// `database` or `cookie`.
    pub store: SessionStorage,
    /// Cookie name; `__Host-` is prefixed when secure.
    pub cookie_name: String,
    /// Idle timeout.
    pub idle_timeout: ConfigDuration,
    /// Absolute timeout.
    pub absolute_timeout: ConfigDuration,
    /// Lifetime of a "remember me" session.
    pub remember_for: ConfigDuration,
    /// `Secure` cookies and HSTS.
    pub secure: SecureSetting,
    /// How recent a login must be for sensitive actions.
    pub fresh_for: ConfigDuration,
    /// How often expired sessions and stale throttle counters are deleted.
    pub purge_interval: ConfigDuration,
    /// Live sessions (and their users) kept in memory; 0 turns the cache off.
    pub cache_entries: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        let timeouts = SessionTimeouts::default();
        Self {
            store: SessionStorage::Database,
            cookie_name: "wristband_session".into(),
            idle_timeout: ConfigDuration(timeouts.idle),
            absolute_timeout: ConfigDuration(timeouts.absolute),
            remember_for: ConfigDuration(timeouts.remember_for),
            secure: SecureSetting::Auto,
            fresh_for: ConfigDuration(Duration::from_secs(600)),
            purge_interval: ConfigDuration(Duration::from_secs(600)),
            cache_entries: auth_core::service::DEFAULT_CACHE_ENTRIES,
        }
    }
}

/// `[password.argon2]`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Section {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Section {
    fn default() -> Self {
        let d = Argon2Settings::default();
        Self {
            memory_kib: d.memory_kib,
            iterations: d.iterations,
            parallelism: d.parallelism,
        }
    }
}

/// `[password]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    /// Fewest code points.
    pub min_length: usize,
    /// Most code points.
    pub max_length: usize,
    /// Argon2id parameters.
    pub argon2: Argon2Section,
    /// Hashing threads; the number of CPUs when unset.
    pub workers: Option<usize>,
    /// Logins allowed to wait for a hashing thread.
    pub queue: usize,
    /// How the hashing threads are scheduled against request handling.
    pub worker_priority: auth_core::hasher::WorkerPriority,
    /// The most an imported (foreign) hash may cost; costlier ones are refused at import.
    pub import_max_cost: ImportCostLimits,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        let policy = PasswordPolicy::default();
        Self {
            min_length: policy.min_length,
            max_length: policy.max_length,
            argon2: Argon2Section::default(),
            workers: None,
            queue: 256,
            worker_priority: auth_core::hasher::WorkerPriority::Idle,
            import_max_cost: ImportCostLimits::default(),
        }
    }
}

/// `[login]`: throttling of failed logins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    /// Failures per username and client address within the window.
    pub max_failures: u32,
    /// The window.
    pub failure_window: ConfigDuration,
    /// Failures per username from all addresses within an hour.
    pub max_failures_per_account: u32,
    /// Failures per client address over all usernames within the window.
    pub max_failures_per_address: u32,
    /// Where a login lands without `next` (the ready server's dashboard by default).
    pub default_redirect: String,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            failure_window: ConfigDuration(Duration::from_secs(15 * 60)),
            max_failures_per_account: 100,
            max_failures_per_address: 50,
            default_redirect: "/dashboard".into(),
        }
    }
}

/// `[register]`: throttling of registrations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegisterSettings {
    /// Registrations per client address per hour (0: no limit).
    pub max_per_address: u32,
}

impl Default for RegisterSettings {
    fn default() -> Self {
        Self {
            max_per_address: 20,
        }
    }
}

/// `[webauthn]`: the passkeys' relying party (contract §10). Unset, both come from
/// `server.public_url` (a loopback address becomes `localhost`, since WebAuthn refuses IP
/// addresses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnSection {
    /// The relying party id: the site's domain, e.g. `shop.example`.
    pub rp_id: Option<String>,
    /// The origin the pages run at, e.g. `https://shop.example`.
    pub origin: Option<String>,
}

/// `[mfa]`: second factors (contract §10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaSettings {
    /// A user without a second factor is sent to enrol one right after logging in.
    pub required: bool,
}

/// `[account]`: email addresses and password reset by link (contract §9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    /// `optional`, `required` or `off`.
    pub email: auth_core::EmailPolicy,
    /// Password reset requests per client address per hour (0: no limit).
    pub reset_max_per_address: u32,
    /// Password reset requests per account (the username or address typed) per hour (0: no
    /// limit).
    pub reset_max_per_account: u32,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            email: auth_core::EmailPolicy::Optional,
            reset_max_per_address: 20,
            reset_max_per_account: 5,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per event.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
        }
    }
}

/// `[web]`: the pages' presentation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// A folder of templates that override the built-in ones by file name (`login.html`, …).
    pub templates_dir: Option<PathBuf>,
}

/// `[metrics]`: Prometheus metrics (contract §11), off by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Where `GET /metrics` is served (OpenMetrics text), e.g. `127.0.0.1:9090`: a listener
    /// of its own, never the public one; unset: no metrics are kept. Port 0 takes a free port
    /// ([`Wristband::metrics_address`](crate::Wristband::metrics_address) tells which).
    pub bind: Option<SocketAddr>,
}

/// The `From` of mail when `mail.from` is unset.
pub const DEFAULT_MAIL_FROM: &str = "Wristband <wristband@localhost>";

/// How mail leaves the process (`mail.transport`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// Each message is written as an `.eml` file under `mail.dir` (the development default).
    #[default]
    File,
    /// Each message is sent to the SMTP server `mail.smtp_url` names.
    Smtp,
    /// Each message is only logged as sent (kind, user id, recipient domain), never its body.
    Log,
}

/// `[mail]`: how messages (verification, password reset, notices) are delivered.
///
/// The SMTP password is not a setting: it is the `MAIL_SMTP_PASSWORD` environment variable
/// when `smtp_url` carries none, kept out of the settings so that printing them never prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// `file`, `smtp` or `log`.
    pub transport: MailTransportKind,
    /// The SMTP server, in lettre's URL form: `smtp://host:port` (plain),
    /// `smtp://host:port?tls=required` (STARTTLS), `smtps://host:port` (implicit TLS), with
    /// `user@` (and optionally `user:password@`) for authentication. Required by `smtp`.
    pub smtp_url: Option<String>,
    /// The `From` of every message, e.g. `"Shop <no-reply@shop.example>"`; unset:
    /// [`DEFAULT_MAIL_FROM`].
    pub from: Option<String>,
    /// Where the `file` transport writes its `.eml` files (created when missing).
    pub dir: PathBuf,
}

impl MailSettings {
    /// `mail.from`, or [`DEFAULT_MAIL_FROM`] when unset.
    pub fn from_or_default(&self) -> &str {
        self.from.as_deref().unwrap_or(DEFAULT_MAIL_FROM)
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            transport: MailTransportKind::File,
            smtp_url: None,
            from: None,
            dir: PathBuf::from("data/mail"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config/default.toml` documents every key with its default: what it sets parses (no
    /// unknown key) to exactly the built-in defaults, and every key that has a default value
    /// is set there (keys without one are commented out).
    #[test]
    fn default_toml_holds_every_key_with_its_default() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: Settings = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            Settings::default(),
            "config/default.toml differs from the defaults"
        );
        let file: toml::Value = toml::from_str(&text).unwrap();
        let defaults = toml::Value::try_from(Settings::default()).unwrap();
        let mut missing = Vec::new();
        missing_keys("", &defaults, &file, &mut missing);
        assert!(
            missing.is_empty(),
            "keys missing from config/default.toml: {missing:?}"
        );
    }

    fn missing_keys(
        prefix: &str,
        defaults: &toml::Value,
        file: &toml::Value,
        out: &mut Vec<String>,
    ) {
        let toml::Value::Table(table) = defaults else {
            return;
        };
        for (key, value) in table {
            let path = format!("{prefix}{key}");
            match file.get(key) {
                Some(inner) => missing_keys(&format!("{path}."), value, inner, out),
                None => out.push(path),
            }
        }
    }
}
