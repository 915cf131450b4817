//! A Flask app's users move to Wristband and keep their passwords: the export of a real Flask
//! app (`tests/data/flask-app/`, Werkzeug's scrypt and pbkdf2 hashes and a legacy `sha256$`
//! one) is imported with `wristband user import` into a fresh SQLite and PostgreSQL database,
//! then every user logs in over HTTP to `wristband serve` with their original password, and the
//! stored hash becomes Argon2id at that first login.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth_core::{AuthStore, UserCredentials, Username};
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "flask-import-test-secret-key-of-at-least-32-bytes";

/// The fixture's users, passwords and hash kinds (see `tests/data/flask-app/README.md`).
const USERS: [(&str, &str, &str); 5] = [
    ("alice", "correct horse battery staple", "scrypt:32768:8:1$"),
    ("Bob", "Tr0ub4dor&3 is not enough", "scrypt:32768:8:1$"),
    (
        "carol",
        "pässwörd mit Ümläuten 🔑",
        "pbkdf2:sha256:1000000$",
    ),
    ("józef", "Zażółć gęślą jaźń", "pbkdf2:sha256:600000$"),
    ("dave", "hunter2", "sha256$"),
];
/// The one row Wristband refuses: Flask took an e-mail address as a name.
const EMAIL_USER: (&str, &str) = ("eve@example.com", "eve's long passphrase");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/flask-app")
        .join(name)
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A folder with the project's configuration and a fresh database.
struct Env {
    dir: tempfile::TempDir,
    url: String,
    _postgres: Option<store_postgres::testing::TestDatabase>,
}

impl Env {
    async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        std::fs::create_dir(dir.path().join("config")).unwrap();
        for entry in std::fs::read_dir(config).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                dir.path().join("config").join(entry.file_name()),
            )
            .unwrap();
        }
        let (url, postgres) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("wristband.db").display()),
                None,
            ),
            Backend::Postgres => {
                let database = store_postgres::testing::TestDatabase::create().await;
                (database.url.clone(), Some(database))
            }
        };
        Self {
            dir,
            url,
            _postgres: postgres,
        }
    }

    /// `wristband ARGS` with a clean Wristband environment, this database and key.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wristband"));
        command.current_dir(self.dir.path()).args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("WRISTBAND_")
                || key == "SECRET_KEY"
                || key == "SECRET_KEY_FALLBACKS"
                || key == "DATABASE_URL"
            {
                command.env_remove(key);
            }
        }
        command
            .env("WRISTBAND_CONFIG_DIR", self.dir.path().join("config"))
            .env("DATABASE_URL", &self.url)
            .env("SECRET_KEY", SECRET)
            // Cheap Argon2 for the upgraded hashes; the Werkzeug ones cost what Flask made them.
            .env("WRISTBAND_PASSWORD__ARGON2__MEMORY_KIB", "64")
            .env("WRISTBAND_PASSWORD__ARGON2__ITERATIONS", "1")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    async fn store(&self) -> Arc<dyn AuthStore> {
        web::stores::open(&self.url, Some(2)).await.unwrap()
    }
}

/// A `wristband serve` process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `wristband serve` on a free loopback port and waits for `/healthz`.
async fn serve(env: &Env, client: &reqwest::Client) -> Server {
    for _attempt in 0..3 {
        // The port is free now; another process could take it before the server binds, in
        // which case the server exits and the next attempt picks another.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = format!("127.0.0.1:{port}");
        let child = env
            .command(&["serve", "--bind", &bind])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            base: format!("http://{bind}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if server.child.try_wait().unwrap().is_some() {
                break;
            }
            let health = client.get(format!("{}/healthz", server.base)).send().await;
            if health.is_ok_and(|r| r.status() == StatusCode::OK) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = server.child.kill();
    }
    panic!("wristband serve did not become healthy");
}

/// A browser without cookie support of its own: cookies are kept here, by name.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = header.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removed = value.is_empty() || text.to_ascii_lowercase().contains("max-age=0");
            if removed {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        (response.status(), response.text().await.unwrap())
    }

    /// GET /login for the form's token, POST it; the status and `Location`.
    async fn login(&mut self, username: &str, password: &str) -> (StatusCode, Option<String>) {
        let (status, page) = self.get("/login").await;
        assert_eq!(status, StatusCode::OK);
        let marker = "name=\"csrf_token\" value=\"";
        let start = page.find(marker).expect("the login form has a csrf_token") + marker.len();
        let token = page[start..].split('"').next().unwrap().to_owned();
        assert!(
            self.cookies.contains_key("wristband_csrf"),
            "{:?}",
            self.cookies
        );
        let response = self
            .client
            .post(format!("{}/login", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (response.status(), location)
    }
}

async fn credentials(store: &dyn AuthStore, name: &str) -> Option<UserCredentials> {
    store
        .find_credentials(&Username::parse(name).unwrap())
        .await
        .unwrap()
}

async fn flask_users_log_in_with_their_old_passwords(backend: Backend, export: &str) {
    let env = Env::new(backend).await;
    let file = fixture(export);
    let imported = env.run(&["user", "import", file.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&imported.stdout),
        String::from_utf8_lossy(&imported.stderr),
    );
    // One row is refused (the e-mail address), so the status is 1 and the others are in.
    assert_eq!(imported.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stdout, "imported 5, existing 0, invalid 1\n");
    let line = if export.ends_with(".csv") { 7 } else { 6 };
    assert!(
        stderr.starts_with(&format!("line {line}: invalid username: ")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("scrypt:") && !stderr.contains("$"),
        "no hash printed: {stderr}"
    );

    let store = env.store().await;
    for (name, _, prefix) in USERS {
        let stored = credentials(&*store, name).await.unwrap();
        assert!(
            stored.password_hash.expose().starts_with(prefix),
            "{name} imported as is"
        );
        assert_eq!(
            stored.user.username.as_str(),
            name,
            "shown as registered in Flask"
        );
    }

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let server = serve(&env, &client).await;
    let browser = |client: &reqwest::Client| Browser {
        client: client.clone(),
        base: server.base.clone(),
        cookies: BTreeMap::new(),
    };

    // A wrong password is still wrong.
    let (status, _) = browser(&client)
        .login("alice", "correct horse battery stapler")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (email, password) = EMAIL_USER;
    let (status, _) = browser(&client).login(email, password).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the refused row was not imported"
    );

    for (name, password, _) in USERS {
        let mut b = browser(&client);
        let (status, location) = b.login(name, password).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "{name} logs in with the Flask password"
        );
        assert_eq!(location.as_deref(), Some("/dashboard"));
        let (status, page) = b.get("/dashboard").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(&format!("Welcome to your private dashboard, {name}!")),
            "{page}"
        );
        let upgraded = credentials(&*store, name).await.unwrap();
        assert!(
            upgraded.password_hash.expose().starts_with("$argon2id$"),
            "{name}'s hash is upgraded at the first login"
        );
        // And the new hash works: a second login, now against Argon2id.
        let (status, _) = browser(&client).login(&name.to_uppercase(), password).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{name} again, any case");
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_on_sqlite() {
    flask_users_log_in_with_their_old_passwords(Backend::Sqlite, "users.csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_on_postgres() {
    flask_users_log_in_with_their_old_passwords(Backend::Postgres, "users.csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_export_on_sqlite() {
    flask_users_log_in_with_their_old_passwords(Backend::Sqlite, "users.jsonl").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_export_on_postgres() {
    flask_users_log_in_with_their_old_passwords(Backend::Postgres, "users.jsonl").await;
}

/// The exports are the Flask database's `user` table, row for row, so the test above is about
/// what the Flask app really stored.
#[tokio::test]
async fn the_exports_are_the_flask_databases_users() {
    use store_seaorm::sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
    let url = format!("sqlite://{}?mode=ro", fixture("flask.db").display());
    let db = Database::connect(&url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT username, password_hash FROM user ORDER BY id",
        ))
        .await
        .unwrap();
    let in_db: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "username").unwrap(),
                r.try_get("", "password_hash").unwrap(),
            )
        })
        .collect();
    db.close().await.unwrap();
    assert_eq!(in_db.len(), USERS.len() + 1);

    for export in ["users.csv", "users.jsonl"] {
        let (_, parsed) = web::import::read_file(&fixture(export), &mut |_| {}).unwrap();
        let exported: Vec<(String, String)> = parsed
            .rows
            .iter()
            .map(|r| {
                (
                    r.username.as_str().to_owned(),
                    r.password_hash.expose().to_owned(),
                )
            })
            .collect();
        let valid_in_db: Vec<_> = in_db
            .iter()
            .filter(|(name, _)| name != EMAIL_USER.0)
            .cloned()
            .collect();
        assert_eq!(exported, valid_in_db, "{export}");
        assert_eq!(parsed.rejected.len(), 1, "{export}");
    }
}
