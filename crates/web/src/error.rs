//! Errors a handler can end with, and how each becomes a response.
//!
//! An [`AppError`] becomes a bare response carrying an [`ErrorPage`] extension; the
//! [`render_error_pages`](crate::error_pages::render_error_pages) middleware renders that into
//! `error.html` or a problem document, so no handler needs the templates to fail. Causes go to
//! the log, never to the client: a 503 is logged as a warning (the database is away, retry),
//! a 500 as an error with its whole cause chain (a bug to fix).

use auth_core::ServiceError;
use auth_core::service::error_chain;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Seconds a client should wait before retrying a 503.
pub(crate) const RETRY_AFTER_SECONDS: u64 = 5;

/// Why a request failed.
#[derive(Debug)]
pub(crate) enum AppError {
    /// The database cannot be reached or is locked: 503 with `Retry-After`.
    Unavailable,
    /// Every password-hashing worker is busy and the queue is full: 503 with `Retry-After`.
    Busy,
    /// Too many failed attempts: 429 with `Retry-After`.
    Throttled {
        /// Seconds until the blocking window ends.
        retry_after_seconds: u64,
    },
    /// A cross-site or token-less state change, or a denied page: 403.
    Forbidden(&'static str),
    /// The body is not what the route takes (malformed, not UTF-8): 400.
    BadRequest(&'static str),
    /// The body's media type is not the form type: 415.
    UnsupportedMediaType,
    /// The body is over `server.body_limit`: 413.
    PayloadTooLarge,
    /// The body did not arrive within `server.body_timeout`: 408, and the connection closes.
    RequestTimeout,
    /// No such page: 404.
    NotFound,
    /// The action needs a recent login: 403 with a `…/reauthentication-required` problem.
    ReauthenticationRequired,
    /// Not logged in where a page needs it and no login page is mounted to send them to: 401.
    Unauthorized,
    /// A route behind Wristband's guards or extractors is not behind Wristband's layers: 500.
    MissingLayer,
    /// A bug: 500; the cause was logged when this was made.
    Internal,
}

/// What the error page shows; attached to error responses as an extension.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    /// Heading.
    pub title: &'static str,
    /// One sentence for the reader.
    pub detail: &'static str,
}

impl AppError {
    /// A bug: logs `what` with `cause`'s whole chain and becomes a 500.
    pub fn internal(what: &'static str, cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(cause), "{what}");
        Self::Internal
    }
}

impl From<ServiceError> for AppError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Throttled {
                retry_after_seconds,
            } => Self::Throttled {
                retry_after_seconds,
            },
            ServiceError::Busy => Self::Busy,
            ServiceError::Unavailable(_) => {
                tracing::warn!(error = %error_chain(&error), "database unavailable");
                Self::Unavailable
            }
            ServiceError::PasskeysOff => Self::NotFound,
            ServiceError::Store(_)
            | ServiceError::Hashing(_)
            | ServiceError::Session(_)
            | ServiceError::Serialisation(_)
            | ServiceError::Webauthn(_) => Self::internal("request failed", &error),
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
                    "There have been too many failed attempts. Please wait before trying again.",
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
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                page(
                    "Request timeout",
                    "The request body did not arrive in time.",
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
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                page("Unauthorized", "Log in first."),
            ),
            Self::MissingLayer => {
                tracing::error!(
                    "a route uses Wristband's extractors or guards but is not behind Wristband's \
                     layers: pass its router to `Wristband::wrap`"
                );
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    page("Something went wrong", "The error has been logged."),
                )
            }
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                page("Something went wrong", "The error has been logged."),
            ),
        }
    }

    /// `Retry-After` seconds, for the answers that have one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Throttled {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            Self::Unavailable | Self::Busy => Some(RETRY_AFTER_SECONDS),
            _ => None,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, page) = self.parts();
        let mut response = status.into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, Self::RequestTimeout) {
            // The rest of a late body may still come: the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response.extensions_mut().insert(page);
        response
    }
}
