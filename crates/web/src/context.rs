//! The per-request browser context: who is logged in, the CSRF secret, flash messages, and the
//! cookie changes a handler asks for.
//!
//! [`browser_context`] runs before every page handler. It reads the cookies once, verifies their
//! signatures, loads the session with its user (one indexed read), refreshes the session's
//! last-seen time when it is more than the touch interval old, and puts a [`RequestContext`] in
//! the request's extensions. After the handler it writes the cookie changes, re-signs cookies
//! that verified under a fallback key, and marks responses to logged-in requests
//! `Cache-Control: no-store`.
//!
//! A database error while loading the session answers 503 and leaves every cookie alone: an
//! outage must never log anybody out.

use crate::error::AppError;
use crate::sessions::{ActiveSession, Loaded};
use crate::state::AppState;
use auth_core::User;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// Longest `User-Agent` kept with a session.
const MAX_USER_AGENT_CHARS: usize = 256;
/// Most flash messages carried to the next page.
const MAX_FLASHES: usize = 5;

/// A one-time message for the next page (Flask's `flash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// `success`, `info` or `error`.
    pub category: String,
    /// The text, HTML-escaped when shown.
    pub message: String,
}

/// Where a request came from.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's address: the socket's peer, or, when that peer is a trusted proxy
    /// (`server.trusted_proxies`), the right-most untrusted `X-Forwarded-For` entry.
    pub address: Option<IpAddr>,
    /// `User-Agent`, truncated.
    pub user_agent: Option<String>,
}

#[derive(Debug, Default)]
enum SessionChange {
    #[default]
    Unchanged,
    /// Send this session's cookie (a new login, a renewed id, a new auth stamp).
    Set {
        value: String,
        max_age: Option<Duration>,
    },
    Ended,
}

#[derive(Debug, Default)]
struct Changes {
    session: SessionChange,
    outgoing_flashes: Vec<Flash>,
    incoming_flashes_taken: bool,
    csrf_token_issued: bool,
    csrf_rotated: Option<[u8; 32]>,
}

/// The browser state of one request. Handlers get it as an extractor.
#[derive(Clone)]
pub struct RequestContext(Arc<ContextInner>);

struct ContextInner {
    app: AppState,
    session: Option<ActiveSession>,
    csrf_secret: [u8; 32],
    csrf_from_cookie: bool,
    incoming_flashes: Vec<Flash>,
    client: ClientInfo,
    changes: Mutex<Changes>,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("user", &self.0.session.as_ref().map(|s| s.user.id))
            .finish_non_exhaustive()
    }
}

impl RequestContext {
    fn changes(&self) -> MutexGuard<'_, Changes> {
        // A poisoned lock only means another handler panicked mid-update; the data is plain.
        self.0.changes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The logged-in session, if any.
    pub fn session(&self) -> Option<&ActiveSession> {
        self.0.session.as_ref()
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&User> {
        self.0.session.as_ref().map(|s| &s.user)
    }

    /// How recent a password proof must be for sensitive actions (`session.fresh_for`).
    pub fn fresh_for(&self) -> Duration {
        self.0.app.0.fresh_for
    }

    /// Where the request came from.
    pub fn client(&self) -> &ClientInfo {
        &self.0.client
    }

    /// The CSRF token for forms on this page.
    pub fn csrf_token(&self) -> String {
        let mut changes = self.changes();
        changes.csrf_token_issued = true;
        let secret = changes.csrf_rotated.unwrap_or(self.0.csrf_secret);
        csrf_token_for(&self.0.app, &secret)
    }

    /// True if `token` is the CSRF token of the secret in this request's (valid) CSRF cookie.
    pub fn verify_csrf(&self, token: &str) -> bool {
        if !self.0.csrf_from_cookie {
            return false;
        }
        let expected = csrf_token_for(&self.0.app, &self.0.csrf_secret);
        bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
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
        let value = self
            .0
            .app
            .0
            .sessions
            .cookie_value(session)
            .map_err(|error| {
                tracing::error!(%error, user_id = %session.user.id, "session cookie refused");
                AppError::Internal("the session cookie would be too large")
            })?;
        let max_age = session.cookie_max_age(OffsetDateTime::now_utc());
        let mut changes = self.changes();
        changes.session = SessionChange::Set { value, max_age };
        if new_login {
            changes.csrf_rotated = Some(auth_core::keys::random_secret());
        }
        Ok(())
    }

    /// Clears the session cookie (the caller deletes the server-side session).
    pub fn end_session(&self) {
        let mut changes = self.changes();
        changes.session = SessionChange::Ended;
        changes.csrf_rotated = Some(auth_core::keys::random_secret());
    }
}

fn csrf_token_for(app: &AppState, secret: &[u8; 32]) -> String {
    let mac = <Hmac<Sha256> as Mac>::new_from_slice(&app.0.csrf_token_key.0);
    match mac {
        Ok(mut mac) => {
            mac.update(secret);
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this branch cannot run.
        Err(_) => String::new(),
    }
}

/// Every `Cookie` header's cookies, in order; unparsable pairs are skipped.
fn request_cookies(headers: &HeaderMap) -> Vec<Cookie<'static>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()).filter_map(Result::ok))
        .collect()
}

fn find<'a>(cookies: &'a [Cookie<'static>], name: &str) -> Option<&'a Cookie<'static>> {
    cookies.iter().find(|c| c.name() == name)
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::USER_AGENT)?.to_str().ok()?;
    Some(raw.chars().take(MAX_USER_AGENT_CHARS).collect())
}

/// What the request's session cookie turned out to be.
enum SessionCookie {
    Absent,
    /// Present but useless (tampered, foreign key, expired, logged out): clear it.
    Stale,
    /// A live session; `reissue` when the cookie must be sent again (signed with a fallback
    /// key, or the cookie store's last-seen time moved).
    Live(Box<ActiveSession>, bool),
}

async fn load_session(
    app: &AppState,
    cookies: &[Cookie<'static>],
    now: OffsetDateTime,
) -> Result<SessionCookie, AppError> {
    let Some(cookie) = find(cookies, &app.0.cookies.session) else {
        return Ok(SessionCookie::Absent);
    };
    let Some(verified) = app.0.session_signer.verify(cookie) else {
        return Ok(SessionCookie::Stale);
    };
    match app.0.sessions.load(&verified.value, now).await? {
        Loaded::Stale => Ok(SessionCookie::Stale),
        Loaded::Live { session, reissue } => Ok(SessionCookie::Live(
            session,
            reissue || verified.needs_resign,
        )),
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(address) if trusted.contains(&address) => client = address,
            Ok(address) => return Some(address),
            // A garbled entry cannot be believed; the last trusted hop is what we know.
            Err(_) => return Some(client),
        }
    }
    Some(client)
}

/// The middleware: see the module documentation.
pub async fn browser_context(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let cookies = request_cookies(request.headers());
    let session_cookie = match load_session(&app, &cookies, now).await {
        Ok(s) => s,
        Err(error) => return error.into_response(),
    };
    let (session, resign, stale) = match session_cookie {
        SessionCookie::Absent => (None, false, false),
        SessionCookie::Stale => (None, false, true),
        SessionCookie::Live(s, resign) => (Some(*s), resign, false),
    };
    let csrf = find(&cookies, &app.0.cookies.csrf)
        .and_then(|c| app.0.csrf_signer.verify(c))
        .and_then(|v| URL_SAFE_NO_PAD.decode(v.value).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
    let incoming_flashes = find(&cookies, &app.0.cookies.flash)
        .and_then(|c| app.0.flash_signer.verify(c))
        .and_then(|v| URL_SAFE_NO_PAD.decode(v.value).ok())
        .and_then(|json| serde_json::from_slice::<Vec<Flash>>(&json).ok())
        .unwrap_or_default();
    let had_flash_cookie = find(&cookies, &app.0.cookies.flash).is_some();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = ClientInfo {
        address: client_address(peer, request.headers(), &app.0.trusted_proxies),
        user_agent: user_agent(request.headers()),
    };
    let context = RequestContext(Arc::new(ContextInner {
        app: app.clone(),
        session,
        csrf_secret: csrf.unwrap_or_else(auth_core::keys::random_secret),
        csrf_from_cookie: csrf.is_some(),
        incoming_flashes,
        client,
        changes: Mutex::new(Changes::default()),
    }));
    request.extensions_mut().insert(context.clone());
    let mut response = next.run(request).await;
    apply_changes(
        &app,
        &context,
        &mut response,
        now,
        resign,
        stale,
        had_flash_cookie,
    );
    response
}

fn base_cookie(app: &AppState, name: &str, value: String) -> Cookie<'static> {
    Cookie::build((name.to_owned(), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.0.cookies.secure)
        .build()
}

fn removal(app: &AppState, name: &str) -> Cookie<'static> {
    let mut cookie = base_cookie(app, name, String::new());
    cookie.make_removal();
    cookie
}

fn to_cookie_duration(d: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn session_cookie(app: &AppState, value: String, max_age: Option<Duration>) -> Cookie<'static> {
    let mut cookie = app
        .0
        .session_signer
        .sign(base_cookie(app, &app.0.cookies.session, value));
    if let Some(max_age) = max_age {
        cookie.set_max_age(to_cookie_duration(max_age));
    }
    cookie
}

#[allow(clippy::too_many_arguments)]
fn apply_changes(
    app: &AppState,
    context: &RequestContext,
    response: &mut Response,
    now: OffsetDateTime,
    resign: bool,
    stale: bool,
    had_flash_cookie: bool,
) {
    // Outages (503) and refusals (429) leave the browser's cookies exactly as they were.
    if matches!(
        response.status(),
        axum::http::StatusCode::SERVICE_UNAVAILABLE | axum::http::StatusCode::TOO_MANY_REQUESTS
    ) {
        return;
    }
    let changes = std::mem::take(&mut *context.changes());
    let mut set = Vec::new();
    let mut logged_in = false;
    match changes.session {
        SessionChange::Set { value, max_age } => {
            set.push(session_cookie(app, value, max_age));
            logged_in = true;
        }
        SessionChange::Ended => set.push(removal(app, &app.0.cookies.session)),
        SessionChange::Unchanged => {
            if let Some(session) = context.session() {
                logged_in = true;
                if resign {
                    match app.0.sessions.cookie_value(session) {
                        Ok(value) => {
                            set.push(session_cookie(app, value, session.cookie_max_age(now)))
                        }
                        Err(error) => {
                            tracing::error!(%error, "could not re-send the session cookie")
                        }
                    }
                }
            } else if stale {
                set.push(removal(app, &app.0.cookies.session));
            }
        }
    }
    let new_csrf = changes.csrf_rotated.or_else(|| {
        (changes.csrf_token_issued && !context.0.csrf_from_cookie).then_some(context.0.csrf_secret)
    });
    if let Some(secret) = new_csrf {
        set.push(app.0.csrf_signer.sign(base_cookie(
            app,
            &app.0.cookies.csrf,
            URL_SAFE_NO_PAD.encode(secret),
        )));
    }
    if !changes.outgoing_flashes.is_empty() {
        if let Ok(json) = serde_json::to_vec(&changes.outgoing_flashes) {
            set.push(app.0.flash_signer.sign(base_cookie(
                app,
                &app.0.cookies.flash,
                URL_SAFE_NO_PAD.encode(json),
            )));
        }
    } else if had_flash_cookie && changes.incoming_flashes_taken {
        set.push(removal(app, &app.0.cookies.flash));
    }
    let headers = response.headers_mut();
    for cookie in set {
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    if logged_in {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
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
            .ok_or(AppError::Internal("the browser context layer is missing"))
    }
}
