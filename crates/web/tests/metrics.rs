//! Prometheus metrics (contract §11, `metrics.bind`) over real HTTP, on every backend: what a
//! scrape shows after logins, registrations, throttled attempts and authenticated requests;
//! that `/metrics` is served on its own listener only, never on the public port; and how a bad
//! `metrics.bind` is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{PASSWORD, spawn};
use reqwest::StatusCode;
use std::net::SocketAddr;

const WRONG: &str = "not the right password at all";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Metrics on a free loopback port.
fn metrics_on(settings: &mut web::config::Settings) {
    settings.metrics.bind = Some("127.0.0.1:0".parse().unwrap());
}

/// `GET /metrics` from `address`: the body, after checking the status and the media type.
async fn scrape(address: SocketAddr) -> String {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], OPENMETRICS);
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

/// The value of the sample `name{labels}` (labels as the exposition writes them, in order;
/// `""` for none), or `None` when there is no such sample.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let series = if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{labels}}}")
    };
    text.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        (key == series).then(|| value.parse().unwrap())
    })
}

/// Like [`sample`], but the sample must be there.
fn value(text: &str, name: &str, labels: &str) -> f64 {
    sample(text, name, labels).unwrap_or_else(|| panic!("no {name}{{{labels}}} in:\n{text}"))
}

/// The sum of every sample of `name` whose labels contain each of `parts`.
fn sum(text: &str, name: &str, parts: &[&str]) -> f64 {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            let labels = key.strip_prefix(name)?.strip_prefix('{')?;
            parts
                .iter()
                .all(|part| labels.contains(part))
                .then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

on_every_backend! {
    async fn a_scrape_counts_what_happened(backend: Backend) {
        let f = spawn(backend, |s| {
            metrics_on(s);
            // The second failure for one name from one address is throttled.
            s.login.max_failures = 1;
        })
        .await;
        let address = f.app.wristband.metrics_address().expect("metrics are on");
        assert!(address.ip().is_loopback() && address.port() != 0);

        let before = scrape(address).await;
        // Every known series is there from the start, at 0.
        assert_eq!(value(&before, "wristband_logins_total", r#"method="password",outcome="success""#), 0.0);
        assert_eq!(value(&before, "wristband_registrations_total", r#"outcome="success""#), 0.0);
        assert_eq!(value(&before, "wristband_throttled_attempts_total", r#"scope="user_and_address""#), 0.0);
        assert_eq!(value(&before, "wristband_database_errors_total", r#"kind="unavailable""#), 0.0);
        assert_eq!(value(&before, "wristband_database_errors_total", r#"kind="failed""#), 0.0);
        assert_eq!(value(&before, "wristband_hash_queue_depth", ""), 0.0);

        let mut browser = f.app.browser();
        let registered = browser.register("ada", PASSWORD).await;
        assert_eq!(registered.status, StatusCode::SEE_OTHER, "{}", registered.body);
        let logged_in = browser.login("ada", PASSWORD).await;
        assert_eq!(logged_in.status, StatusCode::SEE_OTHER, "{}", logged_in.body);
        for _ in 0..3 {
            assert_eq!(browser.get("/account").await.status, StatusCode::OK);
        }
        assert_eq!(browser.get("/no-such-page").await.status, StatusCode::NOT_FOUND);
        let failed = f.app.browser().login("ada", WRONG).await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
        let mut stranger = f.app.browser();
        assert_eq!(stranger.login("nobody", WRONG).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(stranger.login("nobody", WRONG).await.status, StatusCode::TOO_MANY_REQUESTS);

        let after = scrape(address).await;
        let logins = |outcome: &str| {
            value(&after, "wristband_logins_total", &format!(r#"method="password",outcome="{outcome}""#))
        };
        assert_eq!(logins("success"), 1.0);
        assert_eq!(logins("invalid_credentials"), 2.0);
        assert_eq!(logins("throttled"), 1.0);
        assert_eq!(logins("error"), 0.0);
        assert_eq!(value(&after, "wristband_registrations_total", r#"outcome="success""#), 1.0);
        assert_eq!(value(&after, "wristband_throttled_attempts_total", r#"scope="user_and_address""#), 1.0);
        // One hash for the registration, three verifications (the throttled attempt is neither
        // counted nor hashed).
        assert!(value(&after, "wristband_hash_wait_seconds_count", "") >= 4.0, "{after}");
        assert_eq!(value(&after, "wristband_hash_queue_depth", ""), 0.0);
        assert_eq!(value(&after, "wristband_hash_queue_rejected_total", ""), 0.0);
        // Every authenticated request looked its session up: from the cache, the store, or
        // the store because the cache was not trusted yet.
        assert!(sum(&after, "wristband_session_cache_lookups_total", &[]) >= 3.0, "{after}");
        assert!(sample(&after, "wristband_session_cache_sessions", "").is_some(), "{after}");
        assert_eq!(value(&after, "wristband_database_errors_total", r#"kind="unavailable""#), 0.0);
        assert_eq!(value(&after, "wristband_database_errors_total", r#"kind="failed""#), 0.0);

        // Latency by route template and status class.
        let requests = "wristband_http_request_duration_seconds_count";
        assert_eq!(value(&after, requests, r#"method="GET",route="/account",status="2xx""#), 3.0);
        assert_eq!(value(&after, requests, r#"method="POST",route="/login",status="3xx""#), 1.0);
        // Two wrong passwords (401) and one throttled attempt (429).
        assert_eq!(value(&after, requests, r#"method="POST",route="/login",status="4xx""#), 3.0);
        assert_eq!(value(&after, requests, r#"method="POST",route="/register",status="3xx""#), 1.0);
        assert_eq!(value(&after, requests, r#"method="GET",route="unmatched",status="4xx""#), 1.0);
        let bucket = value(
            &after,
            "wristband_http_request_duration_seconds_bucket",
            r#"le="+Inf",method="GET",route="/account",status="2xx""#,
        );
        assert_eq!(bucket, 3.0);
        // Raw paths and what clients typed are never labels.
        for absent in ["/no-such-page", "ada", "nobody", WRONG, PASSWORD] {
            assert!(!after.contains(absent), "{absent:?} in:\n{after}");
        }

        // The handle gives the same text to an application that exports it itself.
        let text = f.app.wristband.metrics_text().expect("metrics are on");
        assert_eq!(value(&text, "wristband_registrations_total", r#"outcome="success""#), 1.0);
        f.app.stop().await;
    }

    async fn second_steps_are_counted_apart_from_passwords(backend: Backend) {
        let f = spawn(backend, metrics_on).await;
        let address = f.app.wristband.metrics_address().expect("metrics are on");
        let recovery_codes = enrol_totp(&f, "ada").await;
        let mut b = f.app.browser();
        assert_eq!(b.login("ada", PASSWORD).await.location(), Some("/login/2fa"));
        let wrong = b.submit("/login/2fa", "/login/2fa", &[("code", "zzzz-zzzz-zzzz")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let page = b.submit("/login/2fa", "/login/2fa", &[("code", &recovery_codes[0])]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

        let text = scrape(address).await;
        let logins = |method: &str, outcome: &str| {
            value(&text, "wristband_logins_total", &format!(r#"method="{method}",outcome="{outcome}""#))
        };
        // The enrolment's own login, then the password step of this one.
        assert_eq!(logins("password", "success"), 1.0);
        assert_eq!(logins("password", "second_factor_required"), 1.0);
        assert_eq!(logins("second_factor", "invalid_credentials"), 1.0);
        assert_eq!(logins("second_factor", "success"), 1.0);
        assert_eq!(logins("passkey", "success"), 0.0);
        f.app.stop().await;
    }

    async fn database_errors_are_counted_by_kind(backend: Backend) {
        let f = spawn(backend, metrics_on).await;
        let address = f.app.wristband.metrics_address().expect("metrics are on");
        let mut browser = f.app.browser();
        browser.sign_up("gale").await;
        // A write the database refuses (a trigger): a failure, not an outage.
        let sabotage = common::Sabotage::install(&f.database, common::Failing::AuthStampUpdate).await;
        let failed = browser
            .submit("/account", "/account/password", &[("current_password", PASSWORD), ("new_password", "another horse battery staple")])
            .await;
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", failed.body);
        sabotage.remove().await;
        let text = scrape(address).await;
        assert!(value(&text, "wristband_database_errors_total", r#"kind="failed""#) >= 1.0, "{text}");
        assert_eq!(value(&text, "wristband_database_errors_total", r#"kind="unavailable""#), 0.0);
        assert_eq!(
            value(&text, "wristband_http_request_duration_seconds_count", r#"method="POST",route="/account/password",status="5xx""#),
            1.0
        );
        f.app.stop().await;
    }

    async fn metrics_are_never_on_the_public_port(backend: Backend) {
        // Off by default: nothing kept, nothing served.
        let off = spawn(backend, |_| {}).await;
        assert_eq!(off.app.wristband.metrics_address(), None);
        assert_eq!(off.app.wristband.metrics_text(), None);
        assert_eq!(off.app.browser().get("/metrics").await.status, StatusCode::NOT_FOUND);
        off.app.stop().await;

        let on = spawn(backend, metrics_on).await;
        let address = on.app.wristband.metrics_address().expect("metrics are on");
        let mut public = on.app.browser();
        assert_eq!(public.get("/metrics").await.status, StatusCode::NOT_FOUND);
        // The metrics listener serves nothing else.
        let mut metrics = common::Browser::new(&format!("http://{address}"));
        assert_eq!(metrics.get("/login").await.status, StatusCode::NOT_FOUND);
        assert_eq!(metrics.get("/healthz").await.status, StatusCode::NOT_FOUND);
        assert_eq!(metrics.get("/metrics").await.status, StatusCode::OK);
        assert_eq!(
            metrics.request(reqwest::Method::POST, "/metrics").await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        on.app.stop().await;
        // Stopped with the handle (the listener closes as its aborted task is dropped).
        let mut closed = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(address).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(closed, "the metrics listener outlived the handle");
    }
}

/// Registers and logs in `name` and enrols an authenticator app; returns the recovery codes.
async fn enrol_totp(f: &common::Fixture, name: &str) -> Vec<String> {
    let mut b = f.app.browser();
    b.sign_up(name).await;
    let page = b.get("/account/2fa").await;
    let secret = page
        .body
        .split("<code id=\"totp-secret\">")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .expect("the secret is shown")
        .to_owned();
    let bytes = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &bytes, unix);
    let enrolment = page.input_values("enrolment").remove(0);
    let page = b
        .post_form(
            "/account/2fa/enable",
            &[
                ("enrolment", &enrolment),
                ("code", &code),
                ("csrf_token", &page.csrf_token()),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split("</code>").next().unwrap().to_owned())
        .collect()
}

/// `metrics.bind` as `toml` sets it, or the refusal's message.
fn metrics_bind(toml: &str) -> Result<Option<SocketAddr>, String> {
    use figment::providers::{Format, Toml};
    web::Config::from_figment(
        figment::Figment::from(Toml::string(toml)),
        web::config::Profile::Development,
    )
    .map(|config| config.settings.metrics.bind)
    .map_err(|error| error.to_string())
}

#[test]
fn a_bad_metrics_bind_is_refused_naming_the_key() {
    assert_eq!(
        metrics_bind("[metrics]\nbind = \"127.0.0.1:9464\"\n"),
        Ok(Some("127.0.0.1:9464".parse().unwrap()))
    );
    assert_eq!(metrics_bind(""), Ok(None), "off by default");
    for bad in [
        "9464",
        "localhost:9464",
        "127.0.0.1",
        "127.0.0.1:99999",
        "yes",
    ] {
        let error = metrics_bind(&format!("[metrics]\nbind = \"{bad}\"\n")).expect_err("refused");
        assert!(error.contains("metrics.bind"), "{bad:?}: {error}");
    }
    let error =
        metrics_bind("[server]\nbind = \"127.0.0.1:3000\"\n[metrics]\nbind = \"0.0.0.0:3000\"\n")
            .expect_err("the public port is refused");
    assert!(
        error.contains("`metrics.bind`") && error.contains("never on the public port"),
        "{error}"
    );
}

#[tokio::test]
async fn a_metrics_address_in_use_is_a_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let database = common::Database::at(&format!(
        "sqlite://{}",
        folder.path().join("wristband.db").display()
    ));
    let mut settings = common::test_settings(&database.url);
    settings.metrics.bind = Some(address);
    let config = common::config(settings, common::keys(common::SECRET, &[]));
    let error = web::Wristband::builder(config)
        .start()
        .await
        .expect_err("the address is taken");
    assert!(
        matches!(error, web::Error::Metrics { address: a, .. } if a == address),
        "{error:?}"
    );
    let message = auth_core::service::error_chain(&error);
    assert!(
        message.contains(&format!(
            "cannot serve metrics on {address} (`metrics.bind`)"
        )),
        "{message}"
    );
}
