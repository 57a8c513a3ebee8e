package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testProvider is a small but strict OpenID Connect provider for the
// negative tests: it serves discovery, JWKS, an authorize endpoint that
// logs the user in at once, a token endpoint that checks PKCE and uses
// each code once, userinfo and refresh. Hooks let a test forge the ID
// token it hands out.
type testProvider struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey

	mu    sync.Mutex
	codes map[string]*grant // code -> grant; deleted when redeemed
	// now is the provider's clock.
	now func() time.Time
	// claims are the user's ID token and userinfo claims.
	claims map[string]any
	// forge, when set, changes the ID token's claims before signing.
	forge func(claims map[string]any)
	// unsigned makes the ID token "alg": "none".
	unsigned bool
	// refreshFails makes the refresh grant fail.
	refreshFails bool
	// accessTTL is the lifetime of access tokens.
	accessTTL time.Duration
	issued    int // access tokens issued
	refreshed int
}

type grant struct {
	nonce, challenge, redirect, clientID string
}

func newTestProvider(t *testing.T) *testProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &testProvider{t: t, key: key, codes: map[string]*grant{}, now: time.Now, accessTTL: time.Hour,
		claims: map[string]any{
			"sub": "alice-sub", "name": "Alice Example", "email": "alice@example.org", "email_verified": true,
			"eduperson_entitlement": []any{
				"urn:mace:egi.eu:group:vo.access.egi.eu:role=member#aai.egi.eu",
				"urn:mace:egi.eu:group:biomed:dev:role=member#aai.egi.eu",
				"urn:mace:egi.eu:group:ops:role=vm_operator#aai.egi.eu",
				"urn:example:other",
			},
		}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("/jwks", p.jwks)
	mux.HandleFunc("/authorize", p.authorize)
	mux.HandleFunc("/token", p.token)
	mux.HandleFunc("/userinfo", p.userinfo)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testProvider) issuer() string { return p.srv.URL }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *testProvider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{
		"issuer":                                p.issuer(),
		"authorization_endpoint":                p.issuer() + "/authorize",
		"token_endpoint":                        p.issuer() + "/token",
		"userinfo_endpoint":                     p.issuer() + "/userinfo",
		"jwks_uri":                              p.issuer() + "/jwks",
		"end_session_endpoint":                  p.issuer() + "/logout",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (p *testProvider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

func (p *testProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "PKCE S256 required", 400)
		return
	}
	if q.Get("nonce") == "" || q.Get("state") == "" {
		http.Error(w, "state and nonce required", 400)
		return
	}
	code := base64.RawURLEncoding.EncodeToString(randBytes(16))
	p.mu.Lock()
	p.codes[code] = &grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), clientID: q.Get("client_id")}
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (p *testProvider) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if id, secret, ok := r.BasicAuth(); !(ok && id == "fdlstudio" && secret == "client-secret") &&
		!(r.PostForm.Get("client_id") == "fdlstudio" && r.PostForm.Get("client_secret") == "client-secret") {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		g, ok := p.codes[r.PostForm.Get("code")]
		if !ok {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "code unknown or already used"})
			return
		}
		delete(p.codes, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed"})
			return
		}
		if r.PostForm.Get("redirect_uri") != g.redirect {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
			return
		}
		writeJSON(w, 200, p.tokens(g.nonce))
	case "refresh_token":
		if p.refreshFails || r.PostForm.Get("refresh_token") == "" {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "refresh token expired"})
			return
		}
		p.refreshed++
		writeJSON(w, 200, p.tokens(""))
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
	}
}

// tokens mints an access token, a refresh token and an ID token. Called
// with p.mu held.
func (p *testProvider) tokens(nonce string) map[string]any {
	p.issued++
	now := p.now()
	claims := map[string]any{}
	for k, v := range p.claims {
		claims[k] = v
	}
	claims["iss"] = p.issuer()
	claims["aud"] = "fdlstudio"
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(time.Hour).Unix()
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if p.forge != nil {
		p.forge(claims)
	}
	return map[string]any{
		"access_token":  "access-" + string(rune('a'+p.issued)),
		"token_type":    "Bearer",
		"expires_in":    int(p.accessTTL / time.Second),
		"refresh_token": "refresh-" + string(rune('a'+p.issued)),
		"id_token":      p.sign(claims),
	}
}

func (p *testProvider) sign(claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	if p.unsigned {
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		p.t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		p.t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

func (p *testProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	if len(r.Header.Get("Authorization")) < len("Bearer x") {
		writeJSON(w, 401, map[string]string{"error": "invalid_token"})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	writeJSON(w, 200, p.claims)
}
