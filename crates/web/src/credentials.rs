//! Checking a username and password: one implementation for login, re-authentication and
//! password change (and the JSON API), throttled, with the same cost for unknown users.

use crate::context::RequestContext;
use crate::error::AppError;
use crate::sessions::ActiveSession;
use crate::state::AppState;
use crate::throttle::LoginAttempt;
use auth_core::{HashError, PasswordHasher, SecretString, User, UserId, Username, Verification};
use std::net::IpAddr;
use time::OffsetDateTime;

/// What a credential check found.
#[derive(Debug)]
pub enum CredentialCheck {
    /// The password is right.
    Valid {
        /// Whose it is.
        user: User,
    },
    /// Unknown user or wrong password; `user_id` is known only for the second, for the log.
    Invalid {
        /// The user, when the name exists.
        user_id: Option<UserId>,
    },
}

/// Checks `password` for the name typed as `raw_username`, from `client`: refused with 429
/// while throttled; otherwise exactly one hash verification (against a dummy hash for unknown
/// names). A right password whose hash is not Argon2id at the current parameters gets a new
/// hash (upgrade on login).
pub async fn check(
    app: &AppState,
    raw_username: &str,
    password: &SecretString,
    client: Option<IpAddr>,
) -> Result<CredentialCheck, AppError> {
    let attempt = LoginAttempt::begin(app, raw_username, client).await?;
    match verify(app, raw_username, password).await {
        Ok(outcome @ CredentialCheck::Valid { .. }) => {
            attempt.succeeded(app).await?;
            Ok(outcome)
        }
        Ok(outcome @ CredentialCheck::Invalid { .. }) => {
            attempt.failed();
            Ok(outcome)
        }
        Err(error) => {
            attempt.abandon(app).await;
            Err(error)
        }
    }
}

async fn verify(
    app: &AppState,
    raw_username: &str,
    password: &SecretString,
) -> Result<CredentialCheck, AppError> {
    let credentials = match Username::parse(raw_username) {
        Ok(username) => app.0.store.find_credentials(&username).await?,
        Err(_) => None,
    };
    let Some(credentials) = credentials else {
        // Unknown user: the same hashing work as a wrong password, so timing tells nothing.
        app.0.hasher.verify_dummy(password).await?;
        return Ok(CredentialCheck::Invalid { user_id: None });
    };
    let user = credentials.user;
    let verification = match app
        .0
        .hasher
        .verify(password, &credentials.password_hash)
        .await
    {
        Ok(v) => v,
        Err(HashError::UnsupportedHash) => {
            tracing::error!(user_id = %user.id, "stored password hash is unreadable");
            // Same cost as any other failure.
            app.0.hasher.verify_dummy(password).await?;
            Verification::Mismatch
        }
        Err(other) => return Err(other.into()),
    };
    match verification {
        Verification::Mismatch => Ok(CredentialCheck::Invalid {
            user_id: Some(user.id),
        }),
        Verification::Match { needs_rehash } => {
            if needs_rehash {
                upgrade_hash(app, &user, password).await;
            }
            Ok(CredentialCheck::Valid { user })
        }
    }
}

/// Logs a failed credential check: the user id when the name exists, the (escaped) name as
/// typed when it does not.
pub fn log_failure(user_id: Option<UserId>, raw_username: &str, client: Option<IpAddr>) {
    match user_id {
        Some(user_id) => {
            tracing::info!(event = "login.failure", reason = "wrong password", %user_id, client = ?client, "login failed");
        }
        None => {
            tracing::info!(event = "login.failure", reason = "unknown user", username = ?raw_username, client = ?client, "login failed");
        }
    }
}

/// Logs `user` in on this request: ends any session the browser already had (a new session id
/// at every login), starts a new one, and queues its cookie (rotating the CSRF secret).
pub async fn log_in(
    app: &AppState,
    context: &RequestContext,
    user: User,
    remember: bool,
) -> Result<ActiveSession, AppError> {
    if let Some(previous) = context.session() {
        app.0.sessions.end(previous).await?;
    }
    let session = app
        .0
        .sessions
        .start(
            user,
            remember,
            context.client().user_agent.clone(),
            OffsetDateTime::now_utc(),
        )
        .await?;
    context.set_session(&session, true)?;
    tracing::info!(event = "login.success", user_id = %session.user.id, client = ?context.client().address, remember, "login succeeded");
    Ok(session)
}

/// Replaces an outdated hash after a successful verification; a failure here is logged and
/// does not fail the login.
async fn upgrade_hash(app: &AppState, user: &User, password: &SecretString) {
    match app.0.hasher.hash(password).await {
        Ok(hash) => match app.0.store.set_password_hash(user.id, &hash).await {
            Ok(()) => {
                tracing::info!(event = "password.rehash", user_id = %user.id, "password hash upgraded");
            }
            Err(error) => {
                tracing::warn!(%error, user_id = %user.id, "could not store the upgraded hash");
            }
        },
        Err(error) => tracing::warn!(%error, user_id = %user.id, "could not upgrade the hash"),
    }
}
