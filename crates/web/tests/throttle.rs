//! Login throttling (contract §6, "Throttling") over real HTTP, on every backend.
//!
//! Client addresses are simulated with `X-Forwarded-For` from a trusted proxy (the test client
//! connects from 127.0.0.1, which the tests list in `server.trusted_proxies`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Browser, PASSWORD, Page, spawn};
use reqwest::StatusCode;
use std::time::Duration;
use web::config::{ConfigDuration, Settings};

const WRONG: &str = "not the right password at all";

/// Settings for throttling tests: `max_failures` per username and address in `window`, the
/// per-account and per-address rules out of the way unless a test sets them, and 127.0.0.1
/// trusted so `X-Forwarded-For` picks the client address.
fn limits(settings: &mut Settings, max_failures: u32, window: Duration) {
    settings.login.max_failures = max_failures;
    settings.login.failure_window = ConfigDuration(window);
    settings.login.max_failures_per_account = 1000;
    settings.login.max_failures_per_address = 1000;
    settings.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

/// A browser whose requests come from `address`.
fn browser_from(f: &common::Fixture, address: &str) -> Browser {
    let mut b = f.app.browser();
    b.extra_headers
        .push(("x-forwarded-for".into(), address.into()));
    b
}

async fn register(f: &common::Fixture, username: &str) {
    let page = f.app.browser().register(username, PASSWORD).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "register {username}: {}",
        page.body
    );
}

/// A failed login that the throttle let through.
async fn fail(b: &mut Browser, username: &str) {
    let page = b.login(username, WRONG).await;
    assert_eq!(
        page.status,
        StatusCode::UNAUTHORIZED,
        "failure for {username} was not a 401: {}",
        page.body
    );
    assert!(page.body.contains("Invalid username or password."));
}

async fn succeed(b: &mut Browser, username: &str) {
    let page = b.login(username, PASSWORD).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "login of {username} was refused: {} {}",
        page.status,
        page.body
    );
}

/// Asserts `page` is a throttling refusal and returns its `Retry-After` in seconds.
fn assert_throttled(page: &Page) -> u64 {
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    let seconds: u64 = page
        .header("retry-after")
        .expect("a 429 carries Retry-After")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(seconds >= 1, "Retry-After {seconds}");
    assert!(page.body.contains("Too many attempts"), "{}", page.body);
    seconds
}

async fn refused(b: &mut Browser, username: &str, password: &str) -> u64 {
    let page = b.login(username, password).await;
    assert_throttled(&page)
}

on_every_backend! {
    async fn registrations_are_throttled_per_address(backend: Backend) {
        let f = spawn(backend, |s| s.register.max_per_address = 5).await;
        let burst: Vec<_> = (0..12)
            .map(|i| {
                let base = f.app.base.clone();
                tokio::spawn(async move {
                    let mut b = Browser::from_address(&base, "127.0.0.2".parse().unwrap());
                    let body = serde_json::json!({"username": format!("burst{i}"), "password": PASSWORD});
                    b.post_json("/api/v1/register", &body).await
                })
            })
            .collect();
        let mut created = 0;
        let mut refused = 0;
        for task in burst {
            let page = task.await.unwrap();
            match page.status {
                StatusCode::CREATED => created += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    assert!(page.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()));
                    refused += 1;
                }
                other => panic!("{other}: {}", page.body),
            }
        }
        assert_eq!((created, refused), (5, 7), "12 at once from one address: exactly the limit gets in");
        let mut same = Browser::from_address(&f.app.base, "127.0.0.2".parse().unwrap());
        let page = same.register("lateone", PASSWORD).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "the HTML form too");
        let mut other = Browser::from_address(&f.app.base, "127.0.0.3".parse().unwrap());
        assert_eq!(other.register("otherone", PASSWORD).await.status, StatusCode::SEE_OTHER, "other addresses are not held back");
        assert_eq!(f.app.service().list_users().await.unwrap().len(), 6);
    }

    async fn invalid_or_taken_registrations_do_not_count(backend: Backend) {
        let f = spawn(backend, |s| s.register.max_per_address = 2).await;
        let mut b = Browser::from_address(&f.app.base, "127.0.0.4".parse().unwrap());
        assert_eq!(b.register("first", PASSWORD).await.status, StatusCode::SEE_OTHER);
        for _ in 0..3 {
            assert_eq!(b.register("first", PASSWORD).await.status, StatusCode::CONFLICT);
            assert_eq!(b.register("x y", PASSWORD).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        assert_eq!(b.register("second", PASSWORD).await.status, StatusCode::SEE_OTHER);
        assert_eq!(b.register("third", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    }

    async fn failures_lead_to_429_with_retry_after_even_with_the_right_password(backend: Backend) {
        let f = spawn(backend, |s| limits(s, 3, Duration::from_secs(600))).await;
        register(&f, "alice").await;
        let mut b = f.app.browser();
        for _ in 0..3 {
            fail(&mut b, "alice").await;
        }
        let page = b.login("alice", PASSWORD).await;
        let seconds = assert_throttled(&page);
        assert!(seconds <= 600, "Retry-After {seconds} is past the window");
        assert!(page.set_cookie("wristband_session").is_none(), "a refused login starts no session");
        assert!(!b.cookies.contains_key("wristband_session"));
        assert_eq!(b.get("/dashboard").await.status, StatusCode::SEE_OTHER, "still anonymous");
        // API clients get the problem document with the same status and header.
        let token = b.get("/login").await.csrf_token();
        b.extra_headers.push(("accept".into(), "application/json".into()));
        let json = b
            .post_form("/login", &[("username", "alice"), ("password", PASSWORD), ("csrf_token", &token)])
            .await;
        assert_eq!(json.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(json.header("retry-after").is_some());
        assert_eq!(json.header("content-type"), Some("application/problem+json"));
    }

    async fn a_refused_attempt_does_no_hashing(backend: Backend) {
        let f = spawn(backend, |s| limits(s, 2, Duration::from_secs(600))).await;
        register(&f, "alice").await;
        let mut b = f.app.browser();
        for user in ["alice", "alice", "ghost", "ghost"] {
            fail(&mut b, user).await;
        }
        let stats = f.app.service().hasher_stats();
        let before = (stats.hashes(), stats.verifications(), stats.dummy_verifications());
        refused(&mut b, "alice", PASSWORD).await;
        refused(&mut b, "ghost", PASSWORD).await;
        let after = (stats.hashes(), stats.verifications(), stats.dummy_verifications());
        assert_eq!(before, after, "refused logins must not touch the hasher");
    }

    async fn unknown_and_invalid_usernames_are_throttled_like_known_ones(backend: Backend) {
        let f = spawn(backend, |s| limits(s, 2, Duration::from_secs(600))).await;
        register(&f, "Alice").await;
        let mut b = f.app.browser();
        // A registered user, an unknown one and an invalid name: each by its identity form.
        for (first, second, then) in [
            ("alice", "ALICE", "Ａｌｉｃｅ"),
            ("ghost", "Ghost", "GHOST"),
            ("Bad Name!", " bad name! ", "BAD NAME!"),
        ] {
            fail(&mut b, first).await;
            fail(&mut b, second).await;
            refused(&mut b, then, PASSWORD).await;
        }
    }

    async fn other_users_and_other_addresses_are_not_held_back(backend: Backend) {
        let f = spawn(backend, |s| limits(s, 3, Duration::from_secs(600))).await;
        register(&f, "alice").await;
        register(&f, "bob").await;
        let mut here = browser_from(&f, "203.0.113.7");
        for _ in 0..3 {
            fail(&mut here, "alice").await;
        }
        refused(&mut here, "alice", PASSWORD).await;
        // Another user from the same address.
        succeed(&mut here, "bob").await;
        // The same user from another address.
        let mut there = browser_from(&f, "198.51.100.1");
        succeed(&mut there, "alice").await;
        // Neither success lifted the block on alice from the first address.
        refused(&mut browser_from(&f, "203.0.113.7"), "alice", PASSWORD).await;
    }

    async fn the_account_rule_holds_across_addresses(backend: Backend) {
        let f = spawn(backend, |s| {
            limits(s, 3, Duration::from_secs(600));
            s.login.max_failures_per_account = 4;
        })
        .await;
        register(&f, "alice").await;
        register(&f, "bob").await;
        // Four failures from four addresses: the per-address-and-user rule never triggers.
        for address in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"] {
            fail(&mut browser_from(&f, address), "alice").await;
        }
        let mut fresh = browser_from(&f, "198.51.100.9");
        let seconds = refused(&mut fresh, "alice", PASSWORD).await;
        // The account rule's window is an hour, not `login.failure_window`.
        assert!(seconds > 600 && seconds <= 3600, "Retry-After {seconds}");
        // It is about the account, not the address.
        succeed(&mut fresh, "bob").await;
    }

    async fn known_devices_are_not_locked_out_by_the_account_rule(backend: Backend) {
        let f = spawn(backend, |s| {
            limits(s, 3, Duration::from_secs(600));
            s.login.max_failures_per_account = 4;
        })
        .await;
        register(&f, "alice").await;
        // Alice's own browser logs in once, and so gets a device cookie naming her.
        let mut own = browser_from(&f, "198.51.100.7");
        succeed(&mut own, "alice").await;
        assert!(own.cookies.contains_key("wristband_device"));
        // A stranger guesses from many addresses: the account is locked…
        for address in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"] {
            let mut b = browser_from(&f, address);
            let _ = b.login("alice", "a wrong guess at it").await;
        }
        refused(&mut browser_from(&f, "198.51.100.9"), "alice", PASSWORD).await;
        // …but not for alice on her own device, even from a new address.
        let mut own_elsewhere = browser_from(&f, "192.0.2.44");
        own_elsewhere.cookies = own.cookies.clone();
        own_elsewhere.cookies.remove("wristband_session");
        succeed(&mut own_elsewhere, "alice").await;
        // The per-username-and-address rule still applies to her device.
        let mut careless = browser_from(&f, "192.0.2.45");
        careless.cookies = own.cookies.clone();
        careless.cookies.remove("wristband_session");
        for _ in 0..3 {
            fail(&mut careless, "alice").await;
        }
        refused(&mut careless, "alice", PASSWORD).await;
        // A forged device cookie is worth nothing.
        let mut forger = browser_from(&f, "192.0.2.46");
        forger.cookies.insert("wristband_device".into(), "eyJ2IjoxLCJ1c2VycyI6WyJhbGljZSJdfQ.AAAA".into());
        refused(&mut forger, "alice", PASSWORD).await;
    }

    async fn the_address_rule_holds_across_usernames(backend: Backend) {
        let f = spawn(backend, |s| {
            limits(s, 3, Duration::from_secs(600));
            s.login.max_failures_per_address = 5;
        })
        .await;
        register(&f, "carol").await;
        let mut stuffing = browser_from(&f, "203.0.113.66");
        for i in 0..5 {
            fail(&mut stuffing, &format!("victim{i}")).await;
        }
        // Every login from that address is refused: a known user with the right password, and
        // a name never tried before.
        refused(&mut stuffing, "carol", PASSWORD).await;
        refused(&mut stuffing, "newcomer", WRONG).await;
        // Other addresses are not.
        succeed(&mut browser_from(&f, "198.51.100.1"), "carol").await;
    }

    async fn refused_attempts_are_not_counted(backend: Backend) {
        let f = spawn(backend, |s| {
            limits(s, 3, Duration::from_secs(5));
            s.login.max_failures_per_address = 5;
            s.login.max_failures_per_account = 7;
        })
        .await;
        register(&f, "alice").await;
        register(&f, "bob").await;
        let mut b = browser_from(&f, "203.0.113.7");
        for _ in 0..3 {
            fail(&mut b, "alice").await;
        }
        let mut wait = 0;
        for _ in 0..4 {
            wait = refused(&mut b, "alice", WRONG).await;
        }
        // Counted, the four refusals would have reached the address limit (3 + 4 ≥ 5) …
        succeed(&mut b, "bob").await;
        tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(300)).await;
        // … and the hour-long account limit (3 + 4 ≥ 7). Uncounted, exactly `max_failures`
        // more failures are allowed once the window has passed, then the block is back.
        for _ in 0..3 {
            fail(&mut b, "alice").await;
        }
        refused(&mut b, "alice", PASSWORD).await;
    }

    async fn a_successful_login_clears_the_user_and_address_counter(backend: Backend) {
        let f = spawn(backend, |s| limits(s, 3, Duration::from_secs(600))).await;
        register(&f, "alice").await;
        let mut b = browser_from(&f, "203.0.113.7");
        for _ in 0..2 {
            fail(&mut b, "alice").await;
        }
        succeed(&mut b, "alice").await;
        // Uncleared, the counter would reach 3 at the first of these and refuse the second.
        for _ in 0..2 {
            fail(&mut b, "alice").await;
        }
        succeed(&mut b, "alice").await;
    }

    async fn a_successful_login_leaves_the_address_and_account_counters(backend: Backend) {
        let f = spawn(backend, |s| {
            limits(s, 3, Duration::from_secs(600));
            s.login.max_failures_per_address = 4;
            s.login.max_failures_per_account = 4;
        })
        .await;
        register(&f, "alice").await;
        register(&f, "bob").await;
        // The address counter: two failures, a success, two more failures for another user.
        let mut b = browser_from(&f, "203.0.113.7");
        fail(&mut b, "alice").await;
        fail(&mut b, "bob").await;
        succeed(&mut b, "alice").await;
        fail(&mut b, "carol").await;
        fail(&mut b, "dave").await;
        refused(&mut b, "bob", PASSWORD).await;
        // The account counter: failures from other addresses, then a success, then one more.
        for address in ["198.51.100.1", "198.51.100.2"] {
            fail(&mut browser_from(&f, address), "bob").await;
        }
        succeed(&mut browser_from(&f, "198.51.100.3"), "bob").await;
        fail(&mut browser_from(&f, "198.51.100.4"), "bob").await;
        // bob: one failure from .7, two from .1/.2, one from .4 → four within the hour.
        refused(&mut browser_from(&f, "198.51.100.5"), "bob", PASSWORD).await;
    }

    async fn the_block_lifts_when_the_window_passes(backend: Backend) {
        let window = Duration::from_secs(3);
        let f = spawn(backend, |s| limits(s, 3, window)).await;
        register(&f, "alice").await;
        let mut b = f.app.browser();
        for _ in 0..3 {
            fail(&mut b, "alice").await;
        }
        let seconds = refused(&mut b, "alice", PASSWORD).await;
        assert!(seconds <= window.as_secs(), "Retry-After {seconds} is past the window");
        tokio::time::sleep(Duration::from_secs(seconds) + Duration::from_millis(300)).await;
        succeed(&mut b, "alice").await;
    }

    async fn a_burst_of_concurrent_guesses_gets_no_more_than_the_limit(backend: Backend) {
        let f = spawn(backend, |s| limits(s, 3, Duration::from_secs(60))).await;
        register(&f, "alice").await;
        let mut b = f.app.browser();
        let token = b.get("/login").await.csrf_token();
        let guesses: Vec<_> = (0..12)
            .map(|i| {
                let mut browser = b.clone();
                let token = token.clone();
                tokio::spawn(async move {
                    let guess = format!("guess number {i} is wrong");
                    browser
                        .post_form("/login", &[("username", "alice"), ("password", &guess), ("csrf_token", &token)])
                        .await
                        .status
                })
            })
            .collect();
        let mut checked = 0;
        for guess in guesses {
            match guess.await.unwrap() {
                StatusCode::UNAUTHORIZED => checked += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert!(checked <= 3, "{checked} passwords were checked at once; the limit is 3");
        assert!(checked >= 1);
        refused(&mut b, "alice", PASSWORD).await;
    }
}
