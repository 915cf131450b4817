//! Extractors: the logged-in user ([`CurrentUser`], and `Option<CurrentUser>` for pages that
//! only look), guards as extractors ([`FreshUser`], [`Guarded`]), page rendering ([`Page`]),
//! and CSRF-checked forms for Wristband's own pages.

use crate::error::AppError;
use crate::guard::Rejection;
use crate::request::RequestContext;
use auth_core::guard::{FreshLogin, RouteGuard};
use auth_core::service::ActiveSession;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The logged-in user and their session. As an extractor it requires a login: an anonymous
/// request to a page is redirected (303) to the login page with `next`; an API request, or
/// one that accepts only JSON, gets a 401 problem document. Use `Option<CurrentUser>` on
/// pages that only look.
///
/// ```
/// use axum::{Router, routing::get};
/// use web::CurrentUser;
///
/// async fn orders(CurrentUser(session): CurrentUser) -> String {
///     format!("Orders of {}", session.user.username)
/// }
/// async fn home(user: Option<CurrentUser>) -> String {
///     match user {
///         Some(CurrentUser(session)) => format!("Welcome back, {}", session.user.username),
///         None => "Welcome".into(),
///     }
/// }
/// let shop: Router = Router::new().route("/orders", get(orders)).route("/", get(home));
/// // then `wristband.wrap(shop)`
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser(pub ActiveSession);

fn context(parts: &Parts) -> Result<RequestContext, Rejection> {
    parts
        .extensions
        .get::<RequestContext>()
        .cloned()
        .ok_or_else(Rejection::missing_layer)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts)?;
        match context.session() {
            Some(session) => Ok(Self(session.clone())),
            None => Err(Rejection::new(
                &context,
                auth_core::guard::Denial::LoginRequired,
                parts,
            )),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(context(parts)?.session().cloned().map(Self))
    }
}

/// A logged-in user whose last password proof is within `session.fresh_for`. As an extractor
/// it sends anonymous visitors to log in and stale sessions to re-enter their password (JSON
/// clients get 401 or 403 `…/reauthentication-required`).
///
/// ```
/// use axum::{Router, routing::post};
/// use web::FreshUser;
///
/// async fn close_account(FreshUser(session): FreshUser) -> String {
///     format!("{} confirmed their password recently", session.user.username)
/// }
/// let app: Router = Router::new().route("/close", post(close_account));
/// ```
#[derive(Debug, Clone)]
pub struct FreshUser(pub ActiveSession);

impl<S: Send + Sync> FromRequestParts<S> for FreshUser {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts)?;
        let guard = FreshLogin(context.state().service.settings().fresh_for);
        guarded(&context, &guard, parts).map(Self)
    }
}

/// A logged-in user the guard `G` admits; `G` is a type, so the extractor names its rule.
///
/// ```
/// use auth_core::guard::{Access, Denial, RouteGuard, UserPredicate};
/// use axum::{Router, routing::get};
/// use web::Guarded;
///
/// #[derive(Default)]
/// struct AdminsOnly;
///
/// impl RouteGuard for AdminsOnly {
///     fn check(&self, access: &Access<'_>) -> Result<(), Denial> {
///         UserPredicate(|u: &auth_core::User| u.username.as_str() == "admin").check(access)
///     }
/// }
///
/// async fn admin(Guarded(session, _): Guarded<AdminsOnly>) -> String {
///     format!("hello, {}", session.user.username)
/// }
/// let app: Router = Router::new().route("/admin", get(admin));
/// ```
#[derive(Debug, Clone)]
pub struct Guarded<G>(pub ActiveSession, pub std::marker::PhantomData<G>);

impl<S: Send + Sync, G: RouteGuard + Default> FromRequestParts<S> for Guarded<G> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts)?;
        guarded(&context, &G::default(), parts).map(|s| Self(s, std::marker::PhantomData))
    }
}

/// The session `guard` admits, or the rejection.
fn guarded(
    context: &RequestContext,
    guard: &dyn RouteGuard,
    parts: &Parts,
) -> Result<ActiveSession, Rejection> {
    crate::guard::check(guard, context).map_err(|denial| Rejection::new(context, denial, parts))?;
    context
        .session()
        .cloned()
        .ok_or_else(|| Rejection::new(context, auth_core::guard::Denial::LoginRequired, parts))
}

/// Renders a template with the context every Wristband page shares — the current user, flash
/// messages, the CSRF token, the URLs of Wristband's pages — so an application's own pages can
/// extend `base.html` and share its navigation.
///
/// ```
/// use axum::{Router, response::Response, routing::get};
/// use web::{CurrentUser, Page};
///
/// async fn dashboard(page: Page, CurrentUser(session): CurrentUser) -> Response {
///     page.render("dashboard.html", serde_json::json!({ "username": session.user.username.as_str() }))
/// }
/// let app: Router = Router::new().route("/dashboard", get(dashboard));
/// // with `Wristband::builder(config).template("dashboard.html", "{% extends \"base.html\" %}…")`
/// ```
#[derive(Debug, Clone)]
pub struct Page(RequestContext);

impl Page {
    /// `template` rendered with `values` (fields added to the shared context), status 200.
    pub fn render(&self, template: &str, values: impl Serialize) -> Response {
        self.render_with_status(StatusCode::OK, template, values)
    }

    /// `template` rendered with `values`, answered with `status`.
    pub fn render_with_status(
        &self,
        status: StatusCode,
        template: &str,
        values: impl Serialize,
    ) -> Response {
        let extra = minijinja::Value::from_serialize(&values);
        crate::pages::render_page(&self.0, status, template, extra)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        context(parts).map(Self)
    }
}

/// A form that carries a CSRF token.
pub(crate) trait HasCsrfToken {
    /// The submitted `csrf_token` field.
    fn csrf_token(&self) -> Option<&str>;
}

/// Implements [`HasCsrfToken`] for form structs with a `csrf_token: Option<String>` field.
macro_rules! csrf_token_field {
    ($($form:ty),+ $(,)?) => {
        $(
            impl $crate::extract::HasCsrfToken for $form {
                fn csrf_token(&self) -> Option<&str> {
                    self.csrf_token.as_deref()
                }
            }
        )+
    };
}
pub(crate) use csrf_token_field;

/// A URL-encoded form body, parsed strictly, whose `csrf_token` matched the browser's CSRF
/// cookie. Rejections: 415 for another media type, 413 over the body limit, 400 for bytes that
/// are not UTF-8 or not a form, 403 for a missing or wrong token. Nothing has happened yet
/// when any of them is returned.
#[derive(Debug)]
pub(crate) struct CsrfForm<T>(pub T);

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Parses a URL-encoded body, refusing percent-escapes that decode to invalid UTF-8 (the
/// lenient decoder would silently turn them into U+FFFD and change a password).
pub(crate) fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let plus_as_space: Vec<u8> = body
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    // Separators are ASCII, so the whole body decodes to UTF-8 exactly when every field does.
    if percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8()
        .is_err()
    {
        return Err(AppError::BadRequest("The form is not valid UTF-8."));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::BadRequest("The form could not be read."))
}

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + HasCsrfToken,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_form(request.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let context = request
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .ok_or(AppError::MissingLayer)?;
        let deadline = context.state().body_timeout;
        let body = crate::body::read_whole(request, state, deadline).await?;
        let form: T = parse_form(&body)?;
        match form.csrf_token() {
            Some(token) if context.verify_csrf(token) => Ok(Self(form)),
            _ => Err(AppError::Forbidden(
                "The form has expired or did not come from this site. Go back, reload the page and try again.",
            )),
        }
    }
}
