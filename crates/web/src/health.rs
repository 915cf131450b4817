//! `GET /healthz`: 200 `{"status":"ok"}` when the database answers, else 503.

use crate::request::RequestContext;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// How long the check waits for the database before answering 503.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// The handler.
pub(crate) async fn health(context: RequestContext) -> Response {
    let answer = tokio::time::timeout(HEALTH_TIMEOUT, context.state().service.store().ping()).await;
    match answer {
        Ok(Ok(())) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Ok(Err(error)) => {
            tracing::warn!(error = %auth_core::service::error_chain(&error), "health check: database unavailable");
            unavailable()
        }
        Err(_) => {
            tracing::warn!("health check: database timed out");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        axum::Json(serde_json::json!({"status": "unavailable"})),
    )
        .into_response()
}
