package auth

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// bearer sends a request with an API token and no cookie.
func bearer(t *testing.T, method, u, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return newBrowser(t).do(req)
}

// TestAPITokensOpenOnlyTheAPI makes a token through a logged-in page and
// checks what it opens: the /api/ routes as its user, state changes
// without CSRF; not pages; while a session cookie opens no /api/ route.
// It expires, it is revoked, it is kept only as a hash, it is its user's.
func TestAPITokensOpenOnlyTheAPI(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, nil)
	b := newBrowser(t)
	_, me := app.login(b, "/me")
	csrf := me[strings.Index(me, "csrf=")+5:]

	// Made on a page: needs the session's CSRF token like any form.
	if resp, _ := b.postForm(app.srv.URL+"/tokens", url.Values{"name": {"laptop"}, "days": {"30"}}, ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("token made without CSRF: %d", resp.StatusCode)
	}
	resp, token := b.postForm(app.srv.URL+"/tokens", url.Values{"name": {"laptop"}, "days": {"30"}, "csrf_token": {csrf}}, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(token, "fdls_") || len(token) < 40 {
		t.Fatalf("make a token: %d %q", resp.StatusCode, token)
	}
	for _, tt := range []struct{ form url.Values }{
		{url.Values{"name": {"laptop"}, "days": {"30"}}}, // taken
		{url.Values{"name": {""}, "days": {"30"}}},       // empty
		{url.Values{"name": {"ci"}, "days": {"10000"}}},  // not an offered lifetime
		{url.Values{"name": {"a\x00b"}, "days": {"30"}}}, // control character
	} {
		tt.form.Set("csrf_token", csrf)
		if resp, body := b.postForm(app.srv.URL+"/tokens", tt.form, ""); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("token %v: %d %q, want 422", tt.form, resp.StatusCode, body)
		}
	}

	// The token opens the API as its user, and POSTs need no CSRF.
	if resp, body := bearer(t, http.MethodGet, app.srv.URL+"/api/me", token); resp.StatusCode != 200 || body != "Alice Example|oidc" {
		t.Fatalf("GET /api/me with the token: %d %q", resp.StatusCode, body)
	}
	if resp, body := bearer(t, http.MethodPost, app.srv.URL+"/api/change", token); resp.StatusCode != 200 {
		t.Errorf("POST /api/change with the token: %d %q", resp.StatusCode, body)
	}
	// It does not open pages.
	if resp, _ := bearer(t, http.MethodGet, app.srv.URL+"/me", token); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a page with only the token: %d, want the login redirect", resp.StatusCode)
	}
	// A session cookie (with its CSRF token even) does not open the API.
	if resp, body := b.get(app.srv.URL + "/api/me"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "API token") {
		t.Errorf("GET /api/me with the session cookie: %d %q", resp.StatusCode, body)
	}
	if resp, _ := b.postForm(app.srv.URL+"/api/change", url.Values{"csrf_token": {csrf}}, csrf); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /api/change with the session cookie and CSRF: %d", resp.StatusCode)
	}
	for name, h := range map[string]string{"no header": "", "Basic": "Basic " + token, "bare": token, "unknown": "Bearer fdls_unknown"} {
		req, _ := http.NewRequest(http.MethodGet, app.srv.URL+"/api/me", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, _ := newBrowser(t).do(req)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d, WWW-Authenticate %q", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}

	// Last use is recorded; the store holds a hash, never the token.
	ctx := context.Background()
	rec, err := app.db.APITokenByHash(ctx, hashID(token))
	if err != nil || rec.Name != "laptop" || rec.LastUsedAt.IsZero() || rec.Hash == token {
		t.Fatalf("stored token: %+v, %v", rec, err)
	}
	files, _ := filepath.Glob(filepath.Join(app.dir, "*"))
	for _, f := range files {
		if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(token)) || bytes.Contains(data, []byte(token[5:])) {
			t.Errorf("%s holds the token in clear", f)
		}
	}

	// Another user can neither see nor revoke it.
	other, err := app.db.UpsertUser(ctx, "https://other.example", "someone", "Someone", "")
	if err != nil {
		t.Fatal(err)
	}
	octx := WithUser(ctx, &User{ID: other.ID, Mode: ModeOIDC})
	if list, _ := app.m.APITokens(octx); len(list) != 0 {
		t.Errorf("another user lists %d tokens", len(list))
	}
	if err := app.m.RevokeAPIToken(octx, rec.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user revoked it: %v", err)
	}

	// Expiry: refused the moment it passes, saying so.
	app.clock.Add(30*24*time.Hour + time.Second)
	if resp, body := bearer(t, http.MethodGet, app.srv.URL+"/api/me", token); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Errorf("an expired token: %d %q", resp.StatusCode, body)
	}

	// Revocation: refused at once.
	uctx := WithUser(ctx, &User{ID: rec.UserID, Mode: ModeOIDC})
	fresh, frec, err := app.m.CreateAPIToken(uctx, "ci", 7)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := bearer(t, http.MethodGet, app.srv.URL+"/api/me", fresh); resp.StatusCode != 200 {
		t.Fatalf("a fresh token: %d", resp.StatusCode)
	}
	if err := app.m.RevokeAPIToken(uctx, frec.ID); err != nil {
		t.Fatal(err)
	}
	if resp, body := bearer(t, http.MethodGet, app.srv.URL+"/api/me", fresh); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Errorf("a revoked token: %d %q", resp.StatusCode, body)
	}

	// A token of the single local user does not open a server with a
	// login (nor the other way round).
	local, err := app.db.UpsertUser(ctx, "local", "local", "Local user", "")
	if err != nil {
		t.Fatal(err)
	}
	ltok, _, err := app.m.CreateAPIToken(WithUser(ctx, &User{ID: local.ID, Mode: ModeLocal}), "local", 7)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := bearer(t, http.MethodGet, app.srv.URL+"/api/me", ltok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a local-mode token on a server with a login: %d", resp.StatusCode)
	}
}

// TestAPITokensInLocalMode: in single-user mode a token opens the API
// without the start token's cookie, and the cookie does not open it.
func TestAPITokensInLocalMode(t *testing.T) {
	const start = "0123456789abcdef0123456789abcdef"
	app := newTestApp(t, func(c *Config) {
		c.LocalUser = &User{ID: 1, Name: "Local user", Mode: ModeLocal}
		c.LocalToken = start
	})
	ctx := context.Background()
	u, err := app.db.UpsertUser(ctx, "local", "local", "Local user", "")
	if err != nil || u.ID != 1 {
		t.Fatalf("local user: %+v %v", u, err)
	}
	b := newBrowser(t)
	b.get(app.srv.URL + "/?token=" + start)
	if resp, _ := b.get(app.srv.URL + "/me"); resp.StatusCode != 200 {
		t.Fatalf("unlocked browser: %d", resp.StatusCode)
	}
	if resp, _ := b.get(app.srv.URL + "/api/me"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/api/ with the start cookie: %d", resp.StatusCode)
	}
	tok, _, err := app.m.CreateAPIToken(WithUser(ctx, &User{ID: 1, Mode: ModeLocal}), "cli", 30)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := bearer(t, http.MethodGet, app.srv.URL+"/api/me", tok); resp.StatusCode != 200 || body != "Local user|local" {
		t.Errorf("/api/ with the token: %d %q", resp.StatusCode, body)
	}
	if resp, _ := bearer(t, http.MethodGet, app.srv.URL+"/me", tok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a page with only the token: %d", resp.StatusCode)
	}
}

// TestAPITokensFollowTheLoginRulesNow restarts the server on the same data
// with other login settings: a token works only while its user would be
// let in now (VOs and the roles that count, the login mode, the issuer,
// the OSCAR endpoint), and works again when the setting comes back.
func TestAPITokensFollowTheLoginRulesNow(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, func(c *Config) { c.OIDC.AllowedVOs = []string{"biomed"} })
	b := newBrowser(t)
	_, me := app.login(b, "/me")
	csrf := me[strings.Index(me, "csrf=")+5:]
	resp, token := b.postForm(app.srv.URL+"/tokens", url.Values{"name": {"laptop"}, "days": {"30"}, "csrf_token": {csrf}}, "")
	if resp.StatusCode != 200 {
		t.Fatalf("make a token: %d %q", resp.StatusCode, token)
	}
	// Logging out does not end a personal token.
	if resp, body := b.postForm(app.srv.URL+"/auth/logout", url.Values{"csrf_token": {csrf}}, ""); resp.StatusCode != 200 {
		t.Fatalf("logout: %d %q", resp.StatusCode, body)
	}
	if resp, body := bearer(t, http.MethodGet, app.srv.URL+"/api/me", token); resp.StatusCode != 200 {
		t.Fatalf("the token after logout: %d %q", resp.StatusCode, body)
	}
	restart := func(mutate func(*Config)) *testApp { return newTestAppOn(t, app.db, app.dir, mutate) }
	withOIDC := func(issuer string, vos, roles []string) *testApp {
		return restart(func(c *Config) {
			c.OIDC = &OIDCConfig{Issuer: issuer, ClientID: "fdlstudio", ClientSecret: "client-secret",
				Scopes: []string{"openid"}, AllowedVOs: vos, VORoles: roles}
		})
	}
	other := newTestProvider(t)
	for _, tt := range []struct {
		name   string
		app    *testApp
		status int
		want   []string
	}{
		{"another VO", withOIDC(p.issuer(), []string{"cryoem"}, nil), 403, []string{"cryoem", "biomed, vo.access.egi.eu"}},
		{"a VO she holds only with another role", withOIDC(p.issuer(), []string{"ops"}, nil), 403, []string{"ops"}},
		{"that role counted", withOIDC(p.issuer(), []string{"ops"}, []string{"vm_operator"}), 200, nil},
		{"no restriction", withOIDC(p.issuer(), nil, nil), 200, nil},
		{"the VO again", withOIDC(p.issuer(), []string{"BIOMED"}, nil), 200, nil},
		{"another issuer", withOIDC(other.issuer(), nil, nil), 401, []string{other.issuer(), "API tokens page"}},
		{"OSCAR login only", restart(func(c *Config) { c.OSCARLogin = true }), 401, []string{"no longer offers"}},
	} {
		resp, body := bearer(t, http.MethodGet, tt.app.srv.URL+"/api/me", token)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %q, want %d", tt.name, resp.StatusCode, body, tt.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: %q does not say %q", tt.name, body, w)
			}
		}
	}
	// Her browser login is refused the same way.
	if resp, _ := withOIDC(p.issuer(), []string{"cryoem"}, nil).login(newBrowser(t), "/me"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("browser login outside the VOs: %d", resp.StatusCode)
	}

	// She leaves biomed at her provider: her next browser login is
	// refused, and from then on her token too, with the setting unchanged.
	p.mu.Lock()
	p.claims["eduperson_entitlement"] = []any{"urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu"}
	p.mu.Unlock()
	if resp, _ := app.login(newBrowser(t), "/me"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("browser login after leaving the VO: %d", resp.StatusCode)
	}
	if resp, body := bearer(t, http.MethodGet, app.srv.URL+"/api/me", token); resp.StatusCode != 403 || !strings.Contains(body, "vo.access.egi.eu") {
		t.Errorf("the token after its user left the VO: %d %q", resp.StatusCode, body)
	}

	// A user whose VOs the server never learnt is not let in under a
	// restriction until they log in once.
	ctx := context.Background()
	bob, err := app.db.UpsertUser(ctx, p.issuer(), "bob-sub", "Bob", "")
	if err != nil {
		t.Fatal(err)
	}
	btok, _, err := app.m.CreateAPIToken(WithUser(ctx, &User{ID: bob.ID, Mode: ModeOIDC}), "ci", 7)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := bearer(t, http.MethodGet, app.srv.URL+"/api/me", btok); resp.StatusCode != 403 || !strings.Contains(body, "log in once") {
		t.Errorf("unknown VOs: %d %q", resp.StatusCode, body)
	}

	// An OSCAR login's token needs the OSCAR login on, for its endpoint.
	carol, err := app.db.UpsertUser(ctx, "oscar:http://oscar.test:8800", "carol", "carol", "")
	if err != nil {
		t.Fatal(err)
	}
	ctok, _, err := app.m.CreateAPIToken(WithUser(ctx, &User{ID: carol.ID, Mode: ModeOSCAR}), "ci", 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		app    *testApp
		status int
		want   string
	}{
		{"OIDC only", app, 401, "OSCAR login"},
		{"OSCAR login", restart(func(c *Config) { c.OSCARLogin = true }), 200, ""},
		{"OSCAR login on other hosts", restart(func(c *Config) { c.OSCARLogin, c.OSCARHosts = true, []string{"oscar.example.org"} }), 403, "http://oscar.test:8800"},
	} {
		if resp, body := bearer(t, http.MethodGet, tt.app.srv.URL+"/api/me", ctok); resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("OSCAR token, %s: %d %q, want %d with %q", tt.name, resp.StatusCode, body, tt.status, tt.want)
		}
	}
}
