package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/fdlstudio/fdlstudio/store"
)

// Cookie names. The session cookie holds only a random ID; the flow
// cookie of one login attempt is named after its state.
const (
	SessionCookie = "fdlstudio_session"
	csrfCookie    = "fdlstudio_csrf"
	flowCookie    = "fdlstudio_flow_"
)

// Paths the Manager's middleware lets through without a login.
var publicPaths = []string{"/auth/", "/static/", "/healthz", "/readyz", "/metrics"}

// LoginPath is the login page; next= carries where to return.
const LoginPath = "/auth/login"

// SessionStore is what the Manager needs from the store (store/sqlite.DB
// implements it). Session, TouchSession, UpdateSessionSecrets and
// DeleteSession return store.ErrNotFound for an unknown session.
type SessionStore interface {
	UpsertUser(ctx context.Context, issuer, subject, name, email string) (store.User, error)
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, idHash string) (store.Session, error)
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	UpdateSessionSecrets(ctx context.Context, idHash, secrets string, tokenExpiry time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	DeleteUserSession(ctx context.Context, userID int64, publicID string) error
	DeleteExpiredSessions(ctx context.Context, now, idleCutoff time.Time) (int64, error)
	APITokenStore
}

// Sealer encrypts what the Manager keeps at rest (store.Sealer).
type Sealer interface {
	Seal(plaintext []byte, associated string) (string, error)
	Open(sealed, associated string) ([]byte, error)
}

// Manager logs users in (OpenID Connect, OSCAR basic login), keeps their
// sessions in the store, refreshes their access tokens and guards
// state-changing requests against CSRF. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	store   SessionStore
	sealer  Sealer
	csrfKey []byte
	admins  []admin
	// localCookie is the value of the cookie that the start token is
	// exchanged for in local single-user mode.
	localCookie string

	// OIDC, nil when not configured.
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	endSession string
	httpClient *http.Client

	refreshes singleflight.Group
}

// oidcTimeout bounds each call to the identity provider (discovery, token,
// userinfo, JWKS).
const oidcTimeout = 10 * time.Second

// New builds a Manager. With an OIDC provider configured it runs discovery
// now, so that a wrong or unreachable issuer stops the server at start-up
// with an error that names the issuer and the cause.
func New(ctx context.Context, cfg Config, st SessionStore, sealer Sealer) (_ *Manager, err error) {
	cfg = cfg.withDefaults()
	if len(cfg.Key) < 32 {
		return nil, errors.New("auth: the server key must be at least 32 bytes")
	}
	mac := hmac.New(sha256.New, cfg.Key)
	mac.Write([]byte("fdlstudio csrf v1"))
	m := &Manager{
		cfg: cfg, log: cfg.Log, store: st, sealer: sealer, csrfKey: mac.Sum(nil),
		httpClient: &http.Client{Timeout: oidcTimeout},
	}
	if m.admins, err = parseAdmins(cfg.Admins); err != nil {
		return nil, err
	}
	if cfg.LocalUser != nil {
		if len(cfg.LocalToken) < 16 {
			return nil, errors.New("auth: local single-user mode needs a start token of at least 16 characters")
		}
		m.localCookie = localCookieValue(cfg.Key, cfg.LocalToken)
	}
	if cfg.OIDC != nil {
		if err := cfg.OIDC.check(); err != nil {
			return nil, err
		}
		dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, m.httpClient), oidcTimeout)
		defer cancel()
		p, err := oidc.NewProvider(dctx, cfg.OIDC.Issuer)
		if err != nil {
			return nil, fmt.Errorf("OpenID Connect discovery for issuer %s (--oidc-issuer) failed: %w", cfg.OIDC.Issuer, err)
		}
		var extra struct {
			EndSession string `json:"end_session_endpoint"`
		}
		if err := p.Claims(&extra); err != nil {
			return nil, fmt.Errorf("OpenID Connect discovery for issuer %s: reading the document: %w", cfg.OIDC.Issuer, err)
		}
		m.provider, m.endSession = p, extra.EndSession
		m.verifier = p.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), m.httpClient),
			&oidc.Config{ClientID: cfg.OIDC.ClientID, Now: cfg.Now})
	}
	return m, nil
}

// OIDCEnabled reports whether login with an OpenID Connect provider is
// offered, and under which name.
func (m *Manager) OIDCEnabled() (name string, ok bool) {
	if m.provider == nil {
		return "", false
	}
	return m.cfg.OIDC.displayName(), true
}

// OSCAREnabled reports whether the OSCAR basic login is offered.
func (m *Manager) OSCAREnabled() bool { return m.cfg.OSCARLogin }

// AcceptedVOs is the operator's VO restriction (empty: none).
func (m *Manager) AcceptedVOs() []string {
	if m.cfg.OIDC == nil {
		return nil
	}
	return m.cfg.OIDC.AllowedVOs
}

// secrets are the parts of a session that never leave the server; they
// are stored sealed with the session's ID hash as associated data.
type secrets struct {
	AccessToken  string    `json:"at,omitempty"`
	RefreshToken string    `json:"rt,omitempty"`
	IDToken      string    `json:"it,omitempty"`
	Expiry       time.Time `json:"exp,omitzero"`

	OSCAREndpoint string `json:"oe,omitempty"`
	OSCARUsername string `json:"ou,omitempty"`
	OSCARPassword string `json:"op,omitempty"`
}

func secretsAD(idHash string) string { return "session:" + idHash + ":secrets" }

// activeSession is the session of the current request.
type activeSession struct {
	mu  sync.Mutex
	rec store.Session
}

type sessionKey struct{}
type csrfKey struct{}

func sessionFrom(ctx context.Context) *activeSession {
	a, _ := ctx.Value(sessionKey{}).(*activeSession)
	return a
}

// SessionID returns the public ID of the request's session, if it has
// one (local mode has none).
func SessionID(ctx context.Context) (string, bool) {
	a := sessionFrom(ctx)
	if a == nil {
		return "", false
	}
	return a.rec.PublicID, true
}

// CSRFToken returns the token the request's pages must put in forms
// (field csrf_token) and htmx requests (header X-CSRF-Token). It is empty
// outside the Manager's middleware.
func CSRFToken(ctx context.Context) string {
	s, _ := ctx.Value(csrfKey{}).(string)
	return s
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (m *Manager) secureCookies() bool { return strings.HasPrefix(m.cfg.PublicURL, "https://") }

func (m *Manager) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: m.secureCookies(), SameSite: http.SameSiteLaxMode,
	}
}

// baseURL is where the browser reaches this server.
func (m *Manager) baseURL(r *http.Request) string {
	if m.cfg.PublicURL != "" {
		return m.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Middleware finds who the request is for and puts the user, the session
// and the CSRF token in its context.
//
// An /api/ route is for the user of the API token in its Authorization
// header, and no one else: cookies are not looked at (serveAPI).
//
// In local single-user mode that is the local user, once the browser has
// shown the start token (see LocalURL and unlockLocal); without it every
// request but assets and /healthz is 401.
//
// Otherwise it is the user of a live session cookie. A session whose
// access token has expired is refreshed first, which re-checks the VO
// restriction: a user the provider no longer lists in an accepted VO, or
// whose refresh the provider refuses, loses the session there. A request
// without a user for anything but the login pages, assets and operations
// endpoints is sent to the login page, and so is one whose handler
// reports ErrLoginRequired (a token that could no longer be refreshed),
// with next= pointing back to where the user was.
func (m *Manager) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		ctx := req.Context()
		if IsAPIPath(req.URL.Path) {
			return m.serveAPI(c, next)
		}
		var user *User
		var csrf string
		var loginErr error
		if m.cfg.LocalUser != nil {
			if handled, err := m.unlockLocal(c); handled {
				return err
			}
			if !m.localUnlocked(c) {
				if !localOpen(req.URL.Path) {
					return m.localLocked(c)
				}
			} else {
				user = m.cfg.LocalUser
			}
			csrf = m.anonymousCSRF(c)
		} else {
			a, err := m.load(c)
			if err != nil {
				return err
			}
			if a != nil {
				user = userOf(a.rec)
				csrf = a.rec.CSRFToken
				ctx = context.WithValue(ctx, sessionKey{}, a)
				loginErr = m.refreshIfExpired(ctx, a)
			} else {
				csrf = m.anonymousCSRF(c)
			}
		}
		if user != nil {
			ctx = WithUser(ctx, user)
		}
		ctx = context.WithValue(ctx, csrfKey{}, csrf)
		c.SetRequest(req.WithContext(ctx))

		if user == nil && !isPublic(req.URL.Path) {
			return m.toLogin(c, "")
		}
		err := loginErr
		if err == nil {
			err = next(c)
		}
		if errors.Is(err, ErrLoginRequired) && !c.Response().Committed {
			m.log.Info("session needs a new login", slog.String("uri", RedactURI(req.RequestURI)), slog.String("error", err.Error()))
			if a := sessionFrom(ctx); a != nil {
				if derr := m.store.DeleteSession(ctx, a.rec.IDHash); derr != nil && !errors.Is(derr, store.ErrNotFound) {
					m.log.Warn("ending session", slog.String("error", derr.Error()))
				}
			}
			c.SetCookie(m.cookie(SessionCookie, "", "/", -1))
			reason := ""
			if errors.As(err, new(*VOError)) {
				reason = EndedNotInVO
			}
			return m.toLogin(c, reason)
		}
		return err
	}
}

// refreshIfExpired refreshes the tokens of an OpenID Connect session
// whose access token has expired (or is about to), so that the VO
// restriction is checked again however the user spends the session. It
// returns an error that wraps ErrLoginRequired when the session must end;
// a provider that cannot be reached is logged and leaves the session be
// (a page that needs the token reports it).
func (m *Manager) refreshIfExpired(ctx context.Context, a *activeSession) error {
	if a.rec.Mode != ModeOIDC || a.rec.TokenExpiry.IsZero() || m.cfg.Now().Add(refreshMargin).Before(a.rec.TokenExpiry) {
		return nil
	}
	_, err := m.AccessToken(ctx)
	if err != nil && !errors.Is(err, ErrLoginRequired) {
		m.log.Warn("refreshing the session's tokens", slog.String("session", a.rec.PublicID), slog.String("error", err.Error()))
		return nil
	}
	return err
}

// Reasons a session ended, shown on the login page (LoginPath?ended=...).
const (
	EndedNotInVO = "vo"
)

// EndedMessage is the login page's explanation of why the session ended
// (the ended= parameter); "" for none.
func EndedMessage(reason string) string {
	if reason == EndedNotInVO {
		return "Your session has ended: your identity provider no longer lists you as a member of a VO this FDL Studio accepts."
	}
	return ""
}

func isPublic(path string) bool {
	for _, p := range publicPaths {
		if strings.HasPrefix(path, p) || path == strings.TrimSuffix(p, "/") {
			return true
		}
	}
	return false
}

func userOf(s store.Session) *User {
	return &User{ID: s.User.ID, Issuer: s.User.Issuer, Subject: s.User.Subject,
		Name: s.User.Name, Email: s.User.Email, VOs: s.VOs, Mode: s.Mode}
}

// toLogin answers a request that needs a login: htmx requests get an
// HX-Redirect, API clients a 401, browsers a redirect to the login page
// that will bring them back to the page they were on.
func (m *Manager) toLogin(c echo.Context, ended string) error {
	req := c.Request()
	back := req.URL.RequestURI()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		// After a form post the page to return to is the one the form
		// was on.
		back = "/"
		for _, h := range []string{"HX-Current-URL", "Referer"} {
			if u, err := url.Parse(req.Header.Get(h)); err == nil && u.Path != "" {
				back = u.RequestURI()
				break
			}
		}
	}
	loginURL := LoginPath + "?next=" + url.QueryEscape(SafeRedirect(back))
	if ended != "" {
		loginURL += "&ended=" + url.QueryEscape(ended)
	}
	if req.Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", loginURL)
		return c.NoContent(http.StatusUnauthorized)
	}
	accept := req.Header.Get(echo.HeaderAccept)
	if strings.Contains(accept, echo.MIMEApplicationJSON) && !strings.Contains(accept, echo.MIMETextHTML) {
		if msg := EndedMessage(ended); msg != "" {
			return httpError(http.StatusUnauthorized, msg, nil)
		}
		return httpError(http.StatusUnauthorized, "Log in first: this request needs a session.", nil)
	}
	return c.Redirect(http.StatusSeeOther, loginURL)
}

// load returns the live session named by the request's cookie, or nil.
// An expired session is deleted and its cookie cleared.
func (m *Manager) load(c echo.Context) (*activeSession, error) {
	ck, err := c.Cookie(SessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, nil
	}
	ctx := c.Request().Context()
	idHash := hashID(ck.Value)
	rec, err := m.store.Session(ctx, idHash)
	if errors.Is(err, store.ErrNotFound) {
		c.SetCookie(m.cookie(SessionCookie, "", "/", -1))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	if !now.Before(rec.ExpiresAt) || now.Sub(rec.LastSeenAt) > m.cfg.IdleTimeout {
		if err := m.store.DeleteSession(ctx, idHash); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		c.SetCookie(m.cookie(SessionCookie, "", "/", -1))
		return nil, nil
	}
	if now.Sub(rec.LastSeenAt) > time.Minute {
		if err := m.store.TouchSession(ctx, idHash, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		rec.LastSeenAt = now
	}
	return &activeSession{rec: rec}, nil
}

// anonymousCSRF returns the CSRF token of a visitor without a session (or
// of the local user): an HMAC of a random value kept in its own cookie,
// set here on first sight.
func (m *Manager) anonymousCSRF(c echo.Context) string {
	seed := ""
	if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) == 43 {
		seed = ck.Value
	} else {
		seed = randomString(32)
		c.SetCookie(m.cookie(csrfCookie, seed, "/", 0))
	}
	mac := hmac.New(sha256.New, m.csrfKey)
	mac.Write([]byte(seed))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CSRF refuses every state-changing request (anything but GET, HEAD,
// OPTIONS and TRACE) that does not carry the CSRF token of its session,
// in the X-CSRF-Token header (htmx, JavaScript) or the csrf_token form
// field (plain forms). It must run after Middleware.
func (m *Manager) CSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return next(c)
		}
		if _, bearer := APITokenFrom(req.Context()); bearer {
			// Authenticated by a header a browser never adds on its
			// own, with no cookie: nothing for a forged request to ride.
			return next(c)
		}
		// Defence in depth beside the token: a browser names the page a
		// request comes from; one from another site is refused even when
		// it somehow carries a valid token.
		if req.Header.Get("Sec-Fetch-Site") == "cross-site" ||
			req.Header.Get("Origin") != "" && !CheckOrigin(req, m.cfg.PublicURL) {
			return httpError(http.StatusForbidden,
				"This request came from another site, so it was refused.", errors.New("cross-site request: Origin "+strconv.Quote(req.Header.Get("Origin"))))
		}
		want := CSRFToken(req.Context())
		got := req.Header.Get("X-CSRF-Token")
		if got == "" {
			ct := req.Header.Get(echo.HeaderContentType)
			switch {
			case strings.HasPrefix(ct, echo.MIMEApplicationForm):
				got = req.PostFormValue("csrf_token")
			case strings.HasPrefix(ct, echo.MIMEMultipartForm):
				// Files beyond 1 MiB spill to disk; uploads should send
				// the header instead.
				if err := req.ParseMultipartForm(1 << 20); err == nil {
					got = req.PostFormValue("csrf_token")
				}
			}
		}
		if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return httpError(http.StatusForbidden,
				"This request did not carry a valid security token (CSRF), so it was refused. "+
					"Reload the page and try again.", errors.New("missing or wrong CSRF token"))
		}
		return next(c)
	}
}

// startSession begins a new session for u, ending the one the browser had
// (the session ID changes at every login), and sets the cookie.
func (m *Manager) startSession(c echo.Context, u store.User, mode string, vos []string, sec secrets) error {
	ctx := c.Request().Context()
	if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" {
		if err := m.store.DeleteSession(ctx, hashID(ck.Value)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	now := m.cfg.Now()
	if _, err := m.store.DeleteExpiredSessions(ctx, now, now.Add(-m.cfg.IdleTimeout)); err != nil {
		m.log.Warn("deleting expired sessions", slog.String("error", err.Error()))
	}
	id := randomString(32)
	rec := store.Session{
		IDHash: hashID(id), PublicID: randomString(12), UserID: u.ID, User: u, Mode: mode, VOs: vos,
		CSRFToken: randomString(32), TokenExpiry: sec.Expiry,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.cfg.MaxAge),
	}
	sealed, err := m.seal(rec.IDHash, sec)
	if err != nil {
		return err
	}
	rec.Secrets = sealed
	if err := m.store.CreateSession(ctx, rec); err != nil {
		return err
	}
	c.SetCookie(m.cookie(SessionCookie, id, "/", int(m.cfg.MaxAge/time.Second)))
	m.log.Info("login", slog.Int64("user", u.ID), slog.String("mode", mode), slog.String("session", rec.PublicID))
	return nil
}

func (m *Manager) seal(idHash string, sec secrets) (string, error) {
	data, err := json.Marshal(sec)
	if err != nil {
		return "", err
	}
	return m.sealer.Seal(data, secretsAD(idHash))
}

func (m *Manager) open(rec store.Session) (secrets, error) {
	var sec secrets
	if rec.Secrets == "" {
		return sec, nil
	}
	data, err := m.sealer.Open(rec.Secrets, secretsAD(rec.IDHash))
	if err != nil {
		return sec, fmt.Errorf("session %s: %w", rec.PublicID, err)
	}
	return sec, json.Unmarshal(data, &sec)
}

// Logout ends the request's session and clears its cookie. It returns
// the URL of the provider's end-session endpoint for the browser to visit
// next, or "" when the provider has none (or the user did not log in with
// it).
func (m *Manager) Logout(c echo.Context) (providerLogoutURL string, err error) {
	c.SetCookie(m.cookie(SessionCookie, "", "/", -1))
	a := sessionFrom(c.Request().Context())
	if a == nil {
		return "", nil
	}
	if err := m.store.DeleteSession(c.Request().Context(), a.rec.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	m.log.Info("logout", slog.Int64("user", a.rec.UserID), slog.String("session", a.rec.PublicID))
	if a.rec.Mode != ModeOIDC || m.endSession == "" {
		return "", nil
	}
	u, err := url.Parse(m.endSession)
	if err != nil {
		return "", fmt.Errorf("end_session_endpoint %q of %s: %w", m.endSession, m.cfg.OIDC.Issuer, err)
	}
	// client_id instead of id_token_hint: the ID token stays on the
	// server (OpenID Connect RP-Initiated Logout 1.0 allows either).
	q := u.Query()
	q.Set("client_id", m.cfg.OIDC.ClientID)
	q.Set("post_logout_redirect_uri", m.baseURL(c.Request())+"/auth/logged-out")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// EndSession ends one of the current user's sessions by its public ID.
// Another user's session is store.ErrNotFound, like one that does not
// exist.
func (m *Manager) EndSession(ctx context.Context, publicID string) error {
	u, ok := UserFrom(ctx)
	if !ok || u.Mode == ModeLocal {
		return store.ErrNotFound
	}
	return m.store.DeleteUserSession(ctx, u.ID, publicID)
}

// refreshMargin is how long before expiry an access token is refreshed,
// so that a call made with it does not fail half-way.
const refreshMargin = 2 * time.Minute

// AccessToken returns a valid OIDC access token of the request's user, for
// calling OSCAR (or any service that trusts the same issuer) on their
// behalf. A token that expires within two minutes is refreshed first with
// the refresh token (once, however many requests ask at the same time),
// and the new tokens are stored. When there is no session, no refresh
// token or the provider refuses the refresh, the error wraps
// ErrLoginRequired; returned from a handler, it sends the user to the
// login page and back to where they were. A session from the OSCAR basic
// login has no token: ErrNoAccessToken.
func (m *Manager) AccessToken(ctx context.Context) (string, error) {
	a := sessionFrom(ctx)
	if a == nil {
		return "", ErrLoginRequired
	}
	if a.rec.Mode != ModeOIDC {
		return "", ErrNoAccessToken
	}
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	sec, err := m.open(rec)
	if err != nil {
		return "", err
	}
	if sec.AccessToken != "" && (sec.Expiry.IsZero() || m.cfg.Now().Add(refreshMargin).Before(sec.Expiry)) {
		return sec.AccessToken, nil
	}
	v, err, _ := m.refreshes.Do(rec.IDHash, func() (any, error) { return m.refresh(context.WithoutCancel(ctx), rec.IDHash) })
	if err != nil {
		return "", err
	}
	fresh := v.(store.Session)
	a.mu.Lock()
	a.rec = fresh
	a.mu.Unlock()
	sec, err = m.open(fresh)
	if err != nil {
		return "", err
	}
	return sec.AccessToken, nil
}

// ErrNoAccessToken: the session did not come from OpenID Connect.
var ErrNoAccessToken = errors.New("this session has no OpenID Connect access token (logged in with OSCAR basic login)")

// ErrSessionEnded: the session is gone (logged out, timed out, ended by
// the user or for leaving the accepted VOs). It wraps ErrLoginRequired.
var ErrSessionEnded = fmt.Errorf("%w: the session has ended", ErrLoginRequired)

// refresh renews the tokens of one session. It re-reads the session first:
// another replica or request may have refreshed it already. With a VO
// restriction, the refreshed ID token and userinfo are read again and the
// user must still be in an accepted VO; someone the provider no longer
// lists loses the session here (an error wrapping ErrLoginRequired and a
// *VOError). A refresh the provider refuses also wraps ErrLoginRequired;
// a provider that cannot be reached does not: the session may work again
// once it is back.
func (m *Manager) refresh(ctx context.Context, idHash string) (store.Session, error) {
	rec, err := m.store.Session(ctx, idHash)
	if errors.Is(err, store.ErrNotFound) {
		return rec, ErrSessionEnded
	}
	if err != nil {
		return rec, err
	}
	sec, err := m.open(rec)
	if err != nil {
		return rec, err
	}
	if sec.AccessToken != "" && (sec.Expiry.IsZero() || m.cfg.Now().Add(refreshMargin).Before(sec.Expiry)) {
		return rec, nil
	}
	if sec.RefreshToken == "" || m.provider == nil {
		return rec, fmt.Errorf("%w: the access token expired and there is no refresh token", ErrLoginRequired)
	}
	rctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, m.httpClient), oidcTimeout)
	defer cancel()
	conf := m.oauthConfig("")
	tok, err := conf.TokenSource(rctx, &oauth2.Token{RefreshToken: sec.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		if errors.As(err, new(*oauth2.RetrieveError)) {
			return rec, fmt.Errorf("%w: refreshing the access token at %s: %v", ErrLoginRequired, m.cfg.OIDC.Issuer, err)
		}
		return rec, fmt.Errorf("refreshing the access token: the identity provider %s did not answer: %w", m.cfg.OIDC.Issuer, err)
	}
	sec.AccessToken, sec.Expiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" {
		sec.RefreshToken = tok.RefreshToken // rotated
	}
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" {
		sec.IDToken = raw
	}
	vos, voErr := m.recheckVOs(rctx, rec, tok)
	if voErr != nil && !errors.Is(voErr, ErrLoginRequired) {
		// Membership could not be confirmed: keep the (possibly
		// rotated) refresh token, but not a usable access token, so the
		// next use checks again.
		sec.Expiry = m.cfg.Now().Add(-time.Minute)
	}
	sealed, err := m.seal(idHash, sec)
	if err != nil {
		return rec, err
	}
	if voErr != nil {
		if !errors.Is(voErr, ErrLoginRequired) {
			if err := m.store.UpdateSessionSecrets(ctx, idHash, sealed, sec.Expiry); err != nil && !errors.Is(err, store.ErrNotFound) {
				m.log.Warn("keeping refreshed tokens", slog.String("error", err.Error()))
			}
			return rec, voErr
		}
		m.log.Info("session ended at token refresh: no longer in an accepted VO", slog.Int64("user", rec.UserID),
			slog.String("session", rec.PublicID), slog.Any("vos", vos))
		if err := m.store.DeleteSession(ctx, idHash); err != nil && !errors.Is(err, store.ErrNotFound) {
			return rec, err
		}
		// The user's API tokens end with it: they were made by a member.
		if n, err := m.store.DeleteUserAPITokens(ctx, rec.UserID); err != nil {
			return rec, err
		} else if n > 0 {
			m.log.Info("API tokens revoked: the user is no longer in an accepted VO", slog.Int64("user", rec.UserID), slog.Int64("tokens", n))
		}
		return rec, voErr
	}
	if err := m.store.UpdateSessionSecrets(ctx, idHash, sealed, sec.Expiry); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return rec, ErrSessionEnded
		}
		return rec, err
	}
	rec.Secrets, rec.TokenExpiry = sealed, sec.Expiry
	m.log.Info("access token refreshed", slog.Int64("user", rec.UserID), slog.String("session", rec.PublicID),
		slog.Time("expiry", sec.Expiry))
	return rec, nil
}

// recheckVOs reads the user's entitlements again after a refresh, from
// the refreshed ID token (verified, and about the same subject) and from
// userinfo, and applies the VO restriction. Without a restriction there
// is nothing to enforce and the provider is not asked. Not being in an
// accepted VO any more wraps ErrLoginRequired and a *VOError; a provider
// that cannot be asked is another error.
func (m *Manager) recheckVOs(ctx context.Context, rec store.Session, tok *oauth2.Token) ([]string, error) {
	accepted := m.cfg.OIDC.AllowedVOs
	if len(accepted) == 0 {
		return rec.VOs, nil
	}
	claims := map[string]any{}
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" {
		idt, err := m.verifier.Verify(ctx, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: the refreshed ID token does not verify: %v", ErrLoginRequired, err)
		}
		if idt.Subject != rec.User.Subject {
			return nil, fmt.Errorf("%w: the refreshed ID token is about another subject", ErrLoginRequired)
		}
		if err := idt.Claims(&claims); err != nil {
			return nil, fmt.Errorf("%w: reading the refreshed ID token: %v", ErrLoginRequired, err)
		}
	}
	ui, err := m.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("re-checking VO membership: userinfo of %s: %w", m.cfg.OIDC.Issuer, err)
	}
	if ui.Subject != rec.User.Subject {
		return nil, fmt.Errorf("%w: userinfo is about another subject", ErrLoginRequired)
	}
	uiClaims := map[string]any{}
	if err := ui.Claims(&uiClaims); err != nil {
		return nil, fmt.Errorf("re-checking VO membership: reading userinfo: %w", err)
	}
	for k, v := range uiClaims {
		claims[k] = v
	}
	ents := entitlementsClaim(claims)
	// The user's API tokens are checked against these from now on.
	if err := m.store.SetUserEntitlements(ctx, rec.User.Issuer, rec.User.Subject, ents, m.cfg.Now()); err != nil {
		return nil, fmt.Errorf("re-checking VO membership: recording it: %w", err)
	}
	vos := VOsFromEntitlements(ents, m.cfg.OIDC.VORoles)
	if !allowedByVO(vos, accepted) {
		return vos, fmt.Errorf("%w: %w", ErrLoginRequired, &VOError{Have: vos, Accepted: accepted})
	}
	return vos, nil
}

// OSCARCredentials are the basic-auth credentials of an OSCAR login.
type OSCARCredentials struct {
	Endpoint, Username, Password string
}

// OSCARCredentials returns the credentials the request's user logged in
// with through the OSCAR basic login; ok is false for any other session.
func (m *Manager) OSCARCredentials(ctx context.Context) (cred OSCARCredentials, ok bool, err error) {
	a := sessionFrom(ctx)
	if a == nil || a.rec.Mode != ModeOSCAR {
		return cred, false, nil
	}
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	sec, err := m.open(rec)
	if err != nil {
		return cred, false, err
	}
	return OSCARCredentials{Endpoint: sec.OSCAREndpoint, Username: sec.OSCARUsername, Password: sec.OSCARPassword}, true, nil
}
