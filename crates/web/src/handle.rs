//! The [`Wristband`] handle: built from a [`Config`] by a [`WristbandBuilder`], it opens the
//! store, starts the hashing workers and the background work (the purge, the session
//! activity writer, the follower of other processes' session changes, the metrics listener),
//! and makes the router.

use crate::config::{Config, ConfigError};
use crate::routes::{Mounts, check_path};
use crate::state::AppState;
use crate::stores::OpenStoreError;
use crate::templates::{TemplateError, Templates};
use auth_core::observe::{NoObserver, Observer};
use auth_core::{Argon2Hasher, AuthService, HashError};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Why Wristband could not start. Every variant is a mistake to fix before serving; none is
/// ever a panic.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = web::Config::new(web::config::Profile::Development)?;
/// let started = web::Wristband::builder(config).pages_at("no-leading-slash").start().await;
/// assert!(matches!(started, Err(web::Error::Mount(_))));
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid (including a missing `SECRET_KEY` in production).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] OpenStoreError),
    /// The hashing pool could not start (invalid Argon2 parameters, no threads).
    #[error("cannot start password hashing")]
    Hasher(#[source] HashError),
    /// A template does not compile or cannot be read.
    #[error(transparent)]
    Templates(#[from] TemplateError),
    /// A mount prefix given to the builder is not a path.
    #[error("{0}")]
    Mount(String),
    /// `metrics.bind` cannot be listened on (taken, or not an address of this machine).
    #[error("cannot serve metrics on {address} (`metrics.bind`)")]
    Metrics {
        /// `metrics.bind`.
        address: SocketAddr,
        /// Why the listener could not be opened.
        #[source]
        source: std::io::Error,
    },
}

/// A started Wristband: the store open and migrated, the hashing workers and the purge of
/// expired rows running (and, with `metrics.bind` set, `GET /metrics` served there). Cheap to clone; the background work stops at
/// [`shutdown`](Self::shutdown), or when the handle and every router made from it are gone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use tower::ServiceExt;
/// use web::{Config, CurrentUser, Wristband, config::Profile};
///
/// let dir = tempfile::tempdir()?;
/// let mut config = Config::new(Profile::Development)?; // SECRET_KEY from the environment
/// config.settings.database.url = format!("sqlite://{}", dir.path().join("shop.db").display());
/// config.settings.login.default_redirect = "/orders".into();
/// let wristband = Wristband::builder(config).pages_at("/auth").start().await?;
/// let shop = Router::new().route(
///     "/orders",
///     get(|CurrentUser(s): CurrentUser| async move { format!("Orders of {}", s.user.username) }),
/// );
/// let app = wristband.wrap(shop);
///
/// let anonymous = app.oneshot(Request::get("/orders").body(Body::empty())?).await?;
/// assert_eq!(anonymous.headers()["location"], "/auth/login?next=/orders");
/// // To serve it, pass the peer address, which throttles each client on its own:
/// // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Wristband {
    pub(crate) state: AppState,
}

impl std::fmt::Debug for Wristband {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wristband")
            .field("service", &self.state.service)
            .finish_non_exhaustive()
    }
}

/// Chooses what Wristband mounts and where, and its templates; then starts it.
///
/// By default the auth pages are at the root (`/login`, `/register`, …), the JSON API under
/// `/api/v1`, the health check at `/healthz`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, body::Body, http::{Request, StatusCode}};
/// use tower::ServiceExt;
/// # let dir = tempfile::tempdir()?;
/// # let mut config = web::Config::new(web::config::Profile::Development)?;
/// # config.settings.database.url = format!("sqlite://{}", dir.path().join("app.db").display());
/// let wristband = web::Wristband::builder(config)
///     .pages_at("/auth")       // /auth/login, /auth/register, /auth/account, …
///     .api_at("/auth/api")     // or .without_api()
///     .template("login.html", "{% extends \"base.html\" %}{% block content %}Shop login{% endblock %}")
///     .stylesheet("/shop.css")
///     .start()
///     .await?;
/// let page = wristband.router().oneshot(Request::get("/auth/login").body(Body::empty())?).await?;
/// assert_eq!(page.status(), StatusCode::OK);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WristbandBuilder {
    config: Config,
    pages: Option<String>,
    api: Option<String>,
    health: Option<String>,
    templates: Vec<(String, String)>,
    stylesheets: Vec<String>,
}

impl Wristband {
    /// A builder for Wristband with `config`.
    pub fn builder(config: Config) -> WristbandBuilder {
        let mounts = Mounts::default();
        WristbandBuilder {
            config,
            pages: mounts.pages,
            api: mounts.api,
            health: mounts.health,
            templates: Vec::new(),
            stylesheets: Vec::new(),
        }
    }

    /// `app` (with its own state already applied) plus Wristband's pages and API where the
    /// builder mounted them, all behind Wristband's layers: sessions, CSRF, security headers,
    /// body limit, error pages. In `app`'s handlers [`CurrentUser`](crate::CurrentUser) is the
    /// logged-in user, and the guards work as layers and extractors.
    ///
    /// Serve the result with the peer address (see [`Wristband`]), or with
    /// [`serve`](Self::serve).
    pub fn wrap(&self, app: Router) -> Router {
        crate::router::router(&self.state, app)
    }

    /// Wristband's routes alone, behind its layers.
    pub fn router(&self) -> Router {
        self.wrap(Router::new())
    }

    /// The use cases, for an application's own admin work (deleting a user, resetting a
    /// password) and for the command line.
    pub fn service(&self) -> &AuthService {
        &self.state.service
    }

    /// Where `GET /metrics` is served (`metrics.bind`, its port resolved when it was 0);
    /// `None` when metrics are off.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let mut config = web::Config::new(web::config::Profile::Development)?;
    /// # config.settings.database.url = format!("sqlite://{}", dir.path().join("m.db").display());
    /// config.settings.metrics.bind = Some("127.0.0.1:0".parse()?);
    /// let wristband = web::Wristband::builder(config).start().await?;
    /// let address = wristband.metrics_address().expect("metrics are on");
    /// assert!(address.ip().is_loopback() && address.port() != 0);
    /// # Ok(()) }
    /// ```
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.state.metrics.as_ref().map(|metrics| metrics.address)
    }

    /// The metrics as `GET /metrics` serves them now (OpenMetrics text), for an application
    /// that exports them itself; `None` when metrics are off (`metrics.bind` unset).
    pub fn metrics_text(&self) -> Option<String> {
        let metrics = self.state.metrics.as_ref()?;
        match metrics.exporter.text() {
            Ok(text) => Some(text),
            Err(error) => {
                tracing::error!(%error, "could not encode the metrics");
                None
            }
        }
    }

    /// Serves `router` on `listener` until `shutdown` completes: HTTP/1.1 with the peer
    /// address for throttling, `server.header_timeout` for request headers, at most
    /// `server.max_connections` connections at once (the open-file limit raised to match), and
    /// a graceful end that lets open requests finish. Fails before serving when the process
    /// may not open enough files for the connection cap.
    pub async fn serve(
        &self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let limits = crate::serve::Limits {
            header_timeout: self.state.header_timeout,
            max_connections: self.state.max_connections,
        };
        Ok(crate::serve::serve(listener, router, limits, shutdown).await?)
    }

    /// Stops the background work (the purge of expired rows, following other processes'
    /// session changes) and writes the session activity still queued (`last_seen_at` is
    /// written behind requests). Requests keep being served, reading the store for every
    /// session from now on.
    pub async fn shutdown(&self) {
        if !self.state.service.flush_mail(MAIL_FLUSH_DEADLINE).await {
            tracing::error!(
                "mail still queued at shutdown was not sent within {MAIL_FLUSH_DEADLINE:?}"
            );
        }
        if let Some(background) = &self.state.background {
            background.abort();
        }
        if let Err(error) = self.state.service.flush_session_activity().await {
            tracing::warn!(error = %auth_core::service::error_chain(&error), "could not record the last session activity at shutdown");
        }
    }
}

impl WristbandBuilder {
    /// Mounts the auth pages (and their static files) under `prefix`, e.g. `"/auth"`;
    /// `""` mounts them at the root.
    pub fn pages_at(mut self, prefix: &str) -> Self {
        self.pages = Some(prefix.to_owned());
        self
    }

    /// Leaves the auth pages out (an API-only application).
    pub fn without_pages(mut self) -> Self {
        self.pages = None;
        self
    }

    /// Mounts the JSON API under `prefix` (`/api/v1` by default).
    pub fn api_at(mut self, prefix: &str) -> Self {
        self.api = Some(prefix.to_owned());
        self
    }

    /// Leaves the JSON API out.
    pub fn without_api(mut self) -> Self {
        self.api = None;
        self
    }

    /// Serves the health check at `path` (`/healthz` by default).
    pub fn health_at(mut self, path: &str) -> Self {
        self.health = Some(path.to_owned());
        self
    }

    /// Leaves the health check out.
    pub fn without_health(mut self) -> Self {
        self.health = None;
        self
    }

    /// Adds or overrides the template `name` (after `web.templates_dir`). Pages that extend
    /// `base.html` get the shared navigation; see [`Page`](crate::Page).
    pub fn template(mut self, name: &str, source: &str) -> Self {
        self.templates.push((name.to_owned(), source.to_owned()));
        self
    }

    /// Links the stylesheet at `href` from every page, after Wristband's own.
    pub fn stylesheet(mut self, href: &str) -> Self {
        self.stylesheets.push(href.to_owned());
        self
    }

    fn mounts(&self) -> Result<Mounts, Error> {
        let prefix = |what, value: &Option<String>, empty_allowed| {
            value
                .as_deref()
                .map(|v| check_path(what, v, empty_allowed))
                .transpose()
                .map_err(Error::Mount)
        };
        Ok(Mounts {
            pages: prefix("the pages prefix", &self.pages, true)?,
            api: prefix("the API prefix", &self.api, false)?,
            health: prefix("the health check path", &self.health, false)?,
        })
    }

    /// Opens the store the configuration names and the use-case service over it, without
    /// routes or background work: for administration tools such as the `wristband` command.
    /// Mail the service sends (notices) goes through the configured transport: call
    /// [`AuthService::flush_mail`] before the process exits.
    pub async fn open_service(self) -> Result<AuthService, Error> {
        self.config.validate()?;
        let mounts = self.mounts()?;
        let templates = Templates::new(
            self.config.settings.web.templates_dir.as_deref(),
            &self.templates,
        )?;
        let (service, _mail_task) =
            open_service(&self.config, &mounts, &templates, Arc::new(NoObserver)).await?;
        // The sending task ends by itself once the service (its last sender) is dropped.
        Ok(service)
    }

    /// Opens the store (applying migrations), starts the hashing workers and the background
    /// purge, compiles the templates; with `metrics.bind` set, listens there for `GET /metrics`
    /// (failing to start when it cannot).
    pub async fn start(self) -> Result<Wristband, Error> {
        self.config.validate()?;
        let mounts = self.mounts()?;
        let keys = self.config.keys()?.clone();
        let templates = Templates::new(
            self.config.settings.web.templates_dir.as_deref(),
            &self.templates,
        )?;
        // Bound before the store is opened: a taken address fails the start at once.
        let metrics = match self.config.settings.metrics.bind {
            Some(address) => Some(MetricsListener::bind(address).await?),
            None => None,
        };
        let observer: Arc<dyn Observer> = match &metrics {
            Some(metrics) => metrics.recorder.clone(),
            None => Arc::new(NoObserver),
        };
        let (service, mail_task) =
            open_service(&self.config, &mounts, &templates, observer).await?;
        let mut background = vec![
            mail_task,
            tokio::spawn(purge_periodically(
                service.clone(),
                self.config.settings.session.purge_interval.0,
            )),
            tokio::spawn(record_activity_periodically(service.clone())),
        ];
        background.extend(service.follow_store_changes());
        let metrics = metrics.map(|listener| {
            let (metrics, task) = listener.serve(
                service.clone(),
                self.config.settings.server.header_timeout.0,
            );
            background.push(task);
            metrics
        });
        let state = AppState::new(
            &self.config,
            &keys,
            service,
            templates,
            mounts,
            self.stylesheets,
            Some(BackgroundGuard(background)),
            metrics,
        );
        Ok(Wristband { state })
    }
}

/// The metrics listener, bound, and the recorder the service will report to.
struct MetricsListener {
    listener: TcpListener,
    address: SocketAddr,
    recorder: Arc<crate::metrics::Recorder>,
}

impl MetricsListener {
    async fn bind(address: SocketAddr) -> Result<Self, Error> {
        let failed = |source| Error::Metrics { address, source };
        let listener = TcpListener::bind(address).await.map_err(failed)?;
        let address = listener.local_addr().map_err(failed)?;
        Ok(Self {
            listener,
            address,
            recorder: Arc::new(crate::metrics::Recorder::new()),
        })
    }

    /// Starts serving `service`'s metrics: the handle's share of them, and the serving task.
    fn serve(
        self,
        service: AuthService,
        header_timeout: Duration,
    ) -> (crate::metrics::Metrics, JoinHandle<()>) {
        let exporter = Arc::new(crate::metrics::Exporter::new(&self.recorder, service));
        let task = tokio::spawn(crate::metrics::serve(
            self.listener,
            exporter.clone(),
            header_timeout,
        ));
        tracing::info!(address = %self.address, "metrics at http://{}{}", self.address, crate::metrics::PATH);
        let metrics = crate::metrics::Metrics {
            recorder: self.recorder,
            exporter,
            address: self.address,
        };
        (metrics, task)
    }
}

/// The store, the hashing pool, the mail transport's queue and task, and the service over
/// them.
async fn open_service(
    config: &Config,
    mounts: &Mounts,
    templates: &Templates,
    observer: Arc<dyn Observer>,
) -> Result<(AuthService, JoinHandle<()>), Error> {
    let settings = &config.settings;
    let email_on = settings.account.email != auth_core::EmailPolicy::Off;
    let warn_not_sent = email_on
        && config.profile == crate::config::Profile::Production
        && settings.mail.transport != crate::config::MailTransportKind::Smtp;
    let (sender, mail_task) = crate::mail::transport::start(
        &settings.mail,
        config.smtp_password(),
        warn_not_sent,
        &crate::mail::transport::RETRY_DELAYS,
    )?;
    let links = crate::mail::render::LinkBase {
        public_url: config.public_url(),
        pages: mounts.pages.clone().unwrap_or_default(),
    };
    let postbox = crate::mail::render::Postbox::new(templates.clone(), links, sender);
    let database = &settings.database;
    let store = crate::stores::open(&database.url, database.max_connections).await?;
    let hasher = Argon2Hasher::start_observed(config.hasher_config(), observer.clone())
        .map_err(Error::Hasher)?;
    let service = AuthService::observed(
        store,
        hasher,
        config.service_settings(),
        Arc::new(postbox),
        observer,
    );
    Ok((service, mail_task))
}

/// How long a shutdown waits for queued mail.
const MAIL_FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// Ends the background tasks when the last holder of the shared state goes.
pub(crate) struct BackgroundGuard(Vec<JoinHandle<()>>);

impl BackgroundGuard {
    fn abort(&self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Drop for BackgroundGuard {
    fn drop(&mut self) {
        self.abort();
    }
}

/// How often session activity queued by requests is written: `last_seen_at` moves at most once
/// a minute per session, so a second's delay changes nothing a user sees.
const ACTIVITY_INTERVAL: Duration = Duration::from_secs(1);

/// Writes queued session activity every [`ACTIVITY_INTERVAL`]; failures stay queued.
async fn record_activity_periodically(service: AuthService) {
    let mut ticker = tokio::time::interval(ACTIVITY_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = service.flush_session_activity().await {
            tracing::warn!(error = %auth_core::service::error_chain(&error), "could not record session activity; kept for the next try");
        }
    }
}

/// Deletes expired sessions and stale login-failure counters every `interval`, for as long as
/// the handle lives. Failures are logged and retried at the next tick; nothing is lost if a
/// purge is cut short.
async fn purge_periodically(service: AuthService, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    // After a stall (a suspended machine), purge once rather than in a burst.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match service.purge(OffsetDateTime::now_utc()).await {
            Ok(report) => tracing::debug!(
                sessions = report.sessions,
                failure_counters = report.failure_counters,
                api_tokens = report.api_tokens,
                "expired rows purged"
            ),
            Err(error) => {
                tracing::warn!(error = %auth_core::service::error_chain(&error), "could not purge expired rows");
            }
        }
    }
}
