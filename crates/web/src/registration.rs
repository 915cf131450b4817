//! Registering a user: one implementation for the HTML form and the JSON API.

use crate::error::AppError;
use crate::state::AppState;
use auth_core::{PasswordHasher, PasswordRuleViolation, SecretString, StoreError, User, Username};
use std::collections::BTreeMap;
use std::net::IpAddr;
use time::OffsetDateTime;

/// Field → message, for the form's field errors and the problem document's `errors`.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// Checks a registration: the username, the password policy, and the confirmation when one was
/// given (`password_confirm`). Every broken rule is reported on its field.
pub fn validate(
    app: &AppState,
    raw_username: &str,
    password: &SecretString,
    confirm: Option<&str>,
) -> Result<Username, FieldErrors> {
    let mut errors = FieldErrors::new();
    let username = match Username::parse(raw_username) {
        Ok(u) => Some(u),
        Err(e) => {
            errors.insert("username", e.to_string());
            None
        }
    };
    if let Err(violation) = app.0.policy.check(password, username.as_ref()) {
        // "Same as the username" only means something once the username is valid.
        if username.is_some() || violation != PasswordRuleViolation::SameAsUsername {
            errors.insert("password", violation.to_string());
        }
    }
    if let Some(confirm) = confirm.filter(|c| !c.is_empty())
        && confirm != password.expose()
    {
        errors.insert("password_confirm", "The passwords do not match.".into());
    }
    match username {
        Some(username) if errors.is_empty() => Ok(username),
        _ => Err(errors),
    }
}

/// The outcome of a valid registration.
#[derive(Debug)]
pub enum Registered {
    /// The user now exists.
    Created(User),
    /// The name (in any case) was taken.
    Taken,
}

/// The message for a taken username.
pub const TAKEN: &str = "That username is taken.";

/// Creates the user: a cheap look first, so a taken name costs no hashing; the store's unique
/// index settles races between concurrent registrations.
pub async fn register(
    app: &AppState,
    username: &Username,
    password: &SecretString,
    client: Option<IpAddr>,
) -> Result<Registered, AppError> {
    if app.0.store.find_credentials(username).await?.is_some() {
        return Ok(Registered::Taken);
    }
    let hash = app.0.hasher.hash(password).await?;
    match app
        .0
        .store
        .create_user(username, &hash, OffsetDateTime::now_utc())
        .await
    {
        Ok(user) => {
            tracing::info!(event = "register", user_id = %user.id, client = ?client, "user registered");
            Ok(Registered::Created(user))
        }
        Err(StoreError::Taken) => Ok(Registered::Taken),
        Err(other) => Err(other.into()),
    }
}
