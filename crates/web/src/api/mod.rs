//! The JSON API (contract §5), mounted under its own prefix (`/api/v1` in the ready server):
//! the same use cases as the HTML pages, rendered as JSON. Errors are RFC 9457 problem
//! documents ([`problem`]); the OpenAPI document ([`openapi`]) is generated from the routes
//! below as they are mounted.
//!
//! A new route: annotate its handler with `#[utoipa::path(METHOD, path = "/…", tag = "…",
//! operation_id = "…", request_body = Body, security(("cookie" = []), ("bearer" = [])),
//! responses((status = 200, body = Answer), (status = 401, description = "…"), …))]`, derive
//! `ToSchema` on its body and answer types, and mount it here with `.routes(routes!(handler))`
//! (handlers of one path in one `routes!`). List the statuses the handler itself answers;
//! [`openapi`] adds those of the layers (403 cross-site, the body checks, 503) and makes every
//! error a problem document.

pub(crate) mod auth;
pub(crate) mod email;
pub(crate) mod json;
pub(crate) mod openapi;
pub(crate) mod passkeys;
pub(crate) mod problem;
pub(crate) mod sessions;
pub(crate) mod tokens;

use crate::request::cookies::CookieCodec;
use crate::state::AppState;
use axum::middleware::from_fn;
use axum::{Extension, Router};
use problem::Problem;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The API's routes, relative to its prefix, each mounted from the annotation that documents
/// it; the email routes (§9) unless `account.email = "off"`.
fn routes(email: bool) -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::login_second_factor))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::reauthenticate))
        .routes(routes!(sessions::list, sessions::end_others))
        .routes(routes!(sessions::end_one))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::rename, passkeys::remove))
        .routes(routes!(passkeys::register_start))
        .routes(routes!(passkeys::register_finish))
        .routes(routes!(passkeys::login_start))
        .routes(routes!(passkeys::login_finish))
        .routes(routes!(passkeys::second_factor_start))
        .routes(routes!(passkeys::second_factor_finish))
        .routes(routes!(openapi::openapi_json));
    let routes = if email {
        routes
            .routes(routes!(email::request_reset))
            .routes(routes!(email::confirm_reset))
            .routes(routes!(email::change))
            .routes(routes!(email::verify))
    } else {
        routes
    };
    routes.fallback(not_found)
}

/// The API under `prefix`, and its OpenAPI document (built here, once) at
/// `{prefix}/openapi.json`, listing exactly the routes mounted.
pub(crate) fn router(prefix: &str, email: bool, cookies: &CookieCodec) -> Router<AppState> {
    let api = routes(email).layer(from_fn(json::require_json_bodies));
    let (router, document) = OpenApiRouter::new().nest(prefix, api).split_for_parts();
    router.layer(Extension(openapi::Document::new(document, cookies)))
}

async fn not_found() -> Problem {
    Problem::not_found("No such API route.")
}
