//! The HTML pages of the contract's section 4: registration, login, logout (`auth`) and the
//! account pages (`account`). Each handler translates a form into one call on the service and
//! its outcome into a page or a redirect.

pub(crate) mod account;
pub(crate) mod auth;

use crate::error::AppError;
use crate::request::RequestContext;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

/// Renders one of Wristband's own pages: [`render_page`] marked `Cache-Control: no-store`, since
/// each carries a CSRF token and its forms echo what was typed.
pub(crate) fn render(
    context: &RequestContext,
    status: StatusCode,
    template: &str,
    extra: serde_json::Value,
) -> Response {
    let mut response = render_page(context, status, template, extra);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// Renders `template` with what every page shares (the user, flashes, the CSRF token, the
/// URLs, extra stylesheets) plus `extra` (a JSON object).
pub(crate) fn render_page(
    context: &RequestContext,
    status: StatusCode,
    template: &str,
    extra: serde_json::Value,
) -> Response {
    let state = context.state();
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
    values.insert(
        "urls".into(),
        serde_json::to_value(&state.urls).unwrap_or_default(),
    );
    values.insert(
        "stylesheets".into(),
        serde_json::to_value(&state.stylesheets).unwrap_or_default(),
    );
    if let serde_json::Value::Object(extra) = extra {
        values.extend(extra);
    }
    match state.templates.render(template, values) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => AppError::internal("template rendering failed", &error).into_response(),
    }
}

/// `?next=` on a page that sends the visitor on afterwards.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

impl NextQuery {
    /// The `next` of `uri`'s query, if it is a local path; a malformed query is ignored.
    pub fn safe_next(uri: &axum::http::Uri) -> Option<String> {
        let query: Self = uri
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        query
            .next
            .as_deref()
            .and_then(crate::redirect::safe_next)
            .map(str::to_owned)
    }
}
