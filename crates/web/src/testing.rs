//! Helpers for an application's own tests (feature `testing`): a user and a logged-in cookie in
//! one call, without the login form.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use tower::ServiceExt;
//! use web::CurrentUser;
//! # let dir = tempfile::tempdir()?;
//! # let mut config = web::Config::new(web::config::Profile::Test)?;
//! # config.settings.database.url = format!("sqlite://{}", dir.path().join("app.db").display());
//! # let wristband = web::Wristband::builder(config).start().await?;
//! let app = wristband.wrap(Router::new().route(
//!     "/orders",
//!     get(|CurrentUser(s): CurrentUser| async move { format!("Orders of {}", s.user.username) }),
//! ));
//! let login = web::testing::log_in(&wristband, "grace").await?;
//! let request = Request::get("/orders").header("cookie", &login.cookie).body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! let body = axum::body::to_bytes(response.into_body(), 1024).await?;
//! assert_eq!(body, "Orders of grace");
//! // For a form of Wristband's, send ("csrf_token", login.csrf_token) with the same cookie.
//! # Ok(()) }
//! ```

use crate::Wristband;
use crate::request::cookies::CookieKind;
use crate::request::csrf;
use auth_core::service::Registration;
use auth_core::{Client, SecretString, ServiceError, User, Username};
use time::OffsetDateTime;

/// A logged-in test user.
#[derive(Debug, Clone)]
pub struct TestLogin {
    /// The user.
    pub user: User,
    /// A `Cookie` header value carrying the session (and a CSRF secret).
    pub cookie: String,
    /// The CSRF token that goes with `cookie`, for Wristband's forms.
    pub csrf_token: String,
}

/// Why a test login failed.
#[derive(Debug, thiserror::Error)]
pub enum TestLoginError {
    /// The name is not a valid username.
    #[error("invalid test username")]
    Username(#[source] auth_core::UsernameError),
    /// The user was created or deleted by someone else at the same moment.
    #[error("the test user was created or deleted concurrently")]
    Raced,
    /// The service failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Creates `username` (with a random password) unless it exists, starts a session for them,
/// and returns the cookie a request needs to be logged in as them.
pub async fn log_in(wristband: &Wristband, username: &str) -> Result<TestLogin, TestLoginError> {
    let service = wristband.service();
    let name = Username::parse(username).map_err(TestLoginError::Username)?;
    let user = match service.find_user(&name).await? {
        Some(user) => user,
        None => {
            let password = SecretString::new(hex_password());
            match service
                .register(username, &password, None, &Client::command_line())
                .await?
            {
                Registration::Created(user) => user,
                // The name is valid and the password random: only a concurrent creation (or
                // deletion) gets here.
                Registration::Invalid(_) | Registration::Taken | Registration::EmailTaken => {
                    service
                        .find_user(&name)
                        .await?
                        .ok_or(TestLoginError::Raced)?
                }
            }
        }
    };
    let session = service
        .start_test_session(user.clone(), OffsetDateTime::now_utc())
        .await?;
    let state = &wristband.state;
    let credential = service
        .session_credential(&session)
        .map_err(ServiceError::from)?;
    let session_cookie = state.cookies.set(CookieKind::Session, &credential, None);
    let secret = auth_core::keys::random_secret();
    let csrf_cookie = state
        .cookies
        .set(CookieKind::Csrf, &csrf::encode_secret(&secret), None);
    Ok(TestLogin {
        user,
        cookie: format!(
            "{}={}; {}={}",
            session_cookie.name(),
            session_cookie.value(),
            csrf_cookie.name(),
            csrf_cookie.value()
        ),
        csrf_token: csrf::token_for(state, &secret, session.id.as_str()),
    })
}

fn hex_password() -> String {
    let bytes = auth_core::keys::random_secret();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
