package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/templates"
)

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
