//! Usernames: prepared as RFC 8265 prepares them, compared by their case-folded identity,
//! refused when confusable with another, kept as registered for display.
//!
//! A name is NFKC-normalised and trimmed (the display form), must be 1 to 64 characters of
//! Unicode letters and digits, `_`, `-` and `.`, with at least one letter or digit, and must pass
//! the PRECIS UsernameCaseMapped profile (RFC 8265: width mapping, case mapping, NFC, the
//! IdentifierClass). Its identity ([`Username::key`]) is the full Unicode case folding of the
//! prepared form, NFKC again, so `Alice`, `ＡＬＩＣＥ` and `alice` are one user, and so are
//! `Straße` and `strasse`. Its [`skeleton`](Username::skeleton) (UTS #39) is what a store keeps
//! unique too, so `аdmin` with a Cyrillic `а` cannot register beside `admin`.

use precis_core::profile::Profile;
use precis_profiles::UsernameCaseMapped;
use std::fmt;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// Longest username, in Unicode code points after NFKC and trimming.
pub const MAX_USERNAME_CHARS: usize = 64;

/// A valid username.
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
    /// A character outside letters, digits, `_`, `-` and `.`, or one RFC 8265 refuses.
    #[error("Use only letters, digits, '_', '-' and '.'.")]
    InvalidCharacter,
    /// Only `_`, `-` and `.`.
    #[error("Use at least one letter or digit.")]
    NoLetterOrDigit,
}

fn profile() -> &'static UsernameCaseMapped {
    static PROFILE: OnceLock<UsernameCaseMapped> = OnceLock::new();
    PROFILE.get_or_init(UsernameCaseMapped::new)
}

/// The identity of a display form that passed the character rules: PRECIS
/// UsernameCaseMapped, then full case folding, then NFKC.
fn identity(display: &str) -> Result<String, UsernameError> {
    let prepared = profile()
        .enforce(display)
        .map_err(|_| UsernameError::InvalidCharacter)?;
    Ok(caseless::default_case_fold_str(&prepared).nfkc().collect())
}

impl Username {
    /// Normalises (NFKC, trim), checks and prepares `raw`.
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
        if !display.chars().any(char::is_alphanumeric) {
            return Err(UsernameError::NoLetterOrDigit);
        }
        let key = identity(display)?;
        Ok(Self {
            display: display.to_owned(),
            key,
        })
    }

    /// The identity a stored display form has under the current rules, for a migration of
    /// identities kept under older ones; `None` if the name no longer passes them.
    pub fn identity_of(display: &str) -> Option<String> {
        Self::parse(display).ok().map(|name| name.key)
    }

    /// Rebuilds a username read back from a store, where it was validated on the way in.
    pub fn from_stored(display: String, key: String) -> Self {
        Self { display, key }
    }

    /// The name as registered.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The identity: case-folded RFC 8265 form. Unique in every store.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The UTS #39 confusable skeleton of the identity: two names with one skeleton look alike,
    /// so a store keeps it unique and the second registration is refused as taken.
    pub fn skeleton(&self) -> String {
        skeleton_of(&self.key)
    }
}

/// The UTS #39 skeleton of an identity key.
pub fn skeleton_of(key: &str) -> String {
    unicode_security::confusable_detection::skeleton(key).collect()
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

    fn key(raw: &str) -> String {
        Username::parse(raw).unwrap().key().to_owned()
    }

    #[test]
    fn identity_is_case_insensitive_and_display_is_kept() {
        let a = Username::parse("  Alice ").unwrap();
        assert_eq!(a.key(), key("alice"));
        assert_eq!(a.as_str(), "Alice");
    }

    #[test]
    fn width_forms_and_full_case_folding_are_one_identity() {
        assert_eq!(key("ＡＬＩＣＥ"), "alice");
        assert_eq!(key("Straße"), key("strasse"));
        assert_eq!(key("STRASSE"), key("straße"));
        assert_eq!(key("ﬁsh"), key("fish"));
        assert_ne!(key("józef"), key("jozef"));
    }

    #[test]
    fn confusables_share_a_skeleton() {
        let latin = Username::parse("admin").unwrap();
        let cyrillic = Username::parse("аdmin").unwrap();
        assert_ne!(latin.key(), cyrillic.key());
        assert_eq!(latin.skeleton(), cyrillic.skeleton());
        assert_ne!(
            latin.skeleton(),
            Username::parse("adman").unwrap().skeleton()
        );
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
        for punctuation in [".", "-", "_", "..", "-.-"] {
            assert_eq!(
                Username::parse(punctuation),
                Err(UsernameError::NoLetterOrDigit),
                "{punctuation:?}"
            );
        }
        assert!(Username::parse("józef_K-9.x").is_ok());
    }
}
