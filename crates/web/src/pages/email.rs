//! The email pages (contract §9): asking for a reset link, the pages a link opens (a `GET`
//! that changes nothing, and a form whose `POST` uses the token), and changing the address.

use super::render;
use crate::error::AppError;
use crate::extract::{CsrfForm, CurrentUser};
use crate::request::RequestContext;
use auth_core::service::{EMAIL_TAKEN, EmailChange, FieldErrors, PasswordReset};
use auth_core::{LinkPurpose, SecretString};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// `?token=` of a link.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TokenQuery {
    token: String,
}

/// The one page for a used, expired or unknown link (400).
fn link_invalid(context: &RequestContext) -> Response {
    render(
        context,
        StatusCode::BAD_REQUEST,
        "link_invalid.html",
        serde_json::json!({}),
    )
}

/// `GET /forgot-password`
pub(crate) async fn forgot_password_form(context: RequestContext) -> Response {
    render(
        &context,
        StatusCode::OK,
        "forgot_password.html",
        serde_json::json!({ "sent": false }),
    )
}

/// Fields of the reset request form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ForgotPasswordForm {
    login: String,
    csrf_token: Option<String>,
}

/// `POST /forgot-password`: the same page and status whether or not an account matches (429
/// when throttled).
pub(crate) async fn forgot_password(
    context: RequestContext,
    CsrfForm(form): CsrfForm<ForgotPasswordForm>,
) -> Result<Response, AppError> {
    context
        .state()
        .service
        .request_password_reset(&form.login, context.client())
        .await?;
    Ok(render(
        &context,
        StatusCode::OK,
        "forgot_password.html",
        serde_json::json!({ "sent": true }),
    ))
}

fn reset_page(
    context: &RequestContext,
    status: StatusCode,
    token: &str,
    errors: &FieldErrors,
) -> Response {
    render(
        context,
        status,
        "reset_password.html",
        serde_json::json!({
            "token": token,
            "errors": errors,
            "password_min": context.state().service.settings().policy.min_length,
        }),
    )
}

/// `GET /reset-password?token=…`: the new-password form, or the invalid-link page. Changes
/// nothing: mail scanners open links.
pub(crate) async fn reset_password_form(
    context: RequestContext,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let service = &context.state().service;
    if !service
        .link_is_live(&query.token, LinkPurpose::ResetPassword)
        .await?
    {
        return Ok(link_invalid(&context));
    }
    Ok(reset_page(
        &context,
        StatusCode::OK,
        &query.token,
        &FieldErrors::new(),
    ))
}

/// Fields of the new-password form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResetPasswordForm {
    token: String,
    password: String,
    password_confirm: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /reset-password`: sets the password and ends every session (303 to the login page);
/// 422 with the form for a password the policy refuses; 400 for a dead link.
pub(crate) async fn reset_password(
    context: RequestContext,
    CsrfForm(form): CsrfForm<ResetPasswordForm>,
) -> Result<Response, AppError> {
    let password = SecretString::new(form.password);
    let outcome = context
        .state()
        .service
        .reset_password(
            &form.token,
            &password,
            form.password_confirm.as_deref(),
            context.client(),
        )
        .await?;
    match outcome {
        PasswordReset::Reset(_) => {
            // Every session of the user ended; this browser's too, if it had one of theirs.
            if context.session().is_some() {
                context.end_session();
            }
            context.flash(
                "success",
                "Your password has been reset and every session ended. Please log in.",
            );
            let login = context.state().urls.login.clone().unwrap_or_default();
            Ok(Redirect::to(&login).into_response())
        }
        PasswordReset::InvalidLink => Ok(link_invalid(&context)),
        PasswordReset::Invalid(errors) => Ok(reset_page(
            &context,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.token,
            &errors,
        )),
    }
}

/// `GET /verify-email?token=…`: a form with one button, or the invalid-link page. Changes
/// nothing.
pub(crate) async fn verify_email_form(
    context: RequestContext,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let service = &context.state().service;
    if !service
        .link_is_live(&query.token, LinkPurpose::VerifyEmail)
        .await?
    {
        return Ok(link_invalid(&context));
    }
    Ok(render(
        &context,
        StatusCode::OK,
        "verify_email.html",
        serde_json::json!({ "token": query.token }),
    ))
}

/// Fields of the verification form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct VerifyEmailForm {
    token: String,
    csrf_token: Option<String>,
}

/// `POST /verify-email`: verifies the address (303 to the account page, or the login page when
/// signed out); 400 for a dead link.
pub(crate) async fn verify_email(
    context: RequestContext,
    CsrfForm(form): CsrfForm<VerifyEmailForm>,
) -> Result<Response, AppError> {
    let verified = context
        .state()
        .service
        .verify_email(&form.token, context.client())
        .await?;
    if verified.is_none() {
        return Ok(link_invalid(&context));
    }
    context.flash("success", "Your email address is confirmed.");
    let urls = &context.state().urls;
    let target = if context.session().is_some() {
        urls.account.clone()
    } else {
        urls.login.clone()
    };
    Ok(Redirect::to(&target.unwrap_or_else(|| urls.home.clone())).into_response())
}

/// Fields of the address form on the account page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EmailForm {
    email: String,
    password: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /account/email`: sets the address (unverified) and sends a link to it. Needs a login
/// within `session.fresh_for`, or the password re-entered in `password`.
pub(crate) async fn change_email(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<Response, AppError> {
    let service = &context.state().service;
    let mut session = session;
    let error = |message: &str| FieldErrors::from([("email", message.to_owned())]);
    if !context.is_fresh() {
        let password = SecretString::new(form.password.unwrap_or_default());
        if password.is_empty() {
            let errors =
                error("Enter your password to confirm: your last sign-in was a while ago.");
            return super::account::account_page(
                &context,
                &session,
                StatusCode::FORBIDDEN,
                &errors,
            )
            .await;
        }
        match service
            .reauthenticate(&session, &password, context.login_client())
            .await?
        {
            Some(fresh) => {
                context.set_session(&fresh, false)?;
                session = fresh;
            }
            None => {
                let errors = error("That password is not right.");
                return super::account::account_page(
                    &context,
                    &session,
                    StatusCode::UNAUTHORIZED,
                    &errors,
                )
                .await;
            }
        }
    }
    let account = context.state().urls.account.clone().unwrap_or_default();
    match service
        .change_email(&session, &form.email, context.client())
        .await?
    {
        EmailChange::Changed(_) => {
            context.flash(
                "success",
                "Email address saved. We sent a link to it: open it to confirm the address.",
            );
            Ok(Redirect::to(&account).into_response())
        }
        EmailChange::Unchanged => {
            context.flash("info", "That is already your confirmed email address.");
            Ok(Redirect::to(&account).into_response())
        }
        EmailChange::Invalid(errors) => {
            super::account::account_page(
                &context,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                &errors,
            )
            .await
        }
        EmailChange::Taken => {
            super::account::account_page(
                &context,
                &session,
                StatusCode::CONFLICT,
                &error(EMAIL_TAKEN),
            )
            .await
        }
        EmailChange::Disabled => Err(AppError::NotFound),
    }
}

crate::extract::csrf_token_field!(
    ForgotPasswordForm,
    ResetPasswordForm,
    VerifyEmailForm,
    EmailForm
);
