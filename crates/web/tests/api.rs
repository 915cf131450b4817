//! The JSON API (`/api/v1`) over real HTTP, on every leg of the matrix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Browser, PASSWORD, spawn};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use web::config::ConfigDuration;

async fn api_login(b: &mut Browser, username: &str, password: &str) -> common::Page {
    b.post_json(
        "/api/v1/login",
        &json!({"username": username, "password": password}),
    )
    .await
}

fn assert_no_cors_headers(page: &common::Page) {
    let cors: Vec<_> = page
        .headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-allow-"))
        .collect();
    assert!(cors.is_empty(), "{cors:?}");
}

on_every_backend! {
    async fn register_login_me_logout(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let created = b.post_json("/api/v1/register", &json!({"username": "Ada", "password": PASSWORD})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.json()["username"], "Ada");
        assert!(created.json()["id"].is_i64());
        b.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);

        let login = api_login(&mut b, "ada", PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK);
        assert_eq!(login.json(), json!({"id": created.json()["id"], "username": "Ada"}));
        assert!(login.set_cookie("wristband_session").is_some());
        let me = b.get("/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json()["username"], "Ada");
        assert_eq!(me.header("cache-control"), Some("no-store"));

        let saved = b.cookies.clone();
        let logout = b.request(reqwest::Method::POST, "/api/v1/logout").await;
        assert_eq!(logout.status, StatusCode::NO_CONTENT);
        b.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
        if backend.database_sessions() {
            let mut replay = f.app.browser();
            replay.cookies = saved;
            replay.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
        }
    }

    async fn validation_errors_name_their_fields(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let weak = b.post_json("/api/v1/register", &json!({"username": "bo b", "password": "short"})).await;
        let problem = weak.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(problem["errors"]["username"].as_str().unwrap().contains("letters"));
        assert!(problem["errors"]["password"].as_str().unwrap().contains("at least 12"));
        let missing = b.post_json("/api/v1/register", &json!({"username": "bob"})).await;
        let problem = missing.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"]["password"], "This field is required.");
        let wrong_type = b.post_json("/api/v1/register", &json!({"username": 5, "password": PASSWORD})).await;
        wrong_type.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b.post_json("/api/v1/register", &json!({"username": "Bob", "password": PASSWORD})).await.status, StatusCode::CREATED);
        let taken = b.post_json("/api/v1/register", &json!({"username": "BOB", "password": PASSWORD})).await;
        let problem = taken.problem(StatusCode::CONFLICT);
        assert!(problem["errors"]["username"].is_string());
    }

    async fn wrong_credentials_are_401_and_throttled_to_429(backend: Backend) {
        let f = spawn(backend, |s| s.login.max_failures = 2).await;
        let mut b = f.app.browser();
        b.post_json("/api/v1/register", &json!({"username": "cy", "password": PASSWORD})).await;
        for password in ["wrong password one", "wrong password two"] {
            let page = api_login(&mut b, "cy", password).await;
            let problem = page.problem(StatusCode::UNAUTHORIZED);
            assert_eq!(problem["detail"], "Invalid username or password.");
        }
        api_login(&mut b, "nobody", "wrong password one").await.problem(StatusCode::UNAUTHORIZED);
        let throttled = api_login(&mut b, "cy", PASSWORD).await;
        throttled.problem(StatusCode::TOO_MANY_REQUESTS);
        assert!(throttled.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    }

    async fn bodies_must_be_json_and_well_formed(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let cases: [(&str, &str, Vec<u8>, StatusCode); 6] = [
            ("/api/v1/login", "text/plain", b"{}".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ("/api/v1/login", "application/x-www-form-urlencoded", b"username=a".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ("/api/v1/logout", "text/plain", b"bye".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ("/api/v1/login", "application/json", br#"{"username": "#.to_vec(), StatusCode::BAD_REQUEST),
            ("/api/v1/login", "application/json", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'], StatusCode::BAD_REQUEST),
            ("/api/v1/register", "application/json", b"[1, 2, 3]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        ];
        for (path, content_type, body, status) in cases {
            let page = b.post_raw(path, content_type, body.clone()).await;
            page.problem(status);
        }
        b.get("/api/v1/nothing-here").await.problem(StatusCode::NOT_FOUND);
        let huge = serde_json::json!({"username": "x", "password": "y".repeat(100_000)});
        b.post_json("/api/v1/login", &huge).await.problem(StatusCode::PAYLOAD_TOO_LARGE);
    }

    async fn cross_site_origins_are_refused_unless_listed(backend: Backend) {
        let f = spawn(backend, |s| s.server.cors_origins = vec!["https://app.example".into()]).await;
        let mut b = f.app.browser();
        b.post_json("/api/v1/register", &json!({"username": "dee", "password": PASSWORD})).await;
        let mut evil = f.app.browser();
        evil.extra_headers.push(("origin".into(), "https://evil.example".into()));
        let refused = api_login(&mut evil, "dee", PASSWORD).await;
        refused.problem(StatusCode::FORBIDDEN);
        assert_no_cors_headers(&refused);
        assert!(refused.set_cookie("wristband_session").is_none());
        // Safe requests and preflights from an unlisted origin: no Access-Control-Allow-* at
        // all, credentials included.
        assert_no_cors_headers(&evil.get("/api/v1/me").await);
        assert_no_cors_headers(&evil.request(reqwest::Method::OPTIONS, "/api/v1/login").await);

        let mut spa = f.app.browser();
        spa.extra_headers.push(("origin".into(), "https://app.example".into()));
        spa.extra_headers.push(("sec-fetch-site".into(), "cross-site".into()));
        let allowed = api_login(&mut spa, "dee", PASSWORD).await;
        assert_eq!(allowed.status, StatusCode::OK);
        assert_eq!(allowed.header("access-control-allow-origin"), Some("https://app.example"));
        assert_eq!(allowed.header("access-control-allow-credentials"), Some("true"));
        let preflight = spa.request(reqwest::Method::OPTIONS, "/api/v1/login").await;
        assert_eq!(preflight.header("access-control-allow-origin"), Some("https://app.example"));
        // Same-site calls get no CORS headers at all.
        let own = api_login(&mut f.app.browser(), "dee", PASSWORD).await;
        assert_no_cors_headers(&own);
    }

    async fn sessions_listing_and_revocation(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut a = f.app.browser();
        a.post_json("/api/v1/register", &json!({"username": "eli", "password": PASSWORD})).await;
        assert_eq!(api_login(&mut a, "eli", PASSWORD).await.status, StatusCode::OK);
        let mut b = f.app.browser();
        assert_eq!(api_login(&mut b, "eli", PASSWORD).await.status, StatusCode::OK);
        let list = a.get("/api/v1/sessions").await.json();
        let sessions = list["sessions"].as_array().unwrap();
        let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        // Every session has an opaque id, the cookie store's current one included.
        for s in sessions {
            let id = s["id"].as_str().unwrap_or_else(|| panic!("no id: {s}"));
            assert!(id.len() >= 11 && id.parse::<i64>().is_err(), "{id}");
        }
        for s in sessions {
            let created = s["created_at"].as_str().unwrap();
            assert!(time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).is_ok());
        }
        if backend.database_sessions() {
            assert_eq!(sessions.len(), 2);
            let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
            assert_eq!(a.delete(&format!("/api/v1/sessions/{other}")).await.status, StatusCode::NO_CONTENT);
            b.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
            a.delete(&format!("/api/v1/sessions/{other}")).await.problem(StatusCode::NOT_FOUND);
            a.delete("/api/v1/sessions/not-a-number").await.problem(StatusCode::NOT_FOUND);
            let mut c = f.app.browser();
            assert_eq!(api_login(&mut c, "eli", PASSWORD).await.status, StatusCode::OK);
            assert_eq!(a.delete("/api/v1/sessions").await.status, StatusCode::NO_CONTENT);
            c.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
        } else {
            assert_eq!(sessions.len(), 1);
            assert_eq!(a.delete("/api/v1/sessions").await.status, StatusCode::NO_CONTENT);
            b.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
        }
        assert_eq!(a.get("/api/v1/me").await.status, StatusCode::OK, "the caller's session survives");
    }

    async fn revoking_needs_a_recent_login(backend: Backend) {
        let f = spawn(backend, |s| s.session.fresh_for = ConfigDuration(Duration::from_secs(1))).await;
        let mut a = f.app.browser();
        a.post_json("/api/v1/register", &json!({"username": "fay", "password": PASSWORD})).await;
        api_login(&mut a, "fay", PASSWORD).await;
        let mut b = f.app.browser();
        api_login(&mut b, "fay", PASSWORD).await;
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let stale = a.delete("/api/v1/sessions").await;
        let problem = stale.problem(StatusCode::FORBIDDEN);
        assert!(problem["type"].as_str().unwrap().ends_with("reauthentication-required"));
        assert_eq!(b.get("/api/v1/me").await.status, StatusCode::OK, "nothing ended");
        a.post_json("/api/v1/reauthenticate", &json!({"password": "not my password"})).await.problem(StatusCode::UNAUTHORIZED);
        let fresh = a.post_json("/api/v1/reauthenticate", &json!({"password": PASSWORD})).await;
        assert_eq!(fresh.status, StatusCode::NO_CONTENT);
        assert_eq!(a.delete("/api/v1/sessions").await.status, StatusCode::NO_CONTENT);
        b.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
    }

    async fn ids_that_are_not_ours_are_unknown_never_a_database_error(backend: Backend) {
        // Found by `cargo xtask schemathesis`: PostgreSQL refuses a text with NUL in it, so a
        // ceremony or passkey id carrying one used to reach a query and answer 500.
        let f = spawn(backend, |_| {}).await;
        let mut a = f.app.browser();
        a.post_json("/api/v1/register", &json!({"username": "gus", "password": PASSWORD})).await;
        assert_eq!(api_login(&mut a, "gus", PASSWORD).await.status, StatusCode::OK);
        for id in ["a%00b", "%00", "x".repeat(500).as_str()] {
            let path = format!("/api/v1/passkeys/{id}");
            a.request_json(reqwest::Method::PATCH, &path, &json!({"name": "n"})).await.problem(StatusCode::NOT_FOUND);
            a.delete(&path).await.problem(StatusCode::NOT_FOUND);
            a.delete(&format!("/api/v1/sessions/{id}")).await.problem(StatusCode::NOT_FOUND);
        }
        for ceremony in ["a\u{0}b", "\u{0}"] {
            let body = json!({"ceremony": ceremony, "credential": {}});
            for finish in ["register/finish", "login/finish"] {
                let page = a.post_json(&format!("/api/v1/passkeys/{finish}"), &body).await;
                assert_eq!(page.problem(StatusCode::BAD_REQUEST)["type"], "/problems/passkey-refused");
            }
        }
    }
}
