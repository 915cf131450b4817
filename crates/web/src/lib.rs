//! Wristband's web layer: the axum application and the `wristband` binary's building blocks.
//!
//! - [`config`]: Figment configuration (files, profiles, `WRISTBAND_*`, `SECRET_KEY`).
//! - [`stores`]: the one place a `database.url` becomes a store.
//! - [`state`]: what handlers share; [`app`]: the router and its layers.
//! - [`context`]: per-request session, CSRF secret and flashes, loaded by one middleware.
//! - [`extract`]: [`CurrentUser`](extract::CurrentUser) (redirects anonymous visitors to log
//!   in) and CSRF-checked forms; [`csrf`]: refusal of cross-site requests.
//! - [`pages`]: the HTML routes; [`error`]: error responses and pages.
//! - [`throttle`]: login throttling around password checks.
//! - [`server`]: HTTP/1.1 serving with a header deadline and graceful shutdown.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod account;
pub mod api;
pub mod app;
pub mod config;
pub mod context;
pub mod credentials;
pub mod csrf;
pub mod embed;
pub mod error;
pub mod extract;
pub mod guard;
pub mod import;
pub mod pages;
pub mod redirect;
pub mod registration;
pub mod server;
pub mod sessions;
pub mod state;
pub mod static_files;
pub mod stores;
pub mod telemetry;
pub mod templates;
pub mod throttle;

pub use app::{router, router_with};
pub use embed::Wristband;
pub use state::AppState;
