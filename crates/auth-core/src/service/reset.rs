//! Password reset by a one-time link (contract §9).
//!
//! A request answers the same way — same outcome, same time — whether or not an account
//! matches: it is counted against the throttle, and everything that depends on the account
//! (the lookup, the link, the message) happens in a task of its own after the answer. So
//! neither the answer nor its timing tells whether a username or address is registered.

use super::attempt::Attempt;
use super::registration::MISMATCH;
use super::{AuthService, Client, FieldErrors, ServiceError};
use crate::email::{EmailAddress, EmailPolicy, LinkPurpose, LinkRecord, LinkToken};
use crate::hasher::PasswordHasher;
use crate::mail::LetterKind;
use crate::secret::SecretString;
use crate::store::User;
use crate::throttle::{ThrottleKey, username_throttle_key};
use crate::username::Username;
use time::OffsetDateTime;

/// What using a reset link came to.
#[derive(Debug)]
pub enum PasswordReset {
    /// The password is set, every session of the user has ended, a notice is on its way.
    Reset(Box<User>),
    /// The link is used, expired or unknown (one answer for all three).
    InvalidLink,
    /// The new password breaks a rule (`password`, `password_confirm`); the link still works.
    Invalid(FieldErrors),
}

/// What the login typed into the reset form names.
enum Login {
    Email(EmailAddress),
    Username(Username),
    Nothing,
}

impl Login {
    fn parse(raw: &str) -> Self {
        if raw.contains('@') {
            match EmailAddress::parse(raw) {
                Ok(email) => Self::Email(email),
                Err(_) => Self::Nothing,
            }
        } else {
            match Username::parse(raw) {
                Ok(username) => Self::Username(username),
                Err(_) => Self::Nothing,
            }
        }
    }

    /// The per-account throttle counter's subject.
    fn throttle_key(&self, raw: &str) -> String {
        match self {
            Self::Email(email) => email.key(),
            Self::Username(_) | Self::Nothing => username_throttle_key(raw),
        }
    }
}

impl AuthService {
    /// A request to reset the password of the account `login` names (a username or an
    /// address). The answer is `Ok(())` whether or not one matches; a link goes only to a
    /// verified address. Throttled per client address and per login typed
    /// ([`ServiceError::Throttled`]).
    pub async fn request_password_reset(
        &self,
        login: &str,
        client: &Client,
    ) -> Result<(), ServiceError> {
        let login_text: String = login.chars().take(320).collect();
        let parsed = Login::parse(&login_text);
        let throttle = &self.0.settings.throttle;
        let mut keys = Vec::new();
        if let Some(address) = client.address
            && throttle.max_reset_requests_per_address > 0
        {
            keys.push(ThrottleKey::reset_requests_from(address));
        }
        if throttle.max_reset_requests_per_account > 0 {
            keys.push(ThrottleKey::reset_requests_for(
                &parsed.throttle_key(&login_text),
            ));
        }
        if !keys.is_empty() {
            match Attempt::begin(self, keys).await? {
                // Every request counts, answered or not: that is what the limit is about.
                Ok(attempt) => attempt.keep(),
                Err(wait) => {
                    tracing::info!(event = "password_reset.throttled", client = %client.address_field(), retry_after_seconds = wait.seconds(), "password reset request refused: too many");
                    return Err(ServiceError::Throttled {
                        retry_after_seconds: wait.seconds(),
                    });
                }
            }
        }
        tracing::info!(event = "password_reset.request", client = %client.address_field(), "password reset requested");
        if self.email_policy() == EmailPolicy::Off {
            return Ok(());
        }
        let service = self.clone();
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(error) = service.send_reset_link(parsed, &client).await {
                tracing::error!(event = "password_reset.error", client = %client.address_field(), error = %super::error_chain(&error), "could not send a password reset link");
            }
        });
        Ok(())
    }

    /// The part of a reset request that depends on the account: find it, and send a link to
    /// its verified address.
    async fn send_reset_link(&self, login: Login, client: &Client) -> Result<(), ServiceError> {
        let user = match &login {
            Login::Email(email) => self.store().find_user_by_email(email).await?,
            Login::Username(username) => self.find_user(username).await?,
            Login::Nothing => None,
        };
        let Some(user) = user else {
            return Ok(());
        };
        let (Some(email), true) = (&user.email, user.email_verified) else {
            tracing::info!(event = "password_reset.no_address", user_id = %user.id, client = %client.address_field(), "password reset requested for a user without a verified address: nothing sent");
            return Ok(());
        };
        let token = LinkToken::generate();
        let link = LinkRecord::new(
            &token,
            user.id,
            LinkPurpose::ResetPassword,
            email.clone(),
            OffsetDateTime::now_utc(),
        );
        self.store().insert_link(&link).await?;
        self.notify(&user, LetterKind::ResetPassword(token));
        tracing::info!(event = "password_reset.sent", user_id = %user.id, client = %client.address_field(), "password reset link sent");
        Ok(())
    }

    /// Uses a reset link: `new` (with its confirmation, when the form has one) becomes the
    /// password under the policy, every session of the user ends, every other reset link of
    /// theirs stops working, and a notice goes to their address. One store transaction.
    pub async fn reset_password(
        &self,
        token: &str,
        new: &SecretString,
        confirm: Option<&str>,
        client: &Client,
    ) -> Result<PasswordReset, ServiceError> {
        let Some(token) = LinkToken::parse(token) else {
            return Ok(PasswordReset::InvalidLink);
        };
        let digest = token.digest();
        let store = self.store();
        let Some(link) = store
            .find_link(
                &digest,
                LinkPurpose::ResetPassword,
                OffsetDateTime::now_utc(),
            )
            .await?
        else {
            tracing::info!(event = "password_reset.failure", client = %client.address_field(), "reset link used, expired or unknown");
            return Ok(PasswordReset::InvalidLink);
        };
        let Some(user) = store.find_user(link.user_id).await? else {
            return Ok(PasswordReset::InvalidLink);
        };
        let mut errors = FieldErrors::new();
        if let Err(violation) = self.0.settings.policy.check(new, Some(&user.username)) {
            errors.insert("password", violation.to_string());
        }
        if let Some(confirm) = confirm.filter(|c| !c.is_empty())
            && confirm != new.expose()
        {
            errors.insert("password_confirm", MISMATCH.to_owned());
        }
        if !errors.is_empty() {
            return Ok(PasswordReset::Invalid(errors));
        }
        let hash = self.0.hasher.hash(new).await?;
        let result = store
            .reset_password(&digest, &hash, OffsetDateTime::now_utc())
            .await;
        // Another request used the link while this one hashed: it is used.
        let Some((user, changed)) = self.changed(user.id, result)? else {
            return Ok(PasswordReset::InvalidLink);
        };
        tracing::info!(event = "password.reset", user_id = %user.id, client = %client.address_field(), sessions_ended = changed.sessions_ended, "password reset through a link; every session ended");
        self.notify(&user, LetterKind::PasswordReset);
        Ok(PasswordReset::Reset(Box::new(user)))
    }
}
