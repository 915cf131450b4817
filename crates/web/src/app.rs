//! The router: routes, and the layers every request passes through.
//!
//! Outermost first: tracing span → security headers → error-page rendering → body limit →
//! cross-site refusal → browser context (session, CSRF, flashes) → handler. Static files skip
//! the browser context: they need no session.

use crate::context::browser_context;
use crate::csrf::same_origin_guard;
use crate::error::render_error_pages;
use crate::state::AppState;
use crate::{account, api, pages, static_files};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// No inline script or style anywhere: the pages use only `/static/*`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How long `/healthz` waits for the database before answering 503.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// The whole application.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// Wristband's routes plus `extra` (an embedding application's own routes, with its own state
/// already applied), all behind Wristband's layers, so `extra`'s handlers can use
/// [`crate::extract::CurrentUser`], the guards of [`crate::guard`] and CSRF-checked forms.
pub fn router_with(state: AppState, extra: Router) -> Router {
    let html: Router = Router::new()
        .route("/", get(pages::home))
        .route("/register", get(pages::register_form).post(pages::register))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/dashboard", get(pages::dashboard))
        .route("/logout", get(pages::logout_page).post(pages::logout))
        .route("/account", get(account::show))
        .route("/account/sessions/revoke", post(account::revoke))
        .route("/account/password", post(account::change_password))
        .route(
            "/reauthenticate",
            get(account::reauthenticate_form).post(account::reauthenticate),
        )
        .with_state(state.clone());
    let mut api: Router = Router::new()
        .nest(
            "/api/v1",
            api::routes().layer(from_fn(api::require_json_bodies)),
        )
        .with_state(state.clone());
    if let Some(cors) = cors_layer(&state) {
        api = api.layer(cors);
    }
    let with_sessions = html
        .merge(api)
        .merge(extra)
        .fallback(pages::not_found)
        .layer(from_fn_with_state(state.clone(), browser_context));
    let assets: Router = Router::new()
        .route("/healthz", get(health))
        .route("/static/app.css", get(static_files::stylesheet))
        .route(
            "/static/password-toggle.js",
            get(static_files::password_toggle_script),
        )
        .with_state(state.clone());
    let secure = state.cookie_names().secure;
    let body_limit = state.0.body_limit;
    let mut app = with_sessions
        .merge(assets)
        .layer(from_fn_with_state(state.clone(), same_origin_guard))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        // Outside the body limit, so its bare 413 becomes a page or a problem document too.
        .layer(from_fn_with_state(state.clone(), render_error_pages))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::REFERRER_POLICY, "same-origin"))
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ));
    if secure {
        app = app.layer(header_layer(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ));
    }
    app.layer(
        TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            // The path only: query strings may carry values nobody should find in a log.
            tracing::info_span!("request", method = %request.method(), path = request.uri().path())
        }),
    )
}

/// CORS for the API, only for `server.cors_origins` (credentials allowed for those alone);
/// `None` when the list is empty, so no `Access-Control-Allow-*` header is ever sent.
fn cors_layer(state: &AppState) -> Option<CorsLayer> {
    let origins = state.0.cors_origins.clone();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::CONTENT_TYPE]),
    )
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// `GET /healthz`: 200 when the database answers, else 503.
async fn health(State(app): State<AppState>) -> Response {
    let answer = tokio::time::timeout(HEALTH_TIMEOUT, app.store().ping()).await;
    match answer {
        Ok(Ok(())) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: database unavailable");
            unavailable()
        }
        Err(_) => {
            tracing::warn!("health check: database timed out");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        axum::Json(serde_json::json!({"status": "unavailable"})),
    )
        .into_response()
}
