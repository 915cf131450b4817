//! Mail: what the email use cases send (SPEC section 9). [`render`] turns the service's letters
//! into messages from the `mail.txt` / `mail.html` templates, with links from
//! `server.public_url`; [`transport`] takes a finished message
//! (subject, plain text, HTML) and delivers it through the configured `[mail]` transport —
//! SMTP, `.eml` files or the log — from a bounded queue drained by one background task that
//! retries failures, so sending never blocks or fails a request.

pub(crate) mod render;
pub(crate) mod transport;
