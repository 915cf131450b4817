//! `/passkeys/…` of the API (contract §10): the WebAuthn ceremonies (each a `start` that
//! answers `{ceremony, options}` for `navigator.credentials`, and a `finish` that takes
//! `{ceremony, credential}`, the credential as `PublicKeyCredential.toJSON()` gives it), and
//! the user's list, rename and remove.

use super::json::{ApiJson, ApiUser};
use super::problem::Problem;
use super::sessions::require_fresh;
use crate::request::RequestContext;
use crate::session_view::passkey_json;
use auth_core::service::{Ceremony, PasskeyOutcome, SecondFactorOutcome};
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

fn ceremony_json(ceremony: &Ceremony) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ceremony": ceremony.id, "options": ceremony.options }))
}

fn refused() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "Passkey refused",
        "The passkey's answer was not accepted (expired, for another request, or not verified); try again.",
    )
}

/// Body of every `finish`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FinishBody {
    ceremony: String,
    credential: serde_json::Value,
    name: String,
}

/// `POST /passkeys/register/start` (recent login).
pub(crate) async fn register_start(
    ApiUser(session, context): ApiUser,
) -> Result<Response, Problem> {
    require_fresh(&context)?;
    let ceremony = context
        .state()
        .service
        .start_passkey_registration(&session)
        .await?;
    Ok(ceremony_json(&ceremony).into_response())
}

/// `POST /passkeys/register/finish` `{ceremony, credential, name}` → 201 the passkey; 400.
pub(crate) async fn register_finish(
    ApiUser(session, context): ApiUser,
    ApiJson(body): ApiJson<FinishBody>,
) -> Result<Response, Problem> {
    require_fresh(&context)?;
    match context
        .state()
        .service
        .finish_passkey_registration(
            &session,
            &body.ceremony,
            body.credential,
            &body.name,
            context.client(),
        )
        .await?
    {
        PasskeyOutcome::Done(view) => {
            Ok((StatusCode::CREATED, Json(passkey_json(&view))).into_response())
        }
        PasskeyOutcome::Refused => Err(refused()),
    }
}

/// `GET /passkeys` → `{"passkeys": [{id, name, created_at, last_used_at}]}`.
pub(crate) async fn list(ApiUser(session, context): ApiUser) -> Result<Response, Problem> {
    let passkeys: Vec<serde_json::Value> = context
        .state()
        .service
        .list_passkeys(session.user.id)
        .await?
        .iter()
        .map(passkey_json)
        .collect();
    Ok(Json(serde_json::json!({ "passkeys": passkeys })).into_response())
}

/// Body of `PATCH /passkeys/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RenameBody {
    name: String,
}

/// `PATCH /passkeys/{id}` `{name}` → 204; 404 for an id that is not the caller's.
pub(crate) async fn rename(
    ApiUser(session, context): ApiUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<Response, Problem> {
    if context
        .state()
        .service
        .rename_passkey(&session, &id, &body.name)
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::not_found("No passkey of yours has that id."))
    }
}

/// `DELETE /passkeys/{id}` (recent login) → 204; 404 for an id that is not the caller's.
pub(crate) async fn remove(
    ApiUser(session, context): ApiUser,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    require_fresh(&context)?;
    if context
        .state()
        .service
        .remove_passkey(&session, &id, context.client())
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::not_found("No passkey of yours has that id."))
    }
}

/// `POST /passkeys/login/start`: a sign-in with a passkey alone.
pub(crate) async fn login_start(context: RequestContext) -> Result<Response, Problem> {
    let ceremony = context.state().service.start_passkey_login().await?;
    Ok(ceremony_json(&ceremony).into_response())
}

/// `POST /passkeys/login/finish` → 200 `{id, username}` and the session cookie; 400 refused.
pub(crate) async fn login_finish(
    context: RequestContext,
    ApiJson(body): ApiJson<FinishBody>,
) -> Result<Response, Problem> {
    match context
        .state()
        .service
        .finish_passkey_login(
            &body.ceremony,
            body.credential,
            context.login_client(),
            context.session(),
        )
        .await?
    {
        PasskeyOutcome::Done(session) => {
            context.clear_pending_login();
            context.set_session(&session, true)?;
            context.remember_device(&session.user);
            Ok(Json(super::auth::user_json(&session.user)).into_response())
        }
        PasskeyOutcome::Refused => Err(refused()),
    }
}

/// `POST /passkeys/2fa/start`: a passkey as the second factor of the pending login.
pub(crate) async fn second_factor_start(context: RequestContext) -> Result<Response, Problem> {
    let Some(pending) = context.pending_login() else {
        return Err(Problem::unauthorized(
            "No login is waiting for a second factor: log in with the password first.",
        ));
    };
    match context
        .state()
        .service
        .start_passkey_second_factor(&pending)
        .await?
    {
        Some(ceremony) => Ok(ceremony_json(&ceremony).into_response()),
        None => Err(Problem::not_found("This account has no passkey.")),
    }
}

/// `POST /passkeys/2fa/finish` → 200 `{id, username}` and the session cookie; 401.
pub(crate) async fn second_factor_finish(
    context: RequestContext,
    ApiJson(body): ApiJson<FinishBody>,
) -> Result<Response, Problem> {
    let Some(pending) = context.pending_login() else {
        return Err(Problem::unauthorized(
            "No login is waiting for a second factor: log in with the password first.",
        ));
    };
    match context
        .state()
        .service
        .finish_passkey_second_factor(
            &pending,
            &body.ceremony,
            body.credential,
            context.login_client(),
            context.session(),
        )
        .await?
    {
        SecondFactorOutcome::LoggedIn(session) => {
            context.clear_pending_login();
            context.set_session(&session, true)?;
            context.remember_device(&session.user);
            Ok(Json(super::auth::user_json(&session.user)).into_response())
        }
        SecondFactorOutcome::InvalidCode => Err(Problem::unauthorized(
            "The passkey was not accepted; try again.",
        )),
        SecondFactorOutcome::Expired => {
            context.clear_pending_login();
            Err(Problem::unauthorized(
                "The login waited too long for its second factor: log in with the password again.",
            ))
        }
    }
}
