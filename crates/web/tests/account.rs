//! The account page, session revocation, password change, re-authentication, and route guards
//! as layers and extractors — on every leg of the matrix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use auth_core::User;
use auth_core::guard::{FreshLogin, LoginRequired, RouteGuard, UserPredicate};
use axum::Router;
use axum::routing::get;
use common::{Browser, PASSWORD, spawn, spawn_with};
use reqwest::StatusCode;
use std::time::Duration;
use web::config::ConfigDuration;
use web::{FreshUser, Guarded, RequireLayer};

const NEW_PASSWORD: &str = "a brand new passphrase for me";

fn assert_anonymous(page: &common::Page) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location().unwrap().starts_with("/login?next="));
}

async fn second_browser(f: &common::Fixture, name: &str) -> Browser {
    let mut b = f.app.browser();
    let page = b.login(name, PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    b
}

async fn post_account(b: &mut Browser, action: &str, fields: &[(&str, &str)]) -> common::Page {
    b.submit("/account", action, fields).await
}

#[derive(Default)]
struct AdminsOnly;

impl RouteGuard for AdminsOnly {
    fn check(&self, access: &auth_core::guard::Access<'_>) -> Result<(), auth_core::guard::Denial> {
        UserPredicate(|u: &User| u.username.as_str() == "admin").check(access)
    }
}

fn guarded_routes() -> Router {
    Router::new()
        .route(
            "/layer/login",
            get(|| async { "members" }).layer(RequireLayer::new(LoginRequired)),
        )
        .route(
            "/layer/fresh",
            get(|| async { "fresh" }).layer(RequireLayer::new(FreshLogin(Duration::from_secs(1)))),
        )
        .route(
            "/layer/admin",
            get(|| async { "admins" }).layer(RequireLayer::new(UserPredicate(|u: &User| {
                u.username.as_str() == "admin"
            }))),
        )
        .route(
            "/extractor/fresh",
            get(|FreshUser(s): FreshUser| async move { format!("fresh {}", s.user.username) }),
        )
        .route(
            "/extractor/admin",
            get(|Guarded(s, _): Guarded<AdminsOnly>| async move {
                format!("admin {}", s.user.username)
            }),
        )
}

on_every_backend! {
    async fn account_lists_sessions_and_marks_the_current_one(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut a = f.app.browser();
        a.sign_up("alma").await;
        let _b = second_browser(&f, "alma").await;
        assert_anonymous(&f.app.browser().get("/account").await);
        let page = a.get("/account").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.body.matches("(this session)").count(), 1);
        let rows = page.body.matches("<tr").count() - 1;
        if backend.database_sessions() {
            assert_eq!(rows, 2, "both sessions listed");
            assert_eq!(page.input_values("session").len(), 1, "a sign-out button for the other one");
        } else {
            assert_eq!(rows, 1, "the cookie store knows only the current session");
            assert!(page.input_values("session").is_empty());
        }
    }

    async fn revoking_one_session_ends_only_that_one(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut a = f.app.browser();
        a.sign_up("bela").await;
        let mut b = second_browser(&f, "bela").await;
        let mut c = second_browser(&f, "bela").await;
        let ids = a.get("/account").await.input_values("session");
        if !backend.database_sessions() {
            // One single other session cannot be ended in the cookie store.
            let page = post_account(&mut a, "/account/sessions/revoke", &[("session", "1")]).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND);
            assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
            return;
        }
        assert_eq!(ids.len(), 2);
        let page = post_account(&mut a, "/account/sessions/revoke", &[("session", &ids[0])]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let alive: Vec<bool> = [b.get("/dashboard").await.status, c.get("/dashboard").await.status]
            .iter()
            .map(|s| *s == StatusCode::OK)
            .collect();
        assert_eq!(alive.iter().filter(|x| **x).count(), 1, "exactly one other session ended");
        assert_eq!(a.get("/dashboard").await.status, StatusCode::OK);
        // Another user's session id is not ours to end.
        let mut other = f.app.browser();
        other.sign_up("carla").await;
        let foreign = post_account(&mut other, "/account/sessions/revoke", &[("session", &ids[1])]).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    }

    async fn revoking_all_others_keeps_only_this_session(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut a = f.app.browser();
        a.sign_up("dora").await;
        let mut b = second_browser(&f, "dora").await;
        let mut c = second_browser(&f, "dora").await;
        let page = post_account(&mut a, "/account/sessions/revoke", &[("all", "1")]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_anonymous(&b.get("/dashboard").await);
        assert_anonymous(&c.get("/dashboard").await);
        let mine = a.get("/account").await;
        assert_eq!(mine.status, StatusCode::OK, "this session survives");
        assert!(mine.body.contains("Signed out of every other session."));
    }

    async fn revoking_needs_a_recent_login_or_the_password(backend: Backend) {
        let f = spawn(backend, |s| s.session.fresh_for = ConfigDuration(Duration::from_secs(1))).await;
        let mut a = f.app.browser();
        a.sign_up("edda").await;
        let mut b = second_browser(&f, "edda").await;
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let form = a.get("/account").await;
        assert!(form.body.contains("name=\"password\""), "the form asks for the password");
        let missing = post_account(&mut a, "/account/sessions/revoke", &[("all", "1")]).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        let wrong = post_account(&mut a, "/account/sessions/revoke", &[("all", "1"), ("password", "not my password at all")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK, "nothing changed");
        let right = post_account(&mut a, "/account/sessions/revoke", &[("all", "1"), ("password", PASSWORD)]).await;
        assert_eq!(right.status, StatusCode::SEE_OTHER);
        assert_anonymous(&b.get("/dashboard").await);
        // The right password counted as a fresh login.
        assert!(!a.get("/account").await.body.contains("name=\"password\""));
    }

    async fn password_change_renews_this_session_and_ends_the_others(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut a = f.app.browser();
        a.sign_up("fina").await;
        let mut b = second_browser(&f, "fina").await;
        let before = a.cookies["wristband_session"].clone();

        let wrong = post_account(&mut a, "/account/password", &[("current_password", "not the password"), ("new_password", NEW_PASSWORD)]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("id=\"current_password-error\""));
        let weak = post_account(&mut a, "/account/password", &[("current_password", PASSWORD), ("new_password", "short")]).await;
        assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(weak.body.contains("id=\"new_password-error\""));
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK, "refused changes change nothing");

        let changed = post_account(&mut a, "/account/password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD)]).await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER);
        assert_ne!(a.cookies["wristband_session"], before, "a new session id");
        assert_eq!(a.get("/dashboard").await.status, StatusCode::OK, "this session continues");
        assert_anonymous(&b.get("/dashboard").await);
        let mut old = f.app.browser();
        old.cookies.insert("wristband_session".into(), before);
        assert_anonymous(&old.get("/dashboard").await);
        let mut fresh = f.app.browser();
        assert_eq!(fresh.login("fina", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(fresh.login("fina", NEW_PASSWORD).await.status, StatusCode::SEE_OTHER);
    }

    async fn a_password_change_that_fails_midway_changes_nothing(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut a = f.app.browser();
        a.sign_up("gale").await;
        let mut b = second_browser(&f, "gale").await;
        // Make the store fail after the password change has begun: the new session row (database
        // sessions) or the new auth stamp (cookie sessions) is refused by a trigger.
        let sabotage = common::Sabotage::install(&f.database, if backend.database_sessions() {
            common::Failing::SessionInsert
        } else {
            common::Failing::AuthStampUpdate
        })
        .await;
        let failed = post_account(&mut a, "/account/password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD)]).await;
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "a failing write is a bug, not an outage: {}", failed.body);
        sabotage.remove().await;
        assert_eq!(a.get("/account").await.status, StatusCode::OK, "this session still works");
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK, "the other session still works");
        let mut fresh = f.app.browser();
        assert_eq!(fresh.login("gale", NEW_PASSWORD).await.status, StatusCode::UNAUTHORIZED, "the new password was not stored");
        assert_eq!(fresh.login("gale", PASSWORD).await.status, StatusCode::SEE_OTHER, "the old password still works");
    }

    async fn guard_layers_protect_their_routes(backend: Backend) {
        let f = spawn_with(backend, |_| {}, guarded_routes()).await;
        let mut anonymous = f.app.browser();
        let page = anonymous.get("/layer/login").await;
        assert_eq!(page.location(), Some("/login?next=/layer/login"));
        let mut bob = f.app.browser();
        bob.sign_up("bob").await;
        assert_eq!(bob.get("/layer/login").await.body, "members");
        assert_eq!(bob.get("/layer/admin").await.status, StatusCode::FORBIDDEN);
        let mut admin = f.app.browser();
        admin.sign_up("admin").await;
        assert_eq!(admin.get("/layer/admin").await.body, "admins");
        assert_eq!(admin.get("/extractor/admin").await.body, "admin admin");
        assert_eq!(bob.get("/extractor/admin").await.status, StatusCode::FORBIDDEN);
        assert_eq!(anonymous.get("/extractor/admin").await.location(), Some("/login?next=/extractor/admin"));
    }

    async fn fresh_login_guard_asks_for_the_password_again(backend: Backend) {
        let f = spawn_with(backend, |s| s.session.fresh_for = ConfigDuration(Duration::from_secs(1)), guarded_routes()).await;
        let mut b = f.app.browser();
        b.sign_up("gus").await;
        assert_eq!(b.get("/layer/fresh").await.body, "fresh");
        assert_eq!(b.get("/extractor/fresh").await.body, "fresh gus");
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let stale = b.get("/layer/fresh").await;
        assert_eq!(stale.status, StatusCode::SEE_OTHER);
        assert_eq!(stale.location(), Some("/reauthenticate?next=/layer/fresh"));
        assert_eq!(b.get("/extractor/fresh").await.location(), Some("/reauthenticate?next=/extractor/fresh"));
        let mut api = b.clone();
        api.extra_headers.push(("accept".into(), "application/json".into()));
        let problem = api.get("/layer/fresh").await;
        assert_eq!(problem.status, StatusCode::FORBIDDEN);
        let document: serde_json::Value = serde_json::from_str(&problem.body).unwrap();
        assert!(document["type"].as_str().unwrap().ends_with("reauthentication-required"));
        let wrong = b.submit("/reauthenticate?next=/layer/fresh", "/reauthenticate", &[("password", "wrong wrong wrong"), ("next", "/layer/fresh")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let right = b.submit("/reauthenticate?next=/layer/fresh", "/reauthenticate", &[("password", PASSWORD), ("next", "/layer/fresh")]).await;
        assert_eq!(right.location(), Some("/layer/fresh"));
        assert_eq!(b.get("/layer/fresh").await.body, "fresh");
    }
}
