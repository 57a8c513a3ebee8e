// Package web is the HTTP layer of FDL Studio: the Echo instance, the one
// route table, the middleware chain, the error handler, asset serving,
// readiness and metrics. It is given everything else (store, auth
// manager, clusters) by the composition root, package app: New builds the
// routes and binds the listener; Serve runs until its context ends and
// then shuts down gracefully.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/handlers"
)

// Deps are what the composition root (package app) gives the HTTP layer.
type Deps struct {
	// Handlers are the page handlers' dependencies (store, clusters,
	// policy, and the backend registry when it lands); New fills in Log
	// and Served.
	Handlers handlers.Deps
	// Auth logs users in and keeps their sessions.
	Auth *auth.Manager
	// LocalUser is the one user of local single-user mode, nil when a
	// login method is configured.
	LocalUser *auth.User
	// Ready are what /readyz asks: whether this instance can serve (the
	// store, the embedded local cluster). A remote cluster does not
	// belong here: one being down must not take every replica out of a
	// load balancer.
	Ready []ReadinessCheck
	// ClusterHealth are the shared remote clusters' health checks,
	// exported on /metrics as fdlstudio_cluster_up.
	ClusterHealth []ReadinessCheck
}

// Server is the HTTP face of a running FDL Studio: its listeners and
// routes.
type Server struct {
	cfg      Config
	log      *slog.Logger
	deps     Deps
	echo     *echo.Echo
	http     *http.Server
	listener net.Listener
	metrics  *Metrics
	handlers *handlers.Handler
	login    *handlers.Login

	// opsHTTP serves /metrics and /readyz with details on
	// cfg.MetricsAddr, when that is set.
	opsHTTP     *http.Server
	opsListener net.Listener

	// closers are released in reverse order by Close.
	closers []func() error
	// extra are routes added by Option, outside the main table.
	extra []route
}

// ReadinessCheck is one dependency that /readyz (or the cluster health
// gauge) asks.
type ReadinessCheck struct {
	Name  string
	Check func(context.Context) error
}

// Option changes how New builds the server.
type Option func(*Server)

// WithRoute adds a route outside the main table. Tests use it to exercise
// paths no real handler takes, such as a panic.
func WithRoute(method, path string, h echo.HandlerFunc) Option {
	return func(s *Server) { s.extra = append(s.extra, route{method, path, h}) }
}

// New builds the routes and middleware around deps and binds the
// listeners (cfg.Addr and, when set, cfg.MetricsAddr), so that a port in
// use surfaces here, before anything is served. On failure nothing stays
// open. CheckListenAddr should have been asked before anything else was
// opened.
func New(ctx context.Context, cfg Config, deps Deps, log *slog.Logger, opts ...Option) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log, deps: deps, metrics: newMetrics(deps.ClusterHealth)}
	for _, o := range opts {
		o(s)
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := CheckListenAddr(cfg); err != nil {
		return nil, err
	}
	s.buildEcho()

	if s.listener, err = listen(cfg.Addr, "--addr"); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closeListener(s.listener))
	s.http = s.newHTTPServer(ctx, s.echo)

	if cfg.MetricsAddr != "" {
		if s.opsListener, err = listen(cfg.MetricsAddr, "--metrics-addr"); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, closeListener(s.opsListener))
		s.opsHTTP = s.newHTTPServer(ctx, s.opsHandler())
	}
	return s, nil
}

func listen(addr, setting string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (%s): %w", addr, setting, err)
	}
	return l, nil
}

func closeListener(l net.Listener) func() error {
	return func() error {
		err := l.Close()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	}
}

func (s *Server) newHTTPServer(ctx context.Context, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// Handler is the main listener's handler (every route and middleware),
// for tests that serve requests without a socket.
func (s *Server) Handler() http.Handler { return s.echo }

// URL is the base URL the server answers on (http://127.0.0.1:PORT).
func (s *Server) URL() string {
	return "http://" + s.listener.Addr().String()
}

// MetricsURL is the base URL of the operations listener (--metrics-addr),
// "" when there is none.
func (s *Server) MetricsURL() string {
	if s.opsListener == nil {
		return ""
	}
	return "http://" + s.opsListener.Addr().String()
}

// Metrics gives access to the server's Prometheus series.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Serve answers requests until ctx is cancelled, then stops accepting
// connections, lets in-flight requests finish within ShutdownTimeout and
// closes its listeners. What the composition root opened is its to close.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
	if s.opsHTTP != nil {
		go func() {
			if err := s.opsHTTP.Serve(s.opsListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("operations listener stopped", slog.String("addr", s.cfg.MetricsAddr), slog.String("error", err.Error()))
			}
		}()
		s.log.Info("metrics and readiness details are served", slog.String("url", s.MetricsURL()))
	}
	s.log.Info("FDL Studio is serving", slog.String("url", s.URL()), slog.String("data_dir", s.cfg.DataDir))

	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
		s.log.Info("shutting down", slog.Duration("grace", s.cfg.ShutdownTimeout))
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		if err := s.http.Shutdown(shutdownCtx); err != nil {
			serveErr = fmt.Errorf("graceful shutdown: %w", err)
			s.http.Close()
		}
		<-errc // http.ErrServerClosed
	}
	if s.opsHTTP != nil {
		s.opsHTTP.Close()
	}
	if err := s.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// Close releases what New acquired, in reverse order. It is safe to
// call more than once.
func (s *Server) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// CheckListenAddr refuses to run without a login method anywhere but on
// a loopback address: local single-user mode lets whoever reaches the
// port act as the one user, which is only safe on the machine itself.
func CheckListenAddr(cfg Config) error {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:8080", cfg.Addr)
	}
	if cfg.AuthConfigured() || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without a login method: "+
		"without one, FDL Studio runs in single-user mode and anyone who reaches the port acts as that user. "+
		"Listen on 127.0.0.1 (--addr 127.0.0.1:8080) or configure a login method (see README, Authentication)", cfg.Addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
