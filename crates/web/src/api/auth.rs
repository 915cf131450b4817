//! `/register`, `/login`, `/logout`, `/me`, `/reauthenticate` of the API.

use super::json::{ApiJson, ApiUser, required};
use super::problem::Problem;
use crate::request::RequestContext;
use auth_core::SecretString;
use auth_core::service::{
    EMAIL_TAKEN, FieldErrors, INVALID_CREDENTIALS, LoginOutcome, Registration, SecondFactorOutcome,
    TAKEN,
};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Text fields that may be missing (then they are reported on their field).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CredentialsBody {
    username: Option<String>,
    password: Option<String>,
    remember: Option<bool>,
    email: Option<String>,
}

pub(crate) fn user_json(user: &auth_core::User) -> serde_json::Value {
    serde_json::json!({ "id": user.id.0, "username": user.username.as_str() })
}

/// `GET /me`'s body: the user with their address.
fn me_json(user: &auth_core::User) -> serde_json::Value {
    serde_json::json!({
        "id": user.id.0,
        "username": user.username.as_str(),
        "email": user.email.as_ref().map(|e| e.as_str()),
        "email_verified": user.email_verified,
    })
}

/// `POST /register` → 201 `{id, username}`; 409 taken; 422 invalid.
pub(crate) async fn register(
    context: RequestContext,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let username = required(&mut missing, "username", body.username);
    let password = SecretString::new(required(&mut missing, "password", body.password));
    let service = &context.state().service;
    if !missing.is_empty() {
        let mut errors = service
            .validate_registration(&username, &password, None)
            .err()
            .unwrap_or_default();
        errors.extend(missing);
        return Err(Problem::invalid(errors));
    }
    match service
        .register_with_email(
            &username,
            &password,
            None,
            body.email.as_deref(),
            context.client(),
        )
        .await?
    {
        Registration::Created(user) => {
            Ok((StatusCode::CREATED, Json(user_json(&user))).into_response())
        }
        Registration::Invalid(errors) => Err(Problem::invalid(errors)),
        Registration::Taken => Err(Problem::new(StatusCode::CONFLICT, "Conflict", TAKEN)
            .with_errors(FieldErrors::from([("username", TAKEN.to_owned())]))),
        Registration::EmailTaken => {
            Err(Problem::new(StatusCode::CONFLICT, "Conflict", EMAIL_TAKEN)
                .with_errors(FieldErrors::from([("email", EMAIL_TAKEN.to_owned())])))
        }
    }
}

/// `POST /login` → 200 `{id, username}` and the session cookie; 401; 429.
pub(crate) async fn login(
    context: RequestContext,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let username = required(&mut missing, "username", body.username);
    let password = SecretString::new(required(&mut missing, "password", body.password));
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    let outcome = context
        .state()
        .service
        .log_in(
            &username,
            &password,
            body.remember.unwrap_or(false),
            context.login_client(),
            context.session(),
        )
        .await?;
    match outcome {
        LoginOutcome::LoggedIn(session) => {
            context.set_session(&session, true)?;
            context.remember_device(&session.user);
            Ok(Json(user_json(&session.user)).into_response())
        }
        LoginOutcome::SecondFactorRequired { pending, methods } => {
            // No session yet: the pending login's cookie reaches only `/login/2fa`.
            context.set_pending_login(&pending);
            Ok(Json(serde_json::json!({ "second_factor_required": methods })).into_response())
        }
        LoginOutcome::InvalidCredentials => Err(Problem::unauthorized(INVALID_CREDENTIALS)),
    }
}

/// Body of `POST /login/2fa`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CodeBody {
    code: Option<String>,
}

/// `POST /login/2fa` `{code}` → 200 `{id, username}` and the session cookie; 401 for a wrong,
/// replayed or used code, or without a live pending login; 429 throttled like passwords.
pub(crate) async fn login_second_factor(
    context: RequestContext,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let code = required(&mut missing, "code", body.code);
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    let Some(pending) = context.pending_login() else {
        return Err(Problem::unauthorized(
            "No login is waiting for a second factor: log in with the password first.",
        ));
    };
    let outcome = context
        .state()
        .service
        .complete_second_factor(&pending, &code, context.login_client(), context.session())
        .await?;
    match outcome {
        SecondFactorOutcome::LoggedIn(session) => {
            context.clear_pending_login();
            context.set_session(&session, true)?;
            context.remember_device(&session.user);
            Ok(Json(user_json(&session.user)).into_response())
        }
        SecondFactorOutcome::InvalidCode => Err(Problem::unauthorized(
            "That code is not right, or was used already.",
        )),
        SecondFactorOutcome::Expired => {
            context.clear_pending_login();
            Err(Problem::unauthorized(
                "The login waited too long for its second factor: log in with the password again.",
            ))
        }
    }
}

/// `POST /logout` → 204, the session ended (also when there was none); with an API token,
/// that token is revoked.
pub(crate) async fn logout(context: RequestContext) -> Result<Response, Problem> {
    if let Some(session) = context.session() {
        context
            .state()
            .service
            .log_out(session, context.client())
            .await?;
    }
    context.end_session();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /me` → 200 `{id, username, email, email_verified}`; 401 anonymous.
pub(crate) async fn me(ApiUser(session, _): ApiUser) -> Json<serde_json::Value> {
    Json(me_json(&session.user))
}

/// Body of `POST /reauthenticate`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PasswordBody {
    password: Option<String>,
}

/// `POST /reauthenticate` `{password}` → 204, this session counts as freshly logged in; 401
/// on a wrong password (throttled like login).
pub(crate) async fn reauthenticate(
    ApiUser(session, context): ApiUser,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, Problem> {
    if session.is_api_token() {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "An API token cannot re-authenticate: confirm the password in a logged-in session.",
        ));
    }
    let mut missing = FieldErrors::new();
    let password = SecretString::new(required(&mut missing, "password", body.password));
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    match context
        .state()
        .service
        .reauthenticate(&session, &password, context.login_client())
        .await?
    {
        Some(fresh) => {
            context.set_session(&fresh, false)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => Err(Problem::unauthorized("That password is not right.")),
    }
}
