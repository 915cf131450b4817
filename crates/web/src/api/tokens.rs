//! `/tokens` of the API (SPEC §11): make (recent login), list and revoke personal API tokens.

use super::json::{ApiJson, ApiUser};
use super::problem::Problem;
use super::sessions::require_fresh;
use crate::error::AppError;
use crate::session_view::token_json;
use auth_core::service::{FieldErrors, TokenCreation};
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::OffsetDateTime;

/// Body of `POST /tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CreateBody {
    name: Option<String>,
    /// Seconds; 30 days when missing.
    expires_in: Option<u64>,
}

/// `GET /tokens` → `{"tokens": [{id, name, created_at, expires_at, last_used_at, current}]}`,
/// newest first; never a token's secret.
pub(crate) async fn list(
    ApiUser(session, context): ApiUser,
) -> Result<Json<serde_json::Value>, Problem> {
    let tokens: Vec<serde_json::Value> = context
        .state()
        .service
        .list_api_tokens(&session, OffsetDateTime::now_utc())
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(Json(serde_json::json!({ "tokens": tokens })))
}

/// `POST /tokens` `{name, expires_in}` → 201 with the listing and `token`, the secret, shown
/// only now; 403 without a recent login (always for a token: tokens do not make tokens); 409
/// at the per-user limit; 422 for a bad name or lifetime.
pub(crate) async fn create(
    ApiUser(session, context): ApiUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, Problem> {
    require_fresh(&context)?;
    let name = body.name.unwrap_or_default();
    match context
        .state()
        .service
        .create_api_token(&session, &name, body.expires_in, context.client())
        .await?
    {
        TokenCreation::Created { token, view } => {
            let mut json = token_json(&view);
            json["token"] = serde_json::Value::String(token.encode());
            Ok((StatusCode::CREATED, Json(json)).into_response())
        }
        TokenCreation::Invalid(errors) => Err(Problem::invalid(errors)),
        TokenCreation::TooMany => {
            let detail = "You have as many tokens as an account may hold; revoke one first.";
            Err(Problem::new(StatusCode::CONFLICT, "Conflict", detail)
                .with_errors(FieldErrors::from([("name", detail.to_owned())])))
        }
        TokenCreation::NotFresh => Err(AppError::ReauthenticationRequired.into()),
    }
}

/// `DELETE /tokens/{id}` → 204; 404 for an id that is not one of the caller's tokens. Revoking
/// needs no recent login: it only ever takes access away.
pub(crate) async fn revoke(
    ApiUser(session, context): ApiUser,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    if context
        .state()
        .service
        .revoke_api_token(&session, &id, context.client())
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::not_found("You have no token with that id."))
    }
}
