//! What the API takes: JSON bodies ([`ApiJson`], and [`require_json_bodies`] for every unsafe
//! request), and the logged-in user ([`ApiUser`], 401 when anonymous).

use super::problem::Problem;
use crate::request::RequestContext;
use auth_core::service::{ActiveSession, FieldErrors};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// The body deadline when the request is not behind Wristband's layers (never in practice).
const DEFAULT_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// True when a request's media type is JSON (`application/json` or `…+json`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

fn unsupported_media_type() -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Unsupported media type",
        "Send the body as application/json.",
    )
}

/// A JSON body: 415 for another media type, 413 over the body limit, 400 for malformed JSON
/// (invalid UTF-8 included), 422 for JSON of the wrong shape.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(unsupported_media_type());
        }
        let deadline = request
            .extensions()
            .get::<RequestContext>()
            .map_or(DEFAULT_BODY_DEADLINE, |context| {
                context.state().body_timeout
            });
        let body = crate::body::read_whole(request, state, deadline).await?;
        serde_json::from_slice(&body).map(Self).map_err(|error| {
            use serde_json::error::Category;
            match error.classify() {
                Category::Data => Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Validation failed",
                    "The JSON does not have the expected fields and types.",
                ),
                Category::Syntax | Category::Eof | Category::Io => Problem::new(
                    StatusCode::BAD_REQUEST,
                    "Bad request",
                    "The body is not valid JSON.",
                ),
            }
        })
    }
}

/// The logged-in user and the request's context; anonymous requests get 401.
#[derive(Debug, Clone)]
pub(crate) struct ApiUser(pub ActiveSession, pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for ApiUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        match context.session().cloned() {
            Some(session) => Ok(Self(session, context)),
            None => Err(Problem::unauthorized("Log in first.")),
        }
    }
}

/// A required text field: its value, or `""` with the field reported in `errors`.
pub(crate) fn required(
    errors: &mut FieldErrors,
    field: &'static str,
    value: Option<String>,
) -> String {
    value.unwrap_or_else(|| {
        errors.insert(field, "This field is required.".into());
        String::new()
    })
}

/// Unsafe API requests that carry a body must say it is JSON (contract §5), whatever the route
/// does with the body: 415 otherwise.
pub(crate) async fn require_json_bodies(request: Request, next: Next) -> Response {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let has_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > 0)
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    if unsafe_method && has_body && !is_json(request.headers()) {
        return unsupported_media_type().into_response();
    }
    next.run(request).await
}
