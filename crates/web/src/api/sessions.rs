//! `/sessions` of the API: list, end one, end every other.

use super::json::ApiUser;
use super::problem::Problem;
use crate::error::AppError;
use crate::request::RequestContext;
use crate::session_view::{SessionJson, session_json};
use auth_core::service::FieldErrors;
use auth_core::service::SessionEnd;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `GET /sessions`'s body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SessionList)]
pub(crate) struct SessionList {
    /// The caller's live sessions (with store `cookie`: only the current one).
    sessions: Vec<SessionJson>,
}

/// List the caller's sessions.
///
/// `GET /sessions` → `{"sessions": [{id, created_at, last_seen_at, user_agent, current}]}`.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "sessions",
    operation_id = "listSessions",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's sessions.", body = SessionList),
        (status = 401, description = "Not logged in."),
    )
)]
pub(crate) async fn list(ApiUser(session, context): ApiUser) -> Result<Json<SessionList>, Problem> {
    let sessions = context
        .state()
        .service
        .list_sessions(&session, OffsetDateTime::now_utc())
        .await?
        .iter()
        .map(session_json)
        .collect();
    Ok(Json(SessionList { sessions }))
}

pub(crate) fn require_fresh(context: &RequestContext) -> Result<(), Problem> {
    if context.is_fresh() {
        Ok(())
    } else {
        Err(AppError::ReauthenticationRequired.into())
    }
}

/// End one of the caller's sessions.
///
/// `DELETE /sessions/{id}` → 204; 404 for an id that is not the caller's; 403 without a
/// recent login.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "sessions",
    operation_id = "endSession",
    params(("id" = String, Path, description = "The session's public id, as `GET …/sessions` lists it.")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "The session ended (when it was this one, its cookie is cleared)."),
        (status = 401, description = "Not logged in."),
        (status = 403, description = "The login is not recent: `POST …/reauthenticate` first (`reauthentication-required`)."),
        (status = 404, description = "The caller has no session with that id."),
    )
)]
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
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EndOthersQuery {
    /// `1` (or `true`): end the caller's API tokens too; `0` (or `false`, the default): keep
    /// them.
    tokens: Option<String>,
}

/// End every other session of the caller.
///
/// `DELETE /sessions` → 204, every other session of the caller ended (with `?tokens=1`, every
/// API token too); 403 without a recent login.
#[utoipa::path(
    delete,
    path = "/sessions",
    tag = "sessions",
    operation_id = "endOtherSessions",
    params(EndOthersQuery),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Every other session of the caller ended (with `tokens=1`, every API token too); this one goes on."),
        (status = 400, description = "The query string could not be read."),
        (status = 401, description = "Not logged in."),
        (status = 403, description = "The login is not recent: `POST …/reauthenticate` first (`reauthentication-required`); an API token never is."),
        (status = 422, description = "`tokens` is neither 1 nor 0."),
    )
)]
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
