//! The HTML pages of the contract's section 4: home, register, login, dashboard, logout.

use crate::context::RequestContext;
use crate::credentials::{self, CredentialCheck};
use crate::error::AppError;
use crate::extract::{CsrfForm, CurrentUser};
use crate::redirect::safe_next;
use crate::registration::{self, Registered};
use crate::state::AppState;
use auth_core::SecretString;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::Uri;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The one message for every failed login, so responses never tell which part was wrong.
pub const INVALID_CREDENTIALS: &str = "Invalid username or password.";

/// Renders `template` with the context every page shares (user, flashes, CSRF token) plus
/// `extra`.
pub fn render(
    app: &AppState,
    context: &RequestContext,
    status: StatusCode,
    template: &str,
    extra: serde_json::Value,
) -> Response {
    let mut values = serde_json::Map::new();
    values.insert(
        "current_user".into(),
        match context.user() {
            Some(user) => serde_json::json!({ "username": user.username.as_str() }),
            None => serde_json::Value::Null,
        },
    );
    values.insert(
        "flashes".into(),
        serde_json::to_value(context.take_flashes()).unwrap_or_default(),
    );
    values.insert("csrf_token".into(), context.csrf_token().into());
    if let serde_json::Value::Object(extra) = extra {
        values.extend(extra);
    }
    match app.0.templates.render(template, values) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, template, "template rendering failed");
            AppError::Internal("template rendering failed").into_response()
        }
    }
}

/// `GET /`
pub async fn home(State(app): State<AppState>, context: RequestContext) -> Response {
    render(
        &app,
        &context,
        StatusCode::OK,
        "index.html",
        serde_json::json!({}),
    )
}

/// Fields of the registration form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    username: String,
    password: String,
    password_confirm: Option<String>,
    csrf_token: Option<String>,
}

fn register_page(
    app: &AppState,
    context: &RequestContext,
    status: StatusCode,
    username: &str,
    errors: &BTreeMap<&str, String>,
) -> Response {
    render(
        app,
        context,
        status,
        "register.html",
        serde_json::json!({
            "form": { "username": username },
            "errors": errors,
            "password_min": app.0.policy.min_length,
        }),
    )
}

/// `GET /register`
pub async fn register_form(State(app): State<AppState>, context: RequestContext) -> Response {
    register_page(&app, &context, StatusCode::OK, "", &BTreeMap::new())
}

/// `POST /register`: 303 to `/login` with a flash; 422 with field errors; 409 when taken.
pub async fn register(
    State(app): State<AppState>,
    context: RequestContext,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response, AppError> {
    let password = SecretString::new(form.password);
    let username = match registration::validate(
        &app,
        &form.username,
        &password,
        form.password_confirm.as_deref(),
    ) {
        Ok(username) => username,
        Err(errors) => {
            return Ok(register_page(
                &app,
                &context,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form.username,
                &errors,
            ));
        }
    };
    match registration::register(&app, &username, &password, context.client().address).await? {
        Registered::Created(_) => {
            context.flash("success", "Registration successful. Please log in.");
            Ok(Redirect::to("/login").into_response())
        }
        Registered::Taken => {
            let errors = BTreeMap::from([("username", registration::TAKEN.to_owned())]);
            Ok(register_page(
                &app,
                &context,
                StatusCode::CONFLICT,
                username.as_str(),
                &errors,
            ))
        }
    }
}

/// `?next=` on the login page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    next: Option<String>,
}

impl NextQuery {
    /// The `next` value as given (not yet checked with [`safe_next`]).
    pub fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }
}

/// What the login form shows again after a failure.
#[derive(Debug, Default, Serialize)]
struct LoginFormValues<'a> {
    username: &'a str,
    next: Option<&'a str>,
    remember: bool,
}

fn login_page(
    app: &AppState,
    context: &RequestContext,
    status: StatusCode,
    values: &LoginFormValues<'_>,
    error: Option<&str>,
) -> Response {
    render(
        app,
        context,
        status,
        "login.html",
        serde_json::json!({ "form": values, "error": error }),
    )
}

/// `GET /login`
pub async fn login_form(
    State(app): State<AppState>,
    context: RequestContext,
    uri: Uri,
) -> Response {
    // A malformed query string is ignored, not an error: it only pre-fills `next`.
    let query: NextQuery = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let next = query.next.as_deref().and_then(safe_next);
    let values = LoginFormValues {
        next,
        ..LoginFormValues::default()
    };
    login_page(&app, &context, StatusCode::OK, &values, None)
}

/// Fields of the login form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    remember: Option<String>,
    next: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /login`: 303 to a safe `next` or `/dashboard` with a new session; 401 with one
/// message for every failure.
pub async fn login(
    State(app): State<AppState>,
    context: RequestContext,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, AppError> {
    let client = context.client().address;
    let password = SecretString::new(form.password);
    let remember = form
        .remember
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "0");
    let next = form.next.as_deref().and_then(safe_next);
    let user = match credentials::check(&app, &form.username, &password, client).await? {
        CredentialCheck::Valid { user } => user,
        CredentialCheck::Invalid { user_id } => {
            credentials::log_failure(user_id, &form.username, client);
            let values = LoginFormValues {
                username: &form.username,
                next,
                remember,
            };
            return Ok(login_page(
                &app,
                &context,
                StatusCode::UNAUTHORIZED,
                &values,
                Some(INVALID_CREDENTIALS),
            ));
        }
    };
    credentials::log_in(&app, &context, user, remember).await?;
    Ok(Redirect::to(next.unwrap_or("/dashboard")).into_response())
}

/// `GET /dashboard`
pub async fn dashboard(
    State(app): State<AppState>,
    context: RequestContext,
    CurrentUser(session): CurrentUser,
) -> Response {
    render(
        &app,
        &context,
        StatusCode::OK,
        "dashboard.html",
        serde_json::json!({ "username": session.user.username.as_str() }),
    )
}

/// `GET /logout`: a confirmation page; changes nothing.
pub async fn logout_page(State(app): State<AppState>, context: RequestContext) -> Response {
    render(
        &app,
        &context,
        StatusCode::OK,
        "logout.html",
        serde_json::json!({}),
    )
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenOnlyForm {
    csrf_token: Option<String>,
}

/// `POST /logout`: ends the session on the server, clears the cookie, 303 to `/`.
pub async fn logout(
    State(app): State<AppState>,
    context: RequestContext,
    CsrfForm(_): CsrfForm<TokenOnlyForm>,
) -> Result<Response, AppError> {
    if let Some(session) = context.session() {
        app.0.sessions.end(session).await?;
        tracing::info!(event = "logout", user_id = %session.user.id, client = ?context.client().address, "logged out");
        context.flash("info", "You have been logged out.");
    }
    context.end_session();
    Ok(Redirect::to("/").into_response())
}

/// Any other path: 404.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

crate::csrf_token_field!(RegisterForm, LoginForm, TokenOnlyForm);
