//! `/account/tokens`: personal API tokens (SPEC §11). A recent login (or the password prompt
//! first) to see, make or revoke them; a new token is shown once, on the page that made it.

use super::{password_prompt_unless_fresh, render};
use crate::error::AppError;
use crate::extract::{CsrfForm, CurrentUser};
use crate::request::RequestContext;
use crate::session_view::token_json;
use auth_core::service::{ActiveSession, FieldErrors, TokenCreation};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

/// The lifetimes the form offers, in days; the API takes any within the bounds.
const LIFETIME_CHOICES: [u64; 4] = [7, 30, 90, 365];

fn back(context: &RequestContext) -> String {
    context
        .state()
        .urls
        .account_tokens
        .clone()
        .unwrap_or_default()
}

/// `GET /account/tokens`: the user's tokens and the form to make one.
pub(crate) async fn show(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
) -> Result<Response, AppError> {
    if let Some(prompt) = password_prompt_unless_fresh(&context, back(&context)) {
        return Ok(prompt);
    }
    tokens_page(
        &context,
        &session,
        StatusCode::OK,
        &FieldErrors::new(),
        None,
    )
    .await
}

async fn tokens_page(
    context: &RequestContext,
    session: &ActiveSession,
    status: StatusCode,
    errors: &FieldErrors,
    new_token: Option<(String, String)>,
) -> Result<Response, AppError> {
    let tokens: Vec<_> = context
        .state()
        .service
        .list_api_tokens(session, OffsetDateTime::now_utc())
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(render(
        context,
        status,
        "account_tokens.html",
        serde_json::json!({
            "tokens": tokens,
            "errors": errors,
            "lifetimes": LIFETIME_CHOICES,
            "new_token": new_token.map(|(name, token)| serde_json::json!({"name": name, "token": token})),
        }),
    ))
}

/// Fields of the form that makes a token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CreateForm {
    name: String,
    /// Days, one of [`LIFETIME_CHOICES`].
    expires_in_days: String,
    csrf_token: Option<String>,
}

/// Fields of a revoke button.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RevokeForm {
    id: String,
    csrf_token: Option<String>,
}

crate::extract::csrf_token_field!(CreateForm, RevokeForm);

/// `POST /account/tokens`: makes a token and shows it, once.
pub(crate) async fn create(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response, AppError> {
    if let Some(prompt) = password_prompt_unless_fresh(&context, back(&context)) {
        return Ok(prompt);
    }
    let Some(days) = form
        .expires_in_days
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|days| LIFETIME_CHOICES.contains(days))
    else {
        let errors =
            FieldErrors::from([("expires_in", "Choose how long the token lives.".to_owned())]);
        return tokens_page(
            &context,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            None,
        )
        .await;
    };
    let outcome = context
        .state()
        .service
        .create_api_token(&session, &form.name, Some(days * 86_400), context.client())
        .await?;
    let (status, errors) = match outcome {
        TokenCreation::Created { token, view } => {
            let shown = Some((view.name, token.encode()));
            return tokens_page(
                &context,
                &session,
                StatusCode::OK,
                &FieldErrors::new(),
                shown,
            )
            .await;
        }
        TokenCreation::Invalid(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        TokenCreation::TooMany => (
            StatusCode::CONFLICT,
            FieldErrors::from([(
                "name",
                "You have as many tokens as an account may hold; revoke one first.".to_owned(),
            )]),
        ),
        TokenCreation::NotFresh => {
            return Ok(password_prompt_unless_fresh(&context, back(&context))
                .unwrap_or_else(|| Redirect::to(&back(&context)).into_response()));
        }
    };
    tokens_page(&context, &session, status, &errors, None).await
}

/// `POST /account/tokens/revoke`: revokes one token.
pub(crate) async fn revoke(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Result<Response, AppError> {
    if let Some(prompt) = password_prompt_unless_fresh(&context, back(&context)) {
        return Ok(prompt);
    }
    if !context
        .state()
        .service
        .revoke_api_token(&session, &form.id, context.client())
        .await?
    {
        return Err(AppError::NotFound);
    }
    context.flash("success", "Token revoked.");
    Ok(Redirect::to(&back(&context)).into_response())
}
