//! The JSON API (contract §5), mounted under its own prefix (`/api/v1` in the ready server):
//! the same use cases as the HTML pages, rendered as JSON. Errors are RFC 9457 problem
//! documents ([`problem`]).

pub(crate) mod auth;
pub(crate) mod email;
pub(crate) mod json;
pub(crate) mod passkeys;
pub(crate) mod problem;
pub(crate) mod sessions;
pub(crate) mod tokens;

use crate::state::AppState;
use axum::Router;
use axum::routing::{delete, get, patch, post, put};
use problem::Problem;

/// The API's routes, relative to its prefix; the email routes (§9) unless
/// `account.email = "off"`.
pub(crate) fn routes(email: bool) -> Router<AppState> {
    let routes = Router::new()
        .route("/register", post(auth::register))
        .route("/login", post(auth::login))
        .route("/login/2fa", post(auth::login_second_factor))
        .route("/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/reauthenticate", post(auth::reauthenticate))
        .route(
            "/sessions",
            get(sessions::list).delete(sessions::end_others),
        )
        .route("/sessions/{id}", delete(sessions::end_one))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/passkeys", get(passkeys::list))
        .route(
            "/passkeys/{id}",
            patch(passkeys::rename).delete(passkeys::remove),
        )
        .route("/passkeys/register/start", post(passkeys::register_start))
        .route("/passkeys/register/finish", post(passkeys::register_finish))
        .route("/passkeys/login/start", post(passkeys::login_start))
        .route("/passkeys/login/finish", post(passkeys::login_finish))
        .route("/passkeys/2fa/start", post(passkeys::second_factor_start))
        .route("/passkeys/2fa/finish", post(passkeys::second_factor_finish));
    let routes = if email {
        routes
            .route("/password-reset", post(email::request_reset))
            .route("/password-reset/confirm", post(email::confirm_reset))
            .route("/me/email", put(email::change))
            .route("/me/email/verify", post(email::verify))
    } else {
        routes
    };
    routes.fallback(not_found)
}

async fn not_found() -> Problem {
    Problem::not_found("No such API route.")
}
