//! `Authorization: Bearer TOKEN` on the JSON API (SPEC §11): personal API tokens.
//!
//! A request to an API route that carries a bearer credential is that token's, and only its:
//! its cookies are not read at all, so a token request is never a cookie session and never a
//! cross-site forgery (a browser cannot add the header to a cross-site request without a CORS
//! preflight), which is why [`csrf::same_origin_guard`](super::csrf::same_origin_guard) lets it
//! through. No cookie is ever set in answer to one. HTML routes ignore the header.
//!
//! The header is parsed here rather than with a typed-header crate: RFC 9110's credentials
//! are `auth-scheme 1*SP token68`, and `headers`/`axum-extra` would add two crates for that.

use crate::api::problem::Problem;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The bearer credential of `headers`, if their `Authorization` uses the `Bearer` scheme (in
/// any case); other schemes (`Basic` …) are not Wristband's and are left alone.
pub(crate) fn credential(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_matches(' '))
}

/// Whether `headers` carry a bearer credential at all.
pub(crate) fn present(headers: &HeaderMap) -> bool {
    credential(headers).is_some()
}

/// 401 for a bearer credential that is no live token (RFC 6750 §3.1 `invalid_token`).
pub(crate) fn invalid_token() -> Response {
    let mut response =
        Problem::unauthorized("The API token is unknown, expired or revoked.").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_bearer_scheme_in_any_case_gives_its_credential() {
        assert_eq!(credential(&with("Bearer wbt_abc")), Some("wbt_abc"));
        assert_eq!(credential(&with("bearer  wbt_abc ")), Some("wbt_abc"));
        assert_eq!(credential(&with("BEARER")), Some(""));
        assert_eq!(credential(&with("Basic dXNlcjpwYXNz")), None);
        assert_eq!(credential(&with("Bearerwbt_abc")), None);
        assert_eq!(credential(&HeaderMap::new()), None);
    }
}
