//! The JSON API, `/api/v1` (contract §5): the same validation, throttling, session and audit
//! code as the HTML pages, rendered as JSON. Errors are RFC 9457 problem documents
//! (`application/problem+json`) with `type`, `title`, `status`, `detail`, and `errors`
//! (field → message) on validation failures.

use crate::account::{is_fresh, reauthenticate_session};
use crate::context::RequestContext;
use crate::credentials::{self, CredentialCheck};
use crate::error::AppError;
use crate::registration::{self, FieldErrors, Registered};
use crate::sessions::ActiveSession;
use crate::state::AppState;
use auth_core::SecretString;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

/// The API's routes, to be nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/sessions", get(list_sessions).delete(end_other_sessions))
        .route("/sessions/{id}", delete(end_session))
        .route("/reauthenticate", post(reauthenticate))
        .fallback(not_found)
}

/// An RFC 9457 problem document.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    title: &'static str,
    detail: String,
    errors: Option<FieldErrors>,
    retry_after: Option<u64>,
}

impl Problem {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title,
            detail: detail.into(),
            errors: None,
            retry_after: None,
        }
    }

    fn invalid(errors: FieldErrors) -> Self {
        Self {
            errors: Some(errors),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Validation failed",
                "Some fields are invalid; see errors.",
            )
        }
    }

    fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
    }
}

/// The problem `type` for a title: `/problems/<title in kebab case>`.
pub fn problem_type(title: &str) -> String {
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
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        let retry_after = match &error {
            AppError::Throttled {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            AppError::Unavailable | AppError::Busy => Some(5),
            _ => None,
        };
        let (status, page) = error.parts();
        Self {
            retry_after,
            ..Self::new(status, page.title, page.detail)
        }
    }
}

impl From<auth_core::StoreError> for Problem {
    fn from(error: auth_core::StoreError) -> Self {
        AppError::from(error).into()
    }
}

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

/// A JSON body: 415 for another media type, 413 over the body limit, 400 for malformed JSON
/// (invalid UTF-8 included), 422 for JSON of the wrong shape.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                "Send the body as application/json.",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::from(AppError::PayloadTooLarge)
                } else {
                    Problem::new(
                        StatusCode::BAD_REQUEST,
                        "Bad request",
                        "The body could not be read.",
                    )
                }
            })?;
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

/// The logged-in user; anonymous requests get 401.
#[derive(Debug, Clone)]
pub struct ApiUser(pub ActiveSession, pub RequestContext);

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

/// Text fields that may be missing (then they are reported on their field).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CredentialsBody {
    username: Option<String>,
    password: Option<String>,
    remember: Option<bool>,
}

fn required(errors: &mut FieldErrors, field: &'static str, value: Option<String>) -> String {
    match value {
        Some(v) => v,
        None => {
            errors.insert(field, "This field is required.".into());
            String::new()
        }
    }
}

fn user_json(user: &auth_core::User) -> serde_json::Value {
    serde_json::json!({ "id": user.id.0, "username": user.username.as_str() })
}

/// `POST /api/v1/register` → 201 `{id, username}`; 409 taken; 422 invalid.
async fn register(
    State(app): State<AppState>,
    context: RequestContext,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let raw_username = required(&mut missing, "username", body.username);
    let password = SecretString::new(required(&mut missing, "password", body.password));
    let username = match registration::validate(&app, &raw_username, &password, None) {
        Ok(username) if missing.is_empty() => username,
        Ok(_) => return Err(Problem::invalid(missing)),
        Err(mut errors) => {
            errors.extend(missing);
            return Err(Problem::invalid(errors));
        }
    };
    match registration::register(&app, &username, &password, context.client().address).await? {
        Registered::Created(user) => {
            Ok((StatusCode::CREATED, Json(user_json(&user))).into_response())
        }
        Registered::Taken => Err(Problem {
            errors: Some(FieldErrors::from([(
                "username",
                registration::TAKEN.to_owned(),
            )])),
            ..Problem::new(StatusCode::CONFLICT, "Conflict", registration::TAKEN)
        }),
    }
}

/// `POST /api/v1/login` → 200 `{id, username}` and the session cookie; 401; 429.
async fn login(
    State(app): State<AppState>,
    context: RequestContext,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let raw_username = required(&mut missing, "username", body.username);
    let password = SecretString::new(required(&mut missing, "password", body.password));
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    let client = context.client().address;
    match credentials::check(&app, &raw_username, &password, client).await? {
        CredentialCheck::Valid { user } => {
            let session =
                credentials::log_in(&app, &context, user, body.remember.unwrap_or(false)).await?;
            Ok(Json(user_json(&session.user)).into_response())
        }
        CredentialCheck::Invalid { user_id } => {
            credentials::log_failure(user_id, &raw_username, client);
            Err(Problem::unauthorized(crate::pages::INVALID_CREDENTIALS))
        }
    }
}

/// `POST /api/v1/logout` → 204, the session ended (also when there was none).
async fn logout(State(app): State<AppState>, context: RequestContext) -> Result<Response, Problem> {
    if let Some(session) = context.session() {
        app.0.sessions.end(session).await?;
        tracing::info!(event = "logout", user_id = %session.user.id, client = ?context.client().address, "logged out");
    }
    context.end_session();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/me` → 200 `{id, username}`; 401 anonymous.
async fn me(ApiUser(session, _): ApiUser) -> Json<serde_json::Value> {
    Json(user_json(&session.user))
}

/// `GET /api/v1/sessions` → `{"sessions": [{id, created_at, last_seen_at, user_agent, current}]}`.
async fn list_sessions(
    State(app): State<AppState>,
    ApiUser(session, _): ApiUser,
) -> Result<Json<serde_json::Value>, Problem> {
    let sessions: Vec<serde_json::Value> = app
        .0
        .sessions
        .list(&session, OffsetDateTime::now_utc())
        .await?
        .into_iter()
        .map(|s| s.to_json())
        .collect();
    Ok(Json(serde_json::json!({ "sessions": sessions })))
}

fn require_fresh(app: &AppState, context: &RequestContext) -> Result<(), Problem> {
    if is_fresh(app, context) {
        Ok(())
    } else {
        Err(AppError::ReauthenticationRequired.into())
    }
}

/// `DELETE /api/v1/sessions/{id}` → 204; 404 for an id that is not the caller's; 403 without a
/// recent login.
async fn end_session(
    State(app): State<AppState>,
    ApiUser(session, context): ApiUser,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let not_found = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "You have no session with that id.",
        )
    };
    let id: i64 = id.parse().map_err(|_| not_found())?;
    require_fresh(&app, &context)?;
    let client = context.client().address;
    if session.id() == Some(id) {
        app.0.sessions.end(&session).await?;
        context.end_session();
        tracing::info!(event = "logout", user_id = %session.user.id, client = ?client, "current session ended through the API");
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if app.0.sessions.end_one(&session, id).await? {
        tracing::info!(event = "revocation.one", user_id = %session.user.id, client = ?client, session_id = id, "session ended");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found())
    }
}

/// `DELETE /api/v1/sessions` → 204, every other session of the caller ended; 403 without a
/// recent login.
async fn end_other_sessions(
    State(app): State<AppState>,
    ApiUser(session, context): ApiUser,
) -> Result<Response, Problem> {
    require_fresh(&app, &context)?;
    let (kept, ended) = app.0.sessions.end_others(&session).await?;
    context.set_session(&kept, false)?;
    tracing::info!(event = "revocation.all", user_id = %session.user.id, client = ?context.client().address, ended, "other sessions ended");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Body of `POST /api/v1/reauthenticate`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordBody {
    password: Option<String>,
}

/// `POST /api/v1/reauthenticate` `{password}` → 204, this session counts as freshly logged in;
/// 401 on a wrong password (throttled like login).
async fn reauthenticate(
    State(app): State<AppState>,
    ApiUser(session, context): ApiUser,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let password = SecretString::new(required(&mut missing, "password", body.password));
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    match reauthenticate_session(&app, &context, &session, &password).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(Problem::unauthorized("That password is not right.")),
    }
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "Not found", "No such API route.")
}

/// Unsafe API requests that carry a body must say it is JSON (contract §5), whatever the route
/// does with the body: 415 otherwise.
pub async fn require_json_bodies(request: Request, next: axum::middleware::Next) -> Response {
    let unsafe_method = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let has_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > 0)
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    if unsafe_method && has_body && !is_json(request.headers()) {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            "Send the body as application/json.",
        )
        .into_response();
    }
    next.run(request).await
}
