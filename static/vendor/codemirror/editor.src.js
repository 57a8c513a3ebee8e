// Source of codemirror.min.js, the script editor of FDL Studio, bundled by
// static/vendor/build.sh with esbuild. Not loaded by pages: they load
// static/js/code-editor.js, which imports the bundle when a textarea marked
// data-code-editor is first focused.
//
// attach(textarea, {language}) puts a CodeMirror 6 editor in place of the
// textarea and keeps the textarea's value in step (firing "input" on it), so
// forms submit and htmx triggers work as before. The editor lives in a shadow
// root: CodeMirror's styles then go into a constructed style sheet, which the
// page's CSP (style-src 'self') allows, instead of <style> elements it refuses.
// Colours are the page's CSS variables, so light and dark follow its theme.
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection, highlightSpecialChars } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { syntaxHighlighting, HighlightStyle, StreamLanguage, indentOnInput, bracketMatching } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";
import { python } from "@codemirror/lang-python";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { yaml } from "@codemirror/legacy-modes/mode/yaml";
import { setDiagnostics, lintGutter } from "@codemirror/lint";

const languages = {
  shell: () => StreamLanguage.define(shell),
  python: () => python(),
  yaml: () => StreamLanguage.define(yaml),
};

const theme = EditorView.theme({
  "&": {
    color: "var(--text)",
    backgroundColor: "var(--surface)",
    border: "1px solid var(--border)",
    borderRadius: "var(--radius, 8px)",
    fontSize: "14px",
  },
  "&.cm-focused": { outline: "3px solid var(--focus)", outlineOffset: "2px" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5", minHeight: "10em", maxHeight: "32em" },
  ".cm-content": { caretColor: "var(--text)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--text)" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection": {
    backgroundColor: "var(--cm-selection)",
  },
  ".cm-gutters": { backgroundColor: "var(--surface-2)", color: "var(--muted)", border: "none", borderRight: "1px solid var(--border)" },
  ".cm-activeLine": { backgroundColor: "var(--cm-active-line)" },
  ".cm-lintRange-error": { backgroundImage: "none", textDecoration: "underline wavy var(--danger)", textUnderlineOffset: "3px" },
  ".cm-lintRange-warning": { backgroundImage: "none", textDecoration: "underline wavy var(--warn)", textUnderlineOffset: "3px" },
  ".cm-tooltip": { backgroundColor: "var(--surface)", color: "var(--text)", border: "1px solid var(--border)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--cm-active-line)", color: "var(--text)" },
  "&.cm-focused .cm-matchingBracket": { backgroundColor: "var(--cm-selection)", outline: "1px solid var(--border)" },
});

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.operatorKeyword, t.definitionKeyword, t.moduleKeyword], color: "var(--cm-keyword)", fontWeight: "600" },
  { tag: [t.string, t.special(t.string), t.regexp], color: "var(--cm-string)" },
  { tag: [t.comment, t.meta], color: "var(--cm-comment)", fontStyle: "italic" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "var(--cm-number)" },
  { tag: [t.variableName, t.special(t.variableName)], color: "var(--cm-variable)" },
  { tag: [t.function(t.variableName), t.definition(t.variableName), t.propertyName], color: "var(--cm-function)" },
  { tag: [t.typeName, t.className, t.standard(t.variableName)], color: "var(--cm-type)" },
  { tag: t.invalid, color: "var(--danger)" },
]);

// toDiagnostics turns FDL diagnostics ({line, col, severity, message},
// 1-based) into CodeMirror ranges: from the column to the end of the token
// there (at least one character), clamped to the text.
function toDiagnostics(doc, list) {
  const out = [];
  for (const d of list || []) {
    const n = Math.min(Math.max(1, d.line || 1), doc.lines);
    const line = doc.line(n);
    const from = Math.min(line.from + Math.max(0, (d.col || 1) - 1), line.to);
    let to = from;
    while (to < line.to && !/\s/.test(doc.sliceString(to, to + 1))) to++;
    if (to === from) to = Math.min(from + 1, doc.length);
    const severity = d.severity === "error" ? "error" : d.severity === "warning" ? "warning" : "info";
    out.push({ from, to, severity, message: d.message });
  }
  return out;
}

// attach replaces textarea with an editor and returns a handle
// {view, destroy(), setDiagnostics(list)}; destroy puts the textarea back;
// setDiagnostics marks each diagnostic in the text and the gutter.
export function attach(textarea, options = {}) {
  if (textarea._fdlCodeEditor) return textarea._fdlCodeEditor;
  const lang = languages[options.language || textarea.dataset.codeEditor] || languages.shell;
  const host = document.createElement("div");
  host.className = "code-editor";
  const root = host.attachShadow({ mode: "open" });
  const label = options.label || (textarea.labels && textarea.labels[0] ? textarea.labels[0].textContent.replace(/\s*\*\s*$/, "").trim() : textarea.name);
  const contentAttrs = { "aria-label": label, "aria-multiline": "true" };
  const describedBy = textarea.getAttribute("aria-describedby");
  if (describedBy) {
    // IDs do not reach into a shadow root: copy the descriptions' text.
    const text = describedBy.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map((el) => el.textContent.trim()).join(" ");
    if (text) contentAttrs["aria-description"] = text;
  }
  const view = new EditorView({
    root,
    parent: root,
    state: EditorState.create({
      doc: textarea.value,
      selection: { anchor: Math.min(textarea.selectionStart || 0, textarea.value.length) },
      extensions: [
        lineNumbers(),
        lintGutter(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        syntaxHighlighting(highlight),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        lang(),
        theme,
        EditorView.lineWrapping,
        EditorView.contentAttributes.of(contentAttrs),
        EditorView.updateListener.of((u) => {
          if (!u.docChanged) return;
          textarea.value = u.state.doc.toString();
          textarea.dispatchEvent(new Event("input", { bubbles: true }));
        }),
      ],
    }),
  });
  textarea.after(host);
  textarea.hidden = true;
  // A hidden control cannot take the browser's "required" bubble: the
  // server checks it, and the editor announces it.
  const wasRequired = textarea.required;
  if (wasRequired) {
    textarea.required = false;
    view.contentDOM.setAttribute("aria-required", "true");
  }
  textarea.setAttribute("data-code-editor-attached", "");
  const handle = {
    view,
    // setDiagnostics(list, {reveal}): reveal scrolls the first error into view.
    setDiagnostics(list, opts = {}) {
      const ds = toDiagnostics(view.state.doc, list);
      const tr = setDiagnostics(view.state, ds);
      const first = ds.find((d) => d.severity === "error");
      if (opts.reveal && first) tr.effects = [].concat(tr.effects || [], EditorView.scrollIntoView(first.from, { y: "center" }));
      view.dispatch(tr);
    },
    destroy() {
      view.destroy();
      host.remove();
      textarea.hidden = false;
      textarea.required = wasRequired;
      textarea.removeAttribute("data-code-editor-attached");
      delete textarea._fdlCodeEditor;
    },
  };
  textarea._fdlCodeEditor = handle;
  // A form reset puts the textarea back to its default: follow it.
  if (textarea.form) {
    textarea.form.addEventListener("reset", () => setTimeout(() => {
      if (textarea._fdlCodeEditor !== handle) return;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: textarea.value } });
    }));
  }
  return handle;
}
