//! Wristband's domain, independent of any web framework or database.
//!
//! - [`hasher`]: the [`PasswordHasher`] trait and [`Argon2Hasher`], Argon2id on a bounded pool of
//!   worker threads that reuse their memory.
//! - [`foreign_hash`]: Werkzeug (Flask) and bcrypt hashes the hasher also verifies, and
//!   [`identify`](foreign_hash::identify) to check a stored hash without hashing.
//! - [`password_policy`]: length limits, the common-password blocklist, not-the-username.
//! - [`username`]: NFKC, case-insensitive identity.
//! - [`session`]: random tokens (the store keeps only their SHA-256), idle/absolute/remember-me
//!   expiry.
//! - [`api_token`]: personal API tokens (bearer credentials for non-browser clients), their
//!   names and lifetimes.
//! - [`email`]: email addresses, and the single-use tokens of verification and reset links.
//! - [`mail`]: the [`Letter`]s the use cases send, and the [`Outbox`] they post them to.
//! - [`store`]: the [`UserStore`], [`SessionStore`], [`EmailStore`] and [`AuthStore`] traits a
//!   backend implements.
//! - [`throttle`]: login throttling, the [`FailureCounterStore`] trait and the [`LoginThrottle`]
//!   policy.
//! - [`guard`]: route guards as values ([`LoginRequired`](guard::LoginRequired),
//!   [`FreshLogin`](guard::FreshLogin), [`UserPredicate`](guard::UserPredicate)).
//! - [`keys`]: per-purpose keys derived from `SECRET_KEY`, and signing of bytes with key
//!   rotation (the web layer turns signed values into cookies).
//! - [`service`]: the use cases ([`AuthService`]): register, log in, log out, re-authenticate,
//!   change or reset a password, end sessions, delete and import users, purge; written once
//!   for the HTML pages, the JSON API and the command line.
//! - [`observe`]: the [`Observer`](observe::Observer) the service and the hasher tell what
//!   they decide (logins, registrations, throttled attempts, hashing waits), for metrics.
//! - [`secret`]: wrappers whose `Debug`/`Display` never show the secret.
//! - `testing` (feature `testing`): the conformance suite every store runs.
//!
//! # Example
//!
//! ```
//! use auth_core::{Argon2Hasher, HasherConfig, PasswordHasher, PasswordPolicy, SecretString,
//!     SessionToken, Username, Verification};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let alice = Username::parse(" Alice ").unwrap();
//! assert_eq!((alice.as_str(), alice.key()), ("Alice", "alice"));
//!
//! let password = SecretString::new("correct horse battery staple");
//! PasswordPolicy::default().check(&password, Some(&alice)).unwrap();
//! assert!(PasswordPolicy::default().check(&SecretString::new("password1234"), None).is_err());
//!
//! let hasher = Argon2Hasher::start(HasherConfig::default()).unwrap();
//! let hash = hasher.hash(&password).await.unwrap();
//! assert_eq!(
//!     hasher.verify(&password, &hash).await.unwrap(),
//!     Verification::Match { needs_rehash: false }
//! );
//!
//! // The browser gets the token; the store keeps only its digest.
//! let token = SessionToken::generate();
//! assert_eq!(SessionToken::parse(&token.encode()).unwrap().digest(), token.digest());
//! # });
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api_token;
pub mod email;
pub mod foreign_hash;
pub mod guard;
pub mod hasher;
pub mod keys;
pub mod mail;
pub mod observe;
pub mod password_policy;
pub mod secret;
pub mod service;
pub mod session;
pub mod session_cache;
pub mod store;
pub mod throttle;
pub mod totp;
pub mod username;

#[cfg(feature = "testing")]
pub mod testing;

pub use api_token::{ApiToken, ApiTokenRecord, NewApiToken};
pub use email::{EmailAddress, EmailError, EmailPolicy, LinkPurpose, LinkRecord, LinkToken};
pub use hasher::{
    Argon2Hasher, Argon2Settings, HashError, HasherConfig, PasswordHasher, Verification,
};
pub use keys::{KeyRing, Signer};
pub use mail::{Letter, LetterKind, Outbox};
pub use password_policy::{PasswordPolicy, PasswordRuleViolation};
pub use secret::{PasswordHashString, SecretString};
pub use service::{AuthService, Client, ServiceError, ServiceSettings, SessionStorage};
pub use session::{
    NewSession, SessionId, SessionRecord, SessionTimeouts, SessionToken, SessionTouch, TokenDigest,
};
pub use session_cache::SessionCache;
pub use store::{
    ApiTokenStore, AuthStore, EmailStore, PasskeyRecord, SecondFactorStore, SecondFactors,
    SessionStore, StoreError, StoreErrorCounts, User, UserCredentials, UserId, UserStore,
};
pub use throttle::{
    FailureCount, FailureCounterStore, LoginThrottle, RetryAfter, ThrottleKey, ThrottleScope,
};
pub use username::{Username, UsernameError};
