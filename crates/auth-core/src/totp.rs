//! Second factors that are codes: TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one
//! step of drift either way) and single-use recovery codes.
//!
//! The TOTP algorithm is a dozen lines over the `hmac` and `sha1` crates the workspace already
//! builds (the crates that package it either drag a second `hmac`/`sha1` major version or cannot
//! say which time step matched, which the replay rule needs); the tests check it against RFC
//! 6238's vectors and an independent implementation.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Seconds per TOTP step.
pub const STEP_SECONDS: u64 = 30;
/// Digits of a TOTP code.
pub const DIGITS: usize = 6;
/// Bytes of a TOTP secret (160 bits, RFC 4226 §4's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// Random bytes in a recovery code (80 bits, shown as 16 base32 characters).
const RECOVERY_CODE_BYTES: usize = 10;

/// A TOTP secret (redacted in `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl TotpSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        Self(crate::hasher::random_bytes())
    }

    /// A secret from its stored bytes; `None` unless exactly [`SECRET_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// The raw bytes, for sealing.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The base32 form an authenticator app takes (32 characters, no padding).
    pub fn base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// The `otpauth://` URI of the QR code: `issuer` and `account` name the entry in the app.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let issuer = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
        let account = utf8_percent_encode(account, NON_ALPHANUMERIC).to_string();
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            self.base32()
        )
    }

    /// The code for time step `step`.
    pub fn code_at_step(&self, step: u64) -> String {
        format!("{:06}", hotp(&self.0, step) % 1_000_000)
    }

    /// The time step that `code` matches within one step of `unix_seconds`, if any. All three
    /// candidates are computed and compared in constant time.
    pub fn matching_step(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = unix_seconds / STEP_SECONDS;
        let mut matched = None;
        for step in [now.saturating_sub(1), now, now.saturating_add(1)] {
            let expected = self.code_at_step(step);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
                matched = Some(step);
            }
        }
        matched
    }
}

/// RFC 4226's HOTP value (31 bits) for `counter`.
fn hotp(secret: &[u8], counter: u64) -> u32 {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    u32::from_be_bytes([
        digest[offset],
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]) & 0x7fff_ffff
}

/// A recovery code as shown once to the user: 16 base32 characters in groups of four.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

impl RecoveryCode {
    /// [`RECOVERY_CODES`] fresh codes.
    pub fn generate_set() -> Vec<Self> {
        (0..RECOVERY_CODES)
            .map(|_| {
                let bytes: [u8; RECOVERY_CODE_BYTES] = crate::hasher::random_bytes();
                let text = data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase();
                let groups: Vec<&str> = text
                    .as_bytes()
                    .chunks(4)
                    .filter_map(|c| std::str::from_utf8(c).ok())
                    .collect();
                Self(groups.join("-"))
            })
            .collect()
    }

    /// The code as shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store keeps: the SHA-256 of the code's normal form (80 random bits need no
    /// slow hash: nobody can try 2^80 guesses through a throttled login).
    pub fn digest(&self) -> [u8; 32] {
        recovery_code_digest(&self.0).unwrap_or_default()
    }
}

/// The digest of what a user typed as a recovery code (case, spaces and dashes ignored);
/// `None` when it cannot be one.
pub fn recovery_code_digest(typed: &str) -> Option<[u8; 32]> {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = data_encoding::BASE32_NOPAD.decode(normal.as_bytes()).ok()?;
    (bytes.len() == RECOVERY_CODE_BYTES).then(|| Sha256::digest(&bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (8 digits there; the last 6 digits are our 6-digit code).
    #[test]
    fn rfc_6238_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        for (time, eight) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let code = secret.code_at_step(time / STEP_SECONDS);
            assert_eq!(code, eight[2..], "at {time}");
            assert_eq!(
                format!("{:08}", hotp(secret.as_bytes(), time / 30) % 100_000_000),
                eight
            );
        }
    }

    #[test]
    fn codes_match_an_independent_implementation_within_one_step() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000u64;
        let independent =
            |t: u64| totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, secret.as_bytes(), t);
        assert_eq!(secret.matching_step(&independent(now), now), Some(now / 30));
        assert_eq!(
            secret.matching_step(&independent(now - 30), now),
            Some(now / 30 - 1)
        );
        assert_eq!(
            secret.matching_step(&independent(now + 30), now),
            Some(now / 30 + 1)
        );
        assert_eq!(secret.matching_step(&independent(now - 90), now), None);
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
        assert!(
            secret
                .otpauth_uri("Shop & Co", "ada")
                .starts_with("otpauth://totp/Shop%20%26%20Co:ada?secret=")
        );
        assert_eq!(secret.base32().len(), 32);
        assert!(!format!("{secret:?}").contains(&secret.base32()));
    }

    #[test]
    fn recovery_codes_are_normalised_and_never_print() {
        let codes = RecoveryCode::generate_set();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.as_str().len(), 19, "{}", code.as_str());
        let typed = format!(" {} ", code.as_str().to_uppercase().replace('-', " "));
        assert_eq!(recovery_code_digest(&typed), Some(code.digest()));
        assert_eq!(recovery_code_digest("123456"), None);
        assert!(!format!("{code:?}").contains(code.as_str()));
        let mut unique: Vec<[u8; 32]> = codes.iter().map(RecoveryCode::digest).collect();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
    }
}
