//! The password rules of NIST SP 800-63B and ASVS 2.1: length, blocklist, not the username.
//!
//! No composition rules, no truncation; any printable Unicode and spaces are allowed. Lengths are
//! counted in Unicode code points after NFKC, the form the hasher also receives.

use crate::secret::SecretString;
use crate::username::Username;
use std::collections::HashSet;
use std::io::Read;
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

/// The gzip'd list of common and breached passwords (one per line, lower-cased, NFKC).
/// Provenance and counts: `data/README.md`.
static COMMON_PASSWORDS_GZ: &[u8] = include_bytes!("../data/common-passwords.txt.gz");

static COMMON_PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut text = String::new();
    let mut decoder = flate2::read::GzDecoder::new(COMMON_PASSWORDS_GZ);
    if let Err(error) = decoder.read_to_string(&mut text) {
        // The list is compiled in and checked by a test; this can only mean a corrupt build.
        tracing::error!(%error, "the built-in common-password list could not be read");
        return HashSet::new();
    }
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
});

/// Number of entries in the built-in blocklist.
pub fn common_password_count() -> usize {
    COMMON_PASSWORDS.len()
}

/// Length limits and the blocklist check, applied at registration and password change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest code points allowed.
    pub min_length: usize,
    /// Most code points allowed; longer is refused, never truncated.
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 128,
        }
    }
}

/// Why a password was refused; the `Display` text is meant for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRuleViolation {
    /// Fewer than `min_length` code points.
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    /// More than `max_length` code points.
    #[error("Use at most {0} characters.")]
    TooLong(usize),
    /// On the list of common or breached passwords.
    #[error("This password is too common; choose another.")]
    Common,
    /// The same as the username.
    #[error("The password must not be your username.")]
    SameAsUsername,
    /// Control characters (other than none at all) are not printable text.
    #[error("Use printable characters only.")]
    NotPrintable,
}

impl PasswordPolicy {
    /// Checks `password` for the account `username`; returns the first rule it breaks.
    pub fn check(
        &self,
        password: &SecretString,
        username: Option<&Username>,
    ) -> Result<(), PasswordRuleViolation> {
        let normalised = SecretString::new(password.expose().nfkc().collect::<String>());
        let length = normalised.expose().chars().count();
        if length < self.min_length {
            return Err(PasswordRuleViolation::TooShort(self.min_length));
        }
        if length > self.max_length {
            return Err(PasswordRuleViolation::TooLong(self.max_length));
        }
        if normalised.expose().chars().any(char::is_control) {
            return Err(PasswordRuleViolation::NotPrintable);
        }
        let folded = SecretString::new(normalised.expose().to_lowercase());
        if let Some(username) = username
            && folded.expose() == username.key()
        {
            return Err(PasswordRuleViolation::SameAsUsername);
        }
        if COMMON_PASSWORDS.contains(folded.expose()) {
            return Err(PasswordRuleViolation::Common);
        }
        Ok(())
    }
}

/// The password in the form that is hashed: NFKC, so that the same characters typed on another
/// keyboard or platform produce the same hash.
pub fn normalise_password(password: &SecretString) -> SecretString {
    SecretString::new(password.expose().nfkc().collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, username: &str) -> Result<(), PasswordRuleViolation> {
        let username = Username::parse(username).unwrap();
        PasswordPolicy::default().check(&SecretString::new(password), Some(&username))
    }

    #[test]
    fn blocklist_is_large_and_covers_long_passwords() {
        assert!(common_password_count() >= 10_000);
        let long = COMMON_PASSWORDS
            .iter()
            .filter(|p| p.chars().count() >= 12)
            .count();
        assert!(long >= 100, "only {long} entries of 12+ characters");
    }

    #[test]
    fn rules_apply_in_order() {
        assert_eq!(
            check("short", "alice"),
            Err(PasswordRuleViolation::TooShort(12))
        );
        assert_eq!(
            check(&"x".repeat(129), "alice"),
            Err(PasswordRuleViolation::TooLong(128))
        );
        assert!(check(&"ж".repeat(128), "alice").is_ok());
        assert_eq!(
            check("AliceInChains", "aliceinchains"),
            Err(PasswordRuleViolation::SameAsUsername)
        );
        assert_eq!(
            check("PASSWORD1234", "alice"),
            Err(PasswordRuleViolation::Common)
        );
        assert!(check("correct horse battery staple", "alice").is_ok());
        assert!(check("パスワードは長い文章です", "alice").is_ok());
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        // Twelve fullwidth digits-and-letters are twelve code points, not 36 bytes.
        assert!(check("ｖｅｒｙｎｉｃｅｐｈｒａ", "alice").is_ok());
        assert_eq!(
            check("ａｂｃ", "alice"),
            Err(PasswordRuleViolation::TooShort(12))
        );
    }
}
