//! The router: Wristband's routes where the application mounted them, the application's own
//! routes, and the layers every request passes through.
//!
//! Outermost first: tracing span → request latency (with `metrics.bind` set) → security
//! headers → error-page rendering → body limit → cross-site refusal → browser context
//! (session, CSRF, flashes) → handler. Static files skip
//! the browser context: they need no session.

use crate::error_pages::render_error_pages;
use crate::request::browser_context;
use crate::request::csrf::same_origin_guard;
use crate::state::AppState;
use crate::{api, cors, health, pages, static_files};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

/// No inline script or style anywhere: the pages use only their static files, and the
/// passkey script calls the site's own JSON API (`connect-src 'self'`).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn pages(prefix: &str, email: bool, api: bool) -> Router<AppState> {
    let mut routes = Router::new()
        .route(
            "/register",
            get(pages::auth::register_form).post(pages::auth::register),
        )
        .route(
            "/login",
            get(pages::auth::login_form).post(pages::auth::login),
        )
        .route(
            "/logout",
            get(pages::auth::logout_page).post(pages::auth::logout),
        )
        .route("/account", get(pages::account::show))
        .route("/account/sessions/revoke", post(pages::account::revoke))
        .route("/account/password", post(pages::account::change_password))
        .route(
            "/reauthenticate",
            get(pages::account::reauthenticate_form).post(pages::account::reauthenticate),
        )
        .route(
            "/login/2fa",
            get(pages::second_factor::login_form).post(pages::second_factor::login),
        )
        .route("/account/2fa", get(pages::second_factor::show))
        .route("/account/2fa/enable", post(pages::second_factor::enable))
        .route("/account/2fa/disable", post(pages::second_factor::disable))
        .route(
            "/account/2fa/recovery-codes",
            post(pages::second_factor::regenerate),
        )
        .route(
            "/account/passkeys/rename",
            post(pages::second_factor::rename_passkey),
        )
        .route(
            "/account/passkeys/remove",
            post(pages::second_factor::remove_passkey),
        );
    if api {
        routes = routes
            .route(
                "/account/tokens",
                get(pages::tokens::show).post(pages::tokens::create),
            )
            .route("/account/tokens/revoke", post(pages::tokens::revoke));
    }
    if email {
        routes = routes
            .route(
                "/forgot-password",
                get(pages::email::forgot_password_form).post(pages::email::forgot_password),
            )
            .route(
                "/reset-password",
                get(pages::email::reset_password_form).post(pages::email::reset_password),
            )
            .route(
                "/verify-email",
                get(pages::email::verify_email_form).post(pages::email::verify_email),
            )
            .route("/account/email", post(pages::email::change_email));
    }
    if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(prefix, routes)
    }
}

fn static_files(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{prefix}/static/app.css"),
            get(static_files::stylesheet),
        )
        .route(
            &format!("{prefix}/static/password-toggle.js"),
            get(static_files::password_toggle_script),
        )
        .route(
            &format!("{prefix}/static/passkeys.js"),
            get(static_files::passkeys_script),
        )
}

/// Wristband's routes plus `app` (an application's own routes, its state applied), all behind
/// Wristband's layers.
pub(crate) fn router(state: &AppState, app: Router) -> Router {
    let mounts = &state.mounts;
    let email = state.service.email_policy() != auth_core::EmailPolicy::Off;
    let mut wristband: Router<AppState> = Router::new();
    if let Some(prefix) = &mounts.pages {
        wristband = wristband.merge(pages(prefix, email, mounts.api.is_some()));
    }
    if let Some(prefix) = &mounts.api {
        let mut api = api::router(prefix, email, &state.cookies);
        if let Some(cors) = cors::layer(state) {
            api = api.layer(cors).layer(from_fn_with_state(
                state.clone(),
                cors::only_for_listed_origins,
            ));
        }
        wristband = wristband.merge(api);
    }
    if let Some(path) = &mounts.health {
        wristband = wristband.route(path, get(health::health));
    }
    let with_sessions = app
        .merge(wristband.with_state(state.clone()))
        .layer(from_fn_with_state(state.clone(), browser_context));
    let assets: Router = match &mounts.pages {
        Some(prefix) => static_files(prefix).with_state(state.clone()),
        None => Router::new(),
    };
    let mut router = with_sessions
        .merge(assets)
        .layer(from_fn_with_state(state.clone(), same_origin_guard))
        .layer(DefaultBodyLimit::max(state.body_limit))
        .layer(RequestBodyLimitLayer::new(state.body_limit))
        // A body must arrive within `server.body_timeout`; the extractors answer 408.
        .layer(RequestBodyTimeoutLayer::new(state.body_timeout))
        // Outside the body limit, so its bare 413 becomes a page or a problem document too.
        .layer(from_fn_with_state(state.clone(), render_error_pages))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::REFERRER_POLICY, "same-origin"))
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ));
    if state.cookies.secure() {
        router = router.layer(header_layer(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ));
    }
    if let Some(metrics) = &state.metrics {
        // Outside every layer of Wristband's own, so it times all of it; inside tracing.
        router = router.layer(from_fn_with_state(
            metrics.recorder.clone(),
            crate::metrics::record_request,
        ));
    }
    router.layer(
        TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            // The path only: query strings may carry values nobody should find in a log.
            tracing::info_span!("request", method = %request.method(), path = request.uri().path())
        }),
    )
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}
