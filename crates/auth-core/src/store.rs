//! The storage traits a backend implements: [`UserStore`], [`SessionStore`], and [`AuthStore`]
//! which joins them.
//!
//! # Implementing a backend
//!
//! A backend is one type implementing all three traits, usually over a connection pool. The
//! rules the web layer relies on, all checked by the conformance suite in
//! `auth_core::testing` (feature `testing`), which a backend's tests run in one line:
//!
//! - **Identity is [`Username::key`]**, unique in the store. Two concurrent
//!   [`UserStore::create_user`] calls for one key: exactly one succeeds, the other returns
//!   [`StoreError::Taken`], never a generic error. Use a unique index, not a read-then-write.
//! - **Sessions are keyed by [`TokenDigest`]**; the token itself is never given to a store.
//! - **Expired sessions are never returned**: [`SessionStore::load_session`] and
//!   [`SessionStore::list_user_sessions`] filter on `expires_at` and `idle_expires_at` against the
//!   `now` they are given (see [`SessionRecord::is_live`]); the caller passes `now` so that tests
//!   and every store agree on one clock.
//! - **The hot path is one read**: `load_session` returns the session and its user together
//!   (one indexed join) and writes nothing.
//! - **Unavailability is [`StoreError::Unavailable`]**: a lost connection or a locked database
//!   must map there, so the web layer answers 503 and keeps the client's cookie.
//! - **Errors keep their cause**: a backend wraps its driver's error as the source of a
//!   [`StoreError`], never flattened into a string.
//! - **Writes that belong together are one transaction**: [`AuthStore::change_password`] and
//!   [`UserStore::import_users`] commit everything or nothing.
//! - Every method that returns `Ok` has committed its write.

use crate::email::{EmailAddress, LinkPurpose, LinkRecord};
use crate::secret::PasswordHashString;
use crate::session::{NewSession, SessionId, SessionRecord, SessionTouch, TokenDigest};
use crate::session_cache::SessionCache;
use crate::username::Username;
use async_trait::async_trait;
use std::fmt;
use time::OffsetDateTime;

/// A user's numeric id, assigned by the store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A user as the application sees it: no password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Store-assigned id.
    pub id: UserId,
    /// The name as registered (identity is its [`Username::key`]).
    pub username: Username,
    /// Random value changed whenever every session of the user must end (password change,
    /// "log out everywhere"); sessions that carry their own copy compare against it.
    pub auth_stamp: String,
    /// Registration time.
    pub created_at: OffsetDateTime,
    /// The user's email address, if they gave one (unique by [`EmailAddress::key`]).
    pub email: Option<EmailAddress>,
    /// Whether the user proved they read [`email`](Self::email) (a verification link's form
    /// was submitted, or an administrator set it).
    pub email_verified: bool,
}

/// A user with their stored password hash, for login only.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// Their stored hash (redacted in `Debug`).
    pub password_hash: PasswordHashString,
}

/// The error a backend wraps: its own driver's error, kept as the source.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors every store returns; backends convert their own errors into these, keeping the
/// driver's error as the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The username is already registered (unique violation on the identity key).
    #[error("that username is taken")]
    Taken,
    /// The email address is already another user's (unique violation on its key).
    #[error("that email address is taken")]
    EmailTaken,
    /// The database cannot be reached, is locked, or timed out: retry later (HTTP 503).
    #[error("the database is unavailable")]
    Unavailable(#[source] BackendError),
    /// Anything else the database reported: a bug or a broken database, not the client's
    /// fault (HTTP 500, logged with its cause).
    #[error("the database failed")]
    Database(#[source] BackendError),
}

impl StoreError {
    /// An [`Unavailable`](Self::Unavailable) error from a driver error.
    pub fn unavailable(source: impl Into<BackendError>) -> Self {
        Self::Unavailable(source.into())
    }

    /// A [`Database`](Self::Database) error from a driver error.
    pub fn database(source: impl Into<BackendError>) -> Self {
        Self::Database(source.into())
    }
}

/// Users and their password hashes.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Registers a user, with an unverified `email` if given; [`StoreError::Taken`] if the
    /// identity key exists, [`StoreError::EmailTaken`] if the address's key does.
    async fn create_user(
        &self,
        username: &Username,
        password_hash: &PasswordHashString,
        email: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<User, StoreError>;

    /// Looks a user up by identity key, with their hash, for login.
    async fn find_credentials(
        &self,
        username: &Username,
    ) -> Result<Option<UserCredentials>, StoreError>;

    /// Looks a user up by id.
    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// Replaces a user's password hash (on password change or rehash after login).
    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &PasswordHashString,
    ) -> Result<(), StoreError>;

    /// Gives the user a fresh random auth stamp and returns it: every session that carries the
    /// old stamp (the cookie store's sessions) stops being valid.
    async fn rotate_auth_stamp(&self, id: UserId) -> Result<String, StoreError>;

    /// Deletes the user and, with them, every session of theirs; `true` if they existed.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;

    /// Every user, in registration order.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// How many users there are.
    async fn count_users(&self) -> Result<u64, StoreError>;

    /// Up to `limit` users with their hashes, in id order, starting after `after` (from the
    /// first user when `None`): a batch of a walk over every stored hash.
    async fn list_credentials(
        &self,
        after: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<UserCredentials>, StoreError>;

    /// Replaces the user's hash with `new` only if it is still `expected` (compare and set),
    /// so a concurrent change (a login's upgrade, a password change) is never overwritten;
    /// `true` if it was replaced.
    async fn replace_password_hash(
        &self,
        id: UserId,
        expected: &PasswordHashString,
        new: &PasswordHashString,
    ) -> Result<bool, StoreError>;

    /// Creates many users with existing password hashes (an import from another application),
    /// all in one transaction, created at `now`, each with a fresh auth stamp.
    ///
    /// A name whose identity key is already registered is never overwritten: its row is
    /// [`ImportOutcome::Existing`] and the stored user keeps their hash and sessions. So is a
    /// later row with the key of an earlier row in `users`. Existence is decided by the insert
    /// itself (`INSERT … ON CONFLICT DO NOTHING`), not by an earlier read, so a registration
    /// racing the import is never overwritten either. [`ImportMode`] says whether the new rows
    /// are committed; [`ImportReport::committed`] says whether they were. Either every new row
    /// is written or none is: a store error midway leaves nothing behind.
    ///
    /// The hashes are stored as given: the caller checks them
    /// ([`identify`](crate::foreign_hash::identify)) first.
    async fn import_users(
        &self,
        users: &[(Username, PasswordHashString)],
        mode: ImportMode,
        now: OffsetDateTime,
    ) -> Result<ImportReport, StoreError>;
}

/// Whether [`UserStore::import_users`] commits what it found to be new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Create the new users, leave the existing ones alone, commit.
    SkipExisting,
    /// Commit only if every row is new; otherwise write nothing.
    AllOrNothing,
    /// Write nothing; only report which rows are new and which exist.
    DryRun,
}

/// What [`UserStore::import_users`] found for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The name was free: the user was created if the import was committed.
    New,
    /// The name was already registered (or came earlier in the same import): untouched.
    Existing,
}

/// The result of [`UserStore::import_users`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// One outcome per row, in the order given.
    pub outcomes: Vec<ImportOutcome>,
    /// True when the [`ImportOutcome::New`] rows were written; false after
    /// [`ImportMode::DryRun`], or [`ImportMode::AllOrNothing`] with an existing name.
    pub committed: bool,
}

impl ImportReport {
    /// How many users the import created: the new rows, if committed.
    pub fn created(&self) -> usize {
        if self.committed {
            self.count(ImportOutcome::New)
        } else {
            0
        }
    }

    /// How many rows had `outcome`.
    pub fn count(&self, outcome: ImportOutcome) -> usize {
        self.outcomes.iter().filter(|o| **o == outcome).count()
    }
}

/// Server-side sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session under its public id (given by the caller, random).
    async fn insert_session(&self, session: &NewSession) -> Result<(), StoreError>;

    /// The live session with this digest and its user, in one read; `None` if unknown or
    /// expired at `now`.
    async fn load_session(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(SessionRecord, User)>, StoreError>;

    /// Records activity (see [`crate::SessionTimeouts::touch`]).
    async fn touch_session(
        &self,
        digest: &TokenDigest,
        touch: &SessionTouch,
    ) -> Result<(), StoreError>;

    /// Records a fresh proof of the password (re-authentication) on a session.
    async fn mark_authenticated(
        &self,
        digest: &TokenDigest,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Deletes one session (logout); `true` if it existed.
    async fn delete_session(&self, digest: &TokenDigest) -> Result<bool, StoreError>;

    /// Deletes the session with public id `session_id` if it belongs to `user_id`; `true` if it
    /// did. A user can end their own sessions by id, never anybody else's.
    async fn delete_user_session(
        &self,
        user_id: UserId,
        session_id: &SessionId,
    ) -> Result<bool, StoreError>;

    /// Deletes every session of a user, except the one with digest `keep`, if given; returns
    /// how many were deleted.
    async fn delete_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<&TokenDigest>,
    ) -> Result<u64, StoreError>;

    /// The user's live sessions at `now`, oldest first.
    async fn list_user_sessions(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// Deletes every session expired at `now`, and every revocation whose cookie would have
    /// expired by then; returns how many rows went.
    async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Records that the cookie-store session `session_id` of `user_id` logged out, until
    /// `until` (when its cookie would have expired): a replayed copy is then anonymous.
    /// Recording one twice keeps the later `until`.
    async fn revoke_session(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        until: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The user `user_id` with whether their cookie-store session `session_id` is revoked at
    /// `now`, in **one read** (the lookup the cookie store makes on every request anyway);
    /// `None` when there is no such user.
    async fn find_session_user(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<(User, bool)>, StoreError>;
}

/// Email addresses and the one-time links sent to them (contract §9).
///
/// - Addresses are unique by [`EmailAddress::key`] (a unique index; a conflict is
///   [`StoreError::EmailTaken`], never a generic error).
/// - Links are kept by [`TokenDigest`] only and are **single use**: taking
///   one ([`verify_email`](Self::verify_email), [`AuthStore::reset_password`]) deletes it in
///   the same statement that reads it, so two concurrent uses cannot both succeed.
/// - An expired link is never returned, exactly like an unknown one.
#[async_trait]
pub trait EmailStore: Send + Sync {
    /// Sets the user's address (`None` removes it), verified or not; `false` when there is no
    /// such user. Setting the address the user already has (same key) keeps its verification
    /// unless `verified` says so.
    async fn set_email(
        &self,
        id: UserId,
        email: Option<&EmailAddress>,
        verified: bool,
    ) -> Result<bool, StoreError>;

    /// The user whose address has `email`'s key.
    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError>;

    /// Stores a new link.
    async fn insert_link(&self, link: &LinkRecord) -> Result<(), StoreError>;

    /// The live link with this digest and purpose at `now`, without using it (the page a link
    /// opens changes nothing).
    async fn find_link(
        &self,
        digest: &crate::TokenDigest,
        purpose: LinkPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<LinkRecord>, StoreError>;

    /// Uses the live verification link with this digest, in one transaction: the link is
    /// deleted and, if the user's address is still the one it was sent to, marked verified.
    /// Returns the user as they now are when it was verified; `None` for an unknown, expired or
    /// used link, or one sent to an address the user has since replaced.
    async fn verify_email(
        &self,
        digest: &crate::TokenDigest,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError>;
}

/// Which second factors a user has (contract §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecondFactors {
    /// An authenticator app (TOTP) is enrolled.
    pub totp: bool,
    /// Unused recovery codes left.
    pub recovery_codes: u32,
    /// Passkeys registered.
    pub passkeys: u32,
}

impl SecondFactors {
    /// Whether a login needs a second step.
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// A passkey as the store keeps it; `credential` is webauthn-rs's serialised `Passkey`,
/// opaque to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// Public id (random), shown to the owner.
    pub id: String,
    /// Whose passkey it is.
    pub user_id: UserId,
    /// The authenticator's credential id (unique).
    pub credential_id: Vec<u8>,
    /// The name the user gave it.
    pub name: String,
    /// The serialised credential (public key, counter).
    pub credential: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last signed in.
    pub last_used_at: Option<OffsetDateTime>,
}

/// Second factors: the sealed TOTP secret with the last time step it accepted, and recovery
/// codes by their SHA-256.
///
/// - **A TOTP step is accepted once**: [`accept_totp_step`](Self::accept_totp_step) is one
///   conditional update (`… WHERE last_step IS NULL OR last_step < step`), so the same code
///   replayed, even by two processes at once, is refused.
/// - **A recovery code works once**: [`use_recovery_code`](Self::use_recovery_code) deletes it
///   in the statement that finds it.
/// - Enabling TOTP and replacing the codes is one transaction.
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
    /// The user's second factors (none for an unknown user).
    async fn second_factors(&self, user_id: UserId) -> Result<SecondFactors, StoreError>;

    /// Turns TOTP on with `sealed_secret` (no step used yet) and replaces the user's recovery
    /// codes with `recovery_codes`, in one transaction; `false` when there is no such user.
    async fn enable_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        recovery_codes: &[[u8; 32]],
    ) -> Result<bool, StoreError>;

    /// The user's sealed TOTP secret, if TOTP is on.
    async fn totp_secret(&self, user_id: UserId) -> Result<Option<Vec<u8>>, StoreError>;

    /// Records `step` as used if it is later than every step used before; `true` if so.
    async fn accept_totp_step(&self, user_id: UserId, step: u64) -> Result<bool, StoreError>;

    /// Uses (deletes) the user's recovery code with this digest; `true` if it existed.
    async fn use_recovery_code(
        &self,
        user_id: UserId,
        digest: &[u8; 32],
    ) -> Result<bool, StoreError>;

    /// Replaces every recovery code of the user with `recovery_codes`, in one transaction.
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[[u8; 32]],
    ) -> Result<(), StoreError>;

    /// Turns every second factor of the user off (TOTP, recovery codes, passkeys), in one
    /// transaction; `true` if any was on.
    async fn clear_second_factors(&self, user_id: UserId) -> Result<bool, StoreError>;

    /// The user's WebAuthn user handle, given to their passkeys; set to `candidate` if the
    /// user has none yet, and returned (a concurrent first registration keeps one handle).
    async fn webauthn_handle(
        &self,
        user_id: UserId,
        candidate: [u8; 16],
    ) -> Result<[u8; 16], StoreError>;

    /// The user whose WebAuthn user handle is `handle`.
    async fn find_user_by_webauthn_handle(&self, handle: &[u8])
    -> Result<Option<User>, StoreError>;

    /// Stores a new passkey; [`StoreError::Taken`] if its credential id is registered.
    async fn add_passkey(&self, passkey: &PasskeyRecord) -> Result<(), StoreError>;

    /// The user's passkeys, oldest first.
    async fn passkeys(&self, user_id: UserId) -> Result<Vec<PasskeyRecord>, StoreError>;

    /// The passkey with this credential id.
    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError>;

    /// Records a sign-in with passkey `id` at `now`, with its updated credential (counter)
    /// when it changed.
    async fn record_passkey_use(
        &self,
        id: &str,
        credential: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Renames the user's passkey `id`; `false` if they have none with that id.
    async fn rename_passkey(
        &self,
        user_id: UserId,
        id: &str,
        name: &str,
    ) -> Result<bool, StoreError>;

    /// Removes the user's passkey `id`; `false` if they have none with that id.
    async fn remove_passkey(&self, user_id: UserId, id: &str) -> Result<bool, StoreError>;

    /// Keeps a WebAuthn ceremony's state (`purpose`: registration, login, second factor) under
    /// the random `id` until `expires_at`, for the user it is for, if any.
    async fn save_ceremony(
        &self,
        id: &str,
        user_id: Option<UserId>,
        purpose: &str,
        state: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Takes (deletes and returns) the live ceremony `id` of `purpose`: single use.
    async fn take_ceremony(
        &self,
        id: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(Option<UserId>, String)>, StoreError>;
}

/// Personal API tokens (SPEC §11), by the SHA-256 of their secret.
///
/// Deleting a token, like deleting a session, is announced to other processes' session
/// caches (the store's change feed), so a revoked token stops working everywhere within the
/// cache's freshness bound. A user's deletion deletes their tokens.
#[async_trait]
pub trait ApiTokenStore: Send + Sync {
    /// Stores `token` unless its user already holds `max_per_user` live tokens at `now`
    /// (`false`, nothing written).
    async fn insert_api_token(
        &self,
        token: &crate::api_token::NewApiToken,
        max_per_user: u64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// The live token with this digest and its user, in one read; `None` for an unknown or
    /// expired one.
    async fn load_api_token(
        &self,
        digest: &crate::TokenDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(crate::api_token::ApiTokenRecord, User)>, StoreError>;

    /// The user's live tokens, newest first.
    async fn list_api_tokens(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<crate::api_token::ApiTokenRecord>, StoreError>;

    /// Deletes the user's token with public id `id`; `false` when they have none by that id.
    async fn delete_api_token(
        &self,
        user_id: UserId,
        id: &crate::session::SessionId,
    ) -> Result<bool, StoreError>;

    /// Deletes every token of the user but `except`; how many.
    async fn delete_api_tokens(
        &self,
        user_id: UserId,
        except: Option<&crate::session::SessionId>,
    ) -> Result<u64, StoreError>;

    /// Records that the token with this digest was used at `at`.
    async fn record_api_token_use(
        &self,
        digest: &crate::TokenDigest,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Deletes tokens expired at `now`; how many.
    async fn purge_expired_api_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

/// A complete backend: users, sessions, and a health check.
#[async_trait]
pub trait AuthStore:
    UserStore
    + SessionStore
    + EmailStore
    + SecondFactorStore
    + ApiTokenStore
    + crate::throttle::FailureCounterStore
{
    /// A password change, as **one transaction**: the user's hash becomes `password_hash`, the
    /// auth stamp a fresh one (returned), every session of the user is deleted, and `renewed`,
    /// when given, is stored as their one remaining session (the one that made the change,
    /// under a new token). Either all of it is committed or none of it: after an error the
    /// user still has the old password and every old session. An unknown user is
    /// [`StoreError::Database`] (the caller looked the user up first), with nothing written.
    async fn change_password(
        &self,
        id: UserId,
        password_hash: &PasswordHashString,
        renewed: Option<&NewSession>,
    ) -> Result<PasswordChanged, StoreError>;

    /// A password reset through a link, as **one transaction**: the live reset link with this
    /// digest is used (deleted), the user's hash becomes `password_hash`, the auth stamp a
    /// fresh one, every session of the user and every other reset link of theirs is deleted.
    /// `None`, with nothing written, for an unknown, expired or used link.
    async fn reset_password(
        &self,
        digest: &crate::TokenDigest,
        password_hash: &PasswordHashString,
        now: OffsetDateTime,
    ) -> Result<Option<(User, PasswordChanged)>, StoreError>;

    /// A cheap round trip to the database, for `/healthz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The backend's name, for logs (`"sqlite"`, `"postgres"`).
    fn backend_name(&self) -> &'static str;

    /// Starts a task that follows every change to sessions and users committed by anyone — other
    /// processes, this one, a script writing to the database — evicting the users it names from
    /// `cache`, and reporting in to keep the cache's feed fresh
    /// ([`SessionCache::feed_fresh_at`]) at least every few hundred milliseconds; when it loses
    /// the database it calls [`SessionCache::feed_lost`] and retries. `None` when nothing is
    /// followed.
    ///
    /// The default follows nothing, so the cache is never trusted and every request reads the
    /// store: correct for a store that cannot announce its changes.
    fn follow_changes(&self, cache: SessionCache) -> Option<tokio::task::JoinHandle<()>> {
        drop(cache);
        None
    }

    /// How many database errors this store has met since it was opened, by kind, for
    /// metrics; `None` when the store does not count them (the default).
    fn error_counts(&self) -> Option<StoreErrorCounts> {
        None
    }
}

/// What [`AuthStore::error_counts`] reports: database errors since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreErrorCounts {
    /// [`StoreError::Unavailable`]: the database could not be reached, was locked, timed out.
    pub unavailable: u64,
    /// [`StoreError::Database`]: anything else the database reported.
    pub failed: u64,
}

/// What [`AuthStore::change_password`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChanged {
    /// The user's new auth stamp.
    pub auth_stamp: String,
    /// How many sessions were deleted (the renewed one is not counted).
    pub sessions_ended: u64,
}

/// A fresh random auth stamp (128 bits, hex), for new users and for ending all their sessions.
pub fn new_auth_stamp() -> String {
    hex::encode(crate::hasher::random_bytes::<16>())
}
