// live.js: live updates of the jobs and job log pages (handlers/live.go).
// The server sends JSON messages over a WebSocket: fragments of HTML it
// rendered, each replacing the element with its id, and new log lines
// with their numbers. After a dropped connection the page reconnects with
// backoff, sending the cursor of the last message so that it gets exactly
// what it missed. Without JavaScript the pages work as before (reload).
// Elements with data-notify-key are jobs and runs: when one that was not
// finished comes back finished (data-notify-done), the browser shows a
// notification, if the reader turned them on with the page's button (the
// permission is only asked on that click).
(function () {
  "use strict";
  var state = document.querySelector("[data-live]");
  if (!state || !("WebSocket" in window)) {
    return;
  }
  var stateText = state.querySelector(".live-text");
  var path = state.getAttribute("data-live");
  // What the state line says when the stream has ended (a job's log, an
  // apply); the page may say it in its own words.
  var endedText = state.getAttribute("data-ended-text") || "The job has ended; its log is complete.";
  var log = document.getElementById("job-log");
  var empty = document.getElementById("log-empty");
  var jump = document.getElementById("jump-latest");
  var maxLines = log ? parseInt(log.getAttribute("data-max-lines"), 10) || 5000 : 0;
  var cursor = "";
  var delay = 0;
  var ended = false;
  var failure = "";
  var following = true;
  var timer = 0; // the pending reconnection

  function show(kind, text) {
    state.setAttribute("data-state", kind);
    stateText.textContent = text;
  }

  function atBottom() {
    var doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 40;
  }

  function lastLine() {
    var li = log && log.lastElementChild;
    return li ? parseInt(li.getAttribute("value"), 10) : 0;
  }

  function lineItem(n, text) {
    var li = document.createElement("li");
    li.setAttribute("value", String(n));
    var ln = document.createElement("span");
    ln.className = "ln";
    ln.setAttribute("aria-hidden", "true");
    ln.textContent = String(n);
    var lt = document.createElement("span");
    lt.className = "lt";
    lt.textContent = text;
    li.appendChild(ln);
    li.appendChild(lt);
    return li;
  }

  // appendLines adds the lines not shown yet (numbers past the last one;
  // the last may have grown), keeping at most maxLines.
  function appendLines(lines) {
    if (!log || !lines.length) {
      return;
    }
    var follow = following && atBottom();
    var last = lastLine();
    var frag = document.createDocumentFragment();
    for (var i = 0; i < lines.length; i++) {
      var l = lines[i];
      if (l.n > last) {
        frag.appendChild(lineItem(l.n, l.t));
        last = l.n;
      } else if (l.n === last && log.lastElementChild) {
        log.lastElementChild.querySelector(".lt").textContent = l.t;
      }
    }
    log.appendChild(frag);
    while (log.children.length > maxLines) {
      log.removeChild(log.firstElementChild);
    }
    if (log.children.length) {
      log.hidden = false;
      if (empty) {
        empty.hidden = true;
      }
    }
    if (follow) {
      window.scrollTo(0, document.documentElement.scrollHeight);
    } else if (jump) {
      jump.hidden = false;
    }
  }

  // Notifications: finished[key] is set for every job or run seen
  // finished, so each is announced once, and never one that had finished
  // before the page was opened.
  var notifyButton = document.getElementById("notify-toggle");
  var finished = {};
  var notifyKey = "fdlstudio-notify";

  function notifying() {
    return "Notification" in window && Notification.permission === "granted" &&
      window.localStorage.getItem(notifyKey) === "on";
  }

  function showNotifyButton() {
    if (!notifyButton) {
      return;
    }
    var on = notifying();
    notifyButton.setAttribute("aria-pressed", on ? "true" : "false");
    notifyButton.textContent = on ? "Notifications on: turn off" :
      (window.Notification && Notification.permission === "denied" ? "Notifications are blocked by the browser" : "Notify me when jobs and runs finish");
    notifyButton.disabled = !on && window.Notification && Notification.permission === "denied";
  }

  function noteFinished(root, announce) {
    var els = [];
    if (root.hasAttribute && root.hasAttribute("data-notify-key")) {
      els.push(root);
    }
    var found = root.querySelectorAll("[data-notify-key]");
    for (var i = 0; i < found.length; i++) {
      els.push(found[i]);
    }
    els.forEach(function (el) {
      var key = el.getAttribute("data-notify-key");
      if (el.getAttribute("data-notify-done") !== "true" || finished[key]) {
        return;
      }
      finished[key] = true;
      if (announce && notifying()) {
        try {
          new Notification("FDL Studio", { body: el.getAttribute("data-notify") || key, tag: key });
        } catch (e) {
          // Some browsers only notify from a service worker: nothing to do.
        }
      }
    });
  }

  if (notifyButton && "Notification" in window) {
    notifyButton.hidden = false;
    showNotifyButton();
    notifyButton.addEventListener("click", function () {
      if (notifying()) {
        window.localStorage.setItem(notifyKey, "off");
        showNotifyButton();
        return;
      }
      Notification.requestPermission().then(function (p) {
        window.localStorage.setItem(notifyKey, p === "granted" ? "on" : "off");
        showNotifyButton();
      });
    });
  }
  noteFinished(document, false);

  function swap(s) {
    var el = document.getElementById(s.id);
    if (!el) {
      return;
    }
    var t = document.createElement("template");
    t.innerHTML = s.html;
    var node = t.content.firstElementChild;
    if (node) {
      el.replaceWith(node);
      noteFinished(node, true);
    }
  }

  function apply(msg) {
    cursor = msg.cursor;
    (msg.swap || []).forEach(swap);
    appendLines(msg.lines || []);
    failure = msg.error || "";
    if (msg.ended) {
      ended = true;
    }
    showConnected();
  }

  function showConnected() {
    if (failure) {
      show("failing", "Live updates: the cluster does not answer (" + failure + "); retrying.");
    } else if (ended) {
      show("ended", endedText);
    } else {
      show("live", "Live: updates appear as they happen.");
    }
  }

  function connect() {
    var url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (cursor) {
      url.searchParams.set("after", cursor);
    }
    var ws = new WebSocket(url.toString());
    var opened = false;
    ws.onopen = function () {
      opened = true;
      delay = 0;
      showConnected();
    };
    ws.onmessage = function (ev) {
      try {
        apply(JSON.parse(ev.data));
      } catch (e) {
        show("offline", "Live updates failed: " + e.message);
      }
    };
    ws.onclose = function () {
      // Back off from 0.5 s up to 15 s, with jitter; reconnect sooner when
      // the browser says it is back online.
      delay = Math.min(Math.max(delay * 2, 500), 15000);
      var wait = delay / 2 + Math.random() * delay / 2;
      show("offline", (opened ? "Offline: " : "Cannot connect: ") + "reconnecting in " + Math.ceil(wait / 1000) + " s…");
      timer = window.setTimeout(function () {
        timer = 0;
        connect();
      }, wait);
    };
  }

  if (jump) {
    jump.addEventListener("click", function () {
      following = true;
      jump.hidden = true;
      window.scrollTo(0, document.documentElement.scrollHeight);
    });
    window.addEventListener("scroll", function () {
      if (atBottom()) {
        following = true;
        jump.hidden = true;
      } else {
        following = false;
      }
    }, { passive: true });
  }
  window.addEventListener("online", function () {
    if (timer) {
      window.clearTimeout(timer);
      timer = 0;
      connect();
    }
  });
  connect();
})();
