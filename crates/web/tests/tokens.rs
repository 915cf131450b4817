//! Personal API tokens (SPEC §11) through the real router over HTTP, on every leg: made after
//! a recent login and shown once, used as `Authorization: Bearer` without cookies or CSRF,
//! listed without their secret, revoked, ended with their user or with every other session
//! when asked, refused after expiry, throttled against guessing, ignored by HTML routes, and
//! answered from the session cache.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use auth_core::{Client, Username};
use common::{Browser, Fixture, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};
use web::config::ConfigDuration;

/// A logged-in browser of `name` (a fresh login).
async fn user(f: &Fixture, name: &str) -> Browser {
    let mut b = f.app.browser();
    b.sign_up(name).await;
    b
}

/// Makes a token named `name` from `owner`'s session; its secret and its id.
async fn make_token(owner: &mut Browser, name: &str) -> (String, String) {
    let made = owner
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": name, "expires_in": 3600 }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let body = made.json();
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("wbt_"), "{token}");
    (token, body["id"].as_str().unwrap().to_owned())
}

/// A client with no cookies that sends `token` as its bearer credential.
fn bearer(f: &Fixture, token: &str) -> Browser {
    let mut b = f.app.browser();
    b.extra_headers
        .push(("authorization".into(), format!("Bearer {token}")));
    b
}

fn assert_refused_token(page: &common::Page) {
    page.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        page.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}

on_every_backend! {
    async fn a_token_is_shown_once_used_without_cookies_listed_and_revoked(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut ada = user(&f, "ada").await;
        let made = ada.post_json("/api/v1/tokens", &json!({"name": " deploy script ", "expires_in": 7200})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let body = made.json();
        assert_eq!(body["name"], "deploy script");
        assert_eq!(body["current"], false);
        assert!(body["last_used_at"].is_null());
        let token = body["token"].as_str().unwrap().to_owned();
        let id = body["id"].as_str().unwrap().to_owned();
        let created = time::OffsetDateTime::parse(body["created_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        let expires = time::OffsetDateTime::parse(body["expires_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!((expires - created).whole_seconds(), 7200);

        // Used: the user, no cookie set, no CSRF or Origin rule for unsafe requests.
        let mut script = bearer(&f, &token);
        let me = script.get("/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        assert_eq!(me.json()["username"], "ada");
        assert!(me.set_cookies().is_empty(), "{:?}", me.headers);
        assert_eq!(me.header("cache-control"), Some("no-store"));
        let (_, other_id) = make_token(&mut ada, "other").await;
        script.extra_headers.push(("origin".into(), "https://evil.example".into()));
        script.extra_headers.push(("sec-fetch-site".into(), "cross-site".into()));
        let revoked_other = script.delete(&format!("/api/v1/tokens/{other_id}")).await;
        assert_eq!(revoked_other.status, StatusCode::NO_CONTENT, "{}", revoked_other.body);
        assert!(revoked_other.set_cookies().is_empty());

        // Listed, newest first, never with a secret; the token's own listing marks it, and its
        // last use is written behind the request.
        let deadline = Instant::now() + Duration::from_secs(5);
        let listed = loop {
            let listed = script.get("/api/v1/tokens").await;
            assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
            let tokens = listed.json()["tokens"].clone();
            if !tokens[0]["last_used_at"].is_null() || Instant::now() > deadline {
                break listed;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(!listed.body.contains(&token), "the secret is never listed");
        assert!(!listed.body.contains(&token[4..]));
        let tokens = listed.json()["tokens"].as_array().unwrap().clone();
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        assert_eq!(tokens[0]["id"], id.as_str());
        assert_eq!(tokens[0]["current"], true);
        assert!(tokens[0]["last_used_at"].is_string(), "last use recorded: {tokens:?}");
        assert!(tokens[0].get("token").is_none());
        let from_session = ada.get("/api/v1/tokens").await.json();
        assert_eq!(from_session["tokens"][0]["current"], false);

        // Revoked from the session: refused at once.
        let revoked = ada.delete(&format!("/api/v1/tokens/{id}")).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
        assert_refused_token(&script.get("/api/v1/me").await);
        ada.delete(&format!("/api/v1/tokens/{id}")).await.problem(StatusCode::NOT_FOUND);
        ada.delete("/api/v1/tokens/not-an-id").await.problem(StatusCode::NOT_FOUND);
        assert!(ada.get("/api/v1/tokens").await.json()["tokens"].as_array().unwrap().is_empty());
        f.app.stop().await;
    }

    async fn a_token_cannot_make_tokens_reauthenticate_or_act_on_another_user(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut ada = user(&f, "ada").await;
        let (token, _) = make_token(&mut ada, "cli").await;
        let mut bob = user(&f, "bob").await;
        let (_, bobs_id) = make_token(&mut bob, "bob's").await;
        let mut script = bearer(&f, &token);
        let problem = script.post_json("/api/v1/tokens", &json!({"name": "more"})).await.problem(StatusCode::FORBIDDEN);
        assert_eq!(problem["type"], "/problems/reauthentication-required");
        script.post_json("/api/v1/reauthenticate", &json!({"password": common::PASSWORD})).await.problem(StatusCode::FORBIDDEN);
        script.request(Method::DELETE, "/api/v1/sessions").await.problem(StatusCode::FORBIDDEN);
        script.delete(&format!("/api/v1/tokens/{bobs_id}")).await.problem(StatusCode::NOT_FOUND);
        assert_eq!(bob.get("/api/v1/tokens").await.json()["tokens"].as_array().unwrap().len(), 1);
        // HTML routes ignore the header: the token is no login there.
        let page = script.get("/account").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(page.location().unwrap().starts_with("/login"));
        // Logging out with a token revokes it.
        assert_eq!(script.request(Method::POST, "/api/v1/logout").await.status, StatusCode::NO_CONTENT);
        assert_refused_token(&script.get("/api/v1/me").await);
        f.app.stop().await;
    }

    async fn making_a_token_needs_a_recent_login_and_a_valid_name_and_lifetime(backend: Backend) {
        let f = spawn(backend, |s| s.session.fresh_for = ConfigDuration(Duration::from_secs(1))).await;
        let mut anonymous = f.app.browser();
        anonymous.post_json("/api/v1/tokens", &json!({"name": "x"})).await.problem(StatusCode::UNAUTHORIZED);
        let mut ada = user(&f, "ada").await;
        for (body, field) in [
            (json!({"name": "   "}), "name"),
            (json!({}), "name"),
            (json!({"name": "x".repeat(65)}), "name"),
            (json!({"name": "a\nb"}), "name"),
            (json!({"name": "ok", "expires_in": 59}), "expires_in"),
            (json!({"name": "ok", "expires_in": 31_622_401u64}), "expires_in"),
        ] {
            let problem = ada.post_json("/api/v1/tokens", &body).await.problem(StatusCode::UNPROCESSABLE_ENTITY);
            assert!(problem["errors"][field].is_string(), "{body} → {problem}");
        }
        ada.post_json("/api/v1/tokens", &json!({"name": "ok", "expires_in": "soon"})).await.problem(StatusCode::UNPROCESSABLE_ENTITY);
        ada.post_json("/api/v1/tokens", &json!({"name": "ok", "expires_in": -5})).await.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(ada.get("/api/v1/tokens").await.json()["tokens"].as_array().unwrap().is_empty(), "nothing made");
        // Without an expiry: 30 days.
        let made = ada.post_json("/api/v1/tokens", &json!({"name": "default"})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let problem = ada.post_json("/api/v1/tokens", &json!({"name": "late"})).await.problem(StatusCode::FORBIDDEN);
        assert_eq!(problem["type"], "/problems/reauthentication-required");
        f.app.stop().await;
    }

    async fn ending_every_other_session_ends_tokens_only_when_asked(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut ada = user(&f, "ada").await;
        let (token, _) = make_token(&mut ada, "cli").await;
        let mut script = bearer(&f, &token);
        let ended = ada.request(Method::DELETE, "/api/v1/sessions").await;
        assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.body);
        assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK, "tokens survive");
        ada.request(Method::DELETE, "/api/v1/sessions?tokens=maybe").await.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);
        let ended = ada.request(Method::DELETE, "/api/v1/sessions?tokens=1").await;
        assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.body);
        assert_refused_token(&script.get("/api/v1/me").await);
        assert_eq!(ada.get("/api/v1/me").await.status, StatusCode::OK, "the caller's session stays");
        f.app.stop().await;
    }

    async fn a_token_ends_with_its_user_and_at_its_expiry(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut ada = user(&f, "ada").await;
        let (token, _) = make_token(&mut ada, "cli").await;
        let mut script = bearer(&f, &token);
        assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);

        // A token that lives one second, written straight to the store.
        let service = f.app.service();
        let bob = service.find_user(&Username::parse("ada").unwrap()).await.unwrap().unwrap();
        let short = auth_core::ApiToken::generate();
        let now = time::OffsetDateTime::now_utc();
        let new = auth_core::NewApiToken {
            record: auth_core::ApiTokenRecord {
                id: auth_core::SessionId::generate(),
                user_id: bob.id,
                name: "short".into(),
                created_at: now,
                expires_at: now + Duration::from_millis(800),
                last_used_at: None,
            },
            digest: short.digest(),
        };
        assert!(service.store().insert_api_token(&new, 100, now).await.unwrap());
        let mut short_lived = bearer(&f, &short.encode());
        assert_eq!(short_lived.get("/api/v1/me").await.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_refused_token(&short_lived.get("/api/v1/me").await);

        service.delete_user(&Username::parse("ada").unwrap(), &Client::command_line()).await.unwrap().unwrap();
        assert_refused_token(&script.get("/api/v1/me").await);
        f.app.stop().await;
    }

    async fn unknown_tokens_are_throttled_by_address_but_live_ones_still_work(backend: Backend) {
        let f = spawn(backend, |s| s.login.max_failures_per_address = 3).await;
        let mut ada = user(&f, "ada").await;
        let (token, _) = make_token(&mut ada, "cli").await;
        let forged = format!("wbt_{}", "A".repeat(43));
        for guess in [forged.as_str(), "garbage", ""] {
            assert_refused_token(&bearer(&f, guess).get("/api/v1/me").await);
        }
        let throttled = bearer(&f, &forged).get("/api/v1/me").await;
        throttled.problem(StatusCode::TOO_MANY_REQUESTS);
        assert!(throttled.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
        assert_eq!(bearer(&f, &token).get("/api/v1/me").await.status, StatusCode::OK);
        f.app.stop().await;
    }

    async fn token_requests_are_answered_from_the_session_cache(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut ada = user(&f, "ada").await;
        let (token, _) = make_token(&mut ada, "cli").await;
        let cache = f.app.service().session_cache().clone();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cache.is_trusted() {
            assert!(Instant::now() < deadline, "the change feed never became fresh");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut script = bearer(&f, &token);
        assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);
        let before = cache.stats();
        for _ in 0..5 {
            assert_eq!(script.get("/api/v1/me").await.status, StatusCode::OK);
        }
        let after = cache.stats();
        assert!(after.hits >= before.hits + 4, "{before:?} → {after:?}");
        f.app.stop().await;
    }

    async fn a_new_token_is_notified_and_the_account_page_ends_tokens_only_when_asked(backend: Backend) {
        let smtp = common::SmtpServer::start().await;
        let f = spawn(backend, |s| common::mail_to(s, &smtp, "https://shop.example")).await;
        let mut ada = f.app.browser();
        assert_eq!(ada.register("ada", common::PASSWORD).await.status, StatusCode::SEE_OTHER);
        f.app.service().set_verified_email(&Username::parse("ada").unwrap(), "ada@example.org").await.unwrap();
        assert_eq!(ada.login("ada", common::PASSWORD).await.status, StatusCode::SEE_OTHER);
        let (token, _) = make_token(&mut ada, "deploy script").await;
        let notice = smtp.wait_for("ada@example.org", |m| m.subject == "A new API token for your account", Duration::from_secs(20)).await;
        assert!(notice.text.contains("\"deploy script\""), "{}", notice.text);
        assert!(!notice.raw.contains(&token), "the secret is never mailed");

        let kept = ada.submit("/account", "/account/sessions/revoke", &[("all", "1")]).await;
        assert_eq!(kept.status, StatusCode::SEE_OTHER, "{}", kept.body);
        assert_eq!(bearer(&f, &token).get("/api/v1/me").await.status, StatusCode::OK, "tokens survive without the box");
        let ended = ada.submit("/account", "/account/sessions/revoke", &[("all", "1"), ("tokens", "1")]).await;
        assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
        assert_refused_token(&bearer(&f, &token).get("/api/v1/me").await);
        assert_eq!(ada.get("/api/v1/me").await.status, StatusCode::OK, "the caller's session stays");
        f.app.stop().await;
    }

    async fn the_tokens_page_makes_shows_once_and_revokes(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut ada = user(&f, "ada").await;
        let page = ada.get("/account").await;
        assert!(page.body.contains("Personal API tokens"), "linked from the account page");
        let page = ada.get("/account/tokens").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("You have no tokens."));
        let bad = ada.submit("/account/tokens", "/account/tokens", &[("name", "x"), ("expires_in_days", "3")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let made = ada.submit("/account/tokens", "/account/tokens", &[("name", "laptop"), ("expires_in_days", "7")]).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        let start = made.body.find("wbt_").expect("the new token is shown");
        let token: String = made.body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
        assert_eq!(token.len(), 47, "{token}");
        assert_eq!(bearer(&f, &token).get("/api/v1/me").await.status, StatusCode::OK);
        let again = ada.get("/account/tokens").await;
        assert!(again.body.contains("laptop"));
        assert!(!again.body.contains(&token), "shown once");
        let id = again.input_values("id").pop().expect("a revoke button");
        let revoked = ada.submit("/account/tokens", "/account/tokens/revoke", &[("id", &id)]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
        assert_refused_token(&bearer(&f, &token).get("/api/v1/me").await);
        f.app.stop().await;
    }
}
