//! The HTML flow over real HTTP, against the real router and a real database, on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Browser, PASSWORD, SECRET, spawn};
use reqwest::StatusCode;
use std::time::Duration;

fn assert_anonymous_redirect(page: &common::Page) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/login?next=/dashboard"));
}

on_every_backend! {
    async fn happy_path_register_login_dashboard_logout(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let home = b.get("/").await;
        assert_eq!(home.status, StatusCode::OK);

        let registered = b.register("Alice", PASSWORD).await;
        assert_eq!(registered.status, StatusCode::SEE_OTHER);
        assert_eq!(registered.location(), Some("/login"));
        let login_page = b.get("/login").await;
        assert!(login_page.body.contains("Registration successful"), "flash shown once");
        assert!(!b.get("/login").await.body.contains("Registration successful"), "flash gone");

        let logged_in = b.login("alice", PASSWORD).await;
        assert_eq!(logged_in.status, StatusCode::SEE_OTHER);
        assert_eq!(logged_in.location(), Some("/dashboard"));
        assert!(logged_in.set_cookie("wristband_session").is_some());

        let dashboard = b.get("/dashboard").await;
        assert_eq!(dashboard.status, StatusCode::OK);
        assert!(dashboard.body.contains("Welcome to your private dashboard, Alice!"), "shown as registered");

        let logout_page = b.get("/logout").await;
        assert_eq!(logout_page.status, StatusCode::OK);
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK, "GET /logout changes nothing");

        let logged_out = b.logout().await;
        assert_eq!(logged_out.status, StatusCode::SEE_OTHER);
        assert_eq!(logged_out.location(), Some("/"));
        let removal = logged_out.set_cookie("wristband_session").expect("cookie cleared");
        assert_eq!(removal.max_age(), Some(cookie::time::Duration::ZERO));
        assert_anonymous_redirect(&b.get("/dashboard").await);
    }

    async fn navbar_shows_links_for_each_state(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let anonymous = b.get("/").await.body;
        assert!(anonymous.contains(">Login</a>") && anonymous.contains(">Register</a>"));
        assert!(!anonymous.contains(">Dashboard</a>") && !anonymous.contains(">Logout</a>"));
        b.sign_up("navi").await;
        let logged_in = b.get("/").await.body;
        assert!(logged_in.contains(">Dashboard</a>") && logged_in.contains(">Logout</a>"));
        assert!(!logged_in.contains(">Login</a>") && !logged_in.contains(">Register</a>"));
    }

    async fn duplicate_username_in_another_case_is_409(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("Bob", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let again = b.register("bOB", "another fine passphrase").await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(again.body.contains("That username is taken."));
    }

    async fn confusable_and_case_folded_names_are_taken(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
        assert_eq!(b.register("Straße", PASSWORD).await.status, StatusCode::SEE_OTHER);
        for taken in ["аdmin", "ADMIN", "strasse", "STRASSE", "ａｄｍｉｎ"] {
            let page = b.register(taken, "another fine passphrase").await;
            assert_eq!(page.status, StatusCode::CONFLICT, "{taken}");
            assert!(page.body.contains("That username is taken."), "{taken}");
        }
        for invalid in [".", "-", "_.-"] {
            assert_eq!(b.register(invalid, PASSWORD).await.status, StatusCode::UNPROCESSABLE_ENTITY, "{invalid:?}");
        }
        // The user registered as "Straße" logs in as "strasse", shown as registered.
        assert_eq!(b.login("strasse", PASSWORD).await.status, StatusCode::SEE_OTHER);
        assert!(b.get("/dashboard").await.body.contains("Welcome to your private dashboard, Straße!"));
        assert_eq!(f.app.service().list_users().await.unwrap().len(), 2);
    }

    async fn each_rule_is_a_422_on_its_field(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let long = "x".repeat(129);
        let cases: [(&str, &str, &str, &str); 6] = [
            ("carol", "short pass", "password", "Use at least 12 characters."),
            ("carol", &long, "password", "Use at most 128 characters."),
            ("carol", "password1234", "password", "too common"),
            ("carolcarol12", "CarolCarol12", "password", "must not be your username"),
            ("carol smith", PASSWORD, "username", "Use only letters"),
            ("", PASSWORD, "username", "Enter a username."),
        ];
        for (username, password, field, message) in cases {
            let page = b.register(username, password).await;
            assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{username}/{password}");
            let error_at = page.body.find(&format!("id=\"{field}-error\"")).unwrap_or_else(|| panic!("no error on {field}: {}", page.body));
            assert!(page.body[error_at..].contains(message), "{field}: {message}");
        }
        let mismatch = b
            .submit("/register", "/register", &[("username", "carol"), ("password", PASSWORD), ("password_confirm", "something else entirely")])
            .await;
        assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(mismatch.body.contains("id=\"password_confirm-error\""));
        // Nothing was created by any of them.
        let carol = auth_core::Username::parse("carol").unwrap();
        assert!(f.app.service().store().find_credentials(&carol).await.unwrap().is_none());
        // Long passphrases and any Unicode are fine.
        assert_eq!(b.register("carol", &"ü".repeat(128)).await.status, StatusCode::SEE_OTHER);
    }

    async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("dave", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let stats = f.app.service().hasher_stats();
        let (verifications, dummies) = (stats.verifications(), stats.dummy_verifications());
        let wrong = b.login("dave", "not the right password").await;
        assert_eq!(stats.verifications(), verifications + 1);
        let unknown = b.login("nobody", "not the right password").await;
        assert_eq!(stats.dummy_verifications(), dummies + 1, "unknown user hashed against the dummy");
        assert_eq!(stats.verifications(), verifications + 1);
        for page in [&wrong, &unknown] {
            assert_eq!(page.status, StatusCode::UNAUTHORIZED);
            assert!(page.body.contains("Invalid username or password."));
            assert!(page.set_cookie("wristband_session").is_none());
        }
        assert_eq!(
            wrong.body_without_token().replace("dave", "NAME"),
            unknown.body_without_token().replace("nobody", "NAME")
        );
    }

    async fn a_wrong_password_costs_the_same_for_unknown_native_and_imported_users(backend: Backend) {
        let f = spawn(backend, |s| {
            s.login.max_failures = 1000;
            s.login.max_failures_per_account = 1000;
            s.login.max_failures_per_address = 1000;
            // This measures hashing cost: at a lower priority, the tests running beside it
            // (whose requests outrank hashing) would skew whichever kind was hashing then.
            s.password.worker_priority = auth_core::hasher::WorkerPriority::Normal;
        })
        .await;
        let mut b = f.app.browser();
        assert_eq!(b.register("native", PASSWORD).await.status, StatusCode::SEE_OTHER);
        // An imported bcrypt user: wrapped at import, so a guess costs bcrypt and Argon2id.
        let bcrypt = bcrypt::hash(PASSWORD, 10).unwrap();
        let rows = [(auth_core::Username::parse("imported").unwrap(), auth_core::PasswordHashString::new(bcrypt))];
        f.app.service().import_users(&rows, auth_core::store::ImportMode::SkipExisting, &auth_core::Client::command_line(), &mut |_| {}).await.unwrap();
        assert_eq!(b.login("imported", PASSWORD).await.status, StatusCode::SEE_OTHER, "the import logs in");
        // …and is now plain Argon2id; import another for the timing.
        let rows = [(auth_core::Username::parse("imported2").unwrap(), auth_core::PasswordHashString::new(bcrypt::hash(PASSWORD, 10).unwrap()))];
        f.app.service().import_users(&rows, auth_core::store::ImportMode::SkipExisting, &auth_core::Client::command_line(), &mut |_| {}).await.unwrap();
        let timed = |name: &'static str| {
            let mut b = f.app.browser();
            async move {
                let started = std::time::Instant::now();
                let page = b.login(name, "not the right password").await;
                assert_eq!(page.status, StatusCode::UNAUTHORIZED);
                started.elapsed()
            }
        };
        // The first failure of each kind teaches the server its cost.
        for name in ["imported2", "native", "nobody"] {
            timed(name).await;
        }
        let mut samples: [Vec<Duration>; 3] = Default::default();
        for _ in 0..9 {
            for (i, name) in ["nobody", "native", "imported2"].into_iter().enumerate() {
                samples[i].push(timed(name).await);
            }
        }
        let medians: Vec<Duration> = samples
            .iter_mut()
            .map(|s| {
                s.sort();
                s[s.len() / 2]
            })
            .collect();
        let (fastest, slowest) = (*medians.iter().min().unwrap(), *medians.iter().max().unwrap());
        println!("{backend:?}: median wrong-password login, unknown / native / imported: {medians:?}");
        assert!(
            slowest.as_secs_f64() <= fastest.as_secs_f64() * 1.10,
            "medians differ by more than 10 %: unknown / native / imported = {medians:?}"
        );
    }

    async fn csrf_tokens_are_bound_to_the_session(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        // An attacker's anonymous CSRF cookie and its token…
        let mut attacker = f.app.browser();
        let anonymous_token = attacker.get("/login").await.csrf_token();
        let attacker_csrf = attacker.cookies["wristband_csrf"].clone();
        // …planted beside a victim's session cookie (cookie tossing from a sibling domain).
        let mut victim = f.app.browser();
        victim.sign_up("vera").await;
        let mut forged = f.app.browser();
        forged.cookies = victim.cookies.clone();
        forged.cookies.insert("wristband_csrf".into(), attacker_csrf);
        let refused = forged.post_form("/logout", &[("csrf_token", &anonymous_token)]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        assert_eq!(victim.get("/dashboard").await.status, StatusCode::OK, "nothing changed");
        // A token of one session is refused with another session's cookie, even with the same
        // CSRF cookie.
        let first_token = victim.get("/logout").await.csrf_token();
        let first_csrf = victim.cookies["wristband_csrf"].clone();
        let mut other = f.app.browser();
        other.login("vera", PASSWORD).await;
        other.cookies.insert("wristband_csrf".into(), first_csrf.clone());
        let refused = other.post_form("/logout", &[("csrf_token", &first_token)]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        // With its own session the token works.
        assert_eq!(victim.post_form("/logout", &[("csrf_token", &first_token)]).await.status, StatusCode::SEE_OTHER);
    }

    async fn post_without_csrf_token_is_403_and_creates_nothing(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        b.get("/register").await;
        let page = b.post_form("/register", &[("username", "eve"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let wrong = b.post_form("/register", &[("username", "eve"), ("password", PASSWORD), ("csrf_token", "forged")]).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
        // A token from one browser is worthless in another.
        let mut other = f.app.browser();
        let foreign = b.get("/register").await.csrf_token();
        other.get("/register").await;
        let stolen = other.post_form("/register", &[("username", "eve"), ("password", PASSWORD), ("csrf_token", &foreign)]).await;
        assert_eq!(stolen.status, StatusCode::FORBIDDEN);
        let eve = auth_core::Username::parse("eve").unwrap();
        assert!(f.app.service().store().find_credentials(&eve).await.unwrap().is_none());
    }

    async fn cross_site_posts_are_403(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        for (header, value) in [("origin", "https://evil.example"), ("origin", "null"), ("sec-fetch-site", "cross-site")] {
            let mut b = f.app.browser();
            let token = b.get("/register").await.csrf_token();
            b.extra_headers.push((header.into(), value.into()));
            let page = b.post_form("/register", &[("username", "mallory"), ("password", PASSWORD), ("csrf_token", &token)]).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{header}: {value}");
        }
        let mallory = auth_core::Username::parse("mallory").unwrap();
        assert!(f.app.service().store().find_credentials(&mallory).await.unwrap().is_none());
        // The same site's own Origin passes.
        let mut b = f.app.browser();
        let token = b.get("/register").await.csrf_token();
        let own = f.app.base.clone();
        b.extra_headers.push(("origin".into(), own));
        b.extra_headers.push(("sec-fetch-site".into(), "same-origin".into()));
        let page = b.post_form("/register", &[("username", "mallory"), ("password", PASSWORD), ("csrf_token", &token)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
    }

    async fn next_is_followed_only_for_local_paths(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("frank", PASSWORD).await.status, StatusCode::SEE_OTHER);
        for next in ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "/\t/evil.example"] {
            let page = b.submit("/login", "/login", &[("username", "frank"), ("password", PASSWORD), ("next", next)]).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER);
            assert_eq!(page.location(), Some("/dashboard"), "next={next:?}");
        }
        let page = b.submit("/login", "/login", &[("username", "frank"), ("password", PASSWORD), ("next", "/dashboard?tab=1")]).await;
        assert_eq!(page.location(), Some("/dashboard?tab=1"));
        // The login page carries a safe `next` from the redirect into its form.
        let mut fresh = f.app.browser();
        let redirect = fresh.get("/dashboard").await;
        let form = fresh.get(redirect.location().unwrap()).await;
        assert!(form.body.contains("name=\"next\" value=\"&#x2f;dashboard\""), "{}", form.body);
        let evil = fresh.get("/login?next=//evil.example").await;
        assert!(evil.body.contains("name=\"next\" value=\"\""), "the field is always there, empty for an unsafe next");
    }

    async fn replayed_cookie_after_logout_is_anonymous(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        b.sign_up("grace").await;
        let saved = b.cookies.clone();
        assert_eq!(b.logout().await.status, StatusCode::SEE_OTHER);
        let mut replay = f.app.browser();
        replay.cookies = saved.clone();
        // In both stores (ASVS 3.3.1): the cookie store keeps the logged-out nonce.
        assert_anonymous_redirect(&replay.get("/dashboard").await);
        let mut api = f.app.browser();
        api.cookies = saved;
        api.get("/api/v1/me").await.problem(StatusCode::UNAUTHORIZED);
        // Logging in again gives a new, working session.
        assert_eq!(b.login("grace", PASSWORD).await.status, StatusCode::SEE_OTHER);
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    }

    async fn any_changed_byte_in_the_session_cookie_is_anonymous(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        b.sign_up("heidi").await;
        let original = b.cookies["wristband_session"].clone();
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
        let bytes = original.as_bytes();
        for i in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let mut tampered = f.app.browser();
            tampered.cookies.insert("wristband_session".into(), String::from_utf8(changed).unwrap());
            let page = tampered.get("/dashboard").await;
            assert_anonymous_redirect(&page);
        }
        // Truncated, doubled and empty values too.
        for value in [&original[..original.len() / 2], &format!("{original}{original}"), ""] {
            let mut tampered = f.app.browser();
            tampered.cookies.insert("wristband_session".into(), value.to_owned());
            assert_anonymous_redirect(&tampered.get("/dashboard").await);
        }
    }

    async fn idle_timeout_ends_an_unused_session(backend: Backend) {
        let f = spawn(backend, |s| s.session.idle_timeout = web::config::ConfigDuration(Duration::from_secs(2))).await;
        let mut b = f.app.browser();
        b.sign_up("ivan").await;
        // Activity keeps it alive past the first idle deadline…
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(900)).await;
            assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
        }
        // …and idleness ends it.
        tokio::time::sleep(Duration::from_millis(2300)).await;
        assert_anonymous_redirect(&b.get("/dashboard").await);
    }

    async fn absolute_timeout_ends_even_an_active_session(backend: Backend) {
        let f = spawn(backend, |s| {
            s.session.idle_timeout = web::config::ConfigDuration(Duration::from_secs(2));
            s.session.absolute_timeout = web::config::ConfigDuration(Duration::from_secs(3));
        })
        .await;
        let mut b = f.app.browser();
        b.sign_up("judy").await;
        let mut ended = false;
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let page = b.get("/dashboard").await;
            if page.status != StatusCode::OK {
                assert_anonymous_redirect(&page);
                ended = true;
                break;
            }
        }
        assert!(ended, "the session outlived its absolute timeout");
    }

    async fn remember_me_is_a_persistent_cookie(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("ken", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let plain = b.login("ken", PASSWORD).await.set_cookie("wristband_session").unwrap();
        assert_eq!(plain.max_age(), None, "browser-session cookie");
        assert_eq!(plain.expires(), None);
        let remembered = b
            .submit("/login", "/login", &[("username", "ken"), ("password", PASSWORD), ("remember", "1")])
            .await
            .set_cookie("wristband_session")
            .unwrap();
        // 30 days counted from login: the second or so since then is already gone.
        let max_age = remembered.max_age().unwrap();
        assert!(max_age <= cookie::time::Duration::days(30) && max_age > cookie::time::Duration::days(30) - cookie::time::Duration::seconds(5), "{max_age:?}");
    }

    async fn cookie_attributes_and_security_headers(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("leo", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let login = b.login("leo", PASSWORD).await;
        let cookie = login.set_cookie("wristband_session").unwrap();
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.secure(), None, "not Secure when session.secure is off");
        let dashboard = b.get("/dashboard").await;
        assert_eq!(dashboard.header("cache-control"), Some("no-store"));
        for page in [&dashboard, &b.get("/").await, &b.get("/no-such-page").await] {
            assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(page.header("x-frame-options"), Some("DENY"));
            assert_eq!(page.header("referrer-policy"), Some("same-origin"));
            let csp = page.header("content-security-policy").unwrap();
            assert!(!csp.contains("unsafe-inline") && csp.contains("script-src 'self'"));
            assert_eq!(page.header("strict-transport-security"), None);
        }
        let anonymous = f.app.browser().get("/").await;
        assert_eq!(anonymous.header("cache-control"), None);
    }

    async fn secure_cookies_use_the_host_prefix_and_hsts(backend: Backend) {
        let f = spawn(backend, |s| s.session.secure = web::config::SecureSetting::On).await;
        let mut b = f.app.browser();
        assert_eq!(b.register("mia", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let login = b.login("mia", PASSWORD).await;
        let cookie = login.set_cookie("__Host-wristband_session").expect("__Host- prefixed");
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.domain(), None);
        assert!(login.header("strict-transport-security").unwrap().contains("max-age="));
    }

    async fn oversized_bodies_are_413(backend: Backend) {
        let f = spawn(backend, |s| s.server.body_limit = web::config::ByteSize(1024)).await;
        let mut b = f.app.browser();
        let token = b.get("/register").await.csrf_token();
        let big = "x".repeat(4096);
        let page = b.post_form("/register", &[("username", "nick"), ("password", &big), ("csrf_token", &token)]).await;
        assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
        let nick = auth_core::Username::parse("nick").unwrap();
        assert!(f.app.service().store().find_credentials(&nick).await.unwrap().is_none());
    }

    async fn malformed_bodies_are_4xx_never_500(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let token = b.get("/login").await.csrf_token();
        let form = "application/x-www-form-urlencoded";
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (form, format!("username=%ff%fe&password=x&csrf_token={token}").into_bytes()),
            (form, format!("username=a&password=%C3&csrf_token={token}").into_bytes()),
            (form, vec![0xff, 0xfe, 0x00, 0x80]),
            (form, format!("username=a&csrf_token={token}&csrf_token={token}").into_bytes()),
            (form, b"%%%%&&&===".to_vec()),
            ("application/json", br#"{"username":"a"}"#.to_vec()),
            ("text/plain", b"hello".to_vec()),
        ];
        for path in ["/login", "/register", "/logout"] {
            for (content_type, body) in &cases {
                let page = b.post_raw(path, content_type, body.clone()).await;
                assert!(page.status.is_client_error(), "{path} {content_type} {body:?}: {}", page.status);
            }
        }
        let wrong_type = b.post_raw("/login", "text/plain", b"x".to_vec()).await;
        assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let invalid_utf8 = b.post_raw("/login", form, format!("username=%ff&password=x&csrf_token={token}").into_bytes()).await;
        assert_eq!(invalid_utf8.status, StatusCode::BAD_REQUEST);
    }

    async fn an_authenticated_request_writes_nothing_within_a_minute(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        b.sign_up("olga").await;
        let store = f.app.service().store();
        let user = store.find_credentials(&auth_core::Username::parse("olga").unwrap()).await.unwrap().unwrap().user;
        let before = store.list_user_sessions(user.id, time::OffsetDateTime::now_utc()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        for _ in 0..3 {
            let page = b.get("/dashboard").await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.set_cookie("wristband_session").is_none(), "nothing re-sent either");
        }
        let after = store.list_user_sessions(user.id, time::OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(before, after, "last_seen_at untouched within the touch interval");
    }

    async fn a_new_login_replaces_the_previous_session(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        b.sign_up("pat").await;
        let first = b.cookies.clone();
        assert_eq!(b.login("pat", PASSWORD).await.status, StatusCode::SEE_OTHER);
        assert_ne!(first["wristband_session"], b.cookies["wristband_session"], "new session id");
        let mut old = f.app.browser();
        old.cookies = first;
        if backend.database_sessions() {
            assert_anonymous_redirect(&old.get("/dashboard").await);
        }
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    }

    async fn cookies_signed_with_a_fallback_key_are_accepted_and_resigned(backend: Backend) {
        let database = common::Database::new(backend).await;
        let old_key = "an-old-secret-key-that-is-also-long-enough";
        let before = common::TestApp::start(&database, common::backend_settings(backend, &database.url), common::keys(old_key, &[])).await;
        let mut b = before.browser();
        b.sign_up("quinn").await;
        let old_cookie = b.cookies["wristband_session"].clone();
        before.stop().await;

        let rotated = common::TestApp::start(&database, common::backend_settings(backend, &database.url), common::keys(SECRET, &[old_key])).await;
        let mut b2 = Browser::new(&rotated.base);
        b2.cookies.insert("wristband_session".into(), old_cookie.clone());
        let page = b2.get("/dashboard").await;
        assert_eq!(page.status, StatusCode::OK);
        let resigned = page.set_cookie("wristband_session").expect("re-signed in the same response");
        assert_ne!(resigned.value(), old_cookie);
        assert_eq!(b2.get("/dashboard").await.status, StatusCode::OK);
        rotated.stop().await;

        // A server that does not list the old key treats the cookie as anonymous.
        let stranger = common::TestApp::start(&database, common::backend_settings(backend, &database.url), common::keys(SECRET, &[])).await;
        let mut b3 = Browser::new(&stranger.base);
        b3.cookies.insert("wristband_session".into(), old_cookie);
        assert_anonymous_redirect(&b3.get("/dashboard").await);
    }

    async fn hashes_are_upgraded_when_parameters_change(backend: Backend) {
        let database = common::Database::new(backend).await;
        let first = common::TestApp::start(&database, common::backend_settings(backend, &database.url), common::keys(SECRET, &[])).await;
        let mut b = first.browser();
        assert_eq!(b.register("rita", PASSWORD).await.status, StatusCode::SEE_OTHER);
        first.stop().await;
        let mut stronger = common::backend_settings(backend, &database.url);
        stronger.password.argon2.memory_kib = 128;
        let second = common::TestApp::start(&database, stronger, common::keys(SECRET, &[])).await;
        let rita = auth_core::Username::parse("rita").unwrap();
        let old = second.service().store().find_credentials(&rita).await.unwrap().unwrap().password_hash;
        assert!(old.expose().contains("m=64,"));
        let mut b = second.browser();
        assert_eq!(b.login("rita", PASSWORD).await.status, StatusCode::SEE_OTHER);
        let new = second.service().store().find_credentials(&rita).await.unwrap().unwrap().password_hash;
        assert!(new.expose().contains("m=128,"), "upgraded on login");
        assert_eq!(b.logout().await.status, StatusCode::SEE_OTHER);
        assert_eq!(b.login("rita", PASSWORD).await.status, StatusCode::SEE_OTHER, "new hash verifies");
    }

    async fn healthz_answers_ok(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        let page = b.get("/healthz").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body, r#"{"status":"ok"}"#);
        assert_eq!(page.header("cache-control"), None, "nothing personal in it");
        b.sign_up("hale").await;
        let logged_in = b.get("/healthz").await;
        assert_eq!(logged_in.status, StatusCode::OK);
        assert_eq!(logged_in.header("cache-control"), Some("no-store"), "a request with a valid session");
    }

    async fn forms_and_every_answer_to_a_logged_in_request_are_not_cached(backend: Backend) {
        let f = spawn(backend, |s| s.login.max_failures = 2).await;
        let mut anonymous = f.app.browser();
        let no_store = |page: &common::Page, what: &str| {
            assert_eq!(page.header("cache-control"), Some("no-store"), "{what}: {}", page.status);
        };
        no_store(&anonymous.get("/login").await, "the login form");
        no_store(&anonymous.get("/register").await, "the registration form");
        no_store(&anonymous.login("someone", "wrong password x").await, "a failed login (401)");
        no_store(&anonymous.register("x y", PASSWORD).await, "a refused registration (422)");
        let mut b = f.app.browser();
        b.sign_up("cache").await;
        no_store(&b.get("/no/such/page").await, "404");
        no_store(&b.post_form("/logout", &[]).await, "403 without a token");
        no_store(&b.submit("/account", "/account/sessions/revoke", &[]).await, "422");
        no_store(&b.submit("/account", "/account/password", &[("current_password", "wrong password x"), ("new_password", "another fine passphrase")]).await, "401");
        no_store(&b.get("/api/v1/sessions/nope").await, "API 405/404");
        no_store(&b.delete("/api/v1/sessions/nope").await, "API 403/404");
        for _ in 0..2 {
            b.login("cache", "wrong password x").await;
        }
        let throttled = b.login("cache", PASSWORD).await;
        assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
        no_store(&throttled, "429");
    }

    async fn the_login_form_always_carries_every_field(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let mut b = f.app.browser();
        for path in ["/login", "/login?next=/account", "/login?next=//evil.example"] {
            let page = b.get(path).await;
            for field in ["username", "password", "remember", "next", "csrf_token"] {
                assert!(page.body.contains(&format!("name=\"{field}\"")), "{path}: no {field}");
            }
        }
        assert_eq!(b.get("/login").await.input_values("next"), [""]);
    }

    async fn slow_headers_are_cut_off(backend: Backend) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let f = spawn(backend, |s| s.server.header_timeout = web::config::ConfigDuration(Duration::from_secs(1))).await;
        let address = f.app.base.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let mut buffer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer)).await;
        assert!(read.is_ok(), "the server kept a slow client's connection open");
    }

    async fn a_stalled_body_gets_408_and_the_connection_closes(backend: Backend) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let f = spawn(backend, |s| s.server.body_timeout = web::config::ConfigDuration(Duration::from_secs(1))).await;
        let address = f.app.base.trim_start_matches("http://").to_owned();
        for (path, content_type) in [("/login", "application/x-www-form-urlencoded"), ("/api/v1/login", "application/json")] {
            let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
            let head = format!("POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\nContent-Length: 100\r\n\r\nu");
            stream.write_all(head.as_bytes()).await.unwrap();
            let started = std::time::Instant::now();
            let mut buffer = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer)).await;
            assert!(read.is_ok(), "{path}: the connection stayed open");
            let text = String::from_utf8_lossy(&buffer);
            assert!(text.starts_with("HTTP/1.1 408"), "{path}: {text}");
            assert!(started.elapsed() < Duration::from_secs(3), "{path}: answered after {:?}", started.elapsed());
        }
        // A byte now and then does not keep a body alive past the deadline either.
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!("POST /login HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let trickle = tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if stream.write_all(b"a").await.is_err() {
                    break;
                }
            }
            let mut buffer = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer)).await;
            String::from_utf8_lossy(&buffer).into_owned()
        });
        let text = trickle.await.unwrap();
        assert!(text.starts_with("HTTP/1.1 408"), "trickled body: {text}");
        assert_eq!(f.app.browser().get("/healthz").await.status, StatusCode::OK);
    }

    async fn connections_past_the_cap_wait_in_the_backlog(backend: Backend) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let f = spawn(backend, |s| {
            s.server.max_connections = 2;
            s.server.header_timeout = web::config::ConfigDuration(Duration::from_secs(30));
        })
        .await;
        let address = f.app.base.trim_start_matches("http://").to_owned();
        // Two idle connections take both places.
        let first = tokio::net::TcpStream::connect(&address).await.unwrap();
        let second = tokio::net::TcpStream::connect(&address).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // A third connects (the kernel's backlog) but is not served…
        let mut third = tokio::net::TcpStream::connect(&address).await.unwrap();
        third.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
        let mut buffer = Vec::new();
        let waited = tokio::time::timeout(Duration::from_millis(800), third.read_to_end(&mut buffer)).await;
        assert!(waited.is_err(), "served past the cap: {}", String::from_utf8_lossy(&buffer));
        // …until a place frees up.
        drop(first);
        let served = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buffer)).await;
        assert!(served.is_ok(), "never served");
        assert!(String::from_utf8_lossy(&buffer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buffer));
        drop(second);
    }

    async fn a_login_storm_past_the_queue_gets_503_with_retry_after(backend: Backend) {
        let f = spawn(backend, |s| {
            s.password.workers = Some(1);
            s.password.queue = 1;
            s.password.argon2.memory_kib = 16 * 1024;
            s.password.argon2.iterations = 4;
        })
        .await;
        let mut b = f.app.browser();
        let token = b.get("/login").await.csrf_token();
        let mut storm = Vec::new();
        for i in 0..12 {
            let mut browser = b.clone();
            let token = token.clone();
            storm.push(tokio::spawn(async move {
                let name = format!("stormer{i}");
                browser.post_form("/login", &[("username", &name), ("password", "whatever it is"), ("csrf_token", &token)]).await
            }));
        }
        let mut busy = 0;
        for task in storm {
            let page = task.await.unwrap();
            match page.status {
                StatusCode::UNAUTHORIZED => {}
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(page.header("retry-after").is_some());
                    busy += 1;
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert!(busy > 0, "no request was refused although the queue holds one");
        // The server still answers afterwards.
        assert_eq!(b.get("/").await.status, StatusCode::OK);
    }
}
