package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fdlstudio/fdlstudio/web"
)

// TestLoginWithOpenIDConnect logs in through the real login form of a
// real OpenID Provider, sees the name and VOs, logs out (here and at the
// provider), and checks that a user outside the accepted VOs is told
// which VOs are accepted.
func TestLoginWithOpenIDConnect(t *testing.T) {
	op := startOP(t)
	app := startApp(t, func(c *web.Config) {
		c.OIDCIssuer = op.Issuer
		c.OIDCClientID = "fdlstudio"
		c.OIDCClientSecret = "fdlstudio-secret"
		c.OIDCAllowedVOs = []string{"vo.access.egi.eu"}
	})
	op.register(app.URL)
	tab := newTab(t)

	// A page needs a login: the browser lands on the login page.
	tab.Visit(app.URL+"/", "login-page")
	if got := tab.Text(`[data-testid="login-oidc"]`); !strings.Contains(got, "Log in with "+op.Issuer) {
		t.Errorf("login button = %q", got)
	}
	providerLogin(t, tab, "alice")

	// Back home, as Alice, with her VOs.
	if err := chromedp.Do(tab.ctx, chromedp.WaitVisible(chromedp.CSS(`[data-testid="home-title"]`))); err != nil {
		t.Fatalf("not back home after login: %v", err)
	}
	// Carry on in a fresh tab (same browser, same cookies), so that its
	// console holds only FDL Studio's pages, not the provider's.
	tab = newTab(t)
	tab.Visit(app.URL+"/", "logged-in-home")
	if got := tab.Text(`[data-testid="user-name"]`); got != "Alice Researcher" {
		t.Errorf("user menu name = %q", got)
	}
	Eval[any](tab, `document.querySelector('[data-testid="user-menu"]').open = true`)
	detail := tab.Text(`[data-testid="user-detail"]`)
	if !strings.Contains(detail, "biomed, vo.access.egi.eu") || !strings.Contains(detail, "alice@example.org") {
		t.Errorf("user menu detail = %q", detail)
	}
	tab.Screenshot("logged-in-user-menu")

	// Nothing secret is reachable from the page's scripts.
	if c := Eval[string](tab, `document.cookie`); strings.Contains(c, "fdlstudio_session") {
		t.Errorf("the session cookie is readable by scripts: %q", c)
	}
	if stored := Eval[string](tab, `JSON.stringify([localStorage, sessionStorage])`); strings.Contains(stored, "eyJ") ||
		strings.Contains(stored, "fdlstudio_session") {
		t.Errorf("browser storage holds a token: %s", stored)
	}
	hx := Eval[string](tab, `document.body.getAttribute("hx-headers")`)
	if !strings.Contains(hx, `"X-CSRF-Token":"`) || len(hx) < 40 {
		t.Errorf("body hx-headers = %q, want the CSRF token", hx)
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}

	// Log out: the session ends here, then at the provider, which sends
	// the browser back to the logged-out page.
	if err := chromedp.Do(tab.ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="logged-out"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-link"]`)),
	); err != nil {
		t.Fatalf("logging out: %v", err)
	}
	waitURL(t, tab, app.URL+"/auth/logged-out")
	tab.Screenshot("logged-out")
	tab.Visit(app.URL+"/", "after-logout")
	if Eval[string](tab, `location.pathname`) != "/auth/login" {
		t.Errorf("after logout / is at %s, want the login page", Eval[string](tab, `location.href`))
	}

	// Bob is in no accepted VO.
	providerLogin(t, tab, "bob")
	if err := chromedp.Do(tab.ctx, chromedp.WaitVisible(chromedp.CSS(`[data-testid="vo-refused"]`))); err != nil {
		t.Fatalf("no VO refusal page for bob: %v", err)
	}
	if got := tab.Text(`[data-testid="accepted-vos"]`); got != "vo.access.egi.eu" {
		t.Errorf("accepted VOs shown = %q", got)
	}
	if got := tab.Text(`[data-testid="vo-refused"]`); !strings.Contains(got, "vo.other.eu") {
		t.Errorf("refusal page does not show bob's VO: %q", got)
	}
	tab.Screenshot("vo-refused")
	tab.Visit(app.URL+"/", "bob-not-logged-in")
	if Eval[string](tab, `location.pathname`) != "/auth/login" {
		t.Error("bob got a session despite the VO restriction")
	}
}

// providerLogin starts at the login page, follows the button to the
// provider and fills its form.
func providerLogin(t *testing.T, tab *Tab, user string) {
	t.Helper()
	err := chromedp.Do(tab.ctx,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-oidc"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="login-oidc"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), user),
		chromedp.SendKeys(chromedp.CSS(`#password`), opPassword),
	)
	if err != nil {
		t.Fatalf("at the provider's login form: %v", err)
	}
	tab.Screenshot("provider-form-" + user)
	if err := chromedp.Do(tab.ctx, chromedp.Submit(chromedp.CSS(`#password`))); err != nil {
		t.Fatalf("submitting the provider's form: %v", err)
	}
}

func waitURL(t *testing.T, tab *Tab, want string) {
	t.Helper()
	if err := chromedp.Do(tab.ctx, chromedp.Poll[chromedp.Void](`location.href.startsWith(`+jsString(want)+`)`)); err != nil {
		t.Fatalf("waiting for %s: %v (at %s)", want, err, Eval[string](tab, `location.href`))
	}
}

func jsString(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// TestLocalModeIsLockedToThePrintedURL: in single-user mode a browser
// that has not opened the URL printed at start gets 401 and is told what
// to open; with the printed URL it gets in, and the token leaves the
// address bar and the logs.
func TestLocalModeIsLockedToThePrintedURL(t *testing.T) {
	app := startApp(t, nil)
	token := app.OpenURL[strings.Index(app.OpenURL, "token=")+len("token="):]
	if app.OpenURL != app.URL+"/?token="+token || len(token) < 32 {
		t.Fatalf("printed URL = %q", app.OpenURL)
	}

	// Another account on the machine, with curl.
	for _, u := range []string{app.URL + "/", app.URL + "/services", app.URL + "/readyz", app.URL + "/?token=" + token[:len(token)-1] + "0"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Open the URL it printed when it started") {
			t.Errorf("GET %s without the cookie: %d", u, resp.StatusCode)
		}
	}

	// A browser profile that has not opened the printed URL.
	tab := newTabWith(t, chromedp.WithNewBrowserContext())
	tab.Visit(app.URL+"/clusters", "locked")
	if got := tab.Text("main"); !strings.Contains(got, "Open the URL it printed when it started") {
		t.Errorf("locked page says %q", got)
	}
	tab.Visit(app.OpenURL, "unlocked")
	waitURL(t, tab, app.URL+"/")
	if got := Eval[string](tab, `location.href`); got != app.URL+"/" {
		t.Errorf("after the printed URL the browser is at %s", got)
	}
	if c := Eval[string](tab, `document.cookie`); strings.Contains(c, "fdlstudio_local") {
		t.Errorf("the unlock cookie is readable by scripts: %q", c)
	}
	tab.Visit(app.URL+"/clusters", "clusters-after-unlock")
	if got := tab.Text("main"); strings.Contains(got, "Open the URL") {
		t.Errorf("still locked after opening the printed URL: %q", got)
	}
	if p := tab.Problems("status of 401"); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
	if strings.Contains(app.Logs.String(), token) {
		t.Errorf("the start token is in the server log:\n%s", app.Logs.String())
	}
}

// TestUnverifiedEmailIsNotAdmin: with --admins naming two addresses, the
// user whose address the provider has not verified does not see the
// admins-only local cluster; the verified one does.
func TestUnverifiedEmailIsNotAdmin(t *testing.T) {
	op := startOP(t)
	app := startApp(t, func(c *web.Config) {
		c.OIDCIssuer = op.Issuer
		c.OIDCClientID = "fdlstudio"
		c.OIDCClientSecret = "fdlstudio-secret"
		c.LocalCluster = "on"
		c.Admins = []string{"carol@example.org", "alice@example.org"}
	})
	op.register(app.URL)
	for _, tt := range []struct {
		user      string
		wantLocal bool
	}{{"carol", false}, {"alice", true}} {
		tab := newTabWith(t, chromedp.WithNewBrowserContext())
		tab.Visit(app.URL+"/clusters", "login-"+tt.user)
		providerLogin(t, tab, tt.user)
		// Back on the clusters page (waiting for its content, not polling
		// the address while the browser navigates).
		tab.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="clusters-table"], [data-testid="clusters-empty"]`)))
		tab.Screenshot("clusters-" + tt.user)
		n := Eval[int](tab, `document.querySelectorAll('tr[data-cluster="local"]').length`)
		if (n > 0) != tt.wantLocal {
			t.Errorf("%s sees the admins-only local cluster: %v, want %v", tt.user, n > 0, tt.wantLocal)
		}
	}
}
