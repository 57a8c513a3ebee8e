package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Chrome returns what the layout needs for the request: title,
// navigation, the current user.
func (h *Handler) Chrome(c echo.Context, title, active string) templates.Chrome {
	chrome := templates.Chrome{Title: title, Active: active, Nav: h.nav}
	if u, ok := auth.UserFrom(c.Request().Context()); ok {
		chrome.User.Name = u.Name
		if u.Mode == auth.ModeLocal {
			chrome.User.Detail = "Single-user mode on this machine"
		}
	}
	return chrome
}
