//! What a logged-in user does to their own account: re-authenticate, change the password, end
//! one or every other session.

use super::registration::MISMATCH;
use super::{ActiveSession, AuthService, Client, FieldErrors, ServiceError};
use crate::hasher::PasswordHasher;
use crate::secret::SecretString;
use crate::session::SessionId;
use time::OffsetDateTime;

/// What a password change came to.
#[derive(Debug)]
pub enum PasswordChange {
    /// Changed: this session continues as the returned one (new id, new credential), every
    /// other session of the user has ended.
    Changed(Box<ActiveSession>),
    /// The current password is wrong (`current_password`), with any other broken rule.
    WrongCurrentPassword(FieldErrors),
    /// The current password is right but the new one breaks a rule (`new_password`,
    /// `new_password_confirm`).
    Invalid(FieldErrors),
}

/// What ending one session by id came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The id was the caller's own session: a logout (the caller clears the cookie).
    LoggedOut,
    /// Another session of the caller's has ended.
    Ended,
    /// No session of the caller's has that id (or, in the cookie store, another session cannot
    /// be ended by id).
    NotFound,
}

/// Every other session of the user has ended.
#[derive(Debug)]
pub struct OthersEnded {
    /// The caller's session as it must be sent again (the cookie store's carries the new auth
    /// stamp).
    pub session: ActiveSession,
    /// How many sessions ended, where the store knows.
    pub ended: Option<u64>,
    /// How many API tokens ended, when they were asked to.
    pub tokens_ended: Option<u64>,
}

impl AuthService {
    /// Checks the logged-in user's password, throttled like a login.
    async fn is_own_password(
        &self,
        session: &ActiveSession,
        password: &SecretString,
        client: &Client,
    ) -> Result<bool, ServiceError> {
        let user = self
            .check_credentials(session.user.username.as_str(), password, client)
            .await?;
        if user.is_some_and(|user| user.id == session.user.id) {
            return Ok(true);
        }
        tracing::info!(event = "reauthentication.failure", user_id = %session.user.id, client = %client.address_field(), "wrong password re-entered");
        Ok(false)
    }

    /// Re-authentication: when `password` is the user's, `session` counts as freshly logged in
    /// and is returned renewed (send its credential again); `None` for a wrong password.
    pub async fn reauthenticate(
        &self,
        session: &ActiveSession,
        password: &SecretString,
        client: &Client,
    ) -> Result<Option<ActiveSession>, ServiceError> {
        if !self.is_own_password(session, password, client).await? {
            return Ok(None);
        }
        let fresh = self.mark_fresh(session, OffsetDateTime::now_utc()).await?;
        tracing::info!(event = "reauthentication.success", user_id = %session.user.id, client = %client.address_field(), "password re-entered");
        Ok(Some(fresh))
    }

    /// Changes the password of `session`'s user from `current` to `new` (with its confirmation
    /// when the form has one). The current password is checked even when the new one is
    /// refused, so the answer never tells which was wrong by skipping work. The change is one
    /// store transaction: new hash, new auth stamp, this session under a new id, every other
    /// session ended — all or nothing.
    pub async fn change_password(
        &self,
        session: &ActiveSession,
        current: &SecretString,
        new: &SecretString,
        confirm: Option<&str>,
        client: &Client,
    ) -> Result<PasswordChange, ServiceError> {
        let mut errors = FieldErrors::new();
        if let Err(violation) = self
            .0
            .settings
            .policy
            .check(new, Some(&session.user.username))
        {
            errors.insert("new_password", violation.to_string());
        }
        if let Some(confirm) = confirm.filter(|c| !c.is_empty())
            && confirm != new.expose()
        {
            errors.insert("new_password_confirm", MISMATCH.to_owned());
        }
        if !self.is_own_password(session, current, client).await? {
            errors.insert(
                "current_password",
                "Your current password is not right.".to_owned(),
            );
            return Ok(PasswordChange::WrongCurrentPassword(errors));
        }
        if !errors.is_empty() {
            return Ok(PasswordChange::Invalid(errors));
        }
        let hash = self.0.hasher.hash(new).await?;
        let (mut renewed, row) = self.renewed(session, OffsetDateTime::now_utc());
        let result = self
            .store()
            .change_password(session.user.id, &hash, row.as_ref())
            .await;
        renewed.user.auth_stamp = self.changed(session.user.id, result)?.auth_stamp;
        tracing::info!(event = "password.change", user_id = %session.user.id, client = %client.address_field(), "password changed; other sessions ended");
        self.notify(&session.user, crate::mail::LetterKind::PasswordChanged);
        Ok(PasswordChange::Changed(Box::new(renewed)))
    }

    /// Ends every session of `session`'s user but `session` itself; with `tokens`, every API
    /// token of theirs too (but `session`, when it is one).
    pub async fn end_other_sessions(
        &self,
        session: &ActiveSession,
        tokens: bool,
        client: &Client,
    ) -> Result<OthersEnded, ServiceError> {
        let tokens_ended = if tokens {
            Some(self.revoke_other_api_tokens(session).await?)
        } else {
            None
        };
        let (kept, ended) = match self.delete_other_sessions(session).await? {
            Some(ended) => (session.clone(), Some(ended)),
            None => {
                // The cookie store revokes through the auth stamp; this session takes the new one.
                let mut kept = session.clone();
                let result = self.store().rotate_auth_stamp(session.user.id).await;
                kept.user.auth_stamp = self.changed(session.user.id, result)?;
                (kept, None)
            }
        };
        tracing::info!(event = "revocation.all", user_id = %session.user.id, client = %client.address_field(), ended, tokens_ended, "other sessions ended");
        Ok(OthersEnded {
            session: kept,
            ended,
            tokens_ended,
        })
    }

    /// Ends the caller's session with public id `id` (as the client sent it). The caller's
    /// own id is a logout.
    pub async fn end_session(
        &self,
        session: &ActiveSession,
        id: &str,
        client: &Client,
    ) -> Result<SessionEnd, ServiceError> {
        let Some(id) = SessionId::parse(id.trim()) else {
            return Ok(SessionEnd::NotFound);
        };
        if id == session.id {
            self.log_out(session, client).await?;
            return Ok(SessionEnd::LoggedOut);
        }
        if !self.can_end_single_sessions() {
            return Ok(SessionEnd::NotFound);
        }
        let result = self.store().delete_user_session(session.user.id, &id).await;
        if !self.changed(session.user.id, result)? {
            return Ok(SessionEnd::NotFound);
        }
        tracing::info!(event = "revocation.one", user_id = %session.user.id, client = %client.address_field(), session_id = %id, "session ended");
        Ok(SessionEnd::Ended)
    }
}
