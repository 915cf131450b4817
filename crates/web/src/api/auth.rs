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
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /register`. A missing field is reported on its field (422), like an invalid
/// one.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = Registration)]
pub(crate) struct RegistrationBody {
    /// 1 to 64 letters, digits, `_`, `-` or `.`; unique, compared case-insensitively.
    #[schema(value_type = String, required = true)]
    username: Option<String>,
    /// At least `password.min_length` characters (12 by default), not a common password.
    #[schema(value_type = String, required = true)]
    password: Option<String>,
    /// An email address (required when `account.email = "required"`).
    #[schema(value_type = String, format = Email, required = false)]
    email: Option<String>,
}

/// Body of `POST /login`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = Login)]
pub(crate) struct LoginBody {
    /// The username (or anything typed into that field).
    #[schema(value_type = String, required = true)]
    username: Option<String>,
    /// The password.
    #[schema(value_type = String, required = true)]
    password: Option<String>,
    /// A persistent session for `session.remember_for` instead of the idle and absolute
    /// timeouts.
    #[schema(value_type = bool, required = false)]
    remember: Option<bool>,
}

/// A user, as the API shows one.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub(crate) struct UserBody {
    /// The user's id.
    id: i64,
    /// The username, as registered.
    username: String,
}

/// The body of every answer that names the logged-in user.
pub(crate) fn user_json(user: &auth_core::User) -> Json<UserBody> {
    Json(UserBody {
        id: user.id.0,
        username: user.username.as_str().to_owned(),
    })
}

/// `GET /me`'s body: the user with their address.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Me)]
pub(crate) struct MeBody {
    /// The user's id.
    id: i64,
    /// The username, as registered.
    username: String,
    /// The user's email address, if any.
    #[schema(required = true)]
    email: Option<String>,
    /// Whether `email` has been verified by its link.
    email_verified: bool,
}

fn me_json(user: &auth_core::User) -> MeBody {
    MeBody {
        id: user.id.0,
        username: user.username.as_str().to_owned(),
        email: user.email.as_ref().map(|e| e.as_str().to_owned()),
        email_verified: user.email_verified,
    }
}

/// The answer of `POST /login` for a user with a second factor: no session yet.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecondFactorRequired)]
pub(crate) struct SecondFactorRequiredBody {
    /// The methods that complete the login: `passkey` (`POST …/passkeys/2fa/start`),
    /// `totp` and `recovery_code` (`POST …/login/2fa`).
    #[schema(value_type = Vec<String>, example = json!(["passkey", "totp", "recovery_code"]))]
    second_factor_required: Vec<&'static str>,
}

/// What `POST /login` answers with 200.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = LoginResult)]
pub(crate) enum LoginAnswer {
    /// Logged in: the session cookie is set.
    LoggedIn(UserBody),
    /// The password was right; a second factor must complete the login.
    SecondFactorRequired(SecondFactorRequiredBody),
}

/// Register a user.
///
/// `POST /register` → 201 `{id, username}`; 409 taken; 422 invalid.
#[utoipa::path(
    post,
    path = "/register",
    tag = "auth",
    operation_id = "register",
    request_body = RegistrationBody,
    responses(
        (status = 201, description = "Registered (not logged in).", body = UserBody),
        (status = 409, description = "The username (or address) is taken; `errors` names the field."),
        (status = 422, description = "Invalid or missing fields; see `errors`."),
        (status = 429, description = "Too many registrations from this address (`register.max_per_address`)."),
    )
)]
pub(crate) async fn register(
    context: RequestContext,
    ApiJson(body): ApiJson<RegistrationBody>,
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
        Registration::Created(user) => Ok((StatusCode::CREATED, user_json(&user)).into_response()),
        Registration::Invalid(errors) => Err(Problem::invalid(errors)),
        Registration::Taken => Err(Problem::new(StatusCode::CONFLICT, "Conflict", TAKEN)
            .with_errors(FieldErrors::from([("username", TAKEN.to_owned())]))),
        Registration::EmailTaken => {
            Err(Problem::new(StatusCode::CONFLICT, "Conflict", EMAIL_TAKEN)
                .with_errors(FieldErrors::from([("email", EMAIL_TAKEN.to_owned())])))
        }
    }
}

/// Log in with a username and password.
///
/// `POST /login` → 200 `{id, username}` and the session cookie; 401; 429.
#[utoipa::path(
    post,
    path = "/login",
    tag = "auth",
    operation_id = "login",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in (the session cookie is set), or a second factor is \
            required (no session yet: a pending-login cookie reaching only the second step).",
            body = LoginAnswer, headers(("Set-Cookie" = String, description = "The session cookie, or the pending login's."))),
        (status = 401, description = "Wrong username or password."),
        (status = 422, description = "Missing fields; see `errors`."),
        (status = 429, description = "Too many failures for this username or from this address."),
    )
)]
pub(crate) async fn login(
    context: RequestContext,
    ApiJson(body): ApiJson<LoginBody>,
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
            Ok(Json(LoginAnswer::LoggedIn(user_json(&session.user).0)).into_response())
        }
        LoginOutcome::SecondFactorRequired { pending, methods } => {
            // No session yet: the pending login's cookie reaches only `/login/2fa`.
            context.set_pending_login(&pending);
            Ok(Json(LoginAnswer::SecondFactorRequired(
                SecondFactorRequiredBody {
                    second_factor_required: methods,
                },
            ))
            .into_response())
        }
        LoginOutcome::InvalidCredentials => Err(Problem::unauthorized(INVALID_CREDENTIALS)),
    }
}

/// Body of `POST /login/2fa`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SecondFactorCode)]
pub(crate) struct CodeBody {
    /// A 6-digit TOTP code, or one of the recovery codes.
    #[schema(value_type = String, required = true)]
    code: Option<String>,
}

/// Complete a login with a TOTP or recovery code.
///
/// `POST /login/2fa` `{code}` → 200 `{id, username}` and the session cookie; 401 for a wrong,
/// replayed or used code, or without a live pending login; 429 throttled like passwords.
#[utoipa::path(
    post,
    path = "/login/2fa",
    tag = "auth",
    operation_id = "loginSecondFactor",
    request_body = CodeBody,
    security(("pending_login" = [])),
    responses(
        (status = 200, description = "Logged in: the session cookie is set.", body = UserBody,
            headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 401, description = "A wrong, replayed or used code, or no live pending login."),
        (status = 422, description = "Missing fields; see `errors`."),
        (status = 429, description = "Too many failures, throttled like passwords."),
    )
)]
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
            Ok(user_json(&session.user).into_response())
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

/// Log out.
///
/// `POST /logout` → 204, the session ended (also when there was none); with an API token,
/// that token is revoked.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "auth",
    operation_id = "logout",
    security((), ("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "The session ended (also when there was none); its cookie is cleared. With an API token, that token is revoked."),
    )
)]
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

/// The logged-in user.
///
/// `GET /me` → 200 `{id, username, email, email_verified}`; 401 anonymous.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    operation_id = "me",
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The logged-in user.", body = MeBody),
        (status = 401, description = "Not logged in."),
    )
)]
pub(crate) async fn me(ApiUser(session, _): ApiUser) -> Json<MeBody> {
    Json(me_json(&session.user))
}

/// Body of `POST /reauthenticate`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = Reauthentication)]
pub(crate) struct PasswordBody {
    /// The logged-in user's password.
    #[schema(value_type = String, required = true)]
    password: Option<String>,
}

/// Confirm the password: this login becomes recent.
///
/// `POST /reauthenticate` `{password}` → 204, this session counts as freshly logged in; 401
/// on a wrong password (throttled like login).
#[utoipa::path(
    post,
    path = "/reauthenticate",
    tag = "auth",
    operation_id = "reauthenticate",
    request_body = PasswordBody,
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "This session counts as freshly logged in (`session.fresh_for`)."),
        (status = 401, description = "Not logged in, or a wrong password."),
        (status = 422, description = "Missing fields; see `errors`."),
        (status = 429, description = "Too many failures, throttled like logins."),
    )
)]
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
