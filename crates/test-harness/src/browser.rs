//! A real headless Chromium driven over the DevTools protocol (CDP), for browser tests:
//! passkeys above all, through the WebAuthn domain's virtual authenticator.
//!
//! [`Chromium::launch`] starts `chromium --headless --remote-debugging-pipe`: the browser reads
//! commands on fd 3 and writes replies and events on fd 4, each a JSON message ended by a NUL
//! byte. The workspace forbids unsafe code, so there is no `pre_exec`: `sh` maps the fds (our
//! stdin pipe to 3, our stdout pipe to 4) and execs the browser. One reader task per browser
//! hands each reply to the command waiting for its id and queues the events of every tab;
//! [`Tab::wait_event`] takes them from the queue. Writes are serialized by a mutex.
//!
//! Each [`Tab`] is its own browser context: its own cookies, storage and virtual
//! authenticators. WebAuthn is enabled in every tab, so `navigator.credentials` only ever reaches
//! the tab's virtual authenticators ([`Tab::add_virtual_authenticator`]), never a real one.
//! Use `http://localhost:PORT` URLs: an IP address can never be a WebAuthn RP ID, and Chromium
//! resolves `localhost` to `127.0.0.1` (`--host-resolver-rules`), where the test servers listen.
//!
//! `cargo xtask test` installs Chromium when it is missing.
//!
//! Test code: panics are how it fails. Every wait has a timeout, and every panic message ends
//! with the end of Chromium's log.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// How to get Chromium, for panic messages.
const FIX: &str =
    "run `cargo xtask test`, which installs Chromium, or `apt-get install -y chromium`";

/// The binaries looked for on `PATH`, then the Debian path.
const BINARIES: &[&str] = &["chromium", "chromium-browser"];
const DEBIAN_BINARY: &str = "/usr/bin/chromium";

/// Runs `$0 "$@"` with our stdin as fd 3 (commands) and our stdout as fd 4 (replies, events);
/// the browser's own stdin is `/dev/null` and its stdout goes where its stderr goes (the log).
const MAP_FDS: &str = r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#;

/// `--no-sandbox` is mandatory as root; the background-networking flags keep Chromium from
/// calling home (refused-connection bursts on a closed network).
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--password-store=basic",
    "--remote-debugging-pipe",
    "--host-resolver-rules=MAP localhost 127.0.0.1",
];

/// How long the first reply may take (a cold start on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long any other command may take, `Runtime.evaluate` of a promise included.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Tab::goto`] waits for the page's `load` event.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`Tab::wait_until`] evaluates its condition.
const POLL: Duration = Duration::from_millis(50);
/// Events kept per browser; the oldest go first.
const MAX_QUEUED_EVENTS: usize = 10_000;
/// Lines of Chromium's log shown in panic messages.
const LOG_TAIL_LINES: usize = 40;

/// A headless Chromium with a fresh profile in a temporary folder; dropping it kills the
/// browser and removes the folder.
pub struct Chromium {
    connection: Arc<Connection>,
    version: String,
    // Dropped in this order: the browser is killed before its folder goes.
    _child: Child,
    _folder: tempfile::TempDir,
}

/// One tab in its own browser context, attached with a flat session.
pub struct Tab {
    connection: Arc<Connection>,
    session: String,
}

/// The pipe to the browser and what the reader task received from it.
struct Connection {
    /// fd 3 of the browser; locked for the length of one message.
    commands: tokio::sync::Mutex<ChildStdin>,
    next_id: AtomicU64,
    state: Mutex<State>,
    /// Woken for every event queued and when the reader stops.
    arrived: Notify,
    log: PathBuf,
}

#[derive(Default)]
struct State {
    /// Commands sent and not answered yet, by id.
    pending: HashMap<u64, oneshot::Sender<Result<Value, String>>>,
    /// Events of every tab, oldest first, that no wait has taken yet.
    events: VecDeque<Event>,
    /// Why the reader stopped (the browser exited, or sent something unreadable).
    closed: Option<String>,
}

struct Event {
    session: String,
    method: String,
    params: Value,
}

impl Chromium {
    /// Starts the browser and waits (at most 30 s) for its first reply. Panics, naming the fix,
    /// when there is no Chromium.
    pub async fn launch() -> Chromium {
        let Some(binary) = find_binary() else {
            panic!(
                "no Chromium: neither {} is on PATH, and there is no {DEBIAN_BINARY}; {FIX}",
                BINARIES.join(" nor ")
            );
        };
        let folder = tempfile::Builder::new()
            .prefix("chromium-")
            .tempdir()
            .unwrap();
        let log = folder.path().join("chromium.log");
        // To a file: an unread stderr pipe would block the browser once full.
        let log_file = std::fs::File::create(&log).unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(MAP_FDS)
            .arg(&binary)
            .args(FLAGS)
            .arg(format!(
                "--user-data-dir={}",
                folder.path().join("profile").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        let commands = child.stdin.take().unwrap();
        let replies = child.stdout.take().unwrap();
        let connection = Arc::new(Connection {
            commands: tokio::sync::Mutex::new(commands),
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
            log,
        });
        tokio::spawn(read_messages(Arc::clone(&connection), replies));

        // The first reply proves the pipe works. Timed out here rather than in `call`, to say
        // what a browser that never answers most likely means.
        let first = tokio::time::timeout(
            START_TIMEOUT,
            connection.call(None, "Browser.getVersion", json!({}), START_TIMEOUT * 2),
        )
        .await;
        let version = match first {
            Ok(Ok(version)) => version["product"].as_str().unwrap_or_default().to_owned(),
            Ok(Err(error)) => connection.fail(&format!(
                "{} started, but Browser.getVersion failed: {error}",
                binary.display()
            )),
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                connection.fail(&format!(
                    "{} gave no answer on its DevTools pipe within {START_TIMEOUT:?} (exit \
                     status: {status:?}): it did not start, or something between us and the \
                     browser does not pass it fds 3 and 4",
                    binary.display()
                ))
            }
        };
        Chromium {
            connection,
            version,
            _child: child,
            _folder: folder,
        }
    }

    /// The browser's product and version, e.g. `Chrome/156.0.8078.114`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A new tab showing `about:blank` in a new browser context (its own cookies and storage),
    /// with the Page, Runtime and WebAuthn domains enabled and focus emulated (WebAuthn refuses
    /// documents without focus).
    pub async fn new_tab(&self) -> Tab {
        let connection = &self.connection;
        let context = connection
            .command(None, "Target.createBrowserContext", json!({}))
            .await["browserContextId"]
            .clone();
        let target = connection
            .command(
                None,
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": context}),
            )
            .await["targetId"]
            .clone();
        let attached = connection
            .command(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await;
        let Some(session) = attached["sessionId"].as_str() else {
            connection.fail(&format!(
                "Target.attachToTarget gave no sessionId: {attached}"
            ))
        };
        let tab = Tab {
            connection: Arc::clone(connection),
            session: session.to_owned(),
        };
        tab.command("Page.enable", json!({})).await;
        tab.command("Page.setLifecycleEventsEnabled", json!({"enabled": true}))
            .await;
        tab.command("Runtime.enable", json!({})).await;
        tab.command(
            "Emulation.setFocusEmulationEnabled",
            json!({"enabled": true}),
        )
        .await;
        tab.command("WebAuthn.enable", json!({"enableUI": false}))
            .await;
        tab
    }
}

impl Tab {
    /// Navigates to `url` and waits (at most 30 s) for the new document's `load` event. Panics
    /// when the page cannot be loaded at all (an HTTP error status still loads a page).
    pub async fn goto(&self, url: &str) {
        let navigated = self.command("Page.navigate", json!({"url": url})).await;
        if let Some(error) = navigated.get("errorText").and_then(Value::as_str) {
            self.fail(&format!("cannot load {url}: {error}"));
        }
        // No loader: a same-document navigation (only the fragment changed), already done.
        let Some(loader) = navigated.get("loaderId").and_then(Value::as_str) else {
            return;
        };
        let loaded = self
            .next_event(
                "Page.lifecycleEvent",
                |params| params["name"] == "load" && params["loaderId"] == loader,
                LOAD_TIMEOUT,
            )
            .await;
        if loaded.is_none() {
            self.fail(&format!(
                "{url} did not finish loading within {LOAD_TIMEOUT:?}"
            ));
        }
    }

    /// Evaluates `js` in the page (`Runtime.evaluate` with `awaitPromise`, `returnByValue` and
    /// `userGesture`) and returns its value as JSON (`null` for `undefined`). Panics with the
    /// exception's text when it throws or its promise rejects.
    pub async fn eval(&self, js: &str) -> Value {
        match self.try_eval(js).await {
            Ok(value) => value,
            Err(error) => self.fail(&format!("JavaScript failed: {error}\nthe script: {js}")),
        }
    }

    /// As [`Tab::eval`], but a thrown exception or rejected promise is `Err` with its text
    /// (e.g. `NotAllowedError: …`), as is a refused evaluation (the page was navigating).
    pub async fn try_eval(&self, js: &str) -> Result<Value, String> {
        let reply = self
            .connection
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "awaitPromise": true,
                    "returnByValue": true,
                    "userGesture": true,
                }),
                COMMAND_TIMEOUT,
            )
            .await?;
        if let Some(details) = reply.get("exceptionDetails") {
            return Err(exception_text(details));
        }
        let result = &reply["result"];
        Ok(result
            .get("value")
            .or_else(|| result.get("unserializableValue"))
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Clicks the first element matching `css_selector` (`element.click()`, as a user gesture).
    /// Panics when nothing matches.
    pub async fn click(&self, css_selector: &str) {
        let selector = js_string(css_selector);
        self.eval(&format!(
            "(() => {{ const element = document.querySelector({selector}); \
             if (!element) throw new Error('no element matches ' + {selector}); \
             element.click(); }})()"
        ))
        .await;
    }

    /// Sets the value of the first element matching `css_selector` and fires `input` and
    /// `change` on it, as typing would. Panics when nothing matches.
    pub async fn fill(&self, css_selector: &str, value: &str) {
        let selector = js_string(css_selector);
        let value = js_string(value);
        self.eval(&format!(
            "(() => {{ const element = document.querySelector({selector}); \
             if (!element) throw new Error('no element matches ' + {selector}); \
             element.focus(); element.value = {value}; \
             element.dispatchEvent(new Event('input', {{ bubbles: true }})); \
             element.dispatchEvent(new Event('change', {{ bubbles: true }})); }})()"
        ))
        .await;
    }

    /// Evaluates the JavaScript expression `js_condition` (awaited when a promise) every 50 ms
    /// until it is truthy, and returns that value. Exceptions count as "not yet" (the page may
    /// be navigating); panics with the last value or exception after `timeout`.
    pub async fn wait_until(&self, js_condition: &str, timeout: Duration) -> Value {
        let script = format!(
            "(async () => {{ const value = await (\n{js_condition}\n); \
             return value ? {{ done: true, value }} : {{ done: false, value }}; }})()"
        );
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.try_eval(&script).await {
                Ok(outcome) if outcome["done"] == true => return outcome["value"].clone(),
                Ok(outcome) => format!("the value was {}", outcome["value"]),
                Err(error) => format!("it failed: {error}"),
            };
            if Instant::now() >= deadline {
                let url = self
                    .try_eval("location.href")
                    .await
                    .unwrap_or_else(|error| Value::String(format!("unknown ({error})")));
                self.fail(&format!(
                    "`{js_condition}` was not true within {timeout:?}; at the last try {last}; \
                     the page: {url}"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The page's URL (`location.href`).
    pub async fn url(&self) -> String {
        match self.eval("location.href").await {
            Value::String(url) => url,
            other => self.fail(&format!("location.href is not a string: {other}")),
        }
    }

    /// The page's visible text (`document.body.innerText`; empty without a body).
    pub async fn text(&self) -> String {
        match self
            .eval("document.body ? document.body.innerText : ''")
            .await
        {
            Value::String(text) => text,
            other => self.fail(&format!("innerText is not a string: {other}")),
        }
    }

    /// Waits (at most `timeout`) for this tab's next CDP event named `method` (e.g.
    /// `WebAuthn.credentialAdded`, `WebAuthn.credentialAsserted`) and returns its params. Events
    /// are queued from the moment the tab was created, so one that came before this call counts,
    /// once: each wait takes the oldest such event that no earlier wait took.
    pub async fn wait_event(&self, method: &str, timeout: Duration) -> Value {
        match self.next_event(method, |_| true, timeout).await {
            Some(params) => params,
            None => self.fail(&format!("no {method} event within {timeout:?}")),
        }
    }

    /// Adds a virtual authenticator to this tab's browser context: CTAP 2.1 over the `internal`
    /// transport (a platform authenticator, like a phone's or a laptop's), with resident keys
    /// and user verification, the user verified, and presence given automatically. Returns its
    /// id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let added = self
            .command(
                "WebAuthn.addVirtualAuthenticator",
                json!({"options": {
                    "protocol": "ctap2",
                    "ctap2Version": "ctap2_1",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                }}),
            )
            .await;
        match added["authenticatorId"].as_str() {
            Some(id) => id.to_owned(),
            None => self.fail(&format!(
                "WebAuthn.addVirtualAuthenticator gave no authenticatorId: {added}"
            )),
        }
    }

    /// The credentials the authenticator holds (`WebAuthn.getCredentials`): objects with
    /// `credentialId` (standard base64), `isResidentCredential`, `rpId`, `userHandle`,
    /// `signCount`, …
    pub async fn credentials(&self, authenticator_id: &str) -> Vec<Value> {
        let reply = self
            .command(
                "WebAuthn.getCredentials",
                json!({"authenticatorId": authenticator_id}),
            )
            .await;
        match reply.get("credentials").and_then(Value::as_array) {
            Some(credentials) => credentials.clone(),
            None => self.fail(&format!(
                "WebAuthn.getCredentials gave no credentials: {reply}"
            )),
        }
    }

    /// Whether the authenticator's user verification succeeds from now on.
    pub async fn set_user_verified(&self, authenticator_id: &str, verified: bool) {
        self.command(
            "WebAuthn.setUserVerified",
            json!({"authenticatorId": authenticator_id, "isUserVerified": verified}),
        )
        .await;
    }

    /// Sends a command to this tab; panics when it fails.
    async fn command(&self, method: &str, params: Value) -> Value {
        self.connection
            .command(Some(&self.session), method, params)
            .await
    }

    /// Takes this tab's oldest queued `method` event whose params satisfy `matches`, waiting
    /// for one at most `timeout`; `None` when none came.
    async fn next_event(
        &self,
        method: &str,
        matches: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = self.connection.arrived.notified();
            tokio::pin!(arrived);
            // Registered before the queue is read, so an event queued in between still wakes us.
            arrived.as_mut().enable();
            let closed = {
                let mut state = self.connection.state.lock().unwrap();
                let found = state.events.iter().position(|event| {
                    event.session == self.session
                        && event.method == method
                        && matches(&event.params)
                });
                if let Some(index) = found {
                    return state.events.remove(index).map(|event| event.params);
                }
                state.closed.clone()
            };
            if let Some(why) = closed {
                self.fail(&format!("waiting for {method}: {why}"));
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }

    /// Panics with `message`, this tab's recent console output and Chromium's log.
    fn fail(&self, message: &str) -> ! {
        let console = self.console();
        let console = if console.is_empty() {
            "(none)".to_owned()
        } else {
            console
        };
        self.connection.fail(&format!(
            "{message}\nthe tab's console (the end): {console}"
        ))
    }

    /// The last console messages and uncaught exceptions still queued for this tab.
    fn console(&self) -> String {
        let state = self.connection.state.lock().unwrap();
        let lines: Vec<String> = state
            .events
            .iter()
            .filter(|event| event.session == self.session)
            .filter_map(|event| match event.method.as_str() {
                "Runtime.consoleAPICalled" => {
                    let words: Vec<String> = event.params["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|arg| match arg.get("value") {
                            Some(Value::String(text)) => text.clone(),
                            Some(value) => value.to_string(),
                            None => arg["description"].as_str().unwrap_or("?").to_owned(),
                        })
                        .collect();
                    Some(format!(
                        "{}: {}",
                        event.params["type"].as_str().unwrap_or("console"),
                        words.join(" ")
                    ))
                }
                "Runtime.exceptionThrown" => Some(format!(
                    "uncaught: {}",
                    exception_text(&event.params["exceptionDetails"])
                )),
                _ => None,
            })
            .collect();
        let start = lines.len().saturating_sub(10);
        lines[start..].iter().fold(String::new(), |mut out, line| {
            let _ = write!(out, "\n  {line}");
            out
        })
    }
}

impl Connection {
    /// Sends `method` and waits (at most 30 s) for its reply; panics when the browser reports an
    /// error.
    async fn command(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        match self.call(session, method, params, COMMAND_TIMEOUT).await {
            Ok(result) => result,
            Err(error) => self.fail(&format!("{method} failed: {error}")),
        }
    }

    /// Sends `method` (to `session`, a tab, or the browser itself) and waits at most `timeout`
    /// for the reply: its `result`, or `Err` with the error the browser reported. Panics when
    /// the browser is gone or does not answer in time.
    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = Value::String(session.to_owned());
        }
        let (reply, replied) = oneshot::channel();
        let closed = {
            let mut state = self.state.lock().unwrap();
            state.pending.insert(id, reply);
            state.closed.clone()
        };
        if let Some(why) = closed {
            self.fail(&format!("cannot send {method}: {why}"));
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        let written = {
            let mut commands = self.commands.lock().await;
            match commands.write_all(&bytes).await {
                Ok(()) => commands.flush().await,
                Err(error) => Err(error),
            }
        };
        if let Err(error) = written {
            self.fail(&format!("cannot send {method} to Chromium: {error}"));
        }
        match tokio::time::timeout(timeout, replied).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => {
                let why = self.state.lock().unwrap().closed.clone();
                self.fail(&format!(
                    "no reply to {method}: {}",
                    why.unwrap_or_else(|| "the reader stopped".to_owned())
                ))
            }
            Err(_) => {
                self.state.lock().unwrap().pending.remove(&id);
                let mut shown = message["params"].to_string();
                if shown.len() > 500 {
                    shown = format!("{}…", shown.chars().take(500).collect::<String>());
                }
                self.fail(&format!(
                    "Chromium did not answer {method} within {timeout:?}; its params: {shown}"
                ))
            }
        }
    }

    /// Hands a reply to the command waiting for it, or queues an event.
    fn deliver(&self, message: Value) {
        let mut state = self.state.lock().unwrap();
        if let Some(id) = message.get("id").and_then(Value::as_u64) {
            if let Some(reply) = state.pending.remove(&id) {
                let outcome = match message.get("error") {
                    Some(error) => Err(error_text(error)),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
                // The command may have timed out and gone.
                let _ = reply.send(outcome);
            }
            return;
        }
        // Browser-wide events (no session) are of no use to a tab.
        let (Some(method), Some(session)) = (
            message.get("method").and_then(Value::as_str),
            message.get("sessionId").and_then(Value::as_str),
        ) else {
            return;
        };
        if state.events.len() >= MAX_QUEUED_EVENTS {
            state.events.pop_front();
        }
        state.events.push_back(Event {
            session: session.to_owned(),
            method: method.to_owned(),
            params: message.get("params").cloned().unwrap_or(Value::Null),
        });
        drop(state);
        self.arrived.notify_waiters();
    }

    /// Panics with `message` and the end of Chromium's log.
    fn fail(&self, message: &str) -> ! {
        panic!(
            "{message}\nChromium's log (the end; D-Bus complaints left out):\n{}",
            log_tail(&self.log)
        )
    }
}

/// The reader task: every message from fd 4, until the browser closes it.
async fn read_messages(connection: Arc<Connection>, replies: ChildStdout) {
    let mut reader = BufReader::new(replies);
    let mut buffer = Vec::new();
    let why = loop {
        buffer.clear();
        match reader.read_until(0, &mut buffer).await {
            Ok(0) => break "Chromium closed its end of the pipe (it exited)".to_owned(),
            Ok(_) => {}
            Err(error) => break format!("reading from Chromium failed: {error}"),
        }
        if buffer.last() == Some(&0) {
            buffer.pop();
        }
        match serde_json::from_slice(&buffer) {
            Ok(message) => connection.deliver(message),
            Err(error) => {
                break format!(
                    "Chromium sent a message that is not JSON ({error}): {}",
                    String::from_utf8_lossy(&buffer)
                );
            }
        }
    };
    let mut state = connection.state.lock().unwrap();
    state.closed = Some(why);
    // Dropping the senders wakes every command still waiting.
    state.pending.clear();
    drop(state);
    connection.arrived.notify_waiters();
}

/// `chromium` or `chromium-browser` on `PATH`, else `/usr/bin/chromium`, if executable.
fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    BINARIES
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .chain([PathBuf::from(DEBIAN_BINARY)])
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// The last lines of the log, without the D-Bus complaints a machine without a bus fills it with.
fn log_tail(log: &Path) -> String {
    let text = match std::fs::read(log) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) => return format!("(cannot read it: {error})"),
    };
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.contains("dbus") && !line.contains("D-Bus"))
        .collect();
    if lines.is_empty() {
        return "(empty)".to_owned();
    }
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// A CDP error (`{"code": -32000, "message": "…", "data": "…"}`) as one line.
fn error_text(error: &Value) -> String {
    let mut text = error["message"]
        .as_str()
        .unwrap_or("unknown error")
        .to_owned();
    if let Some(data) = error.get("data").and_then(Value::as_str) {
        let _ = write!(text, ": {data}");
    }
    if let Some(code) = error.get("code") {
        let _ = write!(text, " (code {code})");
    }
    text
}

/// `Runtime.ExceptionDetails` as text: the thrown value's description (`NotAllowedError: …`,
/// with the stack for errors), else the message Chromium gives.
fn exception_text(details: &Value) -> String {
    let exception = &details["exception"];
    if let Some(description) = exception.get("description").and_then(Value::as_str) {
        return description.to_owned();
    }
    if let Some(value) = exception.get("value") {
        return format!("{} {value}", details["text"].as_str().unwrap_or("Uncaught"));
    }
    details["text"]
        .as_str()
        .unwrap_or("an exception without a description")
        .to_owned()
}

/// `text` as a JavaScript string literal (JSON's are valid JavaScript).
fn js_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_exceptions_and_errors() {
        let rejected = json!({
            "text": "Uncaught (in promise)",
            "exception": {"type": "object", "className": "DOMException",
                          "description": "NotAllowedError: The operation either timed out or was not allowed."}
        });
        assert!(exception_text(&rejected).starts_with("NotAllowedError: "));
        let thrown_string =
            json!({"text": "Uncaught", "exception": {"type": "string", "value": "boom"}});
        assert_eq!(exception_text(&thrown_string), "Uncaught \"boom\"");
        assert_eq!(
            error_text(&json!({"code": -32000, "message": "Cannot find context"})),
            "Cannot find context (code -32000)"
        );
    }

    #[test]
    fn quotes_javascript_strings() {
        assert_eq!(js_string(r#"a[name="x"]'"#), r#""a[name=\"x\"]'""#);
    }

    #[test]
    fn leaves_d_bus_out_of_the_log_tail() {
        let folder = tempfile::tempdir().unwrap();
        let log = folder.path().join("chromium.log");
        std::fs::write(
            &log,
            "[1:1:ERROR:dbus/bus.cc:405] Failed to connect to the bus\nreal trouble\n",
        )
        .unwrap();
        assert_eq!(log_tail(&log), "real trouble");
        assert!(log_tail(&folder.path().join("missing")).starts_with("(cannot read it"));
    }
}
