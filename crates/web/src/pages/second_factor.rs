//! The second-factor pages (contract §10): the login's second step, and `/account/2fa`
//! (enrol an authenticator app, see and replace recovery codes, turn it off).

use super::password_prompt_unless_fresh;
use super::{NextQuery, render};
use crate::error::AppError;
use crate::extract::{CsrfForm, CurrentUser};
use crate::redirect::safe_next;
use crate::request::RequestContext;
use auth_core::service::{ActiveSession, SecondFactorOutcome, TotpConfirmation};
use auth_core::totp::RecoveryCode;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The QR code of `uri` as inline SVG (no `style`, so the CSP stays as it is).
fn qr_svg(uri: &str) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build();
    // The XML declaration has no place inside an HTML page.
    let start = svg.find("<svg")?;
    Some(svg[start..].to_owned())
}

/// Where a login lands: a safe `next`, or — when second factors are required and the user
/// has none — the enrolment page.
pub(crate) async fn landing(
    context: &RequestContext,
    session: &ActiveSession,
    next: Option<&str>,
) -> Result<String, AppError> {
    let state = context.state();
    if state.mfa_required
        && !state.service.second_factors(session.user.id).await?.any()
        && let Some(enrol) = &state.urls.account_2fa
    {
        context.flash(
            "info",
            "This site needs a second factor: set up an authenticator app to continue.",
        );
        return Ok(enrol.clone());
    }
    Ok(next
        .map(str::to_owned)
        .unwrap_or_else(|| state.urls.after_login.clone()))
}

/// `GET /login/2fa`: the code form while a pending login is live, else back to `/login`.
pub(crate) async fn login_form(context: RequestContext, uri: Uri) -> Result<Response, AppError> {
    let login = context.state().urls.login.clone().unwrap_or_default();
    let Some(pending) = context.pending_login() else {
        return Ok(Redirect::to(&login).into_response());
    };
    let next = NextQuery::safe_next(&uri);
    login_page(&context, &pending, StatusCode::OK, next.as_deref(), None).await
}

/// The second step's page, offering a passkey only to a user who has one.
async fn login_page(
    context: &RequestContext,
    pending: &auth_core::service::PendingLogin,
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let factors = context
        .state()
        .service
        .second_factors(pending.user_id)
        .await?;
    Ok(render(
        context,
        status,
        "login_2fa.html",
        serde_json::json!({
            "next": next.unwrap_or_default(),
            "error": error,
            "passkey": factors.passkeys > 0,
        }),
    ))
}

/// Fields of the second step.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CodeForm {
    code: String,
    next: Option<String>,
    csrf_token: Option<String>,
}

/// `POST /login/2fa`: a TOTP or recovery code completes the login (a new session); 401 for a
/// wrong or replayed code; an expired pending login goes back to `/login`.
pub(crate) async fn login(
    context: RequestContext,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, AppError> {
    let login = context.state().urls.login.clone().unwrap_or_default();
    let Some(pending) = context.pending_login() else {
        context.flash("info", "Please log in again.");
        return Ok(Redirect::to(&login).into_response());
    };
    let next = form.next.as_deref().and_then(safe_next);
    let outcome = context
        .state()
        .service
        .complete_second_factor(
            &pending,
            &form.code,
            context.login_client(),
            context.session(),
        )
        .await?;
    match outcome {
        SecondFactorOutcome::LoggedIn(session) => {
            context.clear_pending_login();
            context.set_session(&session, true)?;
            context.remember_device(&session.user);
            let target = landing(&context, &session, next).await?;
            Ok(Redirect::to(&target).into_response())
        }
        SecondFactorOutcome::InvalidCode => {
            login_page(
                &context,
                &pending,
                StatusCode::UNAUTHORIZED,
                next,
                Some("That code is not right, or was used already."),
            )
            .await
        }
        SecondFactorOutcome::Expired => {
            context.clear_pending_login();
            context.flash("info", "That took too long: please log in again.");
            Ok(Redirect::to(&login).into_response())
        }
    }
}

/// The password prompt, coming back here: the account's second factors need a recent login.
fn needs_fresh_login(context: &RequestContext) -> Option<Response> {
    let back = context.state().urls.account_2fa.clone().unwrap_or_default();
    password_prompt_unless_fresh(context, back)
}

/// `GET /account/2fa` (recent login): the authenticator app's state; when it is off, a new
/// secret to enrol, as a QR code and in base32.
pub(crate) async fn show(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
) -> Result<Response, AppError> {
    if let Some(prompt) = needs_fresh_login(&context) {
        return Ok(prompt);
    }
    account_page(&context, &session, StatusCode::OK, None).await
}

async fn account_page(
    context: &RequestContext,
    session: &ActiveSession,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let service = &context.state().service;
    let factors = service.second_factors(session.user.id).await?;
    let enrolment = (!factors.totp).then(|| {
        let enrolment = service.begin_totp_enrolment(session);
        serde_json::json!({
            "qr_svg": qr_svg(&enrolment.uri),
            "secret": enrolment.secret.base32(),
            "form_value": enrolment.form_value,
        })
    });
    Ok(render(
        context,
        status,
        "account_2fa.html",
        serde_json::json!({
            "totp": factors.totp,
            "recovery_codes_left": factors.recovery_codes,
            "enrolment": enrolment,
            "error": error,
        }),
    ))
}

fn recovery_codes_page(context: &RequestContext, codes: &[RecoveryCode]) -> Response {
    let codes: Vec<&str> = codes.iter().map(RecoveryCode::as_str).collect();
    render(
        context,
        StatusCode::OK,
        "recovery_codes.html",
        serde_json::json!({ "codes": codes }),
    )
}

/// Fields of the enrolment form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EnableForm {
    enrolment: String,
    code: String,
    csrf_token: Option<String>,
}

/// `POST /account/2fa/enable` (recent login): a code from the app confirms the enrolment;
/// the recovery codes are shown once.
pub(crate) async fn enable(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<EnableForm>,
) -> Result<Response, AppError> {
    if let Some(prompt) = needs_fresh_login(&context) {
        return Ok(prompt);
    }
    let outcome = context
        .state()
        .service
        .confirm_totp_enrolment(&session, &form.enrolment, &form.code, context.client())
        .await?;
    match outcome {
        TotpConfirmation::Enabled(codes) => Ok(recovery_codes_page(&context, &codes)),
        TotpConfirmation::WrongCode => {
            account_page(
                &context,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("That code does not match: scan the new QR code and try again."),
            )
            .await
        }
        TotpConfirmation::Expired => {
            account_page(
                &context,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("That form is too old: scan the new QR code and try again."),
            )
            .await
        }
    }
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PlainForm {
    csrf_token: Option<String>,
}

/// `POST /account/2fa/disable` (recent login): the authenticator app and recovery codes go.
pub(crate) async fn disable(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(_): CsrfForm<PlainForm>,
) -> Result<Response, AppError> {
    if let Some(prompt) = needs_fresh_login(&context) {
        return Ok(prompt);
    }
    if context
        .state()
        .service
        .disable_totp(&session, context.client())
        .await?
    {
        context.flash(
            "success",
            "The authenticator app and the recovery codes are removed.",
        );
    }
    let back = context.state().urls.account_2fa.clone().unwrap_or_default();
    Ok(Redirect::to(&back).into_response())
}

/// `POST /account/2fa/recovery-codes` (recent login): ten new codes, shown once; the old ones
/// stop working.
pub(crate) async fn regenerate(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(_): CsrfForm<PlainForm>,
) -> Result<Response, AppError> {
    if let Some(prompt) = needs_fresh_login(&context) {
        return Ok(prompt);
    }
    match context
        .state()
        .service
        .regenerate_recovery_codes(&session, context.client())
        .await?
    {
        Some(codes) => Ok(recovery_codes_page(&context, &codes)),
        None => {
            let back = context.state().urls.account_2fa.clone().unwrap_or_default();
            Ok(Redirect::to(&back).into_response())
        }
    }
}

/// Fields of the passkey forms on the account page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PasskeyForm {
    id: String,
    name: String,
    csrf_token: Option<String>,
}

/// `POST /account/passkeys/rename`
pub(crate) async fn rename_passkey(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<PasskeyForm>,
) -> Result<Response, AppError> {
    if !context
        .state()
        .service
        .rename_passkey(&session, &form.id, &form.name)
        .await?
    {
        return Err(AppError::NotFound);
    }
    context.flash("success", "Passkey renamed.");
    let account = context.state().urls.account.clone().unwrap_or_default();
    Ok(Redirect::to(&account).into_response())
}

/// `POST /account/passkeys/remove` (recent login, or the password prompt first).
pub(crate) async fn remove_passkey(
    context: RequestContext,
    CurrentUser(session): CurrentUser,
    CsrfForm(form): CsrfForm<PasskeyForm>,
) -> Result<Response, AppError> {
    let account = context.state().urls.account.clone().unwrap_or_default();
    if let Some(prompt) = password_prompt_unless_fresh(&context, account.clone()) {
        return Ok(prompt);
    }
    if !context
        .state()
        .service
        .remove_passkey(&session, &form.id, context.client())
        .await?
    {
        return Err(AppError::NotFound);
    }
    context.flash("success", "Passkey removed.");
    Ok(Redirect::to(&account).into_response())
}

crate::extract::csrf_token_field!(CodeForm, EnableForm, PlainForm, PasskeyForm);
