//! The account pages: active sessions (list, end one, end all others), password change, and
//! re-authentication for pages that need a recent login.

use crate::context::RequestContext;
use crate::credentials::{self, CredentialCheck};
use crate::error::AppError;
use crate::extract::{CsrfForm, CurrentUser};
use crate::guard::check;
use crate::pages::render;
use crate::redirect::safe_next;
use crate::sessions::ActiveSession;
use crate::state::AppState;
use auth_core::guard::FreshLogin;
use auth_core::{PasswordHasher, SecretString};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// What a re-entered password turned out to be.
pub(crate) enum PasswordCheck {
    /// It is the user's password.
    Correct,
    /// It is not.
    Wrong,
}

/// Checks the logged-in user's password (re-authentication or password change): throttled
/// like a login, one hash verification.
pub(crate) async fn check_password(
    app: &AppState,
    context: &RequestContext,
    session: &ActiveSession,
    password: &SecretString,
) -> Result<PasswordCheck, AppError> {
    let client = context.client().address;
    let username = session.user.username.as_str();
    match credentials::check(app, username, password, client).await? {
        CredentialCheck::Valid { user } if user.id == session.user.id => Ok(PasswordCheck::Correct),
        _ => {
            tracing::info!(event = "reauthentication.failure", user_id = %session.user.id, client = ?client, "wrong password re-entered");
            Ok(PasswordCheck::Wrong)
        }
    }
}

/// Re-authentication: when `password` is the user's, this session counts as freshly logged in
/// (its cookie is re-sent) and the renewed session is returned; `None` for a wrong password.
pub(crate) async fn reauthenticate_session(
    app: &AppState,
    context: &RequestContext,
    session: &ActiveSession,
    password: &SecretString,
) -> Result<Option<ActiveSession>, AppError> {
    match check_password(app, context, session, password).await? {
        PasswordCheck::Correct => {
            let fresh = app
                .0
                .sessions
                .reauthenticated(session, OffsetDateTime::now_utc())
                .await?;
            context.set_session(&fresh, false)?;
            tracing::info!(event = "reauthentication.success", user_id = %session.user.id, client = ?context.client().address, "password re-entered");
            Ok(Some(fresh))
        }
        PasswordCheck::Wrong => Ok(None),
    }
}

pub(crate) fn is_fresh(app: &AppState, context: &RequestContext) -> bool {
    check(&FreshLogin(app.0.fresh_for), context).is_ok()
}

async fn account_page(
    app: &AppState,
    context: &RequestContext,
    session: &ActiveSession,
    status: StatusCode,
    errors: &BTreeMap<&str, String>,
) -> Result<Response, AppError> {
    let now = OffsetDateTime::now_utc();
    let sessions: Vec<serde_json::Value> = app
        .0
        .sessions
        .list(session, now)
        .await?
        .into_iter()
        .map(|s| s.to_json())
        .collect();
    Ok(render(
        app,
        context,
        status,
        "account.html",
        serde_json::json!({
            "sessions": sessions,
            "needs_password": !is_fresh(app, context),
            "single_sessions": app.0.sessions.mode() == crate::config::SessionStoreKind::Database,
            "errors": errors,
            "password_min": app.0.policy.min_length,
        }),
    ))
}

/// `GET /account`
pub async fn show(
    State(app): State<AppState>,
    context: RequestContext,
    CurrentUser(session): CurrentUser,
) -> Result<Response, AppError> {
    account_page(&app, &context, &session, StatusCode::OK, &BTreeMap::new()).await
}

/// Fields of the revoke form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RevokeForm {
    session: Option<String>,
    all: Option<String>,
    password: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /account/sessions/revoke`: `session=ID` ends that session, `all=1` every other one.
/// Needs a login within `session.fresh_for`, or the password re-entered in `password`.
pub async fn revoke(
    State(app): State<AppState>,
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Result<Response, AppError> {
    let error = |message: &str| BTreeMap::from([("revoke", message.to_owned())]);
    let all = form.all.as_deref() == Some("1");
    let one = form
        .session
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok());
    if !all && one.is_none() {
        let errors = error("Choose a session to sign out, or all other sessions.");
        return account_page(
            &app,
            &context,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
        )
        .await;
    }
    let mut session = session;
    if !is_fresh(&app, &context) {
        let password = SecretString::new(form.password.unwrap_or_default());
        if password.is_empty() {
            let errors =
                error("Enter your password to confirm: your last sign-in was a while ago.");
            return account_page(&app, &context, &session, StatusCode::FORBIDDEN, &errors).await;
        }
        match reauthenticate_session(&app, &context, &session, &password).await? {
            Some(fresh) => session = fresh,
            None => {
                let errors = error("That password is not right.");
                return account_page(&app, &context, &session, StatusCode::UNAUTHORIZED, &errors)
                    .await;
            }
        }
    }
    let client = context.client().address;
    if all {
        let (kept, ended) = app.0.sessions.end_others(&session).await?;
        context.set_session(&kept, false)?;
        tracing::info!(event = "revocation.all", user_id = %session.user.id, client = ?client, ended, "other sessions ended");
        context.flash("success", "Signed out of every other session.");
        return Ok(Redirect::to("/account").into_response());
    }
    let Some(id) = one else {
        return Err(AppError::Internal("revocation target vanished"));
    };
    if session.id() == Some(id) {
        // Ending the current session from the list is a logout.
        app.0.sessions.end(&session).await?;
        context.end_session();
        tracing::info!(event = "logout", user_id = %session.user.id, client = ?client, "logged out from the account page");
        context.flash("info", "You have been logged out.");
        return Ok(Redirect::to("/").into_response());
    }
    if app.0.sessions.end_one(&session, id).await? {
        tracing::info!(event = "revocation.one", user_id = %session.user.id, client = ?client, session_id = id, "session ended");
        context.flash("success", "That session has been signed out.");
        Ok(Redirect::to("/account").into_response())
    } else {
        let errors = error("That session does not exist or has already ended.");
        account_page(&app, &context, &session, StatusCode::NOT_FOUND, &errors).await
    }
}

/// Fields of the password-change form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /account/password`: checks the current password, applies the policy to the new one,
/// keeps this session under a new id and ends every other.
pub async fn change_password(
    State(app): State<AppState>,
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let current = SecretString::new(form.current_password);
    let new = SecretString::new(form.new_password);
    let mut errors = BTreeMap::new();
    if let Err(violation) = app.0.policy.check(&new, Some(&session.user.username)) {
        errors.insert("new_password", violation.to_string());
    }
    if let Some(confirm) = form.new_password_confirm.filter(|c| !c.is_empty())
        && confirm != new.expose()
    {
        errors.insert(
            "new_password_confirm",
            "The passwords do not match.".to_owned(),
        );
    }
    // The current password is checked even when the new one is refused, so the form never
    // tells which of the two was the problem by skipping work.
    if let PasswordCheck::Wrong = check_password(&app, &context, &session, &current).await? {
        errors.insert(
            "current_password",
            "Your current password is not right.".to_owned(),
        );
        return account_page(&app, &context, &session, StatusCode::UNAUTHORIZED, &errors).await;
    }
    if !errors.is_empty() {
        return account_page(
            &app,
            &context,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
        )
        .await;
    }
    let hash = app.0.hasher.hash(&new).await?;
    app.0
        .store
        .set_password_hash(session.user.id, &hash)
        .await?;
    let renewed = app
        .0
        .sessions
        .renew_after_password_change(&session, OffsetDateTime::now_utc())
        .await?;
    context.set_session(&renewed, true)?;
    tracing::info!(event = "password.change", user_id = %session.user.id, client = ?context.client().address, "password changed; other sessions ended");
    context.flash(
        "success",
        "Your password has been changed, and every other session signed out.",
    );
    Ok(Redirect::to("/account").into_response())
}

/// `GET /reauthenticate?next=…`: the password prompt for pages that need a recent login.
pub async fn reauthenticate_form(
    State(app): State<AppState>,
    context: RequestContext,
    CurrentUser(_): CurrentUser,
    uri: Uri,
) -> Response {
    let next: crate::pages::NextQuery = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let next = next.next().and_then(safe_next);
    render(
        &app,
        &context,
        StatusCode::OK,
        "reauthenticate.html",
        serde_json::json!({ "next": next }),
    )
}

/// Fields of the re-authentication form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReauthenticateForm {
    password: String,
    next: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /reauthenticate`: the right password counts as a fresh login for this session.
pub async fn reauthenticate(
    State(app): State<AppState>,
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<ReauthenticateForm>,
) -> Result<Response, AppError> {
    let password = SecretString::new(form.password);
    let next = form.next.as_deref().and_then(safe_next);
    match reauthenticate_session(&app, &context, &session, &password).await? {
        Some(_) => Ok(Redirect::to(next.unwrap_or("/account")).into_response()),
        None => Ok(render(
            &app,
            &context,
            StatusCode::UNAUTHORIZED,
            "reauthenticate.html",
            serde_json::json!({ "next": next, "error": "That password is not right." }),
        )),
    }
}

crate::csrf_token_field!(RevokeForm, PasswordForm, ReauthenticateForm);
