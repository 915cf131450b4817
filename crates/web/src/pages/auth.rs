//! Registration, login and logout pages.

use super::{NextQuery, render};
use crate::error::AppError;
use crate::extract::CsrfForm;
use crate::redirect::safe_next;
use crate::request::RequestContext;
use auth_core::SecretString;
use auth_core::service::{
    EMAIL_TAKEN, FieldErrors, INVALID_CREDENTIALS, LoginOutcome, Registration, TAKEN,
};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

/// Fields of the registration form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RegisterForm {
    username: String,
    password: String,
    password_confirm: Option<String>,
    email: Option<String>,
    csrf_token: Option<String>,
}

fn register_page(
    context: &RequestContext,
    status: StatusCode,
    form: &RegisterForm,
    errors: &FieldErrors,
) -> Response {
    let service = &context.state().service;
    render(
        context,
        status,
        "register.html",
        serde_json::json!({
            "form": { "username": form.username, "email": form.email },
            "errors": errors,
            "password_min": service.settings().policy.min_length,
            "email_mode": service.email_policy(),
        }),
    )
}

/// `GET /register`
pub(crate) async fn register_form(context: RequestContext) -> Response {
    register_page(
        &context,
        StatusCode::OK,
        &RegisterForm::default(),
        &FieldErrors::new(),
    )
}

/// `POST /register`: 303 to the login page with a flash; 422 with field errors; 409 when taken.
pub(crate) async fn register(
    context: RequestContext,
    CsrfForm(mut form): CsrfForm<RegisterForm>,
) -> Result<Response, AppError> {
    let password = SecretString::new(std::mem::take(&mut form.password));
    let registration = context
        .state()
        .service
        .register_with_email(
            &form.username,
            &password,
            form.password_confirm.as_deref(),
            form.email.as_deref(),
            context.client(),
        )
        .await?;
    match registration {
        Registration::Created(_) => {
            context.flash("success", "Registration successful. Please log in.");
            let login = context.state().urls.login.clone().unwrap_or_default();
            Ok(Redirect::to(&login).into_response())
        }
        Registration::Invalid(errors) => Ok(register_page(
            &context,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            &errors,
        )),
        Registration::Taken => {
            let errors = FieldErrors::from([("username", TAKEN.to_owned())]);
            Ok(register_page(
                &context,
                StatusCode::CONFLICT,
                &form,
                &errors,
            ))
        }
        Registration::EmailTaken => {
            let errors = FieldErrors::from([("email", EMAIL_TAKEN.to_owned())]);
            Ok(register_page(
                &context,
                StatusCode::CONFLICT,
                &form,
                &errors,
            ))
        }
    }
}

/// What the login form shows again after a failure; every field is always present.
#[derive(Debug, Default, Serialize)]
struct LoginFormValues<'a> {
    username: &'a str,
    next: &'a str,
    remember: bool,
}

fn login_page(
    context: &RequestContext,
    status: StatusCode,
    values: &LoginFormValues<'_>,
    error: Option<&str>,
) -> Response {
    render(
        context,
        status,
        "login.html",
        serde_json::json!({ "form": values, "error": error }),
    )
}

/// `GET /login`
pub(crate) async fn login_form(context: RequestContext, uri: Uri) -> Response {
    let next = NextQuery::safe_next(&uri);
    let values = LoginFormValues {
        next: next.as_deref().unwrap_or_default(),
        ..LoginFormValues::default()
    };
    login_page(&context, StatusCode::OK, &values, None)
}

/// Fields of the login form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    remember: Option<String>,
    next: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /login`: 303 to a safe `next` or `login.default_redirect` with a new session; 401
/// with one message for every failure.
pub(crate) async fn login(
    context: RequestContext,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, AppError> {
    let password = SecretString::new(form.password);
    let remember = form
        .remember
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "0");
    let next = form.next.as_deref().and_then(safe_next);
    let outcome = context
        .state()
        .service
        .log_in(
            &form.username,
            &password,
            remember,
            context.login_client(),
            context.session(),
        )
        .await?;
    match outcome {
        LoginOutcome::LoggedIn(session) => {
            context.set_session(&session, true)?;
            context.remember_device(&session.user);
            let target = super::second_factor::landing(&context, &session, next).await?;
            Ok(Redirect::to(&target).into_response())
        }
        LoginOutcome::SecondFactorRequired { pending, .. } => {
            context.set_pending_login(&pending);
            let second = context.state().urls.login_2fa.clone().unwrap_or_default();
            let target = match next {
                Some(next) => format!(
                    "{second}?{}",
                    serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
                ),
                None => second,
            };
            Ok(Redirect::to(&target).into_response())
        }
        LoginOutcome::InvalidCredentials => {
            let values = LoginFormValues {
                username: &form.username,
                next: next.unwrap_or_default(),
                remember,
            };
            Ok(login_page(
                &context,
                StatusCode::UNAUTHORIZED,
                &values,
                Some(INVALID_CREDENTIALS),
            ))
        }
    }
}

/// `GET /logout`: a confirmation page; changes nothing.
pub(crate) async fn logout_page(context: RequestContext) -> Response {
    render(
        &context,
        StatusCode::OK,
        "logout.html",
        serde_json::json!({}),
    )
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TokenOnlyForm {
    csrf_token: Option<String>,
}

/// `POST /logout`: ends the session on the server, clears the cookie, 303 to `/`.
pub(crate) async fn logout(
    context: RequestContext,
    CsrfForm(_): CsrfForm<TokenOnlyForm>,
) -> Result<Response, AppError> {
    if let Some(session) = context.session() {
        context
            .state()
            .service
            .log_out(session, context.client())
            .await?;
        context.flash("info", "You have been logged out.");
    }
    context.end_session();
    Ok(Redirect::to(&context.state().urls.home).into_response())
}

crate::extract::csrf_token_field!(RegisterForm, LoginForm, TokenOnlyForm);
