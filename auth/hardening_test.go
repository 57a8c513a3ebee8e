package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/fdlstudio/fdlstudio/store"
)

func TestParseAdmins(t *testing.T) {
	good := []string{"https://aai.egi.eu/auth/realms/egi#1234abcd@egi.eu", "Root@Example.org", " http://127.0.0.1:9/#s#t "}
	got, err := parseAdmins(good)
	if err != nil {
		t.Fatal(err)
	}
	want := []admin{{issuer: "https://aai.egi.eu/auth/realms/egi", subject: "1234abcd@egi.eu"}, {email: "Root@Example.org"},
		{issuer: "http://127.0.0.1:9", subject: "s#t"}}
	if len(got) != len(want) {
		t.Fatalf("parsed %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"sub-123", "ftp://x.example#s", "https://x.example#", "#sub", "alice@", "@example.org", "not an@email"} {
		if _, err := parseAdmins([]string{bad}); err == nil || !strings.Contains(err.Error(), "ISSUER#SUBJECT") {
			t.Errorf("%q: err = %v, want the format named", bad, err)
		}
	}
}

func TestIsAdminRules(t *testing.T) {
	m := &Manager{}
	m.admins, _ = parseAdmins([]string{"https://iss.example#sub-123", "root@example.org"})
	for _, tt := range []struct {
		name string
		u    *User
		want bool
	}{
		{"nobody", nil, false},
		{"identity", &User{Mode: ModeOIDC, Issuer: "https://iss.example/", Subject: "sub-123"}, true},
		{"same subject, other issuer", &User{Mode: ModeOIDC, Issuer: "https://evil.example", Subject: "sub-123"}, false},
		{"verified e-mail (any case)", &User{Mode: ModeOIDC, Issuer: "https://x", Subject: "s", Email: "ROOT@example.org"}, true},
		{"no verified e-mail", &User{Mode: ModeOIDC, Issuer: "https://x", Subject: "s"}, false},
		{"OSCAR login", &User{Mode: ModeOSCAR, Issuer: "https://iss.example", Subject: "sub-123", Email: "root@example.org"}, false},
		{"local user of a multi-user server", &User{Mode: ModeLocal}, false},
	} {
		if got := m.IsAdmin(tt.u); got != tt.want {
			t.Errorf("%s: IsAdmin = %v, want %v", tt.name, got, tt.want)
		}
	}
	local := &Manager{cfg: Config{LocalUser: &User{Mode: ModeLocal}}}
	if !local.IsAdmin(local.cfg.LocalUser) {
		t.Error("the one user of single-user mode is not admin")
	}
}

// TestUnverifiedEmailIsNotAdmin logs in through the strict provider with
// the admin's address in the profile: only email_verified=true makes an
// admin, and it is checked again at every login.
func TestUnverifiedEmailIsNotAdmin(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, func(c *Config) { c.Admins = []string{"alice@example.org"} })
	setVerified := func(v any) {
		p.mu.Lock()
		if v == nil {
			delete(p.claims, "email_verified")
		} else {
			p.claims["email_verified"] = v
		}
		p.mu.Unlock()
	}
	for _, tt := range []struct {
		verified any
		want     string
	}{{nil, "false"}, {false, "false"}, {"false", "false"}, {true, "true"}, {"true", "true"}} {
		setVerified(tt.verified)
		b := newBrowser(t)
		app.login(b, "/me")
		if _, got := b.get(app.srv.URL + "/admin"); got != tt.want {
			t.Errorf("email_verified=%v: admin = %s, want %s", tt.verified, got, tt.want)
		}
	}

	// Verified at one login, not at the next: the address no longer
	// counts, for the older session too.
	setVerified(true)
	first := newBrowser(t)
	app.login(first, "/me")
	if _, got := first.get(app.srv.URL + "/admin"); got != "true" {
		t.Fatalf("verified: admin = %s", got)
	}
	setVerified(false)
	app.login(newBrowser(t), "/me")
	if _, got := first.get(app.srv.URL + "/admin"); got != "false" {
		t.Errorf("after a login with the address unverified, the first session is still admin")
	}

	// By issuer and subject, whatever the e-mail says.
	byID := oidcApp(t, p, func(c *Config) { c.Admins = []string{p.issuer() + "#alice-sub"} })
	b := newBrowser(t)
	byID.login(b, "/me")
	if _, got := b.get(byID.srv.URL + "/admin"); got != "true" {
		t.Errorf("admin by issuer#subject = %s", got)
	}
	other := oidcApp(t, p, func(c *Config) { c.Admins = []string{"https://other.example#alice-sub"} })
	b = newBrowser(t)
	other.login(b, "/me")
	if _, got := b.get(other.srv.URL + "/admin"); got != "false" {
		t.Errorf("the same subject at another issuer is admin")
	}
}

// TestMockOIDCUnverifiedEmailIsNotAdmin does the same against mockoidc,
// another provider implementation.
func TestMockOIDCUnverifiedEmailIsNotAdmin(t *testing.T) {
	mock, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer mock.Shutdown()
	cfg := mock.Config()
	app := newTestApp(t, func(c *Config) {
		c.OIDC = &OIDCConfig{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Scopes: []string{"openid", "email", "profile"}}
		c.Admins = []string{"root@example.org"}
	})
	for _, verified := range []bool{false, true} {
		mock.QueueUser(&mockoidc.MockUser{Subject: "mallory", Email: "root@example.org", EmailVerified: verified, PreferredUsername: "mallory"})
		b := newBrowser(t)
		if resp, body := app.login(b, "/me"); resp.StatusCode != 200 {
			t.Fatalf("login: %d %q", resp.StatusCode, body)
		}
		if _, got := b.get(app.srv.URL + "/admin"); got != map[bool]string{false: "false", true: "true"}[verified] {
			t.Errorf("mockoidc email_verified=%v: admin = %s", verified, got)
		}
	}
}

// TestVORemovalEndsSessionAtRefresh: the provider stops listing the user
// as a member (the role changes to one that is not membership); at the
// next token refresh the session ends and the login page says why.
func TestVORemovalEndsSessionAtRefresh(t *testing.T) {
	p := newTestProvider(t)
	p.accessTTL = 10 * time.Minute
	app := oidcApp(t, p, func(c *Config) { c.OIDC.AllowedVOs = []string{"vo.access.egi.eu"} })
	p.mu.Lock()
	p.now = app.clock.Now // the refreshed ID token is checked against the moved clock
	p.mu.Unlock()
	b := newBrowser(t)
	if resp, body := app.login(b, "/me"); resp.StatusCode != 200 {
		t.Fatalf("login: %d %q", resp.StatusCode, body)
	}
	sid := b.cookie(app.srv.URL, SessionCookie).Value
	_, me := b.get(app.srv.URL + "/me")
	apiToken := ""
	if resp, body := b.postForm(app.srv.URL+"/tokens", url.Values{"name": {"ci"}, "days": {"365"}}, me[strings.Index(me, "csrf=")+5:]); resp.StatusCode == 200 {
		apiToken = body
	} else {
		t.Fatalf("make an API token: %d %q", resp.StatusCode, body)
	}

	// Still a member: the refresh keeps the session.
	p.mu.Lock()
	p.accessTTL = time.Hour
	p.mu.Unlock()
	app.clock.Add(9 * time.Minute)
	if resp, body := b.get(app.srv.URL + "/me"); resp.StatusCode != 200 || p.refreshed != 1 {
		t.Fatalf("member at refresh: %d %q, %d refreshes", resp.StatusCode, body, p.refreshed)
	}

	p.mu.Lock()
	p.claims["eduperson_entitlement"] = []any{"urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu"}
	p.mu.Unlock()
	// Before the token expires nothing changes...
	if resp, _ := b.get(app.srv.URL + "/me"); resp.StatusCode != 200 {
		t.Fatalf("before expiry: %d", resp.StatusCode)
	}
	// ...at the refresh the session ends, on any page.
	app.clock.Add(2 * time.Hour)
	resp, _ := b.get(app.srv.URL + "/me?tab=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/auth/login?next=%2Fme%3Ftab%3D1&ended=vo" {
		t.Fatalf("after removal: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if p.refreshed != 2 {
		t.Errorf("%d refreshes, want 2", p.refreshed)
	}
	if !strings.Contains(EndedMessage(EndedNotInVO), "no longer lists you as a member") {
		t.Errorf("ended message = %q", EndedMessage(EndedNotInVO))
	}
	if _, err := app.db.Session(context.Background(), hashID(sid)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session still stored after the VO removal: %v", err)
	}
	// The API tokens the member made end with the membership.
	if resp, body := bearer(t, http.MethodGet, app.srv.URL+"/api/me", apiToken); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API token after the VO removal: %d %q", resp.StatusCode, body)
	}
	if resp, _ := b.get(app.srv.URL + "/me"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("/me after the removal: %d", resp.StatusCode)
	}
	// Logging in again is refused with the VO page.
	if resp, body := app.login(b, "/me"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("new login after removal: %d %q", resp.StatusCode, body)
	}
}

// TestRefreshWithProviderDownKeepsSession: a provider that does not
// answer is not a reason to end sessions; the page that needs the token
// says so.
func TestRefreshWithProviderDownKeepsSession(t *testing.T) {
	p := newTestProvider(t)
	p.accessTTL = 10 * time.Minute
	app := oidcApp(t, p, func(c *Config) { c.OIDC.AllowedVOs = []string{"vo.access.egi.eu"} })
	b := newBrowser(t)
	app.login(b, "/me")
	p.srv.Close()
	app.clock.Add(20 * time.Minute)
	if resp, body := b.get(app.srv.URL + "/me"); resp.StatusCode != 200 {
		t.Errorf("/me with the provider down: %d %q", resp.StatusCode, body)
	}
	if resp, body := b.get(app.srv.URL + "/token"); resp.StatusCode == 200 || !strings.Contains(body, "did not answer") {
		t.Errorf("/token with the provider down: %d %q", resp.StatusCode, body)
	}
}

// TestSessionTokenSource uses the token source that background work
// keeps: refreshed once for many concurrent callers, shared with the
// request path, refused once the session ended.
func TestSessionTokenSource(t *testing.T) {
	p := newTestProvider(t)
	p.accessTTL = 10 * time.Minute
	app := oidcApp(t, p, nil)
	p.mu.Lock()
	p.now = app.clock.Now // later logins happen on the moved clock
	p.mu.Unlock()
	b := newBrowser(t)
	_, me := app.login(b, "/me")
	ts := app.startWork(b)
	_, reqTok := b.get(app.srv.URL + "/token")
	tok, err := ts.Token()
	if err != nil || tok.AccessToken != reqTok || tok.TokenType != "Bearer" || p.refreshed != 0 {
		t.Fatalf("fresh token: %+v %v (request path has %q), %d refreshes", tok, err, reqTok, p.refreshed)
	}

	p.mu.Lock()
	p.accessTTL = time.Hour
	p.mu.Unlock()
	app.clock.Add(9 * time.Minute)
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := ts.Token()
			if err != nil {
				got[i] = "error: " + err.Error()
				return
			}
			got[i] = tok.AccessToken
		}()
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] || g == reqTok || !strings.HasPrefix(g, "access-") {
			t.Fatalf("concurrent tokens = %q (old %q)", got, reqTok)
		}
	}
	if p.refreshed != 1 {
		t.Errorf("%d refreshes for 8 concurrent callers, want 1", p.refreshed)
	}
	if _, again := b.get(app.srv.URL + "/token"); again != got[0] || p.refreshed != 1 {
		t.Errorf("the request path got %q after the background refresh to %q (%d refreshes)", again, got[0], p.refreshed)
	}

	// Logging out ends what background work may do.
	csrf := me[strings.Index(me, "csrf=")+5:]
	b.postForm(app.srv.URL+"/auth/logout", url.Values{"csrf_token": {csrf}}, "")
	if _, err := ts.Token(); !errors.Is(err, ErrSessionEnded) || !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), ts.SessionID()) {
		t.Errorf("after logout: %v, want ErrSessionEnded naming session %s", err, ts.SessionID())
	}

	// A refresh the provider refuses ends the session.
	b2 := newBrowser(t)
	app.login(b2, "/me")
	ts2 := app.startWork(b2)
	p.mu.Lock()
	p.refreshFails = true
	p.mu.Unlock()
	app.clock.Add(2 * time.Hour)
	if _, err := ts2.Token(); !errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), "refresh token expired") {
		t.Errorf("refused refresh: %v", err)
	}
	if _, err := app.db.Session(context.Background(), hashID(b2.cookie(app.srv.URL, SessionCookie).Value)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session kept after a refused refresh: %v", err)
	}

	// Background use does not keep an abandoned session alive.
	p.mu.Lock()
	p.refreshFails = false
	p.mu.Unlock()
	b3 := newBrowser(t)
	app.login(b3, "/me")
	ts3 := app.startWork(b3)
	app.clock.Add(DefaultIdleTimeout + time.Minute)
	if _, err := ts3.Token(); !errors.Is(err, ErrSessionEnded) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("idle session: %v", err)
	}

	// An OSCAR login has no token to hand out.
	if _, err := app.m.TokenSource(WithUser(context.Background(), &User{Mode: ModeOIDC})); !errors.Is(err, ErrLoginRequired) {
		t.Errorf("without a session: %v", err)
	}
}

// startWork asks for GET /work and returns the token source the handler
// kept.
func (a *testApp) startWork(b *browser) *SessionTokens {
	b.t.Helper()
	if resp, body := b.get(a.srv.URL + "/work"); resp.StatusCode != 200 {
		b.t.Fatalf("GET /work: %d %q", resp.StatusCode, body)
	}
	select {
	case ts := <-a.sources:
		return ts
	case <-time.After(5 * time.Second):
		b.t.Fatal("no token source")
		return nil
	}
}

func TestLocalModeNeedsTheStartToken(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	app := newTestApp(t, func(c *Config) {
		c.LocalUser = &User{ID: 1, Name: "Local user", Mode: ModeLocal}
		c.LocalToken = token
	})
	b := newBrowser(t)
	resp, body := b.get(app.srv.URL + "/me")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Open the URL it printed when it started") {
		t.Fatalf("without the token: %d %q", resp.StatusCode, body)
	}
	for _, wrong := range []string{"wrong", token + "x", token[:31], ""} {
		resp, _ := b.get(app.srv.URL + "/me?token=" + url.QueryEscape(wrong))
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Errorf("token %q: %d, cookies %v", wrong, resp.StatusCode, resp.Cookies())
		}
	}
	if resp, _ := b.get(app.srv.URL + "/me?token=" + token + "&token=" + token); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token given twice: %d", resp.StatusCode)
	}
	if resp, _ := b.get(app.srv.URL + "/static/x.css"); resp.StatusCode == http.StatusUnauthorized {
		t.Error("assets need the token")
	}

	// The printed URL: exchanged for a cookie, then the same page
	// without the token.
	u, _ := url.Parse(app.srv.URL)
	start := LocalURL(app.srv.URL, token)
	if start != app.srv.URL+"/?token="+token {
		t.Errorf("LocalURL = %q", start)
	}
	resp, _ = b.get(app.srv.URL + "/me?tab=2&token=" + token)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/me?tab=2" {
		t.Fatalf("with the token: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "fdlstudio_local_"+u.Port() {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || strings.Contains(ck.Value, token) {
		t.Fatalf("cookie = %+v", ck)
	}
	if resp, body := b.get(app.srv.URL + "/me"); resp.StatusCode != 200 || !strings.HasPrefix(body, "Local user||local|") {
		t.Errorf("with the cookie: %d %q", resp.StatusCode, body)
	}
	// State changes still need the CSRF token.
	if resp, _ := b.postForm(app.srv.URL+"/form", url.Values{}, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without CSRF: %d", resp.StatusCode)
	}

	// A forged cookie, or the right one under another port's name, is
	// refused.
	for _, c := range []*http.Cookie{{Name: ck.Name, Value: ck.Value + "x"}, {Name: "fdlstudio_local_1", Value: ck.Value}} {
		other := newBrowser(t)
		other.jar.SetCookies(u, []*http.Cookie{c})
		if resp, _ := other.get(app.srv.URL + "/me"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("cookie %s=%s: %d", c.Name, c.Value, resp.StatusCode)
		}
	}

	if _, err := New(context.Background(), Config{Key: randBytes(32), LocalUser: &User{Mode: ModeLocal}}, app.db, nil); err == nil {
		t.Error("local mode without a start token was accepted")
	}
}

func TestRedactURI(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/auth/callback?code=SECRET&state=S2", "/auth/callback?code=[redacted]&state=[redacted]"},
		{"/?token=T0K", "/?token=[redacted]"},
		{"/services?tab=2&TOKEN=x&q=a%20b", "/services?tab=2&TOKEN=[redacted]&q=a%20b"},
		{"/x?st%61te=S", "/x?st%61te=[redacted]"},
		{"/x?%zz=S", "/x?%zz=[redacted]"},
		{"/auth/callback?error=access_denied&session_state=abc", "/auth/callback?error=access_denied&session_state=[redacted]"},
		{"/services", "/services"},
		{"/auth/login?next=%2Fclusters%3Ftoken%3DT0K%26a%3D1", "/auth/login?next=" + url.QueryEscape("/clusters?token=[redacted]&a=1")},
		{"/auth/login?next=%2Fclusters%3Fa%3D1", "/auth/login?next=%2Fclusters%3Fa%3D1"},
		{"/x?next=%zz", "/x?next=[redacted]"},
	} {
		if got := RedactURI(tt.in); got != tt.want {
			t.Errorf("RedactURI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
