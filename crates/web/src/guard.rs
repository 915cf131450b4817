//! Route guards for axum: `auth_core`'s guard values as a layer on a group of routes, and as
//! extractors on a single handler.
//!
//! ```no_run
//! use auth_core::guard::{FreshLogin, LoginRequired, UserPredicate};
//! use axum::{Router, routing::get};
//! use std::time::Duration;
//! use web::guard::RequireLayer;
//!
//! let members: Router<web::AppState> = Router::new()
//!     .route("/members", get(|| async { "members only" }))
//!     .layer(RequireLayer::new(LoginRequired));
//! let admin: Router<web::AppState> = Router::new()
//!     .route("/admin", get(|| async { "admins only" }))
//!     .layer(RequireLayer::new(UserPredicate(|u: &auth_core::User| u.username.as_str() == "admin")))
//!     .layer(RequireLayer::new(FreshLogin(Duration::from_secs(300))));
//! ```
//!
//! A denial becomes: a redirect to `/login?next=…` (anonymous), a redirect to
//! `/reauthenticate?next=…` (login too old; JSON clients get 403 with a
//! `…/reauthentication-required` problem), or 403.

use crate::context::RequestContext;
use crate::error::AppError;
use crate::extract::{LoginRedirect, next_target};
use crate::sessions::ActiveSession;
use auth_core::guard::{Access, Denial, FreshLogin, RouteGuard};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use time::OffsetDateTime;

/// Runs `guard` for a request whose browser context is `context`.
pub fn check(guard: &dyn RouteGuard, context: &RequestContext) -> Result<(), Denial> {
    let session = context.session();
    guard.check(&Access {
        user: session.map(|s| &s.user),
        authenticated_at: session.map(|s| s.authenticated_at),
        now: OffsetDateTime::now_utc(),
    })
}

/// The response for a denial of a request to `next`.
pub fn denial_response(denial: Denial, next: &str) -> Response {
    match denial {
        Denial::LoginRequired => LoginRedirect::new(next).into_response(),
        Denial::ReauthenticationRequired => {
            let mut response = Redirect::to(&format!("/reauthenticate?next={}", next_target(next)))
                .into_response();
            // JSON clients cannot follow a form: they get the problem document instead.
            response.extensions_mut().insert(ReauthenticationRedirect);
            response
        }
        Denial::Forbidden => {
            AppError::Forbidden("You are not allowed to see this page.").into_response()
        }
    }
}

/// Marks a redirect to the re-authentication page (see [`crate::error`]).
#[derive(Debug, Clone, Copy)]
pub struct ReauthenticationRedirect;

/// A layer that runs a guard before every route it wraps.
#[derive(Clone)]
pub struct RequireLayer {
    guard: Arc<dyn RouteGuard>,
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
        let Some(context) = request.extensions().get::<RequestContext>() else {
            let response = AppError::Internal("a guard runs outside the browser context layer")
                .into_response();
            return Box::pin(async move { Ok(response) });
        };
        match check(self.guard.as_ref(), context) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(denial) => {
                let next = request
                    .uri()
                    .path_and_query()
                    .map_or("/", |pq| pq.as_str())
                    .to_owned();
                let response = denial_response(denial, &next);
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

/// A logged-in user whose last password proof is within `session.fresh_for`. As an extractor
/// it redirects anonymous visitors to log in and stale sessions to re-enter their password.
#[derive(Debug, Clone)]
pub struct FreshUser(pub ActiveSession);

impl<S: Send + Sync> FromRequestParts<S> for FreshUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let guard = FreshLogin(context.fresh_for());
        guarded(&context, &guard)
            .map(Self)
            .map_err(|denial| deny(parts, denial))
    }
}

/// A logged-in user the guard `G` admits; `G` is a type, so the extractor names its rule:
/// `Guarded<AdminsOnly>` with `#[derive(Default)] struct AdminsOnly;` implementing
/// [`RouteGuard`].
#[derive(Debug, Clone)]
pub struct Guarded<G>(pub ActiveSession, pub std::marker::PhantomData<G>);

impl<S: Send + Sync, G: RouteGuard + Default> FromRequestParts<S> for Guarded<G> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        guarded(&context, &G::default())
            .map(|s| Self(s, std::marker::PhantomData))
            .map_err(|denial| deny(parts, denial))
    }
}

/// The session `guard` admits, or why not.
fn guarded(context: &RequestContext, guard: &dyn RouteGuard) -> Result<ActiveSession, Denial> {
    check(guard, context)?;
    context.session().cloned().ok_or(Denial::LoginRequired)
}

fn deny(parts: &Parts, denial: Denial) -> Response {
    denial_response(
        denial,
        parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
    )
}
