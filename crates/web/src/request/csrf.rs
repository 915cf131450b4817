//! Cross-site request forgery: the per-browser CSRF secret and the form tokens made from it,
//! and the refusal of cross-site state changes by their headers.
//!
//! Every unsafe request (POST, PUT, PATCH, DELETE) is refused with 403 when the browser says it
//! is cross-site (`Sec-Fetch-Site: cross-site`) or sends an `Origin` that is not this site
//! (API routes also accept the origins of `server.cors_origins`). HTML forms carry a token on
//! top of that ([`crate::extract::CsrfForm`]): the HMAC of the browser's CSRF secret and of
//! the session it is for, so a token (and cookie) obtained anonymously, or in another session,
//! is refused with a victim's session cookie.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A browser's CSRF secret: 32 random bytes, kept in its signed cookie.
pub(crate) type CsrfSecret = [u8; 32];

/// The secret in a (verified) cookie value.
pub(crate) fn decode_secret(value: &str) -> Option<CsrfSecret> {
    URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|bytes| <CsrfSecret>::try_from(bytes).ok())
}

/// The cookie value for `secret`.
pub(crate) fn encode_secret(secret: &CsrfSecret) -> String {
    URL_SAFE_NO_PAD.encode(secret)
}

/// The form token of `secret` for the session `binding` (its public id; empty when anonymous).
pub(crate) fn token_for(state: &AppState, secret: &CsrfSecret, binding: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        state
            .csrf_tokens
            .sign(&[secret, binding.as_bytes()])
            .as_bytes(),
    )
}

/// True if `token` is the form token of `secret` for the session `binding`.
pub(crate) fn token_matches(
    state: &AppState,
    secret: &CsrfSecret,
    binding: &str,
    token: &str,
) -> bool {
    URL_SAFE_NO_PAD.decode(token).ok().is_some_and(|tag| {
        state
            .csrf_tokens
            .verify(&[secret, binding.as_bytes()], &tag)
            .is_some()
    })
}

/// `Origin` is this site when its host (and port) equal the request's `Host`.
fn origin_is_same_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // No Origin: older browsers and non-browser clients; the CSRF token still applies.
        return true;
    };
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    let Some((_, origin_host)) = origin.split_once("://") else {
        // Includes `Origin: null` (sandboxed frames, some redirects).
        return false;
    };
    origin_host.eq_ignore_ascii_case(host)
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The middleware: refuses cross-site unsafe requests before any handler runs.
pub(crate) async fn same_origin_guard(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // A token request to the API carries no cookie that could be forged with: see `bearer`.
    let token_request =
        state.is_api_path(request.uri().path()) && super::bearer::present(request.headers());
    if is_unsafe(request.method()) && !token_request {
        let headers = request.headers();
        let listed = state.is_api_path(request.uri().path())
            && headers
                .get(header::ORIGIN)
                .is_some_and(|origin| state.cors_origins.contains(origin));
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        if !listed && (cross_site || !origin_is_same_site(headers)) {
            tracing::warn!(method = %request.method(), path = request.uri().path(), "cross-site request refused");
            return AppError::Forbidden("Cross-site requests are not accepted.").into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn origins() {
        assert!(origin_is_same_site(&headers(None, "a.example")));
        assert!(origin_is_same_site(&headers(
            Some("http://a.example:3000"),
            "a.example:3000"
        )));
        assert!(!origin_is_same_site(&headers(
            Some("http://evil.example"),
            "a.example"
        )));
        assert!(!origin_is_same_site(&headers(Some("null"), "a.example")));
        assert!(!origin_is_same_site(&headers(
            Some("http://a.example.evil"),
            "a.example"
        )));
    }
}
