package app

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

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
