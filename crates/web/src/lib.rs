//! Wristband for axum: session authentication an application embeds in a few lines —
//! registration, login with throttling, sessions in the database or a signed cookie, CSRF,
//! security headers, the account pages, a JSON API — with everything the ready `wristband`
//! server has.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use web::{Config, CurrentUser, Wristband, config::Profile};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Wristband's keys under [wristband] in the app's own configuration; SECRET_KEY from the
//! // environment.
//! let figment = figment::Figment::from(figment::providers::Serialized::default(
//!     "wristband.database.url",
//!     "sqlite://data/shop.db",
//! ));
//! let config = Config::from_figment(figment.focus("wristband"), Profile::Production)?;
//! let wristband = Wristband::builder(config).pages_at("/auth").start().await?;
//! let shop = Router::new().route(
//!     "/orders",
//!     get(|CurrentUser(session): CurrentUser| async move {
//!         format!("Orders of {}", session.user.username)
//!     }),
//! );
//! let app = wristband.wrap(shop);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! What the root offers:
//!
//! - [`Wristband`], [`WristbandBuilder`]: start it, choose where its routes go, wrap the app's
//!   router in its layers; the purge of expired rows runs inside the handle.
//! - [`Config`] (and the [`config`] module's sections), [`ConfigError`], [`Error`].
//! - Extractors: [`CurrentUser`] (and `Option<CurrentUser>`), [`FreshUser`], [`Guarded`],
//!   [`Page`]; their typed [`Rejection`].
//! - Guards as values — [`LoginRequired`], [`FreshLogin`], [`UserPredicate`], any
//!   [`RouteGuard`] — as a layer ([`RequireLayer`]) or an extractor.
//! - [`Session`] and [`User`], what the extractors hand out.
//! - `testing` (feature `testing`): a logged-in cookie for an app's own tests in one call.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod body;
pub mod config;
mod cors;
mod error;
mod error_pages;
mod extract;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod handle;
mod health;
mod mail;
mod metrics;
mod pages;
mod redirect;
mod request;
mod router;
mod routes;
mod serve;
mod session_view;
mod state;
mod static_files;
mod stores;
mod templates;
#[cfg(feature = "testing")]
pub mod testing;

pub use auth_core::User;
pub use auth_core::guard::{FreshLogin, LoginRequired, RouteGuard, UserPredicate};
pub use auth_core::service::ActiveSession as Session;
pub use config::{Config, ConfigError};
pub use extract::{CurrentUser, FreshUser, Guarded, Page};
pub use guard::{Rejection, RequireLayer};
pub use handle::{Error, Wristband, WristbandBuilder};
