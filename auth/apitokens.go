package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
)

// APIPrefix starts the paths that personal API tokens authenticate, and
// only they: a session cookie (or the cookie of local single-user mode)
// does not open them, and a token opens nothing else.
const APIPrefix = "/api/"

// TokensPath is the page where users make and revoke their API tokens.
const TokensPath = "/tokens"

// apiTokenPrefix starts every token, so that people and secret scanners
// can tell what a leaked string is.
const apiTokenPrefix = "fdls_"

// APITokenLifetimes are the lifetimes a user may give a token, in days;
// DefaultAPITokenDays is preselected.
var APITokenLifetimes = []int{7, 30, 90, 365}

// DefaultAPITokenDays is the lifetime offered first.
const DefaultAPITokenDays = 30

// maxAPITokens bounds the tokens one user may hold at once.
const maxAPITokens = 50

// APITokenStore is what API tokens need from the store (store/sqlite.DB
// implements it). APITokenByHash and DeleteAPIToken return
// store.ErrNotFound for an unknown token.
type APITokenStore interface {
	CreateAPIToken(ctx context.Context, t store.APIToken) (store.APIToken, error)
	APITokenByHash(ctx context.Context, hash string) (store.APIToken, error)
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error
	APITokens(ctx context.Context, userID int64) ([]store.APIToken, error)
	DeleteAPIToken(ctx context.Context, userID, id int64) error
	DeleteUserAPITokens(ctx context.Context, userID int64) (int64, error)
	// SetUserEntitlements records the group entitlements the identity
	// provider listed for an existing user (issuer, subject) at a login,
	// refused or not, or a token refresh; API tokens are checked against
	// them.
	SetUserEntitlements(ctx context.Context, issuer, subject string, entitlements []string, at time.Time) error
}

// IsAPIPath reports whether path is one of the /api/ routes.
func IsAPIPath(path string) bool { return strings.HasPrefix(path, APIPrefix) }

type apiTokenKey struct{}

// APITokenFrom returns the token that authenticated the request, when an
// API token did (ok false for a browser request).
func APITokenFrom(ctx context.Context) (store.APIToken, bool) {
	t, ok := ctx.Value(apiTokenKey{}).(store.APIToken)
	return t, ok
}

// InputError is a request the user can correct; Message says what is
// wrong, Field names the form field ("name", "days").
type InputError struct{ Field, Message string }

func (e *InputError) Error() string         { return e.Message }
func (e *InputError) PublicMessage() string { return e.Message }
func (e *InputError) HTTPStatus() int       { return http.StatusUnprocessableEntity }

// CreateAPIToken makes a token for the request's user, named name and
// valid for days days (one of APITokenLifetimes). It returns the token,
// which is not kept anywhere and cannot be shown again, and its record.
// A bad name or lifetime is an *InputError; a name already used, too.
func (m *Manager) CreateAPIToken(ctx context.Context, name string, days int) (string, store.APIToken, error) {
	u, ok := UserFrom(ctx)
	if !ok {
		return "", store.APIToken{}, ErrLoginRequired
	}
	if _, bearer := APITokenFrom(ctx); bearer {
		return "", store.APIToken{}, errors.New("an API token cannot make other API tokens")
	}
	name = strings.TrimSpace(name)
	if err := checkTokenName(name); err != nil {
		return "", store.APIToken{}, err
	}
	valid := false
	for _, d := range APITokenLifetimes {
		valid = valid || d == days
	}
	if !valid {
		return "", store.APIToken{}, &InputError{"days", fmt.Sprintf("Choose how long the token stays valid: one of %v days.", APITokenLifetimes)}
	}
	have, err := m.store.APITokens(ctx, u.ID)
	if err != nil {
		return "", store.APIToken{}, err
	}
	if len(have) >= maxAPITokens {
		return "", store.APIToken{}, &InputError{"name", fmt.Sprintf("You have %d API tokens, the most one person may hold. Revoke one you no longer use first.", len(have))}
	}
	secret := apiTokenPrefix + randomString(32)
	now := m.cfg.Now()
	t, err := m.store.CreateAPIToken(ctx, store.APIToken{
		UserID: u.ID, Name: name, Hash: hashID(secret), Mode: u.Mode,
		CreatedAt: now, ExpiresAt: now.Add(time.Duration(days) * 24 * time.Hour),
	})
	if errors.Is(err, store.ErrConflict) {
		return "", t, &InputError{"name", fmt.Sprintf("You already have a token called %q: choose another name, or revoke that one first.", name)}
	}
	if err != nil {
		return "", t, err
	}
	m.log.Info("API token created", slog.Int64("user", u.ID), slog.Int64("token", t.ID), slog.Time("expires", t.ExpiresAt))
	return secret, t, nil
}

func checkTokenName(name string) error {
	switch {
	case name == "":
		return &InputError{"name", "Give the token a name, so you know later what uses it (e.g. “laptop deploy”)."}
	case utf8.RuneCountInString(name) > 64:
		return &InputError{"name", "The name is longer than 64 characters."}
	case strings.ContainsFunc(name, unicode.IsControl):
		return &InputError{"name", "The name contains control characters."}
	}
	return nil
}

// APITokens lists the request's user's tokens, newest first.
func (m *Manager) APITokens(ctx context.Context) ([]store.APIToken, error) {
	u, ok := UserFrom(ctx)
	if !ok {
		return nil, ErrLoginRequired
	}
	return m.store.APITokens(ctx, u.ID)
}

// RevokeAPIToken deletes one of the request's user's tokens; it stops
// working at once. Another user's token is store.ErrNotFound.
func (m *Manager) RevokeAPIToken(ctx context.Context, id int64) error {
	u, ok := UserFrom(ctx)
	if !ok {
		return ErrLoginRequired
	}
	if err := m.store.DeleteAPIToken(ctx, u.ID, id); err != nil {
		return err
	}
	m.log.Info("API token revoked", slog.Int64("user", u.ID), slog.Int64("token", id))
	return nil
}

// tokenAdmission decides, at every request, whether the token's user
// would be let in by this server as it is configured now, and answers
// 0 when so. A token lives on after a logout (it is a personal token, not
// part of a session), but never beyond what a login could do now: the
// login mode that made it must still be offered (single-user mode, the
// OSCAR login on an accepted endpoint, OpenID Connect with the same
// issuer), and with a VO restriction the user's VOs, as their identity
// provider listed them at their last login or token refresh, must
// include one the operator accepts now (with the roles it counts now).
// A login mode that is off is 401 (the token cannot work here); a user
// who is known but not admitted is 403, as their browser login would be.
func (m *Manager) tokenAdmission(t store.APIToken) (status int, msg string) {
	const newToken = " Log in in the browser and make a new token on the API tokens page (" + TokensPath + ")."
	local := m.cfg.LocalUser != nil
	switch t.Mode {
	case ModeLocal:
		if !local {
			return http.StatusUnauthorized, "This API token was made in single-user mode, and this server now runs with logins." + newToken
		}
		return 0, ""
	case ModeOSCAR, ModeOIDC:
		if local {
			return http.StatusUnauthorized, "This API token was made by a logged-in user, and this server now runs in single-user mode: make a new token on the API tokens page (" + TokensPath + ")."
		}
	default:
		return http.StatusUnauthorized, fmt.Sprintf("This API token was made by a login mode (%q) this server does not know.", t.Mode) + newToken
	}
	if t.Mode == ModeOSCAR {
		if !m.cfg.OSCARLogin {
			return http.StatusUnauthorized, "This API token was made after an OSCAR login, and this server no longer offers the OSCAR login." + newToken
		}
		ep := strings.TrimPrefix(t.User.Issuer, "oscar:")
		if _, err := backends.ValidateEndpoint(ep, m.cfg.OSCARHosts); err != nil {
			return http.StatusForbidden, fmt.Sprintf("This API token's user logged in with the OSCAR cluster %s, which this server no longer accepts for login (%s).", ep, backends.MessageOf(err))
		}
		return 0, ""
	}
	if m.provider == nil {
		return http.StatusUnauthorized, "This API token was made after an OpenID Connect login, and this server no longer offers that login." + newToken
	}
	if t.User.Issuer != m.cfg.OIDC.Issuer {
		return http.StatusUnauthorized, fmt.Sprintf("This API token was made after a login with the identity provider %s; this server now uses %s.", t.User.Issuer, m.cfg.OIDC.Issuer) + newToken
	}
	accepted := m.cfg.OIDC.AllowedVOs
	if len(accepted) == 0 {
		return 0, ""
	}
	if t.User.EntitlementsAt.IsZero() {
		return http.StatusForbidden, fmt.Sprintf("This server accepts only members of the VOs %s, and does not know yet which VOs this API token's user belongs to: log in once in the browser, then use the token again.",
			strings.Join(accepted, ", "))
	}
	vos := VOsFromEntitlements(t.User.Entitlements, m.cfg.OIDC.VORoles)
	if !allowedByVO(vos, accepted) {
		have := "none"
		if len(vos) > 0 {
			have = strings.Join(vos, ", ")
		}
		return http.StatusForbidden, fmt.Sprintf("This API token's user is not let in any more: this server accepts only members of the VOs %s, "+
			"and at their last login (%s) their identity provider listed them as a member of %s. If that changed, log in in the browser once, then use the token again.",
			strings.Join(accepted, ", "), t.User.EntitlementsAt.UTC().Format("2006-01-02 15:04 MST"), have)
	}
	return 0, ""
}

// apiTokenTouchEvery is how often last-used is written for a token in
// steady use.
const apiTokenTouchEvery = time.Minute

// serveAPI authenticates a request to an /api/ route: only an
// "Authorization: Bearer" header with a live API token does; cookies
// are not looked at. CSRF does not apply to such requests (a browser
// never adds the header on its own).
func (m *Manager) serveAPI(c echo.Context, next echo.HandlerFunc) error {
	req := c.Request()
	ctx := req.Context()
	refuse := func(msg string) error {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="fdlstudio"`)
		return httpError(http.StatusUnauthorized, msg, nil)
	}
	scheme, secret, _ := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return refuse("This API needs a personal API token in the header \"Authorization: Bearer TOKEN\" " +
			"(a browser session does not open it). Make one on the API tokens page (" + TokensPath + ").")
	}
	if len(secret) > 200 {
		return refuse("This API token is not valid.")
	}
	t, err := m.store.APITokenByHash(ctx, hashID(secret))
	if errors.Is(err, store.ErrNotFound) {
		m.log.Info("API request with an unknown or revoked token refused", slog.String("remote_ip", c.RealIP()))
		return refuse("This API token is not valid: it was revoked, or never existed. Make a new one on the API tokens page (" + TokensPath + ").")
	}
	if err != nil {
		return err
	}
	now := m.cfg.Now()
	if !now.Before(t.ExpiresAt) {
		return refuse(fmt.Sprintf("This API token (%q) expired on %s. Make a new one on the API tokens page (%s).",
			t.Name, t.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"), TokensPath))
	}
	if status, msg := m.tokenAdmission(t); status != 0 {
		m.log.Info("API request refused: its user would not be let in now", slog.Int64("user", t.UserID),
			slog.Int64("token", t.ID), slog.String("mode", t.Mode), slog.Int("status", status))
		if status == http.StatusUnauthorized {
			return refuse(msg)
		}
		return httpError(status, msg, nil)
	}
	if now.Sub(t.LastUsedAt) > apiTokenTouchEvery {
		if err := m.store.TouchAPIToken(ctx, t.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			m.log.Warn("recording an API token's use", slog.String("error", err.Error()))
		}
		t.LastUsedAt = now
	}
	u := &User{ID: t.User.ID, Issuer: t.User.Issuer, Subject: t.User.Subject, Name: t.User.Name, Email: t.User.Email, Mode: t.Mode}
	if t.Mode == ModeLocal {
		u = m.cfg.LocalUser
	}
	ctx = WithUser(ctx, u)
	ctx = context.WithValue(ctx, apiTokenKey{}, t)
	c.SetRequest(req.WithContext(ctx))
	return next(c)
}
