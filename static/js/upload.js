// Upload island: files and folders chosen with the pickers or dropped on
// the drop zone are sent one request per file (three at a time) as the
// raw request body, so the browser streams them from disk and the server
// streams them on to the cluster. Each file gets its own progress bar,
// cancel button and error message. Without JavaScript the same form posts
// multipart data and the server redirects back.
(function () {
  "use strict";
  var PARALLEL = 3;

  function human(n) {
    if (n < 1024) return n + " B";
    var units = ["KiB", "MiB", "GiB", "TiB"], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(1) + " " + units[i];
  }

  function setup(form) {
    var list = form.querySelector("[data-upload-list]");
    var status = form.querySelector("[data-upload-status]");
    var zone = form.querySelector("[data-drop]");
    var token = form.elements.csrf_token ? form.elements.csrf_token.value : "";
    var queue = [], active = 0, total = 0, finished = 0, succeeded = 0;
    var submit = form.querySelector("[data-upload-submit]");
    if (submit) submit.hidden = true; // choosing files starts the upload

    function announce() {
      status.textContent = finished + " of " + total + " uploads finished";
    }

    function add(file, path) {
      var li = document.createElement("li");
      li.className = "files-item";
      li.setAttribute("data-state", "queued");
      li.setAttribute("data-path", path);
      var name = document.createElement("span");
      name.className = "files-item-name";
      name.textContent = path;
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Upload of " + path);
      var msg = document.createElement("span");
      msg.className = "files-item-status";
      msg.textContent = "waiting · " + human(file.size);
      var cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "btn btn-small";
      cancel.textContent = "Cancel";
      cancel.setAttribute("aria-label", "Cancel upload of " + path);
      li.append(name, bar, msg, cancel);
      list.append(li);
      var job = { file: file, path: path, li: li, bar: bar, msg: msg, cancel: cancel, xhr: null, over: false };
      cancel.addEventListener("click", function () {
        if (job.over) return;
        if (job.xhr) job.xhr.abort();
        else { queue.splice(queue.indexOf(job), 1); end(job, "cancelled", "cancelled"); }
      });
      queue.push(job);
      total++;
      announce();
    }

    function end(job, state, text) {
      job.over = true;
      job.li.setAttribute("data-state", state);
      job.msg.textContent = text;
      job.cancel.hidden = true;
      if (state === "done") { job.bar.value = 100; succeeded++; }
      finished++;
      announce();
      if (job.xhr) { active--; job.xhr = null; }
      pump();
      if (active === 0 && queue.length === 0 && succeeded > 0) {
        succeeded = 0;
        document.body.dispatchEvent(new CustomEvent("files-changed"));
      }
    }

    function send(job) {
      var xhr = new XMLHttpRequest();
      job.xhr = xhr;
      active++;
      var url = form.action + "&path=" + encodeURIComponent(job.path);
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", token);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Content-Type", job.file.type || "application/octet-stream");
      job.li.setAttribute("data-state", "uploading");
      job.msg.textContent = "0%";
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.floor((e.loaded / e.total) * 100);
        job.bar.value = Math.min(pct, 99); // 100 once the server confirms
        job.msg.textContent = pct + "% of " + human(e.total);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          end(job, "done", "uploaded · " + human(job.file.size));
          return;
        }
        var text = "failed (" + xhr.status + ")";
        try {
          var body = JSON.parse(xhr.responseText);
          if (body && body.error) text = body.error;
        } catch (e) { /* not JSON: keep the status */ }
        end(job, "error", text);
      });
      xhr.addEventListener("error", function () { end(job, "error", "the connection failed; nothing was stored"); });
      xhr.addEventListener("abort", function () { end(job, "cancelled", "cancelled"); });
      xhr.send(job.file);
    }

    function pump() {
      while (active < PARALLEL && queue.length > 0) send(queue.shift());
    }

    function addFiles(files) {
      for (var i = 0; i < files.length; i++) {
        var f = files[i];
        add(f, f.webkitRelativePath || f.name);
      }
      pump();
    }

    // Dropped folders are walked with the entries API; plain files (and
    // synthetic drops) come from getAsFile.
    function walk(entry, done) {
      if (entry.isFile) {
        entry.file(function (f) { add(f, entry.fullPath.replace(/^\/+/, "")); done(); }, function () { done(); });
        return;
      }
      var reader = entry.createReader(), pending = 1;
      function finish() { if (--pending === 0) done(); }
      (function more() {
        reader.readEntries(function (entries) {
          if (entries.length === 0) { finish(); return; }
          entries.forEach(function (e) { pending++; walk(e, finish); });
          more();
        }, finish);
      })();
    }

    function onDrop(dt) {
      var items = dt.items ? Array.prototype.slice.call(dt.items) : [];
      var entries = [], loose = [];
      items.forEach(function (it) {
        if (it.kind !== "file") return;
        var e = it.webkitGetAsEntry ? it.webkitGetAsEntry() : null;
        if (e) entries.push(e);
        else { var f = it.getAsFile(); if (f) loose.push(f); }
      });
      if (items.length === 0) loose = Array.prototype.slice.call(dt.files || []);
      addFiles(loose);
      var pending = entries.length;
      entries.forEach(function (e) { walk(e, function () { if (--pending === 0) pump(); }); });
    }

    form.addEventListener("change", function (e) {
      if (e.target.type !== "file") return;
      addFiles(e.target.files);
      e.target.value = "";
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    function hasFiles(e) {
      return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") >= 0;
    }
    zone.addEventListener("dragover", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
      zone.classList.add("files-drop-active");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("files-drop-active"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("files-drop-active");
      if (e.dataTransfer) onDrop(e.dataTransfer);
    });
    // A drop that misses the zone must not navigate away from the page.
    window.addEventListener("dragover", function (e) { if (hasFiles(e)) e.preventDefault(); });
    window.addEventListener("drop", function (e) { if (hasFiles(e)) e.preventDefault(); });
  }

  function showCopy(root) {
    var btns = root.querySelectorAll ? root.querySelectorAll("[data-copy]") : [];
    for (var i = 0; i < btns.length; i++) btns[i].hidden = false;
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-copy]");
    if (!btn) return;
    var input = btn.closest(".files-copy").querySelector("input");
    input.select();
    var ok = function () { btn.textContent = "Copied"; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(ok, function () { btn.textContent = "Press Ctrl+C to copy"; });
    } else {
      btn.textContent = "Press Ctrl+C to copy";
    }
  });
  document.addEventListener("htmx:load", function (e) { showCopy(e.target); });

  var forms = document.querySelectorAll("form[data-upload]");
  for (var i = 0; i < forms.length; i++) setup(forms[i]);
  showCopy(document);
})();
