//! Keys derived from `SECRET_KEY`, and the signed-cookie codec built on them.
//!
//! Every use of the secret gets its own key, derived with HKDF-SHA256 and a purpose label, so a
//! value signed for one purpose (say a flash message) can never pass as another (a session).
//! Older keys from `SECRET_KEY_FALLBACKS` verify but never sign: a cookie they verify is
//! re-signed with the current key in the same response (key rotation).
//!
//! ```
//! use auth_core::{KeyPurpose, KeyRing, SecretString};
//! use cookie::Cookie;
//!
//! let old = KeyRing::new(SecretString::new("an-old-key-of-at-least-thirty-two-bytes"), vec![]).unwrap();
//! let signed = old.cookie_signer(KeyPurpose::SessionCookie).sign(Cookie::new("s", "token"));
//!
//! // After rotation the old key still verifies, and asks for a re-signature.
//! let rotated = KeyRing::new(
//!     SecretString::new("the-new-key-of-at-least-thirty-two-bytes"),
//!     vec![SecretString::new("an-old-key-of-at-least-thirty-two-bytes")],
//! )
//! .unwrap();
//! let verified = rotated.cookie_signer(KeyPurpose::SessionCookie).verify(&signed).unwrap();
//! assert_eq!((verified.value.as_str(), verified.needs_resign), ("token", true));
//! // Another purpose's key never accepts it.
//! assert!(rotated.cookie_signer(KeyPurpose::FlashCookie).verify(&signed).is_none());
//! ```

use crate::secret::SecretString;
use cookie::{Cookie, CookieJar, Key};
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;

/// Fewest bytes a `SECRET_KEY` may have (the UTF-8 bytes of the value as given).
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// Salt of every derivation: fixed, so the same secret always derives the same keys.
const HKDF_SALT: &[u8] = b"wristband/key-derivation/v1";

/// What a derived key is for. Each purpose gets an independent key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Signs the session cookie (database or cookie store).
    SessionCookie,
    /// Signs the CSRF cookie.
    CsrfCookie,
    /// Computes CSRF form tokens from the CSRF cookie's secret.
    CsrfToken,
    /// Signs flash-message cookies.
    FlashCookie,
}

impl KeyPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::SessionCookie => b"session-cookie",
            Self::CsrfCookie => b"csrf-cookie",
            Self::CsrfToken => b"csrf-token",
            Self::FlashCookie => b"flash-cookie",
        }
    }
}

/// `SECRET_KEY` and its fallbacks.
#[derive(Clone)]
pub struct KeyRing {
    current: SecretString,
    fallbacks: Vec<SecretString>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyRing([redacted], {} fallback(s))",
            self.fallbacks.len()
        )
    }
}

/// A secret key shorter than [`MIN_SECRET_KEY_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a secret key must be at least {MIN_SECRET_KEY_BYTES} bytes, this one has {0}")]
pub struct KeyTooShort(pub usize);

impl KeyRing {
    /// Builds a ring from the current key and older keys still accepted for verification.
    pub fn new(current: SecretString, fallbacks: Vec<SecretString>) -> Result<Self, KeyTooShort> {
        for key in std::iter::once(&current).chain(&fallbacks) {
            let len = key.expose().len();
            if len < MIN_SECRET_KEY_BYTES {
                return Err(KeyTooShort(len));
            }
        }
        Ok(Self { current, fallbacks })
    }

    /// A random key, for development runs without `SECRET_KEY`.
    pub fn random() -> Self {
        let bytes: [u8; 32] = crate::hasher::random_bytes();
        Self {
            current: SecretString::new(hex::encode(bytes)),
            fallbacks: Vec::new(),
        }
    }

    /// A fresh key in the form `wristband gen-secret` prints: 32 random bytes as 64 hex digits.
    pub fn generate_secret() -> SecretString {
        let bytes: [u8; 32] = crate::hasher::random_bytes();
        SecretString::new(hex::encode(bytes))
    }

    /// 64 bytes for `purpose`, derived from the current key.
    pub fn derive(&self, purpose: KeyPurpose) -> DerivedKey {
        derive(&self.current, purpose)
    }

    /// The signer for cookies of `purpose`: signs with the current key, verifies with all.
    pub fn cookie_signer(&self, purpose: KeyPurpose) -> CookieSigner {
        CookieSigner {
            current: Key::from(&derive(&self.current, purpose).0),
            fallbacks: self
                .fallbacks
                .iter()
                .map(|k| Key::from(&derive(k, purpose).0))
                .collect(),
        }
    }
}

fn derive(secret: &SecretString, purpose: KeyPurpose) -> DerivedKey {
    let mut okm = [0u8; 64];
    let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret.expose().as_bytes());
    // 64 bytes is far below HKDF-SHA256's limit of 255 × 32, so expand cannot fail.
    if hkdf.expand(purpose.label(), &mut okm).is_err() {
        unreachable!("HKDF output length is a constant within bounds");
    }
    DerivedKey(okm)
}

/// A 64-byte key for one purpose.
pub struct DerivedKey(pub [u8; 64]);

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKey([redacted])")
    }
}

impl Drop for DerivedKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Signs and verifies cookies of one purpose (HMAC-SHA256 through the `cookie` crate).
#[derive(Clone)]
pub struct CookieSigner {
    current: Key,
    fallbacks: Vec<Key>,
}

impl fmt::Debug for CookieSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieSigner([redacted])")
    }
}

/// A cookie value whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedValue {
    /// The value as it was signed.
    pub value: String,
    /// Signed with a fallback key: re-sign it with the current key.
    pub needs_resign: bool,
}

impl CookieSigner {
    /// The cookie with its value replaced by the signed form.
    pub fn sign(&self, cookie: Cookie<'static>) -> Cookie<'static> {
        let name = cookie.name().to_owned();
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.current).add(cookie.clone());
        jar.get(&name).cloned().unwrap_or(cookie)
    }

    /// The signed value of `cookie`, if its signature is valid under any key; `None` for
    /// tampering, a foreign key, or garbage.
    pub fn verify(&self, cookie: &Cookie<'_>) -> Option<VerifiedValue> {
        let mut jar = CookieJar::new();
        jar.add_original(cookie.clone().into_owned());
        let name = cookie.name();
        if let Some(c) = jar.signed(&self.current).get(name) {
            return Some(VerifiedValue {
                value: c.value().to_owned(),
                needs_resign: false,
            });
        }
        self.fallbacks.iter().find_map(|key| {
            jar.signed(key).get(name).map(|c| VerifiedValue {
                value: c.value().to_owned(),
                needs_resign: true,
            })
        })
    }
}

/// 32 fresh random bytes from the OS CSPRNG, for per-browser secrets such as the CSRF secret.
pub fn random_secret() -> [u8; 32] {
    crate::hasher::random_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(current: &str, fallbacks: &[&str]) -> KeyRing {
        KeyRing::new(
            SecretString::new(current),
            fallbacks.iter().map(|f| SecretString::new(*f)).collect(),
        )
        .unwrap()
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            KeyRing::new(SecretString::new("x".repeat(31)), vec![]).unwrap_err(),
            KeyTooShort(31)
        );
        // Bytes, not characters: 11 three-byte characters are 33 bytes.
        assert!(KeyRing::new(SecretString::new("€".repeat(11)), vec![]).is_ok());
    }

    #[test]
    fn sign_verify_tamper_and_rotate() {
        let signer = ring(A, &[]).cookie_signer(KeyPurpose::SessionCookie);
        let signed = signer.sign(Cookie::new("s", "hello"));
        assert_ne!(signed.value(), "hello");
        assert_eq!(
            signer.verify(&signed),
            Some(VerifiedValue {
                value: "hello".into(),
                needs_resign: false
            })
        );
        let mut bytes = signed.value().as_bytes().to_vec();
        for i in 0..bytes.len() {
            let original = bytes[i];
            bytes[i] = if original == b'A' { b'B' } else { b'A' };
            let tampered = Cookie::new("s", String::from_utf8_lossy(&bytes).into_owned());
            assert_eq!(signer.verify(&tampered), None, "byte {i}");
            bytes[i] = original;
        }
        // Rotation: B is current, A a fallback.
        let rotated = ring(B, &[A]).cookie_signer(KeyPurpose::SessionCookie);
        assert_eq!(rotated.verify(&signed).map(|v| v.needs_resign), Some(true));
        // A key outside the ring.
        let stranger = ring(B, &[]).cookie_signer(KeyPurpose::SessionCookie);
        assert_eq!(stranger.verify(&signed), None);
    }

    #[test]
    fn purposes_do_not_cross() {
        let keys = ring(A, &[]);
        let flash = keys
            .cookie_signer(KeyPurpose::FlashCookie)
            .sign(Cookie::new("s", "1"));
        assert_eq!(
            keys.cookie_signer(KeyPurpose::SessionCookie).verify(&flash),
            None
        );
    }
}
