//! Email (contract §9) as users live it: real mail over SMTP to a real SMTP server (aiosmtpd,
//! started per test), links read out of the received messages, on every leg of the matrix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Browser, Fixture, PASSWORD, ReceivedMail, SmtpServer, mail_to, spawn};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use web::config::Settings;

const NEW_PASSWORD: &str = "a brand new passphrase for me";
const SITE: &str = "https://shop.example";
const MAIL_WAIT: Duration = Duration::from_secs(20);

async fn spawn_with_mail(
    backend: common::Backend,
    tweak: impl FnOnce(&mut Settings),
) -> (Fixture, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let f = spawn(backend, |s| {
        mail_to(s, &smtp, SITE);
        tweak(s);
    })
    .await;
    (f, smtp)
}

/// The path and query of a link from a message, which must point at the configured site.
fn path_of(link: &str) -> String {
    let rest = link
        .strip_prefix(SITE)
        .unwrap_or_else(|| panic!("{link} is not on {SITE}"));
    rest.to_owned()
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).expect("a token").to_owned()
}

async fn mail(smtp: &SmtpServer, to: &str, subject: &str) -> ReceivedMail {
    smtp.wait_for(to, |m| m.subject == subject, MAIL_WAIT).await
}

/// Registers `name` with `email` through the form, then confirms the address through the link.
async fn register_verified(f: &Fixture, smtp: &SmtpServer, name: &str, email: &str) {
    let mut b = f.app.browser();
    let page = b
        .submit(
            "/register",
            "/register",
            &[("username", name), ("password", PASSWORD), ("email", email)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let message = mail(smtp, email, "Confirm your email address").await;
    let link = message.link_with("/verify-email");
    let path = path_of(&link);
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = token_of(&link);
    let page = b.submit(&path, "/verify-email", &[("token", &token)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

async fn user(f: &Fixture, name: &str) -> auth_core::User {
    let username = auth_core::Username::parse(name).unwrap();
    f.app.service().find_user(&username).await.unwrap().unwrap()
}

on_every_backend! {
    async fn a_password_reset_as_a_user_lives_it(backend: Backend) {
        let (f, smtp) = spawn_with_mail(backend, |_| {}).await;
        let mut victim = f.app.browser();
        let page = victim
            .submit("/register", "/register", &[("username", "ada"), ("password", PASSWORD), ("email", "Ada@Example.org")])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

        // The verification link: opening it changes nothing, its form's POST verifies.
        let message = mail(&smtp, "ada@example.org", "Confirm your email address").await;
        assert_eq!(message.from, "Shop <no-reply@shop.example>");
        assert!(message.html.as_deref().unwrap().contains("Confirm my email address"), "an HTML part");
        let link = message.link_with("/verify-email");
        assert!(link.starts_with("https://shop.example/verify-email?token="), "{link}");
        for _ in 0..2 {
            let page = victim.get(&path_of(&link)).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            assert!(page.body.contains("Confirm my email address"));
        }
        assert!(!user(&f, "ada").await.email_verified, "a GET verifies nothing");
        let page = victim.submit(&path_of(&link), "/verify-email", &[("token", &token_of(&link))]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(user(&f, "ada").await.email_verified);
        // The used link's page has no form: post one as a replay would.
        let again = victim.submit("/login", "/verify-email", &[("token", &token_of(&link))]).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "single use");
        assert!(again.body.contains("This link no longer works"));

        // The victim is logged in somewhere.
        assert_eq!(victim.login("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        assert_eq!(victim.get("/dashboard").await.status, StatusCode::OK);

        // Someone asks for a reset, with a forged Host: the link still names the site.
        let mut other = f.app.browser();
        let token = other.get("/forgot-password").await.csrf_token();
        let page = other
            .request_with_header(reqwest::Method::GET, "/forgot-password", ("Host", "evil.example"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let page = other.post_form("/forgot-password", &[("login", "ADA@example.org"), ("csrf_token", &token)]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("If an account matches"));
        let message = mail(&smtp, "ada@example.org", "Reset your password").await;
        let link = message.link_with("/reset-password");
        assert!(link.starts_with("https://shop.example/reset-password?token="), "{link}");
        assert!(!message.text.contains(PASSWORD), "no password in mail");
        assert!(token_of(&link).len() >= 22, "at least 128 bits");

        // Opening the link changes nothing: twice, and the old password still works.
        for _ in 0..2 {
            let page = other.get(&path_of(&link)).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            assert!(page.body.contains("Choose a new password"));
        }
        assert_eq!(victim.get("/dashboard").await.status, StatusCode::OK);

        // A password the policy refuses keeps the link usable.
        let weak = other
            .submit(&path_of(&link), "/reset-password", &[("token", &token_of(&link)), ("password", "short")])
            .await;
        assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
        let page = other
            .submit(&path_of(&link), "/reset-password", &[("token", &token_of(&link)), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(page.location(), Some("/login"));

        // Every session ended; the new password works, the old one does not.
        let page = victim.get("/dashboard").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(page.location().unwrap().starts_with("/login?next="));
        let mut fresh = f.app.browser();
        assert_eq!(fresh.login("ada", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(fresh.login("ada", NEW_PASSWORD).await.status, StatusCode::SEE_OTHER);

        // The notice, and the link is used up.
        let notice = mail(&smtp, "ada@example.org", "Your password was reset").await;
        assert!(notice.text.contains("every session was ended"), "{}", notice.text);
        let used = other.get(&path_of(&link)).await;
        assert_eq!(used.status, StatusCode::BAD_REQUEST);
        assert!(used.body.contains("This link no longer works"));
        let unknown = other.get("/reset-password?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
        assert_eq!((unknown.status, unknown.body.contains("This link no longer works")), (StatusCode::BAD_REQUEST, true));
        f.app.stop().await;
    }

    async fn reset_requests_answer_alike_whether_or_not_an_account_matches(backend: Backend) {
        let (f, smtp) = spawn_with_mail(backend, |s| {
            s.account.reset_max_per_account = 0;
            s.account.reset_max_per_address = 0;
        })
        .await;
        register_verified(&f, &smtp, "ada", "ada@example.org").await;
        let mut b = f.app.browser();
        // Registered without an address: nothing can be sent, and the answer says nothing.
        assert_eq!(b.register("bob", PASSWORD).await.status, StatusCode::SEE_OTHER);

        let mut answers = Vec::new();
        for login in ["ada", "ada@example.org", "bob", "nobody", "nobody@example.org"] {
            let token = b.get("/forgot-password").await.csrf_token();
            let page = b.post_form("/forgot-password", &[("login", login), ("csrf_token", &token)]).await;
            answers.push((page.status, page.body_without_token()));
            let api = b.post_json("/api/v1/password-reset", &serde_json::json!({ "login": login })).await;
            assert_eq!((api.status, api.body.as_str()), (StatusCode::ACCEPTED, ""), "{login}");
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "the same page for every login");
        assert_eq!(answers[0].0, StatusCode::OK);
        // Ada's two requests by page and two by API: four links; nothing for anyone else.
        for _ in 0..4 {
            mail(&smtp, "ada@example.org", "Reset your password").await;
        }
        smtp.assert_nothing_for("ada@example.org", Duration::from_millis(500)).await;
        assert_eq!(smtp.received().len(), 1 + 4, "the verification and the four links only");

        // Timing: the account-dependent work happens after the answer.
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for round in 0..12 {
            for (login, times) in [("ada", &mut known), (format!("ghost{round}").as_str(), &mut unknown)] {
                let started = Instant::now();
                let page = b.post_json("/api/v1/password-reset", &serde_json::json!({ "login": login })).await;
                times.push(started.elapsed());
                assert_eq!(page.status, StatusCode::ACCEPTED);
            }
        }
        known.sort();
        unknown.sort();
        let (k, u) = (known[known.len() / 2], unknown[unknown.len() / 2]);
        eprintln!("reset request medians: existing account {k:?}, unknown account {u:?}");
        assert!(k.abs_diff(u) < Duration::from_millis(100), "existing {k:?} vs unknown {u:?}");
        f.app.stop().await;
    }

    async fn reset_requests_are_throttled_per_account_and_per_address(backend: Backend) {
        let (f, _smtp) = spawn_with_mail(backend, |s| {
            s.account.reset_max_per_account = 2;
            s.account.reset_max_per_address = 4;
        })
        .await;
        let mut b = f.app.browser();
        for _ in 0..2 {
            let page = b.post_json("/api/v1/password-reset", &serde_json::json!({ "login": "Ada" })).await;
            assert_eq!(page.status, StatusCode::ACCEPTED);
        }
        let refused = b.post_json("/api/v1/password-reset", &serde_json::json!({ "login": "ada" })).await;
        refused.problem(StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.header("retry-after").is_some());
        let token = b.get("/forgot-password").await.csrf_token();
        let page = b.post_form("/forgot-password", &[("login", "ADA"), ("csrf_token", &token)]).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
        // Other accounts from this address, up to its own limit.
        for name in ["bob", "carol"] {
            let page = b.post_json("/api/v1/password-reset", &serde_json::json!({ "login": name })).await;
            assert_eq!(page.status, StatusCode::ACCEPTED, "{name}");
        }
        let page = b.post_json("/api/v1/password-reset", &serde_json::json!({ "login": "dave" })).await;
        page.problem(StatusCode::TOO_MANY_REQUESTS);
        f.app.stop().await;
    }

    async fn the_api_changes_verifies_and_resets_through_links(backend: Backend) {
        let (f, smtp) = spawn_with_mail(backend, |_| {}).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let page = b.post_json("/api/v1/login", &serde_json::json!({ "username": "ada", "password": PASSWORD })).await;
        assert_eq!(page.status, StatusCode::OK);
        let me = b.get("/api/v1/me").await.json();
        assert_eq!((me["email"].clone(), me["email_verified"].clone()), (serde_json::Value::Null, serde_json::json!(false)));

        let bad = b.request_json(reqwest::Method::PUT, "/api/v1/me/email", &serde_json::json!({ "email": "not an address" })).await;
        assert!(bad.problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"]["email"].is_string());
        let page = b.request_json(reqwest::Method::PUT, "/api/v1/me/email", &serde_json::json!({ "email": "ada@example.org" })).await;
        assert_eq!(page.status, StatusCode::ACCEPTED, "{}", page.body);
        let link = mail(&smtp, "ada@example.org", "Confirm your email address").await.link_with("/verify-email");
        let verify = serde_json::json!({ "token": token_of(&link) });
        assert_eq!(b.post_json("/api/v1/me/email/verify", &verify).await.status, StatusCode::NO_CONTENT);
        b.post_json("/api/v1/me/email/verify", &verify).await.problem(StatusCode::BAD_REQUEST);
        let me = b.get("/api/v1/me").await.json();
        assert_eq!((me["email"].as_str(), me["email_verified"].as_bool()), (Some("ada@example.org"), Some(true)));

        // Another user cannot take the address.
        let mut other = f.app.browser();
        let taken = other.post_json("/api/v1/register", &serde_json::json!({ "username": "eve", "password": PASSWORD, "email": "ADA@example.org" })).await;
        assert!(taken.problem(StatusCode::CONFLICT)["errors"]["email"].is_string());

        // A new address: a link to it, a notice to the old one.
        let page = b.request_json(reqwest::Method::PUT, "/api/v1/me/email", &serde_json::json!({ "email": "lovelace@example.org" })).await;
        assert_eq!(page.status, StatusCode::ACCEPTED);
        let notice = mail(&smtp, "ada@example.org", "Your email address was changed").await;
        assert!(notice.text.contains("example.org") && !notice.text.contains("lovelace"), "{}", notice.text);
        let link = mail(&smtp, "lovelace@example.org", "Confirm your email address").await.link_with("/verify-email");
        assert_eq!(b.post_json("/api/v1/me/email/verify", &serde_json::json!({ "token": token_of(&link) })).await.status, StatusCode::NO_CONTENT);

        // Reset through the API.
        assert_eq!(other.post_json("/api/v1/password-reset", &serde_json::json!({ "login": "lovelace@example.org" })).await.status, StatusCode::ACCEPTED);
        let link = mail(&smtp, "lovelace@example.org", "Reset your password").await.link_with("/reset-password");
        let weak = other.post_json("/api/v1/password-reset/confirm", &serde_json::json!({ "token": token_of(&link), "password": "password1234" })).await;
        assert!(weak.problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"]["password"].is_string());
        let body = serde_json::json!({ "token": token_of(&link), "password": NEW_PASSWORD });
        assert_eq!(other.post_json("/api/v1/password-reset/confirm", &body).await.status, StatusCode::NO_CONTENT);
        other.post_json("/api/v1/password-reset/confirm", &body).await.problem(StatusCode::BAD_REQUEST);
        b.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
        mail(&smtp, "lovelace@example.org", "Your password was reset").await;
        f.app.stop().await;
    }

    async fn notices_go_out_for_a_new_device_and_a_password_change(backend: Backend) {
        let (f, smtp) = spawn_with_mail(backend, |_| {}).await;
        register_verified(&f, &smtp, "ada", "ada@example.org").await;
        let mut b = f.app.browser();
        assert_eq!(b.login("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let notice = mail(&smtp, "ada@example.org", "New sign-in to your account").await;
        assert!(notice.text.contains("127.0.0.1"), "{}", notice.text);
        // The same browser again (it has the device cookie now): no notice.
        assert_eq!(b.logout().await.status, StatusCode::SEE_OTHER);
        assert_eq!(b.login("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let page = b
            .submit("/account", "/account/password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD)])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        mail(&smtp, "ada@example.org", "Your password was changed").await;
        smtp.assert_nothing_for("ada@example.org", Duration::from_millis(500)).await;
        let subjects: Vec<String> = smtp.received().into_iter().map(|m| m.subject).collect();
        assert_eq!(
            subjects,
            ["Confirm your email address", "New sign-in to your account", "Your password was changed"],
            "one new-device notice only"
        );
        f.app.stop().await;
    }

    async fn the_account_page_changes_the_address_behind_a_recent_login(backend: Backend) {
        let (f, smtp) = spawn_with_mail(backend, |s| {
            s.session.fresh_for = web::config::ConfigDuration(Duration::from_millis(300));
        })
        .await;
        let mut b = Browser::new(&f.app.base);
        assert_eq!(b.register("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        assert_eq!(b.login("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let page = b.get("/account").await;
        assert!(page.body.contains("You have not given an email address"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        let stale = b.submit("/account", "/account/email", &[("email", "ada@example.org")]).await;
        assert_eq!(stale.status, StatusCode::FORBIDDEN, "a recent login is needed");
        assert_eq!(user(&f, "ada").await.email, None);
        let page = b.submit("/account", "/account/email", &[("email", "ada@example.org"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        mail(&smtp, "ada@example.org", "Confirm your email address").await;
        let page = b.get("/account").await;
        assert!(page.body.contains("ada@example.org") && page.body.contains("not confirmed yet"), "{}", page.body);
        f.app.stop().await;
    }
}

#[tokio::test]
async fn with_email_off_there_are_no_email_routes_or_fields() {
    let f = spawn(common::Backend::SQLITE, |s| {
        s.account.email = auth_core::EmailPolicy::Off
    })
    .await;
    let mut b = f.app.browser();
    assert_eq!(
        b.get("/forgot-password").await.status,
        StatusCode::NOT_FOUND
    );
    let page = b.get("/register").await;
    assert!(!page.body.contains("name=\"email\""));
    assert!(!b.get("/login").await.body.contains("Forgot your password"));
    let api = b
        .post_json(
            "/api/v1/password-reset",
            &serde_json::json!({ "login": "ada" }),
        )
        .await;
    api.problem(StatusCode::NOT_FOUND);
    f.app.stop().await;
}

#[tokio::test]
async fn a_required_address_is_asked_for_at_registration() {
    let f = spawn(common::Backend::SQLITE, |s| {
        s.account.email = auth_core::EmailPolicy::Required
    })
    .await;
    let mut b = f.app.browser();
    let page = b.register("ada", PASSWORD).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Enter an email address."));
    let api = b
        .post_json(
            "/api/v1/register",
            &serde_json::json!({ "username": "ada", "password": PASSWORD }),
        )
        .await;
    assert!(api.problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"]["email"].is_string());
    f.app.stop().await;
}
