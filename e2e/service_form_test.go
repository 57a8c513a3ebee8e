package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/web"
)

// localClient is an OSCAR client for the app's embedded cluster, with
// the credentials it keeps in its data directory: the test checks what
// the cluster holds, not what the page says.
func localClient(t *testing.T, dataDir string) *oscar.Client {
	t.Helper()
	sec, rt := localAccess(t, dataDir)
	c, err := oscar.New(oscar.Config{Name: "local", Endpoint: rt.Endpoint, Username: sec.User, Password: sec.Password})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitYAML waits until the YAML pane holds want (htmx updates it after
// each change of the form).
func waitYAML(tab *Tab, want string) {
	tab.t.Helper()
	expr := `document.getElementById("sf-yaml-text").value.includes(` + jsLiteral(want) + `)`
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		tab.Screenshot("yaml-not-following")
		tab.t.Fatalf("the YAML pane never showed %q; it holds:\n%s", want, Eval[string](tab, `document.getElementById("sf-yaml-text").value`))
	}
}

// jsLiteral writes s as a JavaScript string literal (JSON is one).
// waitPath waits until the tab has navigated to path (a POST, then the
// redirect) and the page is shown.
func waitPath(tab *Tab, path string) {
	tab.t.Helper()
	var got string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		// Evaluating fails while the page is being replaced; try again.
		v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`document.readyState === "complete" && document.querySelector("main") ? location.pathname : ""`))
		if err == nil && v == path {
			return
		}
		if err == nil && v != "" {
			got = v
		}
	}
	tab.Screenshot("not-at-" + path)
	tab.t.Fatalf("the browser did not reach %s (last at %q)", path, got)
}

// setField sets a control's value as typing would (an input event
// follows, which htmx listens to).
func setField(tab *Tab, id, value string) {
	tab.t.Helper()
	Eval[bool](tab, `(function(){const e = document.getElementById(`+jsLiteral(id)+`); e.value = `+jsLiteral(value)+`; e.dispatchEvent(new Event("input", {bubbles: true})); return true})()`)
}

// waitFocus waits until the control with the given id has the focus
// (htmx focuses a new row's first control once it has settled).
func waitFocus(tab *Tab, id string) {
	tab.t.Helper()
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](`document.activeElement && document.activeElement.id === `+jsLiteral(id), chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		tab.t.Errorf("focus is on %q, want %q", Eval[string](tab, `document.activeElement.id`), id)
	}
	// htmx focuses the [autofocus] control as soon as the swap settles;
	// Chromium's own autofocus handling of the first such element in a
	// document runs a frame later and would take the focus back from a
	// field the test has started typing in (a person is not that fast).
	time.Sleep(150 * time.Millisecond)
}

func jsLiteral(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestServiceFormCreateAndEdit creates a service on the local cluster
// with the form (script, an input and an output), watches the YAML
// follow, submits, and then edits its memory.
func TestServiceFormCreateAndEdit(t *testing.T) {
	dataDir := t.TempDir()
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on"; c.DataDir = dataDir })
	tab := newTab(t)
	const name = "hello-form"

	tab.Visit(app.URL+"/services/new?cluster=local", "1-new-empty")
	if got := Eval[string](tab, `document.getElementById("sf-cluster").value`); got != "local" {
		t.Fatalf("cluster picker = %q, want local", got)
	}
	tab.Do(
		chromedp.SendKeys(chromedp.ID("sf-name"), name),
		chromedp.SendKeys(chromedp.ID("sf-image"), "docker.io/library/alpine:3.20"),
		chromedp.SendKeys(chromedp.ID("sf-script"), "echo hello"),
	)
	waitYAML(tab, "echo hello")
	waitYAML(tab, "name: "+name)

	// Rows are added in place by htmx; the new row's provider is focused.
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="sf-add-input"]`)),
		chromedp.WaitVisible(chromedp.ID("sf-input-0-path")),
	)
	waitFocus(tab, "sf-input-0-storage-provider")
	if got := Eval[string](tab, `document.getElementById("sf-name").value`); got != name {
		t.Errorf("the name was lost when the row was added: %q", got)
	}
	tab.Do(chromedp.SendKeys(chromedp.ID("sf-input-0-path"), name+"/in"))
	waitYAML(tab, "path: "+name+"/in")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="sf-add-output"]`)),
		chromedp.WaitVisible(chromedp.ID("sf-output-0-path")),
	)
	waitFocus(tab, "sf-output-0-storage-provider")
	tab.Do(chromedp.SendKeys(chromedp.ID("sf-output-0-path"), name+"/out"))
	waitYAML(tab, "path: "+name+"/out")
	yaml := Eval[string](tab, `document.getElementById("sf-yaml-text").value`)
	for _, want := range []string{"functions:\n  oscar:\n    - local:\n", "script: |\n          echo hello\n", "storage_provider: minio.default"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("YAML lacks %q:\n%s", want, yaml)
		}
	}
	if got := tab.Text(`[data-testid="sf-diags"]`); !strings.Contains(got, "Valid FDL") {
		t.Errorf("diagnostics for a valid service: %q", got)
	}
	tab.Screenshot("2-form-and-yaml-in-sync")

	// A mistake is shown next to its field and under the YAML.
	tab.Do(chromedp.SendKeys(chromedp.ID("sf-memory"), "lots"))
	waitYAML(tab, "memory: lots")
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`.sf-diag-error`)))
	tab.Screenshot("3-yaml-diagnostic")
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="sf-submit"]`)), chromedp.WaitVisible(chromedp.ID("sf-memory-error")))
	if got := tab.Text("#sf-memory-error"); !strings.Contains(got, "Kubernetes quantity") {
		t.Errorf("memory error = %q", got)
	}
	tab.Screenshot("4-field-error")
	setField(tab, "sf-memory", "")

	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="sf-submit"]`)))
	waitPath(tab, "/services/local/"+name)
	tab.Screenshot("5-after-create")

	client := localClient(t, dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, err := client.GetService(ctx, name)
	if err != nil {
		t.Fatalf("the service is not on the cluster: %v", err)
	}
	if !strings.Contains(svc.Script, "echo hello") || len(svc.Input) != 1 || !strings.HasSuffix(svc.Input[0].Path, "/in") ||
		len(svc.Output) != 1 || !strings.HasSuffix(svc.Output[0].Path, "/out") {
		t.Errorf("created service: script %q input %+v output %+v", svc.Script, svc.Input, svc.Output)
	}

	// Edit: change the memory and save.
	tab.Visit(app.URL+"/services/local/"+name+"/edit", "6-edit")
	if got := Eval[bool](tab, `document.getElementById("sf-name").readOnly`); !got {
		t.Error("the name is editable on the edit page")
	}
	setField(tab, "sf-memory", "")
	tab.Do(chromedp.SendKeys(chromedp.ID("sf-memory"), "512Mi"))
	waitYAML(tab, "memory: 512Mi")
	tab.Screenshot("7-edit-memory")
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="sf-submit"]`)))
	waitPath(tab, "/services/local/"+name)
	tab.Screenshot("8-after-edit")
	svc, err = client.GetService(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Memory != "512Mi" {
		t.Errorf("memory on the cluster = %q, want 512Mi", svc.Memory)
	}
	if p := tab.Problems("status of 422", "status of 404"); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}

// TestServiceFormApplyYAML: YAML pasted into the editor fills the form
// with "Apply YAML"; YAML with an error is refused with its line.
func TestServiceFormApplyYAML(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	tab := newTab(t)
	tab.Visit(app.URL+"/services/new", "1-new")
	const good = "functions:\n  oscar:\n    - local:\n        name: from-yaml\n        image: alpine\n        memory: 1Gi\n        script: |\n          echo from yaml\n        environment:\n          variables:\n            GREETING: hi\n"
	setField(tab, "sf-yaml-text", good)
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="sf-apply-yaml"]`)))
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](`document.getElementById("sf-name").value === "from-yaml"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		tab.Screenshot("apply-failed")
		t.Fatalf("Apply YAML did not fill the form: %v", err)
	}
	for id, want := range map[string]string{"sf-memory": "1Gi", "sf-script": "echo from yaml\n", "sf-environment-variables-0-value": "hi"} {
		if got := Eval[string](tab, `document.getElementById("`+id+`").value`); got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	tab.Screenshot("2-applied")

	bad := strings.Replace(good, "memory: 1Gi", "memory: [1Gi]", 1)
	setField(tab, "sf-yaml-text", bad)
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="sf-apply-yaml"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sf-yaml-error"]`)),
	)
	if got := tab.Text(`[data-testid="sf-diags"]`); !strings.Contains(got, "6:") {
		t.Errorf("the refusal does not give the line of memory: %q", got)
	}
	if got := Eval[string](tab, `document.getElementById("sf-memory").value`); got != "1Gi" {
		t.Errorf("the refused YAML changed the form: memory = %q", got)
	}
	tab.Screenshot("3-refused")

	// Keyboard: Tab from the name reaches the image; Enter on "Add
	// variable" adds a row and focuses its name.
	tab.Do(chromedp.Focus(chromedp.ID("sf-name")), chromedp.KeyEvent("\t"))
	waitFocus(tab, "sf-image")
	tab.Do(chromedp.Focus(chromedp.CSS(`[data-testid="sf-add-environment.variables"]`)), chromedp.KeyEvent("\r"))
	waitFocus(tab, "sf-environment-variables-1-key")

	// Dark mode follows the system setting.
	err := chromedp.Do(tab.ctx, chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return chromedp.Void{}, err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if bg := Eval[string](tab, `getComputedStyle(document.getElementById("sf-yaml-text")).backgroundColor`); bg != "rgb(15, 20, 27)" {
		t.Errorf("YAML editor background in dark mode = %s", bg)
	}
	tab.Screenshot("4-dark")
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}
