package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"

	"github.com/fdlstudio/fdlstudio/web"
)

// axeSource is axe-core, vendored for the tests only (static/vendor/build.sh
// fetches it); pages never load it.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// axeViolation is the part of an axe-core result the test reports.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeSerious runs axe-core on the tab's page and returns its serious and
// critical violations. DevTools evaluates the script, so the page's CSP
// does not stand in its way (and is not loosened for it).
func axeSerious(tab *Tab) []axeViolation {
	tab.t.Helper()
	if _, err := chromedp.Run(tab.ctx, chromedp.Evaluate[bool](axeSource+";true")); err != nil {
		tab.t.Fatalf("loading axe-core: %v", err)
	}
	raw, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		tab.t.Fatalf("running axe-core: %v", err)
	}
	var all, serious []axeViolation
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		tab.t.Fatalf("axe-core result: %v", err)
	}
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			serious = append(serious, v)
		}
	}
	return serious
}

func formatViolations(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s (%s): %s\n", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "    at %v: %s\n", n.Target, strings.ReplaceAll(n.Summary, "\n", " "))
		}
	}
	return b.String()
}

// setTheme makes the app at appURL render in theme ("light" or "dark"),
// through the cookie the toggle sets; "" removes it (follow the OS).
func setTheme(tab *Tab, appURL, theme string) {
	tab.t.Helper()
	err := chromedp.Do(tab.ctx, chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if theme == "" {
			_, err := cdp.Call(ctx, tg, network.DeleteCookies, network.DeleteCookiesParams{Name: "fdlstudio-theme", URL: appURL})
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: "fdlstudio-theme", Value: theme, URL: appURL})
		return chromedp.Void{}, err
	}))
	if err != nil {
		tab.t.Fatalf("setting the theme cookie: %v", err)
	}
}

// TestAccessibilityEveryPage runs axe-core on every kind of page, in the
// light and the dark theme, and fails on any serious or critical
// violation (contrast, labels, names, scrollable regions, ...).
func TestAccessibilityEveryPage(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	tab := newTab(t)

	// A deployed workflow gives the service, jobs and files pages content.
	tab.Visit(app.URL+"/", "home")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="deploy-sample"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="services-table"]`)),
	)
	text := "the cat and the dog\n"
	if _, err := localS3(t, app).PutObject(context.Background(), "wordcount", "in/story.txt", strings.NewReader(text), int64(len(text)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	var jobPath string
	for deadline := time.Now().Add(30 * time.Second); jobPath == "" && time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		tab.Visit(app.URL+"/services/local/wc-count/jobs", "jobs-of-wc-count")
		jobPath = Eval[string](tab, `(document.querySelector('[data-testid="jobs-table"] tbody tr a') || {pathname: ""}).pathname`)
	}
	if jobPath == "" {
		t.Fatal("no job of wc-count appeared within 30 s")
	}

	pages := []struct{ name, path string }{
		{"home", "/"},
		{"services", "/services"},
		{"service", "/services/local/wc-count"},
		{"new-service", "/services/new?cluster=local"},
		{"edit-service", "/services/local/wc-count/edit"},
		{"jobs", "/jobs"},
		{"service-jobs", "/services/local/wc-count/jobs"},
		{"job-log", jobPath},
		{"invoke", "/services/local/wc-count/invoke"},
		{"files", "/files"},
		{"buckets", "/files/local"},
		{"bucket", "/files/local/wordcount"},
		{"clusters", "/clusters"},
		{"cluster", "/clusters/local"},
		{"new-cluster", "/clusters/new"},
		{"error", "/no-such-page"},
	}
	for _, theme := range []string{"light", "dark"} {
		tab := newTab(t) // a tab lives 60 s: one per theme
		setTheme(tab, app.URL, theme)
		for _, p := range pages {
			tab.Visit(app.URL+p.path, p.name+"-"+theme)
			if got := Eval[string](tab, `document.documentElement.dataset.theme || ""`); got != theme {
				t.Fatalf("%s: page rendered in theme %q, want %q", p.path, got, theme)
			}
			if vs := axeSerious(tab); len(vs) > 0 {
				t.Errorf("%s (%s theme): axe-core finds serious or critical violations:\n%s", p.path, theme, formatViolations(vs))
			}
		}
		if p := tab.Problems("status of 404"); len(p) > 0 {
			t.Errorf("console errors or CSP violations (%s theme):\n%s", theme, strings.Join(p, "\n"))
		}
	}

	// The login page belongs to an app that asks for a login.
	op := startOP(t)
	login := startApp(t, func(c *web.Config) {
		c.OIDCIssuer = op.Issuer
		c.OIDCClientID = "fdlstudio"
		c.OIDCClientSecret = "fdlstudio-secret"
	})
	op.register(login.URL)
	tab = newTab(t)
	for _, theme := range []string{"light", "dark"} {
		setTheme(tab, login.URL, theme)
		tab.Visit(login.URL+"/auth/login", "login-"+theme)
		if vs := axeSerious(tab); len(vs) > 0 {
			t.Errorf("login page (%s theme): axe-core finds serious or critical violations:\n%s", theme, formatViolations(vs))
		}
	}
	// Leave the browser's shared cookie jar as other tests expect it.
	setTheme(tab, login.URL, "")
}
