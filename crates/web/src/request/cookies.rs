//! Wristband's cookies: their names and attributes, reading them from a request, and signing
//! their values (auth-core signs the bytes; this module makes them cookies).
//!
//! A signed value is `VALUE.TAG`, TAG the base64url HMAC (auth-core's [`Signer`], one key per
//! cookie) over the cookie's name and VALUE, so a value cannot move to another cookie. VALUE is
//! always base64url, so it never contains the `.` separator.

use auth_core::keys::Verified;
use auth_core::{KeyRing, Signer};
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use std::time::Duration;

/// The cookies Wristband sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieKind {
    /// The session: a token (database store) or a payload (cookie store).
    Session,
    /// The CSRF secret.
    Csrf,
    /// One-time messages for the next page.
    Flash,
    /// The users this browser has logged in as (OWASP "device cookies").
    Device,
    /// A login whose password was right, waiting for its second factor (not a session).
    PendingLogin,
}

impl CookieKind {
    fn key_label(self) -> &'static str {
        match self {
            Self::Session => "session-cookie",
            Self::Csrf => "csrf-cookie",
            Self::Flash => "flash-cookie",
            Self::Device => "device-cookie",
            Self::PendingLogin => "pending-login-cookie",
        }
    }
}

/// A cookie value whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifiedValue {
    /// The value as it was signed.
    pub value: String,
    /// Signed with a fallback key: sign it again with the current key.
    pub needs_resign: bool,
}

struct Kind {
    name: String,
    signer: Signer,
}

/// Names, attributes and signing keys of every cookie Wristband sets.
pub(crate) struct CookieCodec {
    session: Kind,
    csrf: Kind,
    flash: Kind,
    device: Kind,
    pending_login: Kind,
    secure: bool,
}

impl CookieCodec {
    /// The codec for `keys`; `session_name` gets the `__Host-` prefix when `secure`, as do
    /// the others.
    pub fn new(keys: &KeyRing, session_name: &str, secure: bool) -> Self {
        let kind = |kind: CookieKind, name: &str| Kind {
            name: if secure {
                format!("__Host-{name}")
            } else {
                name.to_owned()
            },
            signer: keys.signer(kind.key_label()),
        };
        Self {
            session: kind(CookieKind::Session, session_name),
            csrf: kind(CookieKind::Csrf, "wristband_csrf"),
            flash: kind(CookieKind::Flash, "wristband_flash"),
            device: kind(CookieKind::Device, "wristband_device"),
            pending_login: kind(CookieKind::PendingLogin, "wristband_pending_login"),
            secure,
        }
    }

    fn kind(&self, kind: CookieKind) -> &Kind {
        match kind {
            CookieKind::Session => &self.session,
            CookieKind::Csrf => &self.csrf,
            CookieKind::Flash => &self.flash,
            CookieKind::Device => &self.device,
            CookieKind::PendingLogin => &self.pending_login,
        }
    }

    /// The name of the `kind` cookie, `__Host-` prefix included when secure (for the API's
    /// OpenAPI document).
    pub fn name(&self, kind: CookieKind) -> &str {
        &self.kind(kind).name
    }

    /// Whether cookies are `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The verified value of the `kind` cookie among `cookies`; `None` when it is missing,
    /// tampered with, or signed by a key outside the ring.
    pub fn read(&self, kind: CookieKind, cookies: &RequestCookies) -> Option<VerifiedValue> {
        let kind = self.kind(kind);
        let signed = cookies.get(&kind.name)?;
        let (value, tag) = signed.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let verified = kind
            .signer
            .verify(&[kind.name.as_bytes(), value.as_bytes()], &tag)?;
        Some(VerifiedValue {
            value: value.to_owned(),
            needs_resign: verified == Verified::Fallback,
        })
    }

    /// Whether the request carries a `kind` cookie at all, valid or not.
    pub fn present(&self, kind: CookieKind, cookies: &RequestCookies) -> bool {
        cookies.get(&self.kind(kind).name).is_some()
    }

    /// A `Set-Cookie` for `kind` with the signed `value` (base64url), persistent for `max_age`
    /// when given, else a browser-session cookie.
    pub fn set(&self, kind: CookieKind, value: &str, max_age: Option<Duration>) -> Cookie<'static> {
        let kind = self.kind(kind);
        let tag = kind.signer.sign(&[kind.name.as_bytes(), value.as_bytes()]);
        let signed = format!("{value}.{}", URL_SAFE_NO_PAD.encode(tag.as_bytes()));
        let mut cookie = self.base(&kind.name, signed);
        if let Some(max_age) = max_age {
            cookie.set_max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ));
        }
        cookie
    }

    /// A `Set-Cookie` that deletes `kind`.
    pub fn remove(&self, kind: CookieKind) -> Cookie<'static> {
        let mut cookie = self.base(&self.kind(kind).name, String::new());
        cookie.make_removal();
        cookie
    }

    fn base(&self, name: &str, value: String) -> Cookie<'static> {
        Cookie::build((name.to_owned(), value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .build()
    }
}

/// The request's `Cookie` headers, read in place: each lookup splits them again (a few
/// hundred bytes) rather than copying every cookie into its own allocation up front, since a
/// request usually needs one or two of them.
#[derive(Debug, Default)]
pub(crate) struct RequestCookies(Vec<axum::http::HeaderValue>);

impl RequestCookies {
    /// Every `Cookie` header, in order (cheap: header values are shared buffers).
    pub fn parse(headers: &HeaderMap) -> Self {
        Self(headers.get_all(header::COOKIE).iter().cloned().collect())
    }

    /// The first cookie called `name`; unparsable pairs are skipped.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| Cookie::split_parse(v).filter_map(Result::ok))
            .find(|c| c.name_raw() == Some(name))
            .and_then(|c| c.value_raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn codec(key: &str, fallbacks: &[&str]) -> CookieCodec {
        let keys =
            KeyRing::new(key.into(), fallbacks.iter().map(|k| (*k).into()).collect()).unwrap();
        CookieCodec::new(&keys, "wristband_session", false)
    }

    fn request(cookie: &Cookie<'_>) -> RequestCookies {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{}={}", cookie.name(), cookie.value())).unwrap(),
        );
        RequestCookies::parse(&headers)
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn signed_values_verify_rotate_and_stay_in_their_cookie() {
        let a = codec(A, &[]);
        let set = a.set(CookieKind::Session, "dG9rZW4", None);
        let read = a.read(CookieKind::Session, &request(&set)).unwrap();
        assert_eq!((read.value.as_str(), read.needs_resign), ("dG9rZW4", false));
        // Every changed byte is refused.
        let value = set.value().to_owned();
        for i in 0..value.len() {
            let mut bytes = value.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = Cookie::new("wristband_session", String::from_utf8(bytes).unwrap());
            assert_eq!(
                a.read(CookieKind::Session, &request(&tampered)),
                None,
                "byte {i}"
            );
        }
        // A value signed for the flash cookie is no session.
        let flash = a.set(CookieKind::Flash, "dG9rZW4", None);
        let moved = Cookie::new("wristband_session", flash.value().to_owned());
        assert_eq!(a.read(CookieKind::Session, &request(&moved)), None);
        // After rotation the old key verifies and asks for a new signature.
        let rotated = codec(B, &[A]);
        assert!(
            rotated
                .read(CookieKind::Session, &request(&set))
                .unwrap()
                .needs_resign
        );
        assert_eq!(
            codec(B, &[]).read(CookieKind::Session, &request(&set)),
            None
        );
    }
}
