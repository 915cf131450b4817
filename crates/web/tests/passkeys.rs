//! Passkeys (contract §10) in a real headless Chromium with the DevTools virtual
//! authenticator, against the real server over HTTP: register one from the account page, sign
//! in with it alone, use it as the second step after a password, remove it, and be refused —
//! on every leg of the matrix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_harness as common;
#[allow(unused_imports)]
use test_harness::on_every_backend;

use common::{Chromium, PASSWORD, Tab, spawn};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

async fn submit_form(tab: &Tab, fields: &[(&str, &str)], button: &str) {
    for (name, value) in fields {
        tab.fill(&format!("input[name={name}]"), value).await;
    }
    tab.click(button).await;
}

async fn wait_path(tab: &Tab, path: &str) {
    tab.wait_until(
        &format!("location.pathname === {path:?} && document.readyState === 'complete'"),
        WAIT,
    )
    .await;
}

async fn me_status(tab: &Tab) -> u64 {
    tab.eval("fetch('/api/v1/me').then(r => r.status)")
        .await
        .as_u64()
        .unwrap()
}

async fn log_out(tab: &Tab, site: &str) {
    tab.goto(&format!("{site}/logout")).await;
    tab.click("main form button[type=submit]").await;
    wait_path(tab, "/").await;
    assert_eq!(me_status(tab).await, 401);
}

on_every_backend! {
    async fn a_passkey_registers_signs_in_alone_and_as_a_second_factor_then_is_removed(backend: Backend) {
        let f = spawn(backend, |_| {}).await;
        let port = f.app.base.rsplit(':').next().unwrap().to_owned();
        let site = format!("http://localhost:{port}");
        let chromium = Chromium::launch().await;
        let tab = chromium.new_tab().await;
        let authenticator = tab.add_virtual_authenticator().await;

        tab.goto(&format!("{site}/register")).await;
        submit_form(&tab, &[("username", "ada"), ("password", PASSWORD)], "main form button[type=submit]").await;
        wait_path(&tab, "/login").await;
        submit_form(&tab, &[("username", "ada"), ("password", PASSWORD)], "main form button[type=submit]").await;
        wait_path(&tab, "/dashboard").await;

        // Register a passkey from the account page.
        tab.goto(&format!("{site}/account")).await;
        assert!(tab.text().await.contains("No passkeys yet."));
        tab.fill("#passkey-name", "laptop").await;
        tab.click("#passkey-register").await;
        let shown = tab
            .wait_until("(document.getElementById('passkey-status') && document.getElementById('passkey-status').textContent) || (document.querySelector('.passkey-name') && document.querySelector('.passkey-name').textContent)", WAIT)
            .await;
        assert_eq!(shown, "laptop", "the registration's outcome");
        tab.wait_event("WebAuthn.credentialAdded", WAIT).await;
        tab.wait_until("document.querySelector('.passkey-name') && document.querySelector('.passkey-name').textContent === 'laptop'", WAIT).await;
        let held = tab.credentials(&authenticator).await;
        assert_eq!(held.len(), 1);
        assert_eq!(held[0]["isResidentCredential"], true, "a discoverable credential");
        assert_eq!(held[0]["rpId"], "localhost");
        println!("registered: passkey \"laptop\" listed on /account; the authenticator holds 1 resident credential for rpId localhost");

        // Sign in with the passkey alone: no username, no password.
        log_out(&tab, &site).await;
        tab.goto(&format!("{site}/login")).await;
        tab.click("#passkey-login").await;
        tab.wait_event("WebAuthn.credentialAsserted", WAIT).await;
        wait_path(&tab, "/dashboard").await;
        assert!(tab.text().await.contains("Welcome to your private dashboard, ada!"));
        assert_eq!(me_status(&tab).await, 200);
        println!("signed in without a password: /dashboard says {:?}", "Welcome to your private dashboard, ada!");

        // A password alone is not enough any more: the passkey is the second step.
        log_out(&tab, &site).await;
        tab.goto(&format!("{site}/login")).await;
        submit_form(&tab, &[("username", "ada"), ("password", PASSWORD)], "main form button[type=submit]").await;
        wait_path(&tab, "/login/2fa").await;
        assert_eq!(me_status(&tab).await, 401, "a pending login is not a session");
        tab.click("#passkey-second-factor").await;
        tab.wait_event("WebAuthn.credentialAsserted", WAIT).await;
        wait_path(&tab, "/dashboard").await;
        println!("password + passkey as the second step: /dashboard");

        // Remove it (the login is recent), then it signs in nobody.
        tab.goto(&format!("{site}/account")).await;
        tab.click(".passkey-remove").await;
        tab.wait_until("document.body.innerText.includes('No passkeys yet.')", WAIT).await;
        log_out(&tab, &site).await;
        tab.goto(&format!("{site}/login")).await;
        tab.click("#passkey-login").await;
        tab.wait_event("WebAuthn.credentialAsserted", WAIT).await;
        let status = tab.wait_until("document.getElementById('passkey-status').textContent", WAIT).await;
        assert!(status.as_str().unwrap().contains("did not work"), "{status}");
        assert_eq!(tab.eval("location.pathname").await, "/login");
        assert_eq!(me_status(&tab).await, 401);
        println!("removed; sign-in refused: {status}");
        // And the password alone works again.
        submit_form(&tab, &[("username", "ada"), ("password", PASSWORD)], "main form button[type=submit]").await;
        wait_path(&tab, "/dashboard").await;
        f.app.stop().await;
    }
}
