//! Configuration: typed settings, read once at start-up.
//!
//! Three ways in, one [`Config`]:
//!
//! - [`Config::load`]: what the ready server reads — built-in defaults < `config/default.toml`
//!   < `config/<profile>.toml` < `WRISTBAND_<SECTION>__<KEY>` < `DATABASE_URL`; the profile is
//!   `WRISTBAND_PROFILE`, the folder `./config` or `WRISTBAND_CONFIG_DIR`.
//! - [`Config::from_figment`]: a section of an application's own Figment, e.g.
//!   `their_figment.focus("wristband")`; missing keys take Wristband's defaults.
//! - [`Config::new`]: in code, defaults, then set [`Config::settings`] fields.
//!
//! `SECRET_KEY` and `SECRET_KEY_FALLBACKS` come from the environment unless given with
//! [`Config::with_keys`]; they are kept out of [`Settings`], so printing the settings can never
//! print a key. So is `MAIL_SMTP_PASSWORD`, the SMTP password when `mail.smtp_url` has none
//! (or [`Config::with_smtp_password`]).
//!
//! ```
//! use web::Config;
//! use web::config::Profile;
//!
//! let mut config = Config::new(Profile::Development).expect("development needs no key");
//! config.settings.database.url = "sqlite://data/shop.db".into();
//! config.settings.login.default_redirect = "/shop".into();
//! ```

mod describe;
mod redact;
mod schema;
mod sources;
mod validate;
mod values;

pub use auth_core::foreign_hash::ImportCostLimits;
pub use redact::redact_url;
pub use schema::{
    AccountSettings, Argon2Section, DEFAULT_MAIL_FROM, DatabaseSettings, LogFormat, LogSettings,
    LoginSettings, MailSettings, MailTransportKind, MetricsSettings, MfaSettings, PasswordSettings,
    RegisterSettings, ServerSettings, SessionSettings, Settings, WebSettings,
};
pub use validate::SUPPORTED_SCHEMES;
pub use values::{ByteSize, ConfigDuration, SecureSetting};

use auth_core::hasher::{Argon2Settings, HasherConfig};
use auth_core::{KeyRing, LoginThrottle, PasswordPolicy, SecretString, ServiceSettings};
use figment::Figment;
use std::fmt;

/// The deployment profile, choosing `config/<profile>.toml` and some defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Local work: a random key if none is set, cookies without `Secure`.
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

/// A configuration problem; the message names the key and where its value came from. The
/// ready server exits with status 2 and this one line.
///
/// ```
/// use figment::{Figment, providers::Serialized};
/// use web::{Config, config::Profile};
///
/// let figment = Figment::from(Serialized::default("session.idle_timeout", "soon"));
/// let error = Config::from_figment(figment, Profile::Development).unwrap_err();
/// assert!(error.to_string().contains("session.idle_timeout"), "{error}");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value, key or source is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// Wristband's whole configuration: the settings, the profile and the signing keys.
///
/// ```
/// use figment::{Figment, providers::{Format, Toml}};
/// use web::{Config, config::Profile};
///
/// // The [wristband] section of an application's own configuration.
/// let figment = Figment::from(Toml::string(
///     "[wristband.session]\nidle_timeout = \"15m\"\n[wristband.login]\ndefault_redirect = \"/orders\"",
/// ));
/// let config = Config::from_figment(figment.focus("wristband"), Profile::Development).unwrap();
/// assert_eq!(config.settings.session.idle_timeout.0, std::time::Duration::from_secs(900));
/// assert_eq!(config.settings.login.default_redirect, "/orders");
/// ```
pub struct Config {
    /// Every setting. Fields may be changed in code before
    /// [`Wristband::builder`](crate::Wristband::builder); they are checked again at start.
    pub settings: Settings,
    /// The active profile.
    pub profile: Profile,
    /// `None`: production without `SECRET_KEY` (and none given in code); start refuses.
    keys: Option<KeyRing>,
    random_key: bool,
    secret_key_source: Option<&'static str>,
    /// `MAIL_SMTP_PASSWORD`, or one given in code.
    smtp_password: Option<SecretString>,
    sources: Option<Figment>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("settings", &self.settings)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The ready server's configuration, from files and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let profile = sources::profile_from_env()?;
        let figment = sources::server_figment(profile);
        let config = Self::from_sources(figment, profile)?;
        config.keys()?;
        Ok(config)
    }

    /// Configuration from an application's own Figment: `figment` holds Wristband's keys at its
    /// top level (for instance `their_figment.focus("wristband")`); missing keys take the
    /// defaults. The keys come from `SECRET_KEY` unless given with [`with_keys`](Self::with_keys).
    pub fn from_figment(figment: Figment, profile: Profile) -> Result<Self, ConfigError> {
        Self::from_sources(sources::embedded_figment(figment), profile)
    }

    /// The defaults for `profile`, to be changed in code. The keys come from `SECRET_KEY`
    /// unless given with [`with_keys`](Self::with_keys); in production, starting without either
    /// is an error. A `SECRET_KEY` shorter than 32 bytes is an error at once.
    pub fn new(profile: Profile) -> Result<Self, ConfigError> {
        let (keys, random_key, secret_key_source) = load_keys(profile)?;
        Ok(Self {
            settings: Settings::default(),
            profile,
            keys,
            random_key,
            secret_key_source,
            smtp_password: sources::var("MAIL_SMTP_PASSWORD")
                .filter(|p| !p.is_empty())
                .map(SecretString::new),
            sources: None,
        })
    }

    fn from_sources(figment: Figment, profile: Profile) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract()?;
        validate::validate(&settings).map_err(|e| validate::name_source(e, &figment))?;
        let mut config = Self::new(profile)?;
        config.settings = settings;
        config.sources = Some(figment);
        Ok(config)
    }

    /// Uses `keys` instead of `SECRET_KEY` / `SECRET_KEY_FALLBACKS`.
    pub fn with_keys(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self.random_key = false;
        self.secret_key_source = Some("given in code");
        self
    }

    /// Uses `password` as the SMTP password (when `mail.smtp_url` has none) instead of
    /// `MAIL_SMTP_PASSWORD`.
    pub fn with_smtp_password(mut self, password: SecretString) -> Self {
        self.smtp_password = Some(password);
        self
    }

    /// The SMTP password from `MAIL_SMTP_PASSWORD` or [`with_smtp_password`](Self::with_smtp_password).
    pub(crate) fn smtp_password(&self) -> Option<&SecretString> {
        self.smtp_password.as_ref()
    }

    /// Checks the settings (again, after changes in code).
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(&self.settings)
    }

    /// The signing keys; an error in production when none was set.
    pub(crate) fn keys(&self) -> Result<&KeyRing, ConfigError> {
        self.keys.as_ref().ok_or_else(|| {
            ConfigError::Invalid(
                "SECRET_KEY is not set: the production profile needs a key of at least 32 bytes; \
                 make one with `wristband gen-secret` and set SECRET_KEY"
                    .into(),
            )
        })
    }

    /// True when the key is random because `SECRET_KEY` was unset (development and test only):
    /// sessions end when the process does.
    pub fn random_key(&self) -> bool {
        self.random_key
    }

    /// Whether cookies are `Secure` (and HSTS is sent).
    pub fn secure_cookies(&self) -> bool {
        match self.settings.session.secure {
            SecureSetting::On => true,
            SecureSetting::Off => false,
            SecureSetting::Auto => self.profile == Profile::Production,
        }
    }

    /// The rules the use-case service applies.
    pub(crate) fn service_settings(&self) -> ServiceSettings {
        let s = &self.settings;
        ServiceSettings {
            policy: PasswordPolicy {
                min_length: s.password.min_length,
                max_length: s.password.max_length,
            },
            throttle: LoginThrottle {
                max_failures: s.login.max_failures,
                failure_window: s.login.failure_window.0,
                max_failures_per_account: s.login.max_failures_per_account,
                max_failures_per_address: s.login.max_failures_per_address,
                max_registrations_per_address: s.register.max_per_address,
                max_reset_requests_per_address: s.account.reset_max_per_address,
                max_reset_requests_per_account: s.account.reset_max_per_account,
            },
            timeouts: auth_core::SessionTimeouts {
                idle: s.session.idle_timeout.0,
                absolute: s.session.absolute_timeout.0,
                remember_for: s.session.remember_for.0,
            },
            storage: s.session.store,
            fresh_for: s.session.fresh_for.0,
            username_log_key: self
                .keys
                .as_ref()
                .map(|keys| keys.signer(auth_core::service::USERNAME_LOG_KEY)),
            cache_entries: s.session.cache_entries,
            email: s.account.email,
            totp_sealer: self
                .keys
                .as_ref()
                .map(|keys| keys.sealer(auth_core::service::TOTP_SEALER_KEY)),
            totp_issuer: self.site_name(),
            webauthn: self.webauthn_settings(),
        }
    }

    /// The passkeys' relying party: `[webauthn]`, or derived from the public URL (a loopback
    /// address becomes `localhost`; another IP address leaves passkeys off).
    pub fn webauthn_settings(&self) -> Option<auth_core::service::WebauthnSettings> {
        let section = &self.settings.webauthn;
        let public = url::Url::parse(&self.public_url()).ok()?;
        let (derived_id, derived_origin) = match public.host()? {
            url::Host::Domain(domain) => (domain.to_owned(), public.origin().ascii_serialization()),
            url::Host::Ipv4(ip) if ip.is_loopback() => {
                ("localhost".to_owned(), loopback_origin(&public))
            }
            url::Host::Ipv6(ip) if ip.is_loopback() => {
                ("localhost".to_owned(), loopback_origin(&public))
            }
            _ if section.rp_id.is_some() && section.origin.is_some() => {
                (String::new(), String::new())
            }
            _ => return None,
        };
        Some(auth_core::service::WebauthnSettings {
            rp_id: section.rp_id.clone().unwrap_or(derived_id),
            origin: section
                .origin
                .clone()
                .map(|o| o.trim_end_matches('/').to_owned())
                .unwrap_or(derived_origin),
            rp_name: self.site_name(),
        })
    }

    /// The site's name for authenticator apps: the host of the public URL.
    pub fn site_name(&self) -> String {
        url::Url::parse(&self.public_url())
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "Wristband".to_owned())
    }

    /// The site's public origin, without a trailing `/`: `server.public_url`, or `http://` +
    /// `server.bind` when unset.
    pub fn public_url(&self) -> String {
        match &self.settings.server.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.settings.server.bind),
        }
    }

    /// The hashing pool's configuration.
    pub(crate) fn hasher_config(&self) -> HasherConfig {
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
            priority: p.worker_priority,
        }
    }
}

/// The keys from the environment: `None` in production when `SECRET_KEY` is unset, a random
/// key (flagged) elsewhere.
fn load_keys(
    profile: Profile,
) -> Result<(Option<KeyRing>, bool, Option<&'static str>), ConfigError> {
    let fallbacks: Vec<SecretString> = sources::var("SECRET_KEY_FALLBACKS")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(SecretString::from)
                .collect()
        })
        .unwrap_or_default();
    match sources::var("SECRET_KEY").filter(|k| !k.is_empty()) {
        Some(key) => {
            let ring = KeyRing::new(SecretString::new(key), fallbacks).map_err(|e| {
                ConfigError::Invalid(format!(
                    "SECRET_KEY or SECRET_KEY_FALLBACKS is too short: {e}; make a key with `wristband gen-secret`"
                ))
            })?;
            Ok((Some(ring), false, Some("environment variable `SECRET_KEY`")))
        }
        None if profile == Profile::Production => Ok((None, false, None)),
        None => Ok((Some(KeyRing::random()), true, None)),
    }
}

/// `public`'s origin with its loopback address written `localhost`.
fn loopback_origin(public: &url::Url) -> String {
    match public.port() {
        Some(port) => format!("{}://localhost:{port}", public.scheme()),
        None => format!("{}://localhost", public.scheme()),
    }
}
