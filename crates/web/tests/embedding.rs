//! The embedding API as an application uses it: where routes go (a prefix, or neither pages
//! nor API), templates overridden from a folder and in code, typed rejections, the `testing`
//! feature's one-call login, and start-up errors instead of panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use common::{Browser, PASSWORD, SECRET, keys, test_settings};
use reqwest::StatusCode;
use std::net::SocketAddr;
use web::config::Profile;
use web::{Config, CurrentUser, Page, Wristband, WristbandBuilder};

fn config(dir: &tempfile::TempDir, tweak: impl FnOnce(&mut web::config::Settings)) -> Config {
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let mut settings = test_settings(&url);
    tweak(&mut settings);
    let mut config = Config::new(Profile::Test)
        .unwrap()
        .with_keys(keys(SECRET, &[]));
    config.settings = settings;
    config
}

/// Starts `builder`, wraps `app`, serves it with the peer address; the base URL.
async fn serve(builder: WristbandBuilder, app: Router) -> (Wristband, String) {
    let wristband = builder.start().await.unwrap();
    let router = wristband.wrap(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    (wristband, base)
}

async fn private(CurrentUser(session): CurrentUser) -> String {
    format!("private to {}", session.user.username)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_overridden_from_a_folder_and_in_code() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("login.html"),
        "{% extends \"base.html\" %}{% block content %}<p>Shop login</p>\
         <form method=\"post\" action=\"{{ urls.login }}\"><input name=\"csrf_token\" value=\"{{ csrf_token }}\"></form>{% endblock %}",
    )
    .unwrap();
    let config = config(&dir, |s| s.web.templates_dir = Some(templates.clone()));
    let builder = Wristband::builder(config)
        .template(
            "register.html",
            "{% extends \"base.html\" %}{% block content %}Join the shop{% endblock %}",
        )
        .template(
            "welcome.html",
            "{% extends \"base.html\" %}{% block content %}Hello {{ name }}{% endblock %}",
        )
        .stylesheet("/shop.css");
    let app = Router::new().route(
        "/welcome",
        get(|page: Page| async move {
            page.render("welcome.html", serde_json::json!({"name": "visitor"}))
        }),
    );
    let (_w, base) = serve(builder, app).await;
    let mut b = Browser::new(&base);
    let login = b.get("/login").await;
    assert!(login.body.contains("<p>Shop login</p>"), "{}", login.body);
    assert!(
        login.body.contains("href=\"&#x2f;shop.css\""),
        "the app's stylesheet on every page"
    );
    assert!(b.get("/register").await.body.contains("Join the shop"));
    let welcome = b.get("/welcome").await;
    assert!(welcome.body.contains("Hello visitor"));
    assert!(
        welcome.body.contains(">Login</a>"),
        "the app's page shares Wristband's navigation"
    );
    // Wristband's other pages keep their built-in templates.
    assert!(b.get("/logout").await.body.contains("Log out of Wristband"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_can_mount_neither_pages_nor_api() {
    let dir = tempfile::tempdir().unwrap();
    let builder = Wristband::builder(config(&dir, |_| {}))
        .without_pages()
        .without_api()
        .without_health();
    let (wristband, base) = serve(builder, Router::new().route("/private", get(private))).await;
    let mut b = Browser::new(&base);
    for path in [
        "/login",
        "/register",
        "/account",
        "/api/v1/me",
        "/healthz",
        "/static/app.css",
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let anonymous = b.get("/private").await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "no login page to send anyone to"
    );
    // The app's own login (here the testing helper) still works with Wristband's sessions.
    let login = web::testing::log_in(&wristband, "ivy").await.unwrap();
    b.extra_headers.push(("cookie".into(), login.cookie));
    assert_eq!(b.get("/private").await.body, "private to ivy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_are_typed_by_route_and_accept_header() {
    let dir = tempfile::tempdir().unwrap();
    let builder = Wristband::builder(config(&dir, |_| {})).pages_at("/auth");
    let app = Router::new()
        .route("/private", get(private))
        .route("/api/v1/orders", get(private));
    let (_w, base) = serve(builder, app).await;
    let mut b = Browser::new(&base);
    let page = b.get("/private?tab=2").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/auth/login?next=/private%3Ftab=2"));
    b.get("/api/v1/orders")
        .await
        .problem(StatusCode::UNAUTHORIZED);
    b.request_with_header(
        reqwest::Method::GET,
        "/private",
        ("accept", "application/json"),
    )
    .await
    .problem(StatusCode::UNAUTHORIZED);
    // A browser that accepts HTML (and JSON after it) is sent to the login page.
    let browser = b
        .request_with_header(
            reqwest::Method::GET,
            "/private",
            ("accept", "text/html,application/json;q=0.9"),
        )
        .await;
    assert_eq!(browser.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_testing_feature_logs_a_user_in_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let builder = wristband_server::pages::templates(Wristband::builder(config(&dir, |_| {})));
    let (wristband, base) = serve(builder, wristband_server::pages::routes()).await;
    let login = web::testing::log_in(&wristband, "Tess").await.unwrap();
    assert_eq!(login.user.username.as_str(), "Tess");
    let mut b = Browser::new(&base);
    b.extra_headers
        .push(("cookie".into(), login.cookie.clone()));
    let dashboard = b.get("/dashboard").await;
    assert!(
        dashboard
            .body
            .contains("Welcome to your private dashboard, Tess!")
    );
    // The CSRF token goes with the cookie: a form of Wristband's accepts it.
    let logout = b
        .post_form("/logout", &[("csrf_token", &login.csrf_token)])
        .await;
    assert_eq!(logout.status, StatusCode::SEE_OTHER);
    // Again for the same user: another session of the same account.
    let again = web::testing::log_in(&wristband, "tess").await.unwrap();
    assert_eq!(again.user.id, login.user.id);
    let _ = PASSWORD;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mounts_and_templates_are_start_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    for prefix in ["auth", "/a//b", "/{x}", "/a b"] {
        let started = Wristband::builder(config(&dir, |_| {}))
            .pages_at(prefix)
            .start()
            .await;
        assert!(matches!(started, Err(web::Error::Mount(_))), "{prefix:?}");
    }
    let started = Wristband::builder(config(&dir, |_| {}))
        .api_at("")
        .start()
        .await;
    assert!(matches!(started, Err(web::Error::Mount(_))));
    let started = Wristband::builder(config(&dir, |_| {}))
        .template("login.html", "{% if %}")
        .start()
        .await;
    let error = started.expect_err("a broken template");
    assert!(error.to_string().contains("login.html"), "{error}");
    let missing = Wristband::builder(config(&dir, |s| {
        s.web.templates_dir = Some(dir.path().join("nope"))
    }))
    .start()
    .await;
    assert!(matches!(missing, Err(web::Error::Templates(_))));
    let redirect = Wristband::builder(config(&dir, |s| {
        s.login.default_redirect = "https://evil.example".into()
    }))
    .start()
    .await;
    assert!(matches!(redirect, Err(web::Error::Config(_))));
}

/// A page of the app itself rendered through Wristband, as a handler would write it.
#[allow(dead_code)]
async fn app_page(page: Page) -> Response {
    page.render("welcome.html", ())
}
