// Theme island: the page follows the OS until the user picks a theme with
// the toggle. The choice (a display preference, never anything secret) is
// kept in a cookie, which the server renders into <html data-theme>, so a
// page paints in its theme at once and this script can load deferred.
(function () {
  "use strict";
  var root = document.documentElement;
  var name = "fdlstudio-theme";

  function save(theme) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = name + "=" + theme + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
  }

  // Carry over a choice stored by earlier versions in localStorage.
  if (!root.hasAttribute("data-theme") && document.cookie.indexOf(name + "=") < 0) {
    var old = null;
    try { old = localStorage.getItem(name); localStorage.removeItem(name); } catch (e) { /* storage disabled */ }
    if (old === "light" || old === "dark") {
      root.setAttribute("data-theme", old);
      save(old);
    }
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
    btn.setAttribute("data-current", current());
  }

  var btn = document.querySelector("[data-theme-toggle]");
  if (!btn) return;
  btn.hidden = false;
  label(btn);
  btn.addEventListener("click", function () {
    var next = current() === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    save(next);
    label(btn);
  });
})();
