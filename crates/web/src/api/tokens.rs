//! `/tokens` of the API (SPEC §11): make (recent login), list and revoke personal API tokens.

use super::json::{ApiJson, ApiUser};
use super::problem::Problem;
use super::sessions::require_fresh;
use crate::error::AppError;
use crate::session_view::{TokenJson, token_json};
use auth_core::service::{FieldErrors, TokenCreation};
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Body of `POST /tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = NewApiToken)]
pub(crate) struct CreateBody {
    /// What the token is for: 1 to 64 characters, no control characters (trimmed).
    #[schema(value_type = String, required = true, example = "deploy script")]
    name: Option<String>,
    /// How long it lives, in seconds: 60 to 31622400 (366 days); 30 days when left out.
    #[schema(value_type = Option<u64>, minimum = 60, maximum = 31_622_400, example = 2_592_000)]
    expires_in: Option<u64>,
}

/// `GET /tokens`'s body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiTokenList)]
pub(crate) struct TokenList {
    /// The caller's live tokens, newest first.
    tokens: Vec<TokenJson>,
}

/// A token just made: its listing and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CreatedApiToken)]
pub(crate) struct CreatedToken {
    #[serde(flatten)]
    listing: TokenJson,
    /// The token itself, for `Authorization: Bearer`: shown only now, never again.
    #[schema(example = "wbt_…")]
    token: String,
}

/// List the caller's API tokens.
///
/// `GET /tokens` → `{"tokens": [{id, name, created_at, expires_at, last_used_at, current}]}`,
/// newest first; never a token's secret.
#[utoipa::path(
    get,
    path = "/tokens",
    tag = "tokens",
    operation_id = "listApiTokens",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live tokens, newest first, without their secrets.", body = TokenList),
        (status = 401, description = "Not logged in, or an unknown, expired or revoked token."),
    )
)]
pub(crate) async fn list(ApiUser(session, context): ApiUser) -> Result<Json<TokenList>, Problem> {
    let tokens = context
        .state()
        .service
        .list_api_tokens(&session, OffsetDateTime::now_utc())
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// Make an API token.
///
/// `POST /tokens` `{name, expires_in}` → 201 with the listing and `token`, the secret, shown
/// only now; 403 without a recent login (always for a token: tokens do not make tokens); 409
/// at the per-user limit; 422 for a bad name or lifetime.
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "tokens",
    operation_id = "createApiToken",
    request_body = CreateBody,
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Made; `token` is shown only now.", body = CreatedToken),
        (status = 401, description = "Not logged in, or an unknown, expired or revoked token."),
        (status = 403, description = "The login is not recent: `POST …/reauthenticate` first (`reauthentication-required`); an API token never is."),
        (status = 409, description = "The caller already holds 100 live tokens."),
        (status = 422, description = "A bad name or lifetime; see `errors`."),
    )
)]
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
            let created = CreatedToken {
                listing: token_json(&view),
                token: token.encode(),
            };
            Ok((StatusCode::CREATED, Json(created)).into_response())
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

/// Revoke an API token.
///
/// `DELETE /tokens/{id}` → 204; 404 for an id that is not one of the caller's tokens. Revoking
/// needs no recent login: it only ever takes access away.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "tokens",
    operation_id = "revokeApiToken",
    params(("id" = String, Path, description = "The token's public id, as `GET …/tokens` lists it.")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Revoked: refused from now on, by every process within a second."),
        (status = 401, description = "Not logged in, or an unknown, expired or revoked token."),
        (status = 404, description = "The caller has no token with that id."),
    )
)]
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
