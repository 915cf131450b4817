//! The HTML pages of the contract's section 4: registration, login, logout (`auth`) and the
//! account pages (`account`). Each handler translates a form into one call on the service and
//! its outcome into a page or a redirect.

pub(crate) mod account;
pub(crate) mod auth;
pub(crate) mod email;
pub(crate) mod second_factor;
pub(crate) mod tokens;

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
    let mut response = render_page(
        context,
        status,
        template,
        minijinja::Value::from_serialize(&extra),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// Renders `template` with what every page shares (the user, flashes, the CSRF token, the
/// URLs, extra stylesheets) plus `extra` (a map, whose keys win).
///
/// Built for the hot path: the URLs and stylesheets are converted to template values once at
/// start ([`AppState::page_values`](crate::state::Shared::page_values)), and the CSRF token is
/// computed only if the template prints it (a page without a form checks no CSRF cookie).
pub(crate) fn render_page(
    context: &RequestContext,
    status: StatusCode,
    template: &str,
    extra: minijinja::Value,
) -> Response {
    let state = context.state();
    let flashes = context.take_flashes();
    let own = minijinja::context! {
        current_user => context.user().map(|user| minijinja::context! { username => user.username.as_str() }),
        flashes => if flashes.is_empty() { minijinja::Value::from(()) } else { minijinja::Value::from_serialize(&flashes) },
        csrf_token => minijinja::Value::from_object(LazyCsrfToken(context.clone())),
    };
    let values = minijinja::value::merge_maps([extra, own, state.page_values.clone()]);
    match state.templates.render(template, values) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => AppError::internal("template rendering failed", &error).into_response(),
    }
}

/// The page's CSRF token, computed (and its cookie set) when the template prints it.
#[derive(Debug)]
struct LazyCsrfToken(RequestContext);

impl minijinja::value::Object for LazyCsrfToken {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Plain
    }

    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.csrf_token())
    }
}

/// The password prompt coming back to `back`, unless the login is recent.
pub(crate) fn password_prompt_unless_fresh(
    context: &RequestContext,
    back: String,
) -> Option<Response> {
    if context.is_fresh() {
        return None;
    }
    let urls = &context.state().urls;
    let prompt = urls.reauthenticate.clone().unwrap_or_default();
    let query = serde_urlencoded::to_string([("next", back)]).unwrap_or_default();
    Some(axum::response::Redirect::to(&format!("{prompt}?{query}")).into_response())
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
