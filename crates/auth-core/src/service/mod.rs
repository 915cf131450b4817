//! The use cases, written once: [`AuthService`]. The HTML pages, the JSON API and the command
//! line are thin callers of it; it knows no HTTP and no SQL.
//!
//! | use case | method |
//! | --- | --- |
//! | register | [`register`](AuthService::register) |
//! | log in (throttled password check, new session) | [`log_in`](AuthService::log_in) |
//! | recognise a session from its credential | [`load_session`](AuthService::load_session) |
//! | log out | [`log_out`](AuthService::log_out) |
//! | re-authenticate | [`reauthenticate`](AuthService::reauthenticate) |
//! | change the password | [`change_password`](AuthService::change_password) |
//! | list, end one, end every other session | [`list_sessions`](AuthService::list_sessions), [`end_session`](AuthService::end_session), [`end_other_sessions`](AuthService::end_other_sessions) |
//! | create, list, revoke personal API tokens; recognise one | [`create_api_token`](AuthService::create_api_token), [`list_api_tokens`](AuthService::list_api_tokens), [`revoke_api_token`](AuthService::revoke_api_token), [`load_api_token`](AuthService::load_api_token) |
//! | give or change the email address, verify it | [`change_email`](AuthService::change_email), [`verify_email`](AuthService::verify_email), [`set_verified_email`](AuthService::set_verified_email) |
//! | enrol an authenticator app, the login's second step, turn factors off, an administrator's reset | [`begin_totp_enrolment`](AuthService::begin_totp_enrolment), [`confirm_totp_enrolment`](AuthService::confirm_totp_enrolment), [`complete_second_factor`](AuthService::complete_second_factor), [`disable_totp`](AuthService::disable_totp), [`regenerate_recovery_codes`](AuthService::regenerate_recovery_codes), [`reset_second_factors`](AuthService::reset_second_factors) |
//! | ask for a reset link, use it | [`request_password_reset`](AuthService::request_password_reset), [`reset_password`](AuthService::reset_password), [`link_is_live`](AuthService::link_is_live) |
//! | an administrator's password reset, delete a user, import users, purge | [`set_password`](AuthService::set_password), [`delete_user`](AuthService::delete_user), [`import_users`](AuthService::import_users), [`purge`](AuthService::purge) |
//!
//! Both session stores sit behind it ([`SessionStorage`]): the caller gets an opaque
//! credential ([`AuthService::session_credential`]) to hand to the browser, signed by the web
//! layer, and gives it back to [`AuthService::load_session`]. Every change to sessions goes
//! through this service, so it is the one place that knows a session ended. Every use case
//! logs its audit event here, with the user id and the client address.
//!
//! ```
//! use auth_core::service::{AuthService, Client, LoginOutcome, Registration, ServiceSettings};
//! # use auth_core::{Argon2Hasher, Argon2Settings, HasherConfig, SecretString};
//! # async fn example(store: std::sync::Arc<dyn auth_core::AuthStore>) -> Result<(), auth_core::service::ServiceError> {
//! let hasher = Argon2Hasher::start(HasherConfig::default()).expect("valid parameters");
//! let service = AuthService::new(store, hasher, ServiceSettings::default());
//! let client = Client::new(Some("203.0.113.7".parse().expect("an address")), Some("curl/8"));
//! let password = SecretString::new("correct horse battery staple");
//! if let Registration::Created(user) = service.register("Ada", &password, None, &client).await? {
//!     if let LoginOutcome::LoggedIn(session) = service.log_in("ada", &password, false, &client, None).await? {
//!         let credential = service.session_credential(&session).expect("fits in a cookie");
//!         let again = service.load_session(&credential, time::OffsetDateTime::now_utc()).await?;
//!         assert_eq!(again.map(|s| s.session.user.id), Some(user.id));
//!     }
//! }
//! # Ok(()) }
//! ```

mod account;
mod activity;
mod admin;
mod attempt;
mod client;
mod credentials;
mod email;
mod error;
mod passkeys;
mod registration;
mod reset;
mod second_factor;
mod sessions;
mod timing;
mod tokens;

pub use account::{OthersEnded, PasswordChange, SessionEnd};
pub use admin::{AdminPasswordReset, PurgeReport, WrapReport};
pub use client::{Client, MAX_USER_AGENT_CHARS};
pub use email::{EMAIL_TAKEN, EmailChange};
pub use error::{ServiceError, error_chain};
pub use passkeys::{CEREMONY_LIFETIME, Ceremony, PasskeyOutcome, PasskeyView};
pub use registration::{FieldErrors, Registration, TAKEN};
pub use reset::PasswordReset;
pub use second_factor::{
    ENROLMENT_LIFETIME, PENDING_LOGIN_LIFETIME, PendingLogin, SecondFactorOutcome, TOTP_SEALER_KEY,
    TotpConfirmation, TotpEnrolment,
};
pub use sessions::{
    ActiveSession, CookieCredential, INVALID_CREDENTIALS, LoadedSession, LoginOutcome,
    SessionError, SessionView, decode_cookie_credential,
};
pub use tokens::{TokenCreation, TokenView};

use crate::email::EmailPolicy;
use crate::guard::{Access, FreshLogin, RouteGuard};
use crate::hasher::{Argon2Hasher, HasherStats};
use crate::keys::{KeyRing, Signer};
use crate::mail::{LogOutbox, Outbox};
use crate::observe::{LoginMethod, NoObserver, Observer, Outcome};
use crate::password_policy::PasswordPolicy;
use crate::session::SessionTimeouts;
use crate::session_cache::SessionCache;
use crate::store::{AuthStore, UserId};
use crate::throttle::LoginThrottle;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The key label of [`ServiceSettings::username_log_key`].
pub const USERNAME_LOG_KEY: &str = "log-username";

/// Where sessions live (`session.store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStorage {
    /// A row per session, keyed by the SHA-256 of the browser's random token: any single
    /// session can be ended, and logout ends it everywhere.
    #[default]
    Database,
    /// Nothing stored per session: the browser holds a signed payload (user id, times, the
    /// user's auth stamp). "End every other session" changes the auth stamp; one single other
    /// session cannot be ended.
    Cookie,
}

/// The rules the service applies, from configuration.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Password rules for registration and every new password.
    pub policy: PasswordPolicy,
    /// Login throttling limits.
    pub throttle: LoginThrottle,
    /// Session lifetimes.
    pub timeouts: SessionTimeouts,
    /// Where sessions live.
    pub storage: SessionStorage,
    /// How recent a password proof must be for sensitive actions (`session.fresh_for`).
    pub fresh_for: Duration,
    /// The key of the hashes that stand for unknown usernames in the log (derived from
    /// `SECRET_KEY`, so they are stable across restarts); a random one when `None`.
    pub username_log_key: Option<Signer>,
    /// Live sessions kept in memory (`session.cache_entries`); 0 turns the cache off.
    pub cache_entries: u64,
    /// Whether users have email addresses (`account.email`).
    pub email: EmailPolicy,
    /// The sealer of TOTP secrets (derived from `SECRET_KEY` with [`TOTP_SEALER_KEY`]); a
    /// random one when `None`, so enrolments do not outlive the process.
    pub totp_sealer: Option<crate::keys::Sealer>,
    /// The issuer an authenticator app shows beside the account (the site's name).
    pub totp_issuer: String,
    /// The WebAuthn relying party; passkeys are off when `None`.
    pub webauthn: Option<WebauthnSettings>,
}

/// The WebAuthn relying party (`webauthn.rp_id`, `webauthn.origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnSettings {
    /// The relying party id: the site's domain (`shop.example`, `localhost`).
    pub rp_id: String,
    /// The origin pages run at (`https://shop.example`).
    pub origin: String,
    /// The name authenticators show.
    pub rp_name: String,
}

impl WebauthnSettings {
    /// The relying party, or why `rp_id` and `origin` do not make one (an IP address, an
    /// origin outside the id's domain).
    pub fn relying_party(&self) -> Result<webauthn_rs::Webauthn, String> {
        let origin = webauthn_rs::prelude::Url::parse(&self.origin)
            .map_err(|e| format!("`webauthn.origin` ({:?}) is not a URL: {e}", self.origin))?;
        webauthn_rs::WebauthnBuilder::new(&self.rp_id, &origin)
            .and_then(|builder| builder.rp_name(&self.rp_name).build())
            .map_err(|e| {
                format!(
                    "`webauthn.rp_id` ({:?}) and `webauthn.origin` ({:?}) do not make a WebAuthn relying party ({e}): the id must be the origin's domain or a parent of it, and not an IP address",
                    self.rp_id, self.origin
                )
            })
    }
}

/// The default of [`ServiceSettings::cache_entries`] (the contract's).
pub const DEFAULT_CACHE_ENTRIES: u64 = 100_000;

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            policy: PasswordPolicy::default(),
            throttle: LoginThrottle::default(),
            timeouts: SessionTimeouts::default(),
            storage: SessionStorage::Database,
            fresh_for: Duration::from_secs(600),
            username_log_key: None,
            cache_entries: DEFAULT_CACHE_ENTRIES,
            email: EmailPolicy::default(),
            totp_sealer: None,
            totp_issuer: "Wristband".to_owned(),
            webauthn: None,
        }
    }
}

/// The use cases over a store and a hasher. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct AuthService(Arc<Inner>);

struct Inner {
    store: Arc<dyn AuthStore>,
    hasher: Argon2Hasher,
    settings: ServiceSettings,
    costs: timing::VerificationCosts,
    username_log_key: Signer,
    cache: SessionCache,
    activity: activity::PendingActivity,
    /// API tokens' last uses waiting to be written.
    token_uses: activity::PendingActivity<OffsetDateTime>,
    outbox: Arc<dyn Outbox>,
    sealer: crate::keys::Sealer,
    webauthn: Option<webauthn_rs::Webauthn>,
    observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("backend", &self.0.store.backend_name())
            .field("storage", &self.0.settings.storage)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    /// The service over `store`, hashing with `hasher`, applying `settings`; mail is only
    /// logged ([`LogOutbox`]), see [`with_outbox`](Self::with_outbox).
    pub fn new(store: Arc<dyn AuthStore>, hasher: Argon2Hasher, settings: ServiceSettings) -> Self {
        Self::with_outbox(store, hasher, settings, Arc::new(LogOutbox))
    }

    /// The service over `store`, hashing with `hasher`, applying `settings`, posting its mail
    /// (links, notices) to `outbox`.
    pub fn with_outbox(
        store: Arc<dyn AuthStore>,
        hasher: Argon2Hasher,
        settings: ServiceSettings,
        outbox: Arc<dyn Outbox>,
    ) -> Self {
        Self::observed(store, hasher, settings, outbox, Arc::new(NoObserver))
    }

    /// [`with_outbox`](Self::with_outbox), reporting logins, registrations and throttled
    /// attempts to `observer` as they are decided (metrics; see [`crate::observe`]). Give the
    /// same observer to the hasher ([`Argon2Hasher::start_observed`]) for its queue's waits.
    pub fn observed(
        store: Arc<dyn AuthStore>,
        hasher: Argon2Hasher,
        settings: ServiceSettings,
        outbox: Arc<dyn Outbox>,
        observer: Arc<dyn Observer>,
    ) -> Self {
        let username_log_key = settings
            .username_log_key
            .clone()
            .unwrap_or_else(|| KeyRing::random().signer(USERNAME_LOG_KEY));
        let cache = SessionCache::new(settings.cache_entries);
        let sealer = settings
            .totp_sealer
            .clone()
            .unwrap_or_else(crate::keys::Sealer::random);
        let webauthn = settings
            .webauthn
            .as_ref()
            .and_then(|s| match s.relying_party() {
                Ok(relying_party) => Some(relying_party),
                Err(problem) => {
                    tracing::error!("passkeys are off: {problem}");
                    None
                }
            });
        Self(Arc::new(Inner {
            store,
            hasher,
            settings,
            costs: timing::VerificationCosts::default(),
            username_log_key,
            cache,
            activity: activity::PendingActivity::default(),
            token_uses: activity::PendingActivity::default(),
            outbox,
            sealer,
            webauthn,
            observer,
        }))
    }

    /// Who is told what the use cases decide.
    pub(crate) fn observer(&self) -> &dyn Observer {
        self.0.observer.as_ref()
    }

    /// Reports a login step's `result` (its outcome as `outcome` names it, or its error) to
    /// the observer, and hands it back. A passkey step while passkeys are off is no login
    /// attempt and is not reported.
    fn report_login<T>(
        &self,
        method: LoginMethod,
        result: Result<T, ServiceError>,
        outcome: impl FnOnce(&T) -> Outcome,
    ) -> Result<T, ServiceError> {
        let observed = match &result {
            Ok(value) => outcome(value),
            Err(ServiceError::PasskeysOff) => return result,
            Err(error) => Outcome::of_error(error),
        };
        self.0.observer.login(method, observed);
        result
    }

    /// Starts following the store's changes from other processes into the session cache (see
    /// [`crate::session_cache`]); until then, and whenever the follower loses the store, the
    /// cache is bypassed. `None` when the store cannot announce changes or there is no Tokio
    /// runtime: the cache then stays bypassed, which is correct, only slower. Abort the task
    /// to stop following.
    pub fn follow_store_changes(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.0.store.follow_changes(self.0.cache.clone())
    }

    /// Waits, at most `deadline`, until the mail posted so far has been delivered or given up
    /// on (see [`Outbox::flush`]); true when done in time.
    pub async fn flush_mail(&self, deadline: Duration) -> bool {
        self.0.outbox.flush(deadline).await
    }

    /// The session cache, for its counters.
    pub fn session_cache(&self) -> &SessionCache {
        &self.0.cache
    }

    /// The store, for health checks and for tests that look behind the service.
    pub fn store(&self) -> &Arc<dyn AuthStore> {
        &self.0.store
    }

    /// Counters of hashing work done (tests and metrics).
    pub fn hasher_stats(&self) -> &HasherStats {
        self.0.hasher.stats()
    }

    /// The rules in force.
    pub fn settings(&self) -> &ServiceSettings {
        &self.0.settings
    }

    /// Where sessions live.
    pub fn storage(&self) -> SessionStorage {
        self.0.settings.storage
    }

    /// After a store call that may have changed `user_id`'s sessions or their user, whether it
    /// succeeded or not (a failure may still have committed): evicts them from the cache
    /// before the caller answers, so the very next request reads the store.
    fn changed<T>(
        &self,
        user_id: UserId,
        result: Result<T, crate::StoreError>,
    ) -> Result<T, ServiceError> {
        self.0.cache.evict_user(user_id);
        Ok(result?)
    }

    /// Whether a single session other than the caller's can be ended (database sessions only).
    pub fn can_end_single_sessions(&self) -> bool {
        self.storage() == SessionStorage::Database
    }

    /// Whether `session` proved the password within `session.fresh_for` of `now`.
    pub fn is_fresh(&self, session: &ActiveSession, now: OffsetDateTime) -> bool {
        FreshLogin(self.0.settings.fresh_for)
            .check(&Access {
                user: Some(&session.user),
                authenticated_at: Some(session.authenticated_at),
                now,
            })
            .is_ok()
    }
}
