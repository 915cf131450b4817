// Passkey ceremonies for Wristband's pages (a static file: the CSP allows no inline script).
// A button names its start and finish endpoints in data attributes; the JSON API does the rest.
(function () {
  "use strict";

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : {};
    if (!response.ok) {
      throw new Error(data.detail || ("HTTP " + response.status));
    }
    return data;
  }

  function show(button, message) {
    const target = document.getElementById(button.dataset.status || "passkey-status");
    if (target) {
      target.textContent = message;
    }
  }

  async function register(button) {
    const started = await post(button.dataset.start);
    const options = PublicKeyCredential.parseCreationOptionsFromJSON(started.options.publicKey);
    const credential = await navigator.credentials.create({ publicKey: options });
    const nameField = document.getElementById("passkey-name");
    await post(button.dataset.finish, {
      ceremony: started.ceremony,
      name: nameField ? nameField.value : "",
      credential: credential.toJSON(),
    });
    window.location.assign(button.dataset.done || window.location.href);
  }

  async function authenticate(button) {
    const started = await post(button.dataset.start);
    const options = PublicKeyCredential.parseRequestOptionsFromJSON(started.options.publicKey);
    const credential = await navigator.credentials.get({ publicKey: options });
    await post(button.dataset.finish, { ceremony: started.ceremony, credential: credential.toJSON() });
    const next = document.querySelector("input[name=next]");
    window.location.assign((next && next.value) || button.dataset.done || "/");
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-passkey]");
    if (!button) {
      return;
    }
    event.preventDefault();
    if (!window.PublicKeyCredential) {
      show(button, "This browser cannot use passkeys.");
      return;
    }
    const run = button.dataset.passkey === "register" ? register : authenticate;
    show(button, "");
    run(button).catch(function (error) {
      show(button, "The passkey did not work: " + error.message);
    });
  });
})();
