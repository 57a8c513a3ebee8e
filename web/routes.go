package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/handlers"
)

type route struct {
	method string
	path   string
	h      echo.HandlerFunc
}

// routes is the one route table of FDL Studio. Every URL the server
// answers is listed here, grouped by what it is for.
func (s *Server) routes(h *handlers.Handler) []route {
	return []route{
		// Pages.
		{http.MethodGet, "/", h.ShowHome},

		// Clusters.
		{http.MethodGet, "/clusters", h.ShowClusters},
		{http.MethodGet, "/clusters/new", h.ShowNewCluster},
		{http.MethodPost, "/clusters", h.CreateCluster},
		{http.MethodPost, "/clusters/test", h.TestCluster},
		{http.MethodPost, "/clusters/import", h.ImportClustersForm},
		{http.MethodGet, "/clusters/:name", h.ShowCluster},
		{http.MethodGet, "/clusters/:name/health", h.ShowClusterHealth},
		{http.MethodGet, "/clusters/:name/edit", h.ShowEditCluster},
		{http.MethodPost, "/clusters/:name", h.UpdateCluster},
		{http.MethodPost, "/clusters/:name/delete", h.DeleteCluster},

		// Services, their jobs and logs.
		{http.MethodGet, "/jobs", h.ShowRecentJobs},
		{http.MethodGet, "/jobs/live", h.LiveRecentJobs},
		{http.MethodGet, "/services", h.ShowServices},
		{http.MethodGet, "/services/:cluster/:name", h.ShowService},
		{http.MethodGet, "/services/:cluster/:name/last-job", h.ShowLastJob},
		{http.MethodGet, "/services/:cluster/:name/fdl", h.DownloadServiceFDL},
		{http.MethodGet, "/services/:cluster/:name/token", h.ShowServiceToken},
		{http.MethodGet, "/services/:cluster/:name/delete", h.ShowDeleteService},
		{http.MethodPost, "/services/:cluster/:name/delete", h.DeleteService},
		{http.MethodGet, "/services/:cluster/:name/invoke", h.ShowInvoke},
		{http.MethodPost, "/services/:cluster/:name/run", h.RunService},
		{http.MethodGet, "/services/:cluster/:name/jobs", h.ShowJobs},
		{http.MethodPost, "/services/:cluster/:name/jobs", h.SubmitJob},
		{http.MethodPost, "/services/:cluster/:name/jobs/delete", h.DeleteJobs},
		{http.MethodGet, "/services/:cluster/:name/jobs/:job", h.ShowJobLog},
		{http.MethodGet, "/services/:cluster/:name/jobs/:job/log", h.DownloadJobLog},
		{http.MethodPost, "/services/:cluster/:name/jobs/:job/delete", h.DeleteJob},
		{http.MethodPost, "/services/:cluster/:name/jobs/:job/rerun", h.RerunJob},
		// Live updates of the jobs and job log pages (WebSockets).
		{http.MethodGet, "/services/:cluster/:name/live", h.LiveJobs},
		{http.MethodGet, "/services/:cluster/:name/jobs/:job/live", h.LiveJobLog},

		// Service form. Static segments win in Echo, so /services/new and
		// /services/preview are not taken for a :cluster.
		{http.MethodGet, "/services/new", h.ShowNewService},
		{http.MethodPost, "/services", h.CreateService},
		{http.MethodPost, "/services/preview", h.PreviewService},
		{http.MethodGet, "/services/:cluster/:name/edit", h.ShowEditService},
		{http.MethodPost, "/services/:cluster/:name", h.UpdateService},

		// Workflows and the composer.
		{http.MethodGet, "/workflows", h.ShowWorkflows},
		{http.MethodPost, "/workflows", h.CreateWorkflow},
		{http.MethodGet, "/workflows/:id", h.ShowComposer},
		{http.MethodPost, "/workflows/:id/edit", h.EditWorkflow},
		{http.MethodPost, "/workflows/:id/panel", h.ShowNodePanel},
		{http.MethodPost, "/workflows/:id/save", h.SaveWorkflow},
		{http.MethodGet, "/workflows/:id/export", h.ExportWorkflow},
		{http.MethodGet, "/workflows/:id/versions/:v", h.ShowWorkflowVersion},
		{http.MethodPost, "/workflows/:id/versions/:v/restore", h.RestoreWorkflowVersion},
		{http.MethodPost, "/workflows/:id/delete", h.DeleteWorkflow},
		// A workflow's runs, with live updates (WebSockets).
		{http.MethodGet, "/workflows/:id/runs", h.ShowRuns},
		{http.MethodGet, "/workflows/:id/runs/live", h.LiveRuns},
		{http.MethodGet, "/workflows/:id/runs/:run", h.ShowRun},
		{http.MethodGet, "/workflows/:id/runs/:run/live", h.LiveRun},
		// Deploying a workflow: plan, apply (followed live), rollback,
		// the deployments with drift, adopting a cluster's version.
		{http.MethodGet, "/workflows/:id/deploy", h.ShowDeployPlan},
		{http.MethodPost, "/workflows/:id/deploy", h.ConfirmDeploy},
		{http.MethodGet, "/workflows/:id/deployments", h.ShowDeployments},
		{http.MethodGet, "/workflows/:id/deployments/drift", h.ShowDrift},
		{http.MethodGet, "/workflows/:id/deployments/:dep", h.ShowDeployment},
		{http.MethodGet, "/workflows/:id/deployments/:dep/live", h.LiveDeployment},
		{http.MethodPost, "/workflows/:id/deployments/:dep/rollback", h.RollbackDeployment},
		{http.MethodPost, "/workflows/:id/deployments/:dep/adopt", h.AdoptDrift},

		// Sample workflows.
		{http.MethodPost, "/samples/:name/deploy", h.DeploySample},

		// Files.
		{http.MethodGet, "/files", h.ShowFiles},
		{http.MethodGet, "/files/:cluster", h.ShowBuckets},
		{http.MethodPost, "/files/:cluster", h.CreateBucket},
		{http.MethodGet, "/files/:cluster/:bucket", h.ShowObjects},
		{http.MethodPost, handlers.FilesUploadPath, h.UploadFiles},
		{http.MethodGet, handlers.FilesDownloadPath, h.DownloadObject},
		{http.MethodGet, handlers.FilesZipPath, h.DownloadZip},
		{http.MethodPost, handlers.FilesZipPath, h.DownloadZip},
		{http.MethodPost, "/files/:cluster/:bucket/delete", h.DeleteObjects},
		{http.MethodPost, "/files/:cluster/:bucket/folder", h.CreateFolder},
		{http.MethodPost, "/files/:cluster/:bucket/share", h.ShareObject},

		// Personal API tokens (for programs on the /api/ routes).
		{http.MethodGet, auth.TokensPath, h.ShowTokens},
		{http.MethodPost, auth.TokensPath, h.CreateToken},
		{http.MethodPost, auth.TokensPath + "/:id/revoke", h.RevokeToken},

		// The API: authenticated by an API token (Authorization: Bearer)
		// and nothing else; JSON and NDJSON.
		{http.MethodPost, "/api/deploy/plan", h.PlanDeploy},
		{http.MethodPost, "/api/deploy/apply", h.ApplyDeploy},
		{http.MethodPost, "/api/deploy/rollback", h.RollbackDeploy},

		// Login and sessions.
		{http.MethodGet, "/auth/login", s.login.ShowLogin},
		{http.MethodGet, "/auth/oidc", s.login.StartOIDC},
		{http.MethodGet, auth.CallbackPath, s.login.FinishOIDC},
		{http.MethodPost, "/auth/oscar", s.login.LoginOSCAR},
		{http.MethodPost, "/auth/logout", s.login.Logout},
		{http.MethodGet, "/auth/logged-out", s.login.ShowLoggedOut},
		{http.MethodPost, "/auth/sessions/:id/end", s.login.EndSession},

		// Assets, under content-hashed names.
		{http.MethodGet, "/static/*", s.serveStatic},

		// Operations.
		{http.MethodGet, "/healthz", s.serveHealth},
		{http.MethodGet, "/readyz", s.serveReady},
		{http.MethodGet, "/metrics", s.serveMetrics},
	}
}

// buildEcho creates the Echo instance: middleware in order, then routes.
func (s *Server) buildEcho() {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError

	// The handlers are built with a view of the route table so the
	// navigation links only to sections this build serves; the table's
	// paths do not depend on the handler it is given.
	served := map[string]bool{}
	for _, r := range s.routes(&handlers.Handler{}) {
		if r.method == http.MethodGet {
			served[r.path] = true
		}
	}
	hd := s.deps.Handlers
	hd.Log = s.log
	hd.Served = func(p string) bool { return served[p] }
	hd.OpenSockets = s.metrics.WebSockets
	s.handlers = handlers.New(hd)
	// Applies running in the background end with the server.
	s.closers = append(s.closers, func() error { s.handlers.Close(); return nil })
	s.login = handlers.NewLogin(s.handlers, s.deps.Auth)

	// Middleware, outermost first. Each step sees the request after the
	// ones above it and the response before them.
	//
	// 1. Request ID: every request gets an X-Request-Id (a caller's is
	//    kept), so the log lines of one request can be found together.
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator: func() string { return newErrorID() + newErrorID() },
	}))
	// 2. Request log: one slog line per request, with the final status.
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURI: true, LogMethod: true, LogLatency: true,
		LogRequestID: true, LogRemoteIP: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request",
				slog.String("request_id", v.RequestID),
				slog.String("method", v.Method),
				slog.String("uri", auth.RedactURI(v.URI)),
				slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency),
				slog.String("remote_ip", v.RemoteIP),
			)
			return nil
		},
	}))
	// 3. Errors to responses: an error returned below is answered here,
	//    once, by handleError, so the log line above and the metrics
	//    below see the final status.
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := next(c); err != nil {
				s.handleError(err, c)
			}
			return nil
		}
	})
	// 4. Metrics: counts and durations by route pattern and status.
	e.Use(s.metrics.middleware)
	// 5. Panic recovery: a panicking handler becomes a 500 error (with
	//    the stack in the log), never a dropped connection.
	e.Use(recoverPanics)
	// 6. Security headers: CSP with a per-request nonce, nosniff,
	//    frame and referrer policies.
	e.Use(securityHeaders(strings.HasPrefix(s.cfg.PublicURL, "https://")))
	//    In local single-user mode, only requests addressed to this
	//    machine by name (localhost, 127.0.0.1, [::1]) are answered: a
	//    rebound DNS name must not reach the one user's session.
	if s.deps.LocalUser != nil {
		e.Use(localHostOnly)
	}
	// 7. Gzip: compress text responses; WebSocket upgrades and file
	//    downloads (sent as stored, with their true length) pass untouched.
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{
		Level:   5,
		Skipper: func(c echo.Context) bool { return c.IsWebSocket() || handlers.IsFileDownload(c) },
	}))
	// 8. Body size limit: refuse oversized bodies with 413 before a
	//    handler reads them. File uploads stream to the cluster and are
	//    exempt.
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit:   strconv.FormatInt(s.cfg.MaxBodyBytes, 10) + "B",
		Skipper: handlers.IsFileUpload,
	}))

	// 9. Identity: who the request is for (auth.Manager.Middleware). On
	//    /api/ routes only an API token (Authorization: Bearer) counts,
	//    never a cookie. Elsewhere: the
	//    local user in single-user mode, otherwise the user of a live
	//    server-side session (idle and absolute timeouts checked). Without
	//    one, anything but /auth/, assets and operations goes to the login
	//    page, and so does a handler's auth.ErrLoginRequired (a token that
	//    could not be refreshed), with next= back to the page.
	e.Use(s.deps.Auth.Middleware)
	// 10. CSRF: every POST/PUT/PATCH/DELETE carries the session's token
	//    (form field csrf_token or header X-CSRF-Token, which htmx sends
	//    from <body hx-headers>), or is refused with 403. Requests
	//    authenticated by an API token carry no cookie to forge and are
	//    exempt.
	//    The no-JavaScript upload form sends its token as the first
	//    multipart field, which MultipartCSRF peeks without parsing the
	//    body (which streams to the cluster).
	e.Use(auth.MultipartCSRF(handlers.IsFileUpload))
	e.Use(s.deps.Auth.CSRF)

	for _, r := range append(s.routes(s.handlers), s.extra...) {
		e.Add(r.method, r.path, r.h)
	}
	s.echo = e
}

// recoverPanics turns a panic in a handler into an error that carries the
// stack, for the error handler to log and answer.
func recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		return next(c)
	}
}

// serveStatic handles "GET /static/*": embedded assets under their hashed
// names, cached for a year.
func (s *Server) serveStatic(c echo.Context) error {
	a, ok := lookupAsset(c.Param("*"))
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	h.Set("ETag", a.ETag)
	if c.Request().Header.Get("If-None-Match") == a.ETag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, a.ContentType, a.Data)
}

// serveHealth handles "GET /healthz": the process is up.
func (s *Server) serveHealth(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// serveReady handles "GET /readyz": whether this instance can serve,
// each dependency asked within a bounded time. The public answer is the
// status and {"ready": bool}; which check failed and why is for
// administrators and the operations listener (--metrics-addr), since
// errors can name internal addresses.
func (s *Server) serveReady(c echo.Context) error {
	return s.answerReady(c, s.isAdmin(c))
}

func (s *Server) answerReady(c echo.Context, details bool) error {
	type result struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	status := http.StatusOK
	results := make([]result, 0, len(s.deps.Ready))
	for _, rc := range s.deps.Ready {
		ctx, cancel := context.WithTimeout(c.Request().Context(), checkTimeout)
		err := rc.Check(ctx)
		cancel()
		r := result{Name: rc.Name, OK: err == nil}
		if err != nil {
			r.Error = err.Error()
			status = http.StatusServiceUnavailable
		}
		results = append(results, r)
	}
	body := map[string]any{"ready": status == http.StatusOK}
	if details {
		body["checks"] = results
	}
	return c.JSON(status, body)
}

// serveMetrics handles "GET /metrics" on the main listener: only for
// administrators, and not at all when the operator gave the operations
// listener its own address (--metrics-addr), where Prometheus scrapes it.
func (s *Server) serveMetrics(c echo.Context) error {
	if s.cfg.MetricsAddr != "" {
		return echo.ErrNotFound
	}
	if !s.isAdmin(c) {
		return echo.NewHTTPError(http.StatusForbidden, "metrics are for administrators; an operator can serve them on their own address with --metrics-addr")
	}
	s.metrics.handler().ServeHTTP(c.Response(), c.Request())
	return nil
}

// isAdmin reports whether the request's user is an administrator.
func (s *Server) isAdmin(c echo.Context) bool {
	u, ok := auth.UserFrom(c.Request().Context())
	return ok && s.deps.Handlers.IsAdmin != nil && s.deps.Handlers.IsAdmin(u)
}

// opsHandler serves the operations listener (--metrics-addr): /metrics,
// /readyz with details and /healthz, for the operator's monitoring, with
// no login and no pages.
func (s *Server) opsHandler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/metrics", echo.WrapHandler(s.metrics.handler()))
	e.GET("/readyz", func(c echo.Context) error { return s.answerReady(c, true) })
	e.GET("/healthz", s.serveHealth)
	return e
}
