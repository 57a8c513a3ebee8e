package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fdlstudio/fdlstudio/web"
)

// inEditor evaluates a function of the editor's shadow root (the host
// that replaced the textarea with the given id).
func inEditor[T any](tab *Tab, id, body string) T {
	tab.t.Helper()
	return Eval[T](tab, `(function(root){`+body+`})(document.getElementById(`+jsLiteral(id)+`).nextElementSibling.shadowRoot)`)
}

// TestScriptEditor opens the new-service form: the CodeMirror bundle is
// not loaded until the script field is focused; then the editor takes the
// field's place, highlights shell, keeps the form (and its YAML preview)
// in step, follows the light and dark themes and breaks no CSP rule.
func TestScriptEditor(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	for _, theme := range []string{"light", "dark"} {
		tab := newTab(t)
		setTheme(tab, app.URL, theme)
		tab.Visit(app.URL+"/services/new?cluster=local", "form-"+theme)
		loaded := `performance.getEntriesByType("resource").some(e => e.name.includes("/codemirror/"))`
		if Eval[bool](tab, loaded) {
			t.Fatal("the editor bundle loaded before the script field was opened")
		}
		tab.Do(chromedp.Click(chromedp.ID("sf-script")))
		if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](`!!document.querySelector(".code-editor") && document.getElementById("sf-script").hidden`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			tab.Screenshot("no-editor")
			t.Fatalf("the script field was not replaced by the editor: %v", err)
		}
		if !Eval[bool](tab, loaded) {
			t.Error("the editor appeared but no bundle was fetched")
		}
		if got := inEditor[string](tab, "sf-script", `return root.activeElement ? root.activeElement.className : ""`); !strings.Contains(got, "cm-content") {
			t.Errorf("focus is on %q, want the editor's content", got)
		}
		tab.Do(chromedp.KeyEvent(`echo 'done' # count words`))
		waitYAML(tab, `echo 'done' # count words`)
		if got := Eval[string](tab, `document.getElementById("sf-script").value`); got != `echo 'done' # count words` {
			t.Errorf("textarea value = %q", got)
		}
		// Highlighted: the string and the comment have their own colours,
		// which are the page's theme variables.
		colors := inEditor[[]string](tab, "sf-script", `
			const col = (text) => { for (const s of root.querySelectorAll(".cm-line span")) if (s.textContent.includes(text)) return getComputedStyle(s).color; return ""; };
			return [col("count words"), col("'done'"), getComputedStyle(root.querySelector(".cm-editor")).backgroundColor];`)
		want := Eval[[]string](tab, `(function(){
			const probe = document.createElement("span"); document.body.append(probe);
			const c = (v) => { probe.style.color = "var(" + v + ")"; return getComputedStyle(probe).color; };
			const out = [c("--cm-comment"), c("--cm-string")];
			probe.style.backgroundColor = "var(--surface)"; out.push(getComputedStyle(probe).backgroundColor);
			probe.remove(); return out; })()`)
		if strings.Join(colors, "|") != strings.Join(want, "|") {
			t.Errorf("%s theme: comment, string, background colours = %q, want %q", theme, colors, want)
		}
		tab.Screenshot("editor-" + theme)

		// Python and YAML through the API other islands use.
		kw, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`(async function(){
			const ta = document.createElement("textarea"); ta.value = "def main():\n    return 1\n"; ta.setAttribute("aria-label", "py");
			document.querySelector("main").append(ta);
			const ed = await window.fdlCodeEditor.attach(ta, {language: "python"});
			const root = ed.view.root;
			for (const s of root.querySelectorAll(".cm-line span")) if (s.textContent === "def") return getComputedStyle(s).fontWeight;
			return "";
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if kw != "600" {
			t.Errorf("python keyword weight = %q, want 600 (highlighted as a keyword)", kw)
		}
		if p := tab.Problems(); len(p) > 0 {
			t.Errorf("%s theme: console errors or CSP violations:\n%s", theme, strings.Join(p, "\n"))
		}
	}
	setTheme(newTab(t), app.URL, "")
}
