package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

func TestSafeRedirect(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/workflows/3?tab=yaml#n", "/workflows/3?tab=yaml#n"},
		{"", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/\\/evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"http:evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{" /x", "/"},
		{"/\t/evil.example", "/"},
		{"/%2F%2Fevil.example", "/"},
		{"/%5cevil.example", "/"},
		{"/a\\b", "/"},
		{"/\x00", "/"},
	}
	for _, tt := range tests {
		if got := SafeRedirect(tt.in); got != tt.want {
			t.Errorf("SafeRedirect(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestVOsFromEntitlements(t *testing.T) {
	ents := []string{
		"urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu",
		"urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu",
		"URN:MACE:EGI.EU:GROUP:Biomed:sub:role=member#aai.egi.eu", // a subgroup counts for its VO
		"urn:mace:egi.eu:group:cryoem#aai.egi.eu",                 // no role: no membership
		"urn:mace:egi.eu:group:ops:role=vm_operator#aai.egi.eu",   // another role
		"urn:mace:egi.eu:group:fake:role=member:x#aai.egi.eu",     // the role must be the last part
		"urn:mace:egi.eu:group:role=member#aai.egi.eu",            // no VO
		"urn:mace:egi.eu:group:#aai.egi.eu",
		"urn:mace:egi.eu:aai.egi.eu:member@vo.example",
		"urn:geant:example.org:group:other",
	}
	for _, tt := range []struct {
		roles, want []string
	}{
		{nil, []string{"biomed", "vo.access.egi.eu"}},
		{[]string{"member"}, []string{"biomed", "vo.access.egi.eu"}},
		{[]string{"VM_Operator"}, []string{"ops", "vo.access.egi.eu"}},
		{[]string{"member", "vm_operator"}, []string{"biomed", "ops", "vo.access.egi.eu"}},
		{[]string{"owner"}, nil},
	} {
		if got := VOsFromEntitlements(ents, tt.roles); !slices.Equal(got, tt.want) {
			t.Errorf("roles %q: VOs = %q, want %q", tt.roles, got, tt.want)
		}
	}
	if got := VOsFromEntitlements(nil, nil); len(got) != 0 {
		t.Errorf("no entitlements: %q", got)
	}
	claims := map[string]any{"entitlements": []any{"urn:mace:egi.eu:group:a:role=member#x", 7}, "eduperson_entitlement": "urn:mace:egi.eu:group:b:role=member#x"}
	if got := VOsFromEntitlements(entitlementsClaim(claims), nil); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("from claims: %q", got)
	}
	for _, tt := range []struct {
		have, accepted []string
		want           bool
	}{
		{nil, nil, true},
		{[]string{"a"}, nil, true},
		{nil, []string{"a"}, false},
		{[]string{"b"}, []string{"a"}, false},
		{[]string{"b", "a"}, []string{"A"}, true},
	} {
		if got := allowedByVO(tt.have, tt.accepted); got != tt.want {
			t.Errorf("allowedByVO(%q, %q) = %v", tt.have, tt.accepted, got)
		}
	}
}

func TestCheckOrigin(t *testing.T) {
	tests := []struct {
		name, publicURL, host, origin string
		want                          bool
	}{
		{"same origin by public URL", "https://studio.example.org", "internal:8080", "https://studio.example.org", true},
		{"default port written out", "https://studio.example.org", "", "https://studio.example.org:443", true},
		{"foreign site", "https://studio.example.org", "", "https://evil.example", false},
		{"look-alike suffix", "https://studio.example.org", "", "https://studio.example.org.evil.example", false},
		{"scheme downgrade", "https://studio.example.org", "", "http://studio.example.org", false},
		{"other port", "https://studio.example.org", "", "https://studio.example.org:8443", false},
		{"missing origin", "https://studio.example.org", "", "", false},
		{"null origin", "https://studio.example.org", "", "null", false},
		{"no public URL: request host", "", "127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"no public URL: foreign", "", "127.0.0.1:8080", "http://localhost.evil.example:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/live", nil)
			if tt.host != "" {
				r.Host = tt.host
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := CheckOrigin(r, tt.publicURL); got != tt.want {
				t.Errorf("CheckOrigin(Origin %q, public %q) = %v, want %v", tt.origin, tt.publicURL, got, tt.want)
			}
		})
	}
}

func TestCSRFRequiredOnStateChanges(t *testing.T) {
	p := newTestProvider(t)
	app := oidcApp(t, p, nil)
	b := newBrowser(t)

	// Anonymous visitors (the login forms) have a token too.
	_, page := b.get(app.srv.URL + "/auth/login")
	anon := strings.TrimPrefix(page, "login page; csrf=")
	if anon == "" {
		t.Fatal("no CSRF token for an anonymous visitor")
	}
	if resp, _ := b.postForm(app.srv.URL+"/auth/oscar", url.Values{}, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous POST without token: %d", resp.StatusCode)
	}

	_, me := app.login(b, "/me")
	token := me[strings.Index(me, "csrf=")+5:]
	if token == anon {
		t.Error("the session's token equals the anonymous one")
	}
	tests := []struct {
		name   string
		form   url.Values
		header string
		want   int
	}{
		{"missing token", url.Values{"x": {"1"}}, "", http.StatusForbidden},
		{"wrong token", url.Values{"csrf_token": {token + "x"}}, "", http.StatusForbidden},
		{"anonymous token after login", url.Values{"csrf_token": {anon}}, "", http.StatusForbidden},
		{"form field", url.Values{"csrf_token": {token}}, "", http.StatusOK},
		{"htmx header", url.Values{}, token, http.StatusOK},
	}
	for _, tt := range tests {
		resp, body := b.postForm(app.srv.URL+"/form", tt.form, tt.header)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %q, want %d", tt.name, resp.StatusCode, body, tt.want)
		}
		if tt.want == http.StatusForbidden && !strings.Contains(body, "CSRF") {
			t.Errorf("%s: message %q does not say why", tt.name, body)
		}
	}
	// A valid token from a page of another site is refused all the same;
	// this site's own Origin passes.
	for _, tt := range []struct {
		name, header, value string
		want                int
	}{
		{"foreign Origin", "Origin", "http://evil.example", http.StatusForbidden},
		{"null Origin", "Origin", "null", http.StatusForbidden},
		{"cross-site fetch", "Sec-Fetch-Site", "cross-site", http.StatusForbidden},
		{"own Origin", "Origin", app.srv.URL, http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodPost, app.srv.URL+"/form", strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(tt.header, tt.value)
		if resp, body := b.do(req); resp.StatusCode != tt.want {
			t.Errorf("%s with a valid token: %d %q, want %d", tt.name, resp.StatusCode, body, tt.want)
		}
	}
	// Another browser's token does not work with this session.
	other := newBrowser(t)
	_, otherMe := app.login(other, "/me")
	otherToken := otherMe[strings.Index(otherMe, "csrf=")+5:]
	if resp, _ := b.postForm(app.srv.URL+"/form", url.Values{"csrf_token": {otherToken}}, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another session's token: %d", resp.StatusCode)
	}
}

func TestOSCARLogin(t *testing.T) {
	oscar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/system/info" {
			http.NotFound(w, r)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "oscar" || p != "right-password" {
			w.Header().Set("WWW-Authenticate", `Basic realm="OSCAR"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"version":"v4.1.2","kubernetes_version":"v1.30"}`))
	}))
	defer oscar.Close()
	app := newTestApp(t, func(c *Config) { c.OSCARLogin = true })

	try := func(b *browser, endpoint, password string) (*http.Response, string) {
		_, page := b.get(app.srv.URL + "/auth/login")
		return b.postForm(app.srv.URL+"/auth/oscar", url.Values{
			"csrf_token": {strings.TrimPrefix(page, "login page; csrf=")},
			"endpoint":   {endpoint}, "username": {"oscar"}, "password": {password}, "next": {"/me"},
		}, "")
	}
	for _, tt := range []struct{ name, endpoint, password, want string }{
		{"wrong password", oscar.URL, "wrong", "did not accept this username and password"},
		{"not http", "ftp://" + strings.TrimPrefix(oscar.URL, "http://"), "right-password", "scheme must be http or https"},
		{"nothing there", "http://127.0.0.1:1", "right-password", "Could not reach OSCAR"},
	} {
		resp, body := try(newBrowser(t), tt.endpoint, tt.password)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %q, want 401 with %q", tt.name, resp.StatusCode, body, tt.want)
		}
	}

	b := newBrowser(t)
	resp, _ := try(b, oscar.URL, "right-password")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/me" {
		t.Fatalf("right password: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, me := b.get(app.srv.URL + "/me")
	if !strings.HasPrefix(me, "oscar||oscar|") {
		t.Errorf("/me = %q", me)
	}
	rec, err := app.db.Session(t.Context(), hashID(b.cookie(app.srv.URL, SessionCookie).Value))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rec.Secrets, "right-password") {
		t.Error("the OSCAR password is stored in the clear")
	}
	sec, err := app.m.open(rec)
	if err != nil || sec.OSCARPassword != "right-password" || sec.OSCAREndpoint != oscar.URL {
		t.Errorf("sealed credentials = %+v, %v", sec, err)
	}
	if resp, _ := b.get(app.srv.URL + "/token"); resp.StatusCode == http.StatusOK {
		t.Error("an OSCAR session handed out an OIDC access token")
	}
}

// TestMockOIDCCodeIsSingleUse runs the flow against mockoidc, a third
// provider implementation, and replays the code with the flow cookie.
func TestMockOIDCCodeIsSingleUse(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	cfg := m.Config()
	app := newTestApp(t, func(c *Config) {
		c.OIDC = &OIDCConfig{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Scopes: []string{"openid", "email", "profile"}}
	})
	b := newBrowser(t)
	var callback *url.URL
	var flowCk []*http.Cookie
	resp, body := b.follow(app.srv.URL+"/auth/oidc?next=/me", func(u *url.URL) {
		if u.Path == CallbackPath {
			c := *u
			callback = &c
			flowCk = b.jar.Cookies(u)
		}
	})
	if resp.StatusCode != 200 || !strings.Contains(body, "|oidc|") {
		t.Fatalf("mockoidc login: %d %q", resp.StatusCode, body)
	}
	attacker := newBrowser(t)
	attacker.jar.SetCookies(callback, flowCk)
	if resp, body := attacker.get(callback.String()); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed code: %d %q", resp.StatusCode, body)
	}
}
