//! Turning the service's [`Letter`]s into messages: the `mail.txt` and `mail.html` templates,
//! links built from `server.public_url` (never from a request), and the [`Postbox`] that hands
//! them to the transport's queue.

use super::transport::{MailSender, OutgoingMail};
use crate::templates::Templates;
use auth_core::LinkPurpose;
use auth_core::mail::{Letter, LetterKind, Outbox};
use serde::Serialize;
use std::time::Duration;
use time::format_description::well_known::Rfc2822;

/// Where links in mail point: the public origin and the pages' prefix.
#[derive(Debug, Clone)]
pub(crate) struct LinkBase {
    /// `server.public_url` (or `http://` + `server.bind`), without a trailing `/`.
    pub public_url: String,
    /// The pages' mount prefix (`""` at the root).
    pub pages: String,
}

impl LinkBase {
    fn link(&self, path: &str, token: &auth_core::LinkToken) -> String {
        format!(
            "{}{}{path}?token={}",
            self.public_url,
            self.pages,
            token.encode()
        )
    }
}

/// What the templates see.
#[derive(Serialize)]
struct MailContext<'a> {
    kind: &'static str,
    username: &'a str,
    site: &'a str,
    link: Option<String>,
    expires_in: Option<&'static str>,
    new_domain: Option<&'a str>,
    at: Option<String>,
    address: Option<&'a str>,
    user_agent: Option<&'a str>,
    change: Option<&'a str>,
    token_name: Option<&'a str>,
}

fn subject(kind: &LetterKind) -> &'static str {
    match kind {
        LetterKind::VerifyEmail(_) => "Confirm your email address",
        LetterKind::ResetPassword(_) => "Reset your password",
        LetterKind::PasswordChanged => "Your password was changed",
        LetterKind::PasswordReset => "Your password was reset",
        LetterKind::EmailChanged { .. } => "Your email address was changed",
        LetterKind::NewDeviceLogin { .. } => "New sign-in to your account",
        LetterKind::SecondFactorChanged { .. } => "Your second factor changed",
        LetterKind::ApiTokenCreated { .. } => "A new API token for your account",
    }
}

fn lifetime_words(purpose: LinkPurpose) -> &'static str {
    match purpose {
        LinkPurpose::VerifyEmail => "24 hours",
        LinkPurpose::ResetPassword => "30 minutes",
    }
}

/// Renders letters and queues them for the transport.
#[derive(Debug, Clone)]
pub(crate) struct Postbox {
    templates: Templates,
    links: LinkBase,
    sender: MailSender,
}

impl Postbox {
    pub(crate) fn new(templates: Templates, links: LinkBase, sender: MailSender) -> Self {
        Self {
            templates,
            links,
            sender,
        }
    }

    /// The finished message for `letter`.
    pub(crate) fn render(&self, letter: &Letter) -> Result<OutgoingMail, minijinja::Error> {
        let site = self.links.public_url.as_str();
        let mut context = MailContext {
            kind: letter.kind.label(),
            username: &letter.username,
            site,
            link: None,
            expires_in: None,
            new_domain: None,
            at: None,
            address: None,
            user_agent: None,
            change: None,
            token_name: None,
        };
        match &letter.kind {
            LetterKind::VerifyEmail(token) => {
                context.link = Some(self.links.link("/verify-email", token));
                context.expires_in = Some(lifetime_words(LinkPurpose::VerifyEmail));
            }
            LetterKind::ResetPassword(token) => {
                context.link = Some(self.links.link("/reset-password", token));
                context.expires_in = Some(lifetime_words(LinkPurpose::ResetPassword));
            }
            LetterKind::EmailChanged { new_domain } => context.new_domain = Some(new_domain),
            LetterKind::NewDeviceLogin {
                at,
                address,
                user_agent,
            } => {
                context.at = Some(at.format(&Rfc2822).unwrap_or_else(|_| at.to_string()));
                context.address = Some(address);
                context.user_agent = user_agent.as_deref();
            }
            LetterKind::SecondFactorChanged { change } => context.change = Some(change),
            LetterKind::ApiTokenCreated { name } => context.token_name = Some(name),
            LetterKind::PasswordChanged | LetterKind::PasswordReset => {}
        }
        let text = self.templates.render("mail.txt", &context)?;
        let html = self.templates.render("mail.html", &context)?;
        Ok(OutgoingMail {
            to: letter.to.as_str().to_owned(),
            subject: subject(&letter.kind).to_owned(),
            text,
            html,
            label: letter.kind.label(),
            user_id: Some(letter.user_id.0),
        })
    }
}

#[async_trait::async_trait]
impl Outbox for Postbox {
    fn post(&self, letter: Letter) {
        match self.render(&letter) {
            Ok(mail) => self.sender.send(mail),
            // A broken override (an app's template) must not break the use case; it is logged
            // where an operator sees it.
            Err(error) => tracing::error!(
                label = letter.kind.label(),
                user_id = %letter.user_id,
                error = %error,
                "cannot render a mail template: message not sent"
            ),
        }
    }

    async fn flush(&self, deadline: Duration) -> bool {
        self.sender.flush(deadline).await
    }
}
