package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// apiTokens is what the API tokens page needs from auth.Manager: the
// tokens of the request's user.
type apiTokens interface {
	CreateAPIToken(ctx context.Context, name string, days int) (string, store.APIToken, error)
	APITokens(ctx context.Context) ([]store.APIToken, error)
	RevokeAPIToken(ctx context.Context, id int64) error
}

// ShowTokens handles "GET /tokens": the user's API tokens and the form
// to make one.
func (h *Handler) ShowTokens(c echo.Context) error {
	props := templates.TokensProps{Days: auth.DefaultAPITokenDays}
	if c.QueryParam("revoked") == "1" {
		props.Notice = "The token was revoked: programs using it are refused from now on."
	}
	return h.tokensPage(c, http.StatusOK, props)
}

// CreateToken handles "POST /tokens": makes a token and shows it, this
// once, on the page it answers with. The answer is not cached, and the
// token is not kept: only its fingerprint is.
func (h *Handler) CreateToken(c echo.Context) error {
	name := c.FormValue("name")
	days, _ := strconv.Atoi(c.FormValue("days"))
	props := templates.TokensProps{Name: name, Days: days}
	if !slices.Contains(auth.APITokenLifetimes, days) {
		props.Days = auth.DefaultAPITokenDays // the form offers a valid choice again
	}
	secret, t, err := h.apiTokens.CreateAPIToken(c.Request().Context(), name, days)
	var ie *auth.InputError
	switch {
	case errors.As(err, &ie):
		props.Errors = map[string]string{ie.Field: ie.Message}
		return h.tokensPage(c, http.StatusUnprocessableEntity, props)
	case err != nil:
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return h.tokensPage(c, http.StatusCreated, templates.TokensProps{NewToken: secret, NewName: t.Name, Days: auth.DefaultAPITokenDays})
}

// RevokeToken handles "POST /tokens/:id/revoke". Another user's token is
// not found, like one that does not exist.
func (h *Handler) RevokeToken(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return notFound("There is no such API token.", err)
	}
	if err := h.apiTokens.RevokeAPIToken(c.Request().Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("There is no such API token: it may have been revoked already.", err)
	} else if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, auth.TokensPath+"?revoked=1")
}

func (h *Handler) tokensPage(c echo.Context, status int, p templates.TokensProps) error {
	if h.apiTokens == nil {
		return echo.ErrNotFound
	}
	list, err := h.apiTokens.APITokens(c.Request().Context())
	if err != nil {
		return err
	}
	now := time.Now()
	for _, t := range list {
		row := templates.TokenRow{ID: t.ID, Name: t.Name, Created: day(t.CreatedAt), Expires: day(t.ExpiresAt),
			LastUsed: "never", Expired: !now.Before(t.ExpiresAt)}
		if !t.LastUsedAt.IsZero() {
			row.LastUsed = t.LastUsedAt.UTC().Format("2006-01-02 15:04 MST")
		}
		p.Tokens = append(p.Tokens, row)
	}
	p.Chrome = h.Chrome(c, "API tokens", "")
	p.Lifetimes = auth.APITokenLifetimes
	p.ServerURL = h.serverURL(c)
	return Render(c, status, templates.TokensPage(p))
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// serverURL is the address programs reach this server at: the public
// URL, or the one the browser used.
func (h *Handler) serverURL(c echo.Context) string {
	if h.publicURL != "" {
		return strings.TrimRight(h.publicURL, "/")
	}
	return c.Scheme() + "://" + c.Request().Host
}
