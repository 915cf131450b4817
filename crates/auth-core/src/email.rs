//! Email addresses and the one-time links sent to them (contract §9).
//!
//! An [`EmailAddress`] is checked by a well-kept RFC 5321/5322 parser before it is stored, and
//! is unique in the store by its [`key`](EmailAddress::key). A [`LinkToken`] is the secret in a
//! verification or reset link: 256 random bits, of which the store keeps only the SHA-256
//! ([`TokenDigest`]), single use, living [`LinkPurpose::lifetime`].

use crate::session::{SessionToken, TokenDigest};
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

/// Whether users have email addresses (`account.email`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailPolicy {
    /// Users may give an address (the default).
    #[default]
    Optional,
    /// Registration needs an address.
    Required,
    /// No addresses, no mail: no verification, no reset by link, no notices.
    Off,
}

/// The longest address accepted, in bytes (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// A syntactically valid email address, as the user typed it (trimmed).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

/// Why an address was refused; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was typed.
    #[error("Enter an email address.")]
    Empty,
    /// Longer than [`MAX_EMAIL_BYTES`].
    #[error("An email address is at most 254 characters.")]
    TooLong,
    /// Not an address (`name@example.com`).
    #[error("Enter an email address like name@example.com.")]
    Invalid,
}

impl EmailAddress {
    /// Parses what a user typed: trimmed; no display name (`Ada <ada@example.com>`), no
    /// address literal (`ada@[192.0.2.1]`), a domain with at least two labels.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > MAX_EMAIL_BYTES {
            return Err(EmailError::TooLong);
        }
        let options = email_address::Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            allow_long_local_parts: false,
        };
        let parsed = email_address::EmailAddress::parse_with_options(trimmed, options)
            .map_err(|_| EmailError::Invalid)?;
        // Header injection is impossible through a parsed address, but say so explicitly: no
        // control characters, whatever a parser version allows in quoted local parts.
        if parsed.as_str().chars().any(char::is_control) {
            return Err(EmailError::Invalid);
        }
        Ok(Self(parsed.as_str().to_owned()))
    }

    /// An address read back from the store (checked when it was stored).
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store's uniqueness key: the address lower-cased. The local part is case-sensitive in
    /// theory and never in practice; one key per mailbox keeps two accounts from sharing one.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The domain, for logs (the local part names a person).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    /// Only the domain: an address is personal data, and `Debug` output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress(…@{})", self.domain())
    }
}

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkPurpose {
    /// Proves the user reads the address the token was sent to.
    VerifyEmail,
    /// Lets the user set a new password.
    ResetPassword,
}

impl LinkPurpose {
    /// How long a link lives: 24 hours to verify an address, 30 minutes to reset a password.
    pub fn lifetime(self) -> Duration {
        match self {
            Self::VerifyEmail => Duration::from_secs(24 * 60 * 60),
            Self::ResetPassword => Duration::from_secs(30 * 60),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify-email",
            Self::ResetPassword => "reset-password",
        }
    }
}

/// The secret in a link: 256 random bits, base64url in the URL. The store keeps its
/// [`digest`](Self::digest) only, so reading the database yields no usable link.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken(SessionToken);

impl LinkToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self(SessionToken::generate())
    }

    /// Parses the URL form; `None` for anything that is not exactly a token.
    pub fn parse(encoded: &str) -> Option<Self> {
        SessionToken::parse(encoded.trim()).map(Self)
    }

    /// The URL form (base64url, 43 characters).
    pub fn encode(&self) -> String {
        self.0.encode()
    }

    /// What the store keeps and looks up by.
    pub fn digest(&self) -> TokenDigest {
        self.0.digest()
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken([redacted])")
    }
}

/// A link token as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// Whose link it is.
    pub user_id: crate::UserId,
    /// What it is for.
    pub purpose: LinkPurpose,
    /// The address it was sent to: a verification link verifies that address only, so a link
    /// to an address the user has since replaced verifies nothing.
    pub email: EmailAddress,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it stops working (exclusive).
    pub expires_at: OffsetDateTime,
}

impl LinkRecord {
    /// A new link for `user_id` to `email`, made at `now`, living `purpose`'s lifetime.
    pub fn new(
        token: &LinkToken,
        user_id: crate::UserId,
        purpose: LinkPurpose,
        email: EmailAddress,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            digest: token.digest(),
            user_id,
            purpose,
            email,
            created_at: now,
            expires_at: crate::session::later(now, purpose.lifetime()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_keyed_case_insensitively() {
        let ada = EmailAddress::parse("  Ada.Lovelace@Example.ORG ").unwrap();
        assert_eq!(ada.as_str(), "Ada.Lovelace@Example.ORG");
        assert_eq!(ada.key(), "ada.lovelace@example.org");
        assert_eq!(format!("{ada:?}"), "EmailAddress(…@Example.ORG)");
        for bad in [
            "ada",
            "ada@",
            "@example.org",
            "ada@localhost",
            "Ada <ada@example.org>",
            "ada@[192.0.2.1]",
            "ada@example.org\r\nBcc: eve@example.org",
            "a b@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(EmailAddress::parse(" "), Err(EmailError::Empty));
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn link_tokens_round_trip_and_never_print() {
        let token = LinkToken::generate();
        let encoded = token.encode();
        assert!(encoded.len() >= 22, "at least 128 bits");
        assert_eq!(LinkToken::parse(&encoded).unwrap().digest(), token.digest());
        assert!(!format!("{token:?}").contains(&encoded));
        assert!(LinkToken::parse("short").is_none());
    }

    #[test]
    fn links_expire_after_their_purposes_lifetime() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let email = EmailAddress::parse("ada@example.org").unwrap();
        let record = LinkRecord::new(
            &LinkToken::generate(),
            crate::UserId(1),
            LinkPurpose::ResetPassword,
            email,
            now,
        );
        assert_eq!(record.expires_at - now, time::Duration::minutes(30));
        assert_eq!(
            LinkPurpose::VerifyEmail.lifetime(),
            Duration::from_secs(86_400)
        );
    }
}
