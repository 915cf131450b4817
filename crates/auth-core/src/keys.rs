//! Keys derived from `SECRET_KEY`, and signing of bytes with them.
//!
//! Every use of the secret gets its own key, derived with HKDF-SHA256 and a purpose label, so a
//! value signed for one purpose (say a flash message) can never pass as another (a session).
//! Older keys from `SECRET_KEY_FALLBACKS` verify but never sign: a value they verify should be
//! signed again with the current key (key rotation). auth-core signs bytes; turning signed
//! values into cookies is the web layer's job.
//!
//! ```
//! use auth_core::{KeyRing, SecretString};
//! use auth_core::keys::Verified;
//!
//! let old = KeyRing::new(SecretString::new("an-old-key-of-at-least-thirty-two-bytes"), vec![]).unwrap();
//! let tag = old.signer("session-cookie").sign(&[b"wristband_session", b"token"]);
//!
//! // After rotation the old key still verifies, and asks for a new signature.
//! let rotated = KeyRing::new(
//!     SecretString::new("the-new-key-of-at-least-thirty-two-bytes"),
//!     vec![SecretString::new("an-old-key-of-at-least-thirty-two-bytes")],
//! )
//! .unwrap();
//! let signer = rotated.signer("session-cookie");
//! assert_eq!(signer.verify(&[b"wristband_session", b"token"], tag.as_bytes()), Some(Verified::Fallback));
//! // Other bytes, or another purpose's key, never verify.
//! assert_eq!(signer.verify(&[b"wristband_session", b"t0ken"], tag.as_bytes()), None);
//! assert_eq!(rotated.signer("flash-cookie").verify(&[b"wristband_session", b"token"], tag.as_bytes()), None);
//! ```

use crate::secret::SecretString;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// Fewest bytes a `SECRET_KEY` may have (the UTF-8 bytes of the value as given).
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// Salt of every derivation: fixed, so the same secret always derives the same keys.
const HKDF_SALT: &[u8] = b"wristband/key-derivation/v1";

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
        Self {
            current: Self::generate_secret(),
            fallbacks: Vec::new(),
        }
    }

    /// A fresh key in the form `wristband gen-secret` prints: 32 random bytes as 64 hex digits.
    pub fn generate_secret() -> SecretString {
        let bytes: [u8; 32] = crate::hasher::random_bytes();
        SecretString::new(hex::encode(bytes))
    }

    /// 64 bytes for the purpose `label`, derived from the current key.
    pub fn derive(&self, label: &str) -> DerivedKey {
        derive(&self.current, label)
    }

    /// The sealer for secrets of the purpose `label`: seals with the current key, opens with all
    /// of them.
    pub fn sealer(&self, label: &str) -> Sealer {
        Sealer {
            current: derive(&self.current, label),
            fallbacks: self.fallbacks.iter().map(|k| derive(k, label)).collect(),
        }
    }

    /// The signer for values of the purpose `label`: signs with the current key, verifies with
    /// all of them.
    pub fn signer(&self, label: &str) -> Signer {
        Signer {
            current: derive(&self.current, label),
            fallbacks: self.fallbacks.iter().map(|k| derive(k, label)).collect(),
        }
    }
}

fn derive(secret: &SecretString, label: &str) -> DerivedKey {
    let mut okm = [0u8; 64];
    let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret.expose().as_bytes());
    // 64 bytes is far below HKDF-SHA256's limit of 255 × 32, so expand cannot fail.
    if hkdf.expand(label.as_bytes(), &mut okm).is_err() {
        unreachable!("HKDF output length is a constant within bounds");
    }
    DerivedKey(okm)
}

/// A 64-byte key for one purpose.
#[derive(Clone)]
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

/// Which key verified a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The current key: nothing to do.
    Current,
    /// A fallback key: sign the value again with the current key.
    Fallback,
}

/// An HMAC-SHA256 tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Tag([u8; 32]);

impl Tag {
    /// The tag's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tag(..)")
    }
}

/// Signs and verifies byte strings for one purpose (HMAC-SHA256 over the derived key).
///
/// A message is a list of parts, each length-prefixed before it is authenticated, so
/// `["ab", "c"]` and `["a", "bc"]` never share a tag.
#[derive(Clone)]
pub struct Signer {
    current: DerivedKey,
    fallbacks: Vec<DerivedKey>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

fn mac(key: &DerivedKey, parts: &[&[u8]]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail; the fallback is never used.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0)
        .unwrap_or_else(|_| unreachable!("HMAC accepts 64-byte keys"));
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

impl Signer {
    /// The tag of `parts` under the current key.
    pub fn sign(&self, parts: &[&[u8]]) -> Tag {
        Tag(mac(&self.current, parts).finalize().into_bytes().into())
    }

    /// Which key, if any, made `tag` for `parts`. Compared in constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> Option<Verified> {
        let matches = |key: &DerivedKey| {
            let expected = mac(key, parts).finalize().into_bytes();
            bool::from(expected.as_slice().ct_eq(tag))
        };
        if matches(&self.current) {
            return Some(Verified::Current);
        }
        self.fallbacks
            .iter()
            .any(matches)
            .then_some(Verified::Fallback)
    }
}

/// The version byte in front of every sealed value, so the format can change later.
const SEALED_V1: u8 = 1;

/// Encrypts and authenticates secrets for one purpose (ChaCha20-Poly1305, from ring) under a
/// key derived from `SECRET_KEY`, so a database dump alone yields no usable secret. The
/// associated data binds a sealed value to where it belongs (a user id), so it cannot be moved
/// to another row. Sealed form: version byte, 12-byte random nonce, ciphertext and tag.
#[derive(Clone)]
pub struct Sealer {
    current: DerivedKey,
    fallbacks: Vec<DerivedKey>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

fn aead_key(key: &DerivedKey) -> ring::aead::LessSafeKey {
    // The first 32 of the 64 derived bytes: exactly ChaCha20-Poly1305's key length, so this
    // cannot fail.
    let unbound = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &key.0[..32])
        .unwrap_or_else(|_| unreachable!("a 32-byte ChaCha20-Poly1305 key"));
    ring::aead::LessSafeKey::new(unbound)
}

impl Sealer {
    /// A sealer under a random key (nothing sealed with it outlives the process).
    pub fn random() -> Self {
        KeyRing::random().sealer("random")
    }

    /// `plain` sealed under the current key, bound to `aad`.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce: [u8; ring::aead::NONCE_LEN] = crate::hasher::random_bytes();
        let mut buffer = plain.to_vec();
        // Sealing fails only for inputs far beyond any secret's size (about 256 GiB).
        if aead_key(&self.current)
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(aad),
                &mut buffer,
            )
            .is_err()
        {
            unreachable!("ChaCha20-Poly1305 seals any secret-sized input");
        }
        let mut sealed = Vec::with_capacity(1 + nonce.len() + buffer.len());
        sealed.push(SEALED_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&buffer);
        sealed
    }

    /// The plain bytes of `sealed`, if a key of the ring sealed it for `aad`, and which key
    /// did (a fallback's value should be sealed again).
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<(Vec<u8>, Verified)> {
        let (&version, rest) = sealed.split_first()?;
        if version != SEALED_V1 || rest.len() < ring::aead::NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(ring::aead::NONCE_LEN);
        let try_key = |key: &DerivedKey| {
            let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut buffer = ciphertext.to_vec();
            let plain = aead_key(key)
                .open_in_place(nonce, ring::aead::Aad::from(aad), &mut buffer)
                .ok()?;
            Some(plain.to_vec())
        };
        if let Some(plain) = try_key(&self.current) {
            return Some((plain, Verified::Current));
        }
        self.fallbacks
            .iter()
            .find_map(try_key)
            .map(|plain| (plain, Verified::Fallback))
    }
}

/// 32 fresh random bytes from the OS CSPRNG, for per-browser secrets such as the CSRF secret.
pub fn random_secret() -> [u8; 32] {
    crate::hasher::random_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_ring_and_their_aad() {
        let old = ring("an-old-key-of-at-least-thirty-two-bytes", &[]);
        let sealed = old.sealer("totp-secret").seal(b"secret", b"user:1");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            old.sealer("totp-secret").open(&sealed, b"user:1"),
            Some((b"secret".to_vec(), Verified::Current))
        );
        assert_eq!(old.sealer("totp-secret").open(&sealed, b"user:2"), None);
        assert_eq!(old.sealer("other").open(&sealed, b"user:1"), None);
        let rotated = ring(
            "the-new-key-of-at-least-thirty-two-bytes",
            &["an-old-key-of-at-least-thirty-two-bytes"],
        );
        assert_eq!(
            rotated.sealer("totp-secret").open(&sealed, b"user:1"),
            Some((b"secret".to_vec(), Verified::Fallback))
        );
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(old.sealer("totp-secret").open(&tampered, b"user:1"), None);
        assert_eq!(old.sealer("totp-secret").open(&[], b"user:1"), None);
        assert_eq!(old.sealer("totp-secret").open(&[1, 2, 3], b"user:1"), None);
    }

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
        let signer = ring(A, &[]).signer("session-cookie");
        let tag = signer.sign(&[b"name", b"hello"]);
        assert_eq!(
            signer.verify(&[b"name", b"hello"], tag.as_bytes()),
            Some(Verified::Current)
        );
        let mut bytes = tag.as_bytes().to_vec();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(
                signer.verify(&[b"name", b"hello"], &bytes),
                None,
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert_eq!(signer.verify(&[b"name", b"hellO"], tag.as_bytes()), None);
        assert_eq!(signer.verify(&[b"nam", b"ehello"], tag.as_bytes()), None);
        assert_eq!(signer.verify(&[b"name", b"hello"], &bytes[..31]), None);
        // Rotation: B is current, A a fallback.
        let rotated = ring(B, &[A]).signer("session-cookie");
        assert_eq!(
            rotated.verify(&[b"name", b"hello"], tag.as_bytes()),
            Some(Verified::Fallback)
        );
        // A key outside the ring.
        let stranger = ring(B, &[]).signer("session-cookie");
        assert_eq!(stranger.verify(&[b"name", b"hello"], tag.as_bytes()), None);
    }

    #[test]
    fn purposes_do_not_cross() {
        let keys = ring(A, &[]);
        let tag = keys.signer("flash-cookie").sign(&[b"1"]);
        assert_eq!(
            keys.signer("session-cookie")
                .verify(&[b"1"], tag.as_bytes()),
            None
        );
        assert_ne!(keys.derive("a").0, keys.derive("b").0);
    }
}
