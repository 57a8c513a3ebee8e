package app

import (
	"bytes"
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/backends/netguard/guardtest"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/web"
)

// openWith opens a server on loopback with cfg changed by mod.
func openWith(t *testing.T, mod func(*web.Config), opts ...Option) (*App, *bytes.Buffer, error) {
	t.Helper()
	var logs bytes.Buffer
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LocalCluster = "off"
	mod(&cfg)
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), opts...)
	if err == nil {
		t.Cleanup(func() { srv.Close() })
	}
	return srv, &logs, err
}

func TestOSCARLoginNeedsItsHostList(t *testing.T) {
	_, _, err := openWith(t, func(c *web.Config) { c.OSCARLogin = true })
	if err == nil || !strings.Contains(err.Error(), "--oscar-login needs --oscar-login-hosts") {
		t.Errorf("--oscar-login without hosts: %v, want a refusal to start that names --oscar-login-hosts", err)
	}
}

func TestDialGuardStateIsLoggedAtStart(t *testing.T) {
	srv, logs, err := openWith(t, func(c *web.Config) { c.OSCARLogin, c.OSCARLoginHosts = true, []string{"oscar.example.org"} })
	if err != nil {
		t.Fatal(err)
	}
	if srv.guard == nil {
		t.Error("a login method without --cluster-hosts left the guard off")
	}
	if l := logs.String(); !strings.Contains(l, "dial guard on") || !strings.Contains(l, "cluster-hosts=\"none set") {
		t.Errorf("start-up log does not say the guard is on and --cluster-hosts is unset:\n%s", l)
	}
	srv, logs, err = openWith(t, func(*web.Config) {})
	if err != nil {
		t.Fatal(err)
	}
	if srv.guard != nil || !strings.Contains(logs.String(), "dial guard off") {
		t.Errorf("local single-user mode: guard %v, log:\n%s", srv.guard, logs)
	}
	_, _, err = openWith(t, func(c *web.Config) { c.AllowPrivateEndpoints = []string{"10.0.0.0/99"} })
	if err == nil || !strings.Contains(err.Error(), netguard.AllowSetting) {
		t.Errorf("a bad network to allow: %v", err)
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// oscarLogin posts the OSCAR login form as a fresh browser would.
func oscarLogin(t *testing.T, srv *App, endpoint string) *httptest.ResponseRecorder {
	t.Helper()
	page := do(t, srv, httptest.NewRequest(http.MethodGet, "/auth/login", nil))
	m := csrfField.FindStringSubmatch(page.Body.String())
	if m == nil {
		t.Fatalf("login page has no CSRF field:\n%s", page.Body)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(m[1])}, "endpoint": {endpoint}, "username": {"oscar"}, "password": {"oscar-pass"}, "next": {"/"}}
	req := httptest.NewRequest(http.MethodPost, "/auth/oscar", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range page.Result().Cookies() {
		req.AddCookie(ck)
	}
	return do(t, srv, req)
}

// OSCAR logins reach only listed hosts, and a listed name that resolves
// to an internal address is refused at connect time.
func TestOSCARLoginOutsideTheListIsRefused(t *testing.T) {
	fake := oscartest.NewServer(t, oscartest.Options{})
	hp := guardtest.HostPort(t, fake.URL)
	port := hp[strings.LastIndex(hp, ":")+1:]
	hosts := map[string][]string{"oscar.example.org": {"127.0.0.1"}}
	g, d := guardtest.New(t, hosts)
	srv, _, err := openWith(t, func(c *web.Config) { c.OSCARLogin, c.OSCARLoginHosts = true, []string{"oscar.example.org"} }, WithDialGuard(g))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ endpoint, want string }{
		{fake.URL, `host "127.0.0.1" is not in the list of allowed cluster hosts`},
		{"http://evil.example:" + port, `host "evil.example" is not in the list of allowed cluster hosts`},
		{"http://169.254.169.254", `host "169.254.169.254" is not in the list of allowed cluster hosts`},
		{"http://oscar.example.org:" + port, `"oscar.example.org" resolves to a private address, which this server does not connect to`},
	} {
		rec := oscarLogin(t, srv, tt.endpoint)
		if body := html.UnescapeString(rec.Body.String()); rec.Code != http.StatusUnauthorized || !strings.Contains(body, tt.want) {
			t.Errorf("login at %s: %d, want 401 saying %q", tt.endpoint, rec.Code, tt.want)
		}
	}
	if len(d.Asked()) != 0 || len(fake.Checker.Covered()) != 0 {
		t.Errorf("a refused login reached the network: dialer asked %v", d.Asked())
	}

	// The same listed host, allowed by the guard, logs in: the refusals
	// above are the guard's and the list's, not a broken login.
	g, _ = guardtest.New(t, hosts, hp)
	srv, _, err = openWith(t, func(c *web.Config) { c.OSCARLogin, c.OSCARLoginHosts = true, []string{"oscar.example.org"} }, WithDialGuard(g))
	if err != nil {
		t.Fatal(err)
	}
	if rec := oscarLogin(t, srv, "http://oscar.example.org:"+port); rec.Code != http.StatusSeeOther {
		t.Errorf("login at an allowed host: %d\n%s", rec.Code, rec.Body)
	}
}
