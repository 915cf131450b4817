//! Route guards on axum routes: `auth_core`'s guard values as a layer on a group of routes
//! ([`RequireLayer`]), and the typed [`Rejection`] every guard and extractor answers with.
//!
//! A denial becomes, for a page: a redirect to the login page with `next` (anonymous), a
//! redirect to the password prompt with `next` (login too old), or 403. For an API route, or a
//! request that accepts only JSON: a 401 problem document, a 403 `…/reauthentication-required`
//! problem, or a 403 problem.

use crate::error::AppError;
use crate::request::RequestContext;
use auth_core::guard::{Access, Denial, RouteGuard};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use time::OffsetDateTime;

/// Characters escaped in a `next` query value; `/` stays readable (`?next=/dashboard`).
const NEXT_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Runs `guard` for a request whose browser context is `context`.
pub(crate) fn check(guard: &dyn RouteGuard, context: &RequestContext) -> Result<(), Denial> {
    let session = context.session();
    guard.check(&Access {
        user: session.map(|s| &s.user),
        authenticated_at: session.map(|s| s.authenticated_at),
        now: OffsetDateTime::now_utc(),
    })
}

/// Why a guard or an extractor refused a request; as a response it is a redirect for pages
/// and a problem document for the API and for clients that accept only JSON.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use tower::ServiceExt;
/// use web::{CurrentUser, Rejection};
/// # let dir = tempfile::tempdir()?;
/// # let mut config = web::Config::new(web::config::Profile::Development)?;
/// # config.settings.database.url = format!("sqlite://{}", dir.path().join("app.db").display());
/// # let wristband = web::Wristband::builder(config).start().await?;
///
/// // A handler may take the rejection into its own hands.
/// async fn orders(user: Result<CurrentUser, Rejection>) -> Result<String, Rejection> {
///     Ok(format!("Orders of {}", user?.0.user.username))
/// }
/// let app = wristband.wrap(Router::new().route("/orders", get(orders)));
/// let page = app.clone().oneshot(Request::get("/orders").body(Body::empty())?).await?;
/// assert_eq!(page.status(), StatusCode::SEE_OTHER);
/// let json = app
///     .oneshot(Request::get("/orders").header("accept", "application/json").body(Body::empty())?)
///     .await?;
/// assert_eq!(json.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(json.headers()["content-type"], "application/problem+json");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Rejection(Box<Response>);

impl Rejection {
    /// The answer to `denial` for the request of `parts`.
    pub(crate) fn new(context: &RequestContext, denial: Denial, parts: &Parts) -> Self {
        Self(Box::new(denial_response(
            context,
            denial,
            &return_target(parts),
        )))
    }

    pub(crate) fn missing_layer() -> Self {
        Self(Box::new(AppError::MissingLayer.into_response()))
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// Where to come back to after logging in: the request's path and query for a GET (a POST
/// cannot be replayed by a link, so it returns to the site's home).
fn return_target(parts: &Parts) -> String {
    if parts.method == axum::http::Method::GET {
        parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned()
    } else {
        "/".to_owned()
    }
}

fn with_next(page: &str, next: &str) -> String {
    format!("{page}?next={}", utf8_percent_encode(next, NEXT_VALUE))
}

/// The response for `denial` of a request that should come back to `next`.
fn denial_response(context: &RequestContext, denial: Denial, next: &str) -> Response {
    let urls = &context.state().urls;
    let json = context.wants_json();
    match denial {
        Denial::LoginRequired => match &urls.login {
            Some(login) if !json => Redirect::to(&with_next(login, next)).into_response(),
            _ => AppError::Unauthorized.into_response(),
        },
        Denial::ReauthenticationRequired => match &urls.reauthenticate {
            Some(prompt) if !json => Redirect::to(&with_next(prompt, next)).into_response(),
            _ => AppError::ReauthenticationRequired.into_response(),
        },
        Denial::Forbidden => {
            AppError::Forbidden("You are not allowed to see this page.").into_response()
        }
    }
}

/// A layer that runs a guard before every route it wraps.
///
/// ```
/// use auth_core::guard::{FreshLogin, LoginRequired, UserPredicate};
/// use axum::{Router, routing::get};
/// use std::time::Duration;
/// use web::RequireLayer;
///
/// let members: Router = Router::new()
///     .route("/members", get(|| async { "members only" }))
///     .layer(RequireLayer::new(LoginRequired));
/// let admin: Router = Router::new()
///     .route("/admin", get(|| async { "admins only" }))
///     .layer(RequireLayer::new(UserPredicate(|u: &auth_core::User| u.username.as_str() == "admin")))
///     .layer(RequireLayer::new(FreshLogin(Duration::from_secs(300))));
/// ```
#[derive(Clone)]
pub struct RequireLayer {
    guard: Arc<dyn RouteGuard>,
}

impl std::fmt::Debug for RequireLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireLayer").finish_non_exhaustive()
    }
}

impl RequireLayer {
    /// Wraps routes in `guard`.
    pub fn new(guard: impl RouteGuard) -> Self {
        Self {
            guard: Arc::new(guard),
        }
    }
}

impl<S> tower::Layer<S> for RequireLayer {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            guard: Arc::clone(&self.guard),
        }
    }
}

/// The service [`RequireLayer`] makes.
#[derive(Clone)]
pub struct RequireService<S> {
    inner: S,
    guard: Arc<dyn RouteGuard>,
}

impl<S> std::fmt::Debug for RequireService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireService").finish_non_exhaustive()
    }
}

impl<S> tower::Service<Request> for RequireService<S>
where
    S: tower::Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Some(context) = request.extensions().get::<RequestContext>().cloned() else {
            let response = AppError::MissingLayer.into_response();
            return Box::pin(async move { Ok(response) });
        };
        match check(self.guard.as_ref(), &context) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(denial) => {
                let (parts, _) = request.into_parts();
                let response = Rejection::new(&context, denial, &parts).into_response();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}
