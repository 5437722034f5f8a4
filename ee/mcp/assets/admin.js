// Alga admin: optional enhancements. Every flow works without this file.
(function () {
  "use strict";
  // Copy buttons: <button data-copy="#id">.
  // The clipboard API exists only on secure origins (https, localhost).
  document.querySelectorAll(navigator.clipboard ? "button[data-copy]" : "none").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      var text = source.value !== undefined ? source.value : source.textContent;
      navigator.clipboard.writeText(text).then(function () {
        var label = button.textContent;
        button.textContent = "Copied";
        button.setAttribute("aria-live", "polite");
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });
  // The provider form shows only the fields of the chosen preset.
  var kind = document.getElementById("idp-kind");
  if (kind) {
    var sync = function () {
      document.querySelectorAll("[data-kind]").forEach(function (part) {
        part.hidden = part.getAttribute("data-kind") !== kind.value;
      });
    };
    kind.addEventListener("change", sync);
    sync();
  }
  // Destructive buttons ask first (the server-side confirmation page remains without JavaScript).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
