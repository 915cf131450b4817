//! Sessions in either store, behind one interface: starting them at login, recognising them
//! from the browser's credential, ending them, listing them.
//!
//! - [`SessionStorage::Database`]: the credential is a random [`SessionToken`]; the session row
//!   (keyed by the token's SHA-256) is the truth.
//! - [`SessionStorage::Cookie`]: the credential is a versioned payload (session id, user id,
//!   login time, last-seen time, last password proof, remember flag, the user's auth stamp),
//!   which the web layer signs; nothing is stored per live session. Timeouts are checked against
//!   the payload's times; a changed auth stamp ends every payload that carries the old one; a
//!   logout records the session's id until its cookie would have expired.
//!
//! The credential is opaque to callers: they sign it, send it, and hand it back.

use super::{AuthService, Client, ServiceError, SessionStorage};
use crate::observe::{LoginMethod, Outcome};
use crate::session::{NewSession, SessionDeadlines, SessionId, SessionToken, TokenDigest};
use crate::session_cache::{CachedSession, SessionKey};
use crate::store::User;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

/// Largest credential the cookie store will hand out: its cookie (name, signature, attributes
/// add about 150 bytes) must stay within the contract's 4 KiB.
pub const MAX_CREDENTIAL_BYTES: usize = 4096 - 256;
/// Version of the cookie payload; a payload of another version is anonymous.
const PAYLOAD_VERSION: u8 = 2;

/// The cookie store's payload. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CookiePayload {
    v: u8,
    /// The session's public id, fixed at login.
    sid: String,
    uid: i64,
    /// Login time.
    iat: i64,
    /// Last recorded activity.
    seen: i64,
    /// Last password proof.
    auth: i64,
    rem: bool,
    stamp: String,
}

/// How the store knows a session.
#[derive(Debug, Clone)]
enum Handle {
    /// A database session: the browser's token.
    Database(SessionToken),
    /// A cookie session: everything is in the payload.
    Cookie,
    /// Not a browser session: a personal API token (the digest of its secret), sent as a
    /// bearer credential. It never proves a password (its `authenticated_at` is the Unix
    /// epoch, so it is never fresh) and has no cookie.
    ApiToken(TokenDigest),
}

/// A logged-in session, in either store.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// Whose session.
    pub user: User,
    /// The public id (random, not a sequence number), in both stores.
    pub id: SessionId,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// Last recorded activity.
    pub last_seen_at: OffsetDateTime,
    /// Last password proof (login or re-authentication).
    pub authenticated_at: OffsetDateTime,
    /// When it ends at the latest.
    pub deadlines: SessionDeadlines,
    /// "Remember me": a persistent cookie.
    pub remember: bool,
    /// Browser that logged in (database store only).
    pub user_agent: Option<String>,
    handle: Handle,
}

impl ActiveSession {
    /// How long a persistent cookie should live: the time left until the absolute end for
    /// "remember me" sessions (it does not slide); `None` (a browser-session cookie) otherwise.
    pub fn persistent_for(&self, now: OffsetDateTime) -> Option<Duration> {
        self.remember
            .then(|| (self.deadlines.expires_at - now).unsigned_abs())
    }

    /// Whether this is a personal API token rather than a browser session.
    pub fn is_api_token(&self) -> bool {
        matches!(self.handle, Handle::ApiToken(_))
    }

    /// A database session's digest.
    fn digest(&self) -> Option<TokenDigest> {
        match &self.handle {
            Handle::Database(token) => Some(token.digest()),
            Handle::Cookie | Handle::ApiToken(_) => None,
        }
    }

    /// The session an API token stands for, from its record and its user.
    pub(crate) fn of_api_token(
        record: crate::api_token::ApiTokenRecord,
        user: User,
        digest: TokenDigest,
    ) -> Self {
        Self {
            user,
            id: record.id,
            created_at: record.created_at,
            last_seen_at: record.last_used_at.unwrap_or(record.created_at),
            authenticated_at: OffsetDateTime::UNIX_EPOCH,
            deadlines: SessionDeadlines {
                expires_at: record.expires_at,
                idle_expires_at: None,
            },
            remember: false,
            user_agent: None,
            handle: Handle::ApiToken(digest),
        }
    }
}

/// One row of a user's session list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// Public id.
    pub id: SessionId,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// Last recorded activity.
    pub last_seen_at: OffsetDateTime,
    /// Browser.
    pub user_agent: Option<String>,
    /// The session making the request.
    pub current: bool,
}

/// A session recognised from its credential.
#[derive(Debug, Clone)]
pub struct LoadedSession {
    /// The session.
    pub session: ActiveSession,
    /// Send the credential again (the cookie store's last-seen time moved).
    pub reissue: bool,
}

/// The one message for every failed login (unknown user and wrong password alike), so no
/// answer tells which part was wrong.
pub const INVALID_CREDENTIALS: &str = "Invalid username or password.";

/// What a login attempt came to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The password was right: a new session.
    LoggedIn(Box<ActiveSession>),
    /// Unknown user or wrong password (which one is never told).
    InvalidCredentials,
    /// The password was right and the user has a second factor: no session yet, a pending
    /// login for the second step (see [`AuthService::complete_second_factor`]).
    SecondFactorRequired {
        /// What the second step completes.
        pending: super::PendingLogin,
        /// The factors it accepts (`"totp"`, `"recovery_code"`).
        methods: Vec<&'static str>,
    },
}

/// Why a session cannot become a credential.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The payload would not fit in a cookie.
    #[error("the session credential would be {0} bytes, over the 4 KiB cookie limit")]
    TooLarge(usize),
    /// An API token is not a browser session: it has no cookie.
    #[error("an API token has no session cookie")]
    ApiToken,
    /// Serialising the payload failed.
    #[error("the session payload could not be encoded")]
    Encoding(#[source] serde_json::Error),
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(value: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value).checked_mul(1_000_000)?).ok()
}

impl AuthService {
    /// The credential that names `session`, for the browser (the web layer signs it). In the
    /// cookie store it is the payload, refused if it would make a cookie over 4 KiB.
    pub fn session_credential(&self, session: &ActiveSession) -> Result<String, SessionError> {
        match &session.handle {
            Handle::Database(token) => Ok(token.encode()),
            Handle::Cookie => encode_payload(session),
            Handle::ApiToken(_) => Err(SessionError::ApiToken),
        }
    }

    /// The session a (signature-checked) credential names, if it is live at `now`: from the
    /// session cache when it is trusted and holds it, else one store read (either store). No
    /// write: a database session's stale last-seen time (at most once a minute per session) is
    /// queued for [`flush_session_activity`](Self::flush_session_activity).
    pub async fn load_session(
        &self,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoadedSession>, ServiceError> {
        match self.storage() {
            SessionStorage::Database => self.load_database_session(credential, now).await,
            SessionStorage::Cookie => self.load_cookie_session(credential, now).await,
        }
    }

    async fn load_database_session(
        &self,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoadedSession>, ServiceError> {
        let Some(token) = SessionToken::parse(credential) else {
            return Ok(None);
        };
        let digest = token.digest();
        let key = SessionKey::Token(digest);
        let cache = &self.0.cache;
        let ticket = cache.ticket();
        let cached = cache.get(&key).and_then(|(session, user)| match session {
            // A cached copy past a deadline is read again: another process may have seen
            // activity that moved the idle deadline.
            CachedSession::Database(record) if record.is_live(now) => {
                Some((record, User::clone(&user)))
            }
            _ => None,
        });
        let (mut record, user) = match cached {
            Some(found) => found,
            None => {
                let Some((record, user)) = self.store().load_session(&digest, now).await? else {
                    return Ok(None);
                };
                cache.fill(
                    ticket,
                    key.clone(),
                    CachedSession::Database(record.clone()),
                    &user,
                );
                (record, user)
            }
        };
        if let Some(touch) = self.0.settings.timeouts.touch(&record, now) {
            // Written behind the request (see `activity`); the cached copy moves now, so the
            // session is queued again only after another interval.
            record.last_seen_at = touch.last_seen_at;
            record.idle_expires_at = touch.idle_expires_at;
            self.0.activity.queue(digest, touch);
            cache.fill(ticket, key, CachedSession::Database(record.clone()), &user);
        }
        Ok(Some(LoadedSession {
            session: ActiveSession {
                user,
                id: record.id,
                created_at: record.created_at,
                last_seen_at: record.last_seen_at,
                authenticated_at: record.authenticated_at,
                deadlines: SessionDeadlines {
                    expires_at: record.expires_at,
                    idle_expires_at: record.idle_expires_at,
                },
                remember: record.remember,
                user_agent: record.user_agent,
                handle: Handle::Database(token),
            },
            reissue: false,
        }))
    }

    async fn load_cookie_session(
        &self,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoadedSession>, ServiceError> {
        let Some(CookieCredential {
            id,
            user_id,
            created_at,
            last_seen_at: seen,
            authenticated_at,
            remember,
            auth_stamp,
        }) = decode_cookie_credential(credential)
        else {
            return Ok(None);
        };
        let deadlines = self.cookie_deadlines(created_at, seen, remember);
        let alive = now < deadlines.expires_at && deadlines.idle_expires_at.is_none_or(|d| now < d);
        if !alive {
            return Ok(None);
        }
        let cache = &self.0.cache;
        let key = SessionKey::Cookie(id);
        let ticket = cache.ticket();
        let cached = cache.get(&key).and_then(|(session, user)| match session {
            CachedSession::Cookie(owner) if owner == user_id => Some(User::clone(&user)),
            _ => None,
        });
        let user = match cached {
            Some(user) => user,
            None => {
                // One read: the user, and whether this session logged out (its nonce is kept
                // until the cookie would have expired).
                let SessionKey::Cookie(id) = &key else {
                    return Ok(None);
                };
                let Some((user, revoked)) =
                    self.store().find_session_user(user_id, id, now).await?
                else {
                    return Ok(None);
                };
                if revoked {
                    return Ok(None);
                }
                cache.fill(ticket, key.clone(), CachedSession::Cookie(user_id), &user);
                user
            }
        };
        // The stamp is how the cookie store ends every session at once: a changed stamp ends
        // every old payload.
        if user.auth_stamp != auth_stamp {
            return Ok(None);
        }
        let SessionKey::Cookie(id) = key else {
            return Ok(None);
        };
        let stale_seen = now - seen >= self.0.settings.timeouts.touch_interval();
        let last_seen_at = if stale_seen { now } else { seen };
        Ok(Some(LoadedSession {
            session: ActiveSession {
                user,
                id,
                created_at,
                last_seen_at,
                authenticated_at,
                deadlines: self.cookie_deadlines(created_at, last_seen_at, remember),
                remember,
                user_agent: None,
                handle: Handle::Cookie,
            },
            reissue: stale_seen,
        }))
    }

    fn cookie_deadlines(
        &self,
        created_at: OffsetDateTime,
        last_seen_at: OffsetDateTime,
        remember: bool,
    ) -> SessionDeadlines {
        let timeouts = &self.0.settings.timeouts;
        let mut deadlines = timeouts.deadlines(created_at, remember);
        if deadlines.idle_expires_at.is_some() {
            deadlines.idle_expires_at = Some(crate::session::later(last_seen_at, timeouts.idle));
        }
        deadlines
    }

    /// Logs `username` in when `password` is theirs: a throttled check (429 while throttled,
    /// the same hashing work for unknown users), then a new session, ending `replacing` (the
    /// browser's previous session, if any: a new session id at every login).
    pub async fn log_in(
        &self,
        username: &str,
        password: &crate::SecretString,
        remember: bool,
        client: &Client,
        replacing: Option<&ActiveSession>,
    ) -> Result<LoginOutcome, ServiceError> {
        let result = self
            .password_login(username, password, remember, client, replacing)
            .await;
        self.report_login(LoginMethod::Password, result, |outcome| match outcome {
            LoginOutcome::LoggedIn(_) => Outcome::Success,
            LoginOutcome::InvalidCredentials => Outcome::InvalidCredentials,
            LoginOutcome::SecondFactorRequired { .. } => Outcome::SecondFactorRequired,
        })
    }

    async fn password_login(
        &self,
        username: &str,
        password: &crate::SecretString,
        remember: bool,
        client: &Client,
        replacing: Option<&ActiveSession>,
    ) -> Result<LoginOutcome, ServiceError> {
        let Some(user) = self.check_credentials(username, password, client).await? else {
            return Ok(LoginOutcome::InvalidCredentials);
        };
        let now = OffsetDateTime::now_utc();
        let factors = self.store().second_factors(user.id).await?;
        if factors.any() {
            tracing::info!(event = "login.password_ok", user_id = %user.id, client = %client.address_field(), "password right; waiting for the second factor");
            return Ok(LoginOutcome::SecondFactorRequired {
                pending: self.pending_login(&user, remember, now),
                methods: super::second_factor::methods(&factors),
            });
        }
        if let Some(previous) = replacing {
            self.end(previous).await?;
        }
        self.notify_if_new_device(&user, client, now);
        let session = self.start_session(user, remember, client, now).await?;
        tracing::info!(
            event = "login.success",
            user_id = %session.user.id,
            client = %client.address_field(),
            remember,
            "login succeeded"
        );
        Ok(LoginOutcome::LoggedIn(Box::new(session)))
    }

    /// Starts a session for `user` at `now`, without checking anything (the caller has).
    pub(crate) async fn start_session(
        &self,
        user: User,
        remember: bool,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<ActiveSession, ServiceError> {
        let timeouts = &self.0.settings.timeouts;
        let deadlines = timeouts.deadlines(now, remember);
        let (id, handle) = match self.storage() {
            SessionStorage::Database => {
                let token = SessionToken::generate();
                let new = NewSession::at_login(
                    token.digest(),
                    user.id,
                    now,
                    remember,
                    timeouts,
                    client.user_agent.clone(),
                );
                self.store().insert_session(&new).await?;
                (new.id, Handle::Database(token))
            }
            SessionStorage::Cookie => (SessionId::generate(), Handle::Cookie),
        };
        let user_agent = match handle {
            Handle::Database(_) => client.user_agent.clone(),
            Handle::Cookie | Handle::ApiToken(_) => None,
        };
        Ok(ActiveSession {
            user,
            id,
            created_at: now,
            last_seen_at: now,
            authenticated_at: now,
            deadlines,
            remember,
            user_agent,
            handle,
        })
    }

    /// A session for `user` without a password, for an application's own tests.
    #[cfg(feature = "testing")]
    pub async fn start_test_session(
        &self,
        user: User,
        now: OffsetDateTime,
    ) -> Result<ActiveSession, ServiceError> {
        self.start_session(user, false, &Client::command_line(), now)
            .await
    }

    /// Ends `session` on the server: the database store deletes its row; the cookie store
    /// records its nonce until the cookie would have expired, so a copy of the cookie replayed
    /// later is anonymous.
    pub(crate) async fn end(&self, session: &ActiveSession) -> Result<(), ServiceError> {
        // Evicted whether or not the write reports success: a failure may still have committed.
        match &session.handle {
            Handle::Database(token) => {
                let digest = token.digest();
                let result = self.store().delete_session(&digest).await;
                self.0.cache.evict_session(&SessionKey::Token(digest));
                result?;
            }
            Handle::ApiToken(digest) => {
                let result = self
                    .store()
                    .delete_api_token(session.user.id, &session.id)
                    .await;
                self.0.cache.evict_session(&SessionKey::ApiToken(*digest));
                result?;
            }
            Handle::Cookie => {
                let deadlines = session.deadlines;
                let until = deadlines
                    .idle_expires_at
                    .map_or(deadlines.expires_at, |idle| idle.min(deadlines.expires_at));
                let result = self
                    .store()
                    .revoke_session(session.user.id, &session.id, until)
                    .await;
                self.0
                    .cache
                    .evict_session(&SessionKey::Cookie(session.id.clone()));
                result?;
            }
        }
        Ok(())
    }

    /// Logs out: ends `session` on the server (the caller clears the browser's cookie).
    pub async fn log_out(
        &self,
        session: &ActiveSession,
        client: &Client,
    ) -> Result<(), ServiceError> {
        self.end(session).await?;
        tracing::info!(event = "logout", user_id = %session.user.id, client = %client.address_field(), "logged out");
        Ok(())
    }

    /// The user's live sessions, `session` marked as current. The cookie store knows only the
    /// current one (so an API token, which is no session, lists none there).
    pub async fn list_sessions(
        &self,
        session: &ActiveSession,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionView>, ServiceError> {
        if session.is_api_token() && self.storage() == SessionStorage::Cookie {
            return Ok(Vec::new());
        }
        match &session.handle {
            Handle::Database(_) | Handle::ApiToken(_) => Ok(self
                .store()
                .list_user_sessions(session.user.id, now)
                .await?
                .into_iter()
                .map(|record| SessionView {
                    current: record.id == session.id,
                    id: record.id,
                    created_at: record.created_at,
                    last_seen_at: record.last_seen_at,
                    user_agent: record.user_agent,
                })
                .collect()),
            Handle::Cookie => Ok(vec![SessionView {
                id: session.id.clone(),
                created_at: session.created_at,
                last_seen_at: session.last_seen_at,
                user_agent: session.user_agent.clone(),
                current: true,
            }]),
        }
    }

    /// What `session` becomes after a password change at `now`: a new id and credential, a
    /// fresh password proof, the user's new auth stamp (set by the caller); and, for database
    /// sessions, the row to store in its place.
    pub(crate) fn renewed(
        &self,
        session: &ActiveSession,
        now: OffsetDateTime,
    ) -> (ActiveSession, Option<NewSession>) {
        let mut renewed = session.clone();
        renewed.authenticated_at = now;
        renewed.id = SessionId::generate();
        let row = match &session.handle {
            Handle::Database(_) => {
                let token = SessionToken::generate();
                let row = NewSession {
                    id: renewed.id.clone(),
                    digest: token.digest(),
                    user_id: session.user.id,
                    created_at: session.created_at,
                    authenticated_at: now,
                    deadlines: session.deadlines,
                    remember: session.remember,
                    user_agent: session.user_agent.clone(),
                };
                renewed.handle = Handle::Database(token);
                Some(row)
            }
            Handle::Cookie | Handle::ApiToken(_) => None,
        };
        (renewed, row)
    }

    /// Deletes every other session of `session`'s user (database store): how many ended. An
    /// API token is no session: every session ends.
    pub(crate) async fn delete_other_sessions(
        &self,
        session: &ActiveSession,
    ) -> Result<Option<u64>, ServiceError> {
        if self.storage() == SessionStorage::Cookie {
            return Ok(None);
        }
        let result = self
            .store()
            .delete_user_sessions(session.user.id, session.digest().as_ref())
            .await;
        Ok(Some(self.changed(session.user.id, result)?))
    }

    /// Records a fresh password proof on `session` at `now`.
    pub(crate) async fn mark_fresh(
        &self,
        session: &ActiveSession,
        now: OffsetDateTime,
    ) -> Result<ActiveSession, ServiceError> {
        if session.is_api_token() {
            // A token never proves a password.
            return Ok(session.clone());
        }
        if let Some(digest) = session.digest() {
            let result = self.store().mark_authenticated(&digest, now).await;
            self.0.cache.evict_session(&SessionKey::Token(digest));
            result?;
        }
        let mut fresh = session.clone();
        fresh.authenticated_at = now;
        Ok(fresh)
    }
}

/// A cookie-store credential, decoded and checked on its own (version, id, times), before the
/// store is asked about its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieCredential {
    /// The session's public id.
    pub id: SessionId,
    /// Whose session.
    pub user_id: crate::store::UserId,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// Last recorded activity.
    pub last_seen_at: OffsetDateTime,
    /// Last password proof.
    pub authenticated_at: OffsetDateTime,
    /// "Remember me".
    pub remember: bool,
    /// The user's auth stamp when it was issued.
    pub auth_stamp: String,
}

/// Decodes a cookie-store credential (base64url of the versioned JSON payload); `None` for
/// anything else — another version, a malformed id, a time out of range, more than 4 KiB.
/// Pure: no store, no clock; what the fuzz target `session_cookie` exercises.
pub fn decode_cookie_credential(credential: &str) -> Option<CookieCredential> {
    if credential.len() > MAX_CREDENTIAL_BYTES {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(credential).ok()?;
    let payload = serde_json::from_slice::<CookiePayload>(&json).ok()?;
    if payload.v != PAYLOAD_VERSION {
        return None;
    }
    Some(CookieCredential {
        id: SessionId::parse(&payload.sid)?,
        user_id: crate::store::UserId(payload.uid),
        created_at: from_ms(payload.iat)?,
        last_seen_at: from_ms(payload.seen)?,
        authenticated_at: from_ms(payload.auth)?,
        remember: payload.rem,
        auth_stamp: payload.stamp,
    })
}

/// The cookie store's credential for `session`: base64url of the versioned JSON payload.
fn encode_payload(session: &ActiveSession) -> Result<String, SessionError> {
    let payload = CookiePayload {
        v: PAYLOAD_VERSION,
        sid: session.id.as_str().to_owned(),
        uid: session.user.id.0,
        iat: ms(session.created_at),
        seen: ms(session.last_seen_at),
        auth: ms(session.authenticated_at),
        rem: session.remember,
        stamp: session.user.auth_stamp.clone(),
    };
    let json = serde_json::to_vec(&payload).map_err(SessionError::Encoding)?;
    let value = URL_SAFE_NO_PAD.encode(json);
    if value.len() > MAX_CREDENTIAL_BYTES {
        return Err(SessionError::TooLarge(value.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionTimeouts;
    use crate::store::UserId;
    use crate::username::Username;

    fn session(stamp: String) -> ActiveSession {
        let now = OffsetDateTime::now_utc();
        ActiveSession {
            user: User {
                id: UserId(7),
                username: Username::parse("zed").unwrap(),
                auth_stamp: stamp,
                created_at: now,
                email: None,
                email_verified: false,
            },
            id: SessionId::generate(),
            created_at: now,
            last_seen_at: now,
            authenticated_at: now,
            deadlines: SessionTimeouts::default().deadlines(now, false),
            remember: false,
            user_agent: None,
            handle: Handle::Cookie,
        }
    }

    #[test]
    fn payloads_over_4_kib_are_refused_before_sending() {
        assert!(encode_payload(&session("a".repeat(32))).is_ok());
        let too_big = encode_payload(&session("a".repeat(4000)));
        assert!(matches!(too_big, Err(SessionError::TooLarge(_))));
    }
}
