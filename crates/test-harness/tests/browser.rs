//! The harness's browser: a real headless Chromium registers a passkey on its virtual
//! authenticator from a page served over real HTTP, signs with it, and is refused once the
//! authenticator no longer verifies the user.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use serde_json::Value;
use test_harness::{Chromium, Tab};

const WAIT: Duration = Duration::from_secs(15);

/// A test page (not Wristband's CSP, so an inline script is fine): the button creates a
/// discoverable, user-verified passkey for RP `localhost` and writes the outcome into `#result`.
const PAGE: &str = r#"<!doctype html>
<html>
<head><meta charset="utf-8"><title>passkey</title></head>
<body>
<input id="name">
<button id="create">Create a passkey</button>
<p id="result"></p>
<script>
document.getElementById("create").addEventListener("click", async () => {
  const result = document.getElementById("result");
  try {
    const credential = await navigator.credentials.create({publicKey: {
      challenge: new Uint8Array(32),
      rp: {id: "localhost", name: "t"},
      user: {id: new Uint8Array(16), name: "u", displayName: "u"},
      pubKeyCredParams: [{type: "public-key", alg: -7}],
      authenticatorSelection: {residentKey: "required", userVerification: "required"},
    }});
    result.textContent = "created " + credential.id;
  } catch (error) {
    result.textContent = "failed " + error.name + ": " + error.message;
  }
});
</script>
</body>
</html>
"#;

/// A discoverable-credential assertion that requires user verification; resolves to the
/// credential's id and whether the authenticator data has the UV flag.
const GET: &str = r#"navigator.credentials.get({publicKey: {
  challenge: new Uint8Array(32),
  rpId: "localhost",
  userVerification: "required",
  timeout: 10000,
}}).then((credential) => ({
  id: credential.id,
  verified: (new Uint8Array(credential.response.authenticatorData)[32] & 4) !== 0,
}))"#;

/// Serves [`PAGE`] at `/` on a free loopback port; returns the port.
async fn serve_page() -> u16 {
    let app = Router::new().route("/", get(|| async { Html(PAGE) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// CDP's standard base64 as WebAuthn's unpadded base64url (`PublicKeyCredential.id`).
fn base64url(standard: &str) -> String {
    standard
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

async fn create_passkey(tab: &Tab) -> String {
    tab.click("#create").await;
    let result = tab
        .wait_until("document.getElementById('result').textContent", WAIT)
        .await;
    let result = result.as_str().unwrap();
    let Some(id) = result.strip_prefix("created ") else {
        panic!("navigator.credentials.create failed: {result}");
    };
    id.to_owned()
}

#[tokio::test]
async fn a_virtual_authenticator_registers_and_verifies_a_passkey() {
    let port = serve_page().await;
    let chromium = Chromium::launch().await;
    assert!(chromium.version().contains('/'), "{}", chromium.version());
    let tab = chromium.new_tab().await;
    let authenticator = tab.add_virtual_authenticator().await;

    let url = format!("http://localhost:{port}/");
    tab.goto(&url).await;
    assert_eq!(tab.url().await, url);
    assert!(tab.text().await.contains("Create a passkey"));

    // Registration: a resident credential for RP `localhost`.
    let id = create_passkey(&tab).await;
    let added = tab.wait_event("WebAuthn.credentialAdded", WAIT).await;
    assert_eq!(added["authenticatorId"], authenticator.as_str());
    assert!(tab.text().await.contains(&format!("created {id}")));
    let credentials = tab.credentials(&authenticator).await;
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    let credential = &credentials[0];
    assert_eq!(credential["isResidentCredential"], true, "{credential}");
    assert_eq!(credential["rpId"], "localhost", "{credential}");
    assert_eq!(
        base64url(credential["credentialId"].as_str().unwrap()),
        id,
        "{credential}"
    );

    // Authentication with user verification: the discoverable credential signs, UV flag set.
    let asserted = tab.eval(GET).await;
    assert_eq!(asserted["id"], id.as_str(), "{asserted}");
    assert_eq!(asserted["verified"], true, "{asserted}");
    let event = tab.wait_event("WebAuthn.credentialAsserted", WAIT).await;
    assert_eq!(event["authenticatorId"], authenticator.as_str());
    let signed = &tab.credentials(&authenticator).await[0];
    assert!(
        signed["signCount"].as_u64() > credential["signCount"].as_u64(),
        "{credential} then {signed}"
    );

    // The authenticator no longer verifies the user: a request that requires it is refused.
    tab.set_user_verified(&authenticator, false).await;
    let refused = tab.try_eval(GET).await;
    let Err(error) = refused else {
        panic!("navigator.credentials.get resolved without user verification: {refused:?}");
    };
    assert!(error.starts_with("NotAllowedError"), "{error}");
}

#[tokio::test]
async fn tabs_keep_their_own_cookies_and_scripts_report_their_errors() {
    let port = serve_page().await;
    let chromium = Chromium::launch().await;
    let first = chromium.new_tab().await;
    let second = chromium.new_tab().await;
    let url = format!("http://localhost:{port}/");
    first.goto(&url).await;
    second.goto(&url).await;

    first.eval("document.cookie = 'jar=first'").await;
    assert_eq!(first.eval("document.cookie").await, "jar=first");
    assert_eq!(second.eval("document.cookie").await, "");

    first
        .eval("document.getElementById('name').addEventListener('input', (e) => document.title = e.target.value)")
        .await;
    first.fill("#name", "typed \"quoted\"").await;
    assert_eq!(first.eval("document.title").await, "typed \"quoted\"");
    assert_eq!(first.eval("undefined").await, Value::Null);
    assert_eq!(
        first
            .eval("new Promise((done) => setTimeout(() => done(42), 10))")
            .await,
        42
    );
    let error = first.try_eval("null.property").await.unwrap_err();
    assert!(error.starts_with("TypeError"), "{error}");
    let error = first
        .try_eval("Promise.reject(new Error('no'))")
        .await
        .unwrap_err();
    assert!(error.starts_with("Error: no"), "{error}");
}
