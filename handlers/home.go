package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/templates"
)

// ShowHome handles "GET /".
func (h *Handler) ShowHome(c echo.Context) error {
	local := false
	if u, ok := auth.UserFrom(c.Request().Context()); ok {
		for _, cl := range h.sharedFor(u) {
			local = local || cl.Name == localClusterName
		}
	}
	return Render(c, http.StatusOK, templates.HomePage(templates.HomeProps{
		Chrome:       h.Chrome(c, "", "/"),
		LocalCluster: local,
	}))
}
