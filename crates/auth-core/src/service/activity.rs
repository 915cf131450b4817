//! `last_seen_at` off the request path: a database session's activity is queued by the request
//! that notices it (at most once a minute per session, see
//! [`SessionTimeouts::touch`](crate::SessionTimeouts::touch)) and written by
//! [`AuthService::flush_session_activity`], which the web layer calls every second and once at
//! shutdown.

use super::{AuthService, ServiceError};
use crate::session::{SessionTouch, TokenDigest};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Past this many queued sessions (the database is down and nothing drains the queue) new
/// activity is dropped rather than held: it is a record of use, not a credential.
const MAX_PENDING: usize = 100_000;

/// Activity waiting to be written, the latest per session.
#[derive(Debug, Default)]
pub(crate) struct PendingActivity(Mutex<HashMap<TokenDigest, SessionTouch>>);

impl PendingActivity {
    fn lock(&self) -> MutexGuard<'_, HashMap<TokenDigest, SessionTouch>> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is still a map.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `touch` for the session `digest`, replacing an older one.
    pub(crate) fn queue(&self, digest: TokenDigest, touch: SessionTouch) {
        let mut pending = self.lock();
        if pending.len() < MAX_PENDING || pending.contains_key(&digest) {
            pending.insert(digest, touch);
        }
    }

    fn take(&self) -> HashMap<TokenDigest, SessionTouch> {
        std::mem::take(&mut *self.lock())
    }

    /// Puts back what a failed flush did not write, unless newer activity came meanwhile.
    fn restore(&self, unwritten: impl Iterator<Item = (TokenDigest, SessionTouch)>) {
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
    /// Writes the queued session activity; returns how many sessions were written. On a store
    /// error what was not written stays queued for the next call.
    pub async fn flush_session_activity(&self) -> Result<usize, ServiceError> {
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
