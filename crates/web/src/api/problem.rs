//! RFC 9457 problem documents: `application/problem+json` with `type`, `title`, `status`,
//! `detail`, and `errors` (field → message) on validation failures.

use crate::error::AppError;
use auth_core::service::FieldErrors;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
    format!("/problems/{}", title.to_ascii_lowercase().replace(' ', "-"))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "type": problem_type(self.title),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(errors) = self.errors {
            body["errors"] = serde_json::json!(errors);
        }
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
