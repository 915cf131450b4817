//! Login throttling: the failure counters a store keeps ([`FailureCounterStore`]) and the pure
//! policy that reads them ([`LoginThrottle`]).
//!
//! # The rules (contract §6, "Throttling")
//!
//! Three counters are kept for every login attempt, each a [`ThrottleKey`]:
//!
//! | scope | counts failures of | limit | window |
//! | --- | --- | --- | --- |
//! | [`ThrottleScope::UserAndAddress`] | one username from one client address | `login.max_failures` | `login.failure_window` |
//! | [`ThrottleScope::Account`] | one username from every address | `login.max_failures_per_account` | one hour |
//! | [`ThrottleScope::Address`] | one client address over every username | `login.max_failures_per_address` | `login.failure_window` |
//! | [`ThrottleScope::Registration`] | registrations from one client address | `register.max_per_address` | one hour |
//! | [`ThrottleScope::ResetFromAddress`] | password reset requests from one client address | `account.reset_max_per_address` | one hour |
//! | [`ThrottleScope::ResetForAccount`] | password reset requests naming one username or address | `account.reset_max_per_account` | one hour |
//!
//! Once a counter has reached its limit, every further attempt it covers is refused (HTTP 429,
//! `Retry-After`) until its window ends, even with the right password. Refused attempts are not
//! counted; a successful login clears the username-and-address counter (the other two keep
//! counting, so a success cannot be used to reset a distributed attack).
//!
//! A window is fixed: it starts at the first failure and ends `window` later; the first failure
//! after it ends starts a new one at a count of 1.
//!
//! # Implementing [`FailureCounterStore`]
//!
//! The rules a backend must keep, all checked by the conformance suite in `auth_core::testing`:
//!
//! - **[`record_failure`](FailureCounterStore::record_failure) is one atomic step.** Several
//!   server instances record failures for one key at the same moment; N concurrent calls must
//!   leave the count N higher, and each call must return a distinct count. Use a single upsert
//!   (`INSERT … ON CONFLICT (key) DO UPDATE … RETURNING`) whose update restarts the window when
//!   the stored one has ended, never a read followed by a write.
//! - **An ended window counts as nothing.** [`failure_counts`](FailureCounterStore::failure_counts)
//!   reports `None` for a key whose `window_ends_at` is at or before `now`, exactly as for a key
//!   never seen.
//! - **Times are compared as the caller's `now`**, never the database's clock, so every instance
//!   and every test agree.
//! - **Unavailability is [`StoreError::Unavailable`]**, as for every other store method.

use crate::store::StoreError;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;

/// The window of the per-account rule: fixed by the contract at one hour.
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(60 * 60);
/// The window of the registration rule: fixed by the contract at one hour.
pub const REGISTRATION_WINDOW: Duration = Duration::from_secs(60 * 60);
/// The window of both password reset rules: one hour.
pub const RESET_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Longest unparsable username kept for throttling, in code points: enough to tell attempts
/// apart, short enough that a huge form field costs nothing.
pub const MAX_RAW_USERNAME_CHARS: usize = 128;

/// Which rule a counter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleScope {
    /// One username from one client address (`login.max_failures`).
    UserAndAddress,
    /// One username from every address (`login.max_failures_per_account`).
    Account,
    /// One client address over every username (`login.max_failures_per_address`).
    Address,
    /// Registrations from one client address (`register.max_per_address`).
    Registration,
    /// Password reset requests from one client address (`account.reset_max_per_address`).
    ResetFromAddress,
    /// Password reset requests naming one account, by the username or address typed
    /// (`account.reset_max_per_account`).
    ResetForAccount,
    /// Unknown API tokens presented from one client address (`login.max_failures_per_address`,
    /// in `login.failure_window`).
    TokenGuesses,
}

impl ThrottleScope {
    /// Every scope, for an exporter that shows each from the start.
    pub const ALL: [Self; 7] = [
        Self::UserAndAddress,
        Self::Account,
        Self::Address,
        Self::Registration,
        Self::ResetFromAddress,
        Self::ResetForAccount,
        Self::TokenGuesses,
    ];

    /// The name of the limit, for metrics: `user_and_address`, `account`, `address`,
    /// `registration`, `reset_from_address`, `reset_for_account`, `token_guesses`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserAndAddress => "user_and_address",
            Self::Account => "account",
            Self::Address => "address",
            Self::Registration => "registration",
            Self::ResetFromAddress => "reset_from_address",
            Self::ResetForAccount => "reset_for_account",
            Self::TokenGuesses => "token_guesses",
        }
    }

    /// The prefix of stored keys of this scope, so keys of different scopes never collide.
    fn prefix(self) -> &'static str {
        match self {
            Self::UserAndAddress => "ua",
            Self::Account => "u",
            Self::Address => "a",
            Self::Registration => "r",
            Self::ResetFromAddress => "pa",
            Self::ResetForAccount => "pu",
            Self::TokenGuesses => "t",
        }
    }
}

/// One failure counter's identity, as a store keeps it.
///
/// The stored text ([`as_str`](Self::as_str)) is the scope's prefix, the client address (IPv4,
/// or the /64 prefix of an IPv6 address, since one IPv6 client usually holds a whole /64), and
/// the SHA-256 of the username's throttle form ([`username_throttle_key`]). The username is
/// hashed so that text people type into the username field (sometimes their password) is not
/// kept readable in the database, and so every key has a bounded length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThrottleKey {
    scope: ThrottleScope,
    text: String,
}

impl ThrottleKey {
    /// The counter for `username_key` (see [`username_throttle_key`]) from `address`.
    pub fn user_and_address(username_key: &str, address: Option<IpAddr>) -> Self {
        Self::build(
            ThrottleScope::UserAndAddress,
            &format!(
                "{}:{}",
                address_text(address),
                username_digest(username_key)
            ),
        )
    }

    /// The counter for `username_key` from every address.
    pub fn account(username_key: &str) -> Self {
        Self::build(ThrottleScope::Account, &username_digest(username_key))
    }

    /// The counter for `address` over every username.
    pub fn address(address: IpAddr) -> Self {
        Self::build(ThrottleScope::Address, &address_text(Some(address)))
    }

    /// The counter of registrations from `address`.
    pub fn registrations(address: IpAddr) -> Self {
        Self::build(ThrottleScope::Registration, &address_text(Some(address)))
    }

    /// The counter of password reset requests from `address`.
    pub fn reset_requests_from(address: IpAddr) -> Self {
        Self::build(
            ThrottleScope::ResetFromAddress,
            &address_text(Some(address)),
        )
    }

    /// The counter of password reset requests naming `login_key` (a username's throttle form,
    /// or an address's key), from every client.
    pub fn reset_requests_for(login_key: &str) -> Self {
        Self::build(ThrottleScope::ResetForAccount, &username_digest(login_key))
    }

    /// The counter of unknown API tokens presented from `address` (one shared counter for
    /// clients without an address).
    pub fn token_guesses(address: Option<IpAddr>) -> Self {
        Self::build(ThrottleScope::TokenGuesses, &address_text(address))
    }

    fn build(scope: ThrottleScope, subject: &str) -> Self {
        Self {
            scope,
            text: format!("{}:{subject}", scope.prefix()),
        }
    }

    /// The rule this counter belongs to.
    pub fn scope(&self) -> ThrottleScope {
        self.scope
    }

    /// The text a store keys the counter by (unique across scopes, at most 120 bytes).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The username form counters are keyed by: the identity ([`Username::key`], NFKC lower-case)
/// when `raw` is a valid username, else `raw` NFKC-normalised, trimmed, lower-cased and cut to
/// [`MAX_RAW_USERNAME_CHARS`]. Unknown and invalid names are therefore throttled exactly like
/// registered ones, and a response never hints which a name is.
///
/// [`Username::key`]: crate::Username::key
pub fn username_throttle_key(raw: &str) -> String {
    match crate::Username::parse(raw) {
        Ok(username) => username.key().to_owned(),
        Err(_) => {
            // Cut before normalising too, so a huge field costs bounded work.
            let cut: String = raw.chars().take(MAX_RAW_USERNAME_CHARS * 2).collect();
            let normalised: String = cut.nfkc().collect();
            normalised
                .trim()
                .to_lowercase()
                .chars()
                .take(MAX_RAW_USERNAME_CHARS)
                .collect()
        }
    }
}

fn username_digest(username_key: &str) -> String {
    hex::encode(Sha256::digest(username_key.as_bytes()))
}

/// The address part of a key. IPv4-mapped IPv6 addresses count as their IPv4 address; other
/// IPv6 addresses by their /64, because a single client can use any address of its /64.
///
/// An unknown address (no peer address reached the service) is never one shared bucket, which
/// one attacker could fill to lock every client out: the username-and-address counter then
/// counts the username alone (`-`), and there is no address counter at all (see
/// [`LoginThrottle::keys`]).
fn address_text(address: Option<IpAddr>) -> String {
    match address.map(|a| a.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "-".to_owned(),
    }
}

/// A counter's state: how many failures in the current window, and when the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Failures recorded since the window started.
    pub count: u32,
    /// When the window ends (exclusive: at this instant the counter is stale).
    pub window_ends_at: OffsetDateTime,
}

impl FailureCount {
    /// True while the window has not ended at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.window_ends_at > now
    }
}

/// Failure counters, shared by every server instance through the store. See the
/// [module documentation](self) for the rules an implementation keeps.
#[async_trait]
pub trait FailureCounterStore: Send + Sync {
    /// The live counter of each key, in the order of `keys`; `None` for a key with no counter
    /// or whose window has ended at `now`. One read.
    async fn failure_counts(
        &self,
        keys: &[ThrottleKey],
        now: OffsetDateTime,
    ) -> Result<Vec<Option<FailureCount>>, StoreError>;

    /// Counts one failure for `key` and returns the counter after it, atomically: when no
    /// counter exists or its window has ended at `now`, the count becomes 1 and the window ends
    /// at `now + window`; otherwise the count goes up by one and the window is unchanged.
    async fn record_failure(
        &self,
        key: &ThrottleKey,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<FailureCount, StoreError>;

    /// Takes back one failure counted by [`record_failure`](Self::record_failure) (an attempt
    /// that turned out not to be a failure, or was refused): the count goes down by one, never
    /// below zero, and the window is unchanged. No counter is not an error.
    async fn withdraw_failure(&self, key: &ThrottleKey) -> Result<(), StoreError>;

    /// Deletes `key`'s counter (after a successful login). No counter is not an error.
    async fn clear_failures(&self, key: &ThrottleKey) -> Result<(), StoreError>;

    /// Deletes every counter whose window has ended at `now`; returns how many.
    async fn purge_expired_failures(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// [`record_failure`](Self::record_failure) for each `(key, window)`, the counters after it
    /// in the same order. A store should do it in one transaction (one commit per login
    /// attempt instead of one per counter); the default records them one by one.
    async fn record_failures(
        &self,
        keys: &[(ThrottleKey, Duration)],
        now: OffsetDateTime,
    ) -> Result<Vec<FailureCount>, StoreError> {
        let mut counts = Vec::with_capacity(keys.len());
        for (key, window) in keys {
            counts.push(self.record_failure(key, *window, now).await?);
        }
        Ok(counts)
    }

    /// [`clear_failures`](Self::clear_failures) for `cleared` and
    /// [`withdraw_failure`](Self::withdraw_failure) for each of `withdrawn`: what a successful
    /// login does, and (with nothing cleared) an undecided one. A store should do it in one
    /// transaction; the default does them one by one.
    async fn clear_and_withdraw(
        &self,
        cleared: Option<&ThrottleKey>,
        withdrawn: &[ThrottleKey],
    ) -> Result<(), StoreError> {
        if let Some(key) = cleared {
            self.clear_failures(key).await?;
        }
        for key in withdrawn {
            self.withdraw_failure(key).await?;
        }
        Ok(())
    }
}

/// How long a refused client must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for a `Retry-After` header: rounded up, at least 1, so a client that
    /// waits as told is never refused again by the same window.
    pub fn seconds(&self) -> u64 {
        let whole = self.0.as_secs();
        let rounded = if self.0.subsec_nanos() > 0 {
            whole.saturating_add(1)
        } else {
            whole
        };
        rounded.max(1)
    }
}

/// The throttling policy: the four `login.*` limits, and the decision they make on counters.
/// Pure: it reads no clock and no store.
///
/// A limit of 0 turns its rule off (a rule that refused every login would lock everyone out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Failures allowed per username and client address within `failure_window`.
    pub max_failures: u32,
    /// The window of the per-username-and-address and per-address rules.
    pub failure_window: Duration,
    /// Failures allowed per username from all addresses within [`ACCOUNT_WINDOW`].
    pub max_failures_per_account: u32,
    /// Failures allowed per client address over all usernames within `failure_window`.
    pub max_failures_per_address: u32,
    /// Registrations allowed per client address within [`REGISTRATION_WINDOW`]; the same
    /// counters and decision serve it.
    pub max_registrations_per_address: u32,
    /// Password reset requests allowed per client address within [`RESET_WINDOW`].
    pub max_reset_requests_per_address: u32,
    /// Password reset requests allowed per account (username or address typed) within
    /// [`RESET_WINDOW`].
    pub max_reset_requests_per_account: u32,
}

impl Default for LoginThrottle {
    /// The contract's defaults: 5 per 15 minutes, 100 per account per hour, 50 per address.
    fn default() -> Self {
        Self {
            max_failures: 5,
            failure_window: Duration::from_secs(15 * 60),
            max_failures_per_account: 100,
            max_failures_per_address: 50,
            max_registrations_per_address: 20,
            max_reset_requests_per_address: 20,
            max_reset_requests_per_account: 5,
        }
    }
}

impl LoginThrottle {
    /// The counters an attempt for `username_key` (see [`username_throttle_key`]) from
    /// `address` touches, in the order user-and-address, account, address.
    ///
    /// Without an address there are two: the username alone (under the per-username-and-address
    /// limit) and the account. Clients whose address is unknown must not share an address
    /// counter: one of them failing 50 times would lock out every other.
    pub fn keys(&self, username_key: &str, address: Option<IpAddr>) -> Vec<ThrottleKey> {
        let mut keys = vec![
            ThrottleKey::user_and_address(username_key, address),
            ThrottleKey::account(username_key),
        ];
        if let Some(address) = address {
            keys.push(ThrottleKey::address(address));
        }
        keys
    }

    /// The failures allowed for counters of `scope` (0: the rule is off).
    pub fn limit(&self, scope: ThrottleScope) -> u32 {
        match scope {
            ThrottleScope::UserAndAddress => self.max_failures,
            ThrottleScope::Account => self.max_failures_per_account,
            ThrottleScope::Address | ThrottleScope::TokenGuesses => self.max_failures_per_address,
            ThrottleScope::Registration => self.max_registrations_per_address,
            ThrottleScope::ResetFromAddress => self.max_reset_requests_per_address,
            ThrottleScope::ResetForAccount => self.max_reset_requests_per_account,
        }
    }

    /// The window for counters of `scope`, to pass to
    /// [`FailureCounterStore::record_failure`].
    pub fn window(&self, scope: ThrottleScope) -> Duration {
        match scope {
            ThrottleScope::Account => ACCOUNT_WINDOW,
            ThrottleScope::Registration => REGISTRATION_WINDOW,
            ThrottleScope::ResetFromAddress | ThrottleScope::ResetForAccount => RESET_WINDOW,
            ThrottleScope::UserAndAddress
            | ThrottleScope::Address
            | ThrottleScope::TokenGuesses => self.failure_window,
        }
    }

    /// Whether an attempt may go ahead, given the counters of `keys` (paired in order, as
    /// [`FailureCounterStore::failure_counts`] returns them). Refused when any live counter has
    /// reached its limit; the wait is until the last such window ends.
    pub fn decide(
        &self,
        keys: &[ThrottleKey],
        counts: &[Option<FailureCount>],
        now: OffsetDateTime,
    ) -> Result<(), RetryAfter> {
        match self.refusal(keys, counts, now) {
            None => Ok(()),
            Some((_, wait)) => Err(wait),
        }
    }

    /// [`decide`](Self::decide)'s refusal with the scope of the limit that makes the wait (the
    /// blocking window that ends last), for metrics; `None` when the attempt may go ahead.
    pub fn refusal(
        &self,
        keys: &[ThrottleKey],
        counts: &[Option<FailureCount>],
        now: OffsetDateTime,
    ) -> Option<(ThrottleScope, RetryAfter)> {
        let (until, scope) = keys
            .iter()
            .zip(counts)
            .filter_map(|(key, count)| {
                let count = count.as_ref()?;
                let limit = self.limit(key.scope());
                (limit > 0 && count.count >= limit && count.is_live(now))
                    .then_some((count.window_ends_at, key.scope()))
            })
            .max_by_key(|(until, _)| *until)?;
        Some((scope, RetryAfter((until - now).unsigned_abs())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + seconds).unwrap()
    }

    fn live(count: u32, ends_in: i64) -> Option<FailureCount> {
        Some(FailureCount {
            count,
            window_ends_at: at(ends_in),
        })
    }

    fn policy() -> LoginThrottle {
        LoginThrottle {
            max_failures: 5,
            failure_window: Duration::from_secs(900),
            max_failures_per_account: 100,
            max_failures_per_address: 50,
            max_registrations_per_address: 20,
            ..LoginThrottle::default()
        }
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(addr(text))
    }

    fn addr(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn no_counters_allow() {
        let p = policy();
        let keys = p.keys("alice", ip("203.0.113.7"));
        assert_eq!(p.decide(&keys, &[None, None, None], at(0)), Ok(()));
    }

    #[test]
    fn below_every_limit_allows() {
        let p = policy();
        let keys = p.keys("alice", ip("203.0.113.7"));
        let counts = [live(4, 600), live(99, 3000), live(49, 600)];
        assert_eq!(p.decide(&keys, &counts, at(0)), Ok(()));
    }

    #[test]
    fn each_rule_refuses_at_its_limit_until_its_window_ends() {
        let p = policy();
        let keys = p.keys("alice", ip("203.0.113.7"));
        let cases = [
            [live(5, 600), None, None],
            [None, live(100, 600), None],
            [None, None, live(50, 600)],
        ];
        for counts in cases {
            assert_eq!(
                p.decide(&keys, &counts, at(0)),
                Err(RetryAfter(Duration::from_secs(600))),
                "{counts:?}"
            );
            // At the window's end the counter is stale.
            assert_eq!(p.decide(&keys, &counts, at(600)), Ok(()), "{counts:?}");
        }
    }

    #[test]
    fn the_longest_blocking_window_is_the_wait() {
        let p = policy();
        let keys = p.keys("alice", ip("203.0.113.7"));
        // The account counter is below its limit: its longer window does not count.
        let counts = [live(5, 300), live(10, 3000), live(60, 700)];
        assert_eq!(
            p.decide(&keys, &counts, at(0)),
            Err(RetryAfter(Duration::from_secs(700)))
        );
        // The address limit makes the wait, so it is the one named.
        assert_eq!(
            p.refusal(&keys, &counts, at(0)),
            Some((ThrottleScope::Address, RetryAfter(Duration::from_secs(700))))
        );
        assert_eq!(p.refusal(&keys, &[None, None, None], at(0)), None);
    }

    #[test]
    fn a_zero_limit_turns_the_rule_off() {
        let p = LoginThrottle {
            max_failures_per_account: 0,
            ..policy()
        };
        let keys = p.keys("alice", ip("203.0.113.7"));
        assert_eq!(
            p.decide(&keys, &[None, live(1000, 60), None], at(0)),
            Ok(())
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::from_millis(1500)).seconds(), 2);
        assert_eq!(RetryAfter(Duration::from_secs(3)).seconds(), 3);
        assert_eq!(RetryAfter(Duration::from_millis(1)).seconds(), 1);
        assert_eq!(RetryAfter(Duration::ZERO).seconds(), 1);
    }

    #[test]
    fn windows_by_scope() {
        let p = policy();
        assert_eq!(
            p.window(ThrottleScope::UserAndAddress),
            Duration::from_secs(900)
        );
        assert_eq!(p.window(ThrottleScope::Address), Duration::from_secs(900));
        assert_eq!(p.window(ThrottleScope::Account), ACCOUNT_WINDOW);
    }

    #[test]
    fn keys_separate_scopes_users_and_addresses() {
        let p = policy();
        let a = p.keys("alice", ip("203.0.113.7"));
        let b = p.keys("bob", ip("203.0.113.7"));
        let c = p.keys("alice", ip("198.51.100.1"));
        assert_eq!(
            a.iter().map(ThrottleKey::scope).collect::<Vec<_>>(),
            [
                ThrottleScope::UserAndAddress,
                ThrottleScope::Account,
                ThrottleScope::Address
            ]
        );
        // Another user from the same address: same address counter, nothing else shared.
        assert_ne!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        assert_eq!(a[2], b[2]);
        // The same user from another address: same account counter only.
        assert_ne!(a[0], c[0]);
        assert_eq!(a[1], c[1]);
        assert_ne!(a[2], c[2]);
        let texts: std::collections::HashSet<_> = a.iter().map(ThrottleKey::as_str).collect();
        assert_eq!(texts.len(), 3);
    }

    #[test]
    fn stored_keys_hide_the_username_and_stay_short() {
        let typed = "my secret password typed as a username";
        let key = ThrottleKey::user_and_address(
            &username_throttle_key(typed),
            ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
        );
        assert!(!key.as_str().contains("secret"), "{}", key.as_str());
        assert!(key.as_str().len() <= 120, "{}", key.as_str().len());
        assert!(!ThrottleKey::account("alice").as_str().contains("alice"));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            ThrottleKey::address(addr("2001:db8:1:2:aaaa::1")),
            ThrottleKey::address(addr("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            ThrottleKey::address(addr("2001:db8:1:2::1")),
            ThrottleKey::address(addr("2001:db8:1:3::1"))
        );
        assert_eq!(
            ThrottleKey::address(addr("::ffff:203.0.113.7")),
            ThrottleKey::address(addr("203.0.113.7"))
        );
        assert_eq!(
            ThrottleKey::address(addr("203.0.113.7")).as_str(),
            "a:203.0.113.7"
        );
    }

    #[test]
    fn without_an_address_the_username_alone_is_counted_and_no_address_bucket_is_shared() {
        let p = policy();
        let alice = p.keys("alice", None);
        let bob = p.keys("bob", None);
        assert_eq!(
            alice.iter().map(ThrottleKey::scope).collect::<Vec<_>>(),
            [ThrottleScope::UserAndAddress, ThrottleScope::Account]
        );
        assert_ne!(alice[0], bob[0], "no counter shared between usernames");
        assert_ne!(alice[0], p.keys("alice", ip("203.0.113.7"))[0]);
    }

    #[test]
    fn username_forms() {
        // Valid names: the identity, so every spelling of one user shares counters.
        assert_eq!(username_throttle_key("  Alice "), "alice");
        assert_eq!(username_throttle_key("ＡＬＩＣＥ"), "alice");
        // Invalid names: still folded, trimmed and capped.
        assert_eq!(username_throttle_key("  Bob Smith! "), "bob smith!");
        assert_eq!(
            username_throttle_key("ＢＯＢ ＳＭＩＴＨ"),
            username_throttle_key("bob smith")
        );
        let long = "X".repeat(10_000);
        assert_eq!(
            username_throttle_key(&long).chars().count(),
            MAX_RAW_USERNAME_CHARS
        );
        assert_eq!(username_throttle_key(""), "");
    }
}
