//! Wrappers for secrets whose `Debug` and `Display` reveal nothing.
//!
//! Passwords, password hashes, session tokens and keys travel through the code in these types
//! so that a stray `{:?}` in a log line or an error message prints `[redacted]`, never the value.

use std::fmt;

/// Text that must never be printed: a password as typed, a token, a key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where the value is used, never to print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        // So a freed password does not linger in the allocator's memory.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// A stored password hash: a PHC string such as `$argon2id$v=19$…`.
///
/// Not a password, but still a secret: it allows offline guessing, so it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(String);

impl PasswordHashString {
    /// Wraps a stored hash as read from the database.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The hash text, for storing or verifying; never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHashString([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = SecretString::new("hunter2-correct-horse");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
        let hash = PasswordHashString::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
        assert!(!format!("{hash:?}").contains("argon2id"));
    }
}
