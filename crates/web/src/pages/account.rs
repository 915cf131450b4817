//! The account pages: active sessions (list, end one, end all others), password change, and
//! the password prompt for pages that need a recent login.

use super::{NextQuery, render};
use crate::error::AppError;
use crate::extract::{CsrfForm, CurrentUser};
use crate::redirect::safe_next;
use crate::request::RequestContext;
use crate::session_view::session_json;
use auth_core::SecretString;
use auth_core::service::{ActiveSession, FieldErrors, PasswordChange, SessionEnd};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

pub(crate) async fn account_page(
    context: &RequestContext,
    session: &ActiveSession,
    status: StatusCode,
    errors: &FieldErrors,
) -> Result<Response, AppError> {
    let service = &context.state().service;
    let sessions: Vec<_> = service
        .list_sessions(session, OffsetDateTime::now_utc())
        .await?
        .iter()
        .map(session_json)
        .collect();
    Ok(render(
        context,
        status,
        "account.html",
        serde_json::json!({
            "sessions": sessions,
            "needs_password": !context.is_fresh(),
            "single_sessions": service.can_end_single_sessions(),
            "errors": errors,
            "password_min": service.settings().policy.min_length,
            "passkeys": if service.passkeys_enabled() {
                Some(service
                    .list_passkeys(session.user.id)
                    .await?
                    .iter()
                    .map(crate::session_view::passkey_json)
                    .collect::<Vec<_>>())
            } else {
                None
            },
            "email": session.user.email.as_ref().map(|e| e.as_str()),
            "email_verified": session.user.email_verified,
        }),
    ))
}

/// `GET /account`
pub(crate) async fn show(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
) -> Result<Response, AppError> {
    account_page(&context, &session, StatusCode::OK, &FieldErrors::new()).await
}

/// Fields of the revoke form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RevokeForm {
    session: Option<String>,
    all: Option<String>,
    /// With `all=1`: `tokens=1` ends the API tokens too.
    tokens: Option<String>,
    password: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /account/sessions/revoke`: `session=ID` ends that session, `all=1` every other one
/// (and, with `tokens=1`, every API token).
/// Needs a login within `session.fresh_for`, or the password re-entered in `password`.
pub(crate) async fn revoke(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Result<Response, AppError> {
    let error = |message: &str| FieldErrors::from([("revoke", message.to_owned())]);
    let all = form.all.as_deref() == Some("1");
    let one = form.session.filter(|s| !s.trim().is_empty());
    if !all && one.is_none() {
        let errors = error("Choose a session to sign out, or all other sessions.");
        return account_page(
            &context,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
        )
        .await;
    }
    let service = &context.state().service;
    let client = context.client();
    let mut session = session;
    if !context.is_fresh() {
        let password = SecretString::new(form.password.unwrap_or_default());
        if password.is_empty() {
            let errors =
                error("Enter your password to confirm: your last sign-in was a while ago.");
            return account_page(&context, &session, StatusCode::FORBIDDEN, &errors).await;
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
                return account_page(&context, &session, StatusCode::UNAUTHORIZED, &errors).await;
            }
        }
    }
    let account = context.state().urls.account.clone().unwrap_or_default();
    if all {
        let tokens = form.tokens.as_deref() == Some("1");
        let ended = service.end_other_sessions(&session, tokens, client).await?;
        context.set_session(&ended.session, false)?;
        context.flash(
            "success",
            if tokens {
                "Signed out of every other session, and every API token revoked."
            } else {
                "Signed out of every other session."
            },
        );
        return Ok(Redirect::to(&account).into_response());
    }
    let id = one.unwrap_or_default();
    match service.end_session(&session, &id, client).await? {
        SessionEnd::LoggedOut => {
            context.end_session();
            context.flash("info", "You have been logged out.");
            Ok(Redirect::to(&context.state().urls.home).into_response())
        }
        SessionEnd::Ended => {
            context.flash("success", "That session has been signed out.");
            Ok(Redirect::to(&account).into_response())
        }
        SessionEnd::NotFound => {
            let errors = error("That session does not exist or has already ended.");
            account_page(&context, &session, StatusCode::NOT_FOUND, &errors).await
        }
    }
}

/// Fields of the password-change form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /account/password`: checks the current password, applies the policy to the new one,
/// keeps this session under a new id and ends every other.
pub(crate) async fn change_password(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let current = SecretString::new(form.current_password);
    let new = SecretString::new(form.new_password);
    let change = context
        .state()
        .service
        .change_password(
            &session,
            &current,
            &new,
            form.new_password_confirm.as_deref(),
            context.login_client(),
        )
        .await?;
    match change {
        PasswordChange::Changed(renewed) => {
            context.set_session(&renewed, true)?;
            context.flash(
                "success",
                "Your password has been changed, and every other session signed out.",
            );
            let account = context.state().urls.account.clone().unwrap_or_default();
            Ok(Redirect::to(&account).into_response())
        }
        PasswordChange::WrongCurrentPassword(errors) => {
            account_page(&context, &session, StatusCode::UNAUTHORIZED, &errors).await
        }
        PasswordChange::Invalid(errors) => {
            account_page(
                &context,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                &errors,
            )
            .await
        }
    }
}

/// `GET /reauthenticate?next=…`: the password prompt for pages that need a recent login.
pub(crate) async fn reauthenticate_form(
    context: RequestContext,
    CurrentUser(_): CurrentUser,
    uri: Uri,
) -> Response {
    let next = NextQuery::safe_next(&uri);
    render(
        &context,
        StatusCode::OK,
        "reauthenticate.html",
        serde_json::json!({ "next": next.unwrap_or_default() }),
    )
}

/// Fields of the re-authentication form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReauthenticateForm {
    password: String,
    next: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /reauthenticate`: the right password counts as a fresh login for this session.
pub(crate) async fn reauthenticate(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<ReauthenticateForm>,
) -> Result<Response, AppError> {
    let password = SecretString::new(form.password);
    let next = form.next.as_deref().and_then(safe_next);
    let fresh = context
        .state()
        .service
        .reauthenticate(&session, &password, context.login_client())
        .await?;
    match fresh {
        Some(fresh) => {
            context.set_session(&fresh, false)?;
            let account = context.state().urls.account.clone().unwrap_or_default();
            Ok(Redirect::to(next.unwrap_or(&account)).into_response())
        }
        None => Ok(render(
            &context,
            StatusCode::UNAUTHORIZED,
            "reauthenticate.html",
            serde_json::json!({ "next": next.unwrap_or_default(), "error": "That password is not right." }),
        )),
    }
}

crate::extract::csrf_token_field!(RevokeForm, PasswordForm, ReauthenticateForm);
