package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/web"
)

// TestClustersAddTestAndView registers an OSCAR cluster through the form,
// as a new user would: a wrong password is caught by "Test connection",
// the right one is saved, and the cluster page and list show what the
// cluster reports. The cluster is the spec-checked OSCAR test server.
func TestClustersAddTestAndView(t *testing.T) {
	cluster := oscartest.NewServer(t, oscartest.Options{})
	app := startApp(t, nil)
	tab := newTab(t)

	tab.Visit(app.URL+"/clusters", "clusters-empty")
	if !strings.Contains(tab.Text(`[data-testid="clusters-empty"]`), "not registered a cluster") {
		t.Fatal("empty list does not say so")
	}
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="clusters-empty"] a`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="cluster-form"]`)))

	// A bad endpoint is refused next to its field.
	tab.Do(
		chromedp.SendKeys(chromedp.ID("name"), "egi-test"),
		chromedp.SendKeys(chromedp.ID("endpoint"), "ftp://files.example.org"),
		chromedp.SendKeys(chromedp.ID("username"), "oscar"),
		chromedp.SendKeys(chromedp.ID("password"), "wrong"),
		chromedp.Click(chromedp.CSS(`button[type=submit].btn-primary`)),
		chromedp.WaitVisible(chromedp.ID("endpoint-error")),
	)
	tab.Screenshot("form-endpoint-error")
	if got := tab.Text("#endpoint-error"); !strings.Contains(got, "http or https") {
		t.Errorf("endpoint error = %q", got)
	}
	if got := Eval[string](tab, `document.getElementById("password").value`); got != "" {
		t.Error("the password came back to the browser in the re-rendered form")
	}

	// Test connection with the wrong password: the cluster says no.
	tab.Do(
		chromedp.SetValue(chromedp.ID("endpoint"), cluster.URL),
		chromedp.SendKeys(chromedp.ID("password"), "wrong"),
		chromedp.Click(chromedp.CSS(`[data-testid="test-connection"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="test-result"] [data-testid="health-error"]`)),
	)
	tab.Screenshot("test-wrong-password")
	if got := tab.Text(`[data-testid="test-result"]`); !strings.Contains(got, "refused the credentials") {
		t.Errorf("test result = %q", got)
	}
	// htmx answered in place: still on the form, the fields kept.
	if got := Eval[string](tab, `document.getElementById("name").value`); got != "egi-test" {
		t.Errorf("name field after test = %q", got)
	}

	tab.Do(
		chromedp.SetValue(chromedp.ID("password"), "oscar-pass"),
		chromedp.Click(chromedp.CSS(`[data-testid="test-connection"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="test-result"] [data-testid="health-ok"]`)),
	)
	if got := tab.Text(`[data-testid="test-result"]`); !strings.Contains(got, "v4.1.2") {
		t.Errorf("test result = %q", got)
	}
	tab.Screenshot("test-ok")

	tab.Do(
		chromedp.Click(chromedp.CSS(`button[type=submit].btn-primary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cluster-info"]`)),
	)
	tab.Screenshot("cluster-page")
	if got := tab.Text(`[data-testid="cluster-info"]`); !strings.Contains(got, "v4.1.2") {
		t.Errorf("system section = %q", got)
	}
	if got := tab.Text(`[data-testid="cluster-status"]`); !strings.Contains(got, "Nodes") {
		t.Errorf("status section = %q", got)
	}
	page := tab.Text("main")
	if strings.Contains(page, "oscar-pass") {
		t.Error("the cluster page shows the password")
	}

	tab.Visit(app.URL+"/clusters", "clusters-list")
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="egi-test"] [data-testid="health-ok"]`)))
	tab.Screenshot("clusters-list-health")
	if p := tab.Problems("status of 422"); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}

// TestClusterDownIsReportedInTime: a cluster that does not answer is
// named with the cause within the 10 s bound, and the page still works.
func TestClusterDownIsReportedInTime(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	tab.Visit(app.URL+"/clusters/new", "form")
	tab.Do(
		chromedp.SendKeys(chromedp.ID("name"), "gone"),
		chromedp.SendKeys(chromedp.ID("endpoint"), "http://127.0.0.1:1"),
		chromedp.SendKeys(chromedp.ID("username"), "oscar"),
		chromedp.SendKeys(chromedp.ID("password"), "x"),
		chromedp.Click(chromedp.CSS(`button[type=submit].btn-primary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cluster-info"]`)),
	)
	if got := tab.Text(`[data-testid="cluster-info"]`); !strings.Contains(got, `"gone"`) || !strings.Contains(got, "unreachable") {
		t.Errorf("system section for a down cluster = %q", got)
	}
	tab.Screenshot("cluster-down")
	start := time.Now()
	tab.Visit(app.URL+"/clusters", "list-with-down-cluster")
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="gone"] [data-testid="health-error"]`)))
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the down cluster took %v to be reported", d)
	}
	tab.Screenshot("list-down")
}

// TestLocalClusterIsListed: in local mode the embedded cluster appears as
// the shared cluster "local", reachable, with its page filled in by the
// same OSCAR client that talks to real clusters.
func TestLocalClusterIsListed(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	tab := newTab(t)
	tab.Visit(app.URL+"/clusters", "clusters")
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="local"] [data-testid="health-ok"]`)))
	tab.Screenshot("clusters-with-local")
	if got := tab.Text(`tr[data-cluster="local"]`); !strings.Contains(got, "shared") {
		t.Errorf("local row = %q, want it marked shared", got)
	}
	tab.Visit(app.URL+"/clusters/local", "local-cluster-page")
	for _, section := range []string{"cluster-info", "cluster-status", "cluster-config"} {
		if got := tab.Text(`[data-testid="` + section + `"]`); strings.Contains(got, "unreachable") || strings.Contains(got, "refused") {
			t.Errorf("%s on the local cluster: %q", section, got)
		}
	}
	if strings.Contains(tab.Text("main"), "Remove") {
		t.Error("the shared local cluster offers Remove")
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}

// TestImportOSCARCLIConfig uploads an oscar-cli config on the clusters
// page: the basic-auth cluster is imported and answers; the one that
// needs OpenID Connect is skipped with the reason.
func TestImportOSCARCLIConfig(t *testing.T) {
	cluster := oscartest.NewServer(t, oscartest.Options{})
	app := startApp(t, nil)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte("oscar:\n  lab:\n    endpoint: "+cluster.URL+"\n    auth_user: oscar\n    auth_password: oscar-pass\n  egi:\n    endpoint: https://oscar.example.org\n    oidc_refresh_token: R\ndefault: lab\n"), 0o600)

	tab := newTab(t)
	tab.Visit(app.URL+"/clusters", "clusters")
	tab.Do(
		chromedp.Click(chromedp.CSS(`.import summary`)),
		chromedp.SetUploadFiles(chromedp.ID("config"), []string{cfg}),
		chromedp.Click(chromedp.CSS(`[data-testid="import-form"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-result"]`)),
	)
	tab.Screenshot("import-result")
	if got := tab.Text(`tr[data-cluster="lab"]`); !strings.Contains(got, "imported") {
		t.Errorf("lab row = %q", got)
	}
	if got := tab.Text(`tr[data-cluster="egi"]`); !strings.Contains(got, "OpenID Connect") {
		t.Errorf("egi row = %q", got)
	}
	tab.Visit(app.URL+"/clusters", "clusters-after-import")
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster="lab"] [data-testid="health-ok"]`)))
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}
