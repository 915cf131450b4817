//! Session tokens and the expiry rules every session store obeys.
//!
//! A browser holds a [`SessionToken`] (256 random bits); the store keeps only its SHA-256
//! ([`TokenDigest`]), so reading the database yields no live session. Expiry follows ASVS
//! level 2: an idle timeout that slides with use and an absolute timeout from login; a
//! "remember me" session instead lives [`SessionTimeouts::remember_for`] from login, without
//! sliding.

use crate::hasher::random_bytes;
use crate::store::UserId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

/// Bytes of randomness in a session token (256 bits; the contract asks for at least 128).
const TOKEN_BYTES: usize = 32;

/// The secret a browser presents: 256 bits from the OS CSPRNG, base64url in the cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken([u8; TOKEN_BYTES]);

impl SessionToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// Parses the cookie form; `None` for anything that is not exactly a token.
    pub fn parse(encoded: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The cookie form (base64url, no padding).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the store keeps and looks up by.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

/// SHA-256 of a [`SessionToken`]: the store's key for a session.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// The digest's bytes, for a store's key column.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Rebuilds a digest read from a store; `None` when the length is wrong.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a credential, but there is no reason to print it either.
        f.write_str("TokenDigest(..)")
    }
}

/// Bytes of randomness in a public session id (128 bits; the contract asks for at least 64).
const SESSION_ID_BYTES: usize = 16;

/// Identifies a session to its owner (on the account page, in the API) without revealing its
/// token: 128 random bits, base64url. Not a sequence number, so ids tell nothing about how many
/// sessions exist, and guessing another user's is hopeless (a store also checks the owner).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(URL_SAFE_NO_PAD.encode(random_bytes::<SESSION_ID_BYTES>()))
    }

    /// An id as a client sent it back; `None` unless it has the shape of one (so no client
    /// string of any length or content reaches a query).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        (bytes.len() == SESSION_ID_BYTES).then(|| Self(text.to_owned()))
    }

    /// Rebuilds an id read back from a store.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
    }
}

/// The timeouts of `session.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    /// Ends a session unused for this long (`session.idle_timeout`).
    pub idle: Duration,
    /// Ends a session this long after login, however active (`session.absolute_timeout`).
    pub absolute: Duration,
    /// Lifetime of a "remember me" session from login; replaces both of the above.
    pub remember_for: Duration,
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            remember_for: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Longest time between two writes of a session's last-seen time: the hot path writes nothing
/// for requests closer together than this.
const MAX_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// `at` plus `duration`, saturating at the last representable date: a time read from a
/// cookie or a store can never make the arithmetic panic.
pub(crate) fn later(at: OffsetDateTime, duration: Duration) -> OffsetDateTime {
    let duration = time::Duration::try_from(duration).unwrap_or(time::Duration::MAX);
    at.saturating_add(duration)
}

impl SessionTimeouts {
    /// The deadlines of a session created at `now`.
    pub fn deadlines(&self, now: OffsetDateTime, remember: bool) -> SessionDeadlines {
        if remember {
            SessionDeadlines {
                expires_at: later(now, self.remember_for),
                idle_expires_at: None,
            }
        } else {
            SessionDeadlines {
                expires_at: later(now, self.absolute),
                idle_expires_at: Some(later(now, self.idle)),
            }
        }
    }

    /// How stale `last_seen_at` may get before a request refreshes it: a minute, or a tenth of
    /// the idle timeout when that is shorter, so the idle deadline stays accurate to 10 %.
    pub fn touch_interval(&self) -> Duration {
        MAX_TOUCH_INTERVAL.min(self.idle / 10)
    }

    /// The new idle deadline if a request at `now` should record activity, else `None`.
    pub fn touch(&self, session: &SessionRecord, now: OffsetDateTime) -> Option<SessionTouch> {
        if now - session.last_seen_at < self.touch_interval() {
            return None;
        }
        Some(SessionTouch {
            last_seen_at: now,
            idle_expires_at: session.idle_expires_at.map(|_| later(now, self.idle)),
        })
    }
}

/// When a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionDeadlines {
    /// Absolute end (login + absolute timeout, or login + remember-for).
    pub expires_at: OffsetDateTime,
    /// End unless used again before it; `None` for "remember me" sessions.
    pub idle_expires_at: Option<OffsetDateTime>,
}

/// A session about to be stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The public id.
    pub id: SessionId,
    /// SHA-256 of the token the browser gets.
    pub digest: TokenDigest,
    /// Whose session.
    pub user_id: UserId,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// When the user last proved they know the password (login or re-authentication).
    pub authenticated_at: OffsetDateTime,
    /// Expiry.
    pub deadlines: SessionDeadlines,
    /// "Remember me" was ticked: a persistent cookie.
    pub remember: bool,
    /// The browser's `User-Agent`, truncated, for the account page.
    pub user_agent: Option<String>,
}

impl NewSession {
    /// A session for `user_id` logged in at `now`.
    pub fn at_login(
        digest: TokenDigest,
        user_id: UserId,
        now: OffsetDateTime,
        remember: bool,
        timeouts: &SessionTimeouts,
        user_agent: Option<String>,
    ) -> Self {
        Self {
            id: SessionId::generate(),
            digest,
            user_id,
            created_at: now,
            authenticated_at: now,
            deadlines: timeouts.deadlines(now, remember),
            remember,
            user_agent,
        }
    }
}

/// A stored, unexpired session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Public id, for listing and revoking one session.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// Last recorded activity (updated at most every [`SessionTimeouts::touch_interval`]).
    pub last_seen_at: OffsetDateTime,
    /// Last password proof.
    pub authenticated_at: OffsetDateTime,
    /// Absolute end.
    pub expires_at: OffsetDateTime,
    /// Idle end; `None` for "remember me".
    pub idle_expires_at: Option<OffsetDateTime>,
    /// "Remember me" session.
    pub remember: bool,
    /// The browser that logged in.
    pub user_agent: Option<String>,
}

impl SessionRecord {
    /// True if the session is still valid at `now`. Stores filter on this in their queries;
    /// this is the same rule in Rust, for tests and for stores without queries.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at && self.idle_expires_at.is_none_or(|idle| now < idle)
    }
}

/// Activity to record on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTouch {
    /// The request's time.
    pub last_seen_at: OffsetDateTime,
    /// The idle deadline moved forward; `None` for "remember me" sessions.
    pub idle_expires_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let token = SessionToken::generate();
        assert_eq!(SessionToken::parse(&token.encode()), Some(token.clone()));
        assert_ne!(SessionToken::generate(), token);
        assert_eq!(SessionToken::parse("not a token"), None);
        assert_eq!(SessionToken::parse(&token.encode()[1..]), None);
        assert!(!format!("{token:?}").contains(&token.encode()));
    }

    #[test]
    fn session_ids_are_random_and_parse_only_their_own_shape() {
        let id = SessionId::generate();
        assert_ne!(SessionId::generate(), id);
        assert_eq!(id.as_str().len(), 22);
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        for bad in ["1", "", "not an id", &"A".repeat(400), &id.as_str()[1..]] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn remember_me_replaces_both_timeouts() {
        let t = SessionTimeouts::default();
        let now = OffsetDateTime::now_utc();
        let remembered = t.deadlines(now, true);
        assert_eq!(remembered.expires_at, now + t.remember_for);
        assert_eq!(remembered.idle_expires_at, None);
        let plain = t.deadlines(now, false);
        assert_eq!(plain.expires_at, now + t.absolute);
        assert_eq!(plain.idle_expires_at, Some(now + t.idle));
    }

    #[test]
    fn touch_only_after_the_interval() {
        let t = SessionTimeouts::default();
        let now = OffsetDateTime::now_utc();
        let d = t.deadlines(now, false);
        let record = SessionRecord {
            id: SessionId::generate(),
            user_id: UserId(1),
            created_at: now,
            last_seen_at: now,
            authenticated_at: now,
            expires_at: d.expires_at,
            idle_expires_at: d.idle_expires_at,
            remember: false,
            user_agent: None,
        };
        assert_eq!(t.touch(&record, now + Duration::from_secs(59)), None);
        let later = now + Duration::from_secs(61);
        assert_eq!(
            t.touch(&record, later),
            Some(SessionTouch {
                last_seen_at: later,
                idle_expires_at: Some(later + t.idle)
            })
        );
        assert!(record.is_live(now));
        assert!(!record.is_live(now + t.idle));
    }
}
