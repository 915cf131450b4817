//! `wristband user …` and `wristband sessions purge`: the built binary against a SQLite file
//! and a PostgreSQL database, checked through the store the server would use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use auth_core::{
    Argon2Hasher, Argon2Settings, AuthStore, HasherConfig, NewSession, PasswordHashString,
    PasswordHasher, SecretString, SessionTimeouts, SessionToken, UserCredentials, Username,
    Verification,
};
use common::{PASSWORD, Project, QUICK_AND_QUIET, Store, assert_one_line, stderr, stdout};
use std::process::Output;
use std::time::Duration;
use time::OffsetDateTime;

const NEW_PASSWORD: &str = "a brand new passphrase for you";
/// Real hashes `auth_core::foreign_hash::identify` accepts (the Argon2 one is of `PASSWORD`).
const PBKDF2: &str = "pbkdf2:sha256:1000$a7f2wpZXy4OXcudY$cbbfdb672eba1a6237334671748f7e895046414ce70b4f4634524c4d88b104d4";
/// The password of [`PBKDF2`] (from `auth-core/tests/data/foreign-hashes.json`).
const PBKDF2_PASSWORD: &str = "pässwörd ☕ 密码 🔑";
const BCRYPT: &str = "$2b$04$E.qmUDplH11bX8ypNRIv2Oc5.embvNEtfh80RAxydfjB3BySHLEnK";
const ARGON2: &str = "$argon2id$v=19$m=64,t=1,p=1$fAZTzIV5BAroPjkp7yA7Sw$hiqzitjwC0NI5gKjlvRUj8Te7NWFF9ys5oyb7MjOB+g";

/// `stored` is `foreign` wrapped in Argon2id: its parameters and salt kept, its output gone.
#[track_caller]
fn assert_wrapped(stored: &PasswordHashString, foreign: &str) {
    let (stub, output) = if foreign.starts_with("$2") {
        foreign.split_at(29)
    } else {
        foreign.rsplit_once('$').unwrap()
    };
    let text = stored.expose();
    assert!(
        text.starts_with(&format!("wrapped:{stub}|$argon2id$")),
        "{text}"
    );
    assert!(
        !text.contains(output),
        "the foreign output is stored: {text}"
    );
}

/// A [`Project`] with a fresh database of one store.
struct Env(Project);

impl Env {
    async fn new(store: Store) -> Self {
        Self(Project::with_database(store).await)
    }

    /// Runs `wristband ARGS` with `stdin` piped in, cheap Argon2 and a quiet log.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        self.0.run(args, &QUICK_AND_QUIET, Some(stdin))
    }
}

impl std::ops::Deref for Env {
    type Target = Project;

    fn deref(&self) -> &Project {
        &self.0
    }
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// Exit `code` with exactly one line on stderr, and no panic.
#[track_caller]
fn assert_fails_in_one_line(output: &Output, code: i32) {
    assert_exit(output, code);
    assert_one_line(output);
    let text = stderr(output);
    assert!(text.starts_with("wristband: "), "{text}");
}

fn name(raw: &str) -> Username {
    Username::parse(raw).unwrap()
}

async fn credentials(store: &dyn AuthStore, raw: &str) -> Option<UserCredentials> {
    store.find_credentials(&name(raw)).await.unwrap()
}

async fn verifies(hash: &PasswordHashString, password: &str) -> bool {
    let hasher = Argon2Hasher::start(HasherConfig {
        argon2: Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        workers: 1,
        queue: 4,
        ..HasherConfig::default()
    })
    .unwrap();
    matches!(
        hasher
            .verify(&SecretString::new(password), hash)
            .await
            .unwrap(),
        Verification::Match { .. }
    )
}

/// Logs `raw` in on the server side: a live session, and its token.
async fn session_for(store: &dyn AuthStore, raw: &str) -> SessionToken {
    let user = credentials(store, raw).await.unwrap().user;
    let token = SessionToken::generate();
    let timeouts = SessionTimeouts {
        idle: Duration::from_secs(1800),
        absolute: Duration::from_secs(12 * 3600),
        remember_for: Duration::from_secs(30 * 86400),
    };
    let new = NewSession::at_login(
        token.digest(),
        user.id,
        OffsetDateTime::now_utc(),
        false,
        &timeouts,
        Some("cli-test".into()),
    );
    store.insert_session(&new).await.unwrap();
    token
}

async fn is_live(store: &dyn AuthStore, token: &SessionToken) -> bool {
    store
        .load_session(&token.digest(), OffsetDateTime::now_utc())
        .await
        .unwrap()
        .is_some()
}

/// Each test once on SQLite and once on PostgreSQL, as `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($env:ident: Env) $body:block)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(Env::new(Store::Sqlite).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run(Env::new(Store::Postgres).await).await;
                }

                async fn run($env: Env) $body
            }
        )*
    };
}

on_both_backends! {
    async fn add_reads_the_password_from_stdin_and_list_shows_the_user(env: Env) {
        // Only the line ending goes: the spaces around the password are part of it.
        let added = env.run(&["user", "add", "Alice"], &format!("  {PASSWORD}  \n"));
        assert_exit(&added, 0);
        assert!(stdout(&added).contains("Alice"), "{}", stdout(&added));
        let added = env.run(&["user", "add", "bob"], &format!("{PASSWORD}\r\n"));
        assert_exit(&added, 0);

        let listed = env.run(&["user", "list"], "");
        assert_exit(&listed, 0);
        let text = stdout(&listed);
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(rows.len(), 2, "nothing else on stdout: {text:?}");
        let store = env.store().await;
        let alice = credentials(&*store, "alice").await.unwrap();
        assert_eq!(rows[0][0], alice.user.id.to_string());
        assert_eq!(rows[0][1], "Alice", "shown as registered");
        let created = OffsetDateTime::parse(rows[0][2], &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(created, alice.user.created_at);
        assert_eq!(rows[1].len(), 5);
        assert_eq!(&rows[1][3..], ["-", "-"], "no address");
        assert_eq!(rows[1][1], "bob");

        assert!(alice.password_hash.expose().starts_with("$argon2id$"));
        assert!(verifies(&alice.password_hash, &format!("  {PASSWORD}  ")).await);
        assert!(!verifies(&alice.password_hash, PASSWORD).await);
        let bob = credentials(&*store, "bob").await.unwrap();
        assert!(verifies(&bob.password_hash, PASSWORD).await, "CRLF is a line ending too");
        assert!(!stdout(&added).contains("argon2"), "no hash printed");
    }

    async fn add_of_a_taken_name_in_another_case_exits_1(env: Env) {
        assert_exit(&env.run(&["user", "add", "alice"], PASSWORD), 0);
        let store = env.store().await;
        let before = credentials(&*store, "alice").await.unwrap();
        let taken = env.run(&["user", "add", "ALICE"], NEW_PASSWORD);
        assert_fails_in_one_line(&taken, 1);
        assert!(stderr(&taken).contains("exists"), "{}", stderr(&taken));
        let after = credentials(&*store, "alice").await.unwrap();
        assert_eq!(after.password_hash, before.password_hash);
        assert_eq!(store.list_users().await.unwrap().len(), 1);
    }

    async fn rule_breaking_passwords_and_names_exit_2_and_create_nothing(env: Env) {
        for (name, password, says) in [
            ("alice", "short", "at least 12"),
            ("alice", "password1234", "too common"),
            ("aliceinchains", "AliceInChains", "username"),
            ("alice", "", "no password"),
            ("alice", "\n", "no password"),
            ("bad name", PASSWORD, "invalid username"),
            ("", PASSWORD, "invalid username"),
        ] {
            let output = env.run(&["user", "add", name], password);
            assert_fails_in_one_line(&output, 2);
            assert!(stderr(&output).contains(says), "{name:?}/{password:?}: {}", stderr(&output));
            assert!(password.len() < 5 || !stderr(&output).contains(password), "password echoed");
        }
        let store = env.store().await;
        assert!(store.list_users().await.unwrap().is_empty());
        let listed = env.run(&["user", "list"], "");
        assert_exit(&listed, 0);
        assert_eq!(stdout(&listed), "");
    }

    async fn delete_removes_the_user_and_ends_their_sessions(env: Env) {
        assert_exit(&env.run(&["user", "add", "alice"], PASSWORD), 0);
        assert_exit(&env.run(&["user", "add", "bob"], PASSWORD), 0);
        let store = env.store().await;
        let alice_session = session_for(&*store, "alice").await;
        let bob_session = session_for(&*store, "bob").await;
        assert!(is_live(&*store, &alice_session).await);

        assert_exit(&env.run(&["user", "delete", "ALICE"], ""), 0);
        assert!(credentials(&*store, "alice").await.is_none());
        assert!(!is_live(&*store, &alice_session).await, "the session ended with the user");
        assert!(is_live(&*store, &bob_session).await, "others untouched");

        let again = env.run(&["user", "delete", "alice"], "");
        assert_fails_in_one_line(&again, 1);
        assert!(stderr(&again).contains("alice"), "{}", stderr(&again));
        assert_fails_in_one_line(&env.run(&["user", "delete", "nobody"], ""), 1);
    }

    async fn set_password_replaces_the_hash_and_ends_every_session(env: Env) {
        assert_exit(&env.run(&["user", "add", "alice"], PASSWORD), 0);
        let store = env.store().await;
        let before = credentials(&*store, "alice").await.unwrap();
        let first = session_for(&*store, "alice").await;
        let second = session_for(&*store, "alice").await;

        // A refused password changes nothing.
        let weak = env.run(&["user", "set-password", "alice"], "short");
        assert_fails_in_one_line(&weak, 2);
        assert_eq!(credentials(&*store, "alice").await.unwrap().password_hash, before.password_hash);
        assert!(is_live(&*store, &first).await);

        let reset = env.run(&["user", "set-password", "Alice"], &format!("{NEW_PASSWORD}\n"));
        assert_exit(&reset, 0);
        assert!(stdout(&reset).contains("2 sessions ended"), "{}", stdout(&reset));
        let after = credentials(&*store, "alice").await.unwrap();
        assert_ne!(after.password_hash, before.password_hash);
        assert!(verifies(&after.password_hash, NEW_PASSWORD).await);
        assert!(!verifies(&after.password_hash, PASSWORD).await);
        assert!(!is_live(&*store, &first).await && !is_live(&*store, &second).await);
        assert_ne!(after.user.auth_stamp, before.user.auth_stamp, "cookie sessions end too");

        let unknown = env.run(&["user", "set-password", "nobody"], NEW_PASSWORD);
        assert_fails_in_one_line(&unknown, 1);
    }

    async fn set_email_sets_a_verified_address_and_notices_reach_the_old_one(env: Env) {
        let smtp = common::SmtpServer::start().await;
        let url = smtp.url();
        let mut mail_env: Vec<(&str, &str)> = QUICK_AND_QUIET.to_vec();
        mail_env.extend([
            ("WRISTBAND_MAIL__TRANSPORT", "smtp"),
            ("WRISTBAND_MAIL__SMTP_URL", url.as_str()),
            ("WRISTBAND_MAIL__FROM", "Shop <no-reply@shop.example>"),
        ]);
        let run = |args: &[&str], stdin: &str| env.0.run(args, &mail_env, Some(stdin));
        assert_exit(&env.run(&["user", "add", "alice"], PASSWORD), 0);
        assert_exit(&env.run(&["user", "add", "bob"], PASSWORD), 0);

        let set = run(&["user", "set-email", "ALICE", "Alice@Example.org"], "");
        assert_exit(&set, 0);
        assert!(stdout(&set).contains("Alice@Example.org (verified)"), "{}", stdout(&set));
        let listed = env.run(&["user", "list"], "");
        let text = stdout(&listed);
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(&rows[0][3..], ["Alice@Example.org", "verified"]);
        assert_eq!(&rows[1][3..], ["-", "-"]);
        // An administrator vouches for the address: no link is sent.
        smtp.assert_nothing_for("alice@example.org", Duration::from_millis(300)).await;

        // A new address: the old one hears of it before the command exits.
        assert_exit(&run(&["user", "set-email", "alice", "new@example.org"], ""), 0);
        let notice = smtp
            .wait_for("alice@example.org", |m| m.subject == "Your email address was changed", Duration::from_secs(2))
            .await;
        assert!(notice.text.contains("example.org"));
        // An administrator's password reset is notified too.
        assert_exit(&run(&["user", "set-password", "alice"], &format!("{NEW_PASSWORD}\n")), 0);
        smtp.wait_for("new@example.org", |m| m.subject == "Your password was reset", Duration::from_secs(2))
            .await;

        assert_fails_in_one_line(&run(&["user", "set-email", "bob", "NEW@example.org"], ""), 1);
        assert_fails_in_one_line(&run(&["user", "set-email", "bob", "not an address"], ""), 2);
        assert_fails_in_one_line(&run(&["user", "set-email", "nobody", "x@example.org"], ""), 1);
        let store = env.store().await;
        assert_eq!(credentials(&*store, "bob").await.unwrap().user.email, None, "nothing changed");
    }

    async fn reset_2fa_clears_every_second_factor(env: Env) {
        assert_exit(&env.run(&["user", "add", "alice"], PASSWORD), 0);
        let store = env.store().await;
        let alice = credentials(&*store, "alice").await.unwrap().user;
        assert!(store.enable_totp(alice.id, b"sealed", &[[7; 32]]).await.unwrap());
        assert!(store.second_factors(alice.id).await.unwrap().any());
        let reset = env.run(&["user", "reset-2fa", "ALICE"], "");
        assert_exit(&reset, 0);
        assert!(stdout(&reset).contains("second factors of ALICE cleared"), "{}", stdout(&reset));
        assert_eq!(store.second_factors(alice.id).await.unwrap(), auth_core::SecondFactors::default());
        let again = env.run(&["user", "reset-2fa", "alice"], "");
        assert_exit(&again, 0);
        assert!(stdout(&again).contains("had no second factor"));
        assert_fails_in_one_line(&env.run(&["user", "reset-2fa", "nobody"], ""), 1);
    }

    async fn sessions_purge_deletes_only_what_expired_and_prints_the_counts(env: Env) {
        assert_exit(&env.run(&["user", "add", "alice"], PASSWORD), 0);
        let store = env.store().await;
        let live = session_for(&*store, "alice").await;
        let user = credentials(&*store, "alice").await.unwrap().user;
        let now = OffsetDateTime::now_utc();
        for hours_ago in [20, 30] {
            let started = now - Duration::from_secs(hours_ago * 3600);
            store
                .insert_session(&NewSession::at_login(
                    SessionToken::generate().digest(),
                    user.id,
                    started,
                    false,
                    &SessionTimeouts {
                        idle: Duration::from_secs(1800),
                        absolute: Duration::from_secs(12 * 3600),
                        remember_for: Duration::from_secs(86400),
                    },
                    None,
                ))
                .await
                .unwrap();
        }
        let stale = auth_core::ThrottleKey::account("alice");
        let fresh = auth_core::ThrottleKey::account("bob");
        store.record_failure(&stale, Duration::from_secs(60), now - Duration::from_secs(3600)).await.unwrap();
        store.record_failure(&fresh, Duration::from_secs(900), now).await.unwrap();

        let purged = env.run(&["sessions", "purge"], "");
        assert_exit(&purged, 0);
        assert_eq!(
            stdout(&purged).trim(),
            "purged 2 expired sessions, 1 stale login-throttle counters and 0 expired API tokens"
        );
        assert!(is_live(&*store, &live).await);
        let counts = store.failure_counts(&[stale, fresh], now).await.unwrap();
        assert!(counts[0].is_none() && counts[1].is_some());
        let again = env.run(&["sessions", "purge"], "");
        assert_eq!(stdout(&again).trim(), "purged 0 expired sessions, 0 stale login-throttle counters and 0 expired API tokens");
    }

    async fn import_csv_reports_bad_rows_by_line_and_never_overwrites(env: Env) {
        assert_exit(&env.run(&["user", "add", "carol"], PASSWORD), 0);
        let store = env.store().await;
        let carol = credentials(&*store, "carol").await.unwrap();
        let file = env.file(
            "users.csv",
            &format!(
                "id,username,password_hash\n\
                 1,alice,{PBKDF2}\n\
                 2,bad name,{PBKDF2}\n\
                 3,bob,plain$$hunter2\n\
                 4,Carol,{BCRYPT}\n\
                 5,dave,{BCRYPT}\n\
                 6,erin,\"{ARGON2}\"\n\
                 7,ERIN,{PBKDF2}\n\
                 8,frank,md5$salt$deadbeef\n"
            ),
        );
        let output = env.run(&["user", "import", file.to_str().unwrap()], "");
        assert_exit(&output, 1);
        assert_eq!(stdout(&output), "imported 2, existing 1, invalid 5\n");
        let text = stderr(&output);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7, "{text}");
        assert!(lines[0].starts_with("line 3: invalid username"), "{text}");
        assert!(lines[1].starts_with("line 4: invalid password hash: a plaintext password"), "{text}");
        assert_eq!(lines[2], "line 5: user Carol exists; not overwritten");
        assert!(lines[3].starts_with("line 7: user erin appears 2 times"), "{text}");
        assert!(lines[4].starts_with("line 8: user ERIN appears 2 times"), "{text}");
        assert!(lines[5].starts_with("line 9: invalid password hash"), "{text}");
        assert!(lines[6].starts_with("wristband: "), "{text}");
        for secret in ["hunter2", "deadbeef", "a7f2wpZXy4OXcudY", "E.qmUDplH11bX8yp"] {
            assert!(!text.contains(secret) && !stdout(&output).contains(secret), "{secret} printed");
        }

        let alice = credentials(&*store, "alice").await.unwrap();
        assert_wrapped(&alice.password_hash, PBKDF2);
        assert_wrapped(&credentials(&*store, "dave").await.unwrap().password_hash, BCRYPT);
        let carol_now = credentials(&*store, "carol").await.unwrap();
        assert_eq!(carol_now.password_hash, carol.password_hash, "existing user not overwritten");
        assert_eq!(carol_now.user.auth_stamp, carol.user.auth_stamp);
        assert!(credentials(&*store, "erin").await.is_none(), "ambiguous rows are not imported");
        assert_eq!(store.list_users().await.unwrap().len(), 3);

        // Again: nothing new, existing users are not errors, so only the invalid rows fail it.
        let again = env.run(&["user", "import", file.to_str().unwrap()], "");
        assert_eq!(stdout(&again), "imported 0, existing 3, invalid 5\n");
    }

    async fn import_json_lines_by_extension_or_first_line(env: Env) {
        let content = format!(
            "{{\"username\": \"alice\", \"password_hash\": \"{PBKDF2}\"}}\n\
             \n\
             {{\"username\": \"bob\", \"password_hash\": 42}}\n\
             not json at all\n\
             {{\"username\": \"dave\", \"password_hash\": \"{}\", \"email\": \"d@example.com\"}}\n",
            BCRYPT.replace('$', "\\u0024")
        );
        let jsonl = env.file("users.jsonl", &content);
        let output = env.run(&["user", "import", jsonl.to_str().unwrap()], "");
        assert_exit(&output, 1);
        assert_eq!(stdout(&output), "imported 2, existing 0, invalid 2\n");
        let text = stderr(&output);
        assert!(text.contains("line 3: `password_hash` is not a string\n"), "{text}");
        assert!(text.contains("line 4: not valid JSON"), "{text}");
        let store = env.store().await;
        assert_wrapped(&credentials(&*store, "dave").await.unwrap().password_hash, BCRYPT);

        // No telling extension: the first non-empty line decides.
        let sniffed = env.file("export.txt", &format!("\n{{\"username\": \"erin\", \"password_hash\": \"{ARGON2}\"}}\n"));
        let output = env.run(&["user", "import", sniffed.to_str().unwrap()], "");
        assert_exit(&output, 0);
        assert_eq!(stdout(&output), "imported 1, existing 0, invalid 0\n");
        assert!(credentials(&*store, "erin").await.is_some());
        let ndjson = env.file("more.ndjson", &format!("{{\"username\": \"frank\", \"password_hash\": \"{ARGON2}\"}}"));
        assert_exit(&env.run(&["user", "import", ndjson.to_str().unwrap()], ""), 0);
        assert!(credentials(&*store, "frank").await.is_some());
    }

    async fn import_refuses_hashes_above_the_import_cost_limits(env: Env) {
        let costly_pbkdf2 = PBKDF2.replace(":1000$", ":3000000$");
        let costly_bcrypt = BCRYPT.replace("$2b$04$", "$2b$14$");
        let file = env.file(
            "costly.csv",
            &format!("username,password_hash\nalice,{PBKDF2}\nbob,{costly_pbkdf2}\ncarol,{costly_bcrypt}\n"),
        );
        let output = env.run(&["user", "import", file.to_str().unwrap()], "");
        assert_exit(&output, 1);
        assert_eq!(stdout(&output), "imported 1, existing 0, invalid 2\n");
        let text = stderr(&output);
        assert!(text.contains("line 3: invalid password hash: the hash's cost is above `password.import_max_cost.pbkdf2_iterations` (2000000)"), "{text}");
        assert!(text.contains("line 4: invalid password hash: the hash's cost is above `password.import_max_cost.bcrypt_cost` (13)"), "{text}");
        // The limits are configuration.
        let raised = env.0.run(
            &["user", "import", file.to_str().unwrap()],
            &[
                QUICK_AND_QUIET[0],
                QUICK_AND_QUIET[1],
                QUICK_AND_QUIET[2],
                ("WRISTBAND_PASSWORD__IMPORT_MAX_COST__BCRYPT_COST", "14"),
            ],
            None,
        );
        assert!(stdout(&raised).starts_with("imported 1, existing 1, invalid 1"), "{}", stdout(&raised));
    }

    async fn wrap_hashes_wraps_what_older_imports_stored_and_resumes(env: Env) {
        // Hashes as an older import stored them: written straight into the store.
        let store = env.store().await;
        let rows: Vec<_> = [("alice", PBKDF2), ("bob", BCRYPT), ("carol", ARGON2)]
            .into_iter()
            .map(|(name, hash)| (Username::parse(name).unwrap(), PasswordHashString::new(hash)))
            .collect();
        store
            .import_users(&rows, auth_core::store::ImportMode::SkipExisting, OffsetDateTime::now_utc())
            .await
            .unwrap();
        let output = env.run(&["user", "wrap-hashes"], "");
        assert_exit(&output, 0);
        assert_eq!(stdout(&output), "examined 3 users: wrapped 2, changed meanwhile 0\n");
        assert_wrapped(&credentials(&*store, "alice").await.unwrap().password_hash, PBKDF2);
        assert_wrapped(&credentials(&*store, "bob").await.unwrap().password_hash, BCRYPT);
        assert_eq!(credentials(&*store, "carol").await.unwrap().password_hash.expose(), ARGON2);
        // Run again (or after an interruption): nothing left to do.
        let again = env.run(&["user", "wrap-hashes"], "");
        assert_eq!(stdout(&again), "examined 3 users: wrapped 0, changed meanwhile 0\n");
        // The wrapped hash still verifies with the password the Werkzeug hash was made from.
        let wrapped = credentials(&*store, "alice").await.unwrap().password_hash;
        assert!(verifies(&wrapped, PBKDF2_PASSWORD).await);
        assert!(!verifies(&wrapped, "not the password").await);
    }

    async fn import_strict_writes_nothing_unless_every_row_is_new_and_valid(env: Env) {
        assert_exit(&env.run(&["user", "add", "carol"], PASSWORD), 0);
        let store = env.store().await;
        let invalid = env.file(
            "invalid.csv",
            &format!("username,password_hash\nalice,{PBKDF2}\nbob,nonsense\ncarol,{BCRYPT}\n"),
        );
        let output = env.run(&["user", "import", "--strict", invalid.to_str().unwrap()], "");
        assert_exit(&output, 1);
        assert_eq!(stdout(&output), "imported 0, existing 1, invalid 1\n");
        assert!(stderr(&output).contains("line 3: invalid password hash"), "{}", stderr(&output));
        assert!(stderr(&output).contains("line 4: user carol exists\n"), "{}", stderr(&output));
        assert!(credentials(&*store, "alice").await.is_none(), "nothing written");

        let existing = env.file(
            "existing.csv",
            &format!("username,password_hash\nalice,{PBKDF2}\nCAROL,{BCRYPT}\n"),
        );
        let output = env.run(&["user", "import", "--strict", existing.to_str().unwrap()], "");
        assert_exit(&output, 1);
        assert_eq!(stdout(&output), "imported 0, existing 1, invalid 0\n");
        assert!(credentials(&*store, "alice").await.is_none(), "nothing written");

        let dry = env.run(&["user", "import", "--dry-run", existing.to_str().unwrap()], "");
        assert_exit(&dry, 0);
        assert!(stdout(&dry).contains("would import 1, existing 1, invalid 0"), "{}", stdout(&dry));
        assert!(credentials(&*store, "alice").await.is_none(), "a dry run writes nothing");

        let clean = env.file("clean.csv", &format!("username,password_hash\nalice,{PBKDF2}\nbob,{BCRYPT}\n"));
        let output = env.run(&["user", "import", "--strict", clean.to_str().unwrap()], "");
        assert_exit(&output, 0);
        assert_eq!(stdout(&output), "imported 2, existing 0, invalid 0\n");
        assert_eq!(stderr(&output), "");
        assert_eq!(store.list_users().await.unwrap().len(), 3);
    }

    async fn import_leaves_nothing_when_the_store_fails_midway(env: Env) {
        assert_exit(&env.run(&["migrate"], ""), 0);
        // A trigger refuses one user deep in the file, after more than one statement's worth
        // of rows: without one transaction, the rows before it would stay.
        let db = store_seaorm::sea_orm::Database::connect(env.url()).await.unwrap();
        use store_seaorm::sea_orm::ConnectionTrait;
        let sql = match db.get_database_backend() {
            store_seaorm::sea_orm::DatabaseBackend::Sqlite => "CREATE TRIGGER refuse_boom BEFORE INSERT ON users \
                 WHEN NEW.username_key = 'boom' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
            _ => "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.username_key = 'boom' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                 RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_boom BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION refuse_boom();",
        };
        db.execute_unprepared(sql).await.unwrap();
        db.close().await.unwrap();
        let mut csv = String::from("username,password_hash\n");
        for i in 0..1_200 {
            csv.push_str(&format!("user{i},{PBKDF2}\n"));
        }
        csv.push_str(&format!("boom,{PBKDF2}\n"));
        let file = env.file("big.csv", &csv);
        let output = env.run(&["user", "import", file.to_str().unwrap()], "");
        assert_fails_in_one_line(&output, 1);
        assert!(stderr(&output).contains("refused by the test"), "{}", stderr(&output));
        let store = env.store().await;
        assert!(store.list_users().await.unwrap().is_empty(), "nothing half-written");
    }
}

#[test]
fn import_of_a_missing_or_headerless_file_exits_1_in_one_line() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let env = runtime.block_on(Env::new(Store::Sqlite));
    let missing = env.run(&["user", "import", "no-such-file.csv"], "");
    assert_fails_in_one_line(&missing, 1);
    assert!(stderr(&missing).contains("no-such-file.csv"));
    let headerless = env.file("h.csv", &format!("alice,{PBKDF2}\n"));
    let output = env.run(&["user", "import", headerless.to_str().unwrap()], "");
    assert_fails_in_one_line(&output, 1);
    assert!(stderr(&output).contains("header"), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("a7f2wpZXy4OXcudY"),
        "the data row is not echoed"
    );
}
