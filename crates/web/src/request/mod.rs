//! The per-request browser context: who is logged in, the CSRF secret, flash messages, the
//! client — and the cookie changes a handler asks for.
//!
//! [`browser_context`] runs before every handler behind Wristband's layers. It reads the
//! cookies once, verifies their signatures, has the service recognise the session, and puts a
//! [`RequestContext`] in the request's extensions. After the handler it writes the cookie
//! changes, re-signs cookies that verified under a fallback key, and marks responses to
//! logged-in requests `Cache-Control: no-store`.
//!
//! A database error while loading the session answers 503 and leaves every cookie alone: an
//! outage must never log anybody out.
//!
//! - [`cookies`]: names, attributes, signing; [`csrf`]: secrets, tokens, the same-origin
//!   guard; [`flash`]: one-time messages; [`client`]: the client address.

pub(crate) mod bearer;
pub(crate) mod client;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod device;
pub(crate) mod flash;

use crate::error::AppError;
use crate::state::AppState;
use auth_core::service::ActiveSession;
use auth_core::{Client, User};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookies::{CookieKind, RequestCookies};
use csrf::CsrfSecret;
use flash::{Flash, MAX_FLASHES};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Debug, Default)]
enum SessionChange {
    #[default]
    Unchanged,
    /// Send this session's cookie (a new login, a renewed id, a new auth stamp).
    Set {
        credential: String,
        max_age: Option<Duration>,
        /// The new session's public id, which the CSRF tokens of this response are bound to.
        id: String,
    },
    Ended,
}

#[derive(Debug, Default)]
struct Changes {
    session: SessionChange,
    outgoing_flashes: Vec<Flash>,
    incoming_flashes_taken: bool,
    csrf_token_issued: bool,
    csrf_rotated: Option<CsrfSecret>,
    /// A login succeeded for this username key: remember the device for it.
    device_login: Option<String>,
    /// The pending login to send (`Some(Some)`) or to clear (`Some(None)`).
    pending_login: Option<Option<String>>,
}

/// The browser state of one request. Handlers get it as an extractor.
#[derive(Clone)]
pub(crate) struct RequestContext(Arc<ContextInner>);

struct ContextInner {
    state: AppState,
    session: Option<ActiveSession>,
    /// The request's cookies, for what is read only when a handler asks (the CSRF secret, the
    /// known devices): most requests need neither signature checked.
    cookies: RequestCookies,
    /// The CSRF cookie's secret, if it verified; checked at the first use.
    csrf_cookie: OnceLock<Option<CsrfSecret>>,
    /// A new secret for a browser without a valid CSRF cookie; drawn at the first use.
    new_csrf_secret: OnceLock<CsrfSecret>,
    incoming_flashes: Vec<Flash>,
    client: Client,
    /// [`client`](Self::client) with the browser's known devices, for password checks.
    login_client: OnceLock<Client>,
    has_peer: bool,
    wants_json: bool,
    /// The request came with a personal API token: it has no cookies and gets none.
    bearer: bool,
    changes: Mutex<Changes>,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("user", &self.0.session.as_ref().map(|s| s.user.id))
            .finish_non_exhaustive()
    }
}

/// True when the client asks for JSON rather than HTML (an API client or a script).
pub(crate) fn prefers_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json = accept.find("json");
    let html = accept.find("text/html");
    json.is_some_and(|j| html.is_none_or(|h| j < h))
}

impl RequestContext {
    fn changes(&self) -> MutexGuard<'_, Changes> {
        // A poisoned lock only means another handler panicked mid-update; the data is plain.
        self.0.changes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.0.state
    }

    /// The logged-in session, if any.
    pub fn session(&self) -> Option<&ActiveSession> {
        self.0.session.as_ref()
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&User> {
        self.0.session.as_ref().map(|s| &s.user)
    }

    /// Where the request came from.
    pub fn client(&self) -> &Client {
        &self.0.client
    }

    /// The client for a password check: the same with the devices its device cookie names;
    /// logs (once per process) when the application serves without the peer address, so
    /// throttling cannot tell clients apart.
    pub fn login_client(&self) -> &Client {
        if !self.0.has_peer {
            client::warn_once_without_peer(&self.0.state);
        }
        self.0.login_client.get_or_init(|| {
            let known_devices = self
                .0
                .state
                .cookies
                .read(CookieKind::Device, &self.0.cookies)
                .map(|v| device::decode(&v.value))
                .unwrap_or_default();
            self.0.client.clone().with_known_devices(known_devices)
        })
    }

    /// The secret of the browser's CSRF cookie, if it has a valid one.
    fn csrf_cookie(&self) -> Option<CsrfSecret> {
        *self.0.csrf_cookie.get_or_init(|| {
            self.0
                .state
                .cookies
                .read(CookieKind::Csrf, &self.0.cookies)
                .and_then(|v| csrf::decode_secret(&v.value))
        })
    }

    /// The browser's CSRF secret: its cookie's, or a new one (sent if a token is issued).
    fn csrf_secret(&self) -> CsrfSecret {
        self.csrf_cookie().unwrap_or_else(|| {
            *self
                .0
                .new_csrf_secret
                .get_or_init(auth_core::keys::random_secret)
        })
    }

    /// Whether errors and rejections should be problem documents rather than pages: an API
    /// route, or a client that accepts only JSON.
    pub fn wants_json(&self) -> bool {
        self.0.wants_json
    }

    /// Whether the session proved the password within `session.fresh_for`.
    pub fn is_fresh(&self) -> bool {
        self.session().is_some_and(|session| {
            self.0
                .state
                .service
                .is_fresh(session, OffsetDateTime::now_utc())
        })
    }

    /// The CSRF token for forms on this page: bound to the browser's CSRF secret and to the
    /// session the response leaves it with (none for an anonymous visitor).
    pub fn csrf_token(&self) -> String {
        let mut changes = self.changes();
        changes.csrf_token_issued = true;
        let secret = match changes.csrf_rotated {
            Some(rotated) => rotated,
            None => self.csrf_secret(),
        };
        let binding = match &changes.session {
            SessionChange::Set { id, .. } => id.clone(),
            SessionChange::Ended => String::new(),
            SessionChange::Unchanged => self.session_binding(),
        };
        csrf::token_for(&self.0.state, &secret, &binding)
    }

    /// What this request's CSRF tokens are bound to: the session's public id, or nothing.
    fn session_binding(&self) -> String {
        self.session()
            .map(|s| s.id.as_str().to_owned())
            .unwrap_or_default()
    }

    /// True if `token` is the CSRF token of the secret in this request's (valid) CSRF cookie
    /// and of this request's session: a token minted for an anonymous visitor, or for another
    /// session, is refused.
    pub fn verify_csrf(&self, token: &str) -> bool {
        self.csrf_cookie().is_some_and(|secret| {
            csrf::token_matches(&self.0.state, &secret, &self.session_binding(), token)
        })
    }

    /// Takes the flash messages sent by the previous response (once).
    pub fn take_flashes(&self) -> Vec<Flash> {
        let mut changes = self.changes();
        if changes.incoming_flashes_taken {
            return Vec::new();
        }
        changes.incoming_flashes_taken = true;
        self.0.incoming_flashes.clone()
    }

    /// Queues a message for the next page.
    pub fn flash(&self, category: &str, message: impl Into<String>) {
        let mut changes = self.changes();
        if changes.outgoing_flashes.len() < MAX_FLASHES {
            changes.outgoing_flashes.push(Flash {
                category: category.to_owned(),
                message: message.into(),
            });
        }
    }

    /// Sends `session`'s cookie with this response: persistent until its absolute end for
    /// "remember me", else a browser-session cookie. With `new_login`, the CSRF secret is
    /// rotated too, so a token seen before login is worthless. Fails (and sends nothing) if
    /// the cookie store's payload would be too large.
    pub fn set_session(&self, session: &ActiveSession, new_login: bool) -> Result<(), AppError> {
        if self.0.bearer {
            // A token request gets no cookie (see `bearer`).
            return Ok(());
        }
        let credential = self
            .0
            .state
            .service
            .session_credential(session)
            .map_err(|error| AppError::internal("the session cookie would be too large", &error))?;
        let max_age = session.persistent_for(OffsetDateTime::now_utc());
        let mut changes = self.changes();
        changes.session = SessionChange::Set {
            credential,
            max_age,
            id: session.id.as_str().to_owned(),
        };
        if new_login {
            changes.csrf_rotated = Some(auth_core::keys::random_secret());
        }
        Ok(())
    }

    /// The browser's pending login (a right password waiting for its second factor), if its
    /// cookie verifies.
    pub fn pending_login(&self) -> Option<auth_core::service::PendingLogin> {
        self.0
            .state
            .cookies
            .read(CookieKind::PendingLogin, &self.0.cookies)
            .and_then(|v| auth_core::service::PendingLogin::decode(&v.value))
    }

    /// Sends `pending` to the browser for the second step.
    pub fn set_pending_login(&self, pending: &auth_core::service::PendingLogin) {
        self.changes().pending_login = Some(Some(pending.encode()));
    }

    /// Clears the pending login (completed, or no longer usable).
    pub fn clear_pending_login(&self) {
        self.changes().pending_login = Some(None);
    }

    /// Remembers this browser as a known device of `user` (after a successful login).
    pub fn remember_device(&self, user: &User) {
        self.changes().device_login = Some(user.username.key().to_owned());
    }

    /// Clears the session cookie (the caller has ended the session on the server).
    pub fn end_session(&self) {
        let mut changes = self.changes();
        changes.session = SessionChange::Ended;
        changes.csrf_rotated = Some(auth_core::keys::random_secret());
    }
}

/// What the request's session cookie turned out to be.
enum SessionCookie {
    Absent,
    /// Present but useless (tampered, foreign key, expired, logged out): clear it.
    Stale,
    /// A live session; `true` when the cookie must be sent again (signed with a fallback key,
    /// or the cookie store's last-seen time moved).
    Live(Box<ActiveSession>, bool),
}

async fn load_session(
    state: &AppState,
    cookies: &RequestCookies,
    now: OffsetDateTime,
) -> Result<SessionCookie, AppError> {
    if !state.cookies.present(CookieKind::Session, cookies) {
        return Ok(SessionCookie::Absent);
    }
    let Some(verified) = state.cookies.read(CookieKind::Session, cookies) else {
        return Ok(SessionCookie::Stale);
    };
    match state.service.load_session(&verified.value, now).await? {
        None => Ok(SessionCookie::Stale),
        Some(loaded) => Ok(SessionCookie::Live(
            Box::new(loaded.session),
            loaded.reissue || verified.needs_resign,
        )),
    }
}

/// The middleware: see the module documentation.
pub(crate) async fn browser_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let peer = client::peer(request.extensions());
    let client = client::client(&state, peer, request.headers());
    let is_api = state.is_api_path(request.uri().path());
    let bearer = is_api
        .then(|| bearer::credential(request.headers()))
        .flatten();
    // A token request is the token's alone: its cookies are not even parsed (see `bearer`).
    let cookies = match bearer {
        Some(_) => RequestCookies::default(),
        None => RequestCookies::parse(request.headers()),
    };
    let loaded = match bearer {
        Some(credential) => match state.service.load_api_token(credential, &client, now).await {
            Ok(Some(session)) => Ok(SessionCookie::Live(Box::new(session), false)),
            Ok(None) => return bearer::invalid_token(),
            Err(error) => Err(AppError::from(error)),
        },
        None => load_session(&state, &cookies, now).await,
    };
    let (session, resign, stale) = match loaded {
        Ok(SessionCookie::Absent) => (None, false, false),
        Ok(SessionCookie::Stale) => (None, false, true),
        Ok(SessionCookie::Live(s, resign)) => (Some(*s), resign, false),
        Err(error) => return error.into_response(),
    };
    let had_flash_cookie = state.cookies.present(CookieKind::Flash, &cookies);
    let incoming_flashes = if had_flash_cookie {
        state
            .cookies
            .read(CookieKind::Flash, &cookies)
            .map(|v| flash::decode(&v.value))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let context = RequestContext(Arc::new(ContextInner {
        client,
        login_client: OnceLock::new(),
        has_peer: peer.is_some(),
        wants_json: is_api || prefers_json(request.headers()),
        bearer: bearer.is_some(),
        state: state.clone(),
        session,
        cookies,
        csrf_cookie: OnceLock::new(),
        new_csrf_secret: OnceLock::new(),
        incoming_flashes,
        changes: Mutex::new(Changes::default()),
    }));
    request.extensions_mut().insert(context.clone());
    let mut response = next.run(request).await;
    apply_changes(
        &context,
        &mut response,
        now,
        resign,
        stale,
        had_flash_cookie,
    );
    response
}

fn apply_changes(
    context: &RequestContext,
    response: &mut Response,
    now: OffsetDateTime,
    resign: bool,
    stale: bool,
    had_flash_cookie: bool,
) {
    // Outages (503) and refusals (429) leave the browser's cookies exactly as they were; a
    // token request has none.
    if context.0.bearer
        || matches!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        )
    {
        if context.session().is_some() {
            no_store(response);
        }
        return;
    }
    let state = context.state();
    let codec = &state.cookies;
    let changes = std::mem::take(&mut *context.changes());
    let mut set = Vec::new();
    let mut logged_in = false;
    match changes.session {
        SessionChange::Set {
            credential,
            max_age,
            ..
        } => {
            set.push(codec.set(CookieKind::Session, &credential, max_age));
            logged_in = true;
        }
        SessionChange::Ended => set.push(codec.remove(CookieKind::Session)),
        SessionChange::Unchanged => {
            if let Some(session) = context.session() {
                logged_in = true;
                if resign {
                    match state.service.session_credential(session) {
                        Ok(credential) => set.push(codec.set(
                            CookieKind::Session,
                            &credential,
                            session.persistent_for(now),
                        )),
                        Err(error) => {
                            tracing::error!(error = %auth_core::service::error_chain(&error), "could not re-send the session cookie");
                        }
                    }
                }
            } else if stale {
                set.push(codec.remove(CookieKind::Session));
            }
        }
    }
    let new_csrf = changes.csrf_rotated.or_else(|| {
        (changes.csrf_token_issued && context.csrf_cookie().is_none())
            .then(|| context.csrf_secret())
    });
    if let Some(secret) = new_csrf {
        set.push(codec.set(CookieKind::Csrf, &csrf::encode_secret(&secret), None));
    }
    if let Some(username_key) = &changes.device_login
        && let Some(value) = device::encode(username_key, &context.login_client().known_devices)
    {
        set.push(codec.set(
            CookieKind::Device,
            &value,
            Some(device::DEVICE_COOKIE_LIFETIME),
        ));
    }
    match &changes.pending_login {
        Some(Some(value)) => set.push(codec.set(
            CookieKind::PendingLogin,
            value,
            Some(auth_core::service::PENDING_LOGIN_LIFETIME),
        )),
        Some(None) => set.push(codec.remove(CookieKind::PendingLogin)),
        None => {}
    }
    if !changes.outgoing_flashes.is_empty() {
        if let Some(value) = flash::encode(&changes.outgoing_flashes) {
            set.push(codec.set(CookieKind::Flash, &value, None));
        }
    } else if had_flash_cookie && changes.incoming_flashes_taken {
        set.push(codec.remove(CookieKind::Flash));
    }
    let headers = response.headers_mut();
    for cookie in set {
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    if logged_in || context.session().is_some() {
        no_store(response);
    }
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestContext {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or(AppError::MissingLayer)
    }
}
