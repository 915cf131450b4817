//! Extractors: the logged-in user (whose rejection is the redirect to the login page), and
//! CSRF-checked forms.

use crate::context::RequestContext;
use crate::error::AppError;
use crate::sessions::ActiveSession;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::de::DeserializeOwned;

/// Characters escaped in a `next` query value; `/` stays readable (`?next=/dashboard`).
const NEXT_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The logged-in user and their session. As an extractor it requires a login: anonymous
/// requests are redirected (303) to `/login?next=<this path>`. Use `Option<CurrentUser>` on
/// pages that only look.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub ActiveSession);

/// `next` encoded for a query string (`/` kept readable).
pub fn next_target(next: &str) -> String {
    utf8_percent_encode(next, NEXT_VALUE).to_string()
}

/// The redirect to the login page, remembering where the visitor was going.
#[derive(Debug)]
pub struct LoginRedirect {
    next: String,
}

impl LoginRedirect {
    /// A redirect that returns to `next` after login.
    pub fn new(next: &str) -> Self {
        Self {
            next: next.to_owned(),
        }
    }
}

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        Redirect::to(&format!("/login?next={}", next_target(&self.next))).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match context.session() {
            Some(session) => Ok(Self(session.clone())),
            None => {
                // Only GET targets are worth returning to; a POST cannot be replayed by a link.
                let next = if parts.method == axum::http::Method::GET {
                    parts
                        .uri
                        .path_and_query()
                        .map_or("/", |pq| pq.as_str())
                        .to_owned()
                } else {
                    "/".to_owned()
                };
                Err(LoginRedirect { next }.into_response())
            }
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        Ok(context.session().cloned().map(Self))
    }
}

/// A form that carries a CSRF token.
pub trait HasCsrfToken {
    /// The submitted `csrf_token` field.
    fn csrf_token(&self) -> Option<&str>;
}

/// Implements [`HasCsrfToken`] for form structs with a `csrf_token: Option<String>` field.
#[macro_export]
macro_rules! csrf_token_field {
    ($($form:ty),+ $(,)?) => {
        $(
            impl $crate::extract::HasCsrfToken for $form {
                fn csrf_token(&self) -> Option<&str> {
                    self.csrf_token.as_deref()
                }
            }
        )+
    };
}

/// A URL-encoded form body, parsed strictly, whose `csrf_token` matched the browser's CSRF
/// cookie. Rejections: 415 for another media type, 413 over the body limit, 400 for bytes that
/// are not UTF-8 or not a form, 403 for a missing or wrong token. Nothing has happened yet
/// when any of them is returned.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Parses a URL-encoded body, refusing percent-escapes that decode to invalid UTF-8 (the
/// lenient decoder would silently turn them into U+FFFD and change a password).
pub fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let plus_as_space: Vec<u8> = body
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    // Separators are ASCII, so the whole body decodes to UTF-8 exactly when every field does.
    if percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8()
        .is_err()
    {
        return Err(AppError::BadRequest("The form is not valid UTF-8."));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::BadRequest("The form could not be read."))
}

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + HasCsrfToken,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_form(request.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let context = request
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .ok_or(AppError::Internal("the browser context layer is missing"))?;
        let body =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
                    _ => AppError::BadRequest("The request body could not be read."),
                })?;
        let form: T = parse_form(&body)?;
        match form.csrf_token() {
            Some(token) if context.verify_csrf(token) => Ok(Self(form)),
            _ => Err(AppError::Forbidden(
                "The form has expired or did not come from this site. Go back, reload the page and try again.",
            )),
        }
    }
}
