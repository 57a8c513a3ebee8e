package app

import (
	"bytes"
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/fdlstudio/fdlstudio/web"
)

var csrfInPage = regexp.MustCompile(`hx-headers="([^"]*)"`)

// withCSRF gives req the CSRF cookie and token of a fresh visitor, read
// from the home page the way a browser gets them.
func withCSRF(t *testing.T, srv *App, req *http.Request) *http.Request {
	t.Helper()
	home := do(t, srv, httptest.NewRequest(http.MethodGet, "/", nil))
	m := csrfInPage.FindStringSubmatch(home.Body.String())
	if m == nil {
		t.Fatalf("home page has no hx-headers with the CSRF token:\n%s", home.Body)
	}
	hdr := html.UnescapeString(m[1])
	token := hdr[strings.Index(hdr, `":"`)+3 : len(hdr)-2]
	for _, ck := range home.Result().Cookies() {
		req.AddCookie(ck)
	}
	req.Header.Set("X-CSRF-Token", token)
	return req
}

func TestAuthConfiguredAllowsPublicAddress(t *testing.T) {
	cfg := web.Defaults()
	cfg.Addr = "0.0.0.0:0"
	cfg.DataDir = t.TempDir()
	cfg.OSCARLogin = true
	cfg.OSCARLoginHosts = []string{"oscar.example.org"}
	if !cfg.AuthConfigured() {
		t.Fatal("AuthConfigured() = false with the OSCAR login on")
	}
	srv, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open on 0.0.0.0 with a login method: %v", err)
	}
	srv.Close()
}

func TestOIDCDiscoveryFailureStopsStart(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.OIDCIssuer = down.URL
	cfg.OIDCClientID = "fdlstudio"
	_, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("Open succeeded with an unreachable issuer")
	}
	for _, want := range []string{down.URL, "discovery", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestFailedCallbacksDoNotLogCodeOrState sends login callbacks that fail
// in every way the server can refuse them and reads the whole log: the
// authorization code and state never appear in it.
func TestFailedCallbacksDoNotLogCodeOrState(t *testing.T) {
	const code, state = "SECRETCODE4711", "SECRETSTATE4711"
	callback := "/auth/callback?code=" + code + "&state=" + state

	// Local mode: refused without the start cookie (401), and with it
	// (no OpenID Connect here: 404).
	local, localLogs := newTestServer(t)
	locked := httptest.NewRecorder()
	lockedReq := httptest.NewRequest(http.MethodGet, callback, nil)
	lockedReq.Host = "127.0.0.1"
	local.server.Handler().ServeHTTP(locked, lockedReq)
	if locked.Code != http.StatusUnauthorized {
		t.Errorf("callback without the start cookie: %d", locked.Code)
	}
	if rec := do(t, local, httptest.NewRequest(http.MethodGet, callback, nil)); rec.Code != http.StatusNotFound {
		t.Errorf("callback in local mode: %d", rec.Code)
	}
	// A Host that local mode does not answer.
	misdirected := httptest.NewRequest(http.MethodGet, callback, nil)
	misdirected.Host = "evil.example"
	local.server.Handler().ServeHTTP(httptest.NewRecorder(), misdirected)

	// OpenID Connect (mockoidc): no flow cookie, and a provider error.
	mock, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer mock.Shutdown()
	var oidcLogs bytes.Buffer
	cfg := web.Defaults()
	cfg.Addr, cfg.DataDir, cfg.LocalCluster = "127.0.0.1:0", t.TempDir(), "off"
	cfg.OIDCIssuer, cfg.OIDCClientID, cfg.OIDCClientSecret = mock.Config().Issuer, mock.Config().ClientID, mock.Config().ClientSecret
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&oidcLogs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, u := range []string{callback, callback + "&error=access_denied", "/auth/callback?state=" + state + "&code=" + code + "&session_state=" + state} {
		if rec := do(t, srv, httptest.NewRequest(http.MethodGet, u, nil)); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s: %d, want 401", u, rec.Code)
		}
	}

	for name, logs := range map[string]string{"local": localLogs.String(), "oidc": oidcLogs.String()} {
		if strings.Contains(logs, code) || strings.Contains(logs, state) {
			t.Errorf("%s: the log shows the code or state:\n%s", name, logs)
		}
		if !strings.Contains(logs, "code=[redacted]") {
			t.Errorf("%s: the log does not show the redacted callback:\n%s", name, logs)
		}
	}
}

// TestLocalModeRefusalSaysWhatToDo: a browser without the start token
// gets a page that says to open the printed start link, not a "Log in"
// button (single-user mode has no login); a program gets the same
// sentence as JSON.
func TestLocalModeRefusalSaysWhatToDo(t *testing.T) {
	srv, _ := newTestServer(t)
	req := httptest.NewRequest(http.MethodGet, "/clusters", nil)
	req.Host = "127.0.0.1"
	req.Header.Set("Accept", "text/html")
	rec := httptest.NewRecorder()
	srv.server.Handler().ServeHTTP(rec, req)
	page := rec.Body.String()
	if rec.Code != http.StatusUnauthorized || strings.Contains(page, `data-testid="login-link"`) || strings.Contains(page, `href="/auth/login"`) ||
		!strings.Contains(page, "Open the start link") || !strings.Contains(page, "/?token=…") || !strings.Contains(page, "local-token") {
		t.Errorf("locked page: %d\n%s", rec.Code, page)
	}
	req = httptest.NewRequest(http.MethodGet, "/clusters", nil)
	req.Host = "127.0.0.1"
	req.Header.Set("Accept", "application/json")
	rec = httptest.NewRecorder()
	srv.server.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "start it") && !strings.Contains(rec.Body.String(), "printed when it started") {
		t.Errorf("locked JSON: %d %s", rec.Code, rec.Body.String())
	}
}

// TestLocalStartToken: the start token is kept 0600 in the data dir and
// survives a restart; it is in the log only in the start-up line.
func TestLocalStartToken(t *testing.T) {
	var logs bytes.Buffer
	cfg := web.Defaults()
	cfg.Addr, cfg.DataDir, cfg.LocalCluster = "127.0.0.1:0", t.TempDir(), "off"
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	token := srv.localToken
	fi, err := os.Stat(filepath.Join(cfg.DataDir, localTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 || len(token) != 64 {
		t.Fatalf("token file: %v %v, token of %d characters", fi, err, len(token))
	}
	for _, u := range []string{"/?token=" + token, "/?token=wrong", "/services?token=" + token + "&sort=name",
		// The token inside another parameter's value, as a pasted or
		// bounced start URL carries it.
		"/auth/login?next=/?token=" + token, "/x?next=" + url.QueryEscape("/services?token="+token)} {
		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Host = "127.0.0.1:8080"
		srv.server.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the start token is in the log:\n%s", logs.String())
	}
	// The request log still shows which URLs were asked for.
	for _, want := range []string{`uri="/?token=[redacted]"`, `uri="/services?token=[redacted]&sort=name"`,
		`uri="/auth/login?next=` + url.QueryEscape("/?token=[redacted]") + `"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the request log has no %s:\n%s", want, logs.String())
		}
	}
	if srv.OpenURL() != srv.URL()+"/?token="+token {
		t.Errorf("OpenURL = %q", srv.OpenURL())
	}
	srv.Close()

	again, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.localToken != token {
		t.Error("the start token changed at restart: a bookmarked start URL stops working")
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, localTokenFile), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	again.Close()
	if _, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("damaged token file: %v", err)
	}
}
