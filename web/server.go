// Package web is the HTTP face of FDL Studio: the Echo instance, the one
// route table, the middleware chain, the error handler and asset serving.
// Open builds everything from a Config; Serve runs until its context ends
// and then shuts down gracefully.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/handlers"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
)

// Server is a running FDL Studio: its listener, its store and its routes.
type Server struct {
	cfg      Config
	log      *slog.Logger
	echo     *echo.Echo
	http     *http.Server
	listener net.Listener
	metrics  *Metrics
	handlers *handlers.Handler

	db     *sqlite.DB
	sealer *store.Sealer
	// localUser is the one user of local single-user mode, nil when a
	// login method is configured.
	localUser *auth.User
	// auth logs users in and keeps their sessions; login serves its pages.
	auth  *auth.Manager
	login *handlers.Login

	// sharedClusters are the clusters everyone sees: the operator's and
	// the embedded local cluster.
	sharedClusters []store.Cluster
	// guard checks connections to endpoints users chose; nil in local
	// single-user mode (web/guard.go).
	guard *netguard.Guard

	// closers are released in reverse order by Close.
	closers []func() error
	// extra are routes added by Option, outside the main table.
	extra []route
	ready []ReadinessCheck
}

// ReadinessCheck is one dependency that /readyz asks.
type ReadinessCheck struct {
	Name  string
	Check func(context.Context) error
}

// Option changes how Open builds the server.
type Option func(*Server)

// WithRoute adds a route outside the main table. Tests use it to exercise
// paths no real handler takes, such as a panic.
func WithRoute(method, path string, h echo.HandlerFunc) Option {
	return func(s *Server) { s.extra = append(s.extra, route{method, path, h}) }
}

// Open checks the configuration, prepares the data directory, opens the
// store and binds the listener, so that every start-up failure surfaces
// here, before anything is served. On failure nothing stays open.
func Open(ctx context.Context, cfg Config, log *slog.Logger, opts ...Option) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log, metrics: newMetrics()}
	for _, o := range opts {
		o(s)
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	if err := checkListenAddr(cfg); err != nil {
		return nil, err
	}
	if err := s.setupDialGuard(); err != nil {
		return nil, err
	}
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	keyFile := cfg.SecretKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.DataDir, "secret.key")
	}
	key, err := store.LoadOrCreateKey(keyFile)
	if err != nil {
		return nil, err
	}
	if s.sealer, err = store.NewSealer(key); err != nil {
		return nil, err
	}

	s.db, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "fdlstudio.db"))
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.db.Close)
	s.ready = append(s.ready, ReadinessCheck{Name: "store", Check: s.db.Ping})

	if !cfg.AuthConfigured() {
		// Local single-user mode: everyone who reaches the (loopback)
		// port is this one user.
		u, err := s.db.UpsertUser(ctx, "local", "local", "Local user", "")
		if err != nil {
			return nil, err
		}
		s.localUser = &auth.User{ID: u.ID, Issuer: u.Issuer, Subject: u.Subject, Name: u.Name, Mode: auth.ModeLocal}
	}

	// Authentication: OpenID Connect discovery happens here, so a wrong
	// or unreachable issuer stops the start with its name and the cause.
	oidcCfg, err := cfg.OIDC()
	if err != nil {
		return nil, err
	}
	s.auth, err = auth.New(ctx, auth.Config{
		OIDC: oidcCfg, OSCARLogin: cfg.OSCARLogin, OSCARHosts: cfg.OSCARLoginHosts, OSCARGuard: s.guard,
		PublicURL: cfg.PublicURL, Key: key, IdleTimeout: cfg.SessionIdleTimeout, MaxAge: cfg.SessionMaxAge,
		LocalUser: s.localUser, Log: log,
	}, s.db, s.sealer)
	if err != nil {
		return nil, err
	}

	if err := s.addSharedClusters(); err != nil {
		return nil, err
	}
	runLocal, err := localClusterEnabled(cfg)
	if err != nil {
		return nil, err
	}
	if runLocal {
		if err := s.startLocalCluster(ctx); err != nil {
			return nil, err
		}
	}

	s.buildEcho()

	s.listener, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (--addr): %w", cfg.Addr, err)
	}
	s.closers = append(s.closers, func() error {
		err := s.listener.Close()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	})
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	return s, nil
}

// sessionCluster is the OSCAR cluster the request's user logged in to
// with the OSCAR basic login, so it shows among their clusters as on the
// OSCAR dashboard; none for other sessions.
func (s *Server) sessionCluster(ctx context.Context) (store.Cluster, bool) {
	cred, ok, err := s.auth.OSCARCredentials(ctx)
	if err != nil || !ok {
		return store.Cluster{}, false
	}
	name := cred.Endpoint
	if u, err := url.Parse(cred.Endpoint); err == nil && u.Hostname() != "" {
		name = u.Hostname()
	}
	return store.Cluster{
		Name: name, Endpoint: cred.Endpoint, AuthKind: store.AuthBasic,
		Username: cred.Username, Password: cred.Password, Shared: true,
	}, true
}

// oidcAccessToken is how handlers get the request's user's OIDC access
// token (refreshed when needed); nil when no OIDC provider is configured.
func (s *Server) oidcAccessToken() func(context.Context) (string, error) {
	if _, ok := s.auth.OIDCEnabled(); !ok {
		return nil
	}
	return s.auth.AccessToken
}

// URL is the base URL the server answers on (http://127.0.0.1:PORT).
func (s *Server) URL() string {
	return "http://" + s.listener.Addr().String()
}

// Metrics gives access to the server's Prometheus series.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Serve answers requests until ctx is cancelled, then stops accepting
// connections, lets in-flight requests finish within ShutdownTimeout and
// releases everything Open acquired.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
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
	if err := s.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// Close releases what Open acquired, in reverse order. It is safe to
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

// checkListenAddr refuses to run without a login method anywhere but on
// a loopback address: local single-user mode lets whoever reaches the
// port act as the one user, which is only safe on the machine itself.
func checkListenAddr(cfg Config) error {
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

// prepareDataDir creates the data directory and proves it is writable,
// so that a read-only disk is reported once, clearly, at start-up.
func prepareDataDir(dir string) error {
	if dir == "" {
		return errors.New("--data-dir is empty: give a directory for the database and keys")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s (--data-dir): %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data directory %s (--data-dir) is not writable: %w", dir, err)
	}
	_, werr := io.WriteString(probe, "ok")
	probe.Close()
	os.Remove(probe.Name())
	if werr != nil {
		return fmt.Errorf("data directory %s (--data-dir) is not writable: %w", dir, werr)
	}
	return nil
}
