//! Wristband inside a team's own axum application.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use auth_core::guard::LoginRequired;
//! use axum::{Router, routing::get};
//! use web::{Wristband, config::{LoadedConfig, Profile}, extract::CurrentUser, guard::RequireLayer};
//!
//! use figment::providers::{Format, Toml};
//! let figment = figment::Figment::from(Toml::file("app.toml"));
//! let keys = auth_core::KeyRing::new(std::env::var("SECRET_KEY")?.into(), vec![])?;
//! let config = LoadedConfig::from_figment(figment.focus("wristband"), Profile::Production, keys)?;
//! let wristband = Wristband::start(&config).await?;
//! let ours = Router::new()
//!     .route("/orders", get(|CurrentUser(s): CurrentUser| async move { format!("hi {}", s.user.username) }))
//!     .route("/members", get(|| async { "members" }).layer(RequireLayer::new(LoginRequired)));
//! let app = wristband.wrap(ours);
//! # let _ = app; Ok(()) }
//! ```
//!
//! Wristband owns these paths: `/`, `/register`, `/login`, `/logout`, `/dashboard`,
//! `/account…`, `/reauthenticate`, `/api/v1/…`, `/healthz`, `/static/…`; an application's
//! routes go anywhere else.

use crate::config::LoadedConfig;
use crate::state::{AppState, BuildError};
use crate::stores::{self, OpenStoreError};
use axum::Router;

/// Why Wristband could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] OpenStoreError),
    /// The hashing pool or the templates failed.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// A started Wristband: the store open and migrated, the hashing workers running.
#[derive(Debug, Clone)]
pub struct Wristband {
    state: AppState,
}

impl Wristband {
    /// Opens the store `config` names (applying migrations) and starts the hashing workers.
    pub async fn start(config: &LoadedConfig) -> Result<Self, StartError> {
        let database = &config.settings.database;
        let store = stores::open(&database.url, database.max_connections).await?;
        Ok(Self {
            state: AppState::new(config, store)?,
        })
    }

    /// `app` (with its own state already applied) plus Wristband's pages and API, all behind
    /// Wristband's layers: sessions, CSRF, security headers, body limit. In `app`'s handlers
    /// [`CurrentUser`](crate::extract::CurrentUser) is the logged-in user, and the guards of
    /// [`crate::guard`] work as layers and extractors.
    pub fn wrap(&self, app: Router) -> Router {
        crate::router_with(self.state.clone(), app)
    }

    /// The shared state (store, hasher, sessions), for handlers that need Wristband directly.
    pub fn state(&self) -> &AppState {
        &self.state
    }
}
