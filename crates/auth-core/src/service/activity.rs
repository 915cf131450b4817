//! Records of use off the request path: a database session's `last_seen_at` and an API
//! token's `last_used_at` are queued by the request that notices them stale (at most once a
//! minute per session, see [`SessionTimeouts::touch`](crate::SessionTimeouts::touch), and per
//! token, see [`USE_RECORD_INTERVAL`](crate::api_token::USE_RECORD_INTERVAL)) and written by
//! [`AuthService::flush_session_activity`], which the web layer calls every second and once at
//! shutdown.

use super::{AuthService, ServiceError};
use crate::session::{SessionTouch, TokenDigest};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Past this many queued sessions or tokens (the database is down and nothing drains the
/// queue) new activity is dropped rather than held: it is a record of use, not a credential.
const MAX_PENDING: usize = 100_000;

/// Activity waiting to be written, the latest per session or token: a [`SessionTouch`] for
/// sessions, the time of use for tokens.
#[derive(Debug)]
pub(crate) struct PendingActivity<T = SessionTouch>(Mutex<HashMap<TokenDigest, T>>);

impl<T> Default for PendingActivity<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T> PendingActivity<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<TokenDigest, T>> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is still a map.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `touch` for the session `digest`, replacing an older one.
    pub(crate) fn queue(&self, digest: TokenDigest, touch: T) {
        let mut pending = self.lock();
        if pending.len() < MAX_PENDING || pending.contains_key(&digest) {
            pending.insert(digest, touch);
        }
    }

    fn take(&self) -> HashMap<TokenDigest, T> {
        std::mem::take(&mut *self.lock())
    }

    /// Puts back what a failed flush did not write, unless newer activity came meanwhile.
    fn restore(&self, unwritten: impl Iterator<Item = (TokenDigest, T)>) {
        let mut pending = self.lock();
        for (digest, touch) in unwritten {
            if pending.len() >= MAX_PENDING {
                break;
            }
            pending.entry(digest).or_insert(touch);
        }
    }
}

impl AuthService {
    /// Writes the queued activity of sessions and API tokens; returns how many were written.
    /// On a store error what was not written stays queued for the next call.
    pub async fn flush_session_activity(&self) -> Result<usize, ServiceError> {
        let sessions = self.flush_sessions().await?;
        let tokens = self.flush_token_uses().await?;
        Ok(sessions + tokens)
    }

    async fn flush_token_uses(&self) -> Result<usize, ServiceError> {
        let pending = self.0.token_uses.take();
        let mut rest = pending.into_iter();
        let mut written = 0;
        while let Some((digest, at)) = rest.next() {
            if let Err(error) = self.store().record_api_token_use(&digest, at).await {
                self.0
                    .token_uses
                    .restore(std::iter::once((digest, at)).chain(rest));
                return Err(error.into());
            }
            written += 1;
        }
        Ok(written)
    }

    async fn flush_sessions(&self) -> Result<usize, ServiceError> {
        let pending = self.0.activity.take();
        let total = pending.len();
        let mut rest = pending.into_iter();
        let mut written = 0;
        while let Some((digest, touch)) = rest.next() {
            if let Err(error) = self.store().touch_session(&digest, &touch).await {
                self.0
                    .activity
                    .restore(std::iter::once((digest, touch)).chain(rest));
                return Err(error.into());
            }
            written += 1;
        }
        debug_assert_eq!(written, total);
        Ok(written)
    }
}
