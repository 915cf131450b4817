//! Personal API tokens (SPEC §11): made by a freshly logged-in user, shown once, listed and
//! revoked; recognised from a bearer credential like a session, from the session cache when it
//! is trusted.
//!
//! - **Guessing is throttled**: every unknown token presented counts against the client
//!   address ([`ThrottleKey::token_guesses`], `login.max_failures_per_address` in
//!   `login.failure_window`); past the limit unknown tokens get [`ServiceError::Throttled`].
//!   A live token is never refused for its address: a stranger's guesses from a shared
//!   address must not lock out the scripts behind it.
//! - **Last use** is recorded to the minute, off the request path (see `activity`).
//! - **A token ends** at its expiry, on revocation (here, or by "end every other session"
//!   with tokens), and with its user; each removal is announced to every process's cache.

use super::{ActiveSession, AuthService, Client, FieldErrors, ServiceError};
use crate::api_token::{self, ApiToken, ApiTokenRecord, NewApiToken};
use crate::session::SessionId;
use crate::session_cache::{CachedSession, SessionKey};
use crate::store::User;
use crate::throttle::{FailureCount, ThrottleKey};
use time::OffsetDateTime;

/// A token as its owner sees it listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenView {
    /// Public id, for revoking.
    pub id: SessionId,
    /// The name its owner gave it.
    pub name: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it ends.
    pub expires_at: OffsetDateTime,
    /// When it was last used (to the minute); `None`: never.
    pub last_used_at: Option<OffsetDateTime>,
    /// The token making the request.
    pub current: bool,
}

impl TokenView {
    fn of(record: ApiTokenRecord, caller: &ActiveSession) -> Self {
        Self {
            current: caller.is_api_token() && caller.id == record.id,
            id: record.id,
            name: record.name,
            created_at: record.created_at,
            expires_at: record.expires_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// What asking for a new token came to.
#[derive(Debug)]
pub enum TokenCreation {
    /// Made: the secret (shown once, never again) and the token as it will be listed.
    Created {
        /// The secret.
        token: ApiToken,
        /// Its listing.
        view: TokenView,
    },
    /// The name or the lifetime breaks a rule (`name`, `expires_in`).
    Invalid(FieldErrors),
    /// The user already holds [`MAX_TOKENS_PER_USER`](api_token::MAX_TOKENS_PER_USER) live
    /// tokens.
    TooMany,
    /// The caller has not proved the password within `session.fresh_for` (an API token never
    /// has): re-authenticate first.
    NotFresh,
}

impl AuthService {
    /// Makes a token named `name` living `expires_in` seconds (`None`: 30 days) for
    /// `session`'s user, who must have proved the password recently.
    pub async fn create_api_token(
        &self,
        session: &ActiveSession,
        name: &str,
        expires_in: Option<u64>,
        client: &Client,
    ) -> Result<TokenCreation, ServiceError> {
        let now = OffsetDateTime::now_utc();
        if !self.is_fresh(session, now) {
            return Ok(TokenCreation::NotFresh);
        }
        // Whole milliseconds, as the store keeps them: the answer shows what the list will.
        let now = now
            .replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(now);
        let mut errors = FieldErrors::new();
        let name = api_token::parse_name(name)
            .map_err(|error| errors.insert("name", error.to_string()))
            .ok();
        let lifetime = api_token::parse_lifetime(expires_in)
            .map_err(|error| errors.insert("expires_in", error.to_string()))
            .ok();
        let (Some(name), Some(lifetime)) = (name, lifetime) else {
            return Ok(TokenCreation::Invalid(errors));
        };
        let token = ApiToken::generate();
        let record = ApiTokenRecord {
            id: SessionId::generate(),
            user_id: session.user.id,
            name,
            created_at: now,
            expires_at: crate::session::later(now, lifetime),
            last_used_at: None,
        };
        let new = NewApiToken {
            record: record.clone(),
            digest: token.digest(),
        };
        if !self
            .store()
            .insert_api_token(&new, api_token::MAX_TOKENS_PER_USER, now)
            .await?
        {
            return Ok(TokenCreation::TooMany);
        }
        tracing::info!(event = "api_token.create", user_id = %session.user.id, client = %client.address_field(), token_id = %record.id, expires_at = %record.expires_at, "API token created");
        self.notify(
            &session.user,
            crate::mail::LetterKind::ApiTokenCreated {
                name: record.name.clone(),
            },
        );
        Ok(TokenCreation::Created {
            token,
            view: TokenView::of(record, session),
        })
    }

    /// `session`'s user's live tokens, newest first; the one making the request is marked.
    pub async fn list_api_tokens(
        &self,
        session: &ActiveSession,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenView>, ServiceError> {
        Ok(self
            .store()
            .list_api_tokens(session.user.id, now)
            .await?
            .into_iter()
            .map(|record| TokenView::of(record, session))
            .collect())
    }

    /// Revokes `session`'s user's token with public id `id` (as the client sent it); `false`
    /// when they have none by that id.
    pub async fn revoke_api_token(
        &self,
        session: &ActiveSession,
        id: &str,
        client: &Client,
    ) -> Result<bool, ServiceError> {
        let Some(id) = SessionId::parse(id.trim()) else {
            return Ok(false);
        };
        let result = self.store().delete_api_token(session.user.id, &id).await;
        if !self.changed(session.user.id, result)? {
            return Ok(false);
        }
        tracing::info!(event = "api_token.revoke", user_id = %session.user.id, client = %client.address_field(), token_id = %id, "API token revoked");
        Ok(true)
    }

    /// Revokes every token of `session`'s user but the one making the request, if it is one;
    /// how many ended.
    pub(crate) async fn revoke_other_api_tokens(
        &self,
        session: &ActiveSession,
    ) -> Result<u64, ServiceError> {
        let current = session.is_api_token().then_some(&session.id);
        let result = self
            .store()
            .delete_api_tokens(session.user.id, current)
            .await;
        self.changed(session.user.id, result)
    }

    /// The session a bearer credential stands for, if it is a live token at `now`: from the
    /// session cache when it is trusted and holds it, else one store read. An unknown token
    /// counts as a guess from `client`; past the limit the answer is
    /// [`ServiceError::Throttled`].
    pub async fn load_api_token(
        &self,
        credential: &str,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<Option<ActiveSession>, ServiceError> {
        let Some(token) = ApiToken::parse(credential) else {
            return self.token_guessed(client, now).await;
        };
        let digest = token.digest();
        let key = SessionKey::ApiToken(digest);
        let cache = &self.0.cache;
        let ticket = cache.ticket();
        let cached = cache.get(&key).and_then(|(session, user)| match session {
            CachedSession::ApiToken(record) if record.is_live(now) => {
                Some((record, User::clone(&user)))
            }
            _ => None,
        });
        let (mut record, user) = match cached {
            Some(found) => found,
            None => {
                let Some((record, user)) = self.store().load_api_token(&digest, now).await? else {
                    return self.token_guessed(client, now).await;
                };
                cache.fill(
                    ticket,
                    key.clone(),
                    CachedSession::ApiToken(record.clone()),
                    &user,
                );
                (record, user)
            }
        };
        if record.use_is_stale(now) {
            record.last_used_at = Some(now);
            self.0.token_uses.queue(digest, now);
            cache.fill(ticket, key, CachedSession::ApiToken(record.clone()), &user);
        }
        Ok(Some(ActiveSession::of_api_token(record, user, digest)))
    }

    /// Counts an unknown token from `client`: anonymous (`Ok(None)`) within the limit,
    /// throttled past it.
    async fn token_guessed(
        &self,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<Option<ActiveSession>, ServiceError> {
        let throttle = &self.0.settings.throttle;
        let key = ThrottleKey::token_guesses(client.address);
        let count = self
            .store()
            .record_failure(&key, throttle.window(key.scope()), now)
            .await?;
        let before = FailureCount {
            count: count.count.saturating_sub(1),
            ..count
        };
        match throttle.decide(std::slice::from_ref(&key), &[Some(before)], now) {
            Ok(()) => {
                tracing::info!(event = "api_token.unknown", client = %client.address_field(), "unknown API token presented");
                Ok(None)
            }
            Err(wait) => {
                self.observer().throttled(key.scope());
                tracing::info!(event = "api_token.throttled", client = %client.address_field(), retry_after_seconds = wait.seconds(), "unknown API token refused: too many from this address");
                Err(ServiceError::Throttled {
                    retry_after_seconds: wait.seconds(),
                })
            }
        }
    }
}
