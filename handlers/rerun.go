package handlers

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
)

// RerunJob handles "POST /services/:cluster/:name/jobs/:job/rerun": it
// starts a new job with the same input as the old one, on backends that
// can (backends.Rerunner), and opens it.
func (h *Handler) RerunJob(c echo.Context) error {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	service, job := c.Param("name"), c.Param("job")
	rr, ok := b.(backends.Rerunner)
	if !ok {
		return backends.Unsupported(b.Name(), "re-run job "+job, "re-running a job")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), backends.LogTimeout+backends.MutateTimeout)
	defer cancel()
	ref, err := rr.RerunJob(ctx, service, job)
	if err != nil {
		return err
	}
	return h.openJob(c, cl.Name, service, ref)
}
