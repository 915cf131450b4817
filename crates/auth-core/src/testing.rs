//! The store conformance suite: one definition, run by every store crate.
//!
//! A store crate's tests call [`store_conformance_tests!`](crate::store_conformance_tests) with an
//! async function returning a fresh, empty store and a guard that keeps its database alive
//! (a temporary file, a throw-away schema):
//!
//! ```text
//! async fn fresh_store() -> (MyStore, tempfile::TempDir) { /* … */ }
//! auth_core::store_conformance_tests!(fresh_store);
//! ```
//!
//! Each case becomes its own `#[tokio::test]`, so a failure names the rule that broke.

use crate::email::{EmailAddress, LinkPurpose, LinkRecord, LinkToken};
use crate::secret::PasswordHashString;
use crate::session::{NewSession, SessionDeadlines, SessionId, SessionToken, SessionTouch};
use crate::store::{AuthStore, StoreError, UserId};
use crate::username::Username;
use std::time::Duration;
use time::OffsetDateTime;

/// Expands to one `#[tokio::test]` per conformance case, each calling `$make().await` for a
/// fresh `(store, guard)` pair.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!(@cases $make;
            create_and_find_user,
            usernames_are_unique_case_insensitively,
            concurrent_creates_of_one_name_one_wins,
            set_password_hash_replaces_the_hash,
            unknown_lookups_are_none,
            session_round_trip_returns_its_user,
            touch_moves_last_seen_and_idle_deadline,
            delete_session_ends_only_that_session,
            delete_user_sessions_can_keep_one,
            expired_sessions_are_never_returned,
            purge_removes_only_expired_sessions,
            list_shows_only_live_sessions_of_the_user,
            rotating_the_auth_stamp_changes_it,
            deleting_a_user_deletes_their_sessions,
            users_are_listed_in_registration_order,
            mark_authenticated_moves_authenticated_at,
            a_user_can_delete_only_their_own_session_by_id,
            change_password_replaces_hash_stamp_and_sessions_together,
            change_password_without_a_renewed_session_ends_every_session,
            change_password_of_an_unknown_user_writes_nothing,
            credentials_are_walked_in_id_order_in_batches,
            a_hash_is_replaced_only_if_it_did_not_change,
            a_revoked_session_is_seen_on_the_user_lookup_until_it_expires,
            ping_answers,
            failures_are_counted_within_the_window,
            a_failure_after_the_window_starts_a_new_one,
            clearing_failures_resets_only_that_key,
            purge_removes_only_expired_failure_counters,
            failure_counters_are_isolated_by_key,
            concurrent_failures_count_exactly,
            withdrawing_a_failure_takes_one_back,
            batched_attempts_count_and_settle_every_key,
            concurrent_batched_attempts_count_exactly,
            import_creates_new_users_and_never_overwrites_existing_ones,
            import_all_or_nothing_writes_nothing_when_a_name_exists,
            import_dry_run_writes_nothing,
            import_of_many_users_is_complete_and_counts_exactly,
            email_addresses_are_unique_case_insensitively,
            a_changed_address_starts_unverified_and_the_same_keeps_its_verification,
            a_verification_link_is_single_use_and_verifies_only_its_address,
            expired_and_unknown_links_are_never_found,
            a_reset_link_sets_the_password_and_ends_sessions_and_other_links,
            concurrent_uses_of_one_reset_link_one_wins,
            purge_removes_expired_links,
            totp_is_enabled_with_its_recovery_codes_in_one_step,
            a_totp_step_is_accepted_once_and_only_forwards,
            concurrent_uses_of_one_totp_step_one_wins,
            a_recovery_code_works_once,
            clearing_second_factors_removes_them_all,
            passkeys_are_kept_per_user_and_found_by_credential_id,
            a_webauthn_handle_is_given_once,
            a_ceremony_is_taken_once_before_it_expires,
            api_tokens_are_found_listed_used_and_revoked_by_their_owner,
            expired_api_tokens_are_never_found_and_are_purged,
            api_tokens_are_bounded_per_user_deleted_together_and_with_their_user
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make().await;
                $crate::testing::$case(&store).await;
            }
        )*
    };
}

/// Now, rounded to whole milliseconds: the precision every store keeps.
pub fn now_ms() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let nanos = now.unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos % 1_000_000).unwrap_or(now)
}

fn name(raw: &str) -> Username {
    Username::parse(raw).unwrap_or_else(|e| panic!("test username {raw:?}: {e}"))
}

fn hash(tag: &str) -> PasswordHashString {
    PasswordHashString::new(format!("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ${tag}"))
}

fn session(
    user_id: UserId,
    now: OffsetDateTime,
    deadlines: SessionDeadlines,
) -> (SessionToken, NewSession) {
    let token = SessionToken::generate();
    let new = NewSession {
        id: SessionId::generate(),
        digest: token.digest(),
        user_id,
        created_at: now,
        authenticated_at: now,
        deadlines,
        remember: deadlines.idle_expires_at.is_none(),
        user_agent: Some("conformance/1.0".into()),
    };
    (token, new)
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

fn normal(now: OffsetDateTime) -> SessionDeadlines {
    SessionDeadlines {
        expires_at: now + hours(12),
        idle_expires_at: Some(now + hours(1)),
    }
}

async fn user<S: AuthStore>(store: &S, raw: &str) -> UserId {
    match store
        .create_user(&name(raw), &hash("aGFzaA"), None, now_ms())
        .await
    {
        Ok(user) => user.id,
        Err(e) => panic!("create {raw}: {e}"),
    }
}

/// A created user is found by name (any case) and by id, with their hash and display name.
pub async fn create_and_find_user<S: AuthStore>(store: &S) {
    let now = now_ms();
    let created = store
        .create_user(&name("Alice"), &hash("aGFzaA"), None, now)
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    assert_eq!(created.username.as_str(), "Alice");
    assert_eq!(created.created_at, now);
    assert!(!created.auth_stamp.is_empty());
    let found = store
        .find_credentials(&name("ALICE"))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("find by other case"));
    assert_eq!(found.user, created);
    assert_eq!(found.password_hash, hash("aGFzaA"));
    let by_id = store.find_user(created.id).await.ok().flatten();
    assert_eq!(by_id, Some(created));
}

/// `Bob` and `bob` are one user: the second registration is `Taken`.
pub async fn usernames_are_unique_case_insensitively<S: AuthStore>(store: &S) {
    user(store, "Bob").await;
    let second = store
        .create_user(&name("bob"), &hash("b3RoZXI"), None, now_ms())
        .await;
    assert!(matches!(second, Err(StoreError::Taken)), "{second:?}");
    let third = store
        .create_user(&name("ＢＯＢ"), &hash("b3RoZXI"), None, now_ms())
        .await;
    assert!(matches!(third, Err(StoreError::Taken)), "{third:?}");
}

/// Two creates of one name at the same moment: exactly one succeeds, the other is `Taken`.
pub async fn concurrent_creates_of_one_name_one_wins<S: AuthStore>(store: &S) {
    for round in 0..5 {
        let raw = format!("racer{round}");
        let upper = raw.to_uppercase();
        let (lower, upper, hash_a, hash_b) = (name(&raw), name(&upper), hash("YQ"), hash("Yg"));
        let (a, b) = tokio::join!(
            store.create_user(&lower, &hash_a, None, now_ms()),
            store.create_user(&upper, &hash_b, None, now_ms()),
        );
        let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
        let taken = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Taken)))
            .count();
        assert_eq!((wins, taken), (1, 1), "round {round}: {a:?} / {b:?}");
    }
}

/// A new hash replaces the old one.
pub async fn set_password_hash_replaces_the_hash<S: AuthStore>(store: &S) {
    let id = user(store, "carol").await;
    store
        .set_password_hash(id, &hash("bmV3"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let found = store.find_credentials(&name("carol")).await.ok().flatten();
    assert_eq!(found.map(|c| c.password_hash), Some(hash("bmV3")));
}

/// Unknown users and tokens are `None`, not errors.
pub async fn unknown_lookups_are_none<S: AuthStore>(store: &S) {
    assert!(matches!(
        store.find_credentials(&name("nobody")).await,
        Ok(None)
    ));
    assert!(matches!(store.find_user(UserId(987_654)).await, Ok(None)));
    let token = SessionToken::generate();
    assert!(matches!(
        store.load_session(&token.digest(), now_ms()).await,
        Ok(None)
    ));
    assert!(matches!(
        store.delete_session(&token.digest()).await,
        Ok(false)
    ));
}

/// A stored session loads with its user, every field intact.
pub async fn session_round_trip_returns_its_user<S: AuthStore>(store: &S) {
    let id = user(store, "dave").await;
    let now = now_ms();
    let (token, new) = session(id, now, normal(now));
    store
        .insert_session(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let session_id = new.id.clone();
    let (record, owner) = store
        .load_session(&token.digest(), now)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("session not found"));
    assert_eq!(record.id, session_id);
    assert_eq!(owner.id, id);
    assert_eq!(owner.username.as_str(), "dave");
    assert_eq!(record.user_id, id);
    assert_eq!(record.created_at, now);
    assert_eq!(record.last_seen_at, now);
    assert_eq!(record.authenticated_at, now);
    assert_eq!(record.expires_at, new.deadlines.expires_at);
    assert_eq!(record.idle_expires_at, new.deadlines.idle_expires_at);
    assert!(!record.remember);
    assert_eq!(record.user_agent.as_deref(), Some("conformance/1.0"));
}

/// Touching moves `last_seen_at` and the idle deadline, and keeps an idle session alive.
pub async fn touch_moves_last_seen_and_idle_deadline<S: AuthStore>(store: &S) {
    let id = user(store, "erin").await;
    let now = now_ms();
    let (token, new) = session(id, now, normal(now));
    store
        .insert_session(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let later = now + Duration::from_secs(50 * 60);
    let touch = SessionTouch {
        last_seen_at: later,
        idle_expires_at: Some(later + hours(1)),
    };
    store
        .touch_session(&token.digest(), &touch)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Past the original idle deadline, alive thanks to the touch.
    let at = now + Duration::from_secs(90 * 60);
    let record = store.load_session(&token.digest(), at).await.ok().flatten();
    let record = record
        .unwrap_or_else(|| panic!("touched session expired"))
        .0;
    assert_eq!(record.last_seen_at, later);
    assert_eq!(record.idle_expires_at, touch.idle_expires_at);
}

/// Deleting a session makes its token unknown and leaves the user's other sessions alone.
pub async fn delete_session_ends_only_that_session<S: AuthStore>(store: &S) {
    let id = user(store, "frank").await;
    let now = now_ms();
    let (a, new_a) = session(id, now, normal(now));
    let (b, new_b) = session(id, now, normal(now));
    store
        .insert_session(&new_a)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .insert_session(&new_b)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(store.delete_session(&a.digest()).await, Ok(true)));
    assert!(matches!(
        store.load_session(&a.digest(), now).await,
        Ok(None)
    ));
    assert!(matches!(
        store.load_session(&b.digest(), now).await,
        Ok(Some(_))
    ));
}

/// Deleting all of a user's sessions spares the one to keep and other users' sessions.
pub async fn delete_user_sessions_can_keep_one<S: AuthStore>(store: &S) {
    let grace = user(store, "grace").await;
    let heidi = user(store, "heidi").await;
    let now = now_ms();
    let (keep, new_keep) = session(grace, now, normal(now));
    let (drop1, new_drop1) = session(grace, now, normal(now));
    let (drop2, new_drop2) = session(grace, now, normal(now));
    let (other, new_other) = session(heidi, now, normal(now));
    for s in [&new_keep, &new_drop1, &new_drop2, &new_other] {
        store
            .insert_session(s)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let deleted = store
        .delete_user_sessions(grace, Some(&keep.digest()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(deleted, 2);
    assert!(matches!(
        store.load_session(&keep.digest(), now).await,
        Ok(Some(_))
    ));
    assert!(matches!(
        store.load_session(&drop1.digest(), now).await,
        Ok(None)
    ));
    assert!(matches!(
        store.load_session(&drop2.digest(), now).await,
        Ok(None)
    ));
    assert!(matches!(
        store.load_session(&other.digest(), now).await,
        Ok(Some(_))
    ));
    let all = store.delete_user_sessions(grace, None).await;
    assert!(matches!(all, Ok(1)), "{all:?}");
    assert!(matches!(
        store.load_session(&keep.digest(), now).await,
        Ok(None)
    ));
}

/// Past the absolute or the idle deadline a session is gone; a remembered one has no idle limit.
pub async fn expired_sessions_are_never_returned<S: AuthStore>(store: &S) {
    let id = user(store, "ivan").await;
    let now = now_ms();
    let (token, new) = session(id, now, normal(now));
    store
        .insert_session(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let just_before_idle = now + hours(1) - Duration::from_millis(1);
    assert!(matches!(
        store.load_session(&token.digest(), just_before_idle).await,
        Ok(Some(_))
    ));
    assert!(matches!(
        store.load_session(&token.digest(), now + hours(1)).await,
        Ok(None)
    ));
    assert!(matches!(store.list_user_sessions(id, now + hours(2)).await, Ok(v) if v.is_empty()));

    let remembered = SessionDeadlines {
        expires_at: now + hours(24 * 30),
        idle_expires_at: None,
    };
    let (token, new) = session(id, now, remembered);
    store
        .insert_session(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let loaded = store.load_session(&token.digest(), now + hours(100)).await;
    assert!(
        matches!(&loaded, Ok(Some((r, _))) if r.remember),
        "{loaded:?}"
    );
    assert!(matches!(
        store
            .load_session(&token.digest(), now + hours(24 * 30))
            .await,
        Ok(None)
    ));
}

/// Purging deletes expired sessions (by either deadline) and nothing else.
pub async fn purge_removes_only_expired_sessions<S: AuthStore>(store: &S) {
    let id = user(store, "judy").await;
    let now = now_ms();
    let (live, new_live) = session(id, now, normal(now));
    let (_idle, new_idle) = session(
        id,
        now - hours(2),
        SessionDeadlines {
            expires_at: now + hours(10),
            idle_expires_at: Some(now - hours(1)),
        },
    );
    let (_old, new_old) = session(
        id,
        now - hours(13),
        SessionDeadlines {
            expires_at: now - hours(1),
            idle_expires_at: None,
        },
    );
    for s in [&new_live, &new_idle, &new_old] {
        store
            .insert_session(s)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let purged = store.purge_expired_sessions(now).await;
    assert!(matches!(purged, Ok(2)), "{purged:?}");
    assert!(matches!(
        store.load_session(&live.digest(), now).await,
        Ok(Some(_))
    ));
    let again = store.purge_expired_sessions(now).await;
    assert!(matches!(again, Ok(0)), "{again:?}");
}

/// Listing shows the user's live sessions, oldest first, and nobody else's.
pub async fn list_shows_only_live_sessions_of_the_user<S: AuthStore>(store: &S) {
    let ken = user(store, "ken").await;
    let leo = user(store, "leo").await;
    let now = now_ms();
    let (_, first) = session(ken, now - Duration::from_secs(10), normal(now));
    let (_, second) = session(ken, now, normal(now));
    let (_, expired) = session(
        ken,
        now - hours(13),
        SessionDeadlines {
            expires_at: now - hours(1),
            idle_expires_at: None,
        },
    );
    let (_, other) = session(leo, now, normal(now));
    for s in [&first, &second, &expired, &other] {
        store
            .insert_session(s)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let listed = store
        .list_user_sessions(ken, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed_ids: Vec<_> = listed.iter().map(|s| s.id.clone()).collect();
    assert_eq!(listed_ids, vec![first.id.clone(), second.id.clone()]);
}

/// The health check answers.
pub async fn ping_answers<S: AuthStore>(store: &S) {
    assert!(store.ping().await.is_ok());
    assert!(!store.backend_name().is_empty());
}

/// A rotated auth stamp is new, stored, and differs between rotations.
pub async fn rotating_the_auth_stamp_changes_it<S: AuthStore>(store: &S) {
    let id = user(store, "mona").await;
    let before = store
        .find_user(id)
        .await
        .ok()
        .flatten()
        .map(|u| u.auth_stamp);
    let rotated = store
        .rotate_auth_stamp(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(Some(rotated.clone()), before);
    let after = store
        .find_user(id)
        .await
        .ok()
        .flatten()
        .map(|u| u.auth_stamp);
    assert_eq!(after, Some(rotated.clone()));
    let again = store
        .rotate_auth_stamp(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(again, rotated);
}

/// Deleting a user removes them and every session of theirs, and no one else's.
pub async fn deleting_a_user_deletes_their_sessions<S: AuthStore>(store: &S) {
    let ned = user(store, "ned").await;
    let oli = user(store, "oli").await;
    let now = now_ms();
    let (token, new) = session(ned, now, normal(now));
    let (other, new_other) = session(oli, now, normal(now));
    store
        .insert_session(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .insert_session(&new_other)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(store.delete_user(ned).await, Ok(true)));
    assert!(matches!(store.find_user(ned).await, Ok(None)));
    assert!(matches!(
        store.find_credentials(&name("ned")).await,
        Ok(None)
    ));
    assert!(matches!(
        store.load_session(&token.digest(), now).await,
        Ok(None)
    ));
    assert!(matches!(
        store.load_session(&other.digest(), now).await,
        Ok(Some(_))
    ));
    assert!(matches!(store.delete_user(ned).await, Ok(false)));
    // The name is free again.
    assert!(
        store
            .create_user(&name("NED"), &hash("YQ"), None, now)
            .await
            .is_ok()
    );
}

/// Listing users gives everyone, oldest registration first.
pub async fn users_are_listed_in_registration_order<S: AuthStore>(store: &S) {
    for raw in ["pia", "Quentin", "rae"] {
        user(store, raw).await;
    }
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|u| u.username.as_str().to_owned())
        .collect();
    assert_eq!(names, ["pia", "Quentin", "rae"]);
}

/// Re-authentication moves `authenticated_at` and nothing else.
pub async fn mark_authenticated_moves_authenticated_at<S: AuthStore>(store: &S) {
    let id = user(store, "sam").await;
    let now = now_ms();
    let (token, new) = session(id, now, normal(now));
    store
        .insert_session(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let later = now + Duration::from_secs(600);
    store
        .mark_authenticated(&token.digest(), later)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let record = store
        .load_session(&token.digest(), now)
        .await
        .ok()
        .flatten();
    let record = record.unwrap_or_else(|| panic!("session gone")).0;
    assert_eq!(record.authenticated_at, later);
    assert_eq!(record.created_at, now);
    assert_eq!(record.last_seen_at, now);
}

/// Deleting by public id works for the owner only.
pub async fn a_user_can_delete_only_their_own_session_by_id<S: AuthStore>(store: &S) {
    let tom = user(store, "tom").await;
    let uli = user(store, "uli").await;
    let now = now_ms();
    let (token, new) = session(tom, now, normal(now));
    store
        .insert_session(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = &new.id;
    assert!(matches!(
        store.delete_user_session(uli, id).await,
        Ok(false)
    ));
    assert!(matches!(
        store.delete_user_session(tom, &SessionId::generate()).await,
        Ok(false)
    ));
    assert!(matches!(
        store.load_session(&token.digest(), now).await,
        Ok(Some(_))
    ));
    assert!(matches!(store.delete_user_session(tom, id).await, Ok(true)));
    assert!(matches!(
        store.load_session(&token.digest(), now).await,
        Ok(None)
    ));
}

/// A password change replaces the hash and the auth stamp, deletes every session of the user
/// and stores the renewed one, leaving other users alone.
pub async fn change_password_replaces_hash_stamp_and_sessions_together<S: AuthStore>(store: &S) {
    let vic = user(store, "vic").await;
    let wes = user(store, "wes").await;
    let now = now_ms();
    let (first, new_first) = session(vic, now, normal(now));
    let (second, new_second) = session(vic, now, normal(now));
    let (other, new_other) = session(wes, now, normal(now));
    for s in [&new_first, &new_second, &new_other] {
        store
            .insert_session(s)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let before = store
        .find_user(vic)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("vic exists"));
    let (renewed, new_renewed) = session(vic, now, normal(now));
    let changed = store
        .change_password(vic, &hash("bmV3"), Some(&new_renewed))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(changed.sessions_ended, 2);
    assert_ne!(changed.auth_stamp, before.auth_stamp);
    let after = store
        .find_credentials(&name("vic"))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("vic exists"));
    assert_eq!(after.password_hash, hash("bmV3"));
    assert_eq!(after.user.auth_stamp, changed.auth_stamp);
    for gone in [&first, &second] {
        assert!(matches!(
            store.load_session(&gone.digest(), now).await,
            Ok(None)
        ));
    }
    let kept = store.load_session(&renewed.digest(), now).await;
    assert!(
        matches!(&kept, Ok(Some((record, _))) if record.id == new_renewed.id),
        "{kept:?}"
    );
    assert!(matches!(
        store.load_session(&other.digest(), now).await,
        Ok(Some(_))
    ));
}

/// An administrator's reset (no renewed session) ends every session of the user.
pub async fn change_password_without_a_renewed_session_ends_every_session<S: AuthStore>(store: &S) {
    let xia = user(store, "xia").await;
    let now = now_ms();
    let (token, new) = session(xia, now, normal(now));
    store
        .insert_session(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let changed = store
        .change_password(xia, &hash("cmVzZXQ"), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(changed.sessions_ended, 1);
    assert!(matches!(
        store.load_session(&token.digest(), now).await,
        Ok(None)
    ));
    assert!(matches!(store.list_user_sessions(xia, now).await, Ok(list) if list.is_empty()));
}

/// A change for a user who does not exist fails and stores no session.
pub async fn change_password_of_an_unknown_user_writes_nothing<S: AuthStore>(store: &S) {
    let now = now_ms();
    let ghost = UserId(987_654_321);
    let (token, new) = session(ghost, now, normal(now));
    let result = store
        .change_password(ghost, &hash("Z2hvc3Q"), Some(&new))
        .await;
    assert!(result.is_err(), "{result:?}");
    assert!(matches!(
        store.load_session(&token.digest(), now).await,
        Ok(None)
    ));
}

/// `list_credentials` walks every user once, in id order, batch after batch; `count_users`
/// counts them.
pub async fn credentials_are_walked_in_id_order_in_batches<S: AuthStore>(store: &S) {
    let mut ids = Vec::new();
    for raw in ["walk1", "walk2", "walk3", "walk4", "walk5"] {
        ids.push(user(store, raw).await);
    }
    assert!(matches!(store.count_users().await, Ok(5)));
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let batch = store
            .list_credentials(after, 2)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(batch.len() <= 2);
        let Some(last) = batch.last() else { break };
        after = Some(last.user.id);
        seen.extend(batch.iter().map(|c| c.user.id));
        assert!(batch.iter().all(|c| c.password_hash == hash("aGFzaA")));
    }
    assert_eq!(seen, ids);
}

/// A compare-and-set replacement happens only while the hash is still the expected one.
pub async fn a_hash_is_replaced_only_if_it_did_not_change<S: AuthStore>(store: &S) {
    let id = user(store, "cas").await;
    let replaced = store
        .replace_password_hash(id, &hash("aGFzaA"), &hash("bmV3"))
        .await;
    assert!(matches!(replaced, Ok(true)), "{replaced:?}");
    let stale = store
        .replace_password_hash(id, &hash("aGFzaA"), &hash("b2xk"))
        .await;
    assert!(matches!(stale, Ok(false)), "{stale:?}");
    let stored = store
        .find_credentials(&name("cas"))
        .await
        .ok()
        .flatten()
        .map(|c| c.password_hash);
    assert_eq!(stored, Some(hash("bmV3")));
}

/// A cookie-store logout: the user lookup reports the session revoked until its cookie would
/// have expired, other sessions and users are unaffected, and the purge removes it after.
pub async fn a_revoked_session_is_seen_on_the_user_lookup_until_it_expires<S: AuthStore>(
    store: &S,
) {
    let yan = user(store, "yan").await;
    let zoe = user(store, "zoe").await;
    let now = now_ms();
    let (gone, kept) = (SessionId::generate(), SessionId::generate());
    let lookup = |id: UserId, session: SessionId, at: OffsetDateTime| async move {
        store
            .find_session_user(id, &session, at)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|(user, revoked)| (user.id, revoked))
    };
    assert_eq!(lookup(yan, gone.clone(), now).await, Some((yan, false)));
    store
        .revoke_session(yan, &gone, now + hours(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lookup(yan, gone.clone(), now).await, Some((yan, true)));
    assert_eq!(lookup(yan, kept.clone(), now).await, Some((yan, false)));
    assert_eq!(
        lookup(zoe, gone.clone(), now).await,
        Some((zoe, false)),
        "another user's id"
    );
    assert_eq!(
        lookup(yan, gone.clone(), now + hours(2)).await,
        Some((yan, false)),
        "expired"
    );
    assert_eq!(lookup(UserId(987_654_321), gone.clone(), now).await, None);
    // Revoking again is no error.
    store
        .revoke_session(yan, &gone, now + hours(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let purged = store
        .purge_expired_sessions(now + hours(2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(purged, 1);
    assert_eq!(lookup(yan, gone, now).await, Some((yan, false)), "purged");
}

// ---- Login throttling: failure counters (`FailureCounterStore`). ----

fn throttle_key(username: &str, address: &str) -> crate::throttle::ThrottleKey {
    let address = address
        .parse()
        .unwrap_or_else(|e| panic!("test address {address:?}: {e}"));
    crate::throttle::ThrottleKey::user_and_address(username, Some(address))
}

async fn record<S: AuthStore>(
    store: &S,
    key: &crate::throttle::ThrottleKey,
    window: Duration,
    now: OffsetDateTime,
) -> crate::throttle::FailureCount {
    store
        .record_failure(key, window, now)
        .await
        .unwrap_or_else(|e| panic!("record {key:?}: {e}"))
}

async fn counts<S: AuthStore>(
    store: &S,
    keys: &[crate::throttle::ThrottleKey],
    now: OffsetDateTime,
) -> Vec<Option<u32>> {
    store
        .failure_counts(keys, now)
        .await
        .unwrap_or_else(|e| panic!("failure_counts: {e}"))
        .into_iter()
        .map(|c| c.map(|c| c.count))
        .collect()
}

/// Each failure raises the count by one within a window fixed by the first failure; reads see
/// the count until the window ends, then nothing.
pub async fn failures_are_counted_within_the_window<S: AuthStore>(store: &S) {
    let key = throttle_key("alice", "203.0.113.7");
    let window = Duration::from_secs(900);
    let now = now_ms();
    assert_eq!(counts(store, std::slice::from_ref(&key), now).await, [None]);
    for n in 1..=3u32 {
        // Later failures do not move the window: it is fixed by the first.
        let at = now + Duration::from_secs(u64::from(n) * 10);
        let after = record(store, &key, window, at).await;
        assert_eq!(after.count, n);
        assert_eq!(after.window_ends_at, now + Duration::from_secs(10) + window);
    }
    let ends = now + Duration::from_secs(10) + window;
    let read = store
        .failure_counts(std::slice::from_ref(&key), now + Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        read,
        [Some(crate::throttle::FailureCount {
            count: 3,
            window_ends_at: ends
        })]
    );
    let just_before = ends - Duration::from_millis(1);
    assert_eq!(
        counts(store, std::slice::from_ref(&key), just_before).await,
        [Some(3)]
    );
    assert_eq!(
        counts(store, std::slice::from_ref(&key), ends).await,
        [None]
    );
}

/// A failure at or after the end of the window starts a new window at a count of 1.
pub async fn a_failure_after_the_window_starts_a_new_one<S: AuthStore>(store: &S) {
    let key = throttle_key("bob", "203.0.113.7");
    let window = Duration::from_secs(60);
    let now = now_ms();
    for _ in 0..4 {
        record(store, &key, window, now).await;
    }
    let ends = now + window;
    let restarted = record(store, &key, window, ends).await;
    assert_eq!(restarted.count, 1);
    assert_eq!(restarted.window_ends_at, ends + window);
    let next = record(store, &key, window, ends + Duration::from_secs(1)).await;
    assert_eq!(next.count, 2);
    assert_eq!(next.window_ends_at, ends + window);
    assert_eq!(
        counts(
            store,
            std::slice::from_ref(&key),
            ends + Duration::from_secs(2)
        )
        .await,
        [Some(2)]
    );
}

/// Clearing deletes one counter, leaves the others, and clearing nothing is not an error.
pub async fn clearing_failures_resets_only_that_key<S: AuthStore>(store: &S) {
    let cleared = throttle_key("carol", "203.0.113.7");
    let kept = crate::throttle::ThrottleKey::account("carol");
    let window = Duration::from_secs(900);
    let now = now_ms();
    for _ in 0..3 {
        record(store, &cleared, window, now).await;
        record(store, &kept, window, now).await;
    }
    store
        .clear_failures(&cleared)
        .await
        .unwrap_or_else(|e| panic!("clear: {e}"));
    assert_eq!(
        counts(store, &[cleared.clone(), kept.clone()], now).await,
        [None, Some(3)]
    );
    assert_eq!(record(store, &cleared, window, now).await.count, 1);
    store
        .clear_failures(&throttle_key("nobody", "198.51.100.1"))
        .await
        .unwrap_or_else(|e| panic!("clearing a missing counter: {e}"));
}

/// Purging deletes the counters whose window has ended at `now`, and nothing else.
pub async fn purge_removes_only_expired_failure_counters<S: AuthStore>(store: &S) {
    let now = now_ms();
    let ended = throttle_key("dave", "203.0.113.7");
    let ends_now = throttle_key("erin", "203.0.113.7");
    let live = throttle_key("frank", "203.0.113.7");
    record(store, &ended, Duration::from_secs(60), now - hours(1)).await;
    record(
        store,
        &ends_now,
        Duration::from_secs(60),
        now - Duration::from_secs(60),
    )
    .await;
    record(store, &live, Duration::from_secs(60), now).await;
    let purged = store.purge_expired_failures(now).await;
    assert!(matches!(purged, Ok(2)), "{purged:?}");
    assert_eq!(
        counts(store, std::slice::from_ref(&live), now).await,
        [Some(1)]
    );
    let again = store.purge_expired_failures(now).await;
    assert!(matches!(again, Ok(0)), "{again:?}");
    // Reading at an earlier time shows the purged counters are gone, not merely filtered.
    let earlier = now - Duration::from_secs(90);
    assert_eq!(
        counts(store, &[ended, ends_now], earlier).await,
        [None, None]
    );
}

/// Counters of different users, addresses and scopes never share a count, and reads come
/// back in the order asked, missing keys included.
pub async fn failure_counters_are_isolated_by_key<S: AuthStore>(store: &S) {
    let throttle = crate::throttle::LoginThrottle::default();
    let now = now_ms();
    let address: std::net::IpAddr = "203.0.113.7".parse().unwrap_or_else(|e| panic!("{e}"));
    let other: std::net::IpAddr = "198.51.100.1".parse().unwrap_or_else(|e| panic!("{e}"));
    let [ua, account, by_address]: [crate::throttle::ThrottleKey; 3] = throttle
        .keys("grace", Some(address))
        .try_into()
        .unwrap_or_else(|_| panic!("three keys for a known address"));
    let other_user = throttle.keys("heidi", Some(address));
    let other_address = throttle.keys("grace", Some(other));
    let window = Duration::from_secs(900);
    for _ in 0..3 {
        record(store, &ua, window, now).await;
    }
    record(store, &account, window, now).await;
    for _ in 0..2 {
        record(store, &other_user[0], window, now).await;
    }
    let asked = [
        ua.clone(),
        other_user[0].clone(),
        other_address[0].clone(),
        account.clone(),
        by_address.clone(),
        other_user[1].clone(),
        other_address[2].clone(),
        ua.clone(),
    ];
    assert_eq!(
        counts(store, &asked, now).await,
        [Some(3), Some(2), None, Some(1), None, None, None, Some(3)]
    );
    assert_eq!(counts(store, &[], now).await, Vec::<Option<u32>>::new());
}

/// Many failures recorded at once for one key, as from several server instances: none is lost
/// and each sees a count of its own (the update is one atomic step, not a read then a write).
pub async fn concurrent_failures_count_exactly<S: AuthStore>(store: &S) {
    const TASKS: u32 = 50;
    let key = throttle_key("ivan", "203.0.113.7");
    let window = Duration::from_secs(900);
    let now = now_ms();
    let attempts = (0..TASKS).map(|_| store.record_failure(&key, window, now));
    let results = futures_util::future::join_all(attempts).await;
    let mut seen: Vec<u32> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("concurrent record: {e}")).count)
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=TASKS).collect::<Vec<_>>());
    assert_eq!(
        counts(store, std::slice::from_ref(&key), now).await,
        [Some(TASKS)]
    );
}

/// Withdrawing takes one failure back, never below zero, and keeps the window.
pub async fn withdrawing_a_failure_takes_one_back<S: AuthStore>(store: &S) {
    use crate::throttle::ThrottleKey;
    let key = ThrottleKey::account("withdrawn");
    let now = now_ms();
    let window = Duration::from_secs(60);
    for _ in 0..3 {
        store
            .record_failure(&key, window, now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    store
        .withdraw_failure(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let counts = store
        .failure_counts(std::slice::from_ref(&key), now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        counts[0].map(|c| (c.count, c.window_ends_at)),
        Some((2, now + window))
    );
    for _ in 0..5 {
        store
            .withdraw_failure(&key)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let counts = store
        .failure_counts(std::slice::from_ref(&key), now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts[0].map(|c| c.count).unwrap_or(0), 0);
    // Nothing to withdraw is not an error.
    store
        .withdraw_failure(&ThrottleKey::account("never-failed"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A login attempt's counters recorded together come back in the order given, each counted
/// once; settling a success clears the first and withdraws the others.
pub async fn batched_attempts_count_and_settle_every_key<S: AuthStore>(store: &S) {
    use crate::throttle::ThrottleKey;
    let now = now_ms();
    let keys = [
        (throttle_key("zoe", "203.0.113.9"), Duration::from_secs(900)),
        (ThrottleKey::account("zoe"), Duration::from_secs(3600)),
    ];
    for expected in 1..=3 {
        let counted = store
            .record_failures(&keys, now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<_> = counted
            .iter()
            .map(|c| (c.count, c.window_ends_at))
            .collect();
        assert_eq!(
            got,
            [(expected, now + keys[0].1), (expected, now + keys[1].1)]
        );
    }
    store
        .clear_and_withdraw(Some(&keys[0].0), &[keys[1].0.clone()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let only_keys: Vec<ThrottleKey> = keys.iter().map(|(key, _)| key.clone()).collect();
    assert_eq!(counts(store, &only_keys, now).await, [None, Some(2)]);
}

/// Concurrent attempts sharing counters (one address, many usernames) lose no count and do
/// not deadlock one another.
pub async fn concurrent_batched_attempts_count_exactly<S: AuthStore>(store: &S) {
    use crate::throttle::ThrottleKey;
    const TASKS: u32 = 20;
    let now = now_ms();
    let window = Duration::from_secs(900);
    let shared = ThrottleKey::address("198.51.100.4".parse().unwrap_or_else(|e| panic!("{e}")));
    let attempts: Vec<Vec<(ThrottleKey, Duration)>> = (0..TASKS)
        .map(|n| {
            vec![
                (throttle_key(&format!("user{n}"), "198.51.100.4"), window),
                (ThrottleKey::account(&format!("user{n}")), window),
                (shared.clone(), window),
            ]
        })
        .collect();
    let results = futures_util::future::join_all(
        attempts.iter().map(|keys| store.record_failures(keys, now)),
    )
    .await;
    let mut seen: Vec<u32> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("concurrent batch: {e}"))[2].count)
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=TASKS).collect::<Vec<_>>());
}

// ---- Importing users with existing hashes (`UserStore::import_users`). ----

async fn import<S: AuthStore>(
    store: &S,
    rows: &[(Username, PasswordHashString)],
    mode: crate::store::ImportMode,
    now: OffsetDateTime,
) -> crate::store::ImportReport {
    store
        .import_users(rows, mode, now)
        .await
        .unwrap_or_else(|e| panic!("import ({mode:?}): {e}"))
}

async fn stored_hash<S: AuthStore>(store: &S, raw: &str) -> Option<PasswordHashString> {
    store
        .find_credentials(&name(raw))
        .await
        .unwrap_or_else(|e| panic!("find {raw}: {e}"))
        .map(|c| c.password_hash)
}

/// New names are created with the given hash, display name, time and a stamp of their own; a
/// name already registered (in any case) keeps its hash, and so does an earlier row's name.
pub async fn import_creates_new_users_and_never_overwrites_existing_ones<S: AuthStore>(store: &S) {
    use crate::store::{ImportMode, ImportOutcome::*};
    let existing = user(store, "Vera").await;
    let now = now_ms();
    let rows = [
        (name("VERA"), hash("b3ZlcndyaXR0ZW4")),
        (name("Walt"), hash("d2FsdA")),
        (name("xena"), hash("eGVuYQ")),
        (name("WALT"), hash("c2Vjb25k")),
    ];
    let report = import(store, &rows, ImportMode::SkipExisting, now).await;
    assert_eq!(report.outcomes, [Existing, New, New, Existing]);
    assert!(report.committed);
    assert_eq!(report.created(), 2);
    assert_eq!(stored_hash(store, "vera").await, Some(hash("aGFzaA")));
    assert_eq!(stored_hash(store, "walt").await, Some(hash("d2FsdA")));
    assert_eq!(stored_hash(store, "xena").await, Some(hash("eGVuYQ")));
    let walt = store
        .find_credentials(&name("walt"))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("walt not imported"))
        .user;
    let xena = store
        .find_credentials(&name("xena"))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("xena not imported"))
        .user;
    assert_eq!(walt.username.as_str(), "Walt");
    assert_eq!(walt.created_at, now);
    assert!(!walt.auth_stamp.is_empty());
    assert_ne!(walt.auth_stamp, xena.auth_stamp);
    let vera = store.find_user(existing).await.ok().flatten();
    assert_eq!(
        vera.map(|u| u.username.as_str().to_owned()).as_deref(),
        Some("Vera")
    );
    let listed = store.list_users().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 3);
    // Importing the same rows again changes nothing.
    let again = import(store, &rows, ImportMode::SkipExisting, now).await;
    assert_eq!(again.outcomes, [Existing; 4]);
    assert_eq!(again.created(), 0);
    assert_eq!(stored_hash(store, "walt").await, Some(hash("d2FsdA")));
}

/// With `AllOrNothing`, one registered name means nothing is written, and the report still
/// says which rows were new; with no registered name, everything is.
pub async fn import_all_or_nothing_writes_nothing_when_a_name_exists<S: AuthStore>(store: &S) {
    use crate::store::{ImportMode, ImportOutcome::*};
    user(store, "yuri").await;
    let now = now_ms();
    let refused = [
        (name("zack"), hash("emFjaw")),
        (name("Yuri"), hash("eXVyaQ")),
    ];
    let report = import(store, &refused, ImportMode::AllOrNothing, now).await;
    assert_eq!(report.outcomes, [New, Existing]);
    assert!(!report.committed);
    assert_eq!(report.created(), 0);
    assert_eq!(stored_hash(store, "zack").await, None);
    assert_eq!(stored_hash(store, "yuri").await, Some(hash("aGFzaA")));
    let accepted = [(name("zack"), hash("emFjaw")), (name("amy"), hash("YW15"))];
    let report = import(store, &accepted, ImportMode::AllOrNothing, now).await;
    assert_eq!(report.outcomes, [New, New]);
    assert!(report.committed);
    assert_eq!(stored_hash(store, "zack").await, Some(hash("emFjaw")));
    assert_eq!(store.list_users().await.map(|u| u.len()).unwrap_or(0), 3);
}

/// A dry run reports like a real import and writes nothing; an empty import is no error.
pub async fn import_dry_run_writes_nothing<S: AuthStore>(store: &S) {
    use crate::store::{ImportMode, ImportOutcome::*};
    user(store, "bea").await;
    let now = now_ms();
    let rows = [(name("Bea"), hash("YmVh")), (name("cid"), hash("Y2lk"))];
    let report = import(store, &rows, ImportMode::DryRun, now).await;
    assert_eq!(report.outcomes, [Existing, New]);
    assert!(!report.committed);
    assert_eq!(stored_hash(store, "cid").await, None);
    assert_eq!(stored_hash(store, "bea").await, Some(hash("aGFzaA")));
    let empty = import(store, &[], ImportMode::SkipExisting, now).await;
    assert!(empty.outcomes.is_empty());
    assert_eq!(store.list_users().await.map(|u| u.len()).unwrap_or(0), 1);
}

/// An import larger than any one statement is complete: every row once, a key repeated far
/// apart counted once, every user findable afterwards.
pub async fn import_of_many_users_is_complete_and_counts_exactly<S: AuthStore>(store: &S) {
    use crate::store::{ImportMode, ImportOutcome::*};
    const ROWS: usize = 1_234;
    user(store, "bulk17").await;
    let now = now_ms();
    let mut rows: Vec<_> = (0..ROWS)
        .map(|i| (name(&format!("bulk{i}")), hash(&format!("YnVsaw{i}"))))
        .collect();
    // The same person again, hundreds of rows later, in another case.
    rows.push((name("BULK3"), hash("YWdhaW4")));
    let report = import(store, &rows, ImportMode::SkipExisting, now).await;
    assert!(report.committed);
    assert_eq!(report.outcomes.len(), ROWS + 1);
    assert_eq!(report.created(), ROWS - 1);
    assert_eq!(report.outcomes[17], Existing);
    assert_eq!(report.outcomes[3], New);
    assert_eq!(report.outcomes[ROWS], Existing);
    let listed = store.list_users().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), ROWS);
    for i in [0, 3, 499, 500, 501, 999, 1_000, ROWS - 1] {
        assert_eq!(
            stored_hash(store, &format!("BULK{i}")).await,
            Some(hash(&format!("YnVsaw{i}"))),
            "row {i}"
        );
    }
}

/// `unwrap` for the email cases, naming the caller's line (the lints deny `unwrap`).
trait Must<T> {
    fn must(self) -> T;
}

impl<T, E: std::fmt::Debug> Must<T> for Result<T, E> {
    #[track_caller]
    fn must(self) -> T {
        self.unwrap_or_else(|e| panic!("store call failed: {e:?}"))
    }
}

impl<T> Must<T> for Option<T> {
    #[track_caller]
    fn must(self) -> T {
        self.unwrap_or_else(|| panic!("expected a value, found none"))
    }
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap_or_else(|e| panic!("test address {raw:?}: {e}"))
}

fn link(
    user_id: UserId,
    purpose: LinkPurpose,
    to: &str,
    now: OffsetDateTime,
) -> (LinkToken, LinkRecord) {
    let token = LinkToken::generate();
    let record = LinkRecord::new(&token, user_id, purpose, email(to), now);
    (token, record)
}

/// Addresses are unique by their lower-cased form, at creation and when set; a conflict is
/// `EmailTaken`, distinct from a taken username.
pub async fn email_addresses_are_unique_case_insensitively<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(
            &name("ada"),
            &hash("YQ"),
            Some(&email("Ada@Example.org")),
            now_ms(),
        )
        .await
        .must();
    assert_eq!(
        ada.email.as_ref().map(EmailAddress::as_str),
        Some("Ada@Example.org")
    );
    assert!(!ada.email_verified);
    let twin = store
        .create_user(
            &name("twin"),
            &hash("YQ"),
            Some(&email("ada@example.ORG")),
            now_ms(),
        )
        .await;
    assert!(matches!(twin, Err(StoreError::EmailTaken)), "{twin:?}");
    let bob = store
        .create_user(&name("bob"), &hash("Yg"), None, now_ms())
        .await
        .must();
    let taken = store
        .set_email(bob.id, Some(&email("ADA@example.org")), false)
        .await;
    assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");
    let found = store
        .find_user_by_email(&email("ada@EXAMPLE.org"))
        .await
        .must();
    assert_eq!(found.map(|u| u.id), Some(ada.id));
    assert!(
        store
            .find_user_by_email(&email("nobody@example.org"))
            .await
            .must()
            .is_none()
    );
    assert!(
        !store
            .set_email(UserId(i64::MAX), Some(&email("x@example.org")), false)
            .await
            .must()
    );
}

/// Another address starts unverified; setting the same one again keeps its verification; an
/// administrator's is verified at once.
pub async fn a_changed_address_starts_unverified_and_the_same_keeps_its_verification<
    S: AuthStore,
>(
    store: &S,
) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    assert!(
        store
            .set_email(ada.id, Some(&email("ada@example.org")), true)
            .await
            .must()
    );
    let user = store.find_user(ada.id).await.must().must();
    assert!(user.email_verified);
    store
        .set_email(ada.id, Some(&email("ADA@example.org")), false)
        .await
        .must();
    let user = store.find_user(ada.id).await.must().must();
    assert_eq!(
        user.email.as_ref().map(EmailAddress::as_str),
        Some("ADA@example.org")
    );
    assert!(user.email_verified, "the same mailbox stays verified");
    store
        .set_email(ada.id, Some(&email("lovelace@example.org")), false)
        .await
        .must();
    let user = store.find_user(ada.id).await.must().must();
    assert!(!user.email_verified);
    store.set_email(ada.id, None, false).await.must();
    let user = store.find_user(ada.id).await.must().must();
    assert_eq!((user.email, user.email_verified), (None, false));
    // The old address is free again.
    store
        .create_user(
            &name("bob"),
            &hash("Yg"),
            Some(&email("ada@example.org")),
            now_ms(),
        )
        .await
        .must();
}

/// A verification link works once, verifies the address it was sent to, and verifies nothing
/// when the user has changed their address since.
pub async fn a_verification_link_is_single_use_and_verifies_only_its_address<S: AuthStore>(
    store: &S,
) {
    let now = now_ms();
    let ada = store
        .create_user(
            &name("ada"),
            &hash("YQ"),
            Some(&email("ada@example.org")),
            now,
        )
        .await
        .must();
    let (token, record) = link(ada.id, LinkPurpose::VerifyEmail, "ada@example.org", now);
    store.insert_link(&record).await.must();
    let found = store
        .find_link(&token.digest(), LinkPurpose::VerifyEmail, now)
        .await
        .must();
    assert_eq!(found.as_ref(), Some(&record), "looking changes nothing");
    assert!(
        store
            .find_link(&token.digest(), LinkPurpose::ResetPassword, now)
            .await
            .must()
            .is_none()
    );
    let verified = store.verify_email(&token.digest(), now).await.must().must();
    assert!(verified.email_verified);
    assert!(store.find_user(ada.id).await.must().must().email_verified);
    assert!(
        store
            .verify_email(&token.digest(), now)
            .await
            .must()
            .is_none(),
        "single use"
    );

    // A link to an address since replaced verifies nothing, and is used up.
    let (old, record) = link(ada.id, LinkPurpose::VerifyEmail, "ada@example.org", now);
    store.insert_link(&record).await.must();
    store
        .set_email(ada.id, Some(&email("new@example.org")), false)
        .await
        .must();
    assert!(
        store
            .verify_email(&old.digest(), now)
            .await
            .must()
            .is_none()
    );
    assert!(!store.find_user(ada.id).await.must().must().email_verified);
    assert!(
        store
            .find_link(&old.digest(), LinkPurpose::VerifyEmail, now)
            .await
            .must()
            .is_none()
    );
}

/// An expired link is never found nor used; neither is one never stored.
pub async fn expired_and_unknown_links_are_never_found<S: AuthStore>(store: &S) {
    let then = now_ms() - time::Duration::hours(2);
    let ada = store
        .create_user(
            &name("ada"),
            &hash("YQ"),
            Some(&email("ada@example.org")),
            then,
        )
        .await
        .must();
    let (reset, record) = link(ada.id, LinkPurpose::ResetPassword, "ada@example.org", then);
    store.insert_link(&record).await.must();
    let now = now_ms();
    assert!(
        store
            .find_link(&reset.digest(), LinkPurpose::ResetPassword, now)
            .await
            .must()
            .is_none()
    );
    assert!(
        store
            .reset_password(&reset.digest(), &hash("bmV3"), now)
            .await
            .must()
            .is_none()
    );
    let credentials = store.find_credentials(&name("ada")).await.must().must();
    assert_eq!(
        credentials.password_hash.expose(),
        hash("YQ").expose(),
        "nothing written"
    );
    let unknown = LinkToken::generate();
    assert!(
        store
            .verify_email(&unknown.digest(), now)
            .await
            .must()
            .is_none()
    );
    assert!(
        store
            .reset_password(&unknown.digest(), &hash("bmV3"), now)
            .await
            .must()
            .is_none()
    );
}

/// Using a reset link, in one transaction: the new hash, a new auth stamp, no sessions left,
/// and no other reset link of the user's (another user's links are untouched).
pub async fn a_reset_link_sets_the_password_and_ends_sessions_and_other_links<S: AuthStore>(
    store: &S,
) {
    let now = now_ms();
    let ada = store
        .create_user(
            &name("ada"),
            &hash("YQ"),
            Some(&email("ada@example.org")),
            now,
        )
        .await
        .must();
    let bob = store
        .create_user(
            &name("bob"),
            &hash("Yg"),
            Some(&email("bob@example.org")),
            now,
        )
        .await
        .must();
    let (first, record) = link(ada.id, LinkPurpose::ResetPassword, "ada@example.org", now);
    store.insert_link(&record).await.must();
    let (second, record) = link(ada.id, LinkPurpose::ResetPassword, "ada@example.org", now);
    store.insert_link(&record).await.must();
    let (bobs, record) = link(bob.id, LinkPurpose::ResetPassword, "bob@example.org", now);
    store.insert_link(&record).await.must();
    for _ in 0..2 {
        store
            .insert_session(&session(ada.id, now, normal(now)).1)
            .await
            .must();
    }
    let (bob_token, bob_session) = session(bob.id, now, normal(now));
    store.insert_session(&bob_session).await.must();

    let (user, changed) = store
        .reset_password(&second.digest(), &hash("bmV3"), now)
        .await
        .must()
        .must();
    assert_eq!(user.id, ada.id);
    assert_ne!(user.auth_stamp, ada.auth_stamp);
    assert_eq!(changed.auth_stamp, user.auth_stamp);
    assert_eq!(changed.sessions_ended, 2);
    let credentials = store.find_credentials(&name("ada")).await.must().must();
    assert_eq!(credentials.password_hash.expose(), hash("bmV3").expose());
    assert!(
        store
            .list_user_sessions(ada.id, now)
            .await
            .must()
            .is_empty()
    );
    assert!(
        store
            .find_link(&first.digest(), LinkPurpose::ResetPassword, now)
            .await
            .must()
            .is_none(),
        "other links end"
    );
    assert!(
        store
            .reset_password(&second.digest(), &hash("YWdhaW4"), now)
            .await
            .must()
            .is_none(),
        "single use"
    );
    assert!(
        store
            .find_link(&bobs.digest(), LinkPurpose::ResetPassword, now)
            .await
            .must()
            .is_some()
    );
    assert!(
        store
            .load_session(&bob_token.digest(), now)
            .await
            .must()
            .is_some()
    );
}

/// Two concurrent uses of one reset link: exactly one sets its password.
pub async fn concurrent_uses_of_one_reset_link_one_wins<S: AuthStore>(store: &S) {
    let now = now_ms();
    let ada = store
        .create_user(
            &name("ada"),
            &hash("YQ"),
            Some(&email("ada@example.org")),
            now,
        )
        .await
        .must();
    let (token, record) = link(ada.id, LinkPurpose::ResetPassword, "ada@example.org", now);
    store.insert_link(&record).await.must();
    let digest = token.digest();
    let (one, two) = (hash("b25l"), hash("dHdv"));
    let (a, b) = tokio::join!(
        store.reset_password(&digest, &one, now),
        store.reset_password(&digest, &two, now)
    );
    let outcomes = [a, b];
    let won: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Ok(Some(_))))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        // The loser saw a used link, or (SQLite) a busy database, never a second reset.
        assert!(
            matches!(outcome, Ok(_) | Err(StoreError::Unavailable(_))),
            "{outcome:?}"
        );
    }
    let stored = store
        .find_credentials(&name("ada"))
        .await
        .must()
        .must()
        .password_hash;
    let expected = if won[0] == 0 { &one } else { &two };
    assert_eq!(stored.expose(), expected.expose());
}

/// The purge removes expired links and keeps live ones.
pub async fn purge_removes_expired_links<S: AuthStore>(store: &S) {
    let then = now_ms() - time::Duration::hours(48);
    let now = now_ms();
    let ada = store
        .create_user(
            &name("ada"),
            &hash("YQ"),
            Some(&email("ada@example.org")),
            then,
        )
        .await
        .must();
    let (old, record) = link(ada.id, LinkPurpose::VerifyEmail, "ada@example.org", then);
    store.insert_link(&record).await.must();
    let (live, record) = link(ada.id, LinkPurpose::VerifyEmail, "ada@example.org", now);
    store.insert_link(&record).await.must();
    store.purge_expired_sessions(now).await.must();
    // The expired one is gone even from a lookup that ignores expiry: look it up as of then.
    assert!(
        store
            .find_link(&old.digest(), LinkPurpose::VerifyEmail, then)
            .await
            .must()
            .is_none()
    );
    assert!(
        store
            .find_link(&live.digest(), LinkPurpose::VerifyEmail, now)
            .await
            .must()
            .is_some()
    );
}

fn digest(n: u8) -> [u8; 32] {
    [n; 32]
}

/// Enabling TOTP stores the sealed secret and replaces the recovery codes together.
pub async fn totp_is_enabled_with_its_recovery_codes_in_one_step<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    assert_eq!(
        store.second_factors(ada.id).await.must(),
        crate::store::SecondFactors::default()
    );
    assert!(
        store
            .enable_totp(ada.id, b"sealed-1", &[digest(1), digest(2)])
            .await
            .must()
    );
    let factors = store.second_factors(ada.id).await.must();
    assert!(factors.totp && factors.any());
    assert_eq!(factors.recovery_codes, 2);
    assert_eq!(
        store.totp_secret(ada.id).await.must().as_deref(),
        Some(&b"sealed-1"[..])
    );
    // Enabling again (a new enrolment) replaces the secret and the codes.
    assert!(
        store
            .enable_totp(ada.id, b"sealed-2", &[digest(3)])
            .await
            .must()
    );
    assert_eq!(
        store.totp_secret(ada.id).await.must().as_deref(),
        Some(&b"sealed-2"[..])
    );
    assert_eq!(store.second_factors(ada.id).await.must().recovery_codes, 1);
    assert!(
        !store.use_recovery_code(ada.id, &digest(1)).await.must(),
        "old codes are gone"
    );
    assert!(!store.enable_totp(UserId(i64::MAX), b"x", &[]).await.must());
    assert_eq!(store.totp_secret(UserId(i64::MAX)).await.must(), None);
}

/// A step is accepted once, and never one at or before the last accepted one.
pub async fn a_totp_step_is_accepted_once_and_only_forwards<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    assert!(
        !store.accept_totp_step(ada.id, 100).await.must(),
        "TOTP is off"
    );
    store.enable_totp(ada.id, b"sealed", &[]).await.must();
    assert!(store.accept_totp_step(ada.id, 100).await.must());
    assert!(!store.accept_totp_step(ada.id, 100).await.must(), "replay");
    assert!(
        !store.accept_totp_step(ada.id, 99).await.must(),
        "an earlier step"
    );
    assert!(store.accept_totp_step(ada.id, 101).await.must());
    // A new enrolment starts over.
    store.enable_totp(ada.id, b"sealed", &[]).await.must();
    assert!(store.accept_totp_step(ada.id, 50).await.must());
}

/// Two concurrent uses of one step: exactly one is accepted.
pub async fn concurrent_uses_of_one_totp_step_one_wins<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    store.enable_totp(ada.id, b"sealed", &[]).await.must();
    let (a, b) = tokio::join!(
        store.accept_totp_step(ada.id, 7),
        store.accept_totp_step(ada.id, 7)
    );
    let accepted = [&a, &b].iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(accepted, 1, "{a:?} {b:?}");
}

/// A recovery code works once, for its own user only.
pub async fn a_recovery_code_works_once<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    let bob = store
        .create_user(&name("bob"), &hash("Yg"), None, now_ms())
        .await
        .must();
    store
        .enable_totp(ada.id, b"sealed", &[digest(1), digest(2)])
        .await
        .must();
    assert!(
        !store.use_recovery_code(bob.id, &digest(1)).await.must(),
        "not bob's"
    );
    assert!(store.use_recovery_code(ada.id, &digest(1)).await.must());
    assert!(
        !store.use_recovery_code(ada.id, &digest(1)).await.must(),
        "single use"
    );
    assert_eq!(store.second_factors(ada.id).await.must().recovery_codes, 1);
    store
        .replace_recovery_codes(ada.id, &[digest(5), digest(6), digest(7)])
        .await
        .must();
    assert!(
        !store.use_recovery_code(ada.id, &digest(2)).await.must(),
        "replaced"
    );
    assert_eq!(store.second_factors(ada.id).await.must().recovery_codes, 3);
}

/// Clearing removes TOTP and the recovery codes, and says whether anything was on.
pub async fn clearing_second_factors_removes_them_all<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    assert!(!store.clear_second_factors(ada.id).await.must());
    store
        .enable_totp(ada.id, b"sealed", &[digest(1)])
        .await
        .must();
    assert!(store.clear_second_factors(ada.id).await.must());
    assert_eq!(
        store.second_factors(ada.id).await.must(),
        crate::store::SecondFactors::default()
    );
    assert_eq!(store.totp_secret(ada.id).await.must(), None);
    assert!(!store.use_recovery_code(ada.id, &digest(1)).await.must());
}

fn passkey(user_id: UserId, id: &str, credential_id: &[u8]) -> crate::store::PasskeyRecord {
    crate::store::PasskeyRecord {
        id: id.to_owned(),
        user_id,
        credential_id: credential_id.to_vec(),
        name: format!("key {id}"),
        credential: format!("{{\"id\":\"{id}\"}}"),
        created_at: now_ms(),
        last_used_at: None,
    }
}

/// Passkeys belong to one user, are found by credential id, renamed and removed only by
/// their owner, and count as a second factor; a credential id is registered once.
pub async fn passkeys_are_kept_per_user_and_found_by_credential_id<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    let bob = store
        .create_user(&name("bob"), &hash("Yg"), None, now_ms())
        .await
        .must();
    store
        .add_passkey(&passkey(ada.id, "p1", b"cred-1"))
        .await
        .must();
    store
        .add_passkey(&passkey(ada.id, "p2", b"cred-2"))
        .await
        .must();
    let taken = store.add_passkey(&passkey(bob.id, "p3", b"cred-1")).await;
    assert!(matches!(taken, Err(StoreError::Taken)), "{taken:?}");
    let listed = store.passkeys(ada.id).await.must();
    assert_eq!(
        listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["p1", "p2"]
    );
    assert_eq!(store.second_factors(ada.id).await.must().passkeys, 2);
    assert!(store.second_factors(ada.id).await.must().any());
    let found = store
        .passkey_by_credential_id(b"cred-2")
        .await
        .must()
        .must();
    assert_eq!((found.id.as_str(), found.user_id), ("p2", ada.id));
    let now = now_ms();
    store
        .record_passkey_use("p2", Some("{\"counter\":1}"), now)
        .await
        .must();
    let used = store
        .passkey_by_credential_id(b"cred-2")
        .await
        .must()
        .must();
    assert_eq!(
        (used.last_used_at, used.credential.as_str()),
        (Some(now), "{\"counter\":1}")
    );
    assert!(
        !store.rename_passkey(bob.id, "p1", "mine").await.must(),
        "not bob's"
    );
    assert!(store.rename_passkey(ada.id, "p1", "laptop").await.must());
    assert!(!store.remove_passkey(bob.id, "p1").await.must());
    assert!(store.remove_passkey(ada.id, "p1").await.must());
    assert!(
        store
            .passkey_by_credential_id(b"cred-1")
            .await
            .must()
            .is_none()
    );
    assert!(store.clear_second_factors(ada.id).await.must());
    assert!(store.passkeys(ada.id).await.must().is_empty());
}

/// A user's WebAuthn handle is set once; later candidates get the first one.
pub async fn a_webauthn_handle_is_given_once<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    let first = store.webauthn_handle(ada.id, [1; 16]).await.must();
    assert_eq!(first, [1; 16]);
    assert_eq!(store.webauthn_handle(ada.id, [2; 16]).await.must(), [1; 16]);
    let found = store
        .find_user_by_webauthn_handle(&[1; 16])
        .await
        .must()
        .must();
    assert_eq!(found.id, ada.id);
    assert!(
        store
            .find_user_by_webauthn_handle(&[2; 16])
            .await
            .must()
            .is_none()
    );
}

/// A ceremony's state is taken once, for its purpose, before it expires.
pub async fn a_ceremony_is_taken_once_before_it_expires<S: AuthStore>(store: &S) {
    let ada = store
        .create_user(&name("ada"), &hash("YQ"), None, now_ms())
        .await
        .must();
    let now = now_ms();
    let later = now + Duration::from_secs(300);
    store
        .save_ceremony("c1", Some(ada.id), "register", "{}", later)
        .await
        .must();
    store
        .save_ceremony("c2", None, "login", "{\"x\":1}", later)
        .await
        .must();
    store
        .save_ceremony("c3", None, "login", "{}", now - Duration::from_secs(1))
        .await
        .must();
    assert!(
        store
            .take_ceremony("c1", "login", now)
            .await
            .must()
            .is_none(),
        "another purpose"
    );
    assert_eq!(
        store.take_ceremony("c1", "register", now).await.must(),
        Some((Some(ada.id), "{}".to_owned()))
    );
    assert!(
        store
            .take_ceremony("c1", "register", now)
            .await
            .must()
            .is_none(),
        "single use"
    );
    assert_eq!(
        store.take_ceremony("c2", "login", now).await.must(),
        Some((None, "{\"x\":1}".to_owned()))
    );
    assert!(
        store
            .take_ceremony("c3", "login", now)
            .await
            .must()
            .is_none(),
        "expired"
    );
    store.purge_expired_sessions(now).await.must();
}

fn api_token(
    user_id: UserId,
    name: &str,
    created_at: OffsetDateTime,
    lifetime: Duration,
) -> (crate::api_token::ApiToken, crate::api_token::NewApiToken) {
    let token = crate::api_token::ApiToken::generate();
    let new = crate::api_token::NewApiToken {
        record: crate::api_token::ApiTokenRecord {
            id: SessionId::generate(),
            user_id,
            name: name.to_owned(),
            created_at,
            expires_at: created_at + lifetime,
            last_used_at: None,
        },
        digest: token.digest(),
    };
    (token, new)
}

/// An API token is found by its digest with its user while live, listed newest first without
/// its secret, used (last use recorded), and revoked only by its owner.
pub async fn api_tokens_are_found_listed_used_and_revoked_by_their_owner<S: AuthStore>(store: &S) {
    let ada = user(store, "ada").await;
    let bob = user(store, "bob").await;
    let now = now_ms();
    let (first, first_new) = api_token(ada, "laptop", now - hours(1), hours(24));
    let (_, second_new) = api_token(ada, "ci", now, hours(24));
    let (_, bobs_new) = api_token(bob, "bob's", now, hours(24));
    for new in [&first_new, &second_new, &bobs_new] {
        assert!(store.insert_api_token(new, 10, now).await.must());
    }
    let (record, owner) = store
        .load_api_token(&first.digest(), now)
        .await
        .must()
        .must();
    assert_eq!(record, first_new.record);
    assert_eq!(owner.id, ada);
    let listed = store.list_api_tokens(ada, now).await.must();
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["ci", "laptop"],
        "newest first, only ada's"
    );
    store
        .record_api_token_use(&first.digest(), now)
        .await
        .must();
    let (used, _) = store
        .load_api_token(&first.digest(), now)
        .await
        .must()
        .must();
    assert_eq!(used.last_used_at, Some(now));
    assert!(
        !store
            .delete_api_token(bob, &first_new.record.id)
            .await
            .must(),
        "not bob's"
    );
    assert!(
        store
            .delete_api_token(ada, &first_new.record.id)
            .await
            .must()
    );
    assert!(
        store
            .load_api_token(&first.digest(), now)
            .await
            .must()
            .is_none(),
        "revoked"
    );
    assert!(
        !store
            .delete_api_token(ada, &first_new.record.id)
            .await
            .must(),
        "already gone"
    );
}

/// An expired token is never found or listed, and the purge deletes only expired ones.
pub async fn expired_api_tokens_are_never_found_and_are_purged<S: AuthStore>(store: &S) {
    let ada = user(store, "ada").await;
    let now = now_ms();
    let (old, old_new) = api_token(ada, "old", now - hours(3), hours(2));
    let (live, live_new) = api_token(ada, "live", now, hours(2));
    for new in [&old_new, &live_new] {
        assert!(store.insert_api_token(new, 10, now - hours(3)).await.must());
    }
    assert!(
        store
            .load_api_token(&old.digest(), now)
            .await
            .must()
            .is_none()
    );
    assert!(
        store
            .load_api_token(&live.digest(), now)
            .await
            .must()
            .is_some()
    );
    assert_eq!(store.list_api_tokens(ada, now).await.must().len(), 1);
    assert_eq!(store.purge_expired_api_tokens(now).await.must(), 1);
    assert_eq!(store.purge_expired_api_tokens(now).await.must(), 0);
    assert!(
        store
            .load_api_token(&live.digest(), now)
            .await
            .must()
            .is_some()
    );
}

/// A user holds at most the limit of live tokens (expired ones do not count); every token but
/// one can be deleted at once; deleting the user deletes their tokens.
pub async fn api_tokens_are_bounded_per_user_deleted_together_and_with_their_user<S: AuthStore>(
    store: &S,
) {
    let ada = user(store, "ada").await;
    let now = now_ms();
    let (_, expired) = api_token(ada, "expired", now - hours(3), hours(1));
    assert!(
        store
            .insert_api_token(&expired, 2, now - hours(3))
            .await
            .must()
    );
    let mut kept = Vec::new();
    for name in ["a", "b"] {
        let (token, new) = api_token(ada, name, now, hours(1));
        assert!(store.insert_api_token(&new, 2, now).await.must(), "{name}");
        kept.push((token, new));
    }
    let (_, third) = api_token(ada, "c", now, hours(1));
    assert!(
        !store.insert_api_token(&third, 2, now).await.must(),
        "at the limit"
    );
    assert_eq!(store.list_api_tokens(ada, now).await.must().len(), 2);
    let (a, a_new) = &kept[0];
    assert_eq!(
        store
            .delete_api_tokens(ada, Some(&a_new.record.id))
            .await
            .must(),
        2,
        "b and the expired one"
    );
    let listed = store.list_api_tokens(ada, now).await.must();
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    assert!(store.delete_user(ada).await.must());
    assert!(
        store
            .load_api_token(&a.digest(), now)
            .await
            .must()
            .is_none()
    );
    assert!(store.list_api_tokens(ada, now).await.must().is_empty());
}
