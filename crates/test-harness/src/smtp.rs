//! A real SMTP server per test, and the messages it received.
//!
//! [`SmtpServer::start`] runs [aiosmtpd](https://aiosmtpd.aio-libs.org) (Python) on a free
//! loopback port with its `Mailbox` handler, which stores every delivered message as a Maildir
//! file; [`SmtpServer::wait_for`] reads them back as [`ReceivedMail`]. Plain SMTP, no TLS, no
//! authentication: `smtp://127.0.0.1:PORT`. `cargo xtask test` installs aiosmtpd when it is
//! missing. Each test starts its own server, so tests run in parallel.
//!
//! Test code: panics are how it fails.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use mailparse::{MailHeaderMap, ParsedMail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The aiosmtpd release `cargo xtask test` installs.
pub const AIOSMTPD_VERSION: &str = "1.4.6";

/// How to get aiosmtpd, for panic messages.
const FIX: &str = "run `cargo xtask test`, which installs aiosmtpd, or \
                   `python3 -m pip install aiosmtpd==1.4.6`";

/// How long [`SmtpServer::start`] waits for the server to answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How often the mailbox is read while waiting.
const POLL: Duration = Duration::from_millis(50);

/// A running aiosmtpd; dropping it stops the server and removes its mailbox.
pub struct SmtpServer {
    port: u16,
    child: Child,
    /// The Maildir: messages land in `new/`.
    maildir: PathBuf,
    /// The server's output (`-d`: one line per SMTP command), shown when a wait fails.
    log: PathBuf,
    /// File names [`SmtpServer::wait_for`] already returned.
    seen: Mutex<HashSet<String>>,
    _folder: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts a server on a free loopback port and waits (at most 20 s) until it greets with
    /// `220`. Panics, naming the fix, when python3 or aiosmtpd is missing.
    pub async fn start() -> SmtpServer {
        let folder = tempfile::tempdir().unwrap();
        // The port is free when chosen but could be taken before aiosmtpd binds it (by another
        // test's server): then aiosmtpd exits and another port is tried.
        for attempt in 1..=5 {
            let port = free_port();
            // aiosmtpd creates the Maildir itself; it must not exist yet.
            let maildir = folder.path().join(format!("mail-{attempt}"));
            let log = folder.path().join(format!("aiosmtpd-{attempt}.log"));
            let child = spawn(port, &maildir, &log);
            match wait_until_ready(child, port, &log).await {
                Ok(child) => {
                    return SmtpServer {
                        port,
                        child,
                        maildir,
                        log,
                        seen: Mutex::new(HashSet::new()),
                        _folder: folder,
                    };
                }
                Err(PortTaken) => continue,
            }
        }
        panic!("aiosmtpd: five free ports in a row were taken before it could bind them");
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP, no TLS, no authentication.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits (at most `timeout`) for a message to `to` (in its envelope recipients, else its
    /// `To` header; case-insensitive) for which `matching` is true and that no earlier call
    /// returned. Panics listing what did arrive when none comes in time.
    pub async fn wait_for(
        &self,
        to: &str,
        matching: impl Fn(&ReceivedMail) -> bool,
        timeout: Duration,
    ) -> ReceivedMail {
        let deadline = Instant::now() + timeout;
        loop {
            for (name, mail) in self.read_mailbox() {
                if mail.is_to(to) && matching(&mail) && self.seen.lock().unwrap().insert(name) {
                    return mail;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "no new matching message to {to} within {timeout:?}; received: {}\n\
                     aiosmtpd's log (the end):\n{}",
                    self.describe_received(),
                    self.log_text(),
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Every message received so far, in arrival order (returned by `wait_for` or not).
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.read_mailbox()
            .into_iter()
            .map(|(_, mail)| mail)
            .collect()
    }

    /// Waits `during` and panics as soon as a message to `to` arrives that
    /// [`SmtpServer::wait_for`] has not returned.
    pub async fn assert_nothing_for(&self, to: &str, during: Duration) {
        let deadline = Instant::now() + during;
        loop {
            let unexpected: Vec<ReceivedMail> = {
                let mailbox = self.read_mailbox();
                let seen = self.seen.lock().unwrap();
                mailbox
                    .into_iter()
                    .filter(|(name, mail)| !seen.contains(name) && mail.is_to(to))
                    .map(|(_, mail)| mail)
                    .collect()
            };
            if !unexpected.is_empty() {
                let list: Vec<String> = unexpected.iter().map(ReceivedMail::summary).collect();
                panic!(
                    "expected no message to {to}, but received: {}",
                    list.join("; ")
                );
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            tokio::time::sleep(POLL.min(deadline - now)).await;
        }
    }

    /// The delivered messages, oldest first (by modification time, then file name), with their
    /// file names.
    fn read_mailbox(&self) -> Vec<(String, ReceivedMail)> {
        let new = self.maildir.join("new");
        let mut files: Vec<(SystemTime, String, PathBuf)> = std::fs::read_dir(&new)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", new.display()))
            .map(|entry| {
                let entry = entry.unwrap();
                let modified = entry.metadata().unwrap().modified().unwrap();
                let name = entry.file_name().to_string_lossy().into_owned();
                (modified, name, entry.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, name, path)| {
                let raw = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                (name, ReceivedMail::parse(&raw))
            })
            .collect()
    }

    fn describe_received(&self) -> String {
        let list: Vec<String> = self.received().iter().map(ReceivedMail::summary).collect();
        if list.is_empty() {
            "nothing".to_owned()
        } else {
            list.join("; ")
        }
    }

    /// The last 60 lines of aiosmtpd's log.
    fn log_text(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `python3 -m aiosmtpd` on `port`, storing messages in the Maildir `maildir`, its output in
/// `log`. `-d` makes it say when it listens (so that a server of someone else's on the port is
/// not mistaken for ours) and log each SMTP command.
fn spawn(port: u16, maildir: &Path, log: &Path) -> Child {
    let output = File::create(log).unwrap();
    let mut command = Command::new("python3");
    command
        .args(["-m", "aiosmtpd", "-n", "-d", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output);
    command.spawn().unwrap_or_else(|error| {
        panic!(
            "cannot start python3 for the test SMTP server ({error}): install Python 3, then {FIX}"
        )
    })
}

/// The port was taken by someone else before aiosmtpd could bind it.
struct PortTaken;

/// Waits until `child` says it listens on `port` and a connection there gets a `220` greeting.
async fn wait_until_ready(mut child: Child, port: u16, log: &Path) -> Result<Child, PortTaken> {
    let listening = format!("listening on 127.0.0.1:{port}");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let output = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(status) = child.try_wait().unwrap() {
            if output.contains("No module named aiosmtpd") {
                panic!("the test SMTP server needs the Python module aiosmtpd: {FIX}");
            }
            if output.contains("address already in use") {
                return Err(PortTaken);
            }
            panic!("aiosmtpd exited ({status}) before it answered on port {port}:\n{output}");
        }
        if output.contains(&listening) && greets(port).await {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "aiosmtpd did not answer with 220 on 127.0.0.1:{port} within {START_TIMEOUT:?}; \
                 its output:\n{output}"
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether the server on `port` accepts a connection and greets with `220`.
async fn greets(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut greeting = String::new();
        BufReader::new(&mut stream)
            .read_line(&mut greeting)
            .await
            .ok()?;
        let _ = stream.write_all(b"QUIT\r\n").await;
        Some(greeting.starts_with("220"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// A message the server received, parsed.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope recipients (aiosmtpd's `X-RcptTo`, comma-separated), else the `To` header.
    pub to: String,
    /// The `From` header, else the envelope sender (aiosmtpd's `X-MailFrom`).
    pub from: String,
    /// The `Subject` header, decoded.
    pub subject: String,
    /// The first `text/plain` part that is not an attachment, decoded; empty when none.
    pub text: String,
    /// The first `text/html` part that is not an attachment, decoded.
    pub html: Option<String>,
    /// The whole message as stored.
    pub raw: String,
    /// Every header in order, values decoded (RFC 2047).
    pub headers: Vec<(String, String)>,
}

impl ReceivedMail {
    /// Parses a message as aiosmtpd stored it.
    pub fn parse(raw: &[u8]) -> ReceivedMail {
        let mail = mailparse::parse_mail(raw)
            .unwrap_or_else(|e| panic!("cannot parse a received message ({e}):\n{}", lossy(raw)));
        let header = |name: &str| mail.headers.get_first_value(name);
        let to = header("X-RcptTo")
            .or_else(|| header("To"))
            .unwrap_or_default();
        let from = header("From")
            .or_else(|| header("X-MailFrom"))
            .unwrap_or_default();
        ReceivedMail {
            to,
            from,
            subject: header("Subject").unwrap_or_default(),
            text: body_of(&mail, "text/plain").unwrap_or_default(),
            html: body_of(&mail, "text/html"),
            raw: lossy(raw),
            headers: mail
                .headers
                .iter()
                .map(|h| (h.get_key(), h.get_value()))
                .collect(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every `http://` or `https://` URL in the text part, in order, without trailing
    /// punctuation (`.`, `,`, `)`, `>`, …).
    pub fn links(&self) -> Vec<String> {
        self.text
            .split_whitespace()
            .filter_map(|word| {
                let start = word.find("https://").or_else(|| word.find("http://"))?;
                let link = word[start..].trim_end_matches(|c: char| {
                    matches!(
                        c,
                        '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '>' | '"' | '\''
                    )
                });
                Some(link.to_owned())
            })
            .collect()
    }

    /// The one link (see [`ReceivedMail::links`]) containing `path`; panics listing the links
    /// when there is none or several different ones.
    pub fn link_with(&self, path: &str) -> String {
        let links = self.links();
        let mut found: Vec<&String> = links.iter().filter(|link| link.contains(path)).collect();
        found.sort();
        found.dedup();
        match found.as_slice() {
            [link] => (*link).clone(),
            _ => panic!(
                "expected one link containing {path:?} in the message {:?}, found {}; its links: {links:?}",
                self.subject,
                found.len()
            ),
        }
    }

    /// Whether `to` is among the recipients (case-insensitive).
    fn is_to(&self, to: &str) -> bool {
        self.to.to_lowercase().contains(&to.to_lowercase())
    }

    /// `"subject" to X`, for panic messages.
    fn summary(&self) -> String {
        format!("{:?} to {}", self.subject, self.to)
    }
}

/// The decoded body of the first part of type `mimetype` that is not an attachment.
fn body_of(mail: &ParsedMail<'_>, mimetype: &str) -> Option<String> {
    mail.parts()
        .find(|part| {
            part.ctype.mimetype.eq_ignore_ascii_case(mimetype)
                && part.get_content_disposition().disposition
                    != mailparse::DispositionType::Attachment
        })
        .map(|part| part.get_body().unwrap())
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}
