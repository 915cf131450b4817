//! Configuration: typed settings read once at start-up through Figment.
//!
//! Sources, later wins: built-in defaults < `config/default.toml` < `config/<profile>.toml` <
//! `WRISTBAND_<SECTION>__<KEY>` variables < the conventional `DATABASE_URL`. The profile is
//! `WRISTBAND_PROFILE` (`development`, `test`, `production`); the folder is `./config` or
//! `WRISTBAND_CONFIG_DIR`. `SECRET_KEY` and `SECRET_KEY_FALLBACKS` are read here too but kept
//! out of [`Settings`], so printing the settings can never print a key.

use auth_core::hasher::{Argon2Settings, HasherConfig};
use auth_core::{KeyRing, PasswordPolicy, SecretString, SessionTimeouts};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Metadata};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The deployment profile, choosing `config/<profile>.toml` and some defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Local work: random key if none is set, cookies without `Secure`.
    Development,
    /// Test runs.
    Test,
    /// Real deployments: `SECRET_KEY` required, secure cookies by default.
    Production,
}

impl Profile {
    /// The profile's name, also its config file's stem.
    pub fn name(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }

    fn parse(name: &str) -> Result<Self, ConfigError> {
        match name {
            "development" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "production" => Ok(Self::Production),
            other => Err(ConfigError::Invalid(format!(
                "WRISTBAND_PROFILE={other:?} is not a profile; use development, test or production"
            ))),
        }
    }
}

/// A configuration problem: the process exits with status 2 and this one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value, key or source is wrong; the message names it and where it came from.
    #[error("{0}")]
    Invalid(String),
}

impl From<figment::Error> for ConfigError {
    fn from(err: figment::Error) -> Self {
        // Figment's message names the key and, through its metadata, the file or variable.
        let mut text = String::new();
        for (i, e) in err.into_iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            text.push_str(&describe_figment_error(&e));
        }
        Self::Invalid(text)
    }
}

fn describe_figment_error(err: &figment::Error) -> String {
    let key = if err.path.is_empty() {
        String::new()
    } else {
        format!("`{}`: ", err.path.join("."))
    };
    let source = err
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", describe_source(m, &err.path)))
        .unwrap_or_default();
    format!("invalid configuration: {key}{}{source}", err.kind)
}

/// Names where a value came from: the file, or the exact environment variable.
fn describe_source<K: AsRef<str>>(metadata: &Metadata, path: &[K]) -> String {
    if let Some(source) = &metadata.source {
        return source.to_string();
    }
    if metadata.name.contains("environment variable") {
        // Figment cannot invert our prefix-and-split mapping, so name the variable ourselves.
        let keys: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
        let variable = if metadata.name.contains("WRISTBAND_") {
            format!("WRISTBAND_{}", keys.join("__").to_ascii_uppercase())
        } else {
            "DATABASE_URL".to_owned()
        };
        return format!("environment variable `{variable}`");
    }
    if metadata.name.contains("Serialized") {
        return "built-in default".into();
    }
    metadata.name.to_string()
}

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
    /// `[log]`
    pub log: LogSettings,
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

/// Where session state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStoreKind {
    /// A random token in the cookie; the session in the database.
    Database,
    /// A signed payload in the cookie.
    Cookie,
}

/// `auto`, `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureSetting {
    /// On in production, off elsewhere.
    Auto,
    /// Always on.
    On,
    /// Always off.
    Off,
}

impl Serialize for SecureSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::On => s.serialize_bool(true),
            Self::Off => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for SecureSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(Self::On),
            Raw::Bool(false) => Ok(Self::Off),
            Raw::Text(t) => match t.as_str() {
                "auto" => Ok(Self::Auto),
                "true" => Ok(Self::On),
                "false" => Ok(Self::Off),
                other => Err(serde::de::Error::custom(format!(
                    "expected auto, true or false, found {other:?}"
                ))),
            },
        }
    }
}

/// `[session]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// `database` or `cookie`.
    pub store: SessionStoreKind,
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
}

impl Default for SessionSettings {
    fn default() -> Self {
        let timeouts = SessionTimeouts::default();
        Self {
            store: SessionStoreKind::Database,
            cookie_name: "wristband_session".into(),
            idle_timeout: ConfigDuration(timeouts.idle),
            absolute_timeout: ConfigDuration(timeouts.absolute),
            remember_for: ConfigDuration(timeouts.remember_for),
            secure: SecureSetting::Auto,
            fresh_for: ConfigDuration(Duration::from_secs(600)),
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
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            failure_window: ConfigDuration(Duration::from_secs(15 * 60)),
            max_failures_per_account: 100,
            max_failures_per_address: 50,
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

/// A duration written as `"30m"`, `"12h"`, `"30d"`, `"10s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let duration = humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({e}); write e.g. \"30m\", \"12h\", \"30d\""
            ))
        })?;
        if duration.is_zero() {
            return Err(serde::de::Error::custom(
                "a duration must be more than zero",
            ));
        }
        Ok(Self(duration))
    }
}

/// A size in bytes, written as a number or a string like `"64KiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(t) => t
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|b| Self(b.as_u64()))
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "{t:?} is not a size ({e}); write e.g. 65536 or \"64KiB\""
                    ))
                }),
        }
    }
}

/// The result of loading the configuration.
pub struct LoadedConfig {
    /// The settings.
    pub settings: Settings,
    /// The active profile.
    pub profile: Profile,
    /// `SECRET_KEY` and fallbacks; a random key in development when none is set.
    pub keys: KeyRing,
    /// True when `keys` is random because `SECRET_KEY` was unset (development only).
    pub random_key: bool,
    /// The merged sources, for `wristband config` to say where each value came from.
    pub figment: Figment,
    /// Where `SECRET_KEY` came from, if set.
    pub secret_key_source: Option<&'static str>,
}

impl fmt::Debug for LoadedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedConfig")
            .field("settings", &self.settings)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// Variables under the `WRISTBAND_` prefix that are not settings.
const NON_SETTING_VARIABLES: [&str; 2] = ["profile", "config_dir"];

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads and validates the configuration from files and the process environment.
pub fn load() -> Result<LoadedConfig, ConfigError> {
    let profile = Profile::parse(var("WRISTBAND_PROFILE").as_deref().unwrap_or("development"))?;
    let dir = var("WRISTBAND_CONFIG_DIR").map_or_else(|| PathBuf::from("config"), PathBuf::from);
    let mut figment = Figment::from(Serialized::defaults(Settings::default()))
        .merge(Toml::file(dir.join("default.toml")))
        .merge(Toml::file(dir.join(format!("{}.toml", profile.name()))));
    figment = figment.merge(Env::prefixed("WRISTBAND_").split("__").filter(|key| {
        let key = key.as_str().to_ascii_lowercase();
        !NON_SETTING_VARIABLES.contains(&key.as_str()) && !key.starts_with("test_")
    }));
    figment = figment.merge(
        Env::raw()
            .only(&["DATABASE_URL"])
            .map(|_| "database.url".into()),
    );
    let settings: Settings = figment.extract()?;
    validate(&settings)?;
    let (keys, random_key, secret_key_source) = load_keys(profile)?;
    Ok(LoadedConfig {
        settings,
        profile,
        keys,
        random_key,
        figment,
        secret_key_source,
    })
}

fn validate(settings: &Settings) -> Result<(), ConfigError> {
    let p = &settings.password;
    if p.min_length == 0 || p.min_length > p.max_length {
        return Err(ConfigError::Invalid(format!(
            "invalid configuration: `password.min_length` ({}) must be at least 1 and at most `password.max_length` ({})",
            p.min_length, p.max_length
        )));
    }
    if settings.session.cookie_name.is_empty()
        || !settings
            .session
            .cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::Invalid(
            "invalid configuration: `session.cookie_name` must be letters, digits, '_' or '-'"
                .into(),
        ));
    }
    let scheme = settings
        .database
        .url
        .split("://")
        .next()
        .unwrap_or_default();
    if !crate::stores::SUPPORTED_SCHEMES.contains(&scheme) {
        return Err(ConfigError::Invalid(format!(
            "invalid configuration: `database.url` has the unsupported scheme {scheme:?}; supported: {}",
            crate::stores::SUPPORTED_SCHEMES
                .map(|s| format!("{s}://"))
                .join(", ")
        )));
    }
    Ok(())
}

fn load_keys(profile: Profile) -> Result<(KeyRing, bool, Option<&'static str>), ConfigError> {
    let fallbacks: Vec<SecretString> = var("SECRET_KEY_FALLBACKS")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(SecretString::from)
                .collect()
        })
        .unwrap_or_default();
    match var("SECRET_KEY").filter(|k| !k.is_empty()) {
        Some(key) => {
            let ring = KeyRing::new(SecretString::new(key), fallbacks).map_err(|e| {
                ConfigError::Invalid(format!(
                    "SECRET_KEY or SECRET_KEY_FALLBACKS is too short: {e}; make a key with `wristband gen-secret`"
                ))
            })?;
            Ok((ring, false, Some("environment variable `SECRET_KEY`")))
        }
        None if profile == Profile::Production => Err(ConfigError::Invalid(
            "SECRET_KEY is not set: the production profile needs a key of at least 32 bytes; \
             make one with `wristband gen-secret` and set SECRET_KEY"
                .into(),
        )),
        None => Ok((KeyRing::random(), true, None)),
    }
}

impl LoadedConfig {
    /// Configuration for an application that embeds Wristband and reads its own
    /// configuration: `figment` holds Wristband's keys at its top level (for instance
    /// `their_figment.focus("wristband")`); missing keys take Wristband's defaults.
    pub fn from_figment(
        figment: Figment,
        profile: Profile,
        keys: KeyRing,
    ) -> Result<Self, ConfigError> {
        let figment = Figment::from(Serialized::defaults(Settings::default())).merge(figment);
        let settings: Settings = figment.extract()?;
        validate(&settings)?;
        Ok(Self {
            settings,
            profile,
            keys,
            random_key: false,
            figment,
            secret_key_source: None,
        })
    }

    /// Whether cookies are `Secure` (and HSTS is sent).
    pub fn secure_cookies(&self) -> bool {
        match self.settings.session.secure {
            SecureSetting::On => true,
            SecureSetting::Off => false,
            SecureSetting::Auto => self.profile == Profile::Production,
        }
    }

    /// The session timeouts.
    pub fn session_timeouts(&self) -> SessionTimeouts {
        let s = &self.settings.session;
        SessionTimeouts {
            idle: s.idle_timeout.0,
            absolute: s.absolute_timeout.0,
            remember_for: s.remember_for.0,
        }
    }

    /// The password policy.
    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.settings.password.min_length,
            max_length: self.settings.password.max_length,
        }
    }

    /// The hashing pool's configuration.
    pub fn hasher_config(&self) -> HasherConfig {
        let p = &self.settings.password;
        HasherConfig {
            argon2: Argon2Settings {
                memory_kib: p.argon2.memory_kib,
                iterations: p.argon2.iterations,
                parallelism: p.argon2.parallelism,
            },
            workers: p
                .workers
                .unwrap_or_else(|| HasherConfig::default().workers)
                .max(1),
            queue: p.queue,
        }
    }

    /// `key = value  # source` lines of the effective configuration, secrets redacted.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("profile = {:?}", self.profile.name())];
        let value = match toml::Value::try_from(&self.settings) {
            Ok(v) => v,
            Err(e) => return vec![format!("# cannot display the configuration: {e}")],
        };
        let mut leaves = Vec::new();
        flatten("", &value, &mut leaves);
        for (key, rendered) in leaves {
            let rendered = if key == "database.url" {
                redact_url_password(&rendered)
            } else {
                rendered
            };
            let source = self.figment.find_metadata(&key).map_or_else(
                || "built-in default".to_owned(),
                |m| describe_source(m, &key.split('.').collect::<Vec<_>>()),
            );
            lines.push(format!("{key} = {rendered}  # {source}"));
        }
        let secret_source = self
            .secret_key_source
            .unwrap_or("not set: a random key for this run");
        lines.push(format!("SECRET_KEY = [redacted]  # {secret_source}"));
        lines
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Replaces the password of a `scheme://user:password@host` URL with `[redacted]`.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url_password("\"postgres://app:s3cret@db:5432/x\""),
            "\"postgres://app:[redacted]@db:5432/x\""
        );
        assert_eq!(
            redact_url_password("sqlite://data/w.db"),
            "sqlite://data/w.db"
        );
    }
}
