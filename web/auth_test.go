package web

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var csrfInPage = regexp.MustCompile(`hx-headers="([^"]*)"`)

// withCSRF gives req the CSRF cookie and token of a fresh visitor, read
// from the home page the way a browser gets them.
func withCSRF(t *testing.T, srv *Server, req *http.Request) *http.Request {
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
	cfg := Defaults()
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
	cfg := Defaults()
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

func TestOIDCConfigResolvesPresetAndSecretFile(t *testing.T) {
	cfg := Defaults()
	cfg.OIDCPreset = "egi"
	cfg.OIDCClientID = "fdlstudio"
	o, err := cfg.OIDC()
	if err != nil {
		t.Fatal(err)
	}
	if o.Issuer != "https://aai.egi.eu/auth/realms/egi" || !strings.Contains(strings.Join(o.Scopes, " "), "eduperson_entitlement entitlements") {
		t.Errorf("egi preset = %+v", o)
	}
	cfg.OIDCPreset = "nope"
	if _, err := cfg.OIDC(); err == nil || !strings.Contains(err.Error(), "--oidc-preset") || !strings.Contains(err.Error(), "egi") {
		t.Errorf("unknown preset: %v", err)
	}
	cfg.OIDCPreset, cfg.OIDCIssuer, cfg.OIDCClientID = "", "https://idp.example", ""
	if _, err := cfg.OIDC(); err == nil || !strings.Contains(err.Error(), "--oidc-client-id") {
		t.Errorf("missing client id: %v", err)
	}
	cfg.OIDCClientID = "c"
	cfg.OIDCClientSecretFile = t.TempDir() + "/secret"
	writeFile(t, cfg.OIDCClientSecretFile)
	if o, err := cfg.OIDC(); err != nil || o.ClientSecret != "x" || len(o.Scopes) == 0 {
		t.Errorf("secret file: %+v, %v", o, err)
	}
}
