//! The test harness Wristband's own tests share: the real application on a random port with
//! its own database (SQLite file or PostgreSQL database), the matrix of backends, a small
//! browser that keeps cookies the way a browser does but lets a test read and tamper with
//! them, the `wristband` binary in a scratch folder, a trigger that makes one kind of write fail,
//! and a real SMTP server per test ([`smtp`]).
//!
//! Test code: panics are how it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod browser;
pub mod smtp;
pub use browser::{Chromium, Tab};
pub use smtp::{ReceivedMail, SmtpServer};

use auth_core::{AuthService, AuthStore, KeyRing, SecretString, SessionStorage};
use cookie::Cookie;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use web::config::{Profile, SecureSetting, Settings};
use web::{Config, Wristband};

/// A key long enough for every profile.
pub const SECRET: &str = "test-secret-key-that-is-at-least-32-bytes-long";
/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// A fresh SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the server `WRISTBAND_TEST_POSTGRES_URL` names.
    Postgres,
}

/// One leg of the test matrix: a database and a session store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backend {
    pub store: Store,
    pub sessions: SessionStorage,
}

impl Backend {
    pub const SQLITE: Self = Self {
        store: Store::Sqlite,
        sessions: SessionStorage::Database,
    };
    pub const SQLITE_COOKIE: Self = Self {
        store: Store::Sqlite,
        sessions: SessionStorage::Cookie,
    };
    pub const POSTGRES: Self = Self {
        store: Store::Postgres,
        sessions: SessionStorage::Database,
    };
    pub const POSTGRES_COOKIE: Self = Self {
        store: Store::Postgres,
        sessions: SessionStorage::Cookie,
    };

    /// Sessions live in the database (so logout and single-session revocation are server-side).
    pub fn database_sessions(self) -> bool {
        self.sessions == SessionStorage::Database
    }
}

/// Where a test app keeps its data; shared by several apps to simulate restarts.
pub struct Database {
    pub url: String,
    _keep: DatabaseGuard,
}

/// Keeps a test database alive; dropping it removes the database.
#[allow(dead_code)]
enum DatabaseGuard {
    Folder(tempfile::TempDir),
    Postgres(store_postgres::testing::TestDatabase),
    /// Owned by the test (e.g. a private cluster).
    None,
}

impl Database {
    /// A database the test manages itself.
    pub fn at(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            _keep: DatabaseGuard::None,
        }
    }

    pub async fn new(backend: Backend) -> Self {
        match backend.store {
            Store::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Self {
                    url: format!("sqlite://{}", dir.path().join("wristband.db").display()),
                    _keep: DatabaseGuard::Folder(dir),
                }
            }
            Store::Postgres => {
                let database = store_postgres::testing::TestDatabase::create().await;
                Self {
                    url: database.url.clone(),
                    _keep: DatabaseGuard::Postgres(database),
                }
            }
        }
    }
}

/// Settings for tests: cheap Argon2 so suites run fast, everything else the defaults.
pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = database_url.to_owned();
    settings.password.argon2.memory_kib = 64;
    settings.password.argon2.iterations = 1;
    settings.password.workers = Some(2);
    settings.session.secure = SecureSetting::Off;
    // No `.eml` files in the crate folder: mail is logged unless a test starts an SMTP server
    // (see `mail_to`).
    settings.mail.transport = web::config::MailTransportKind::Log;
    settings
}

/// Points `settings`' mail at `server` (plain SMTP on loopback), with links built from
/// `public_url`.
pub fn mail_to(settings: &mut Settings, server: &SmtpServer, public_url: &str) {
    settings.mail.transport = web::config::MailTransportKind::Smtp;
    settings.mail.smtp_url = Some(server.url());
    settings.mail.from = Some("Shop <no-reply@shop.example>".into());
    settings.server.public_url = Some(public_url.to_owned());
}

/// [`test_settings`] for one leg of the matrix.
pub fn backend_settings(backend: Backend, database_url: &str) -> Settings {
    let mut settings = test_settings(database_url);
    settings.session.store = backend.sessions;
    settings
}

pub fn keys(current: &str, fallbacks: &[&str]) -> KeyRing {
    KeyRing::new(
        SecretString::new(current),
        fallbacks.iter().map(|k| SecretString::new(*k)).collect(),
    )
    .unwrap()
}

/// Configuration for tests from `settings` and `keys`.
pub fn config(settings: Settings, keys: KeyRing) -> Config {
    let mut config = Config::new(Profile::Test)
        .expect("the test profile needs no key")
        .with_keys(keys);
    config.settings = settings;
    config
}

/// A running application.
pub struct TestApp {
    pub base: String,
    pub wristband: Wristband,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Starts the app on a random port over `database`.
    pub async fn start(database: &Database, settings: Settings, keys: KeyRing) -> Self {
        Self::start_with(database, settings, keys, axum::Router::new()).await
    }

    /// Starts the app with `extra` routes behind Wristband's layers.
    pub async fn start_with(
        database: &Database,
        settings: Settings,
        keys: KeyRing,
        extra: axum::Router,
    ) -> Self {
        let mut settings = settings;
        settings.database.url = database.url.clone();
        // Small pools: many tests share one PostgreSQL server.
        settings.database.max_connections = Some(4);
        // Bound first, so the public URL (links in mail, the passkeys' origin) names the port:
        // `localhost`, since WebAuthn refuses IP addresses.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        if settings.server.public_url.is_none() {
            settings.server.public_url = Some(format!("http://localhost:{port}"));
        }
        let wristband =
            wristband_server::pages::templates(Wristband::builder(config(settings, keys)))
                .start()
                .await
                .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let (tx, rx) = oneshot::channel();
        // The ready server's own pages (`/`, `/dashboard`) plus the test's routes.
        let router = wristband.wrap(wristband_server::pages::routes().merge(extra));
        let serving = wristband.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = serving
                .serve(listener, router, async {
                    let _ = rx.await;
                })
                .await
            {
                panic!("serving failed: {error}");
            }
        });
        Self {
            base,
            wristband,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// The use-case service behind the app.
    pub fn service(&self) -> &AuthService {
        self.wristband.service()
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.wristband.shutdown().await;
    }
}

/// A started app with its own database.
pub struct Fixture {
    pub app: TestApp,
    pub database: Database,
}

pub async fn spawn(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Fixture {
    spawn_with(backend, tweak, axum::Router::new()).await
}

/// [`spawn`] with extra routes behind Wristband's layers.
pub async fn spawn_with(
    backend: Backend,
    tweak: impl FnOnce(&mut Settings),
    extra: axum::Router,
) -> Fixture {
    let database = Database::new(backend).await;
    let mut settings = backend_settings(backend, &database.url);
    tweak(&mut settings);
    let app = TestApp::start_with(&database, settings, keys(SECRET, &[]), extra).await;
    Fixture { app, database }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts an RFC 9457 problem document with `status`, and returns it.
    pub fn problem(&self, status: StatusCode) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        for field in ["type", "title", "detail"] {
            assert!(problem[field].is_string(), "{field} missing: {problem}");
        }
        assert_eq!(problem["status"], status.as_u16());
        problem
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie`, parsed.
    pub fn set_cookies(&self) -> Vec<Cookie<'static>> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Cookie::parse(v.to_owned()).ok())
            .collect()
    }

    pub fn set_cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.set_cookies().into_iter().find(|c| c.name() == name)
    }

    /// The `csrf_token` of the first form on the page.
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("page has a csrf_token field") + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }

    /// Every `value` of inputs named `name` on the page.
    pub fn input_values(&self, name: &str) -> Vec<String> {
        let marker = format!("name=\"{name}\" value=\"");
        self.body
            .match_indices(&marker)
            .map(|(at, _)| {
                let start = at + marker.len();
                let end = self.body[start..].find('"').unwrap() + start;
                self.body[start..end].to_owned()
            })
            .collect()
    }

    /// The body without the per-request CSRF token, for comparing two pages.
    pub fn body_without_token(&self) -> String {
        match self.body.find("name=\"csrf_token\" value=\"") {
            Some(_) => self.body.replace(&self.csrf_token(), "TOKEN"),
            None => self.body.clone(),
        }
    }
}

/// Keeps cookies like a browser (set, replace, delete on Max-Age=0) and sends them back.
#[derive(Clone)]
pub struct Browser {
    base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub extra_headers: Vec<(String, String)>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self::with_client(base, Self::client_builder())
    }

    /// A browser whose connections come from `address` (any of 127.0.0.0/8 on loopback), so
    /// the server sees it as another client.
    pub fn from_address(base: &str, address: std::net::IpAddr) -> Self {
        Self::with_client(base, Self::client_builder().local_address(address))
    }

    fn client_builder() -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
    }

    fn with_client(base: &str, builder: reqwest::ClientBuilder) -> Self {
        Self {
            base: base.to_owned(),
            client: builder.build().unwrap(),
            cookies: BTreeMap::new(),
            extra_headers: Vec::new(),
        }
    }

    fn cookie_header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let joined = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::from_str(&joined).ok()
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let mut request = request;
        if let Some(cookies) = self.cookie_header() {
            request = request.header("cookie", cookies);
        }
        for (k, v) in &self.extra_headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let page = Page {
            status,
            headers,
            body,
        };
        for cookie in page.set_cookies() {
            let removed = cookie
                .max_age()
                .is_some_and(|a| a.is_zero() || a.is_negative());
            if removed {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// POSTs a URL-encoded form exactly as given (no token added).
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.post_raw(path, "application/x-www-form-urlencoded", body.into_bytes())
            .await
    }

    pub async fn post_raw(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.send(request).await
    }

    /// `method` with a JSON body (`PUT /api/v1/me/email`, …).
    pub async fn request_json(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Page {
        let request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    /// POSTs `body` as JSON.
    pub async fn post_json(&mut self, path: &str, body: &serde_json::Value) -> Page {
        self.post_raw(path, "application/json", serde_json::to_vec(body).unwrap())
            .await
    }

    /// A DELETE without a body.
    pub async fn delete(&mut self, path: &str) -> Page {
        let request = self.client.delete(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Any method, no body, with one extra header.
    pub async fn request_with_header(
        &mut self,
        method: reqwest::Method,
        path: &str,
        (name, value): (&str, &str),
    ) -> Page {
        let request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(name, value);
        self.send(request).await
    }

    /// Any method, no body.
    pub async fn request(&mut self, method: reqwest::Method, path: &str) -> Page {
        let request = self.client.request(method, format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Loads `form_page`, then POSTs `fields` plus its CSRF token to `action`.
    pub async fn submit(&mut self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(form_page).await.csrf_token();
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_form(action, &all).await
    }

    pub async fn register(&mut self, username: &str, password: &str) -> Page {
        self.submit(
            "/register",
            "/register",
            &[("username", username), ("password", password)],
        )
        .await
    }

    pub async fn login(&mut self, username: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    pub async fn logout(&mut self) -> Page {
        self.submit("/logout", "/logout", &[]).await
    }

    /// Registers and logs in; panics if either step fails.
    pub async fn sign_up(&mut self, username: &str) {
        let registered = self.register(username, PASSWORD).await;
        assert_eq!(
            registered.status,
            StatusCode::SEE_OTHER,
            "{}",
            registered.body
        );
        let logged_in = self.login(username, PASSWORD).await;
        assert_eq!(
            logged_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            logged_in.body
        );
    }
}

/// Defines `async fn $name(backend: Backend)` once and runs it on every leg of the matrix
/// (SQLite and PostgreSQL × database and cookie sessions), each as its own test
/// (`$name::sqlite_database_sessions`, …).
#[macro_export]
macro_rules! on_every_backend {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($backend: $crate::Backend) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_database_sessions() {
                    run($crate::Backend::SQLITE).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_cookie_sessions() {
                    run($crate::Backend::SQLITE_COOKIE).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_database_sessions() {
                    run($crate::Backend::POSTGRES).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_cookie_sessions() {
                    run($crate::Backend::POSTGRES_COOKIE).await;
                }
            }
        )*
    };
}

/// The `wristband` binary cargo built beside the running test (`target/<profile>/wristband`;
/// the test itself is in `target/<profile>/deps/`). Only the `wristband` package's own tests
/// can count on it being built.
pub fn wristband_binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test's own path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    profile_dir.join(format!("wristband{}", std::env::consts::EXE_SUFFIX))
}

/// A `wristband serve` process of its own, for tests that need several servers.
pub struct ServerProcess {
    pub base: String,
    child: std::process::Child,
}

impl ServerProcess {
    /// Starts the binary on a free port over `database_url` and waits until `/healthz` is OK.
    pub async fn start(database_url: &str, secret: &str) -> Self {
        Self::start_with(database_url, secret, &[], None).await
    }

    /// [`start`](Self::start) with extra environment variables, and stderr (the log) written
    /// to `log` when given.
    pub async fn start_with(
        database_url: &str,
        secret: &str,
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        Self::launch(1, || {
            let mut command = std::process::Command::new(wristband_binary());
            command
                .env("WRISTBAND_PROFILE", "test")
                .env("WRISTBAND_CONFIG_DIR", config_dir())
                .env("DATABASE_URL", database_url)
                .env("SECRET_KEY", secret)
                .env("WRISTBAND_PASSWORD__ARGON2__MEMORY_KIB", "64")
                .env("WRISTBAND_PASSWORD__ARGON2__ITERATIONS", "1")
                .env("WRISTBAND_DATABASE__MAX_CONNECTIONS", "4")
                .env("RUST_LOG", "warn");
            for (key, value) in env {
                command.env(key, value);
            }
            if let Some(log) = log {
                command.stderr(std::fs::File::create(log).unwrap());
            }
            command
        })
        .await
    }

    /// Runs `command()` with `serve --bind` on a free loopback port added and stdout discarded,
    /// and waits until `/healthz` is OK. A server that exits or is not up within 30 s is
    /// started again on another port (the free port may be taken before the server binds it),
    /// up to `attempts` times in all.
    pub async fn launch(attempts: usize, command: impl Fn() -> std::process::Command) -> Self {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        for _attempt in 0..attempts {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let bind = format!("127.0.0.1:{port}");
            let child = command()
                .args(["serve", "--bind", &bind])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut server = Self {
                base: format!("http://{bind}"),
                child,
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < deadline {
                if server.child.try_wait().unwrap().is_some() {
                    break;
                }
                let health = client.get(format!("{}/healthz", server.base)).send().await;
                if health.is_ok_and(|r| r.status() == StatusCode::OK) {
                    return server;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("wristband serve did not come up");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The project's `config/` folder.
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// The store a server over `url` opens (migrations applied).
pub async fn open_store(url: &str) -> Arc<dyn AuthStore> {
    let mut settings = test_settings(url);
    settings.database.max_connections = Some(2);
    let service = Wristband::builder(config(settings, KeyRing::random()))
        .open_service()
        .await
        .unwrap();
    Arc::clone(service.store())
}

/// Cheap Argon2 (commands that hash are tested for what they do, not what it costs) and a
/// quiet log, for [`Project::run`].
pub const QUICK_AND_QUIET: [(&str, &str); 3] = [
    ("WRISTBAND_PASSWORD__ARGON2__MEMORY_KIB", "64"),
    ("WRISTBAND_PASSWORD__ARGON2__ITERATIONS", "1"),
    ("RUST_LOG", "warn"),
];

/// A temporary folder with a copy of the project's configuration files in `config/`, to run
/// the `wristband` binary in; optionally with a fresh database of its own.
pub struct Project {
    dir: tempfile::TempDir,
    database: Option<Database>,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    /// A folder with the configuration and no database: commands use the configured one.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config")).unwrap();
        for entry in std::fs::read_dir(config_dir()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                dir.path().join("config").join(entry.file_name()),
            )
            .unwrap();
        }
        Self {
            dir,
            database: None,
        }
    }

    /// A folder with the configuration and a fresh database of `store`, which commands get
    /// as `DATABASE_URL` (SQLite: `data/wristband.db` in the folder, not yet created).
    pub async fn with_database(store: Store) -> Self {
        let mut project = Self::new();
        let database = match store {
            Store::Sqlite => Database::at(&format!(
                "sqlite://{}",
                project.dir.path().join("data/wristband.db").display()
            )),
            Store::Postgres => Database::new(Backend::POSTGRES).await,
        };
        project.database = Some(database);
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The database's URL; panics for a project without one.
    pub fn url(&self) -> &str {
        &self
            .database
            .as_ref()
            .expect("a project with a database")
            .url
    }

    /// `wristband ARGS` in the folder, with a clean Wristband environment (none of the
    /// caller's `WRISTBAND_*`, `SECRET_KEY`, `SECRET_KEY_FALLBACKS` or `DATABASE_URL`), this
    /// configuration and database, then `env`; no stdin.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(wristband_binary());
        command.current_dir(self.path()).args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("WRISTBAND_")
                || key == "SECRET_KEY"
                || key == "SECRET_KEY_FALLBACKS"
                || key == "DATABASE_URL"
            {
                command.env_remove(key);
            }
        }
        command.env("WRISTBAND_CONFIG_DIR", self.path().join("config"));
        if let Some(database) = &self.database {
            command.env("DATABASE_URL", &database.url);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        command.stdin(Stdio::null());
        command
    }

    /// Runs [`command`](Self::command) to the end, with `stdin` piped in when given.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut command = self.command(args, env);
        let Some(stdin) = stdin else {
            return command.output().unwrap();
        };
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        // Written from a thread: a command that exits without reading must not block us.
        let mut input = child.stdin.take().unwrap();
        let bytes = stdin.as_bytes().to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&bytes);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        output
    }

    /// Writes `content` to `name` in the folder.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// The store the server would open over this database.
    pub async fn store(&self) -> Arc<dyn AuthStore> {
        open_store(self.url()).await
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Exactly one line on stderr, and no panic.
#[track_caller]
pub fn assert_one_line(output: &Output) {
    let text = stderr(output);
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "one line on stderr: {text}"
    );
    assert!(
        !text.contains("panicked") && !text.contains("backtrace"),
        "{text}"
    );
}

/// Which write a [`Sabotage`] makes fail.
#[derive(Debug, Clone, Copy)]
pub enum Failing {
    /// Inserting a session row.
    SessionInsert,
    /// Changing a user's auth stamp.
    AuthStampUpdate,
}

/// A trigger in the test's real database that makes one kind of write fail, so a test can
/// show what a failure midway through a use case leaves behind.
pub struct Sabotage {
    db: store_seaorm::sea_orm::DatabaseConnection,
    postgres: bool,
}

impl Sabotage {
    pub async fn install(database: &Database, failing: Failing) -> Self {
        use store_seaorm::sea_orm::ConnectionTrait;
        let db = store_seaorm::sea_orm::Database::connect(&database.url)
            .await
            .unwrap();
        let postgres = database.url.starts_with("postgres");
        let statements: Vec<String> = match (postgres, failing) {
            (false, Failing::SessionInsert) => vec![
                "CREATE TRIGGER sabotage BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'sabotaged'); END".into(),
            ],
            (false, Failing::AuthStampUpdate) => vec![
                "CREATE TRIGGER sabotage BEFORE UPDATE OF auth_stamp ON users BEGIN SELECT RAISE(ABORT, 'sabotaged'); END".into(),
            ],
            (true, failing) => vec![
                "CREATE FUNCTION sabotage() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'sabotaged'; END $$ LANGUAGE plpgsql".into(),
                match failing {
                    Failing::SessionInsert => "CREATE TRIGGER sabotage BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION sabotage()".into(),
                    Failing::AuthStampUpdate => "CREATE TRIGGER sabotage BEFORE UPDATE OF auth_stamp ON users FOR EACH ROW EXECUTE FUNCTION sabotage()".into(),
                },
            ],
        };
        for statement in statements {
            db.execute_unprepared(&statement).await.unwrap();
        }
        Self { db, postgres }
    }

    pub async fn remove(self) {
        use store_seaorm::sea_orm::ConnectionTrait;
        if self.postgres {
            self.db
                .execute_unprepared("DROP FUNCTION sabotage() CASCADE")
                .await
                .unwrap();
        } else {
            self.db
                .execute_unprepared("DROP TRIGGER sabotage")
                .await
                .unwrap();
        }
    }
}
