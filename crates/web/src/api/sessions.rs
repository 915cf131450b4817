//! `/sessions` of the API: list, end one, end every other.

use super::json::ApiUser;
use super::problem::Problem;
use crate::error::AppError;
use crate::request::RequestContext;
use crate::session_view::session_json;
use auth_core::service::FieldErrors;
use auth_core::service::SessionEnd;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

/// `GET /sessions` → `{"sessions": [{id, created_at, last_seen_at, user_agent, current}]}`.
pub(crate) async fn list(
    ApiUser(session, context): ApiUser,
) -> Result<Json<serde_json::Value>, Problem> {
    let sessions: Vec<serde_json::Value> = context
        .state()
        .service
        .list_sessions(&session, OffsetDateTime::now_utc())
        .await?
        .iter()
        .map(session_json)
        .collect();
    Ok(Json(serde_json::json!({ "sessions": sessions })))
}

pub(crate) fn require_fresh(context: &RequestContext) -> Result<(), Problem> {
    if context.is_fresh() {
        Ok(())
    } else {
        Err(AppError::ReauthenticationRequired.into())
    }
}

/// `DELETE /sessions/{id}` → 204; 404 for an id that is not the caller's; 403 without a
/// recent login.
pub(crate) async fn end_one(
    ApiUser(session, context): ApiUser,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    require_fresh(&context)?;
    match context
        .state()
        .service
        .end_session(&session, &id, context.client())
        .await?
    {
        SessionEnd::LoggedOut => {
            context.end_session();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        SessionEnd::Ended => Ok(StatusCode::NO_CONTENT.into_response()),
        SessionEnd::NotFound => Err(Problem::not_found("You have no session with that id.")),
    }
}

/// What `DELETE /sessions` takes in its query.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EndOthersQuery {
    /// `1` (or `true`): end the caller's API tokens too.
    tokens: Option<String>,
}

/// `DELETE /sessions` → 204, every other session of the caller ended (with `?tokens=1`, every
/// API token too); 403 without a recent login.
pub(crate) async fn end_others(
    ApiUser(session, context): ApiUser,
    query: Result<Query<EndOthersQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Ok(Query(query)) = query else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The query string could not be read; give tokens=1 or tokens=0 once.",
        ));
    };
    require_fresh(&context)?;
    let tokens = match query.tokens.as_deref() {
        None | Some("0" | "false") => false,
        Some("1" | "true") => true,
        Some(_) => {
            return Err(Problem::invalid(FieldErrors::from([(
                "tokens",
                "Give 1 to end the API tokens too, or 0.".to_owned(),
            )])));
        }
    };
    let ended = context
        .state()
        .service
        .end_other_sessions(&session, tokens, context.client())
        .await?;
    context.set_session(&ended.session, false)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
