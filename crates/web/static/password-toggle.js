// Wristband: show/hide toggles for password inputs.
//
// Markup (see the templates):
//   <div class="password-field">
//     <input type="password" id="password" ...>
//     <button type="button" class="password-toggle" aria-controls="password"
//             aria-pressed="false">Show</button>
//   </div>
//
// Loaded with `defer` from /static (CSP: script-src 'self'); no inline code.
// Without JavaScript the toggles are hidden by app.css and the inputs still work.
(function () {
  "use strict";

  // Tell the stylesheet that the toggles will work.
  document.documentElement.classList.add("js");

  function setVisible(button, input, visible) {
    input.type = visible ? "text" : "password";
    button.textContent = visible ? "Hide" : "Show";
    button.setAttribute("aria-pressed", visible ? "true" : "false");
  }

  function init() {
    var buttons = document.querySelectorAll(".password-toggle");
    Array.prototype.forEach.call(buttons, function (button) {
      var input = document.getElementById(button.getAttribute("aria-controls") || "");
      if (!input || input.tagName !== "INPUT") {
        button.hidden = true;
        return;
      }
      setVisible(button, input, false);

      button.addEventListener("click", function () {
        var wasVisible = input.type === "text";
        setVisible(button, input, !wasVisible);
        input.focus();
      });

      // Always submit with the input masked again, so browsers treat it as a
      // password (password managers, not caching the text field's value).
      if (input.form) {
        input.form.addEventListener("submit", function () {
          setVisible(button, input, false);
        });
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
