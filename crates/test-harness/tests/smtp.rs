//! The harness's SMTP server: a real aiosmtpd, a real message sent to it over SMTP, read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use test_harness::{ReceivedMail, SmtpServer};

const WAIT: Duration = Duration::from_secs(10);

async fn send(server: &SmtpServer, to: &str, subject: &str, text: &str, html: &str) {
    let message = Message::builder()
        .from(
            "Wristband <noreply@wristband.test>"
                .parse::<Mailbox>()
                .unwrap(),
        )
        .to(to.parse::<Mailbox>().unwrap())
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(
            text.to_owned(),
            html.to_owned(),
        ))
        .unwrap();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.port())
        .build();
    transport.send(message).await.unwrap();
}

#[tokio::test]
async fn a_sent_message_is_received_and_read_back() {
    let server = SmtpServer::start().await;
    assert_eq!(server.url(), format!("smtp://127.0.0.1:{}", server.port()));

    // A link long enough for quoted-printable soft line breaks, and a non-ASCII subject.
    let token = "x".repeat(90);
    let link = format!("http://127.0.0.1:8080/password/reset/{token}");
    let text = format!(
        "Hello Alice,\n\nto choose a new password, open <{link}>.\n\nSee https://wristband.test/help.\n"
    );
    let html = format!("<p>Hello Alice, <a href=\"{link}\">choose a new password</a>.</p>");
    send(
        &server,
        "Bob <bob@wristband.test>",
        "Other",
        "Not yours.",
        "<p>Not yours.</p>",
    )
    .await;
    send(
        &server,
        "Alice <Alice@Wristband.test>",
        "Réinitialiser — reset",
        &text,
        &html,
    )
    .await;

    let mail = server
        .wait_for(
            "alice@wristband.TEST",
            |m| m.subject.contains("reset"),
            WAIT,
        )
        .await;
    assert_eq!(mail.subject, "Réinitialiser — reset");
    assert!(
        mail.to.to_lowercase().contains("alice@wristband.test"),
        "{}",
        mail.to
    );
    assert_eq!(mail.from, "Wristband <noreply@wristband.test>");
    assert_eq!(mail.text.replace("\r\n", "\n"), text);
    assert!(
        mail.html.as_deref().unwrap().contains(&link),
        "{:?}",
        mail.html
    );
    assert_eq!(
        mail.links(),
        [link.clone(), "https://wristband.test/help".to_owned()]
    );
    assert_eq!(mail.link_with("/password/reset/"), link);
    assert_eq!(mail.header("X-MailFrom"), Some("noreply@wristband.test"));

    // Returned once: the same message does not satisfy a second wait, nor count as new.
    server
        .assert_nothing_for("alice@wristband.test", Duration::from_millis(200))
        .await;
    let bob = server.wait_for("bob@wristband.test", |_| true, WAIT).await;
    assert_eq!(bob.subject, "Other");
    let all: Vec<String> = server.received().into_iter().map(|m| m.subject).collect();
    assert_eq!(all, ["Other", "Réinitialiser — reset"]);

    // Dropping the server stops it.
    let port = server.port();
    drop(server);
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}

#[tokio::test]
#[should_panic(expected = "expected no message to carol@wristband.test")]
async fn an_unexpected_message_fails_assert_nothing_for() {
    let server = SmtpServer::start().await;
    send(
        &server,
        "carol@wristband.test",
        "Surprise",
        "Hi",
        "<p>Hi</p>",
    )
    .await;
    server
        .assert_nothing_for("carol@wristband.test", WAIT)
        .await;
}

#[tokio::test]
#[should_panic(expected = "no new matching message to dave@wristband.test")]
async fn a_message_that_does_not_come_fails_wait_for() {
    let server = SmtpServer::start().await;
    send(
        &server,
        "erin@wristband.test",
        "For Erin",
        "Hi",
        "<p>Hi</p>",
    )
    .await;
    server
        .wait_for("dave@wristband.test", |_| true, Duration::from_millis(500))
        .await;
}

#[test]
fn links_lose_their_trailing_punctuation() {
    let mail = ReceivedMail::parse(
        b"To: a@b.test\nSubject: Links\n\n\
          Open (https://a.test/one), then https://a.test/two.\n\
          <http://a.test/three> and https://a.test/one again: \"https://a.test/four\";\n",
    );
    assert_eq!(
        mail.links(),
        [
            "https://a.test/one",
            "https://a.test/two",
            "http://a.test/three",
            "https://a.test/one",
            "https://a.test/four",
        ]
    );
    assert_eq!(mail.link_with("one"), "https://a.test/one");
    assert_eq!(mail.to, "a@b.test");
    assert_eq!(mail.html, None);
}

#[test]
#[should_panic(expected = "expected one link containing \"a.test\"")]
fn link_with_refuses_an_ambiguous_path() {
    let mail = ReceivedMail::parse(b"Subject: Links\n\nhttps://a.test/one https://a.test/two\n");
    mail.link_with("a.test");
}
