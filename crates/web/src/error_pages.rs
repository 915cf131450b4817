//! Renders error responses: `error.html` for browsers, an RFC 9457 problem document for the
//! API and for clients that accept only JSON.

use crate::api::problem::ProblemDocument;
use crate::error::{AppError, ErrorPage};
use crate::request::prefers_json;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// An RFC 9457 problem document for `status`.
fn problem(status: StatusCode, page: &ErrorPage) -> ProblemDocument {
    ProblemDocument::new(status, page.title, page.detail, None)
}

/// A bare 404 or 405 from the router itself (no route matched, the app set no fallback): no
/// content type, no body.
fn is_bare_router_answer(response: &Response) -> bool {
    matches!(
        response.status(),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) && !response.headers().contains_key(header::CONTENT_TYPE)
}

/// The middleware: replaces the body of every response carrying an [`ErrorPage`].
pub(crate) async fn render_error_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let wants_json = prefers_json(request.headers()) || state.is_api_path(request.uri().path());
    let mut response = next.run(request).await;
    if response.extensions().get::<ErrorPage>().is_none() {
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
            // The body-limit layer answers before any handler, with a bare response.
            response = replace_status_page(response, AppError::PayloadTooLarge);
        } else if is_bare_router_answer(&response) {
            let error = if response.status() == StatusCode::NOT_FOUND {
                AppError::NotFound
            } else {
                AppError::BadRequest("This address does not take that method.")
            };
            response = replace_status_page(response, error);
        }
    }
    let Some(page) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    let status = response.status();
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    // An error page may concern a logged-in request or echo one; caching it helps nobody.
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if wants_json {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let body = axum::Json(problem(status, &page))
            .into_response()
            .into_body();
        return Response::from_parts(parts, body);
    }
    let context = minijinja::context! {
        status => status.as_u16(),
        title => page.title,
        detail => page.detail,
        current_user => (),
        flashes => Vec::<()>::new(),
        csrf_token => "",
        urls => &state.urls,
        stylesheets => &state.stylesheets,
    };
    match state.templates.render("error.html", context) {
        Ok(html) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Response::from_parts(parts, Html(html).into_response().into_body())
        }
        Err(error) => {
            tracing::error!(error = %auth_core::service::error_chain(&error), "cannot render the error page");
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            Response::from_parts(
                parts,
                Body::from(format!("{}: {}", page.title, page.detail)),
            )
        }
    }
}

/// `response` with the page of `error`, keeping the status and headers the layer set.
fn replace_status_page(response: Response, error: AppError) -> Response {
    let (parts, body) = response.into_parts();
    let mut replaced = Response::from_parts(parts, body);
    replaced.extensions_mut().insert(error.parts().1);
    replaced
}
