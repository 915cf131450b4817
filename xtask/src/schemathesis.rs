//! The API against its OpenAPI document (SPEC §11): the document validated, and a live server
//! fuzzed against it with schemathesis, on SQLite and on PostgreSQL.
//!
//! The tools are Python's, pinned ([`REQUIREMENTS`]) and installed with pip into a virtualenv
//! in the target folder (`python3 -m venv`; when python3 has no working `venv`, apt-get
//! installs `python3-venv`, as `smtp.rs` does for pip). For each store the `wristband` binary
//! serves a fresh database from a scratch folder `target/schemathesis/<store>/` with a
//! configuration file of its own ([`FUZZING_CONFIG`]: the cheapest Argon2 the configuration
//! accepts, no registration, reset or per-address login throttle, mail only logged), and then:
//!
//! 1. openapi-spec-validator checks `GET /api/v1/openapi.json` against the OpenAPI 3.1 schema;
//! 2. schemathesis runs its examples, coverage and fuzzing phases against that document,
//!    derandomised, at most [`MAX_EXAMPLES`] test cases per operation and phase, with the
//!    checks in [`CHECKS`] — once anonymous (with made-up session cookies and bearer tokens),
//!    then logged in: a user registered and logged in through the API, whose session cookie
//!    goes with every request as an extra header (`Pass::headers`); then with an API token
//!    of that user (`Authorization: Bearer`, made from a fresh login); the operations that can
//!    end that session ([`SESSION_ENDING`]) run last, with a session of their own.
//!
//! SQLite runs with sessions in the database, PostgreSQL with sessions in the cookie, so both
//! session stores are fuzzed as well.
//!
//! A failed check, an invalid document, or a server that does not come up fails the store's
//! step; schemathesis' output is shown as it runs, and its counts become the step's note.
//! Arguments after `cargo xtask schemathesis --` go to every `schemathesis run`.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Failure, Result};
use crate::interrupt;
use crate::process::{self, apt_get};
use crate::summary::Summary;

/// What pip installs into the virtualenv: schemathesis 4 (which reads OpenAPI 3.1), and
/// openapi-spec-validator 0.9, which checks a document against the OpenAPI 3.1 schema itself
/// (schemathesis only needs a document it can load).
pub const REQUIREMENTS: [&str; 2] = ["schemathesis==4.32.5", "openapi-spec-validator==0.9.0"];

/// The checks schemathesis runs on every response: no 5xx, and status code, content type,
/// headers and body all as the document says.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

/// The phases: the document's examples, the deterministic coverage of each schema (boundaries,
/// missing and wrong-typed fields), then property-based fuzzing. The stateful phase needs
/// OpenAPI links, which the document does not have.
const PHASES: &str = "examples,coverage,fuzzing";

/// Test cases per operation (and phase): enough to reach every branch the document describes,
/// few enough that both stores and every pass take under two minutes.
const MAX_EXAMPLES: &str = "100";

/// The API's prefix in the ready server.
const API: &str = "/api/v1";

/// The server's signing key: throw-away, like its database.
const SECRET_KEY: &str = "schemathesis-run-secret-key-of-at-least-32-bytes";

/// The user the logged-in pass registers, and its password (it passes the policy).
const FUZZ_USER: &str = "fuzzer";
const FUZZ_PASSWORD: &str = "schemathesis fuzzes politely";

/// The test profile's configuration for a fuzzing run (`config/test.toml` in the scratch
/// folder; `config/default.toml` is the project's own).
const FUZZING_CONFIG: &str = r#"# Written by `cargo xtask schemathesis` (xtask/src/schemathesis.rs) for one fuzzing run.

[password.argon2]
# The cheapest hashes the configuration accepts: the fuzzer registers and logs in a lot.
memory_kib = 8
iterations = 1
parallelism = 1

[login]
# Generated logins all fail: without this, one address's failures soon make every login a
# 429, and the handler is no longer reached.
max_failures_per_address = 1000000

[register]
# No registration throttle, so that generated registrations keep reaching the handler.
max_per_address = 0

[account]
reset_max_per_address = 0
reset_max_per_account = 0

[mail]
transport = "log"

[log]
format = "pretty"
"#;

/// The document's validation, run by the virtualenv's Python: the URL is its argument.
const VALIDATE: &str = r#"
import json, sys, urllib.request
from openapi_spec_validator import OpenAPIV31SpecValidator
with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
    spec = json.load(response)
version = str(spec.get("openapi", ""))
errors = list(OpenAPIV31SpecValidator(spec).iter_errors())
if not version.startswith("3.1."):
    errors.insert(0, f"openapi is {version!r}, not 3.1.x")
for error in errors:
    where = "/".join(map(str, getattr(error, "absolute_path", [])))
    print(f"invalid at /{where}: {getattr(error, 'message', error)}")
methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
operations = sum(1 for item in spec.get("paths", {}).values() for m in item if m in methods)
verdict = "INVALID" if errors else "valid"
print(f"OpenAPI {version} document {verdict}: {len(spec.get('paths', {}))} paths, {operations} operations")
sys.exit(1 if errors else 0)
"#;

/// The installed tools.
pub struct Tools {
    venv: PathBuf,
}

impl Tools {
    fn bin(&self, program: &str) -> PathBuf {
        self.venv.join("bin").join(program)
    }
}

/// The virtualenv in `target/schemathesis/venv` with [`REQUIREMENTS`], made or completed
/// when needed; returns it and a note for the summary.
pub fn ensure_tools(target: &Path) -> Result<(Tools, String)> {
    let tools = Tools {
        venv: target.join("schemathesis").join("venv"),
    };
    let marker = tools.venv.join("xtask-requirements.txt");
    let wanted = REQUIREMENTS.join("\n");
    let note = REQUIREMENTS.join(", ");
    if fs::read_to_string(&marker).is_ok_and(|found| found == wanted)
        && process::succeeds(Command::new(tools.bin("schemathesis")).arg("--version"))
    {
        println!(
            "==> schemathesis: {note} installed in {}",
            tools.venv.display()
        );
        return Ok((tools, note));
    }
    if !tools.bin("python").exists() {
        make_venv(&tools.venv)?;
    }
    println!("==> schemathesis: pip install {}", REQUIREMENTS.join(" "));
    let mut pip = Command::new(tools.bin("python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(REQUIREMENTS);
    if !process::run(&mut pip)?.success() {
        return Err(Failure::Error(format!(
            "`pip install {}` into {} failed (its output is above)",
            REQUIREMENTS.join(" "),
            tools.venv.display()
        )));
    }
    fs::write(&marker, wanted)
        .map_err(|e| Failure::Error(format!("cannot write {}: {e}", marker.display())))?;
    Ok((tools, format!("installed {note}")))
}

/// `python3 -m venv DIR`; when that fails (Debian ships `venv` without `ensurepip`), after
/// `apt-get install -y python3-venv`.
fn make_venv(dir: &Path) -> Result {
    println!("==> schemathesis: python3 -m venv {}", dir.display());
    let venv = || {
        // A half-made virtualenv would be taken for a made one next time.
        let _ = fs::remove_dir_all(dir);
        let mut command = Command::new("python3");
        command.args(["-m", "venv"]).arg(dir);
        process::run(&mut command)
    };
    if venv()?.success() {
        return Ok(());
    }
    println!("==> schemathesis: python3 cannot make a virtualenv; apt-get install -y python3-venv");
    let installed = apt_get(&["install", "-y", "python3-venv"])?
        || (apt_get(&["update"])? && apt_get(&["install", "-y", "python3-venv"])?);
    if installed && venv()?.success() {
        return Ok(());
    }
    Err(Failure::Error(format!(
        "`python3 -m venv {}` failed, also after `apt-get install -y python3-venv`: install \
         Python 3 with its venv module",
        dir.display()
    )))
}

/// The two stores the server is fuzzed on; each with one of the two session stores, so that
/// both of those are fuzzed too (the cookie store decodes whatever session cookie comes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    /// SQLite, sessions in the database.
    Sqlite,
    /// PostgreSQL, sessions in the cookie.
    Postgres,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Sqlite => "sqlite",
            Store::Postgres => "postgres",
        }
    }

    /// `session.store`.
    fn sessions(self) -> &'static str {
        match self {
            Store::Sqlite => "database",
            Store::Postgres => "cookie",
        }
    }
}

/// The `schemathesis (sqlite)` and `schemathesis (postgres)` steps: `binary` serving a fresh
/// database of each store (PostgreSQL on the server `postgres_url` names), validated and
/// fuzzed. Both run even when the first fails.
pub fn steps(
    summary: &mut Summary,
    tools: &Tools,
    binary: &Path,
    postgres_url: &OsStr,
    extra: &[OsString],
) -> Result {
    let mut ok = true;
    for store in [Store::Sqlite, Store::Postgres] {
        let name = format!(
            "schemathesis ({}, {} sessions)",
            store.name(),
            store.sessions()
        );
        println!(
            "\n==> {name}: the OpenAPI document validated, then `schemathesis run` against a live server"
        );
        let started = Instant::now();
        match run_store(tools, binary, store, postgres_url, extra) {
            Ok(outcome) => {
                ok &= outcome.ok;
                summary.record(&name, outcome.ok, outcome.note, started);
            }
            Err(Failure::Error(message)) => {
                eprintln!("xtask: error: {message}");
                ok = false;
                summary.record(&name, false, "see the error above", started);
            }
            Err(other) => return Err(other),
        }
    }
    if ok { Ok(()) } else { Err(Failure::Failed) }
}

/// What one store's run came to.
struct Outcome {
    ok: bool,
    note: String,
}

fn run_store(
    tools: &Tools,
    binary: &Path,
    store: Store,
    postgres_url: &OsStr,
    extra: &[OsString],
) -> Result<Outcome> {
    let target = binary
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| Failure::Error(format!("{} is not in a target folder", binary.display())))?;
    let scratch = target.join("schemathesis").join(store.name());
    let _ = fs::remove_dir_all(&scratch);
    let config = scratch.join("config");
    fs::create_dir_all(&config)
        .map_err(|e| Failure::Error(format!("cannot create {}: {e}", config.display())))?;
    let project_config = crate::cargo::workspace_root().join("config");
    fs::copy(
        project_config.join("default.toml"),
        config.join("default.toml"),
    )
    .and_then(|_| {
        let sessions = format!("\n[session]\nstore = \"{}\"\n", store.sessions());
        fs::write(
            config.join("test.toml"),
            format!("{FUZZING_CONFIG}{sessions}"),
        )
    })
    .map_err(|e| Failure::Error(format!("cannot write {}: {e}", config.display())))?;

    let database = match store {
        Store::Sqlite => Database::Sqlite(format!(
            "sqlite://{}",
            scratch.join("data").join("wristband.db").display()
        )),
        Store::Postgres => Database::create_postgres(&postgres_url.to_string_lossy())?,
    };
    let server = Server::start(binary, &scratch, database.url())?;
    println!("==> {}: wristband serves {}", store.name(), server.base);
    let document = format!("{}{API}/openapi.json", server.base);

    let mut validate = Command::new(tools.bin("python"));
    validate.args(["-c", VALIDATE]).arg(&document);
    let valid = process::run(&mut validate)?.success();

    let mut notes = Vec::new();
    let mut ok = valid;
    if !valid {
        notes.push("the OpenAPI document is invalid".to_owned());
    }
    for pass in passes(&server)? {
        println!(
            "\n==> {} ({}): schemathesis run {document}",
            store.name(),
            pass.name
        );
        let run = schemathesis(tools, &document, &pass, &scratch, extra)?;
        ok &= run.ok;
        notes.push(format!("{}: {}", pass.name, run.note));
    }
    let errors = server.stop();
    if !errors.is_empty() {
        println!("==> {}: the server logged errors:", store.name());
        for line in &errors {
            println!("    {line}");
        }
    }
    drop(database);
    Ok(Outcome {
        ok,
        note: notes.join("; "),
    })
}

/// One `schemathesis run`: a name, and what goes with every request.
struct Pass {
    name: &'static str,
    /// `NAME: VALUE` headers added to every request.
    headers: Vec<String>,
    /// Which operations (by id) are run.
    operations: Operations,
    /// Whether schemathesis makes up values for the security schemes (random session cookies
    /// and bearer tokens): yes when anonymous, not when a real credential goes with every
    /// request (a made-up one would replace it).
    made_up_credentials: bool,
}

/// The operations of a pass.
enum Operations {
    /// Every one.
    All,
    /// Every one but these.
    AllBut(&'static [&'static str]),
    /// Only these.
    Only(&'static [&'static str]),
}

/// The operations that can end the session they are called with: `DELETE …/sessions/{id}`
/// ends it when schemathesis gives it the id `GET …/sessions` showed (it does), and
/// `DELETE …/sessions` replaces the cookie with store `cookie`.
const SESSION_ENDING: &[&str] = &["logout", "endSession", "endOtherSessions"];

/// The passes over one server: anonymous; logged in, without the operations that end the
/// session; with an API token, likewise; then those alone, with a session of their own. The logins come first, before the
/// anonymous pass's failures could count against them.
fn passes(server: &Server) -> Result<Vec<Pass>> {
    let logged_in = Pass {
        name: "logged in",
        headers: vec![session_cookie(server, true)?],
        operations: Operations::AllBut(SESSION_ENDING),
        made_up_credentials: false,
    };
    let ending = Pass {
        name: "ending the session",
        headers: vec![session_cookie(server, false)?],
        operations: Operations::Only(SESSION_ENDING),
        made_up_credentials: false,
    };
    let with_token = Pass {
        name: "with an API token",
        headers: vec![api_token(server)?],
        operations: Operations::AllBut(TOKEN_ENDING),
        made_up_credentials: false,
    };
    let anonymous = Pass {
        name: "anonymous",
        headers: Vec::new(),
        operations: Operations::All,
        made_up_credentials: true,
    };
    Ok(vec![anonymous, logged_in, with_token, ending])
}

/// What the token pass leaves out: what would end the token it runs with (a logout with a
/// token revokes it), and the sessions the last pass ends.
const TOKEN_ENDING: &[&str] = &["logout", "endSession", "endOtherSessions", "revokeApiToken"];

/// `Authorization: Bearer …` with a new API token of the fuzzer's user, made from a fresh
/// login (the user the logged-in pass registered).
fn api_token(server: &Server) -> Result<String> {
    let cookie = session_cookie(server, false)?;
    let made = http(
        server.address,
        "POST",
        &format!("{API}/tokens"),
        Some(r#"{"name":"schemathesis"}"#),
        &[&cookie],
    )?;
    let token: Option<String> = made.body.find("wbt_").map(|start| {
        made.body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .collect()
    });
    match (made.status, token) {
        (201, Some(token)) => Ok(format!("Authorization: Bearer {token}")),
        _ => Err(Failure::Error(format!(
            "making the fuzzer's API token answered {}: {}",
            made.status, made.body
        ))),
    }
}

/// `Cookie: …` with a new session of the fuzzer's user, registered first when `register`.
fn session_cookie(server: &Server, register: bool) -> Result<String> {
    let credentials = format!(r#"{{"username":"{FUZZ_USER}","password":"{FUZZ_PASSWORD}"}}"#);
    if register {
        let registered = http(
            server.address,
            "POST",
            &format!("{API}/register"),
            Some(&credentials),
            &[],
        )?;
        if registered.status != 201 {
            return Err(Failure::Error(format!(
                "registering the fuzzer's user answered {}: {}",
                registered.status, registered.body
            )));
        }
    }
    let login = http(
        server.address,
        "POST",
        &format!("{API}/login"),
        Some(&credentials),
        &[],
    )?;
    let cookie = login
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.split(';').next())
        .find(|pair| pair.starts_with("wristband_session="));
    match (login.status, cookie) {
        (200, Some(cookie)) => Ok(format!("Cookie: {cookie}")),
        _ => Err(Failure::Error(format!(
            "logging the fuzzer's user in answered {} without a session cookie: {}",
            login.status, login.body
        ))),
    }
}

/// What a run came to: whether every check passed, and schemathesis' counts.
struct RunOutcome {
    ok: bool,
    note: String,
}

/// `schemathesis run DOCUMENT` for `pass`, its output shown as it comes and its summary kept.
fn schemathesis(
    tools: &Tools,
    document: &str,
    pass: &Pass,
    scratch: &Path,
    extra: &[OsString],
) -> Result<RunOutcome> {
    let mut command = Command::new(tools.bin("schemathesis"));
    command
        .current_dir(scratch)
        .env("NO_COLOR", "1")
        .args(["run", document, "--checks", CHECKS, "--phases", PHASES])
        .args(["--max-examples", MAX_EXAMPLES, "--generation-deterministic"])
        .args(["--request-timeout", "10", "--no-color"]);
    for header in &pass.headers {
        command.arg("--header").arg(header);
    }
    match pass.operations {
        Operations::All => {}
        Operations::AllBut(ids) => {
            for id in ids {
                command.args(["--exclude-operation-id", id]);
            }
        }
        Operations::Only(ids) => {
            for id in ids {
                command.args(["--include-operation-id", id]);
            }
        }
    }
    if !pass.made_up_credentials {
        command.args(["--generation-with-security-parameters", "false"]);
    }
    command.args(extra);
    println!("==> {}", process::describe(&command));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::Error(format!("cannot run schemathesis: {e}")))?;
    let mut lines = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::io::Result::ok)
        {
            println!("{line}");
            lines.push(line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| Failure::Error(format!("schemathesis did not finish: {e}")))?;
    let status = interrupt::check(status)?;
    let mut note = summary_note(&lines);
    if !status.success() {
        note = format!("FAILED ({status}): {note}");
    }
    Ok(RunOutcome {
        ok: status.success(),
        note,
    })
}

/// The counts of schemathesis' closing summary: operations tested, test cases, the verdict.
fn summary_note(lines: &[String]) -> String {
    let after = |label: &str| {
        lines
            .iter()
            .position(|line| line.trim() == label)
            .and_then(|at| lines.get(at + 1))
            .map(|line| line.trim().to_owned())
    };
    let tested = lines
        .iter()
        .rev()
        .find_map(|line| line.trim().strip_prefix("Tested: "))
        .map(|n| format!("{n} operations"));
    let cases = after("Test cases:");
    let verdict = lines
        .iter()
        .rev()
        .find(|line| line.starts_with("===") && line.trim_end().ends_with("==="))
        .map(|line| line.trim_matches(|c| c == '=' || c == ' ').to_owned());
    let parts: Vec<String> = [tested, cases, verdict].into_iter().flatten().collect();
    if parts.is_empty() {
        "no summary (see its output)".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The run's database; a PostgreSQL one is dropped afterwards.
enum Database {
    Sqlite(String),
    Postgres {
        url: String,
        admin: String,
        name: String,
        psql: PathBuf,
    },
}

impl Database {
    /// A new database `wristband_schemathesis_<pid>` on the server `admin_url` names.
    fn create_postgres(admin_url: &str) -> Result<Self> {
        let psql = find_psql()?;
        let name = format!("wristband_schemathesis_{}", std::process::id());
        let url = with_database(admin_url, &name).ok_or_else(|| {
            Failure::Error(format!(
                "cannot tell the database in {}",
                pg_cluster::redact(admin_url)
            ))
        })?;
        let database = Database::Postgres {
            url,
            admin: admin_url.to_owned(),
            name: name.clone(),
            psql,
        };
        // Left over from an interrupted run with the same process id: not expected, harmless.
        database.sql(&format!("DROP DATABASE IF EXISTS {name}"))?;
        database.sql(&format!("CREATE DATABASE {name}"))?;
        Ok(database)
    }

    fn url(&self) -> &str {
        match self {
            Database::Sqlite(url) | Database::Postgres { url, .. } => url,
        }
    }

    /// Runs one SQL statement with psql on the admin connection.
    fn sql(&self, statement: &str) -> Result {
        let Database::Postgres { admin, psql, .. } = self else {
            return Ok(());
        };
        let output = Command::new(psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(admin)
            .args(["-c", statement])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Failure::Error(format!("cannot run {}: {e}", psql.display())))?;
        interrupt::check(output.status)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Failure::Error(format!(
                "psql `{statement}` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { name, .. } = self {
            let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(error) = self.sql(&statement) {
                eprintln!("xtask: warning: {error}");
            }
        }
    }
}

/// `url` naming database `name` instead of its own (`scheme://authority/name?query`).
fn with_database(url: &str, name: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    Some(format!("{scheme}://{authority}/{name}{query}"))
}

/// psql: in `$XTASK_POSTGRES_BINDIR`, on `PATH`, or the newest `/usr/lib/postgresql/*/bin`.
fn find_psql() -> Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os(pg_cluster::BINDIR_VAR) {
        candidates.push(PathBuf::from(dir).join("psql"));
    }
    candidates.push(PathBuf::from("psql"));
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(std::result::Result::ok)
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin").join("psql")))
            })
            .collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev().map(|(_, psql)| psql));
    }
    candidates
        .into_iter()
        .find(|psql| process::succeeds(Command::new(psql).arg("--version")))
        .ok_or_else(|| {
            Failure::Error(
                "psql is not installed (it creates the fuzzing run's PostgreSQL database): \
                 apt-get install -y postgresql-client"
                    .to_owned(),
            )
        })
}

/// A `wristband serve` of the run; dropping it stops the server.
struct Server {
    child: Child,
    address: SocketAddr,
    base: String,
    log: PathBuf,
}

impl Server {
    /// `binary serve` from `scratch` (its config folder, `SECRET_KEY`, `database_url`) on a
    /// free port, once it answers `GET /healthz` with 200; tried on three ports, as a free
    /// port may be taken before the server binds it.
    fn start(binary: &Path, scratch: &Path, database_url: &str) -> Result<Self> {
        let log = scratch.join("server.log");
        for _attempt in 0..3 {
            let address = free_port()?;
            let log_file = fs::File::create(&log)
                .and_then(|file| Ok((file.try_clone()?, file)))
                .map_err(|e| Failure::Error(format!("cannot create {}: {e}", log.display())))?;
            let mut command = Command::new(binary);
            command.current_dir(scratch);
            for (key, _) in std::env::vars_os() {
                let key_text = key.to_string_lossy();
                if key_text.starts_with("WRISTBAND_")
                    || key_text.starts_with("SECRET_KEY")
                    || key_text == "DATABASE_URL"
                {
                    command.env_remove(&key);
                }
            }
            command
                .env("WRISTBAND_PROFILE", "test")
                .env("WRISTBAND_CONFIG_DIR", scratch.join("config"))
                .env("SECRET_KEY", SECRET_KEY)
                .env("DATABASE_URL", database_url)
                .env("RUST_LOG", "warn")
                .arg("serve")
                .arg("--bind")
                .arg(address.to_string())
                .stdin(Stdio::null())
                .stdout(log_file.0)
                .stderr(log_file.1);
            let child = command
                .spawn()
                .map_err(|e| Failure::Error(format!("cannot run {}: {e}", binary.display())))?;
            let mut server = Server {
                child,
                address,
                base: format!("http://{address}"),
                log: log.clone(),
            };
            if server.wait_until_ready()? {
                return Ok(server);
            }
        }
        let log_text = fs::read_to_string(&log).unwrap_or_default();
        Err(Failure::Error(format!(
            "wristband serve did not come up; its log:\n{}",
            log_text.trim_end()
        )))
    }

    /// Waits up to 30 s for `GET /healthz` to answer 200; `false` when the server exited or
    /// did not answer in time.
    fn wait_until_ready(&mut self) -> Result<bool> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            interrupt::settle(false)?;
            if self.child.try_wait().ok().flatten().is_some() {
                return Ok(false);
            }
            if http(self.address, "GET", "/healthz", None, &[]).is_ok_and(|r| r.status == 200) {
                return Ok(true);
            }
            thread::sleep(Duration::from_millis(100));
        }
        Ok(false)
    }

    /// Stops the server; returns the ERROR lines of its log.
    fn stop(mut self) -> Vec<String> {
        self.kill();
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("ERROR"))
            .map(str::to_owned)
            .collect()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback address with a port that was free a moment ago.
fn free_port() -> Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| Failure::Error(format!("cannot find a free port: {e}")))
}

/// An HTTP answer, read whole.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), with a JSON body when
/// given; enough for the health check and the fuzzer's login.
fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
    headers: &[&str],
) -> Result<Answer> {
    let failed = |e: std::io::Error| Failure::Error(format!("{method} {path}: {e}"));
    let mut stream =
        TcpStream::connect_timeout(&address, Duration::from_secs(5)).map_err(failed)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(failed)?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    if let Some(json) = json {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            json.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(json.unwrap_or_default());
    stream.write_all(request.as_bytes()).map_err(failed)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(failed)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut head_lines = head.lines();
    let status = head_lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| Failure::Error(format!("{method} {path}: not an HTTP answer")))?;
    let headers = head_lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_in_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/x")
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x").as_deref(),
            Some("postgres://u:p@h/x?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://h:5432", "x").as_deref(),
            Some("postgres://h:5432/x")
        );
        assert_eq!(with_database("not a url", "x"), None);
    }

    #[test]
    fn reads_schemathesis_summary() {
        let output: Vec<String> = "\
API Operations:
  Selected: 22/22
  Tested: 22

Test cases:
  812 generated, 812 passed

Seed: not used in the deterministic mode

============================= 2 warnings in 6.66s =============================="
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            summary_note(&output),
            "22 operations, 812 generated, 812 passed, 2 warnings in 6.66s"
        );
        assert_eq!(summary_note(&[]), "no summary (see its output)");
    }
}
