//! What every request shares, built once at start: the service, the cookie codec, the
//! templates, the URLs, the limits.

use crate::config::Config;
use crate::request::cookies::CookieCodec;
use crate::routes::{Mounts, Urls};
use crate::templates::Templates;
use auth_core::{AuthService, Signer};
use axum::http::HeaderValue;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Key label of the CSRF form tokens.
const CSRF_TOKEN_KEY: &str = "csrf-token";

/// The shared state; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub service: AuthService,
    pub cookies: CookieCodec,
    pub csrf_tokens: Signer,
    pub templates: Templates,
    pub mounts: Mounts,
    pub urls: Urls,
    pub stylesheets: Vec<String>,
    /// `urls` and `stylesheets` as template values, made once: every page needs them.
    pub page_values: minijinja::Value,
    pub trusted_proxies: Vec<IpAddr>,
    pub cors_origins: Vec<HeaderValue>,
    pub body_limit: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    /// `mfa.required`.
    pub mfa_required: bool,
    /// Set once the "no client address" error has been logged.
    pub missing_peer_logged: AtomicBool,
    /// Stops the background work when the last holder goes.
    pub background: Option<crate::handle::BackgroundGuard>,
    /// `metrics.bind` set: what the request-latency layer records into, and the export.
    pub metrics: Option<crate::metrics::Metrics>,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: &Config,
        keys: &auth_core::KeyRing,
        service: AuthService,
        templates: Templates,
        mounts: Mounts,
        stylesheets: Vec<String>,
        background: Option<crate::handle::BackgroundGuard>,
        metrics: Option<crate::metrics::Metrics>,
    ) -> Self {
        let server = &config.settings.server;
        let urls = Urls::new(
            &mounts,
            &config.settings.login.default_redirect,
            config.settings.account.email != auth_core::EmailPolicy::Off,
            service.passkeys_enabled(),
        );
        Self(Arc::new(Shared {
            service,
            cookies: CookieCodec::new(
                keys,
                &config.settings.session.cookie_name,
                config.secure_cookies(),
            ),
            csrf_tokens: keys.signer(CSRF_TOKEN_KEY),
            templates,
            mounts,
            page_values: minijinja::context! {
                urls => minijinja::Value::from_serialize(&urls),
                stylesheets => minijinja::Value::from_serialize(&stylesheets),
            },
            urls,
            stylesheets,
            trusted_proxies: server.trusted_proxies.clone(),
            cors_origins: server
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
                .collect(),
            body_limit: usize::try_from(server.body_limit.0).unwrap_or(usize::MAX),
            header_timeout: server.header_timeout.0,
            body_timeout: server.body_timeout.0,
            max_connections: server.max_connections,
            mfa_required: config.settings.mfa.required,
            missing_peer_logged: AtomicBool::new(false),
            background,
            metrics,
        }))
    }

    /// Whether `path` is under the JSON API's prefix.
    pub(crate) fn is_api_path(&self, path: &str) -> bool {
        self.mounts.api.as_deref().is_some_and(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }
}
