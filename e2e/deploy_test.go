package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fdlstudio/fdlstudio/web"
)

// deployWorkflowFDL is a two-stage workflow for a cluster id no
// registered cluster has, so the plan asks where it goes.
const deployWorkflowFDL = `functions:
  oscar:
  - oscar-egi:
      name: dep-first
      image: debian:stable-slim
      memory: 128Mi
      cpu: '0.1'
      script: |
        #!/bin/sh
        tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"
      input:
      - storage_provider: minio.default
        path: deploy-e2e/in
      output:
      - storage_provider: minio.default
        path: deploy-e2e/mid
  - oscar-egi:
      name: dep-second
      image: debian:stable-slim
      memory: 128Mi
      cpu: '0.1'
      script: |
        #!/bin/sh
        wc -c < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/size.txt"
      input:
      - storage_provider: minio.default
        path: deploy-e2e/mid
      output:
      - storage_provider: minio.default
        path: deploy-e2e/out
`

// slowProxy is an OSCAR endpoint in front of the local cluster whose
// service writes take delay each, so the test sees an apply in progress.
func slowProxy(t *testing.T, target string, delay time.Duration) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	var writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, "/system/services") {
			writes.Add(1)
			time.Sleep(delay)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &writes
}

// shoot saves the page in the light and the dark theme, and fails on
// serious accessibility violations (contrast among them) in either.
func shoot(tab *Tab, name string) {
	tab.t.Helper()
	for _, theme := range []string{"light", "dark"} {
		Eval[any](tab, `document.documentElement.setAttribute("data-theme", "`+theme+`")`)
		tab.Screenshot(name + "-" + theme)
		if vs := axeSerious(tab); len(vs) > 0 {
			tab.t.Errorf("%s (%s theme): axe-core finds serious or critical violations:\n%s", name, theme, formatViolations(vs))
		}
	}
	Eval[any](tab, `document.documentElement.removeAttribute("data-theme")`)
}

// TestDeployFromComposer deploys a two-stage workflow from the composer
// to a registered cluster (the local cluster behind a proxy that makes
// every service write slow): the plan asks where the FDL's cluster id
// goes, lists two creates and the storage they create; the apply page
// shows per-service progress live, a reload mid-apply shows the journal,
// and both reach done. Then a service is changed on the cluster with
// the backend client, the deployments page shows the drift with its
// diff, and re-applying the version brings the cluster back.
func TestDeployFromComposer(t *testing.T) {
	app := startApp(t, func(c *web.Config) {
		c.LocalCluster = "on"
		c.AllowPrivateEndpoints = []string{"127.0.0.1/32"}
	})
	sec, rt := localAccess(t, app.DataDir)
	proxy, writes := slowProxy(t, rt.Endpoint, 700*time.Millisecond)
	tab := newTab(t)

	// The user's cluster "lab" (the local cluster, reached through the proxy).
	tab.Visit(app.URL+"/clusters/new", "cluster-form")
	tab.Do(
		chromedp.SendKeys(chromedp.ID("name"), "lab"),
		chromedp.SendKeys(chromedp.ID("endpoint"), proxy.URL),
		chromedp.SendKeys(chromedp.ID("username"), sec.User),
		chromedp.SendKeys(chromedp.ID("password"), sec.Password),
		chromedp.Click(chromedp.CSS(`button[type=submit].btn-primary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cluster-info"]`)),
	)

	importWorkflow(tab, app, "deploy e2e", deployWorkflowFDL)
	wfURL := Eval[string](tab, `location.href`)
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="deploy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="plan-summary"]`)),
	)
	// The FDL's cluster id matches no registered cluster: the plan asks.
	if got := tab.Text(`[data-testid="needs-cluster"]`); !strings.Contains(got, "Choose a registered cluster") {
		t.Errorf("unmapped plan says %q", got)
	}
	if n := Eval[int](tab, `document.querySelectorAll('[data-testid="confirm-deploy"]').length`); n != 0 {
		t.Errorf("an unmapped plan offers to apply (%d buttons)", n)
	}
	shoot(tab, "plan-unmapped")
	tab.Do(
		chromedp.SetValue(chromedp.CSS(`select[data-fdl-cluster="oscar-egi"]`), "lab"),
		chromedp.Click(chromedp.CSS(`[data-testid="replan"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-deploy"]`)),
	)
	kinds := Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="plan-action"]')].map(r => r.dataset.name + ":" + r.dataset.kind)`)
	if strings.Join(kinds, ",") != "dep-first:create,dep-second:create" {
		t.Errorf("plan actions = %v, want two creates", kinds)
	}
	if got := tab.Text(`[data-testid="plan-effects"]`); !strings.Contains(got, "deploy-e2e") {
		t.Errorf("side effects do not name the bucket created: %q", got)
	}
	shoot(tab, "plan")
	if n := writes.Load(); n != 0 {
		t.Fatalf("planning wrote %d times to the cluster", n)
	}

	// Confirm: the apply page follows the progress live.
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-deploy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="deploy-progress"]`)),
	)
	if n := Eval[int](tab, `document.querySelectorAll('[data-testid="live-state"]').length`); n != 1 {
		t.Fatalf("the apply page of a running apply has no live state (%d)", n)
	}
	// A reload mid-apply shows what the journal says so far.
	waitLive(t, tab, "a service write in progress", `document.querySelector('[data-state="started"]') !== null || document.querySelector('[data-state="done"]') !== null`, 10*time.Second)
	tab.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="deploy-progress"]`)))
	states := Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="deploy-function"]')].map(r => r.dataset.name + ":" + r.dataset.state)`)
	if len(states) != 2 || strings.Contains(strings.Join(states, ","), ":failed") {
		t.Errorf("after a reload mid-apply the rows are %v", states)
	}
	if out := tab.Text(`[data-testid="deploy-outcome"]`); out != "running…" {
		t.Errorf("after a reload mid-apply the outcome is %q, want running…", out)
	}
	shoot(tab, "apply-running")
	Eval[bool](tab, noteStates)
	waitLive(t, tab, "both services done", `[...document.querySelectorAll('[data-testid="deploy-function"]')].every(r => r.dataset.state === "done") && document.querySelector('[data-testid="deploy-outcome"]').textContent === "applied"`, 20*time.Second)
	if !Eval[bool](tab, `window.__notReloaded === true`) {
		t.Error("the page was reloaded to show the progress")
	}
	waitLive(t, tab, "the live state to say the apply ended", `document.querySelector('[data-testid="live-state"]').dataset.state === "ended"`, 5*time.Second)
	if got := tab.Text(`[data-testid="live-state"]`); !strings.Contains(got, "The apply has ended") {
		t.Errorf("live state at the end = %q", got)
	}
	if got := tab.Text(`[data-testid="deploy-count"]`); !strings.HasPrefix(got, "2 of 2 changes finished") {
		t.Errorf("count at the end = %q", got)
	}
	shoot(tab, "apply-done")

	cl := localClient(t, app.DataDir)
	for _, name := range []string{"dep-first", "dep-second"} {
		s, err := cl.GetService(tab.ctx, name)
		if err != nil {
			t.Fatalf("%s is not on the cluster after the apply: %v", name, err)
		}
		if !strings.Contains(s.Script, "INPUT_FILE_PATH") || s.Memory != "128Mi" {
			t.Errorf("%s on the cluster: memory %q, script %q", name, s.Memory, s.Script)
		}
	}

	// Drift: the second stage is changed on the cluster, not in FDL Studio.
	s, err := cl.GetService(tab.ctx, "dep-second")
	if err != nil {
		t.Fatal(err)
	}
	s.Memory = "256Mi"
	if err := cl.UpdateService(tab.ctx, s); err != nil {
		t.Fatalf("changing the service outside FDL Studio: %v", err)
	}
	tab.Visit(strings.TrimSuffix(wfURL, "/")+"/deployments", "deployments")
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="drift-panel"]`)))
	if got := tab.Text(`[data-testid="placements"]`); !strings.Contains(got, "lab") {
		t.Errorf("where-deployed table = %q", got)
	}
	drift := Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="drift"]')].map(r => r.dataset.name + ":" + r.dataset.state)`)
	if strings.Join(drift, ",") != "dep-first:in-sync,dep-second:changed" {
		t.Errorf("drift = %v, want dep-second changed", drift)
	}
	diff := tab.Text(`[data-testid="drift"][data-name="dep-second"] [data-testid="changes"]`)
	if !strings.Contains(diff, "memory") || !strings.Contains(diff, "128Mi") || !strings.Contains(diff, "256Mi") {
		t.Errorf("drift diff = %q, want memory 128Mi → 256Mi", diff)
	}
	if n := Eval[int](tab, `document.querySelectorAll('[data-testid="deployment"]').length`); n != 1 {
		t.Errorf("history lists %d deployments, want 1", n)
	}
	shoot(tab, "drift")

	// Re-apply: the plan updates the one field back, the apply restores it.
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="drift"][data-name="dep-second"] [data-testid="reapply"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-deploy"]`)),
	)
	kinds = Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="plan-action"]')].map(r => r.dataset.name + ":" + r.dataset.kind)`)
	if strings.Join(kinds, ",") != "dep-first:unchanged,dep-second:update" {
		t.Errorf("re-apply plan = %v", kinds)
	}
	fields := Eval[[]string](tab, `[...document.querySelectorAll('[data-name="dep-second"] [data-field]')].map(r => r.dataset.field)`)
	if strings.Join(fields, ",") != "memory" {
		t.Errorf("re-apply updates fields %v, want memory only", fields)
	}
	if got := Eval[string](tab, `document.querySelector('select[data-fdl-cluster="oscar-egi"]').value`); got != "lab" {
		t.Errorf("the mapping was not remembered: the select shows %q", got)
	}
	shoot(tab, "reapply-plan")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-deploy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="deploy-progress"]`)),
	)
	waitLive(t, tab, "the re-apply to end", `document.querySelector('[data-testid="deploy-outcome"]').textContent === "applied"`, 20*time.Second)
	if s, err := cl.GetService(tab.ctx, "dep-second"); err != nil {
		t.Errorf("after re-applying, dep-second: %v", err)
	} else if s.Memory != "128Mi" {
		t.Errorf("after re-applying, dep-second has memory %q, want 128Mi", s.Memory)
	}
	tab.Visit(strings.TrimSuffix(wfURL, "/")+"/deployments", "deployments-after")
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="drift-panel"]`)))
	drift = Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="drift"]')].map(r => r.dataset.name + ":" + r.dataset.state)`)
	if strings.Join(drift, ",") != "dep-first:in-sync,dep-second:in-sync" {
		t.Errorf("drift after re-apply = %v", drift)
	}
	shoot(tab, "deployments-after")
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}
