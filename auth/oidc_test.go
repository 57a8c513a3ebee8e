package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
)

// testClock is a clock tests can move.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testApp is a minimal site around a Manager: the middleware, CSRF, the
// login routes, a page that shows who is logged in, a form endpoint and
// one that needs the access token.
type testApp struct {
	m     *Manager
	db    *sqlite.DB
	srv   *httptest.Server
	clock *testClock
	// sources receives the token source of each GET /work, as work
	// started by a request would keep it.
	sources chan *SessionTokens
	// dir holds the database files.
	dir string
}

func newTestApp(t *testing.T, mutate func(*Config)) *testApp {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newTestAppOn(t, db, dir, mutate)
}

// newTestAppOn builds a test app on an open database, as a server
// restarted with another configuration on the same data would be.
func newTestAppOn(t *testing.T, db *sqlite.DB, dir string, mutate func(*Config)) *testApp {
	t.Helper()
	key := randBytes(32)
	sealer, err := store.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Now()}
	cfg := Config{Key: key, Now: clock.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := New(context.Background(), cfg, db, sealer)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		status := http.StatusInternalServerError
		var he *echo.HTTPError
		var hs interface{ HTTPStatus() int }
		if errors.As(err, &he) {
			status = he.Code
		} else if errors.As(err, &hs) {
			status = hs.HTTPStatus() // as web's error handler
		}
		var le *LoginError
		var ve *VOError
		switch {
		case errors.As(err, &le):
			status = http.StatusUnauthorized
		case errors.As(err, &ve):
			c.String(http.StatusForbidden, "accepted: "+strings.Join(ve.Accepted, ","))
			return
		}
		msg := err.Error()
		var pm interface{ PublicMessage() string }
		if errors.As(err, &pm) {
			msg = pm.PublicMessage()
		}
		c.String(status, msg)
	}
	e.Use(m.Middleware, m.CSRF)
	e.GET("/auth/oidc", func(c echo.Context) error {
		target, err := m.BeginOIDC(c, c.QueryParam("next"))
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, target)
	})
	e.GET("/auth/callback", func(c echo.Context) error {
		next, err := m.FinishOIDC(c)
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, next)
	})
	e.POST("/auth/oscar", func(c echo.Context) error {
		next, err := m.LoginOSCAR(c, c.FormValue("endpoint"), c.FormValue("username"), c.FormValue("password"), c.FormValue("next"))
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, next)
	})
	e.GET("/auth/login", func(c echo.Context) error { return c.String(200, "login page; csrf="+CSRFToken(c.Request().Context())) })
	e.POST("/auth/logout", func(c echo.Context) error {
		u, err := m.Logout(c)
		if err != nil {
			return err
		}
		return c.String(200, "logged out; provider="+u)
	})
	e.GET("/me", func(c echo.Context) error {
		u, _ := UserFrom(c.Request().Context())
		return c.String(200, u.Name+"|"+strings.Join(u.VOs, ",")+"|"+u.Mode+"|csrf="+CSRFToken(c.Request().Context()))
	})
	e.POST("/form", func(c echo.Context) error { return c.String(200, "changed") })
	e.GET("/admin", func(c echo.Context) error {
		u, _ := UserFrom(c.Request().Context())
		return c.String(200, strconv.FormatBool(m.IsAdmin(u)))
	})
	sources := make(chan *SessionTokens, 10)
	e.GET("/work", func(c echo.Context) error {
		ts, err := m.TokenSource(c.Request().Context())
		if err != nil {
			return err
		}
		sources <- ts
		return c.String(200, "started")
	})
	e.GET("/token", func(c echo.Context) error {
		tok, err := m.AccessToken(c.Request().Context())
		if err != nil {
			return err
		}
		return c.String(200, tok)
	})
	// API tokens: made by a page's form, used on /api/ routes.
	e.POST("/tokens", func(c echo.Context) error {
		days, _ := strconv.Atoi(c.FormValue("days"))
		tok, _, err := m.CreateAPIToken(c.Request().Context(), c.FormValue("name"), days)
		if err != nil {
			return err
		}
		return c.String(200, tok)
	})
	e.GET("/api/me", func(c echo.Context) error {
		u, _ := UserFrom(c.Request().Context())
		return c.String(200, u.Name+"|"+u.Mode)
	})
	e.POST("/api/change", func(c echo.Context) error { return c.String(200, "changed") })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &testApp{m: m, db: db, srv: srv, clock: clock, sources: sources, dir: dir}
}

func oidcApp(t *testing.T, p *testProvider, mutate func(*Config)) *testApp {
	return newTestApp(t, func(c *Config) {
		c.OIDC = &OIDCConfig{Issuer: p.issuer(), ClientID: "fdlstudio", ClientSecret: "client-secret",
			Scopes: []string{"openid", "profile", "email", "offline_access"}}
		if mutate != nil {
			mutate(c)
		}
	})
}

// browser is an HTTP client with cookies that does not follow redirects
// by itself, so tests can see (and tamper with) every hop.
type browser struct {
	t   *testing.T
	jar *cookiejar.Jar
	c   *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, jar: jar, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) postForm(u string, form url.Values, csrfHeader string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if csrfHeader != "" {
		req.Header.Set("X-CSRF-Token", csrfHeader)
	}
	return b.do(req)
}

// follow gets u and follows redirects, letting tamper change each hop;
// it returns the last response.
func (b *browser) follow(u string, tamper func(*url.URL)) (*http.Response, string) {
	b.t.Helper()
	for range 10 {
		resp, body := b.get(u)
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return resp, body
		}
		next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		if tamper != nil {
			tamper(next)
		}
		u = next.String()
	}
	b.t.Fatal("too many redirects")
	return nil, ""
}

func (b *browser) cookie(base, name string) *http.Cookie {
	u, _ := url.Parse(base + "/auth/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// login runs the whole flow and returns the final response (the page
// after login).
func (a *testApp) login(b *browser, next string) (*http.Response, string) {
	return b.follow(a.srv.URL+"/auth/oidc?next="+url.QueryEscape(next), nil)
}

func TestOIDCLoginCreatesSessionWithVOs(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, nil)
	b := newBrowser(t)

	// Before login, pages send the browser to the login page with a way
	// back.
	resp, _ := b.get(app.srv.URL + "/me?tab=2")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/auth/login?next=%2Fme%3Ftab%3D2" {
		t.Fatalf("anonymous /me: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The start sets a flow cookie that holds nothing readable.
	resp, _ = b.get(app.srv.URL + "/auth/oidc?next=/me")
	var flowCk *http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, flowCookie) {
			flowCk = c
		}
	}
	if flowCk == nil || !flowCk.HttpOnly || flowCk.SameSite != http.SameSiteLaxMode || flowCk.MaxAge <= 0 || flowCk.MaxAge > 600 {
		t.Fatalf("flow cookie = %+v", flowCk)
	}
	authURL, _ := url.Parse(resp.Header.Get("Location"))
	if q := authURL.Query(); strings.Contains(flowCk.Value, q.Get("state")) || strings.Contains(flowCk.Value, q.Get("nonce")) {
		t.Error("the flow cookie shows the state or nonce in the clear")
	}

	resp, body := b.follow(resp.Header.Get("Location"), nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "Alice Example|biomed,vo.access.egi.eu|oidc|csrf=") {
		t.Fatalf("after login: %d %q", resp.StatusCode, body)
	}
	if c := b.cookie(app.srv.URL, flowCk.Name); c != nil {
		t.Errorf("flow cookie %s still set after the callback", c.Name)
	}
	var session *http.Cookie
	u, _ := url.Parse(app.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if strings.Contains(c.Value, "access-") || strings.Contains(c.Value, "refresh-") || strings.Contains(c.Value, "eyJ") {
			t.Errorf("cookie %s carries a token", c.Name)
		}
		if c.Name == SessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	// The store keeps the tokens sealed, never in the clear.
	rec, err := app.db.Session(context.Background(), hashID(session.Value))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rec.Secrets, "access-") || strings.Contains(rec.Secrets, "refresh-") || rec.Secrets == "" {
		t.Errorf("stored secrets not sealed: %q", rec.Secrets)
	}
	if _, err := app.db.Session(context.Background(), session.Value); !errors.Is(err, store.ErrNotFound) {
		t.Error("the store is keyed by the raw cookie value; it must hold only its hash")
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	p := newTestProvider(t)
	for _, tt := range []struct {
		publicURL  string
		wantSecure bool
	}{{"", false}, {"https://studio.example.org", true}} {
		app := oidcApp(t, p, func(c *Config) { c.PublicURL = tt.publicURL })
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/auth/callback", nil), rec)
		u, _ := app.db.UpsertUser(context.Background(), "iss", "sub", "n", "")
		if err := app.m.startSession(c, u, ModeOIDC, nil, secrets{}); err != nil {
			t.Fatal(err)
		}
		ck := rec.Result().Cookies()[0]
		if ck.Name != SessionCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != tt.wantSecure || ck.Path != "/" {
			t.Errorf("public URL %q: cookie %+v", tt.publicURL, ck)
		}
	}
}

func TestSessionIDRotatesAtLogin(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, nil)
	b := newBrowser(t)
	app.login(b, "/me")
	first := b.cookie(app.srv.URL, SessionCookie).Value
	app.login(b, "/me")
	second := b.cookie(app.srv.URL, SessionCookie).Value
	if first == second {
		t.Fatal("the session ID did not change at the second login")
	}
	// The old ID is dead, not merely replaced in this browser.
	old := newBrowser(t)
	u, _ := url.Parse(app.srv.URL)
	old.jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: first, Path: "/"}})
	if resp, _ := old.get(app.srv.URL + "/me"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("old session ID still works: %d", resp.StatusCode)
	}
}

// Each forged or replayed answer must end without a session.
func TestOIDCCallbackRefusesForgeries(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(p *testProvider)
		tamper func(u *url.URL)
		want   string
	}{
		{name: "tampered state", tamper: func(u *url.URL) {
			if u.Path == CallbackPath {
				q := u.Query()
				q.Set("state", q.Get("state")+"x")
				u.RawQuery = q.Encode()
			}
		}, want: "expired or was started in another browser"},
		{name: "wrong audience", setup: func(p *testProvider) { p.forge = func(c map[string]any) { c["aud"] = "another-client" } }},
		{name: "expired ID token", setup: func(p *testProvider) {
			p.forge = func(c map[string]any) {
				c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
				c["exp"] = time.Now().Add(-time.Hour).Unix()
			}
		}},
		{name: "wrong nonce", setup: func(p *testProvider) { p.forge = func(c map[string]any) { c["nonce"] = "someone-elses-nonce" } }},
		{name: "unsigned token alg none", setup: func(p *testProvider) { p.unsigned = true }},
		{name: "token from another issuer", setup: func(p *testProvider) { p.forge = func(c map[string]any) { c["iss"] = "https://evil.example" } }},
		{name: "provider error", tamper: func(u *url.URL) {
			if u.Path == CallbackPath {
				q := u.Query()
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "The user refused consent")
				u.RawQuery = q.Encode()
			}
		}, want: "The identity provider did not log you in: access_denied (The user refused consent)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProvider(t)
			if tt.setup != nil {
				tt.setup(p)
			}
			app := oidcApp(t, p, nil)
			b := newBrowser(t)
			resp, body := b.follow(app.srv.URL+"/auth/oidc?next=/me", tt.tamper)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("callback answered %d %q, want 401", resp.StatusCode, body)
			}
			want := tt.want
			if want == "" {
				want = genericLoginFailure
			}
			if !strings.Contains(body, want) {
				t.Errorf("message %q lacks %q", body, want)
			}
			if b.cookie(app.srv.URL, SessionCookie) != nil {
				t.Error("a session cookie was set")
			}
			if resp, _ := b.get(app.srv.URL + "/me"); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("/me after the refused login: %d, want a redirect to log in", resp.StatusCode)
			}
		})
	}
}

func TestOIDCReplayedCallbackIsRefused(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, nil)
	b := newBrowser(t)
	var callback *url.URL
	var flowCk *http.Cookie
	b.follow(app.srv.URL+"/auth/oidc?next=/me", func(u *url.URL) {
		if u.Path == CallbackPath {
			c := *u
			callback = &c
			for _, ck := range b.jar.Cookies(u) {
				if strings.HasPrefix(ck.Name, flowCookie) {
					flowCk = ck
				}
			}
		}
	})
	if callback == nil || flowCk == nil {
		t.Fatal("the flow did not reach the callback with a flow cookie")
	}
	// Same browser: the flow cookie was cleared by the first callback.
	if resp, body := b.get(callback.String()); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed callback: %d %q, want 401", resp.StatusCode, body)
	}
	// An attacker who also replays the flow cookie: the code is spent.
	attacker := newBrowser(t)
	attacker.jar.SetCookies(callback, []*http.Cookie{{Name: flowCk.Name, Value: flowCk.Value, Path: "/auth/"}})
	resp, body := attacker.get(callback.String())
	if resp.StatusCode != http.StatusUnauthorized || attacker.cookie(app.srv.URL, SessionCookie) != nil {
		t.Errorf("replayed code with the flow cookie: %d %q", resp.StatusCode, body)
	}
}

func TestPostLoginRedirectIsLocalOnly(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, nil)
	for _, next := range []string{"//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "/%2F%2Fevil.example", " /x", "evil.example"} {
		b := newBrowser(t)
		start, _ := b.get(app.srv.URL + "/auth/oidc?next=" + url.QueryEscape(next))
		hop, _ := b.get(start.Header.Get("Location"))
		last, _ := b.get(hop.Header.Get("Location"))
		if loc := last.Header.Get("Location"); loc != "/" {
			t.Errorf("next=%q: after login Location = %q, want /", next, loc)
		}
	}
	b := newBrowser(t)
	start, _ := b.get(app.srv.URL + "/auth/oidc?next=" + url.QueryEscape("/workflows/7?tab=yaml"))
	hop, _ := b.get(start.Header.Get("Location"))
	last, _ := b.get(hop.Header.Get("Location"))
	if loc := last.Header.Get("Location"); loc != "/workflows/7?tab=yaml" {
		t.Errorf("local next: Location = %q", loc)
	}
}

func TestVORestriction(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, func(c *Config) { c.OIDC.AllowedVOs = []string{"vo.eosc-synergy.eu", "cryoem"} })
	b := newBrowser(t)
	resp, body := app.login(b, "/me")
	if resp.StatusCode != http.StatusForbidden || body != "accepted: vo.eosc-synergy.eu,cryoem" {
		t.Fatalf("outsider: %d %q", resp.StatusCode, body)
	}
	if b.cookie(app.srv.URL, SessionCookie) != nil {
		t.Error("outsider got a session")
	}

	member := oidcApp(t, p, func(c *Config) { c.OIDC.AllowedVOs = []string{"BIOMED"} })
	if resp, body := member.login(newBrowser(t), "/me"); resp.StatusCode != 200 {
		t.Errorf("member of biomed: %d %q", resp.StatusCode, body)
	}
}

func TestAccessTokenRefreshesBeforeExpiry(t *testing.T) {
	p := newTestProvider(t)
	p.accessTTL = 10 * time.Minute
	app := oidcApp(t, p, nil)
	b := newBrowser(t)
	app.login(b, "/me")
	_, tok1 := b.get(app.srv.URL + "/token")
	if !strings.HasPrefix(tok1, "access-") {
		t.Fatalf("token = %q", tok1)
	}
	if _, again := b.get(app.srv.URL + "/token"); again != tok1 || p.refreshed != 0 {
		t.Fatalf("a fresh token was refreshed: %q -> %q (%d refreshes)", tok1, again, p.refreshed)
	}
	app.clock.Add(9 * time.Minute) // within the refresh margin of expiry
	p.mu.Lock()
	p.accessTTL = time.Hour // x/oauth2 dates the new expiry by the real clock
	p.mu.Unlock()
	resp, tok2 := b.get(app.srv.URL + "/token")
	if resp.StatusCode != 200 || tok2 == tok1 || p.refreshed != 1 {
		t.Fatalf("after 9 min: %d %q (was %q), %d refreshes", resp.StatusCode, tok2, tok1, p.refreshed)
	}
	if _, again := b.get(app.srv.URL + "/token"); again != tok2 {
		t.Errorf("the refreshed token was not kept: %q then %q", tok2, again)
	}

	// When the provider refuses the refresh, the user logs in again and
	// comes back to where they were.
	p.mu.Lock()
	p.refreshFails = true
	p.mu.Unlock()
	app.clock.Add(2 * time.Hour)
	req, _ := http.NewRequest(http.MethodGet, app.srv.URL+"/token?job=42", nil)
	resp, _ = b.do(req)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/auth/login?next=%2Ftoken%3Fjob%3D42" {
		t.Errorf("failed refresh: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	req, _ = http.NewRequest(http.MethodGet, app.srv.URL+"/token", nil)
	req.Header.Set("HX-Request", "true")
	resp, _ = b.do(req)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("HX-Redirect"), "/auth/login?next=") {
		t.Errorf("htmx after the session ended: %d HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
}

func TestSessionTimeouts(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, func(c *Config) { c.IdleTimeout = time.Hour; c.MaxAge = 3 * time.Hour })
	b := newBrowser(t)
	app.login(b, "/me")
	for range 4 { // active every 50 minutes: the idle timeout never fires
		app.clock.Add(50 * time.Minute)
		if resp, _ := b.get(app.srv.URL + "/me"); resp.StatusCode != 200 && app.clock.Now().Before(time.Now().Add(3*time.Hour)) {
			t.Fatalf("active session ended early: %d", resp.StatusCode)
		}
	}
	// 200 minutes after login: past the absolute limit.
	if resp, _ := b.get(app.srv.URL + "/me"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("session past its max age: %d", resp.StatusCode)
	}

	app.login(b, "/me")
	app.clock.Add(61 * time.Minute)
	if resp, _ := b.get(app.srv.URL + "/me"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("idle session: %d", resp.StatusCode)
	}
}

func TestLogoutEndsSessionAndOffersProviderLogout(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, nil)
	b := newBrowser(t)
	_, me := app.login(b, "/me")
	csrf := me[strings.Index(me, "csrf=")+5:]
	sid := b.cookie(app.srv.URL, SessionCookie).Value

	if resp, _ := b.postForm(app.srv.URL+"/auth/logout", nil, ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: %d, want 403", resp.StatusCode)
	}
	resp, body := b.postForm(app.srv.URL+"/auth/logout", url.Values{"csrf_token": {csrf}}, "")
	if resp.StatusCode != 200 {
		t.Fatalf("logout: %d %q", resp.StatusCode, body)
	}
	provider, _ := url.Parse(strings.TrimPrefix(body, "logged out; provider="))
	if provider.Path != "/logout" || provider.Query().Get("client_id") != "fdlstudio" ||
		provider.Query().Get("post_logout_redirect_uri") != app.srv.URL+"/auth/logged-out" || provider.Query().Has("id_token_hint") {
		t.Errorf("provider logout URL = %s", provider)
	}
	if _, err := app.db.Session(context.Background(), hashID(sid)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session still stored after logout: %v", err)
	}
}
