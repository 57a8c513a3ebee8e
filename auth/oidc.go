package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"
)

// CallbackPath is where the provider sends the browser back; register
// <public-url>/auth/callback as the client's redirect URI.
const CallbackPath = "/auth/callback"

// flowTTL is how long a login attempt may take at the provider.
const flowTTL = 10 * time.Minute

// flow is one login attempt, kept sealed in a short-lived cookie named
// after (a hash of) its state, so parallel attempts in several tabs do
// not overwrite each other.
type flow struct {
	// State binds the provider's answer to this attempt (CSRF on the
	// callback).
	State string `json:"s"`
	// Nonce binds the ID token to this attempt (replay of a token).
	Nonce string `json:"n"`
	// Verifier is the PKCE code verifier: a stolen code is useless
	// without it.
	Verifier string `json:"v"`
	// Next is the local path to return to after login.
	Next string `json:"r"`
	// Expires ends the attempt whatever the cookie's own lifetime.
	Expires int64 `json:"e"`
}

func flowCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return flowCookie + hex.EncodeToString(sum[:8])
}

func flowAD(state string) string { return "oidc-flow:" + state }

func (m *Manager) oauthConfig(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: m.cfg.OIDC.ClientID, ClientSecret: m.cfg.OIDC.ClientSecret,
		Endpoint: m.provider.Endpoint(), RedirectURL: redirectURL, Scopes: m.cfg.OIDC.scopes(),
	}
}

// BeginOIDC starts a login at the OpenID Connect provider: it creates the
// state, nonce and PKCE verifier, keeps them in the flow cookie and returns
// the provider URL to redirect the browser to. next is where to return
// after login; anything but a local path becomes "/".
func (m *Manager) BeginOIDC(c echo.Context, next string) (string, error) {
	if m.provider == nil {
		return "", echo.ErrNotFound
	}
	f := flow{
		State: randomString(32), Nonce: randomString(32), Verifier: oauth2.GenerateVerifier(),
		Next: SafeRedirect(next), Expires: m.cfg.Now().Add(flowTTL).Unix(),
	}
	data, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	sealed, err := m.sealer.Seal(data, flowAD(f.State))
	if err != nil {
		return "", err
	}
	c.SetCookie(m.cookie(flowCookieName(f.State), sealed, "/auth/", int(flowTTL/time.Second)))
	conf := m.oauthConfig(m.baseURL(c.Request()) + CallbackPath)
	return conf.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), nil
}

// FinishOIDC handles the provider's answer on the callback, in this
// order: a provider error= is reported; the flow cookie named by state is
// loaded and cleared at once (a replayed callback finds none); the state
// is compared in constant time; the code is redeemed with the PKCE
// verifier; the ID token is verified (signature, issuer, audience, expiry)
// and its nonce compared; userinfo is fetched and must be about the same
// subject; the VO restriction is applied; the session ID is rotated. It
// returns the local path to go to next. Failures are *LoginError (shown
// to the user) or *VOError.
func (m *Manager) FinishOIDC(c echo.Context) (next string, err error) {
	if m.provider == nil {
		return "", echo.ErrNotFound
	}
	req := c.Request()
	q := req.URL.Query()
	state := q.Get("state")
	var f flow
	var cookieErr error
	if state != "" && len(state) < 200 {
		name := flowCookieName(state)
		if ck, err := c.Cookie(name); err == nil {
			// Clear it first: whatever happens next, this attempt is
			// used up.
			c.SetCookie(m.cookie(name, "", "/auth/", -1))
			data, err := m.sealer.Open(ck.Value, flowAD(state))
			if err == nil {
				err = json.Unmarshal(data, &f)
			}
			cookieErr = err
		} else {
			cookieErr = errors.New("no flow cookie for this state")
		}
	} else {
		cookieErr = errors.New("no state parameter")
	}

	if e := q.Get("error"); e != "" {
		msg := "The identity provider did not log you in: " + clip(e, 100)
		if d := q.Get("error_description"); d != "" {
			msg += " (" + clip(d, 300) + ")"
		}
		return "", &LoginError{Message: msg + ".", Err: fmt.Errorf("provider %s answered error=%q", m.cfg.OIDC.Issuer, e)}
	}
	if cookieErr != nil {
		return "", &LoginError{
			Message: "This login attempt has expired or was started in another browser. Please log in again.",
			Err:     fmt.Errorf("callback: %w", cookieErr),
		}
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		return "", loginFailed(errors.New("callback: state does not match the flow cookie"))
	}
	if m.cfg.Now().Unix() > f.Expires {
		return "", &LoginError{Message: "This login attempt took too long and has expired. Please log in again.",
			Err: errors.New("callback: flow expired")}
	}
	code := q.Get("code")
	if code == "" {
		return "", loginFailed(errors.New("callback: no code"))
	}

	ctx, cancel := context.WithTimeout(oidc.ClientContext(req.Context(), m.httpClient), oidcTimeout)
	defer cancel()
	conf := m.oauthConfig(m.baseURL(req) + CallbackPath)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return "", loginFailed(fmt.Errorf("redeeming the code at %s: %w", m.cfg.OIDC.Issuer, err))
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return "", loginFailed(fmt.Errorf("token response of %s has no id_token", m.cfg.OIDC.Issuer))
	}
	idt, err := m.verifier.Verify(ctx, rawID)
	if err != nil {
		return "", loginFailed(fmt.Errorf("verifying the ID token: %w", err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return "", loginFailed(errors.New("ID token nonce does not match this login attempt"))
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return "", loginFailed(fmt.Errorf("reading ID token claims: %w", err))
	}
	ui, err := m.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return "", loginFailed(fmt.Errorf("fetching userinfo from %s: %w", m.cfg.OIDC.Issuer, err))
	}
	if ui.Subject != idt.Subject {
		return "", loginFailed(fmt.Errorf("userinfo subject %q differs from ID token subject %q", ui.Subject, idt.Subject))
	}
	uiClaims := map[string]any{}
	if err := ui.Claims(&uiClaims); err != nil {
		return "", loginFailed(fmt.Errorf("reading userinfo claims: %w", err))
	}
	for k, v := range uiClaims {
		claims[k] = v
	}

	ents := entitlementsClaim(claims)
	// Recorded before the VO check: a user it refuses now must not keep
	// using API tokens on the strength of an older membership.
	if err := m.store.SetUserEntitlements(req.Context(), idt.Issuer, idt.Subject, ents, m.cfg.Now()); err != nil {
		return "", err
	}
	vos := VOsFromEntitlements(ents, m.cfg.OIDC.VORoles)
	if !allowedByVO(vos, m.cfg.OIDC.AllowedVOs) {
		m.log.Info("login refused: not in an accepted VO", "subject", idt.Subject, "vos", vos)
		return "", &VOError{Have: vos, Accepted: m.cfg.OIDC.AllowedVOs}
	}
	// Only an address the provider vouches for is kept, at every login:
	// anyone can type someone else's address into a provider profile.
	email := ""
	if emailVerified(claims) {
		email = stringClaim(claims, "email")
	}
	u, err := m.store.UpsertUser(req.Context(), idt.Issuer, idt.Subject, displayName(claims, idt.Subject), email)
	if err != nil {
		return "", err
	}
	if err := m.store.SetUserEntitlements(req.Context(), u.Issuer, u.Subject, ents, m.cfg.Now()); err != nil {
		return "", err
	}
	sec := secrets{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, IDToken: rawID, Expiry: tok.Expiry}
	if err := m.startSession(c, u, ModeOIDC, vos, sec); err != nil {
		return "", err
	}
	return f.Next, nil
}

// emailVerified reads the email_verified claim: a JSON true, or the
// string "true" that some providers send.
func emailVerified(claims map[string]any) bool {
	switch v := claims["email_verified"].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

func stringClaim(claims map[string]any, k string) string {
	s, _ := claims[k].(string)
	return strings.TrimSpace(s)
}

func displayName(claims map[string]any, subject string) string {
	if n := stringClaim(claims, "name"); n != "" {
		return n
	}
	if n := strings.TrimSpace(stringClaim(claims, "given_name") + " " + stringClaim(claims, "family_name")); n != "" {
		return n
	}
	for _, k := range []string{"preferred_username", "email"} {
		if n := stringClaim(claims, k); n != "" {
			return n
		}
	}
	return subject
}

// clip shortens provider text shown to the user and drops control
// characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for !utf8.ValidString(s[:n]) {
		n--
	}
	return s[:n] + "…"
}
