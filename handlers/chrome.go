package handlers

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Chrome returns what the layout needs for the request: title,
// navigation, the current user (name, e-mail and VOs, how to log out) and
// the CSRF token that forms and htmx requests carry.
func (h *Handler) Chrome(c echo.Context, title, active string) templates.Chrome {
	ctx := c.Request().Context()
	chrome := templates.Chrome{Title: title, Active: active, Nav: h.nav}
	chrome.User.CSRFToken = auth.CSRFToken(ctx)
	u, ok := auth.UserFrom(ctx)
	if !ok {
		// Single-user mode has no login: its refusal page says to open
		// the start link instead.
		if !auth.LocalLocked(ctx) {
			chrome.User.LoginURL = auth.LoginPath
		}
		return chrome
	}
	chrome.User.Name = u.Name
	if h.apiTokens != nil {
		chrome.User.TokensURL = auth.TokensPath
	}
	switch u.Mode {
	case auth.ModeLocal:
		chrome.User.Detail = "Single-user mode on this machine"
	case auth.ModeOSCAR:
		chrome.User.Detail = "OSCAR account at " + u.Issuer
		chrome.User.LogoutURL = "/auth/logout"
	default:
		var parts []string
		if u.Email != "" {
			parts = append(parts, u.Email)
		}
		if len(u.VOs) > 0 {
			parts = append(parts, "VOs: "+strings.Join(u.VOs, ", "))
		} else {
			parts = append(parts, "No VO membership")
		}
		chrome.User.Detail = strings.Join(parts, " · ")
		chrome.User.LogoutURL = "/auth/logout"
	}
	return chrome
}
