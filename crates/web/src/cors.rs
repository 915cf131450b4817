//! CORS for the JSON API: only the origins of `server.cors_origins`, with credentials, and no
//! `Access-Control-Allow-*` header at all for any other origin.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The CORS layer for the listed origins; `None` when the list is empty.
pub(crate) fn layer(state: &AppState) -> Option<CorsLayer> {
    if state.cors_origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(state.cors_origins.clone()))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::CONTENT_TYPE]),
    )
}

/// Outside the CORS layer: removes every `Access-Control-Allow-*` header from answers to
/// requests whose `Origin` is not listed (the layer sends `…-Allow-Credentials` to anyone).
pub(crate) async fn only_for_listed_origins(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let listed = request
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|origin| state.cors_origins.contains(origin));
    let mut response = next.run(request).await;
    if !listed {
        let names: Vec<_> = response
            .headers()
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-allow-"))
            .cloned()
            .collect();
        for name in names {
            response.headers_mut().remove(name);
        }
    }
    response
}
