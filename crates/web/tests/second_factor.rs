//! Second factors (contract §10) as users live them: TOTP enrolment and login with codes
//! computed by an independent implementation (totp-lite), recovery codes, the pending login,
//! throttling, replay, on every leg of the matrix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Browser, Fixture, PASSWORD, spawn};
use reqwest::StatusCode;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code an authenticator app shows for `secret` (base32) at `unix` seconds.
fn code(secret: &str, unix: u64) -> String {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &bytes, unix)
}

fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in {body}"))
        + start.len();
    let to = body[from..].find(end).unwrap() + from;
    &body[from..to]
}

/// Registers and logs in `name`, enrols an authenticator app; returns the browser, the secret
/// and the recovery codes.
async fn enrolled(f: &Fixture, name: &str) -> (Browser, String, Vec<String>) {
    let mut b = f.app.browser();
    assert_eq!(
        b.register(name, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.login(name, PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = b.get("/account/2fa").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg"), "an inline QR code");
    let secret = between(&page.body, "<code id=\"totp-secret\">", "</code>").to_owned();
    assert_eq!(secret.len(), 32);
    let enrolment = page.input_values("enrolment").remove(0);
    let token = page.csrf_token();
    let wrong = b
        .post_form(
            "/account/2fa/enable",
            &[
                ("enrolment", &enrolment),
                ("code", "000000"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = b
        .post_form(
            "/account/2fa/enable",
            &[
                ("enrolment", &enrolment),
                ("code", &code(&secret, now())),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let codes: Vec<String> = page
        .body
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split("</code>").next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{}", page.body);
    (b, secret, codes)
}

async fn password_step(f: &Fixture, name: &str) -> Browser {
    let mut b = f.app.browser();
    let page = b.login(name, PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/login/2fa"));
    b
}

async fn second_step(b: &mut Browser, code: &str) -> common::Page {
    b.submit("/login/2fa", "/login/2fa", &[("code", code)])
        .await
}

on_every_backend! {
    async fn totp_enrolment_and_login_as_a_user_lives_it(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let (_, secret, _) = enrolled(&f, "ada").await;
        // The secret is sealed at rest: the stored bytes are not the secret.
        let user = f.app.service().find_user(&auth_core::Username::parse("ada").unwrap()).await.unwrap().unwrap();
        let stored = f.app.service().store().totp_secret(user.id).await.unwrap().unwrap();
        let raw = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).unwrap();
        assert!(!stored.windows(raw.len()).any(|w| w == raw.as_slice()), "stored in the clear");

        // The password alone is a pending login, not a session.
        let mut b = password_step(&f, "ada").await;
        let page = b.get("/dashboard").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(page.location().unwrap().starts_with("/login?next="));
        assert_eq!(b.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
        let page = b.get("/login/2fa").await;
        assert!(page.body.contains("Enter your code"));

        // The enrolment's code (this step) cannot log in again; the next step's can.
        let used = second_step(&mut b, &code(&secret, now())).await;
        assert_eq!(used.status, StatusCode::UNAUTHORIZED, "the confirming code was used");
        let next = code(&secret, now() + 30);
        let page = second_step(&mut b, &next).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(page.location(), Some("/dashboard"));
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);

        // The same code again, from another browser: a replay.
        let mut other = password_step(&f, "ada").await;
        let replay = second_step(&mut other, &next).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        assert!(replay.body.contains("not right, or was used already"));
        f.app.stop().await;
    }

    async fn a_recovery_code_works_once(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let (mut account, _, codes) = enrolled(&f, "ada").await;
        let mut b = password_step(&f, "ada").await;
        let typed = codes[3].to_uppercase().replace('-', " ");
        let page = second_step(&mut b, &typed).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
        let mut again = password_step(&f, "ada").await;
        assert_eq!(second_step(&mut again, &codes[3]).await.status, StatusCode::UNAUTHORIZED, "single use");
        let page = account.get("/account/2fa").await;
        assert_eq!(between(&page.body, "<strong id=\"recovery-codes-left\">", "</strong>"), "9");

        // New codes replace the old ones.
        let page = account.submit("/account/2fa", "/account/2fa/recovery-codes", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(second_step(&mut again, &codes[4]).await.status, StatusCode::UNAUTHORIZED, "replaced");
        f.app.stop().await;
    }

    async fn the_api_login_asks_for_the_second_factor_without_a_session(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let (_, secret, _) = enrolled(&f, "ada").await;
        let mut b = f.app.browser();
        let body = serde_json::json!({ "username": "ada", "password": PASSWORD });
        let page = b.post_json("/api/v1/login", &body).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.json(), serde_json::json!({ "second_factor_required": ["totp", "recovery_code"] }));
        assert!(page.set_cookie("wristband_session").is_none(), "no session cookie");
        b.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
        b.post_json("/api/v1/login/2fa", &serde_json::json!({ "code": "123456" })).await.problem(StatusCode::UNAUTHORIZED);
        let page = b.post_json("/api/v1/login/2fa", &serde_json::json!({ "code": code(&secret, now() + 30) })).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.json()["username"], "ada");
        assert_eq!(b.get("/api/v1/me").await.status, StatusCode::OK);
        // Without a pending login there is nothing to complete.
        let mut stranger = f.app.browser();
        stranger.post_json("/api/v1/login/2fa", &serde_json::json!({ "code": code(&secret, now()) })).await.problem(StatusCode::UNAUTHORIZED);
        f.app.stop().await;
    }

    async fn wrong_codes_are_throttled_like_passwords(backend: Backend) {
        let f = spawn(backend, |s| s.login.max_failures = 3).await;
        let (_, secret, _) = enrolled(&f, "ada").await;
        let mut b = password_step(&f, "ada").await;
        for _ in 0..3 {
            assert_eq!(second_step(&mut b, "000000").await.status, StatusCode::UNAUTHORIZED);
        }
        let page = second_step(&mut b, &code(&secret, now() + 30)).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "even the right code waits");
        assert!(page.header("retry-after").is_some());
        f.app.stop().await;
    }

    async fn turning_the_app_off_needs_a_recent_login_and_ends_the_second_step(backend: Backend) {
        let f = spawn(backend, |s| s.session.fresh_for = web::config::ConfigDuration(std::time::Duration::from_millis(400))).await;
        let (mut b, _, _) = enrolled(&f, "ada").await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let page = b.get("/account/2fa").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some("/reauthenticate?next=%2Faccount%2F2fa"));
        let page = b.submit("/account", "/reauthenticate", &[("password", PASSWORD), ("next", "/account/2fa")]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let page = b.submit("/account/2fa", "/account/2fa/disable", &[]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let mut fresh = f.app.browser();
        let page = fresh.login("ada", PASSWORD).await;
        assert_eq!(page.location(), Some("/dashboard"), "the password alone again");
        f.app.stop().await;
    }

    async fn a_stale_pending_login_or_a_changed_password_starts_over(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let (_, secret, _) = enrolled(&f, "ada").await;
        let service = f.app.service();
        let user = service.find_user(&auth_core::Username::parse("ada").unwrap()).await.unwrap().unwrap();
        let client = auth_core::Client::command_line();
        let stale = auth_core::service::PendingLogin {
            user_id: user.id,
            auth_stamp: user.auth_stamp.clone(),
            remember: false,
            started_at_ms: i64::try_from(now() - 301).unwrap() * 1000,
        };
        let outcome = service.complete_second_factor(&stale, &code(&secret, now() + 30), &client, None).await.unwrap();
        assert!(matches!(outcome, auth_core::service::SecondFactorOutcome::Expired), "{outcome:?}");
        // A pending login from before a password change is void.
        let mut b = password_step(&f, "ada").await;
        let username = auth_core::Username::parse("ada").unwrap();
        let reset = service.set_password(&username, &auth_core::SecretString::new("another passphrase here"), &client).await.unwrap();
        assert!(matches!(reset, auth_core::service::AdminPasswordReset::Done { .. }));
        let page = second_step(&mut b, &code(&secret, now() + 30)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some("/login"));
        f.app.stop().await;
    }

    async fn factor_changes_are_notified(backend: Backend) {
        let smtp = common::SmtpServer::start().await;
        let f = spawn(backend, |s| common::mail_to(s, &smtp, "https://shop.example")).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let username = auth_core::Username::parse("ada").unwrap();
        f.app.service().set_verified_email(&username, "ada@example.org").await.unwrap();
        assert_eq!(b.login("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let page = b.get("/account/2fa").await;
        let secret = between(&page.body, "<code id=\"totp-secret\">", "</code>").to_owned();
        let enrolment = page.input_values("enrolment").remove(0);
        let token = page.csrf_token();
        let page = b
            .post_form("/account/2fa/enable", &[("enrolment", &enrolment), ("code", &code(&secret, now())), ("csrf_token", &token)])
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let wait = std::time::Duration::from_secs(20);
        let added = smtp.wait_for("ada@example.org", |m| m.subject == "Your second factor changed", wait).await;
        assert!(added.text.contains("an authenticator app was added"), "{}", added.text);
        assert_eq!(b.submit("/account/2fa", "/account/2fa/disable", &[]).await.status, StatusCode::SEE_OTHER);
        let removed = smtp.wait_for("ada@example.org", |m| m.subject == "Your second factor changed", wait).await;
        assert!(removed.text.contains("removed"), "{}", removed.text);
        f.app.stop().await;
    }

    async fn mfa_required_sends_a_user_without_a_factor_to_enrol(backend: Backend) {
        let f = spawn(backend, |s| s.mfa.required = true).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let page = b.login("ada", PASSWORD).await;
        assert_eq!(page.location(), Some("/account/2fa"));
        f.app.stop().await;
    }
}
