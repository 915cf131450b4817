//! The session cache (SPEC §8) through the real router, on every leg: authenticated requests
//! answered without a store read, every change seen by the very next request in the same
//! process, correct answers from a full cache, and `last_seen_at` written behind requests but
//! never lost at shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Browser, PASSWORD, spawn};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use web::config::ConfigDuration;

fn assert_anonymous(page: &common::Page) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location().unwrap().starts_with("/login?next="));
}

/// Waits until the app's session cache is trusted (its follower has reported in).
async fn cache_trusted(app: &common::TestApp) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.service().session_cache().is_trusted() {
        assert!(
            Instant::now() < deadline,
            "the change feed never became fresh"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A second browser of `name`'s, its session in the cache.
async fn warm_session(f: &common::Fixture, name: &str) -> Browser {
    let mut b = f.app.browser();
    assert_eq!(b.login(name, PASSWORD).await.status, StatusCode::SEE_OTHER);
    for _ in 0..2 {
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    }
    b
}

on_every_backend! {
    async fn authenticated_requests_are_answered_from_the_cache(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        cache_trusted(&f.app).await;
        let mut b = f.app.browser();
        b.sign_up("cora").await;
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
        let before = f.app.service().session_cache().stats();
        for _ in 0..20 {
            let page = b.get("/dashboard").await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.body.contains("cora"));
        }
        let after = f.app.service().session_cache().stats();
        assert_eq!(after.hits - before.hits, 20, "{before:?} → {after:?}");
        assert_eq!(after.misses, before.misses, "no store read: {before:?} → {after:?}");
    }

    async fn every_change_is_seen_by_the_very_next_request(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        cache_trusted(&f.app).await;
        let service = f.app.service();
        let mut owner = f.app.browser();
        owner.sign_up("dana").await;

        // Logout: the copy of the cookie is anonymous at once.
        let mut copy = warm_session(&f, "dana").await;
        let mut same = f.app.browser();
        same.cookies = copy.cookies.clone();
        assert_eq!(same.get("/dashboard").await.status, StatusCode::OK);
        assert_eq!(copy.logout().await.status, StatusCode::SEE_OTHER);
        assert_anonymous(&same.get("/dashboard").await);

        // "Log out everywhere else" (a fresh login, so no re-authentication is asked).
        let mut other = warm_session(&f, "dana").await;
        let ended = owner.submit("/account", "/account/sessions/revoke", &[("all", "1")]).await;
        assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
        assert_anonymous(&other.get("/dashboard").await);
        assert_eq!(owner.get("/dashboard").await.status, StatusCode::OK);

        // An administrator's reset.
        let mut other = warm_session(&f, "dana").await;
        let name = auth_core::Username::parse("dana").unwrap();
        let reset = service
            .set_password(&name, &auth_core::SecretString::new("an administrator's new passphrase"), &auth_core::Client::command_line())
            .await
            .unwrap();
        assert!(matches!(reset, auth_core::service::AdminPasswordReset::Done { .. }));
        assert_anonymous(&other.get("/dashboard").await);
        assert_anonymous(&owner.get("/dashboard").await);

        // Deleting the user.
        let mut erin = f.app.browser();
        erin.sign_up("erin").await;
        assert_eq!(erin.get("/dashboard").await.status, StatusCode::OK);
        let deleted = service
            .delete_user(&auth_core::Username::parse("erin").unwrap(), &auth_core::Client::command_line())
            .await
            .unwrap();
        assert!(deleted.is_some());
        assert_anonymous(&erin.get("/dashboard").await);
    }

    async fn a_full_cache_answers_correctly_and_stays_bounded(backend: Backend) {
        let f = spawn(backend, |s| s.session.cache_entries = 2).await;
        cache_trusted(&f.app).await;
        let mut browsers = Vec::new();
        for n in 0..6 {
            let mut b = f.app.browser();
            b.sign_up(&format!("full{n}")).await;
            browsers.push(b);
        }
        for _round in 0..3 {
            for (n, b) in browsers.iter_mut().enumerate() {
                let page = b.get("/dashboard").await;
                assert_eq!(page.status, StatusCode::OK);
                assert!(page.body.contains(&format!("full{n}!")), "each sees their own page");
            }
        }
        let cache = f.app.service().session_cache();
        cache.run_pending_tasks();
        assert!(cache.stats().sessions <= 2, "{:?}", cache.stats());
        for b in &mut browsers {
            let mut copy = f.app.browser();
            copy.cookies = b.cookies.clone();
            assert_eq!(b.logout().await.status, StatusCode::SEE_OTHER);
            assert_anonymous(&copy.get("/dashboard").await);
        }
    }

    async fn last_seen_is_written_behind_and_never_lost_at_shutdown(backend: Backend) {
        // A 2 s idle timeout moves last_seen_at every 200 ms.
        let f = spawn(backend, |s| s.session.idle_timeout = ConfigDuration(Duration::from_secs(2))).await;
        let mut b = f.app.browser();
        b.sign_up("lena").await;
        let store = f.app.service().store().clone();
        let user = store.find_credentials(&auth_core::Username::parse("lena").unwrap()).await.unwrap().unwrap().user;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
        let seen = time::OffsetDateTime::now_utc();
        f.app.stop().await;
        if backend.database_sessions() {
            let sessions = store.list_user_sessions(user.id, time::OffsetDateTime::now_utc()).await.unwrap();
            assert_eq!(sessions.len(), 1);
            let recorded = sessions[0].last_seen_at;
            assert!(seen - recorded < Duration::from_millis(300), "recorded {recorded}, request at {seen}");
        }
    }
}
