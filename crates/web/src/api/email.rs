//! The email routes of the API (contract §9): reset requests and their confirmation, changing
//! and verifying the address.

use super::json::{ApiJson, ApiUser, required};
use super::problem::Problem;
use super::sessions::require_fresh;
use crate::request::RequestContext;
use auth_core::SecretString;
use auth_core::service::{EMAIL_TAKEN, EmailChange, FieldErrors, PasswordReset};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

/// The detail of a used, expired or unknown link.
const LINK_INVALID: &str =
    "The link has been used already, has expired, or is not one we sent; ask for a new one.";

/// Body of `POST /password-reset`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PasswordResetRequest)]
pub(crate) struct ResetRequestBody {
    /// A username or an email address.
    #[schema(value_type = String, required = true)]
    login: Option<String>,
}

/// Ask for a password reset link.
///
/// `POST /password-reset` `{login}` → 202 whether or not an account matches; 429 throttled.
#[utoipa::path(
    post,
    path = "/password-reset",
    tag = "email",
    operation_id = "requestPasswordReset",
    request_body = ResetRequestBody,
    responses(
        (status = 202, description = "Accepted, whether or not an account matches; a link goes to a verified address only."),
        (status = 422, description = "Missing fields; see `errors`."),
        (status = 429, description = "Too many requests from this address or for this account."),
    )
)]
pub(crate) async fn request_reset(
    context: RequestContext,
    ApiJson(body): ApiJson<ResetRequestBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let login = required(&mut missing, "login", body.login);
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    context
        .state()
        .service
        .request_password_reset(&login, context.client())
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Body of `POST /password-reset/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PasswordResetConfirmation)]
pub(crate) struct ResetConfirmBody {
    /// The token from the link in the message.
    #[schema(value_type = String, required = true)]
    token: Option<String>,
    /// The new password.
    #[schema(value_type = String, required = true)]
    password: Option<String>,
}

/// Set a new password with a reset link's token.
///
/// `POST /password-reset/confirm` `{token, password}` → 204 (every session ended); 400 for a
/// dead link; 422 for a password the policy refuses.
#[utoipa::path(
    post,
    path = "/password-reset/confirm",
    tag = "email",
    operation_id = "confirmPasswordReset",
    request_body = ResetConfirmBody,
    responses(
        (status = 204, description = "The password is set; every session of the user ended."),
        (status = 400, description = "The link was used, has expired or is unknown (`invalid-link`); or the body is not JSON."),
        (status = 422, description = "Missing fields, or a password the policy refuses; see `errors`."),
    )
)]
pub(crate) async fn confirm_reset(
    context: RequestContext,
    ApiJson(body): ApiJson<ResetConfirmBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let token = required(&mut missing, "token", body.token);
    let password = SecretString::new(required(&mut missing, "password", body.password));
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    match context
        .state()
        .service
        .reset_password(&token, &password, None, context.client())
        .await?
    {
        PasswordReset::Reset(_) => {
            if context.session().is_some() {
                context.end_session();
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        PasswordReset::InvalidLink => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid link",
            LINK_INVALID,
        )),
        PasswordReset::Invalid(errors) => Err(Problem::invalid(errors)),
    }
}

/// Body of `PUT /me/email`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = EmailChange)]
pub(crate) struct EmailBody {
    /// The new address.
    #[schema(value_type = String, format = Email, required = true)]
    email: Option<String>,
}

/// Change the email address.
///
/// `PUT /me/email` `{email}` (a recent login) → 202, a verification link on its way; 409
/// taken; 422 invalid.
#[utoipa::path(
    put,
    path = "/me/email",
    tag = "email",
    operation_id = "changeEmail",
    request_body = EmailBody,
    security(("cookie" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "The address is set, unverified; a verification link is on its way."),
        (status = 401, description = "Not logged in."),
        (status = 403, description = "The login is not recent: `POST …/reauthenticate` first (`reauthentication-required`)."),
        (status = 404, description = "Email addresses are off."),
        (status = 409, description = "The address is another user's; `errors` names the field."),
        (status = 422, description = "Missing or invalid address; see `errors`."),
    )
)]
pub(crate) async fn change(
    ApiUser(session, context): ApiUser,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Response, Problem> {
    require_fresh(&context)?;
    let mut missing = FieldErrors::new();
    let email = required(&mut missing, "email", body.email);
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    match context
        .state()
        .service
        .change_email(&session, &email, context.client())
        .await?
    {
        EmailChange::Changed(_) | EmailChange::Unchanged => {
            Ok(StatusCode::ACCEPTED.into_response())
        }
        EmailChange::Invalid(errors) => Err(Problem::invalid(errors)),
        EmailChange::Taken => Err(Problem::new(StatusCode::CONFLICT, "Conflict", EMAIL_TAKEN)
            .with_errors(FieldErrors::from([("email", EMAIL_TAKEN.to_owned())]))),
        EmailChange::Disabled => Err(Problem::not_found("Email addresses are off.")),
    }
}

/// Body of `POST /me/email/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = EmailVerification)]
pub(crate) struct VerifyBody {
    /// The token from the link in the message.
    #[schema(value_type = String, required = true)]
    token: Option<String>,
}

/// Verify an email address with its link's token.
///
/// `POST /me/email/verify` `{token}` → 204, the address verified; 400 for a dead link. The
/// token is the proof: no session is needed (the link may be opened on another device).
#[utoipa::path(
    post,
    path = "/me/email/verify",
    tag = "email",
    operation_id = "verifyEmail",
    request_body = VerifyBody,
    responses(
        (status = 204, description = "The address is verified. The token is the proof: no session is needed."),
        (status = 400, description = "The link was used, has expired or is unknown (`invalid-link`); or the body is not JSON."),
        (status = 422, description = "Missing fields; see `errors`."),
    )
)]
pub(crate) async fn verify(
    context: RequestContext,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Response, Problem> {
    let mut missing = FieldErrors::new();
    let token = required(&mut missing, "token", body.token);
    if !missing.is_empty() {
        return Err(Problem::invalid(missing));
    }
    match context
        .state()
        .service
        .verify_email(&token, context.client())
        .await?
    {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid link",
            LINK_INVALID,
        )),
    }
}
