//! A Flask app's users move to Wristband and keep their passwords: the export of a real Flask
//! app (`tests/data/flask-app/`, Werkzeug's scrypt and pbkdf2 hashes and a legacy `sha256$`
//! one) is imported with `wristband user import` into a fresh SQLite and PostgreSQL database,
//! then every user logs in over HTTP to `wristband serve` with their original password, and the
//! stored hash becomes Argon2id at that first login.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;

#[path = "../src/import_file.rs"]
#[allow(dead_code)]
mod import_file;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use auth_core::{AuthStore, UserCredentials, Username};
use common::{Project, QUICK_AND_QUIET, ServerProcess, Store};
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// The environment of every command: this key, cheap Argon2 for the upgraded hashes (the
/// Werkzeug ones cost what Flask made them) and a quiet log.
fn command_env() -> Vec<(&'static str, &'static str)> {
    let mut env = vec![("SECRET_KEY", SECRET)];
    env.extend(QUICK_AND_QUIET);
    env
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

async fn flask_users_log_in_with_their_old_passwords(store: Store, export: &str) {
    let env = Project::with_database(store).await;
    let file = fixture(export);
    let imported = env.run(
        &["user", "import", file.to_str().unwrap()],
        &command_env(),
        None,
    );
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
            stored
                .password_hash
                .expose()
                .starts_with(&format!("wrapped:{prefix}")),
            "{name}'s Flask hash is wrapped in Argon2id at import"
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
    // Started again on another port should the free one be taken before the server binds it.
    let server = ServerProcess::launch(3, || env.command(&[], &command_env())).await;
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
    flask_users_log_in_with_their_old_passwords(Store::Sqlite, "users.csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_on_postgres() {
    flask_users_log_in_with_their_old_passwords(Store::Postgres, "users.csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_export_on_sqlite() {
    flask_users_log_in_with_their_old_passwords(Store::Sqlite, "users.jsonl").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_export_on_postgres() {
    flask_users_log_in_with_their_old_passwords(Store::Postgres, "users.jsonl").await;
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
        let (_, parsed) =
            import_file::read_file(&fixture(export), &Default::default(), &mut |_| {}).unwrap();
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
