//! The in-process cache of live sessions and their users (SPEC §8): the common authenticated
//! request is answered from here, without a database call.
//!
//! Two bounded [moka](https://docs.rs/moka) caches: sessions (by token digest for database
//! sessions and API tokens, by public id for cookie sessions) and users (by id). A session entry holds the
//! very user entry it was filled with, and a hit needs that entry to still be the cached one.
//! So ending every session of a user — a password change, a reset, a deletion, "log out
//! everywhere" — is one eviction of the user: every session of theirs cached before it misses
//! and is read from the store again, even after another session has cached the user anew.
//!
//! Revocation stays exact:
//!
//! - **In this process** the service evicts before it answers the request that changed
//!   something ([`AuthService`](crate::AuthService) is the one place that changes sessions).
//! - **From other processes** the store announces every change that can end a session (a
//!   database trigger, so it commits with the change), and a follower task started by
//!   [`AuthStore::follow_changes`](crate::AuthStore::follow_changes) evicts the users named.
//!   The follower also keeps the cache's [`ChangeFeed`] fresh; whenever it has not been heard
//!   from for [`ChangeFeed::FRESH_FOR`] (connection lost, lagging, never started), the cache is
//!   bypassed: every request reads the store, as without a cache, until the feed is back and
//!   the cache has been emptied of anything that might have missed a change.
//!
//! A load that raced an eviction must not put a stale copy back: every fill carries a
//! ticket taken before the store read, and is undone if any eviction happened meanwhile.

use crate::api_token::ApiTokenRecord;
use crate::session::{SessionId, SessionRecord, TokenDigest};
use crate::store::{User, UserId};
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How a session is known to the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SessionKey {
    /// A database session, by its token's digest.
    Token(TokenDigest),
    /// A cookie-store session, by its public id: cached only while it is not revoked.
    Cookie(SessionId),
    /// A personal API token, by its secret's digest.
    ApiToken(TokenDigest),
}

/// What the cache keeps of a session.
#[derive(Debug, Clone)]
pub(crate) enum CachedSession {
    /// A database session's row.
    Database(SessionRecord),
    /// A cookie-store session known not to be revoked; the rest is in the cookie.
    Cookie(UserId),
    /// A personal API token's record.
    ApiToken(ApiTokenRecord),
}

impl CachedSession {
    fn user_id(&self) -> UserId {
        match self {
            Self::Database(record) => record.user_id,
            Self::Cookie(user_id) => *user_id,
            Self::ApiToken(record) => record.user_id,
        }
    }
}

/// A session entry: the session, and the user entry it was filled with.
struct Entry {
    session: CachedSession,
    user: Arc<User>,
}

/// Taken before a store read whose result may fill the cache: see [`SessionCache::fill`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

/// Counters of the cache's work, for tests, metrics and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that read the store although the cache was trusted (not cached yet, evicted).
    pub misses: u64,
    /// Requests that read the store because the change feed was not fresh.
    pub bypassed: u64,
    /// Sessions cached now (approximate: evictions run in the background).
    pub sessions: u64,
}

/// Whether the cache may be trusted: fresh while its follower reports in.
#[derive(Debug)]
pub struct ChangeFeed {
    /// Milliseconds since `epoch` until which the cache is trusted; 0: not trusted.
    fresh_until_ms: AtomicU64,
    epoch: Instant,
}

impl ChangeFeed {
    /// How long one report of the follower keeps the cache trusted. Below the 1 s in which
    /// another process's change must be seen, with room for the follower's own round trip.
    pub const FRESH_FOR: Duration = Duration::from_millis(750);

    fn new() -> Self {
        Self {
            fresh_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn ms_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// True while the cache may answer requests.
    pub fn is_fresh(&self) -> bool {
        self.ms_since_epoch(Instant::now()) < self.fresh_until_ms.load(Ordering::SeqCst)
    }
}

struct Inner {
    sessions: Cache<SessionKey, Arc<Entry>>,
    users: Cache<UserId, Arc<User>>,
    /// Bumped by every eviction; see [`Ticket`].
    generation: AtomicU64,
    feed: ChangeFeed,
    hits: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
    enabled: bool,
}

/// The cache of live sessions and their users; see the module documentation. Cheap to clone;
/// clones share everything.
#[derive(Clone)]
pub struct SessionCache(Arc<Inner>);

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("stats", &self.stats())
            .field("fresh", &self.0.feed.is_fresh())
            .finish()
    }
}

impl SessionCache {
    /// A cache of at most `entries` sessions (and as many users); 0 turns caching off. Until a
    /// follower reports in, the cache is bypassed.
    pub fn new(entries: u64) -> Self {
        Self(Arc::new(Inner {
            sessions: Cache::new(entries),
            users: Cache::new(entries),
            generation: AtomicU64::new(0),
            feed: ChangeFeed::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
            enabled: entries > 0,
        }))
    }

    /// Whether the cache may answer now; counts a bypass when not.
    fn usable(&self) -> bool {
        if !self.0.enabled {
            return false;
        }
        if self.0.feed.is_fresh() {
            true
        } else {
            self.0.bypassed.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// The session under `key` and its user, if both are cached (the user not evicted since
    /// the session was filled) and the cache may answer.
    pub(crate) fn get(&self, key: &SessionKey) -> Option<(CachedSession, Arc<User>)> {
        if !self.usable() {
            return None;
        }
        let found = self.0.sessions.get(key).and_then(|entry| {
            let user = self.0.users.get(&entry.session.user_id())?;
            Arc::ptr_eq(&user, &entry.user).then(|| (entry.session.clone(), user))
        });
        let counter = if found.is_some() {
            &self.0.hits
        } else {
            &self.0.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Taken before the store read whose result will be given to [`fill`](Self::fill).
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.0.generation.load(Ordering::SeqCst))
    }

    /// Caches `session` and `user`, read from the store after `ticket` was taken — unless an
    /// eviction happened since, in which case the read may predate the change that caused it
    /// and nothing is kept.
    pub(crate) fn fill(
        &self,
        ticket: Ticket,
        key: SessionKey,
        session: CachedSession,
        user: &User,
    ) {
        if !self.0.enabled || !self.0.feed.is_fresh() {
            return;
        }
        let user_id = user.id;
        // The user's entry is shared with their other cached sessions: replacing an equal one
        // would make them all miss once for nothing.
        let user = match self.0.users.get(&user_id) {
            Some(cached) if *cached == *user => cached,
            _ => {
                let fresh = Arc::new(user.clone());
                self.0.users.insert(user_id, fresh.clone());
                fresh
            }
        };
        self.0
            .sessions
            .insert(key.clone(), Arc::new(Entry { session, user }));
        // Checked after the insert: an eviction between the check and the insert would
        // otherwise be undone.
        if self.0.generation.load(Ordering::SeqCst) != ticket.0 {
            self.0.sessions.invalidate(&key);
            self.0.users.invalidate(&user_id);
        }
    }

    /// Forgets one session (a logout, a fresh password proof).
    pub(crate) fn evict_session(&self, key: &SessionKey) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.sessions.invalidate(key);
    }

    /// Forgets a user, and with them every session of theirs: each is read from the store
    /// again at its next request.
    pub fn evict_user(&self, user_id: UserId) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.users.invalidate(&user_id);
    }

    /// Forgets everything (the change feed missed changes).
    pub fn clear(&self) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.users.invalidate_all();
        self.0.sessions.invalidate_all();
    }

    /// The follower heard from the store at `heard_at`, and every change committed before then
    /// has been evicted: the cache is trusted until `heard_at` + [`ChangeFeed::FRESH_FOR`].
    pub fn feed_fresh_at(&self, heard_at: Instant) {
        let until = self.0.feed.ms_since_epoch(heard_at + ChangeFeed::FRESH_FOR);
        self.0
            .feed
            .fresh_until_ms
            .fetch_max(until, Ordering::SeqCst);
    }

    /// The follower lost the store (or is starting over): bypass the cache from now on, and
    /// empty it, since changes may have been missed. It is trusted again at the next
    /// [`feed_fresh_at`](Self::feed_fresh_at).
    pub fn feed_lost(&self) {
        self.0.feed.fresh_until_ms.store(0, Ordering::SeqCst);
        self.clear();
    }

    /// Whether the cache answers requests now.
    pub fn is_trusted(&self) -> bool {
        self.0.enabled && self.0.feed.is_fresh()
    }

    /// Counters so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.0.hits.load(Ordering::Relaxed),
            misses: self.0.misses.load(Ordering::Relaxed),
            bypassed: self.0.bypassed.load(Ordering::Relaxed),
            sessions: self.0.sessions.entry_count(),
        }
    }

    /// Runs the caches' pending maintenance (evictions past the bound), for tests that look at
    /// [`CacheStats::sessions`].
    pub fn run_pending_tasks(&self) {
        self.0.sessions.run_pending_tasks();
        self.0.users.run_pending_tasks();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::username::Username;
    use time::OffsetDateTime;

    fn user(id: i64) -> User {
        User {
            id: UserId(id),
            username: Username::parse(&format!("user{id}")).unwrap(),
            auth_stamp: "stamp".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            email: None,
            email_verified: false,
        }
    }

    fn fresh_cache(entries: u64) -> SessionCache {
        let cache = SessionCache::new(entries);
        cache.feed_fresh_at(Instant::now() + Duration::from_secs(60));
        cache
    }

    fn key(n: u8) -> SessionKey {
        SessionKey::Token(TokenDigest([n; 32]))
    }

    #[test]
    fn a_filled_session_is_a_hit_until_its_user_is_evicted() {
        let cache = fresh_cache(10);
        let ticket = cache.ticket();
        cache.fill(ticket, key(1), CachedSession::Cookie(UserId(7)), &user(7));
        assert!(cache.get(&key(1)).is_some());
        cache.evict_user(UserId(7));
        assert!(cache.get(&key(1)).is_none());
        assert_eq!(cache.stats().hits, 1);
        assert_eq!(cache.stats().misses, 1);
    }

    #[test]
    fn an_evicted_users_sessions_miss_even_after_another_session_caches_them_again() {
        let cache = fresh_cache(10);
        cache.fill(
            cache.ticket(),
            key(1),
            CachedSession::Cookie(UserId(7)),
            &user(7),
        );
        cache.fill(
            cache.ticket(),
            key(2),
            CachedSession::Cookie(UserId(7)),
            &user(7),
        );
        assert!(cache.get(&key(1)).is_some() && cache.get(&key(2)).is_some());
        cache.evict_user(UserId(7));
        // Session 2 is read again (it survived, say, a password change that renewed it).
        cache.fill(
            cache.ticket(),
            key(2),
            CachedSession::Cookie(UserId(7)),
            &user(7),
        );
        assert!(cache.get(&key(2)).is_some());
        assert!(
            cache.get(&key(1)).is_none(),
            "session 1 must be read from the store"
        );
    }

    #[test]
    fn a_fill_that_raced_an_eviction_keeps_nothing() {
        let cache = fresh_cache(10);
        let ticket = cache.ticket();
        // The store read happened here; meanwhile another request ended the session.
        cache.evict_user(UserId(7));
        cache.fill(ticket, key(1), CachedSession::Cookie(UserId(7)), &user(7));
        assert!(cache.get(&key(1)).is_none());
    }

    #[test]
    fn a_stale_feed_bypasses_the_cache_and_a_lost_one_empties_it() {
        let cache = SessionCache::new(10);
        cache.fill(
            cache.ticket(),
            key(1),
            CachedSession::Cookie(UserId(7)),
            &user(7),
        );
        assert!(cache.get(&key(1)).is_none(), "never fresh: nothing cached");
        assert_eq!(cache.stats().bypassed, 1);

        cache.feed_fresh_at(Instant::now());
        cache.fill(
            cache.ticket(),
            key(1),
            CachedSession::Cookie(UserId(7)),
            &user(7),
        );
        assert!(cache.get(&key(1)).is_some());
        cache.feed_lost();
        assert!(cache.get(&key(1)).is_none());
        cache.feed_fresh_at(Instant::now());
        assert!(
            cache.get(&key(1)).is_none(),
            "emptied when the feed was lost"
        );

        let old = Instant::now() - ChangeFeed::FRESH_FOR * 2;
        let stale = SessionCache::new(10);
        stale.feed_fresh_at(old);
        assert!(!stale.is_trusted());
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let cache = fresh_cache(100);
        for n in 0..1000_i64 {
            let digest = TokenDigest(n.to_le_bytes().repeat(4).try_into().unwrap());
            cache.fill(
                cache.ticket(),
                SessionKey::Token(digest),
                CachedSession::Cookie(UserId(n)),
                &user(n),
            );
        }
        cache.run_pending_tasks();
        assert!(cache.stats().sessions <= 100, "{:?}", cache.stats());
    }

    #[test]
    fn zero_entries_turns_caching_off() {
        let cache = fresh_cache(0);
        cache.fill(
            cache.ticket(),
            key(1),
            CachedSession::Cookie(UserId(7)),
            &user(7),
        );
        assert!(cache.get(&key(1)).is_none());
        assert!(!cache.is_trusted());
    }
}
