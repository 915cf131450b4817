//! Personal API tokens (SPEC §11): long-lived credentials a user creates for scripts, command
//! line tools and other non-browser clients, sent as `Authorization: Bearer TOKEN`.
//!
//! A token is 256 random bits behind a fixed prefix ([`API_TOKEN_PREFIX`]), shown to its user
//! once; the store keeps only its SHA-256 ([`TokenDigest`]), like a session token. Each token
//! has a public id (random, for listing and revoking), a name its user chose, and an expiry:
//! every token ends, at the latest [`MAX_LIFETIME`] after it was made.

use crate::hasher::random_bytes;
use crate::session::{SessionId, TokenDigest};
use crate::store::UserId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

/// What every token starts with: tells a reader (and a secret scanner) what the string is.
pub const API_TOKEN_PREFIX: &str = "wbt_";
/// Bytes of randomness in a token.
const TOKEN_BYTES: usize = 32;
/// A token's lifetime when its user names none.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The longest lifetime a token may have: a year.
pub const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 60 * 60);
/// The shortest lifetime a token may have.
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);
/// How many live tokens one user may hold: enough for every machine and script, and a bound
/// on what one account can make the store keep.
pub const MAX_TOKENS_PER_USER: u64 = 100;
/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// A token's last use is written at most this often (the request that sees it stale queues
/// the write).
pub const USE_RECORD_INTERVAL: Duration = Duration::from_secs(60);

/// The secret a client presents. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken([u8; TOKEN_BYTES]);

impl ApiToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// Parses the form [`encode`](Self::encode) gives; `None` for anything else, so no
    /// client string of another shape reaches the store.
    pub fn parse(text: &str) -> Option<Self> {
        let encoded = text.strip_prefix(API_TOKEN_PREFIX)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The form shown to the user once: the prefix, then base64url.
    pub fn encode(&self) -> String {
        format!("{API_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.0))
    }

    /// What the store keeps and looks up by.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([redacted])")
    }
}

/// Why a token name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenNameError {
    /// Empty once trimmed.
    #[error("Give the token a name.")]
    Empty,
    /// Over [`MAX_NAME_CHARS`].
    #[error("A token name has at most 64 characters.")]
    TooLong,
    /// A control character (a newline, a tab…).
    #[error("A token name cannot contain control characters.")]
    ControlCharacter,
}

/// A token's name as its user typed it, trimmed; at most [`MAX_NAME_CHARS`] characters, no
/// control characters.
pub fn parse_name(raw: &str) -> Result<String, TokenNameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(TokenNameError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(TokenNameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(TokenNameError::ControlCharacter);
    }
    Ok(name.to_owned())
}

/// Why a lifetime is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LifetimeError {
    /// Under [`MIN_LIFETIME`].
    #[error("A token lives at least 60 seconds.")]
    TooShort,
    /// Over [`MAX_LIFETIME`].
    #[error("A token lives at most 366 days (31622400 seconds).")]
    TooLong,
}

/// A lifetime in seconds as a client sent it (`None`: [`DEFAULT_LIFETIME`]), within
/// [`MIN_LIFETIME`]..=[`MAX_LIFETIME`].
pub fn parse_lifetime(seconds: Option<u64>) -> Result<Duration, LifetimeError> {
    let Some(seconds) = seconds else {
        return Ok(DEFAULT_LIFETIME);
    };
    let lifetime = Duration::from_secs(seconds);
    if lifetime < MIN_LIFETIME {
        Err(LifetimeError::TooShort)
    } else if lifetime > MAX_LIFETIME {
        Err(LifetimeError::TooLong)
    } else {
        Ok(lifetime)
    }
}

/// A token as the store keeps it (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// Public id (random), for listing and revoking.
    pub id: SessionId,
    /// Whose token.
    pub user_id: UserId,
    /// The name its user gave it.
    pub name: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it ends.
    pub expires_at: OffsetDateTime,
    /// When it was last used, to the minute ([`USE_RECORD_INTERVAL`]); `None`: never.
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiTokenRecord {
    /// Whether it still works at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }

    /// Whether a use at `now` should be written: never used, or last written at least
    /// [`USE_RECORD_INTERVAL`] ago.
    pub fn use_is_stale(&self, now: OffsetDateTime) -> bool {
        self.last_used_at
            .is_none_or(|last| now - last >= USE_RECORD_INTERVAL)
    }
}

/// A token to store: its record and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// What is listed.
    pub record: ApiTokenRecord,
    /// The SHA-256 of the secret.
    pub digest: TokenDigest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_other_shapes() {
        let token = ApiToken::generate();
        let text = token.encode();
        assert!(text.starts_with("wbt_"));
        assert_eq!(text.len(), 4 + 43);
        assert_eq!(ApiToken::parse(&text), Some(token.clone()));
        assert_ne!(ApiToken::generate(), token);
        for bad in [
            "",
            "wbt_",
            &text[4..],
            &text[..text.len() - 1],
            &format!("{text}A"),
            &text.replace("wbt_", "WBT_"),
        ] {
            assert_eq!(ApiToken::parse(bad), None, "{bad:?}");
        }
        assert_eq!(format!("{token:?}"), "ApiToken([redacted])");
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(parse_name("  laptop cli ").as_deref(), Ok("laptop cli"));
        assert_eq!(parse_name(" \t "), Err(TokenNameError::Empty));
        assert_eq!(parse_name(&"é".repeat(64)).map(|n| n.len()), Ok(128));
        assert_eq!(parse_name(&"é".repeat(65)), Err(TokenNameError::TooLong));
        assert_eq!(parse_name("a\nb"), Err(TokenNameError::ControlCharacter));
    }

    #[test]
    fn lifetimes_default_and_stay_within_bounds() {
        assert_eq!(parse_lifetime(None), Ok(DEFAULT_LIFETIME));
        assert_eq!(parse_lifetime(Some(60)), Ok(Duration::from_secs(60)));
        assert_eq!(parse_lifetime(Some(59)), Err(LifetimeError::TooShort));
        assert_eq!(parse_lifetime(Some(31_622_400)), Ok(MAX_LIFETIME));
        assert_eq!(
            parse_lifetime(Some(31_622_401)),
            Err(LifetimeError::TooLong)
        );
        assert_eq!(parse_lifetime(Some(u64::MAX)), Err(LifetimeError::TooLong));
    }
}
