//! Everything a request handler needs, built once at start-up.

use crate::config::LoadedConfig;
use crate::sessions::Sessions;
use crate::templates::Templates;
use auth_core::keys::DerivedKey;
use auth_core::{Argon2Hasher, AuthStore, CookieSigner, KeyPurpose, LoginThrottle, PasswordPolicy};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Shared application state; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<AppInner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.0.store.backend_name())
            .finish_non_exhaustive()
    }
}

/// Names and attributes of the cookies Wristband sets.
#[derive(Debug, Clone)]
pub struct CookieNames {
    /// The session cookie (with `__Host-` when secure).
    pub session: String,
    /// The CSRF cookie.
    pub csrf: String,
    /// The flash-message cookie.
    pub flash: String,
    /// `Secure` attribute and `__Host-` prefix.
    pub secure: bool,
}

impl CookieNames {
    fn new(session_name: &str, secure: bool) -> Self {
        let prefixed = |name: &str| {
            if secure {
                format!("__Host-{name}")
            } else {
                name.to_owned()
            }
        };
        Self {
            session: prefixed(session_name),
            csrf: prefixed("wristband_csrf"),
            flash: prefixed("wristband_flash"),
            secure,
        }
    }
}

pub(crate) struct AppInner {
    pub store: Arc<dyn AuthStore>,
    pub sessions: Sessions,
    pub trusted_proxies: Vec<IpAddr>,
    pub fresh_for: Duration,
    pub cors_origins: Vec<axum::http::HeaderValue>,
    pub hasher: Argon2Hasher,
    pub policy: PasswordPolicy,
    pub throttle: LoginThrottle,
    pub cookies: CookieNames,
    pub session_signer: CookieSigner,
    pub csrf_signer: CookieSigner,
    pub csrf_token_key: DerivedKey,
    pub flash_signer: CookieSigner,
    pub templates: Templates,
    pub body_limit: usize,
    pub header_timeout: Duration,
}

/// Why the application could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The hashing pool could not start (invalid Argon2 parameters, no threads).
    #[error("cannot start password hashing: {0}")]
    Hasher(#[from] auth_core::HashError),
    /// A template failed to compile.
    #[error("cannot compile the templates: {0}")]
    Templates(#[from] minijinja::Error),
}

impl AppState {
    /// Assembles the state from the configuration and an open store.
    pub fn new(config: &LoadedConfig, store: Arc<dyn AuthStore>) -> Result<Self, BuildError> {
        let keys = &config.keys;
        let secure = config.secure_cookies();
        Ok(Self(Arc::new(AppInner {
            sessions: Sessions::new(
                config.settings.session.store,
                Arc::clone(&store),
                config.session_timeouts(),
            ),
            trusted_proxies: config.settings.server.trusted_proxies.clone(),
            fresh_for: config.settings.session.fresh_for.0,
            cors_origins: config
                .settings
                .server
                .cors_origins
                .iter()
                .filter_map(|o| axum::http::HeaderValue::from_str(o.trim_end_matches('/')).ok())
                .collect(),
            store,
            hasher: Argon2Hasher::start(config.hasher_config())?,
            policy: config.password_policy(),
            throttle: crate::throttle::policy(&config.settings.login),
            cookies: CookieNames::new(&config.settings.session.cookie_name, secure),
            session_signer: keys.cookie_signer(KeyPurpose::SessionCookie),
            csrf_signer: keys.cookie_signer(KeyPurpose::CsrfCookie),
            csrf_token_key: keys.derive(KeyPurpose::CsrfToken),
            flash_signer: keys.cookie_signer(KeyPurpose::FlashCookie),
            templates: Templates::new()?,
            body_limit: usize::try_from(config.settings.server.body_limit.0).unwrap_or(usize::MAX),
            header_timeout: config.settings.server.header_timeout.0,
        })))
    }

    /// The store, for embedding applications and tests.
    pub fn store(&self) -> &Arc<dyn AuthStore> {
        &self.0.store
    }

    /// The password hasher (its [`stats`](Argon2Hasher::stats) count the work done).
    pub fn hasher(&self) -> &Argon2Hasher {
        &self.0.hasher
    }

    /// Sessions in the configured store.
    pub fn sessions(&self) -> &Sessions {
        &self.0.sessions
    }

    /// The cookie names in use.
    pub fn cookie_names(&self) -> &CookieNames {
        &self.0.cookies
    }

    /// Time allowed for a request's headers.
    pub fn header_timeout(&self) -> Duration {
        self.0.header_timeout
    }
}
