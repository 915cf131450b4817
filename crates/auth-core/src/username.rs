//! Usernames: normalised for identity, kept as registered for display.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Longest username, in Unicode code points after NFKC and trimming.
pub const MAX_USERNAME_CHARS: usize = 64;

/// A valid username.
///
/// Identity is the NFKC-normalised, trimmed, lower-cased form ([`Username::key`]), so `Alice` and
/// `alice` are one user; [`Username::as_str`] is the name as registered, for display.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username {
    display: String,
    key: String,
}

/// Why a username was refused; the `Display` text is meant for the person typing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Nothing left after trimming.
    #[error("Enter a username.")]
    Empty,
    /// More than [`MAX_USERNAME_CHARS`] code points.
    #[error("Use at most {MAX_USERNAME_CHARS} characters.")]
    TooLong,
    /// A character outside letters, digits, `_`, `-` and `.`.
    #[error("Use only letters, digits, '_', '-' and '.'.")]
    InvalidCharacter,
}

impl Username {
    /// Normalises (NFKC, trim) and validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let normalised: String = raw.nfkc().collect();
        let display = normalised.trim();
        if display.is_empty() {
            return Err(UsernameError::Empty);
        }
        if display.chars().count() > MAX_USERNAME_CHARS {
            return Err(UsernameError::TooLong);
        }
        if !display
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(UsernameError::InvalidCharacter);
        }
        // Lower-casing can change the NFKC form (rarely), so normalise again after it.
        let key = display.to_lowercase().nfkc().collect();
        Ok(Self {
            display: display.to_owned(),
            key,
        })
    }

    /// Rebuilds a username read back from a store, where it was validated on the way in.
    pub fn from_stored(display: String, key: String) -> Self {
        Self { display, key }
    }

    /// The name as registered.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The identity: NFKC, trimmed, lower-cased. Unique in every store.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Escaped: usernames come from clients and must not forge log lines.
        write!(f, "{:?}", self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_case_insensitive_and_display_is_kept() {
        let a = Username::parse("  Alice ").unwrap();
        let b = Username::parse("alice").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.as_str(), "Alice");
    }

    #[test]
    fn nfkc_folds_compatibility_forms() {
        // Fullwidth letters are the same user as ASCII ones.
        let wide = Username::parse("ＡＬＩＣＥ").unwrap();
        assert_eq!(wide.key(), "alice");
    }

    #[test]
    fn rules() {
        assert_eq!(Username::parse("   "), Err(UsernameError::Empty));
        assert_eq!(
            Username::parse(&"a".repeat(65)),
            Err(UsernameError::TooLong)
        );
        assert!(Username::parse(&"é".repeat(64)).is_ok());
        assert_eq!(
            Username::parse("bob smith"),
            Err(UsernameError::InvalidCharacter)
        );
        assert_eq!(
            Username::parse("bob<script>"),
            Err(UsernameError::InvalidCharacter)
        );
        assert!(Username::parse("józef_K-9.x").is_ok());
    }
}
