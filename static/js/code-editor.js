// Script editor loader. Pages carry only this: the CodeMirror bundle
// (static/vendor/codemirror, ~130 KB gzip) is imported the first time a
// textarea marked data-code-editor="shell|python|yaml" is focused, and that
// textarea is then replaced by the editor (its value kept in step, so the
// form still submits it).
//
// Other islands call window.fdlCodeEditor.attach(textarea, {language})
// directly; it returns a promise of the editor handle {view, destroy()}.
(function () {
  "use strict";
  var script = document.currentScript;
  var bundle = script && script.dataset.bundle;
  var loading = null;

  function load() {
    if (!loading) {
      loading = import(bundle).catch(function (err) {
        loading = null; // let a later focus try again
        throw err;
      });
    }
    return loading;
  }

  function attach(textarea, options) {
    return load().then(function (mod) {
      return mod.attach(textarea, options || {});
    });
  }

  window.fdlCodeEditor = { attach: attach, load: load };

  document.addEventListener("focusin", function (ev) {
    var el = ev.target;
    if (!(el instanceof HTMLTextAreaElement) || !el.hasAttribute("data-code-editor") || el.hasAttribute("data-code-editor-attached")) return;
    attach(el, { language: el.getAttribute("data-code-editor") || "shell" }).then(function (ed) {
      if (document.activeElement === el || document.activeElement === document.body) ed.view.focus();
    }, function (err) {
      // The plain textarea keeps working; say why the editor did not come.
      console.error("FDL Studio: the script editor could not be loaded:", err);
    });
  });
})();
