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
