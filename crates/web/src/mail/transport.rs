//! Delivering finished messages: a bounded queue in front of the configured transport.
//!
//! [`start`] builds the transport `[mail]` names and spawns the one task that drains the queue;
//! [`MailSender::send`] queues an [`OutgoingMail`] and returns at once. The task sends up to
//! [`MAX_IN_FLIGHT`] messages at a time, retries a failed one after each of the given delays
//! (see [`RETRY_DELAYS`]) unless the server refused it for good (a 5xx reply), and logs an
//! ERROR when it gives up. Nothing here logs a message's text or HTML: they carry secret links.
//!
//! - `smtp`: lettre's pooled SMTP client from `mail.smtp_url` (`smtp://` plain,
//!   `?tls=required` STARTTLS, `smtps://` implicit TLS; rustls with the webpki roots), logging
//!   in with the URL's user and the URL's password or `MAIL_SMTP_PASSWORD`. A server that does
//!   not answer at start is an ERROR in the log, never a refusal to start.
//! - `file`: one `<uuid>.eml` file per message under `mail.dir` (created at start).
//! - `log`: an INFO line per message — its kind, user id and recipient domain, nothing else.
//!
//! Shutting down: [`MailSender::flush`] waits (bounded) until what was queued has gone out;
//! then abort the task's [`JoinHandle`] (or drop every [`MailSender`]: the task then drains the
//! queue and ends by itself).

use crate::config::{ConfigError, MailSettings, MailTransportKind};
use auth_core::SecretString;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

/// Messages that may wait for the transport; a message sent while the queue is full is logged
/// as an ERROR and dropped.
pub(crate) const QUEUE_CAPACITY: usize = 1000;

/// Messages being sent (or waiting for a retry) at once.
pub(crate) const MAX_IN_FLIGHT: usize = 4;

/// The waits before the retries of a failed message: three more tries, about half a minute in
/// all, then the message is given up on (with an ERROR).
pub(crate) const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(25),
];

/// One finished message for one recipient. `text` and `html` may carry a secret link: they
/// are never logged, and `Debug` shows only `label`, `user_id` and `subject`.
pub(crate) struct OutgoingMail {
    /// The recipient: an address (`alice@example.com`), or a mailbox (`Alice <alice@example.com>`).
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// What the message is, for logs (`"reset-password"`, …).
    pub label: &'static str,
    /// Whose message it is, for logs (never the address).
    pub user_id: Option<i64>,
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("label", &self.label)
            .field("user_id", &self.user_id)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What the queue carries: a message, or a flush marker answered once every message before it
/// is done.
enum Job {
    Mail(OutgoingMail),
    Flush(oneshot::Sender<()>),
}

/// The sending end of the mail queue; cheap to clone, one per holder.
#[derive(Clone)]
pub(crate) struct MailSender {
    queue: mpsc::Sender<Job>,
}

impl fmt::Debug for MailSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSender")
            .field(
                "queued",
                &(self.queue.max_capacity() - self.queue.capacity()),
            )
            .finish_non_exhaustive()
    }
}

impl MailSender {
    /// Queues `mail` and returns at once; never blocks, never fails. When the queue is full
    /// (or the sending task has stopped) the message is not sent and an ERROR says so, naming
    /// its label and user id.
    pub(crate) fn send(&self, mail: OutgoingMail) {
        use mpsc::error::TrySendError;
        match self.queue.try_send(Job::Mail(mail)) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                if let Job::Mail(mail) = job {
                    tracing::error!(
                        label = mail.label,
                        user_id = mail.user_id,
                        capacity = QUEUE_CAPACITY,
                        "mail queue full: message not sent"
                    );
                }
            }
            Err(TrySendError::Closed(job)) => {
                if let Job::Mail(mail) = job {
                    tracing::error!(
                        label = mail.label,
                        user_id = mail.user_id,
                        "mail sending has stopped: message not sent"
                    );
                }
            }
        }
    }

    /// Waits until every message queued before this call has been sent or given up on (which
    /// may include retries), at most `deadline`. True when it finished in time (or the sending
    /// task had already ended); false when the deadline passed first. For a graceful shutdown:
    /// `flush` first, then abort the task.
    pub(crate) async fn flush(&self, deadline: Duration) -> bool {
        let (done, finished) = oneshot::channel();
        let wait = async {
            if self.queue.send(Job::Flush(done)).await.is_err() {
                return; // The task has ended: nothing is left to wait for.
            }
            // An error here means the task ended, which it does only after its queue.
            let _ = finished.await;
        };
        tokio::time::timeout(deadline, wait).await.is_ok()
    }
}

/// Builds the transport `settings` name and spawns the task that delivers queued mail; needs a
/// Tokio runtime.
///
/// - `smtp_password`: `MAIL_SMTP_PASSWORD` (see `Config`), used when `mail.smtp_url` names a
///   user but carries no password.
/// - `warn_not_sent`: log a WARN at start when the transport is `file` or `log` (the lead
///   passes "production and `account.email` is not `off`").
/// - `retry_delays`: the waits before each retry of a failed message; [`RETRY_DELAYS`] in
///   production, shorter in tests.
///
/// Fails (a configuration error naming the key) on what validation refuses — no or a malformed
/// `mail.smtp_url` for `smtp`, a `mail.from` that is not an address — and on a `mail.dir` that
/// cannot be created, a URL naming a user without any password, or a password without a user.
/// An SMTP server that does not answer is not an error: the check runs in the background and
/// logs an ERROR; messages wait in the queue and are retried.
pub(crate) fn start(
    settings: &MailSettings,
    smtp_password: Option<&SecretString>,
    warn_not_sent: bool,
    retry_delays: &[Duration],
) -> Result<(MailSender, JoinHandle<()>), ConfigError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| ConfigError::Invalid("mail: the sending task needs a Tokio runtime".into()))?;
    let from_text = settings.from_or_default();
    let from: Mailbox = from_text.parse().map_err(|_| {
        invalid(format!(
            "`mail.from` ({from_text:?}) is not a mail address; use one such as \
             \"Wristband <no-reply@example.com>\""
        ))
    })?;
    let transport = match settings.transport {
        MailTransportKind::Smtp => {
            if settings.from.is_none() {
                tracing::warn!(
                    from = from_text,
                    "`mail.from` is unset: mail goes out from the default sender, which mail \
                     servers may refuse; set mail.from"
                );
            }
            Transport::Smtp(smtp_transport(settings, smtp_password)?)
        }
        MailTransportKind::File => {
            std::fs::create_dir_all(&settings.dir).map_err(|error| {
                invalid(format!(
                    "`mail.dir`: cannot create {}: {error}",
                    settings.dir.display()
                ))
            })?;
            Transport::File {
                transport: AsyncFileTransport::new(&settings.dir),
                dir: settings.dir.clone(),
            }
        }
        MailTransportKind::Log => Transport::Log,
    };
    if warn_not_sent {
        match settings.transport {
            MailTransportKind::File => tracing::warn!(
                dir = %settings.dir.display(),
                "mail is not being sent: mail.transport is \"file\", messages are only written \
                 as .eml files; set mail.transport = \"smtp\" and mail.smtp_url"
            ),
            MailTransportKind::Log => tracing::warn!(
                "mail is not being sent: mail.transport is \"log\", messages are only logged; \
                 set mail.transport = \"smtp\" and mail.smtp_url"
            ),
            MailTransportKind::Smtp => {}
        }
    }
    let (sender, queue) = channel(QUEUE_CAPACITY);
    let worker = run(
        queue,
        Arc::new(transport),
        Arc::new(from),
        retry_delays.into(),
    );
    Ok((sender, runtime.spawn(worker)))
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid(format!("invalid configuration: {message}"))
}

fn channel(capacity: usize) -> (MailSender, mpsc::Receiver<Job>) {
    let (queue, receiver) = mpsc::channel(capacity);
    (MailSender { queue }, receiver)
}

/// lettre's SMTP client for `mail.smtp_url`, with the credentials it or `smtp_password` gives.
fn smtp_transport(
    settings: &MailSettings,
    smtp_password: Option<&SecretString>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, ConfigError> {
    // The URL is never repeated in a message: it may hold a password.
    let url = settings.smtp_url.as_deref().ok_or_else(|| {
        invalid("`mail.smtp_url` must be set when `mail.transport` is \"smtp\"".into())
    })?;
    let malformed = |reason: String| {
        invalid(format!(
            "`mail.smtp_url` is not an SMTP URL ({reason}); use smtp://HOST:PORT, \
             smtp://HOST:PORT?tls=required or smtps://HOST:PORT"
        ))
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|error| malformed(error.to_string()))?;
    let parsed = url::Url::parse(url).map_err(|error| malformed(error.to_string()))?;
    // lettre takes the credentials from the URL only when it has a password.
    if parsed.password().is_some() {
        if smtp_password.is_some() {
            tracing::warn!(
                "MAIL_SMTP_PASSWORD is ignored: `mail.smtp_url` carries a password, which wins"
            );
        }
    } else {
        let user = percent_encoding::percent_decode_str(parsed.username())
            .decode_utf8()
            .map_err(|error| malformed(error.to_string()))?;
        match (user.is_empty(), smtp_password) {
            (false, Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    user.into_owned(),
                    password.expose().to_owned(),
                ));
            }
            (false, None) => {
                return Err(invalid(
                    "`mail.smtp_url` names a user but no password: set MAIL_SMTP_PASSWORD".into(),
                ));
            }
            (true, Some(_)) => {
                return Err(invalid(
                    "MAIL_SMTP_PASSWORD is set but `mail.smtp_url` names no user: put it before \
                     the host, as in smtps://USER@HOST"
                        .into(),
                ));
            }
            (true, None) => {} // No authentication.
        }
    }
    Ok(builder.build())
}

/// Where messages go.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
    Log,
}

/// Why one attempt failed: the error's text (lettre's errors name the kind and the server's
/// reply, never the message), and whether retrying is pointless.
struct Failure {
    error: String,
    permanent: bool,
}

impl Transport {
    async fn send(&self, message: &Message, mail: &OutgoingMail) -> Result<(), Failure> {
        match self {
            Self::Smtp(smtp) => {
                smtp.send(message.clone()).await.map_err(|error| Failure {
                    permanent: error.is_permanent(),
                    error: error.to_string(),
                })?;
                tracing::info!(label = mail.label, user_id = mail.user_id, "mail sent");
            }
            Self::File { transport, dir } => {
                let id = transport
                    .send(message.clone())
                    .await
                    .map_err(|error| Failure {
                        permanent: false,
                        error: error.to_string(),
                    })?;
                tracing::info!(
                    label = mail.label,
                    user_id = mail.user_id,
                    file = %dir.join(format!("{id}.eml")).display(),
                    "mail written to a file (mail.transport = \"file\"), not sent"
                );
            }
            Self::Log => {
                let domain = message
                    .envelope()
                    .to()
                    .first()
                    .map(|address| address.domain().to_owned())
                    .unwrap_or_default();
                tracing::info!(
                    label = mail.label,
                    user_id = mail.user_id,
                    domain,
                    "mail logged (mail.transport = \"log\"), not sent"
                );
            }
        }
        Ok(())
    }

    /// Whether the SMTP server answers (and accepts the login), logged; run in the background.
    async fn check(self: Arc<Self>) {
        let Self::Smtp(smtp) = &*self else {
            return;
        };
        match smtp.test_connection().await {
            Ok(true) => tracing::info!("the SMTP server answers"),
            Ok(false) => tracing::error!(
                "the SMTP server does not answer: mail waits in the queue and is retried"
            ),
            Err(error) => tracing::error!(
                error = %error,
                "the SMTP server does not answer: mail waits in the queue and is retried"
            ),
        }
    }
}

/// Aborts a task when dropped (with the sending task that owns it).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The sending task: takes messages off the queue and delivers up to [`MAX_IN_FLIGHT`] at once;
/// answers a flush marker once every delivery started before it is done; ends when every
/// sender is gone and the queue is empty.
async fn run(
    mut queue: mpsc::Receiver<Job>,
    transport: Arc<Transport>,
    from: Arc<Mailbox>,
    retry_delays: Arc<[Duration]>,
) {
    let _check = AbortOnDrop(tokio::spawn(Arc::clone(&transport).check()));
    let mut in_flight = JoinSet::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        tokio::select! {
            job = queue.recv(), if in_flight.len() < MAX_IN_FLIGHT => match job {
                Some(Job::Mail(mail)) => {
                    in_flight.spawn(deliver(
                        Arc::clone(&transport),
                        Arc::clone(&from),
                        mail,
                        Arc::clone(&retry_delays),
                    ));
                }
                Some(Job::Flush(done)) if in_flight.is_empty() => {
                    let _ = done.send(());
                }
                Some(Job::Flush(done)) => flushes.push(done),
                None => break,
            },
            Some(finished) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Err(error) = finished {
                    tracing::error!(error = %error, "a mail delivery ended abnormally");
                }
                if in_flight.is_empty() {
                    for done in flushes.drain(..) {
                        let _ = done.send(());
                    }
                }
            }
        }
    }
    while in_flight.join_next().await.is_some() {}
    for done in flushes {
        let _ = done.send(());
    }
}

/// Sends one message, retrying after each of `retry_delays` unless a failure is permanent;
/// logs the outcome.
async fn deliver(
    transport: Arc<Transport>,
    from: Arc<Mailbox>,
    mail: OutgoingMail,
    retry_delays: Arc<[Duration]>,
) {
    let message = match build_message(&from, &mail) {
        Ok(message) => message,
        Err(error) => {
            tracing::error!(
                label = mail.label,
                user_id = mail.user_id,
                error = %error,
                "mail not sent: the message could not be built"
            );
            return;
        }
    };
    let mut delays = retry_delays.iter();
    let mut attempts = 1;
    loop {
        let Err(failure) = transport.send(&message, &mail).await else {
            return;
        };
        if failure.permanent {
            tracing::error!(
                label = mail.label,
                user_id = mail.user_id,
                error = %failure.error,
                "mail not sent: the server refused it"
            );
            return;
        }
        let Some(delay) = delays.next() else {
            tracing::error!(
                label = mail.label,
                user_id = mail.user_id,
                attempts,
                error = %failure.error,
                "mail not sent: giving up after the last retry"
            );
            return;
        };
        tracing::warn!(
            label = mail.label,
            user_id = mail.user_id,
            attempts,
            retry_in = ?delay,
            error = %failure.error,
            "mail not sent yet; retrying"
        );
        tokio::time::sleep(*delay).await;
        attempts += 1;
    }
}

/// The message: `From`, `To`, `Subject`, `Date`, a `Message-ID`, and a multipart/alternative
/// body of the text and the HTML.
fn build_message(from: &Mailbox, mail: &OutgoingMail) -> Result<Message, String> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|error| format!("the recipient is not a mail address ({error})"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .date_now()
        .message_id(None)
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Mutex;
    use std::time::Instant;
    use test_harness::{ReceivedMail, SmtpServer};

    /// Short waits between retries, so a test needs no more than a second or two.
    const QUICK: [Duration; 8] = [Duration::from_millis(200); 8];

    /// Everything logged while the guard lives (on this thread: `#[tokio::test]` runs its
    /// spawned tasks here too).
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl Logs {
        fn capture(&self) -> tracing::subscriber::DefaultGuard {
            let logs = self.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || logs.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::DEBUG)
                .finish();
            tracing::subscriber::set_default(subscriber)
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    impl Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn mail(to: &str) -> OutgoingMail {
        OutgoingMail {
            to: to.into(),
            subject: "Reset your password — Wristband".into(),
            text: "Open https://shop.example/reset-password?token=SECRETTOKEN to reset it.".into(),
            html:
                "<p><a href=\"https://shop.example/reset-password?token=SECRETTOKEN\">Reset</a></p>"
                    .into(),
            label: "reset-password",
            user_id: Some(42),
        }
    }

    fn settings(transport: MailTransportKind) -> MailSettings {
        MailSettings {
            transport,
            from: Some("Shop <no-reply@shop.example>".into()),
            ..MailSettings::default()
        }
    }

    fn smtp(url: &str) -> MailSettings {
        MailSettings {
            smtp_url: Some(url.into()),
            ..settings(MailTransportKind::Smtp)
        }
    }

    #[test]
    fn debug_shows_neither_text_nor_html() {
        let printed = format!("{:?}", mail("alice@example.com"));
        assert!(
            printed.contains("reset-password") && printed.contains("42"),
            "{printed}"
        );
        assert!(printed.contains("Reset your password"), "{printed}");
        for hidden in ["SECRETTOKEN", "alice", "<p>"] {
            assert!(!printed.contains(hidden), "{hidden} in {printed}");
        }
    }

    #[tokio::test]
    async fn the_file_transport_writes_a_multipart_eml_file() {
        let folder = tempfile::tempdir().unwrap();
        let dir = folder.path().join("not/yet/there");
        let settings = MailSettings {
            dir: dir.clone(),
            ..settings(MailTransportKind::File)
        };
        let (sender, task) = start(&settings, None, false, &QUICK).unwrap();
        sender.send(mail("Alice <alice@example.com>"));
        assert!(sender.flush(Duration::from_secs(10)).await);
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].extension().unwrap(), "eml");
        let received = ReceivedMail::parse(&std::fs::read(&files[0]).unwrap());
        assert_eq!(received.header("To"), Some("Alice <alice@example.com>"));
        assert_eq!(received.from, "Shop <no-reply@shop.example>");
        assert_eq!(received.subject, "Reset your password — Wristband");
        assert!(
            received
                .header("Content-Type")
                .unwrap()
                .starts_with("multipart/alternative"),
            "{}",
            received.raw
        );
        assert!(
            received.text.contains("token=SECRETTOKEN"),
            "{}",
            received.text
        );
        assert!(
            received.html.as_deref().unwrap().contains("<a href="),
            "{}",
            received.raw
        );
        assert!(
            received
                .header("Message-ID")
                .is_some_and(|id| id.contains('@'))
        );
        assert!(received.header("Date").is_some());
        task.abort();
    }

    #[tokio::test]
    async fn a_full_queue_logs_an_error_and_does_not_block() {
        let logs = Logs::default();
        let _guard = logs.capture();
        // Nobody drains this queue.
        let (sender, _queue) = channel(2);
        let begun = Instant::now();
        for user_id in [1, 2, 3] {
            sender.send(OutgoingMail {
                user_id: Some(user_id),
                ..mail("alice@example.com")
            });
        }
        assert!(begun.elapsed() < Duration::from_secs(1));
        let text = logs.text();
        assert_eq!(
            text.matches("mail queue full: message not sent").count(),
            1,
            "{text}"
        );
        let line = text.lines().find(|l| l.contains("queue full")).unwrap();
        assert!(line.contains("ERROR"), "{line}");
        assert!(
            line.contains("label=\"reset-password\"") || line.contains("label=reset-password"),
            "{line}"
        );
        assert!(line.contains("user_id=3"), "{line}");
        assert!(
            !text.contains("SECRETTOKEN") && !text.contains("alice"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_log_transport_logs_the_kind_user_and_domain_only() {
        let logs = Logs::default();
        let _guard = logs.capture();
        let (sender, task) = start(&settings(MailTransportKind::Log), None, true, &QUICK).unwrap();
        sender.send(mail("alice@example.com"));
        assert!(sender.flush(Duration::from_secs(10)).await);
        let text = logs.text();
        let line = text
            .lines()
            .find(|l| l.contains("mail logged"))
            .expect(&text);
        assert!(
            line.contains("INFO") && line.contains("user_id=42"),
            "{line}"
        );
        assert!(
            line.contains("example.com") && line.contains("reset-password"),
            "{line}"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("WARN") && l.contains("mail is not being sent")),
            "{text}"
        );
        for secret in ["SECRETTOKEN", "alice", "Reset your password"] {
            assert!(!text.contains(secret), "{secret} logged: {text}");
        }
        task.abort();
    }

    #[tokio::test]
    async fn start_refuses_what_it_cannot_send_with() {
        let password = SecretString::new("hunter2");
        let refused = |settings: MailSettings, password: Option<&SecretString>| {
            let error = start(&settings, password, false, &QUICK)
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(!error.contains("hunter2"), "{error}");
            error
        };
        let no_url = MailSettings {
            smtp_url: None,
            ..smtp("")
        };
        assert!(refused(no_url, None).contains("`mail.smtp_url`"));
        assert!(refused(smtp("smtpx://mailer:hunter2@host"), None).contains("`mail.smtp_url`"));
        let user_without_password = refused(smtp("smtp://mailer@127.0.0.1:2525"), None);
        assert!(
            user_without_password.contains("`mail.smtp_url`")
                && user_without_password.contains("MAIL_SMTP_PASSWORD"),
            "{user_without_password}"
        );
        let password_without_user = refused(smtp("smtp://127.0.0.1:2525"), Some(&password));
        assert!(
            password_without_user.contains("MAIL_SMTP_PASSWORD"),
            "{password_without_user}"
        );
        let bad_from = MailSettings {
            from: Some("nobody".into()),
            ..settings(MailTransportKind::Log)
        };
        assert!(refused(bad_from, None).contains("`mail.from`"));
        // The user from the URL, the password from the variable; the URL's own password.
        for (url, password) in [
            ("smtp://mailer@127.0.0.1:9?tls=required", Some(&password)),
            ("smtps://mailer:hunter2@127.0.0.1:9", None),
            ("smtp://127.0.0.1:9", None),
        ] {
            let (_sender, task) = start(&smtp(url), password, false, &QUICK).unwrap();
            task.abort();
        }
    }

    #[tokio::test]
    async fn smtp_delivers_to_a_real_server() {
        let server = SmtpServer::start().await;
        let (sender, task) = start(&smtp(&server.url()), None, false, &QUICK).unwrap();
        sender.send(mail("alice@example.com"));
        let received = server
            .wait_for("alice@example.com", |_| true, Duration::from_secs(20))
            .await;
        assert_eq!(received.subject, "Reset your password — Wristband");
        assert_eq!(received.from, "Shop <no-reply@shop.example>");
        assert!(
            received.text.contains("token=SECRETTOKEN"),
            "{}",
            received.raw
        );
        assert!(received.html.is_some_and(|html| html.contains("<a href=")));
        assert!(sender.flush(Duration::from_secs(10)).await);
        task.abort();
    }

    /// Relays every connection to `127.0.0.1:to`, the server that was not there at first.
    async fn relay(listener: tokio::net::TcpListener, to: u16) {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(("127.0.0.1", to))
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    }

    #[tokio::test]
    async fn smtp_retries_until_the_server_answers() {
        let logs = Logs::default();
        let _guard = logs.capture();
        let server = SmtpServer::start().await;
        // A port nobody listens on yet; later it relays to the server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = smtp(&format!("smtp://127.0.0.1:{port}"));
        let (sender, task) = start(&settings, None, false, &QUICK).unwrap();
        sender.send(mail("bob@example.com"));
        // The start-up check and the first attempt fail: connection refused.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(logs.text().contains("retrying") && logs.text().contains("does not answer")) {
            assert!(
                Instant::now() < deadline,
                "no retry logged: {}",
                logs.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let _relay = AbortOnDrop(tokio::spawn(relay(listener, server.port())));
        let received = server
            .wait_for("bob@example.com", |_| true, Duration::from_secs(20))
            .await;
        assert!(received.text.contains("token=SECRETTOKEN"));
        assert!(sender.flush(Duration::from_secs(10)).await);
        let text = logs.text();
        assert!(
            text.lines()
                .any(|l| l.contains("ERROR") && l.contains("the SMTP server does not answer")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("INFO") && l.contains("mail sent")),
            "{text}"
        );
        assert!(!text.contains("giving up"), "{text}");
        assert!(!text.contains("SECRETTOKEN"), "{text}");
        task.abort();
    }

    #[tokio::test]
    async fn a_message_is_given_up_on_after_the_last_retry() {
        let logs = Logs::default();
        let _guard = logs.capture();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = smtp(&format!("smtp://127.0.0.1:{port}"));
        let delays = [Duration::from_millis(10); 2];
        let (sender, task) = start(&settings, None, false, &delays).unwrap();
        sender.send(mail("carol@example.com"));
        assert!(sender.flush(Duration::from_secs(10)).await);
        let text = logs.text();
        let line = text.lines().find(|l| l.contains("giving up")).expect(&text);
        assert!(
            line.contains("ERROR") && line.contains("user_id=42"),
            "{line}"
        );
        assert!(line.contains("attempts=3"), "{line}");
        assert_eq!(text.matches("retrying").count(), 2, "{text}");
        assert!(
            !text.contains("SECRETTOKEN") && !text.contains("carol"),
            "{text}"
        );
        task.abort();
    }
}
