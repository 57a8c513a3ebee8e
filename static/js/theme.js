// Theme island: follows the OS by default; the toggle button cycles
// through light and dark and remembers the choice (a display preference,
// never anything secret) in localStorage.
(function () {
  "use strict";
  var root = document.documentElement;
  var key = "fdlstudio-theme";
  var saved = null;
  try { saved = localStorage.getItem(key); } catch (e) { /* storage disabled */ }
  if (saved === "light" || saved === "dark") {
    root.setAttribute("data-theme", saved);
  }

  function current() {
    var t = root.getAttribute("data-theme");
    if (t) return t;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function label(btn) {
    var next = current() === "dark" ? "light" : "dark";
    btn.setAttribute("aria-label", "Switch to " + next + " theme");
    btn.setAttribute("title", "Switch to " + next + " theme");
    btn.textContent = current() === "dark" ? "\u2600" : "\u263D";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var btn = document.querySelector("[data-theme-toggle]");
    if (!btn) return;
    btn.hidden = false;
    label(btn);
    btn.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem(key, next); } catch (e) { /* storage disabled */ }
      label(btn);
    });
  });
})();
