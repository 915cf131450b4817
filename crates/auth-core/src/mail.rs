//! What the use cases mail, and the [`Outbox`] they hand it to.
//!
//! The service decides *that* a message goes out and *what* it says in substance (a
//! [`Letter`]); the web layer renders it from templates, builds its links from
//! `server.public_url` (never from a request's headers), and delivers it through the configured
//! transport's bounded queue. Posting never waits for a mail server and never fails: a use case
//! does not slow down or break because mail is slow or down.

use crate::email::{EmailAddress, LinkToken};
use crate::store::UserId;
use std::fmt;
use time::OffsetDateTime;

/// One message for one user.
#[derive(Debug, Clone)]
pub struct Letter {
    /// The recipient's address.
    pub to: EmailAddress,
    /// Whose message it is (for logs; never the address).
    pub user_id: UserId,
    /// The recipient's username, to greet them.
    pub username: String,
    /// What the message is.
    pub kind: LetterKind,
}

/// The messages Wristband sends. The two links carry a secret token (redacted in `Debug`);
/// notices carry none.
#[derive(Debug, Clone)]
pub enum LetterKind {
    /// "Confirm this address": a link to `/verify-email`.
    VerifyEmail(LinkToken),
    /// "Reset your password": a link to `/reset-password`.
    ResetPassword(LinkToken),
    /// Notice: the password was changed by the user.
    PasswordChanged,
    /// Notice: the password was reset through a link, or by an administrator.
    PasswordReset,
    /// Notice, to the old address: the account's address was changed to another one (named
    /// only by its domain, so a thief who changed it is not told the owner's other addresses).
    EmailChanged {
        /// The domain of the new address.
        new_domain: String,
    },
    /// Notice: a login from a browser that had no device cookie for this user.
    NewDeviceLogin {
        /// When.
        at: OffsetDateTime,
        /// The client's address, as the service saw it (`-` when unknown).
        address: String,
        /// The browser's `User-Agent`, if any (escaped by the templates).
        user_agent: Option<String>,
    },
    /// Notice: a second factor was added or removed (section 10).
    SecondFactorChanged {
        /// A short description: `"authenticator app added"`, `"passkey removed"`, …
        change: String,
    },
    /// Notice: a personal API token was created (section 11).
    ApiTokenCreated {
        /// The name its user gave it.
        name: String,
    },
}

impl LetterKind {
    /// A stable name for logs and template file names (`password-reset`, …).
    pub fn label(&self) -> &'static str {
        match self {
            Self::VerifyEmail(_) => "verify-email",
            Self::ResetPassword(_) => "reset-password",
            Self::PasswordChanged => "password-changed",
            Self::PasswordReset => "password-reset-notice",
            Self::EmailChanged { .. } => "email-changed",
            Self::NewDeviceLogin { .. } => "new-device-login",
            Self::SecondFactorChanged { .. } => "second-factor-changed",
            Self::ApiTokenCreated { .. } => "api-token-created",
        }
    }
}

/// Where the service posts letters. Implementations queue and return at once; delivery
/// failures are theirs to retry and log.
#[async_trait::async_trait]
pub trait Outbox: Send + Sync {
    /// Queues `letter` for delivery.
    fn post(&self, letter: Letter);

    /// Waits, at most `deadline`, until what was posted before has been delivered or given up
    /// on; true when done in time. For a graceful end (a server's shutdown, a command that
    /// exits after its work). The default has nothing to wait for.
    async fn flush(&self, deadline: std::time::Duration) -> bool {
        let _ = deadline;
        true
    }
}

/// An outbox that only logs that a letter would have gone out (without its link): the default
/// of an [`AuthService`](crate::AuthService) built without one, and `mail.transport = "log"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOutbox;

impl Outbox for LogOutbox {
    fn post(&self, letter: Letter) {
        tracing::info!(event = "mail.logged", kind = letter.kind.label(), user_id = %letter.user_id, domain = letter.to.domain(), "mail not sent (log transport)");
    }
}

impl fmt::Debug for dyn Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Outbox")
    }
}
