// Package handlers holds the HTTP handlers of FDL Studio, one file per
// resource. Handlers are methods on Handler, which carries their
// dependencies; each dependency is a small interface declared here, where
// it is consumed. Handlers return errors; web's error handler turns them
// into pages.
package handlers

import (
	"log/slog"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/templates"
)

// Handler serves the pages and fragments of FDL Studio.
type Handler struct {
	log *slog.Logger
	nav []templates.NavItem
}

// Sections are the entries of the main navigation, in order.
var Sections = []templates.NavItem{
	{Label: "Workflows", Href: "/workflows"},
	{Label: "Services", Href: "/services"},
	{Label: "Jobs", Href: "/jobs"},
	{Label: "Files", Href: "/files"},
	{Label: "Clusters", Href: "/clusters"},
}

// New builds a Handler. served reports whether a GET route exists for a
// path; the navigation links only to sections this build serves.
func New(log *slog.Logger, served func(path string) bool) *Handler {
	nav := make([]templates.NavItem, len(Sections))
	for i, s := range Sections {
		s.Available = served(s.Href)
		nav[i] = s
	}
	return &Handler{log: log, nav: nav}
}

// Chrome returns what the layout needs for the request: title,
// navigation, the current user.
func (h *Handler) Chrome(c echo.Context, title, active string) templates.Chrome {
	return templates.Chrome{
		Title:  title,
		Active: active,
		Nav:    h.nav,
		User: templates.UserMenu{
			Name:   "Local user",
			Detail: "Single-user mode on this machine",
		},
	}
}

// Render renders a component into a buffer and only then writes it, so a
// component that fails half-way becomes a clean error page instead of a
// half-written 200. HTML pages are never cached.
func Render(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// ShowHome handles "GET /".
func (h *Handler) ShowHome(c echo.Context) error {
	return Render(c, http.StatusOK, templates.HomePage(templates.HomeProps{
		Chrome: h.Chrome(c, "", "/"),
	}))
}
