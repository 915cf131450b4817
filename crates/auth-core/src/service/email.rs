//! A user's email address: giving or changing it, verifying it through a link, and the notices
//! sent to a verified address (contract §9).
//!
//! Links and notices are [`Letter`]s posted to the service's [`Outbox`](crate::mail::Outbox),
//! which queues them and returns at once: no use case waits for a mail server.

use super::{ActiveSession, AuthService, Client, FieldErrors, ServiceError};
use crate::email::{EmailAddress, EmailPolicy, LinkPurpose, LinkRecord, LinkToken};
use crate::mail::{Letter, LetterKind};
use crate::store::{StoreError, User};
use crate::username::Username;
use time::OffsetDateTime;

/// The message for an address another user has.
pub const EMAIL_TAKEN: &str = "That email address belongs to another account.";

/// What a change of address came to.
#[derive(Debug)]
pub enum EmailChange {
    /// The address is set, unverified, and a verification link is on its way to it (and a
    /// notice to the old address, if it was verified).
    Changed(Box<User>),
    /// The address was already the user's (and verified): nothing changed, nothing was sent.
    Unchanged,
    /// Not an address (`email`).
    Invalid(FieldErrors),
    /// Another user has that address.
    Taken,
    /// `account.email = "off"`.
    Disabled,
}

impl AuthService {
    /// Whether users have addresses (`account.email`).
    pub fn email_policy(&self) -> EmailPolicy {
        self.0.settings.email
    }

    /// The address typed into a registration form, checked against `account.email`: a wrong
    /// or (when required) missing one is an error on `email`; with `off` it is ignored.
    pub(crate) fn registration_email(
        &self,
        raw: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Option<EmailAddress> {
        let raw = raw.map(str::trim).filter(|raw| !raw.is_empty());
        match (self.email_policy(), raw) {
            (EmailPolicy::Off, _) | (EmailPolicy::Optional, None) => None,
            (EmailPolicy::Required, None) => {
                errors.insert("email", crate::email::EmailError::Empty.to_string());
                None
            }
            (_, Some(raw)) => match EmailAddress::parse(raw) {
                Ok(email) => Some(email),
                Err(error) => {
                    errors.insert("email", error.to_string());
                    None
                }
            },
        }
    }

    /// Gives `session`'s user the address `raw` (the caller has checked the login is fresh):
    /// set unverified, a verification link sent to it, and a notice to the old address when
    /// that one was verified.
    pub async fn change_email(
        &self,
        session: &ActiveSession,
        raw: &str,
        client: &Client,
    ) -> Result<EmailChange, ServiceError> {
        if self.email_policy() == EmailPolicy::Off {
            return Ok(EmailChange::Disabled);
        }
        let email = match EmailAddress::parse(raw) {
            Ok(email) => email,
            Err(error) => {
                let mut errors = FieldErrors::new();
                errors.insert("email", error.to_string());
                return Ok(EmailChange::Invalid(errors));
            }
        };
        // The stored user, not the session's copy: another tab may have changed it.
        let Some(before) = self.store().find_user(session.user.id).await? else {
            return Err(StoreError::database("the session's user is gone").into());
        };
        let same = before.email.as_ref().map(EmailAddress::key) == Some(email.key());
        if same && before.email_verified {
            return Ok(EmailChange::Unchanged);
        }
        let result = self.store().set_email(before.id, Some(&email), false).await;
        match self.changed(before.id, result) {
            Ok(_) => {}
            Err(ServiceError::Store(StoreError::EmailTaken)) => return Ok(EmailChange::Taken),
            Err(other) => return Err(other),
        }
        let mut after = before.clone();
        after.email = Some(email.clone());
        after.email_verified = false;
        self.send_verification(&after, &email).await?;
        if !same {
            self.notify_old_address(&before, &email);
        }
        tracing::info!(event = "email.change", user_id = %before.id, client = %client.address_field(), domain = email.domain(), "email address changed; verification sent");
        Ok(EmailChange::Changed(Box::new(after)))
    }

    /// An administrator sets `username`'s address, verified (`wristband user set-email`).
    /// `Ok(None)` for an unknown user.
    pub async fn set_verified_email(
        &self,
        username: &Username,
        raw: &str,
    ) -> Result<Option<EmailChange>, ServiceError> {
        if self.email_policy() == EmailPolicy::Off {
            return Ok(Some(EmailChange::Disabled));
        }
        let email = match EmailAddress::parse(raw) {
            Ok(email) => email,
            Err(error) => {
                let mut errors = FieldErrors::new();
                errors.insert("email", error.to_string());
                return Ok(Some(EmailChange::Invalid(errors)));
            }
        };
        let Some(before) = self.find_user(username).await? else {
            return Ok(None);
        };
        let result = self.store().set_email(before.id, Some(&email), true).await;
        match self.changed(before.id, result) {
            Ok(_) => {}
            Err(ServiceError::Store(StoreError::EmailTaken)) => {
                return Ok(Some(EmailChange::Taken));
            }
            Err(other) => return Err(other),
        }
        let same = before.email.as_ref().map(EmailAddress::key) == Some(email.key());
        if !same {
            self.notify_old_address(&before, &email);
        }
        tracing::info!(event = "email.set", user_id = %before.id, domain = email.domain(), "email address set by an administrator");
        let mut after = before;
        after.email = Some(email);
        after.email_verified = true;
        Ok(Some(EmailChange::Changed(Box::new(after))))
    }

    /// Makes a verification link for `email` and posts it.
    pub(crate) async fn send_verification(
        &self,
        user: &User,
        email: &EmailAddress,
    ) -> Result<(), ServiceError> {
        let token = LinkToken::generate();
        let link = LinkRecord::new(
            &token,
            user.id,
            LinkPurpose::VerifyEmail,
            email.clone(),
            OffsetDateTime::now_utc(),
        );
        self.store().insert_link(&link).await?;
        self.post(user, email.clone(), LetterKind::VerifyEmail(token));
        Ok(())
    }

    /// Whether `token` (as the link carries it) is a live link of `purpose`: what the page a
    /// link opens shows, without using the link.
    pub async fn link_is_live(
        &self,
        token: &str,
        purpose: LinkPurpose,
    ) -> Result<bool, ServiceError> {
        let Some(token) = LinkToken::parse(token) else {
            return Ok(false);
        };
        Ok(self
            .store()
            .find_link(&token.digest(), purpose, OffsetDateTime::now_utc())
            .await?
            .is_some())
    }

    /// Uses a verification link: the address it was sent to is verified, if it is still the
    /// user's. `None` for a used, expired, unknown or outdated link.
    pub async fn verify_email(
        &self,
        token: &str,
        client: &Client,
    ) -> Result<Option<User>, ServiceError> {
        let Some(token) = LinkToken::parse(token) else {
            return Ok(None);
        };
        let Some(user) = self
            .store()
            .verify_email(&token.digest(), OffsetDateTime::now_utc())
            .await?
        else {
            tracing::info!(event = "email.verify.failure", client = %client.address_field(), "verification link used, expired or unknown");
            return Ok(None);
        };
        self.0.cache.evict_user(user.id);
        tracing::info!(event = "email.verify", user_id = %user.id, client = %client.address_field(), "email address verified");
        Ok(Some(user))
    }

    /// Tells the verified address `before` had that the account's address is now `new`.
    fn notify_old_address(&self, before: &User, new: &EmailAddress) {
        if let (Some(old), true) = (&before.email, before.email_verified) {
            self.post(
                before,
                old.clone(),
                LetterKind::EmailChanged {
                    new_domain: new.domain().to_owned(),
                },
            );
        }
    }

    /// Sends `user` a notice at their verified address; nothing when they have none.
    pub(crate) fn notify(&self, user: &User, kind: LetterKind) {
        if let (Some(email), true) = (&user.email, user.email_verified) {
            self.post(user, email.clone(), kind);
        }
    }

    fn post(&self, user: &User, to: EmailAddress, kind: LetterKind) {
        if self.email_policy() == EmailPolicy::Off {
            return;
        }
        self.0.outbox.post(Letter {
            to,
            user_id: user.id,
            username: user.username.as_str().to_owned(),
            kind,
        });
    }
}
