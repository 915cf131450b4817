//! RFC 9457 problem documents: `application/problem+json` with `type`, `title`, `status`,
//! `detail`, and `errors` (field → message) on validation failures.

use crate::error::AppError;
use auth_core::service::FieldErrors;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every problem title the API answers with; each one's `type` is [`problem_type`] of it. The
/// OpenAPI document lists their types, a debug build refuses a title missing here, and the
/// tests check that every [`AppError`] is listed.
pub(crate) const TITLES: &[&str] = &[
    "Bad request",
    "Conflict",
    "Forbidden",
    "Invalid link",
    "Not found",
    "Passkey refused",
    "Reauthentication required",
    "Request timeout",
    "Request too large",
    "Service unavailable",
    "Something went wrong",
    "Too busy",
    "Too many attempts",
    "Unauthorized",
    "Unsupported media type",
    "Validation failed",
];

/// An RFC 9457 problem document: the body of every error of the API.
//
// Whichever layer answered: a handler's [`Problem`], or an [`AppError`] rendered by the
// error-page layer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub(crate) struct ProblemDocument {
    /// What kind of problem: `/problems/<title in kebab case>`, a URI reference relative to
    /// the site (the list is in the OpenAPI document).
    #[serde(rename = "type")]
    #[schema(format = "uri-reference")]
    pub kind: String,
    /// A short, human-readable summary of the kind of problem; the same for every problem of
    /// one `type`.
    pub title: String,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong this time, for a person.
    pub detail: String,
    /// On validation failures: field name → one message.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = std::collections::BTreeMap<String, String>, required = false)]
    pub errors: Option<FieldErrors>,
}

impl ProblemDocument {
    /// The document for `status` with `title` and `detail`.
    pub fn new(status: StatusCode, title: &str, detail: &str, errors: Option<FieldErrors>) -> Self {
        Self {
            kind: problem_type(title),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.to_owned(),
            errors,
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug)]
pub(crate) struct Problem {
    status: StatusCode,
    title: &'static str,
    detail: String,
    errors: Option<FieldErrors>,
    retry_after: Option<u64>,
    close_connection: bool,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title,
            detail: detail.into(),
            errors: None,
            retry_after: None,
            close_connection: false,
        }
    }

    /// 422 with `errors`.
    pub fn invalid(errors: FieldErrors) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed",
            "Some fields are invalid; see errors.",
        )
        .with_errors(errors)
    }

    /// 401 with `detail`.
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
    }

    /// 404 with `detail`.
    pub fn not_found(detail: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    /// The same problem with field errors.
    pub fn with_errors(mut self, errors: FieldErrors) -> Self {
        self.errors = Some(errors);
        self
    }
}

/// The problem `type` for a title: `/problems/<title in kebab case>`.
pub(crate) fn problem_type(title: &str) -> String {
    debug_assert!(
        TITLES.contains(&title),
        "problem title {title:?} is missing from api::problem::TITLES (and so from the OpenAPI document)"
    );
    format!("/problems/{}", title.to_ascii_lowercase().replace(' ', "-"))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemDocument::new(self.status, self.title, &self.detail, self.errors);
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.close_connection {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        let (status, page) = error.parts();
        Self {
            retry_after: error.retry_after(),
            close_connection: matches!(error, AppError::RequestTimeout),
            ..Self::new(status, page.title, page.detail)
        }
    }
}

impl From<auth_core::ServiceError> for Problem {
    fn from(error: auth_core::ServiceError) -> Self {
        AppError::from(error).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_error_has_a_listed_title() {
        let errors = [
            AppError::Unavailable,
            AppError::Busy,
            AppError::Throttled {
                retry_after_seconds: 1,
            },
            AppError::Forbidden("x"),
            AppError::BadRequest("x"),
            AppError::UnsupportedMediaType,
            AppError::PayloadTooLarge,
            AppError::RequestTimeout,
            AppError::NotFound,
            AppError::ReauthenticationRequired,
            AppError::Unauthorized,
            AppError::MissingLayer,
            AppError::Internal,
        ];
        for error in errors {
            let title = error.parts().1.title;
            assert!(TITLES.contains(&title), "{title:?} is not in TITLES");
        }
    }

    #[test]
    fn types_are_kebab_case_paths() {
        assert_eq!(
            problem_type("Reauthentication required"),
            "/problems/reauthentication-required"
        );
        let mut sorted = TITLES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, TITLES, "TITLES is sorted, without duplicates");
    }
}
