// The composer's editor island. The server owns the workflow: every edit
// is POSTed to /workflows/:id/edit, applied there through fdl, and the
// answer (text, graph with server-rendered node cards, positions,
// diagnostics) is drawn again. Drawflow only draws and reports gestures.
(function () {
  "use strict";
  var root = document.getElementById("composer");
  if (!root || typeof Drawflow === "undefined") return;
  if (window.performance && performance.mark) performance.mark("composer:start");
  var wfID = root.dataset.id;
  var state = JSON.parse(document.getElementById("composer-state").textContent);
  var csrf = "";
  try { csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; } catch (e) { /* no token: the server refuses the edit */ }

  var canvas = document.getElementById("wf-canvas");
  var yamlBox = document.getElementById("wf-yaml");
  var diagList = document.getElementById("wf-diags");
  var message = document.getElementById("wf-message");
  var panel = document.getElementById("wf-panel");
  var dirtyBadge = document.getElementById("wf-dirty");
  var versionLabel = document.getElementById("wf-version");
  var dialog = document.getElementById("wf-dialog");

  var editor = new Drawflow(canvas);
  editor.reroute = false;
  editor.start();

  var undoStack = [], redoStack = [];
  var rendering = false;
  var dfOf = {}, idOf = {}; // node id <-> drawflow id
  var selected = []; // node ids
  var clipboard = [];
  var dirty = !!state.draft;
  var busy = Promise.resolve();

  function nodeByID(id) {
    for (var i = 0; i < state.nodes.length; i++) if (state.nodes[i].id === id) return state.nodes[i];
    return null;
  }

  function say(text, x, y) {
    message.textContent = text;
    message.classList.toggle("wf-message-at", x !== undefined);
    if (x !== undefined) {
      var r = canvas.getBoundingClientRect();
      message.style.left = Math.max(0, x - r.left) + "px";
      message.style.top = Math.max(0, y - r.top) + "px";
    }
  }

  function positions() {
    var pos = { nodes: {}, loose: state.positions.loose || [] };
    var data = editor.drawflow.drawflow.Home.data;
    Object.keys(idOf).forEach(function (df) {
      var n = data[df];
      if (n) pos.nodes[idOf[df]] = { x: n.pos_x, y: n.pos_y };
    });
    Object.keys(state.positions.nodes || {}).forEach(function (id) {
      if (!pos.nodes[id]) pos.nodes[id] = state.positions.nodes[id];
    });
    return pos;
  }

  // drawAllConnections sets every link's path in two passes, all reads
  // then all writes, so the browser lays the page out once; Drawflow's own
  // per-connection update (same geometry) would lay it out once per link.
  function drawAllConnections() {
    var pre = editor.precanvas, z = editor.zoom;
    var ux = (pre.clientWidth / (pre.clientWidth * z)) || 0, uy = (pre.clientHeight / (pre.clientHeight * z)) || 0;
    var pr = pre.getBoundingClientRect();
    var conns = canvas.querySelectorAll(".connection");
    var paths = [];
    conns.forEach(function (c) {
      var cl = c.classList; // connection node_in_<node> node_out_<node> output_N input_N
      var inPort = document.getElementById(cl[1].slice(8)).querySelector("." + cl[4]);
      var outPort = document.getElementById(cl[2].slice(9)).querySelector("." + cl[3]);
      var ir = inPort.getBoundingClientRect(), or = outPort.getBoundingClientRect();
      paths.push(editor.createCurvature(
        outPort.offsetWidth / 2 + (or.x - pr.x) * ux, outPort.offsetHeight / 2 + (or.y - pr.y) * uy,
        inPort.offsetWidth / 2 + (ir.x - pr.x) * ux, inPort.offsetHeight / 2 + (ir.y - pr.y) * uy,
        editor.curvature, "openclose"));
    });
    conns.forEach(function (c, i) { c.children[0].setAttributeNS(null, "d", paths[i]); });
  }

  function render() {
    rendering = true;
    var keepSel = selected.slice();
    var update = editor.updateConnectionNodes;
    editor.updateConnectionNodes = function () {};
    editor.clear();
    dfOf = {}; idOf = {};
    state.nodes.forEach(function (n) {
      var p = state.positions.nodes[n.id] || { x: 40, y: 40 };
      var df = editor.addNode(n.kind, 1, 1, p.x, p.y, "wf-node wf-node-" + n.kind, { id: n.id }, n.html);
      dfOf[n.id] = df; idOf[df] = n.id;
      var el = document.getElementById("node-" + df);
      el.setAttribute("tabindex", "-1");
      el.setAttribute("role", "group");
      el.setAttribute("aria-label", n.kind === "storage" ? "storage " + n.provider + ":" + n.path : (n.backend === "aws" ? "Lambda function " : "OSCAR service ") + n.name);
      el.dataset.nodeId = n.id;
    });
    state.edges.forEach(function (e) {
      if (dfOf[e.from] && dfOf[e.to]) editor.addConnection(dfOf[e.from], dfOf[e.to], "output_1", "input_1");
    });
    editor.updateConnectionNodes = update;
    drawAllConnections();
    rendering = false;
    selected = keepSel.filter(function (id) { return dfOf[id]; });
    markSelected();
    if (!yamlFocused()) setYAMLText(state.yaml);
    showDiagnostics(state.diagnostics);
    versionLabel.textContent = "version " + state.version;
    dirtyBadge.hidden = !dirty;
    fillConnectMenus();
    refreshTable();
  }

  // The YAML pane becomes the CodeMirror editor when focused (code-editor.js),
  // or when there are errors to mark in it; its textarea stays in step.
  function yamlEditor() { return yamlBox._fdlCodeEditor; }
  function yamlFocused() {
    var ed = yamlEditor();
    return document.activeElement === yamlBox || !!(ed && ed.view.hasFocus);
  }
  function setYAMLText(text) {
    var ed = yamlEditor();
    if (ed && ed.view.state.doc.toString() !== text) ed.view.dispatch({ changes: { from: 0, to: ed.view.state.doc.length, insert: text } });
    yamlBox.value = text;
  }
  // markYAML marks each diagnostic at its line and column in the editor;
  // open loads the editor first (for a refused text), else the marks wait
  // until the pane is focused.
  var yamlDiags = [];
  function markYAML(ds, open) {
    yamlDiags = ds || [];
    var ed = yamlEditor();
    if (ed) { ed.setDiagnostics(yamlDiags, { reveal: !ed.view.hasFocus }); return; }
    if (!open || !window.fdlCodeEditor) return;
    var text = yamlBox.value;
    window.fdlCodeEditor.attach(yamlBox, { language: "yaml", label: "FDL" }).then(function (e) {
      if (yamlBox.value === text) e.setDiagnostics(ds, { reveal: true });
    }, function (err) { console.error("FDL Studio: the YAML editor could not be loaded:", err); });
  }

  yamlBox.addEventListener("focus", function () {
    if (!window.fdlCodeEditor) return;
    window.fdlCodeEditor.attach(yamlBox, { language: "yaml" }).then(function (e) { e.setDiagnostics(yamlDiags); }, function () {});
  });

  function showDiagnostics(ds, open) {
    markYAML(ds, open);
    diagList.textContent = "";
    (ds || []).forEach(function (d) {
      var li = document.createElement("li");
      li.className = "wf-diag wf-diag-" + d.severity;
      var b = document.createElement("button");
      b.type = "button";
      b.className = "linklike";
      b.textContent = "line " + d.line + ":" + d.col;
      b.addEventListener("click", function () { goToLine(d.line, d.col); });
      li.appendChild(b);
      li.appendChild(document.createTextNode(" " + d.severity + ": " + d.message));
      diagList.appendChild(li);
    });
  }

  function goToLine(line, col) {
    var ed = yamlEditor();
    if (ed) {
      var doc = ed.view.state.doc, l = doc.line(Math.min(Math.max(1, line), doc.lines));
      ed.view.dispatch({ selection: { anchor: Math.min(l.from + Math.max(0, (col || 1) - 1), l.to) }, scrollIntoView: true });
      ed.view.focus();
      return;
    }
    var lines = yamlBox.value.split("\n");
    var off = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) off += lines[i].length + 1;
    off += Math.max(0, (col || 1) - 1);
    yamlBox.focus();
    yamlBox.setSelectionRange(off, off + Math.max(1, (lines[line - 1] || "").length - (col || 1) + 1));
  }

  function refreshTable() {
    var names = {};
    state.nodes.forEach(function (n) { if (n.kind === "storage") names[n.id] = n.provider + ":" + n.path; });
    var tbody = document.querySelector("#wf-table tbody");
    if (!tbody) return;
    tbody.textContent = "";
    state.nodes.forEach(function (n) {
      if (n.kind === "storage") return;
      var ins = [], outs = [];
      state.edges.forEach(function (e) {
        if (e.to === n.id && e.role === "input") ins.push(names[e.from]);
        if (e.from === n.id && e.role === "output") outs.push(names[e.to]);
      });
      var tr = document.createElement("tr");
      var th = document.createElement("th"); th.scope = "row"; th.textContent = n.name; tr.appendChild(th);
      [n.backend, ins.join(", "), outs.join(", ")].forEach(function (t) { var td = document.createElement("td"); td.textContent = t; tr.appendChild(td); });
      tbody.appendChild(tr);
    });
  }

  function fillConnectMenus() {
    var from = document.getElementById("wf-connect-from"), to = document.getElementById("wf-connect-to");
    [from, to].forEach(function (sel) {
      var keep = sel.value;
      sel.textContent = "";
      state.nodes.forEach(function (n) {
        var o = document.createElement("option");
        o.value = n.id;
        o.textContent = label(n);
        sel.appendChild(o);
      });
      if (keep) sel.value = keep;
    });
  }

  function label(n) {
    return n.kind === "storage" ? n.provider + ":" + n.path : n.name;
  }

  // send applies one edit on the server. Edits are queued so each sees the
  // state the previous one produced.
  function send(op, opts) {
    opts = opts || {};
    busy = busy.then(function () {
      var before = { yaml: state.yaml, positions: positions(), version: state.version };
      var body = { yaml: opts.yaml !== undefined ? opts.yaml : state.yaml, base: opts.base || state.version, positions: opts.positions || before.positions, op: op, held: state.held || "" };
      return fetch("/workflows/" + wfID + "/edit", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, status: r.status, body: j }; });
      }).then(function (res) {
        if (!res.ok) {
          if (opts.onError) opts.onError(res.body);
          say(res.body.error || "The edit was refused.", opts.x, opts.y);
          render();
          // A refused text stays in the pane, its errors marked in it.
          if (op.kind === "yaml") setYAMLText(op.text);
          if (res.body.diagnostics) showDiagnostics(res.body.diagnostics, op.kind === "yaml");
          return false;
        }
        var changed = res.body.yaml !== before.yaml;
        if (!opts.history && changed) { undoStack.push(before); redoStack = []; }
        else if (opts.history === "undo") redoStack.push(before);
        else if (opts.history === "redo") undoStack.push(before);
        state = res.body;
        dirty = true;
        if (!opts.quiet) say(opts.done || "");
        render();
        return true;
      }).catch(function (e) {
        say("The server did not answer (" + e.message + "); the edit was not applied.");
        render();
        return false;
      });
    });
    return busy;
  }

  function undo() {
    var prev = undoStack.pop();
    if (!prev) { say("Nothing to undo."); return; }
    send({ kind: "restore", text: prev.yaml }, { positions: prev.positions, history: "undo", done: "Undone." });
  }
  function redo() {
    var next = redoStack.pop();
    if (!next) { say("Nothing to redo."); return; }
    send({ kind: "restore", text: next.yaml }, { positions: next.positions, history: "redo", done: "Redone." });
  }

  // Gestures on the canvas.
  editor.on("connectionCreated", function (c) {
    if (rendering) return;
    var a = nodeByID(idOf[c.output_id]), b = nodeByID(idOf[c.input_id]);
    var el = document.getElementById("node-" + c.input_id);
    var r = el ? el.getBoundingClientRect() : { left: 0, top: 0 };
    var drop = function () { rendering = true; editor.removeSingleConnection(c.output_id, c.input_id, c.output_class, c.input_class); rendering = false; };
    connect(a, b, r.left, r.top, drop);
  });

  function connect(a, b, x, y, drop) {
    drop = drop || function () {};
    if (!a || !b) return;
    if (a.kind === "storage" && b.kind !== "storage") {
      send({ kind: "connect", node: b.id, role: "input", provider: a.provider, path: a.path, storage: a.id }, { x: x, y: y, done: "Connected " + label(a) + " as an input of " + b.name + ".", onError: drop });
    } else if (a.kind !== "storage" && b.kind === "storage") {
      send({ kind: "connect", node: a.id, role: "output", provider: b.provider, path: b.path, storage: b.id }, { x: x, y: y, done: "Connected " + label(b) + " as an output of " + a.name + ".", onError: drop });
    } else {
      drop();
      say(a.kind === "storage" ? "Storage cannot be connected to storage: put a function between them." :
        "A function cannot feed another function directly: connect its output to a storage location, and that location to the next function's input.", x, y);
    }
  }

  editor.on("connectionRemoved", function (c) {
    if (rendering) return;
    var from = idOf[c.output_id], to = idOf[c.input_id];
    var paths = state.edges.filter(function (e) { return e.from === from && e.to === to; }).map(function (e) { return e.yaml_path; });
    if (paths.length) send({ kind: "remove", edges: paths }, { done: "Link removed." });
  });

  editor.on("nodeRemoved", function (df) {
    if (rendering) return;
    var id = idOf[df];
    if (id) send({ kind: "remove", nodes: [id] }, { done: "Removed." });
  });

  var moveTimer = null;
  editor.on("nodeMoved", function () {
    if (rendering) return;
    dirty = true;
    dirtyBadge.hidden = false;
    clearTimeout(moveTimer);
    moveTimer = setTimeout(function () { send({ kind: "none" }, { quiet: true, history: "none" }); }, 800);
  });

  editor.on("nodeSelected", function (df) {
    if (rendering) return;
    var id = idOf[df];
    if (lastClickShift) {
      if (selected.indexOf(id) < 0) selected.push(id);
    } else {
      selected = [id];
    }
    markSelected();
    openPanel(id);
  });
  editor.on("nodeUnselected", function () {
    if (rendering || lastClickShift) return;
    selected = [];
    markSelected();
    panel.hidden = true;
  });

  var lastClickShift = false;
  canvas.addEventListener("mousedown", function (e) { lastClickShift = e.shiftKey; }, true);

  function markSelected() {
    Object.keys(dfOf).forEach(function (id) {
      var el = document.getElementById("node-" + dfOf[id]);
      if (el) el.classList.toggle("wf-selected", selected.indexOf(id) >= 0);
    });
  }

  // sfValues is the service form groups of the panel (environment,
  // exposure, advanced) URL-encoded, as the service form posts them.
  function sfValues(form) {
    var sf = form.querySelector("[data-sf]");
    var q = new URLSearchParams();
    if (!sf) return "";
    sf.querySelectorAll("input[name],select[name],textarea[name]").forEach(function (c) {
      if ((c.type === "checkbox" || c.type === "radio") && !c.checked) return;
      q.append(c.name, c.value);
    });
    return q.toString();
  }

  // openPanel shows the side panel of node id; with row set, the service
  // form groups as posted plus a row button ("add:environment.variables").
  function openPanel(id, row) {
    var req = { yaml: state.yaml, node: id, held: state.held || "" };
    if (row) { req.form = row.form; req.op = row.op; }
    return fetch("/workflows/" + wfID + "/panel", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(req)
    }).then(function (r) { return r.ok ? r.text() : ""; }).then(function (html) {
      if (!html) return;
      panel.innerHTML = html;
      panel.hidden = false;
      var form = panel.querySelector("form");
      var af = form.querySelector("[autofocus]");
      if (af) af.focus();
      // Row buttons of the service form groups redraw the panel.
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var b = e.submitter;
        if (!b || b.name !== "op") return;
        var posted = sfValues(form);
        busy.then(function () { openPanel(id, { form: posted, op: b.value }); });
      });
      form.addEventListener("change", function (e) {
        var f = e.target;
        if (!f.name) return;
        if (f.closest("[data-sf]")) {
          send({ kind: "service-form", node: id, form: sfValues(form) }, { done: "Saved in the draft." });
          if (f.type === "password") { f.value = ""; f.placeholder = "stored; leave empty to keep"; }
          return;
        }
        if (f.hasAttribute("data-provider-credential")) {
          var n = nodeByID(id);
          send({ kind: "provider", provider: n ? n.provider : "", field: f.name, value: f.value }, { done: f.name + " stored." });
          if (f.value) { f.value = ""; f.placeholder = "stored; leave empty to keep"; }
          return;
        }
        var v = f.type === "checkbox" ? String(f.checked) : f.value;
        send({ kind: "set", node: id, field: f.name, value: v }, { done: f.name + " set." }).then(function (ok) {
          if (ok && f.name === "name") selected = [];
        });
      });
      // The script field becomes the CodeMirror editor when focused (the
      // layout's code-editor.js); it reports typing as input events.
      var typing = null;
      form.addEventListener("input", function (e) {
        var f = e.target;
        if (f.tagName !== "TEXTAREA" || !f.name || f.closest("[data-sf]")) return;
        clearTimeout(typing);
        typing = setTimeout(function () {
          send({ kind: "set", node: id, field: f.name, value: f.value }, { done: f.name + " set." });
        }, 700);
      });
    });
  }

  // Palette: click (or Enter) opens the add dialog at the canvas centre;
  // dragging onto the canvas opens it at the drop point.
  document.querySelectorAll(".wf-pal").forEach(function (b) {
    b.addEventListener("click", function () { addDialog(b.dataset.add, null); });
    b.addEventListener("dragstart", function (e) { e.dataTransfer.setData("text/plain", b.dataset.add); });
  });
  canvas.addEventListener("dragover", function (e) { e.preventDefault(); });
  canvas.addEventListener("drop", function (e) {
    e.preventDefault();
    var what = e.dataTransfer.getData("text/plain");
    if (what) addDialog(what, canvasPoint(e.clientX, e.clientY));
  });

  function canvasPoint(cx, cy) {
    var r = editor.precanvas.getBoundingClientRect();
    return { x: (cx - r.left) / editor.zoom, y: (cy - r.top) / editor.zoom };
  }

  function field(body, name, labelText, value, hint) {
    var wrap = document.createElement("div");
    wrap.className = "field";
    var l = document.createElement("label");
    l.htmlFor = "wf-add-" + name;
    l.textContent = labelText;
    var i = document.createElement("input");
    i.id = "wf-add-" + name;
    i.name = name;
    i.value = value || "";
    i.autocomplete = "off";
    i.spellcheck = false;
    if (hint) i.placeholder = hint;
    wrap.appendChild(l); wrap.appendChild(i);
    body.appendChild(wrap);
    return i;
  }

  function ask(title, build, done) {
    document.getElementById("wf-dialog-h").textContent = title;
    var body = document.getElementById("wf-dialog-body");
    body.textContent = "";
    build(body);
    dialog.returnValue = "";
    dialog.showModal();
    var first = body.querySelector("input,select,textarea,button");
    if (first) first.focus();
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "ok") done(body);
      canvas.focus();
    });
  }

  function addDialog(what, at) {
    at = at || { x: 0, y: 0 }; // the server puts it below the drawing
    if (what.indexOf("storage:") === 0) {
      var typ = what.slice(8);
      ask("Add a " + typ + " storage location", function (b) {
        field(b, "provider", "Provider (type or type.id)", typ);
        field(b, "path", "Bucket and folder", "", "my-bucket/input");
      }, function (b) {
        send({ kind: "add-storage", provider: b.querySelector("[name=provider]").value.trim(), path: b.querySelector("[name=path]").value.trim(), x: at.x, y: at.y }, { done: "Storage location added." });
      });
      return;
    }
    var aws = what !== "oscar";
    ask(aws ? (what === "aws-batch" ? "Add a Lambda function running on AWS Batch" : "Add an AWS Lambda function") : "Add an OSCAR service", function (b) {
      field(b, "name", "Name", "");
      field(b, "image", "Container image", "");
      if (aws) {
        field(b, "region", "Region", "us-east-1");
        field(b, "memory", "Memory (MB)", "1024");
      } else {
        field(b, "cluster", "Cluster id", "oscar");
        field(b, "cpu", "CPU", "1.0");
        field(b, "memory", "Memory", "1Gi");
      }
    }, function (b) {
      var v = function (n) { var i = b.querySelector("[name=" + n + "]"); return i ? i.value.trim() : ""; };
      var name = v("name");
      send({ kind: "add-function", backend: aws ? "aws" : "oscar", name: name, image: v("image"), cluster: v("cluster"), cpu: v("cpu"), memory: v("memory"), region: v("region"), x: at.x, y: at.y },
        { done: name + " added." }).then(function (ok) {
        if (ok && what === "aws-batch") {
          var n = state.nodes.filter(function (x) { return x.name === name && x.backend === "aws"; })[0];
          if (n) send({ kind: "set", node: n.id, field: "execution_mode", value: "batch" }, { done: name + " runs on AWS Batch." });
        }
      });
    });
  }

  function removeSelected() {
    if (!selected.length) { say("Select a node first."); return; }
    send({ kind: "remove", nodes: selected.slice() }, { done: "Removed " + selected.length + " node(s)." });
    selected = [];
    panel.hidden = true;
  }

  // fit shows the whole drawing, centred, at 100% at most: a small graph
  // is not blown up, a large one is zoomed out just enough (not below 20%).
  function fit() {
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    state.nodes.forEach(function (n) {
      var p = state.positions.nodes[n.id], el = document.getElementById("node-" + dfOf[n.id]);
      if (!p) return;
      minX = Math.min(minX, p.x); minY = Math.min(minY, p.y);
      maxX = Math.max(maxX, p.x + (el ? el.offsetWidth : 220)); maxY = Math.max(maxY, p.y + (el ? el.offsetHeight : 110));
    });
    if (minX === Infinity) return;
    var r = canvas.getBoundingClientRect(), pad = 40;
    var z = Math.min(1, Math.max(0.2, Math.min((r.width - pad) / (maxX - minX), (r.height - pad) / (maxY - minY))));
    // Drawflow scales the drawing about the precanvas centre (cx, cy): a
    // point p shows at cx + (p - cx) * z + canvas_x. Centre the drawing.
    var cx = editor.precanvas.clientWidth / 2, cy = editor.precanvas.clientHeight / 2;
    var mx = (minX + maxX) / 2, my = (minY + maxY) / 2;
    editor.zoom = z;
    editor.canvas_x = r.width / 2 - (cx + (mx - cx) * z);
    editor.canvas_y = r.height / 2 - (cy + (my - cy) * z);
    editor.precanvas.style.transform = "translate(" + editor.canvas_x + "px, " + editor.canvas_y + "px) scale(" + z + ")";
  }

  // Rubber-band selection: Shift+drag on the canvas background selects
  // the nodes the band touches (a plain drag pans, as before).
  var band = null;
  canvas.parentElement.addEventListener("mousedown", function (e) {
    if (!e.shiftKey || e.button !== 0 || !canvas.contains(e.target) || e.target.closest(".drawflow-node")) return;
    e.preventDefault();
    e.stopPropagation(); // Drawflow would pan
    var wrap = canvas.parentElement.getBoundingClientRect();
    band = { x: e.clientX, y: e.clientY, el: document.createElement("div"), wrap: wrap };
    band.el.className = "wf-band";
    band.el.setAttribute("aria-hidden", "true");
    canvas.parentElement.appendChild(band.el);
    moveBand(e);
  }, true);
  function moveBand(e) {
    var x1 = Math.min(band.x, e.clientX), y1 = Math.min(band.y, e.clientY);
    var st = band.el.style;
    st.left = (x1 - band.wrap.left) + "px"; st.top = (y1 - band.wrap.top) + "px";
    st.width = Math.abs(e.clientX - band.x) + "px"; st.height = Math.abs(e.clientY - band.y) + "px";
  }
  window.addEventListener("mousemove", function (e) { if (band) moveBand(e); });
  window.addEventListener("mouseup", function (e) {
    if (!band) return;
    var b = band.el.getBoundingClientRect();
    band.el.remove();
    band = null;
    var hit = [];
    Object.keys(dfOf).forEach(function (id) {
      var el = document.getElementById("node-" + dfOf[id]);
      if (!el) return;
      var r = el.getBoundingClientRect();
      if (r.right >= b.left && r.left <= b.right && r.bottom >= b.top && r.top <= b.bottom) hit.push(id);
    });
    if (b.width < 4 && b.height < 4) return; // a click, not a band
    selected = hit;
    markSelected();
    panel.hidden = true;
    say(hit.length ? "Selected " + hit.length + " node" + (hit.length === 1 ? "" : "s") + ": " + hit.map(function (id) { return label(nodeByID(id)); }).join(", ") + "." : "No node in the band.");
  });

  var commands = {
    "undo": undo, "redo": redo, "delete": removeSelected,
    "zoom-in": function () { editor.zoom_in(); }, "zoom-out": function () { editor.zoom_out(); },
    "fit": fit,
    "layout": function () { send({ kind: "layout" }, { done: "Laid out." }).then(fit); },
    "copy": function () {
      clipboard = selected.map(nodeByID).filter(function (n) { return n && n.kind !== "storage"; });
      say(clipboard.length ? "Copied " + clipboard.length + " function(s)." : "Select functions to copy.");
    },
    "paste": function () {
      clipboard.forEach(function (n) {
        var name = n.name + "-copy";
        for (var i = 2; state.nodes.some(function (x) { return x.name === name; }); i++) name = n.name + "-copy" + i;
        var p = state.positions.nodes[n.id] || { x: 0, y: 0 };
        send({ kind: "add-function", backend: n.backend, cluster: n.cluster, name: name, image: n.image, cpu: n.cpu, memory: n.memory, x: p.x + 40, y: p.y + 40 }, { done: "Pasted " + name + "." });
      });
    },
    "toggle-yaml": function (b) {
      var pane = document.getElementById("wf-yaml-pane");
      pane.hidden = !pane.hidden;
      b.setAttribute("aria-expanded", String(!pane.hidden));
    },
    "apply-yaml": function () {
      send({ kind: "yaml", text: yamlBox.value }, { done: "YAML applied." }).then(function (ok) {
        if (!ok && diagList.firstChild) diagList.firstChild.querySelector("button").focus();
      });
    },
    "connect": function () {
      var a = nodeByID(document.getElementById("wf-connect-from").value), b = nodeByID(document.getElementById("wf-connect-to").value);
      connect(a, b);
    }
  };
  document.querySelectorAll("[data-cmd]").forEach(function (b) {
    b.addEventListener("click", function () { commands[b.dataset.cmd](b); });
  });

  // Keyboard: undo/redo anywhere but in text fields; arrows and Tab move
  // between nodes on the canvas; Delete removes; Enter opens the panel.
  document.addEventListener("keydown", function (e) {
    var inField = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z" && !inField) {
      e.preventDefault();
      if (e.shiftKey) redo(); else undo();
      return;
    }
    if (inField || dialog.open) return;
    var onCanvas = canvas.contains(e.target);
    if (!onCanvas) return;
    var order = state.nodes.map(function (n) { return n.id; });
    var cur = order.indexOf(selected[0]);
    if (e.key === "ArrowRight" || e.key === "ArrowDown" || (e.key === "Tab" && !e.shiftKey && cur < order.length - 1)) {
      e.preventDefault(); focusNode(order[Math.min(order.length - 1, cur + 1)]);
    } else if (e.key === "ArrowLeft" || e.key === "ArrowUp" || (e.key === "Tab" && e.shiftKey && cur > 0)) {
      e.preventDefault(); focusNode(order[Math.max(0, cur - 1)]);
    } else if ((e.key === "Delete" || e.key === "Backspace") && selected.length) {
      e.preventDefault(); e.stopPropagation(); removeSelected();
    } else if (e.key === "Enter" && selected.length) {
      e.preventDefault(); openPanel(selected[0]);
      setTimeout(function () { var f = panel.querySelector("input,textarea"); if (f) f.focus(); }, 200);
    }
  }, true);

  function focusNode(id) {
    if (!id) return;
    selected = [id];
    markSelected();
    var el = document.getElementById("node-" + dfOf[id]);
    if (el) el.focus();
    say("Selected " + label(nodeByID(id)) + ".");
  }

  // Save with the version check; on a conflict the user sees the
  // difference and chooses.
  function save(base) {
    return busy.then(function () {
      return fetch("/workflows/" + wfID + "/save", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ yaml: state.yaml, base: base || state.version, positions: positions(), held: state.held || "" })
      }).then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); });
    }).then(function (res) {
      if (res.status === 200) {
        state.version = res.body.version;
        dirty = false;
        render();
        say("Saved as version " + res.body.version + ".");
      } else if (res.status === 409) {
        conflict(res.body);
      } else {
        say(res.body.error || "Not saved.");
        if (res.body.diagnostics) showDiagnostics(res.body.diagnostics);
      }
    });
  }

  function conflict(c) {
    ask("Saved elsewhere", function (b) {
      var p = document.createElement("p");
      p.textContent = c.error + " Lines marked - are in the saved version, + in yours.";
      b.appendChild(p);
      var pre = document.createElement("pre");
      pre.className = "wf-diff";
      pre.setAttribute("data-testid", "conflict-diff");
      c.diff.forEach(function (d) {
        if (d.op === " ") return;
        var s = document.createElement("span");
        s.className = "wf-diff-line wf-diff-" + (d.op === "+" ? "add" : "del");
        s.textContent = d.op + " " + d.text;
        pre.appendChild(s);
      });
      b.appendChild(pre);
      var choice = document.createElement("fieldset");
      choice.innerHTML = '<legend>Keep</legend><label class="choice"><input type="radio" name="keep" value="mine" checked> My version (overwrite theirs)</label><label class="choice"><input type="radio" name="keep" value="theirs"> The saved version (drop my changes)</label>';
      b.appendChild(choice);
    }, function (b) {
      var keep = b.querySelector("[name=keep]:checked").value;
      if (keep === "mine") {
        save(c.version);
      } else {
        send({ kind: "restore", text: c.theirs }, { base: c.version, done: "Reloaded version " + c.version + "." }).then(function () {
          state.version = c.version; dirty = false; render();
        });
      }
    });
  }

  document.getElementById("wf-save").addEventListener("click", function () { save(); });

  window.addEventListener("beforeunload", function (e) {
    if (dirty) { e.preventDefault(); e.returnValue = ""; }
  });

  render();
  fit();
  if (window.performance && performance.mark) performance.mark("composer:drawn");
  window.fdlComposer = { state: function () { return state; }, depth: function () { return [undoStack.length, redoStack.length]; }, send: send, undo: undo, redo: redo, idle: function () { return busy; } };
})();
