//! Errors a handler can end with, and how each becomes a response.
//!
//! An [`AppError`] becomes a bare response carrying an [`ErrorPage`] extension; the
//! [`render_error_pages`] middleware renders that into `error.html`, so every error page shares
//! `base.html` and no handler needs the templates to fail. Details of database and internal
//! errors go to the log, never to the client.

use crate::state::AppState;
use auth_core::{HashError, StoreError};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECONDS: &str = "5";

/// Why a request failed.
#[derive(Debug)]
pub enum AppError {
    /// The database cannot be reached or is locked: 503 with `Retry-After`.
    Unavailable,
    /// Every password-hashing worker is busy and the queue is full: 503 with `Retry-After`.
    Busy,
    /// Too many failed logins for this username or from this address (login throttling):
    /// 429 with `Retry-After`.
    Throttled {
        /// Seconds until the blocking window ends.
        retry_after_seconds: u64,
    },
    /// A cross-site or token-less state change: 403.
    Forbidden(&'static str),
    /// The body is not what the route takes (malformed, not UTF-8): 400.
    BadRequest(&'static str),
    /// The body's media type is not the form type: 415.
    UnsupportedMediaType,
    /// The body is over `server.body_limit`: 413.
    PayloadTooLarge,
    /// No such page: 404.
    NotFound,
    /// The action needs a recent login: 403 with a `…/reauthentication-required` problem.
    ReauthenticationRequired,
    /// A bug: 500, with the detail logged.
    Internal(&'static str),
}

/// What the error page shows; attached to error responses as an extension.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    /// Heading.
    pub title: &'static str,
    /// One sentence for the reader.
    pub detail: &'static str,
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            // Handlers that can meet `Taken` match it before `?`; here it is a bug.
            StoreError::Taken => {
                tracing::error!("unexpected 'taken' from the store");
                Self::Internal("unexpected unique violation")
            }
            // Any other database failure is treated as an outage: 503 and retry, never 500,
            // and never a lost session.
            StoreError::Unavailable(detail) | StoreError::Database(detail) => {
                tracing::error!(error = %detail, "database unavailable");
                Self::Unavailable
            }
        }
    }
}

impl From<HashError> for AppError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Self::Busy,
            other => {
                tracing::error!(error = %other, "password hashing failed");
                Self::Internal("password hashing failed")
            }
        }
    }
}

impl AppError {
    /// The status code and what the page says.
    pub fn parts(&self) -> (StatusCode, ErrorPage) {
        let page = |title, detail| ErrorPage { title, detail };
        match self {
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    "Service unavailable",
                    "The database is not answering right now. Please try again in a moment.",
                ),
            ),
            Self::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    "Too busy",
                    "Too many sign-ins are being processed right now. Please try again in a moment.",
                ),
            ),
            Self::Throttled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                page(
                    "Too many attempts",
                    "There have been too many failed sign-in attempts. Please wait before trying again.",
                ),
            ),
            Self::Forbidden(detail) => (StatusCode::FORBIDDEN, page("Forbidden", detail)),
            Self::BadRequest(detail) => (StatusCode::BAD_REQUEST, page("Bad request", detail)),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                page(
                    "Unsupported media type",
                    "Send the form as application/x-www-form-urlencoded.",
                ),
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                page(
                    "Request too large",
                    "The request body is larger than this server accepts.",
                ),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                page("Not found", "There is no page at this address."),
            ),
            Self::ReauthenticationRequired => (
                StatusCode::FORBIDDEN,
                page(
                    "Reauthentication required",
                    "This action needs a recent login: confirm your password first.",
                ),
            ),
            Self::Internal(what) => {
                tracing::error!(error = what, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    page("Something went wrong", "The error has been logged."),
                )
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, page) = self.parts();
        let mut response = status.into_response();
        if let Self::Throttled {
            retry_after_seconds,
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response.extensions_mut().insert(page);
        response
    }
}

/// True when the client asks for JSON rather than HTML (an API client or a script).
fn prefers_json(headers: &axum::http::HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json = accept.find("json");
    let html = accept.find("text/html");
    json.is_some_and(|j| html.is_none_or(|h| j < h))
}

/// An RFC 9457 problem document for `status`.
fn problem(status: StatusCode, page: &ErrorPage) -> serde_json::Value {
    serde_json::json!({
        "type": crate::api::problem_type(page.title),
        "title": page.title,
        "status": status.as_u16(),
        "detail": page.detail,
    })
}

/// Renders responses that carry an [`ErrorPage`]: `error.html` for browsers, an RFC 9457
/// problem document for clients that prefer JSON.
pub async fn render_error_pages(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // The API always answers with problem documents; browsers get pages.
    let wants_json = prefers_json(request.headers()) || request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response.extensions().get::<ErrorPage>().is_none()
    {
        // The body-limit layer answers before any handler, with a bare response.
        response = AppError::PayloadTooLarge.into_response();
    }
    if wants_json
        && response
            .extensions_mut()
            .remove::<crate::guard::ReauthenticationRedirect>()
            .is_some()
    {
        // A JSON client cannot fill in the password form it would be redirected to.
        response = AppError::ReauthenticationRequired.into_response();
    }
    let Some(page) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    let status = response.status();
    if wants_json {
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let body = axum::Json(problem(status, &page))
            .into_response()
            .into_body();
        return Response::from_parts(parts, body);
    }
    let context = minijinja::context! {
        status => status.as_u16(),
        title => page.title,
        detail => page.detail,
        current_user => (),
        flashes => Vec::<()>::new(),
        csrf_token => "",
    };
    match app.0.templates.render("error.html", context) {
        Ok(html) => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Response::from_parts(parts, Html(html).into_response().into_body())
        }
        Err(error) => {
            tracing::error!(%error, "cannot render the error page");
            response
        }
    }
}
