//! Sessions in either store the configuration names (`session.store`).
//!
//! - **database**: the cookie carries a random token; the session row (keyed by the token's
//!   SHA-256) is the truth, so logout and revocation end a session everywhere at once.
//! - **cookie**: the cookie carries a signed, versioned payload (user id, login time, last-seen
//!   time, last password proof, remember flag, the user's auth stamp); nothing is stored per
//!   session. Timeouts are checked against the signed times; "end every other session" works by
//!   changing the user's auth stamp, which invalidates every cookie carrying the old one. What
//!   it cannot do: end one single other session, or make a replayed cookie anonymous after a
//!   plain logout.
//!
//! [`Sessions`] hides the difference from handlers: they start, end, renew and list sessions the
//! same way in both modes.

use crate::config::SessionStoreKind;
use auth_core::session::{SessionDeadlines, SessionId};
use auth_core::{AuthStore, NewSession, SessionTimeouts, SessionToken, StoreError, User};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Largest session cookie the cookie store will send (the contract's 4 KiB).
pub const MAX_COOKIE_BYTES: usize = 4096;
/// Version of the cookie payload; a payload of another version is anonymous.
const PAYLOAD_VERSION: u8 = 1;

/// The signed payload of a cookie-store session. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CookiePayload {
    v: u8,
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

/// How a session is identified to its store.
#[derive(Debug, Clone)]
pub enum SessionHandle {
    /// A database session: the browser's token.
    Database {
        /// The token (never logged).
        token: SessionToken,
        /// The row's public id.
        id: SessionId,
    },
    /// A cookie session: everything is in the cookie.
    Cookie,
}

/// A logged-in session, in either store.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// Whose session.
    pub user: User,
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
    /// Store-specific identity.
    pub handle: SessionHandle,
}

impl ActiveSession {
    /// The database id, if this is a database session.
    pub fn id(&self) -> Option<SessionId> {
        match &self.handle {
            SessionHandle::Database { id, .. } => Some(*id),
            SessionHandle::Cookie => None,
        }
    }

    /// `Max-Age` for the cookie: the time left until the absolute end for "remember me"
    /// sessions (it does not slide), none (a browser-session cookie) otherwise.
    pub fn cookie_max_age(&self, now: OffsetDateTime) -> Option<Duration> {
        self.remember
            .then(|| (self.deadlines.expires_at - now).unsigned_abs())
    }
}

/// One row of the account page's session list.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// Public id; `None` in the cookie store, where sessions cannot be ended one by one.
    pub id: Option<SessionId>,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// Last recorded activity.
    pub last_seen_at: OffsetDateTime,
    /// Browser.
    pub user_agent: Option<String>,
    /// The session making this request.
    pub current: bool,
}

impl SessionView {
    /// The view as the account page and `GET /api/v1/sessions` show it (RFC 3339 times).
    pub fn to_json(&self) -> serde_json::Value {
        let rfc3339 = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        serde_json::json!({
            "id": self.id,
            "created_at": rfc3339(self.created_at),
            "last_seen_at": rfc3339(self.last_seen_at),
            "user_agent": self.user_agent,
            "current": self.current,
        })
    }
}

/// What loading a session cookie found.
#[derive(Debug)]
pub enum Loaded {
    /// A live session; `reissue` asks for a fresh cookie (new last-seen time in the cookie
    /// store).
    Live {
        /// The session.
        session: Box<ActiveSession>,
        /// Send the cookie again.
        reissue: bool,
    },
    /// Unknown, expired, revoked or malformed: the request is anonymous and the cookie should go.
    Stale,
}

/// Sessions over the configured store.
#[derive(Clone)]
pub struct Sessions {
    mode: SessionStoreKind,
    store: Arc<dyn AuthStore>,
    timeouts: SessionTimeouts,
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(value: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value) * 1_000_000).ok()
}

impl Sessions {
    /// Sessions in `mode` over `store`.
    pub fn new(
        mode: SessionStoreKind,
        store: Arc<dyn AuthStore>,
        timeouts: SessionTimeouts,
    ) -> Self {
        Self {
            mode,
            store,
            timeouts,
        }
    }

    /// Which store sessions live in.
    pub fn mode(&self) -> SessionStoreKind {
        self.mode
    }

    /// Loads the session a (signature-checked) cookie value names. One store read in either
    /// mode; a write only when the database session's last-seen time is stale.
    pub async fn load(&self, value: &str, now: OffsetDateTime) -> Result<Loaded, StoreError> {
        match self.mode {
            SessionStoreKind::Database => self.load_database(value, now).await,
            SessionStoreKind::Cookie => self.load_cookie(value, now).await,
        }
    }

    async fn load_database(&self, value: &str, now: OffsetDateTime) -> Result<Loaded, StoreError> {
        let Some(token) = SessionToken::parse(value) else {
            return Ok(Loaded::Stale);
        };
        let digest = token.digest();
        let Some((mut record, user)) = self.store.load_session(&digest, now).await? else {
            return Ok(Loaded::Stale);
        };
        if let Some(touch) = self.timeouts.touch(&record, now) {
            // Activity is worth recording, but a failed write must not fail a read.
            match self.store.touch_session(&digest, &touch).await {
                Ok(()) => {
                    record.last_seen_at = touch.last_seen_at;
                    record.idle_expires_at = touch.idle_expires_at;
                }
                Err(error) => tracing::warn!(%error, "could not record session activity"),
            }
        }
        Ok(Loaded::Live {
            session: Box::new(ActiveSession {
                user,
                created_at: record.created_at,
                last_seen_at: record.last_seen_at,
                authenticated_at: record.authenticated_at,
                deadlines: SessionDeadlines {
                    expires_at: record.expires_at,
                    idle_expires_at: record.idle_expires_at,
                },
                remember: record.remember,
                user_agent: record.user_agent,
                handle: SessionHandle::Database {
                    token,
                    id: record.id,
                },
            }),
            reissue: false,
        })
    }

    async fn load_cookie(&self, value: &str, now: OffsetDateTime) -> Result<Loaded, StoreError> {
        let payload = URL_SAFE_NO_PAD
            .decode(value)
            .ok()
            .and_then(|json| serde_json::from_slice::<CookiePayload>(&json).ok())
            .filter(|p| p.v == PAYLOAD_VERSION);
        let Some(payload) = payload else {
            return Ok(Loaded::Stale);
        };
        let (Some(created_at), Some(seen), Some(authenticated_at)) = (
            from_ms(payload.iat),
            from_ms(payload.seen),
            from_ms(payload.auth),
        ) else {
            return Ok(Loaded::Stale);
        };
        let deadlines = self.cookie_deadlines(created_at, seen, payload.rem);
        let alive = now < deadlines.expires_at && deadlines.idle_expires_at.is_none_or(|d| now < d);
        if !alive {
            return Ok(Loaded::Stale);
        }
        let Some(user) = self.store.find_user(auth_core::UserId(payload.uid)).await? else {
            return Ok(Loaded::Stale);
        };
        // The stamp is how the cookie store revokes: a changed stamp ends every old cookie.
        if user.auth_stamp != payload.stamp {
            return Ok(Loaded::Stale);
        }
        let stale_seen = now - seen >= self.timeouts.touch_interval();
        let last_seen_at = if stale_seen { now } else { seen };
        Ok(Loaded::Live {
            session: Box::new(ActiveSession {
                user,
                created_at,
                last_seen_at,
                authenticated_at,
                deadlines: self.cookie_deadlines(created_at, last_seen_at, payload.rem),
                remember: payload.rem,
                user_agent: None,
                handle: SessionHandle::Cookie,
            }),
            reissue: stale_seen,
        })
    }

    fn cookie_deadlines(
        &self,
        created_at: OffsetDateTime,
        last_seen_at: OffsetDateTime,
        remember: bool,
    ) -> SessionDeadlines {
        let mut deadlines = self.timeouts.deadlines(created_at, remember);
        if deadlines.idle_expires_at.is_some() {
            deadlines.idle_expires_at = Some(last_seen_at + self.timeouts.idle);
        }
        deadlines
    }

    /// The cookie value that names `session`. In the cookie store this is the payload, refused
    /// (an error, nothing sent) if it would make a cookie over [`MAX_COOKIE_BYTES`].
    pub fn cookie_value(&self, session: &ActiveSession) -> Result<String, SessionError> {
        match &session.handle {
            SessionHandle::Database { token, .. } => Ok(token.encode()),
            SessionHandle::Cookie => encode_payload(session),
        }
    }

    /// Starts a session for `user` (login).
    pub async fn start(
        &self,
        user: User,
        remember: bool,
        user_agent: Option<String>,
        now: OffsetDateTime,
    ) -> Result<ActiveSession, StoreError> {
        let deadlines = self.timeouts.deadlines(now, remember);
        let handle = match self.mode {
            SessionStoreKind::Database => {
                let token = SessionToken::generate();
                let id = self
                    .store
                    .insert_session(&NewSession::at_login(
                        token.digest(),
                        user.id,
                        now,
                        remember,
                        &self.timeouts,
                        user_agent.clone(),
                    ))
                    .await?;
                SessionHandle::Database { token, id }
            }
            SessionStoreKind::Cookie => SessionHandle::Cookie,
        };
        Ok(ActiveSession {
            user,
            created_at: now,
            last_seen_at: now,
            authenticated_at: now,
            deadlines,
            remember,
            user_agent,
            handle,
        })
    }

    /// Ends `session` (logout). In the cookie store there is nothing to delete: the caller
    /// clears the cookie, and a copy kept elsewhere stays valid until it expires.
    pub async fn end(&self, session: &ActiveSession) -> Result<(), StoreError> {
        if let SessionHandle::Database { token, .. } = &session.handle {
            self.store.delete_session(&token.digest()).await?;
        }
        Ok(())
    }

    /// Ends every session of the user except `session`, which is returned as it must be sent
    /// again (the cookie store's copy carries the new auth stamp). Returns how many sessions
    /// ended where that is known.
    pub async fn end_others(
        &self,
        session: &ActiveSession,
    ) -> Result<(ActiveSession, Option<u64>), StoreError> {
        match &session.handle {
            SessionHandle::Database { token, .. } => {
                let ended = self
                    .store
                    .delete_user_sessions(session.user.id, Some(&token.digest()))
                    .await?;
                Ok((session.clone(), Some(ended)))
            }
            SessionHandle::Cookie => {
                let stamp = self.store.rotate_auth_stamp(session.user.id).await?;
                let mut kept = session.clone();
                kept.user.auth_stamp = stamp;
                Ok((kept, None))
            }
        }
    }

    /// Ends one session of the user by id; `false` if it is not theirs (or, in the cookie
    /// store, where single sessions have no id).
    pub async fn end_one(
        &self,
        session: &ActiveSession,
        id: SessionId,
    ) -> Result<bool, StoreError> {
        match self.mode {
            SessionStoreKind::Database => self.store.delete_user_session(session.user.id, id).await,
            SessionStoreKind::Cookie => Ok(false),
        }
    }

    /// Records a fresh password proof on `session`.
    pub async fn reauthenticated(
        &self,
        session: &ActiveSession,
        now: OffsetDateTime,
    ) -> Result<ActiveSession, StoreError> {
        if let SessionHandle::Database { token, .. } = &session.handle {
            self.store.mark_authenticated(&token.digest(), now).await?;
        }
        let mut fresh = session.clone();
        fresh.authenticated_at = now;
        Ok(fresh)
    }

    /// After a password change: this session continues under a new id (and fresh proof), every
    /// other session of the user ends.
    pub async fn renew_after_password_change(
        &self,
        session: &ActiveSession,
        now: OffsetDateTime,
    ) -> Result<ActiveSession, StoreError> {
        // The stamp changes in both stores, so cookie-store sessions and anything else that
        // carries the old stamp end too.
        let stamp = self.store.rotate_auth_stamp(session.user.id).await?;
        let mut renewed = session.clone();
        renewed.user.auth_stamp = stamp;
        renewed.authenticated_at = now;
        if let SessionHandle::Database { .. } = &session.handle {
            self.store
                .delete_user_sessions(session.user.id, None)
                .await?;
            let token = SessionToken::generate();
            let id = self
                .store
                .insert_session(&NewSession {
                    digest: token.digest(),
                    user_id: session.user.id,
                    created_at: session.created_at,
                    authenticated_at: now,
                    deadlines: session.deadlines,
                    remember: session.remember,
                    user_agent: session.user_agent.clone(),
                })
                .await?;
            renewed.handle = SessionHandle::Database { token, id };
        }
        Ok(renewed)
    }

    /// The user's live sessions, the current one marked. The cookie store knows only the
    /// current one.
    pub async fn list(
        &self,
        session: &ActiveSession,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionView>, StoreError> {
        match &session.handle {
            SessionHandle::Database { id: current, .. } => Ok(self
                .store
                .list_user_sessions(session.user.id, now)
                .await?
                .into_iter()
                .map(|record| SessionView {
                    id: Some(record.id),
                    created_at: record.created_at,
                    last_seen_at: record.last_seen_at,
                    user_agent: record.user_agent,
                    current: record.id == *current,
                })
                .collect()),
            SessionHandle::Cookie => Ok(vec![SessionView {
                id: None,
                created_at: session.created_at,
                last_seen_at: session.last_seen_at,
                user_agent: session.user_agent.clone(),
                current: true,
            }]),
        }
    }
}

/// The cookie store's value for `session`: base64url of the versioned JSON payload; refused
/// when the whole cookie could exceed [`MAX_COOKIE_BYTES`].
fn encode_payload(session: &ActiveSession) -> Result<String, SessionError> {
    let payload = CookiePayload {
        v: PAYLOAD_VERSION,
        uid: session.user.id.0,
        iat: ms(session.created_at),
        seen: ms(session.last_seen_at),
        auth: ms(session.authenticated_at),
        rem: session.remember,
        stamp: session.user.auth_stamp.clone(),
    };
    let json = serde_json::to_vec(&payload).map_err(|_| SessionError::Encoding)?;
    let value = URL_SAFE_NO_PAD.encode(json);
    // The signature, the name and the attributes add about 150 bytes; keep a margin.
    if value.len() + 256 > MAX_COOKIE_BYTES {
        return Err(SessionError::TooLarge(value.len()));
    }
    Ok(value)
}

/// Why a session cookie could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The payload would not fit in a cookie.
    #[error("the session cookie would be {0} bytes, over the 4 KiB limit")]
    TooLarge(usize),
    /// Serialising the payload failed.
    #[error("the session payload could not be encoded")]
    Encoding,
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{UserId, Username};

    fn session(stamp: String) -> ActiveSession {
        let now = OffsetDateTime::now_utc();
        ActiveSession {
            user: User {
                id: UserId(7),
                username: Username::parse("zed").unwrap(),
                auth_stamp: stamp,
                created_at: now,
            },
            created_at: now,
            last_seen_at: now,
            authenticated_at: now,
            deadlines: SessionTimeouts::default().deadlines(now, false),
            remember: false,
            user_agent: None,
            handle: SessionHandle::Cookie,
        }
    }

    #[test]
    fn payloads_over_4_kib_are_refused_before_sending() {
        assert!(encode_payload(&session("a".repeat(32))).is_ok());
        let too_big = encode_payload(&session("a".repeat(4000)));
        assert!(matches!(too_big, Err(SessionError::TooLarge(_))));
    }
}
