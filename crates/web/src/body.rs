//! Reading a request body whole, within `server.body_timeout` and `server.body_limit`: one
//! place for the forms of the pages and the JSON of the API.
//!
//! The router's body layer also cuts a body off when no data arrives for the timeout; here the
//! whole body must have arrived by the deadline, so a client trickling a byte at a time cannot
//! hold a request open either.

use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use std::time::Duration;

/// The body of `request`, read within `deadline`: 413 over the body limit, 408 (and the
/// connection closed) when it does not arrive in time, 400 when it cannot be read.
pub(crate) async fn read_whole<S: Send + Sync>(
    request: Request,
    state: &S,
    deadline: Duration,
) -> Result<Bytes, AppError> {
    match tokio::time::timeout(deadline, Bytes::from_request(request, state)).await {
        Err(_) => Err(AppError::RequestTimeout),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(AppError::PayloadTooLarge)
        }
        Ok(Err(rejection)) if timed_out(&rejection) => Err(AppError::RequestTimeout),
        Ok(Err(_)) => Err(AppError::BadRequest("The request body could not be read.")),
    }
}

/// Whether the router's body layer gave up waiting for data.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        current = error.source();
    }
    false
}
