//! Registering a user: the username rules, the password policy, and creation.

use super::attempt::Attempt;
use super::{AuthService, Client, ServiceError};
use crate::email::EmailAddress;
use crate::hasher::PasswordHasher;
use crate::observe::Outcome;
use crate::password_policy::PasswordRuleViolation;
use crate::secret::SecretString;
use crate::store::{StoreError, User};
use crate::throttle::ThrottleKey;
use crate::username::Username;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Field → message, for a form's field errors and a problem document's `errors`. The field
/// names are the use case's inputs: `username`, `password`, `password_confirm`,
/// `current_password`, `new_password`, `new_password_confirm`.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// The message for a taken username.
pub const TAKEN: &str = "That username is taken.";
/// The message for a confirmation that differs from the password.
pub(crate) const MISMATCH: &str = "The passwords do not match.";

/// What a registration came to.
#[derive(Debug)]
pub enum Registration {
    /// The user now exists.
    Created(User),
    /// A rule was broken; every broken rule is reported on its field.
    Invalid(FieldErrors),
    /// The name (in any case) was taken.
    Taken,
    /// The email address is another user's (`email`).
    EmailTaken,
}

impl AuthService {
    /// Checks a registration: the username, the password policy, and the confirmation when one
    /// was given.
    pub fn validate_registration(
        &self,
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
        if let Err(violation) = self.0.settings.policy.check(password, username.as_ref()) {
            // "Same as the username" only means something once the username is valid.
            if username.is_some() || violation != PasswordRuleViolation::SameAsUsername {
                errors.insert("password", violation.to_string());
            }
        }
        if let Some(confirm) = confirm.filter(|c| !c.is_empty())
            && confirm != password.expose()
        {
            errors.insert("password_confirm", MISMATCH.into());
        }
        match username {
            Some(username) if errors.is_empty() => Ok(username),
            _ => Err(errors),
        }
    }

    /// Registers `raw_username` with `password` (and its confirmation, when the form has one):
    /// the rules first, then a cheap look so a taken name costs no hashing; the store's unique
    /// index settles races between concurrent registrations.
    pub async fn register(
        &self,
        raw_username: &str,
        password: &SecretString,
        confirm: Option<&str>,
        client: &Client,
    ) -> Result<Registration, ServiceError> {
        self.register_checked(raw_username, password, confirm, None, client)
            .await
    }

    /// [`register`](Self::register) with the email field of a registration form, checked
    /// against `account.email` (required there when it is `required`); a given address gets a
    /// verification link. [`register`](Self::register) itself (an administrator's `user add`)
    /// needs no address.
    pub async fn register_with_email(
        &self,
        raw_username: &str,
        password: &SecretString,
        confirm: Option<&str>,
        email: Option<&str>,
        client: &Client,
    ) -> Result<Registration, ServiceError> {
        self.register_checked(raw_username, password, confirm, Some(email), client)
            .await
    }

    /// `email`: `None` when no address is asked for, `Some(field)` for a form's field.
    async fn register_checked(
        &self,
        raw_username: &str,
        password: &SecretString,
        confirm: Option<&str>,
        email: Option<Option<&str>>,
        client: &Client,
    ) -> Result<Registration, ServiceError> {
        let result = self
            .register_counted(raw_username, password, confirm, email, client)
            .await;
        self.observer().registration(match &result {
            Ok(Registration::Created(_)) => Outcome::Success,
            Ok(Registration::Invalid(_)) => Outcome::Invalid,
            Ok(Registration::Taken) => Outcome::Taken,
            Ok(Registration::EmailTaken) => Outcome::EmailTaken,
            Err(error) => Outcome::of_error(error),
        });
        result
    }

    async fn register_counted(
        &self,
        raw_username: &str,
        password: &SecretString,
        confirm: Option<&str>,
        email: Option<Option<&str>>,
        client: &Client,
    ) -> Result<Registration, ServiceError> {
        let mut email_errors = FieldErrors::new();
        let email = match email {
            Some(field) => self.registration_email(field, &mut email_errors),
            None => None,
        };
        let username = match self.validate_registration(raw_username, password, confirm) {
            Ok(username) if email_errors.is_empty() => username,
            Ok(_) => return Ok(Registration::Invalid(email_errors)),
            Err(mut errors) => {
                errors.append(&mut email_errors);
                return Ok(Registration::Invalid(errors));
            }
        };
        // Counted before the work, so a burst from one address cannot pass the limit; taken
        // back unless a user is created. Clients without an address (the command line, an app
        // serving without the peer address) are not counted: they would share one counter.
        let attempt = match client.address {
            Some(address) if self.0.settings.throttle.max_registrations_per_address > 0 => {
                match Attempt::begin(self, vec![ThrottleKey::registrations(address)]).await? {
                    Ok(attempt) => Some(attempt),
                    Err(wait) => {
                        tracing::info!(event = "register.throttled", client = %client.address_field(), retry_after_seconds = wait.seconds(), "registration refused: too many from this address");
                        return Err(ServiceError::Throttled {
                            retry_after_seconds: wait.seconds(),
                        });
                    }
                }
            }
            _ => None,
        };
        let outcome = self
            .create(&username, password, email.as_ref(), client)
            .await;
        if let Some(attempt) = attempt {
            match &outcome {
                Ok(Registration::Created(_)) => attempt.keep(),
                _ => attempt.abandon(self).await,
            }
        }
        outcome
    }

    async fn create(
        &self,
        username: &Username,
        password: &SecretString,
        email: Option<&EmailAddress>,
        client: &Client,
    ) -> Result<Registration, ServiceError> {
        let store = self.store();
        if store.find_credentials(username).await?.is_some() {
            return Ok(Registration::Taken);
        }
        if let Some(email) = email
            && store.find_user_by_email(email).await?.is_some()
        {
            return Ok(Registration::EmailTaken);
        }
        let hash = self.0.hasher.hash(password).await?;
        match store
            .create_user(username, &hash, email, OffsetDateTime::now_utc())
            .await
        {
            Ok(user) => {
                tracing::info!(event = "register", user_id = %user.id, client = %client.address_field(), "user registered");
                if let Some(email) = email
                    && let Err(error) = self.send_verification(&user, email).await
                {
                    // The user exists; they can ask for another link from their account page.
                    tracing::error!(event = "email.verify.error", user_id = %user.id, error = %super::error_chain(&error), "could not send the verification link");
                }
                Ok(Registration::Created(user))
            }
            Err(StoreError::Taken) => Ok(Registration::Taken),
            Err(StoreError::EmailTaken) => Ok(Registration::EmailTaken),
            Err(other) => Err(other.into()),
        }
    }
}
