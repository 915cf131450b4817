//! The JSON API (contract §5), mounted under its own prefix (`/api/v1` in the ready server):
//! the same use cases as the HTML pages, rendered as JSON. Errors are RFC 9457 problem
//! documents ([`problem`]).

pub(crate) mod auth;
pub(crate) mod json;
pub(crate) mod problem;
pub(crate) mod sessions;

use crate::state::AppState;
use axum::Router;
use axum::routing::{delete, get, post};
use problem::Problem;

/// The API's routes, relative to its prefix.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", post(auth::register))
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/reauthenticate", post(auth::reauthenticate))
        .route(
            "/sessions",
            get(sessions::list).delete(sessions::end_others),
        )
        .route("/sessions/{id}", delete(sessions::end_one))
        .fallback(not_found)
}

async fn not_found() -> Problem {
    Problem::not_found("No such API route.")
}
