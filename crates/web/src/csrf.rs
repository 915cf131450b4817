//! Refuses cross-site state changes by their headers, before any handler runs.
//!
//! Every unsafe request (POST, PUT, PATCH, DELETE) is refused with 403 when the browser says it
//! is cross-site (`Sec-Fetch-Site: cross-site`) or sends an `Origin` that is not this site. The
//! per-form token check ([`crate::extract::CsrfForm`]) comes on top of this.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// `Origin` is this site when its host (and port) equal the request's `Host`.
pub(crate) fn origin_is_same_site(headers: &HeaderMap) -> bool {
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

/// The middleware. Origins listed in `server.cors_origins` may call the JSON API.
pub async fn same_origin_guard(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_unsafe(request.method()) {
        let headers = request.headers();
        let listed = request.uri().path().starts_with("/api/")
            && headers
                .get(header::ORIGIN)
                .is_some_and(|origin| app.0.cors_origins.contains(origin));
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
