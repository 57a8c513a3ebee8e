package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/templates"
)

// loginAuth is what the login pages need from auth.Manager.
type loginAuth interface {
	OIDCEnabled() (name string, ok bool)
	OSCAREnabled() bool
	BeginOIDC(c echo.Context, next string) (string, error)
	FinishOIDC(c echo.Context) (next string, err error)
	LoginOSCAR(c echo.Context, endpoint, username, password, next string) (string, error)
	Logout(c echo.Context) (providerLogoutURL string, err error)
	EndSession(ctx context.Context, publicID string) error
}

// Login serves the login, callback and logout pages.
type Login struct {
	h    *Handler
	auth loginAuth
}

// NewLogin builds the login handlers; h renders the page chrome.
func NewLogin(h *Handler, a loginAuth) *Login { return &Login{h: h, auth: a} }

func (l *Login) page(c echo.Context, status int, p templates.LoginProps) error {
	p.Chrome = l.h.Chrome(c, "Log in", "")
	p.CSRFToken = auth.CSRFToken(c.Request().Context())
	p.Provider, _ = l.auth.OIDCEnabled()
	p.OSCAR = l.auth.OSCAREnabled()
	p.Next = auth.SafeRedirect(p.Next)
	return Render(c, status, templates.LoginPage(p))
}

// ShowLogin handles "GET /auth/login": the ways to log in. Someone who is
// already logged in goes on to next.
func (l *Login) ShowLogin(c echo.Context) error {
	next := auth.SafeRedirect(c.QueryParam("next"))
	if _, ok := auth.UserFrom(c.Request().Context()); ok {
		return c.Redirect(http.StatusSeeOther, next)
	}
	// ended= says why a session ended (auth.EndedMessage).
	return l.page(c, http.StatusOK, templates.LoginProps{Next: next, Error: auth.EndedMessage(c.QueryParam("ended"))})
}

// StartOIDC handles "GET /auth/oidc": off to the identity provider.
func (l *Login) StartOIDC(c echo.Context) error {
	target, err := l.auth.BeginOIDC(c, c.QueryParam("next"))
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// FinishOIDC handles "GET /auth/callback": the provider's answer. A
// failed login shows the login page with the reason; a user outside the
// accepted VOs gets the page that names them.
func (l *Login) FinishOIDC(c echo.Context) error {
	next, err := l.auth.FinishOIDC(c)
	return l.afterLogin(c, next, err, templates.LoginProps{})
}

// LoginOSCAR handles "POST /auth/oscar": OSCAR basic login.
func (l *Login) LoginOSCAR(c echo.Context) error {
	endpoint, username := c.FormValue("endpoint"), c.FormValue("username")
	next, err := l.auth.LoginOSCAR(c, endpoint, username, c.FormValue("password"), c.FormValue("next"))
	return l.afterLogin(c, next, err, templates.LoginProps{Endpoint: endpoint, Username: username, Next: c.FormValue("next")})
}

func (l *Login) afterLogin(c echo.Context, next string, err error, retry templates.LoginProps) error {
	var le *auth.LoginError
	var ve *auth.VOError
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, auth.SafeRedirect(next))
	case errors.As(err, &ve):
		l.h.log.Info("login refused", "error", err.Error())
		return Render(c, http.StatusForbidden, templates.NotInVOPage(templates.NotInVOProps{
			Chrome: l.h.Chrome(c, "VO not accepted", ""), Have: ve.Have, Accepted: ve.Accepted,
		}))
	case errors.As(err, &le):
		l.h.log.Info("login failed", "error", err.Error())
		retry.Error = le.PublicMessage()
		return l.page(c, http.StatusUnauthorized, retry)
	default:
		return err
	}
}

// Logout handles "POST /auth/logout": the session ends here, then at the
// provider when it has an end-session endpoint (the page sends the
// browser there).
func (l *Login) Logout(c echo.Context) error {
	providerURL, err := l.auth.Logout(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	c.SetRequest(c.Request().WithContext(auth.WithUser(ctx, nil)))
	return Render(c, http.StatusOK, templates.LoggedOutPage(templates.LoggedOutProps{
		Chrome:            l.h.Chrome(c, "Logged out", ""),
		ProviderLogoutURL: providerURL,
	}))
}

// ShowLoggedOut handles "GET /auth/logged-out", where the provider sends
// the browser back after its own logout.
func (l *Login) ShowLoggedOut(c echo.Context) error {
	return Render(c, http.StatusOK, templates.LoggedOutPage(templates.LoggedOutProps{
		Chrome: l.h.Chrome(c, "Logged out", ""),
	}))
}

// EndSession handles "POST /auth/sessions/:id/end": ends one of the
// user's own sessions (e.g. on a lost laptop). Another user's session is
// 404, as if it did not exist.
func (l *Login) EndSession(c echo.Context) error {
	if err := l.auth.EndSession(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
