//! `/passkeys/…` of the API (contract §10): the WebAuthn ceremonies (each a `start` that
//! answers `{ceremony, options}` for `navigator.credentials`, and a `finish` that takes
//! `{ceremony, credential}`, the credential as `PublicKeyCredential.toJSON()` gives it), and
//! the user's list, rename and remove.

use super::json::{ApiJson, ApiUser};
use super::problem::Problem;
use super::sessions::require_fresh;
use crate::request::RequestContext;
use crate::session_view::{PasskeyJson, passkey_json};
use auth_core::service::{Ceremony, PasskeyOutcome, SecondFactorOutcome};
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A started ceremony: what every `start` answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PasskeyCeremony)]
pub(crate) struct CeremonyJson {
    /// The ceremony's id, for the `finish` request.
    ceremony: String,
    /// The options for `navigator.credentials.create()` (registration) or `.get()` (the
    /// others): `{"publicKey": …}`, WebAuthn's `PublicKeyCredentialCreationOptions` /
    /// `PublicKeyCredentialRequestOptions` in their JSON form (binary fields base64url).
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

fn ceremony_json(ceremony: &Ceremony) -> Json<CeremonyJson> {
    Json(CeremonyJson {
        ceremony: ceremony.id.clone(),
        options: ceremony.options.clone(),
    })
}

fn refused() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "Passkey refused",
        "The passkey's answer was not accepted (expired, for another request, or not verified); try again.",
    )
}

/// Body of every `finish`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PasskeyCeremonyAnswer)]
pub(crate) struct FinishBody {
    /// The id the `start` answered with.
    #[serde(default)]
    #[schema(required = true)]
    ceremony: String,
    /// The browser's answer, as `PublicKeyCredential.toJSON()` gives it.
    #[serde(default)]
    #[schema(value_type = Object, required = true)]
    credential: serde_json::Value,
    /// Registration only: the passkey's name.
    #[serde(default)]
    #[schema(required = false)]
    name: String,
}

/// Start registering a passkey.
///
/// `POST /passkeys/register/start` (recent login).
#[utoipa::path(
    post,
    path = "/passkeys/register/start",
    tag = "passkeys",
    operation_id = "startPasskeyRegistration",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A registration ceremony: pass `options` to `navigator.credentials.create()`.", body = CeremonyJson),
        (status = 401, description = "Not logged in."),
        (status = 403, description = "The login is not recent: `POST …/reauthenticate` first (`reauthentication-required`)."),
        (status = 404, description = "Passkeys are off."),
    )
)]
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

/// Finish registering a passkey.
///
/// `POST /passkeys/register/finish` `{ceremony, credential, name}` → 201 the passkey; 400.
#[utoipa::path(
    post,
    path = "/passkeys/register/finish",
    tag = "passkeys",
    operation_id = "finishPasskeyRegistration",
    request_body = FinishBody,
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "The passkey is registered.", body = PasskeyJson),
        (status = 400, description = "The answer was refused (expired, for another ceremony, or not verified): `passkey-refused`; or the body is not JSON."),
        (status = 401, description = "Not logged in."),
        (status = 403, description = "The login is not recent: `POST …/reauthenticate` first (`reauthentication-required`)."),
        (status = 404, description = "Passkeys are off."),
    )
)]
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

/// `GET /passkeys`'s body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PasskeyList)]
pub(crate) struct PasskeyList {
    /// The caller's passkeys.
    passkeys: Vec<PasskeyJson>,
}

/// List the caller's passkeys.
///
/// `GET /passkeys` → `{"passkeys": [{id, name, created_at, last_used_at}]}`.
#[utoipa::path(
    get,
    path = "/passkeys",
    tag = "passkeys",
    operation_id = "listPasskeys",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's passkeys.", body = PasskeyList),
        (status = 401, description = "Not logged in."),
        (status = 404, description = "Passkeys are off."),
    )
)]
pub(crate) async fn list(ApiUser(session, context): ApiUser) -> Result<Response, Problem> {
    let passkeys = context
        .state()
        .service
        .list_passkeys(session.user.id)
        .await?
        .iter()
        .map(passkey_json)
        .collect();
    Ok(Json(PasskeyList { passkeys }).into_response())
}

/// Body of `PATCH /passkeys/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PasskeyRename)]
pub(crate) struct RenameBody {
    /// The new name.
    #[serde(default)]
    #[schema(required = true)]
    name: String,
}

/// Rename a passkey.
///
/// `PATCH /passkeys/{id}` `{name}` → 204; 404 for an id that is not the caller's.
#[utoipa::path(
    patch,
    path = "/passkeys/{id}",
    tag = "passkeys",
    operation_id = "renamePasskey",
    params(("id" = String, Path, description = "The passkey's public id, as `GET …/passkeys` lists it.")),
    request_body = RenameBody,
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Renamed."),
        (status = 401, description = "Not logged in."),
        (status = 404, description = "The caller has no passkey with that id, or passkeys are off."),
    )
)]
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

/// Remove a passkey.
///
/// `DELETE /passkeys/{id}` (recent login) → 204; 404 for an id that is not the caller's.
#[utoipa::path(
    delete,
    path = "/passkeys/{id}",
    tag = "passkeys",
    operation_id = "removePasskey",
    params(("id" = String, Path, description = "The passkey's public id, as `GET …/passkeys` lists it.")),
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, description = "Not logged in."),
        (status = 403, description = "The login is not recent: `POST …/reauthenticate` first (`reauthentication-required`)."),
        (status = 404, description = "The caller has no passkey with that id, or passkeys are off."),
    )
)]
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

/// Start a sign-in with a passkey alone.
///
/// `POST /passkeys/login/start`: a sign-in with a passkey alone.
#[utoipa::path(
    post,
    path = "/passkeys/login/start",
    tag = "passkeys",
    operation_id = "startPasskeyLogin",
    responses(
        (status = 200, description = "A sign-in ceremony (discoverable credentials, user verification): pass `options` to `navigator.credentials.get()`.", body = CeremonyJson),
        (status = 404, description = "Passkeys are off."),
    )
)]
pub(crate) async fn login_start(context: RequestContext) -> Result<Response, Problem> {
    let ceremony = context.state().service.start_passkey_login().await?;
    Ok(ceremony_json(&ceremony).into_response())
}

/// Finish a sign-in with a passkey.
///
/// `POST /passkeys/login/finish` → 200 `{id, username}` and the session cookie; 400 refused.
#[utoipa::path(
    post,
    path = "/passkeys/login/finish",
    tag = "passkeys",
    operation_id = "finishPasskeyLogin",
    request_body = FinishBody,
    responses(
        (status = 200, description = "Logged in (both factors): the session cookie is set.", body = super::auth::UserBody,
            headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 400, description = "The answer was refused (expired, unknown credential, or not verified): `passkey-refused`; or the body is not JSON."),
        (status = 404, description = "Passkeys are off."),
    )
)]
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
            Ok(super::auth::user_json(&session.user).into_response())
        }
        PasskeyOutcome::Refused => Err(refused()),
    }
}

/// Start a passkey as the pending login's second factor.
///
/// `POST /passkeys/2fa/start`: a passkey as the second factor of the pending login.
#[utoipa::path(
    post,
    path = "/passkeys/2fa/start",
    tag = "passkeys",
    operation_id = "startPasskeySecondFactor",
    security(("pending_login" = [])),
    responses(
        (status = 200, description = "A ceremony for the pending login's user: pass `options` to `navigator.credentials.get()`.", body = CeremonyJson),
        (status = 401, description = "No live pending login."),
        (status = 404, description = "The account has no passkey, or passkeys are off."),
    )
)]
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

/// Finish a passkey as the pending login's second factor.
///
/// `POST /passkeys/2fa/finish` → 200 `{id, username}` and the session cookie; 401.
#[utoipa::path(
    post,
    path = "/passkeys/2fa/finish",
    tag = "passkeys",
    operation_id = "finishPasskeySecondFactor",
    request_body = FinishBody,
    security(("pending_login" = [])),
    responses(
        (status = 200, description = "Logged in: the session cookie is set.", body = super::auth::UserBody,
            headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 401, description = "No live pending login, or the passkey was not accepted."),
        (status = 404, description = "Passkeys are off."),
        (status = 429, description = "Too many failures, throttled like passwords."),
    )
)]
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
            Ok(super::auth::user_json(&session.user).into_response())
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
