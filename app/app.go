// Package app is the composition root of FDL Studio: the one place that
// wires the parts together. Open prepares the data directory, loads the
// secret key, opens the store, sets up authentication, the operator's
// shared clusters and the embedded local cluster, and hands them to the
// HTTP layer (package web). cmd/fdlstudio and the browser end-to-end
// tests (e2e) both start FDL Studio through Open.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/local"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/handlers"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
	"github.com/fdlstudio/fdlstudio/web"
)

// App is a wired FDL Studio: what Open acquired, and the HTTP server
// around it.
type App struct {
	cfg    web.Config
	log    *slog.Logger
	server *web.Server

	db     *sqlite.DB
	sealer *store.Sealer
	// localUser is the one user of local single-user mode, nil when a
	// login method is configured.
	localUser *auth.User
	// localToken is the start token of local single-user mode (see
	// OpenURL); it is shown only in the start-up line.
	localToken string
	auth       *auth.Manager

	// sharedClusters are the clusters everyone sees: the operator's and
	// the embedded local cluster.
	sharedClusters []store.Cluster
	// ready are this instance's own dependencies (/readyz);
	// clusterHealth the shared remote clusters' (/metrics).
	ready, clusterHealth []web.ReadinessCheck

	// local is the embedded local cluster, nil when it does not run.
	local *local.Cluster

	// guard checks connections to endpoints users chose; nil in local
	// single-user mode (guard.go).
	guard *netguard.Guard
	// webOpts are passed on to web.New.
	webOpts []web.Option
	// awsEndpoints and awsDefaults configure the AWS backend (WithAWS).
	awsEndpoints map[string]string
	awsDefaults  scar.Defaults

	// closers are released in reverse order by Close.
	closers []func() error
}

// Option changes how Open builds FDL Studio.
type Option func(*App)

// WithWeb passes options on to the HTTP layer (web.New), such as a test
// route (web.WithRoute).
func WithWeb(opts ...web.Option) Option {
	return func(a *App) { a.webOpts = append(a.webOpts, opts...) }
}

// WithAWS points the AWS backend at other service endpoints and gives
// accounts defaults (tests: the fake control plane of backends/scar/awstest
// and its execution role).
func WithAWS(endpoints map[string]string, defaults scar.Defaults) Option {
	return func(a *App) { a.awsEndpoints, a.awsDefaults = endpoints, defaults }
}

// Open checks the configuration, prepares the data directory, opens the
// store, starts what runs beside the server and binds the listeners, so
// that every start-up failure surfaces here, before anything is served.
// On failure nothing stays open.
func Open(ctx context.Context, cfg web.Config, log *slog.Logger, opts ...Option) (_ *App, err error) {
	a := &App{cfg: cfg, log: log}
	for _, o := range opts {
		o(a)
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if err := web.CheckListenAddr(cfg); err != nil {
		return nil, err
	}
	if err := a.setupDialGuard(); err != nil {
		return nil, err
	}
	var key []byte
	if a.db, a.sealer, key, err = OpenStore(ctx, cfg.DataDir, cfg.SecretKeyFile); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.db.Close)
	a.ready = append(a.ready, web.ReadinessCheck{Name: "store", Check: a.db.Ping})

	if !cfg.AuthConfigured() {
		// Local single-user mode: everyone who reaches the (loopback)
		// port is this one user.
		u, err := a.db.UpsertUser(ctx, "local", "local", "Local user", "")
		if err != nil {
			return nil, err
		}
		a.localUser = &auth.User{ID: u.ID, Issuer: u.Issuer, Subject: u.Subject, Name: u.Name, Mode: auth.ModeLocal}
		if a.localToken, err = loadOrCreateLocalToken(cfg.DataDir); err != nil {
			return nil, err
		}
	}

	// Authentication: OpenID Connect discovery happens here, so a wrong
	// or unreachable issuer stops the start with its name and the cause.
	oidcCfg, err := cfg.OIDC()
	if err != nil {
		return nil, err
	}
	a.auth, err = auth.New(ctx, auth.Config{
		OIDC: oidcCfg, OSCARLogin: cfg.OSCARLogin, OSCARHosts: cfg.OSCARLoginHosts, OSCARGuard: a.guard,
		PublicURL: cfg.PublicURL, Key: key, IdleTimeout: cfg.SessionIdleTimeout, MaxAge: cfg.SessionMaxAge,
		LocalUser: a.localUser, LocalToken: a.localToken, Admins: cfg.Admins, Log: log,
	}, a.db, a.sealer)
	if err != nil {
		return nil, err
	}

	if err := a.addSharedClusters(); err != nil {
		return nil, err
	}
	runLocal, err := localClusterEnabled(cfg)
	if err != nil {
		return nil, err
	}
	if runLocal {
		if err := a.startLocalCluster(ctx); err != nil {
			return nil, err
		}
	}

	// Live monitoring: one poller per watched service, closed after the
	// server so that open WebSockets end.
	// The logs of watched jobs are archived as they end.
	hub := watch.New(watch.Options{Log: log, Finished: handlers.ArchiveFinished(a.db, func(err error) {
		log.Warn("live monitoring: archiving a finished job's log", "err", err)
	})})
	a.closers = append(a.closers, hub.Close)
	if a.local != nil {
		// The local cluster says when its jobs change: its viewers are
		// told at once instead of at the next poll.
		stop := a.local.WatchJobs(func(service, _ string) { hub.WakeService(web.LocalClusterName, service) })
		a.closers = append(a.closers, func() error { stop(); return nil })
	}

	a.server, err = web.New(ctx, cfg, web.Deps{
		Handlers: handlers.Deps{
			Clusters:       a.db.Clusters(a.sealer),
			SharedClusters: a.sharedClusters,
			AccessToken:    a.oidcAccessToken(),
			SessionTokens:  a.sessionTokens(),
			IsAdmin:        a.isAdmin,
			AllowedHosts:   cfg.ClusterHosts,
			AWSWays:        userAWSWays(cfg.AWSAccounts),
			SessionCluster: a.sessionCluster,
			Backends:       a.backends(),
			Sealer:         a.sealer,
			Workflows:      a.db.Workflows(),
			Live:           hub,
			PublicURL:      cfg.PublicURL,
			JobLogs:        a.db,
			LiveMaxAge:     cfg.LiveMaxAge,
			APITokens:      a.auth,
			Deployments:    a.db.Deployments(a.sealer),
			Traces:         a.localTraces,
		},
		Auth:          a.auth,
		LocalUser:     a.localUser,
		Ready:         a.ready,
		ClusterHealth: a.clusterHealth,
	}, log, a.webOpts...)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.server.Close)
	return a, nil
}

// backends is the registry of backend kinds this build reaches: OSCAR
// clusters, the embedded local cluster through its OSCAR API, and AWS
// accounts when the operator enabled them (--aws-accounts). Clusters
// users chose are dialled through the guard.
func (a *App) backends() *backends.Registry {
	reg := backends.NewRegistry()
	registerKinds(reg, a.guard)
	if len(a.cfg.AWSAccounts) > 0 {
		scar.Register(reg, scar.Options{Ways: a.cfg.AWSAccounts, Endpoints: a.awsEndpoints, Defaults: a.awsDefaults})
	}
	return reg
}

// userAWSWays are the enabled AWS ways users register accounts with (the
// clusters page's form): the operator's accounts are not registered.
func userAWSWays(ways []string) []string {
	return slices.DeleteFunc(slices.Clone(ways), func(w string) bool { return w == scar.WayOperator })
}

// registerKinds adds the backend kinds that need no operator setting to reg (AWS accounts are added by App.backends when enabled); guard
// (nil: none) checks connections to endpoints users chose.
func registerKinds(reg *backends.Registry, guard *netguard.Guard) {
	oscar.Register(reg, oscar.Options{Guard: guard})
}

// OpenStore prepares the data directory, loads (or on first run creates)
// the secret key and opens the store in it, migrating its schema. It
// returns the store, the sealer for secrets at rest and the key itself
// (from which other keys are derived). The server and the command-line
// tools that write the store open it here. keyFile "" means
// <dataDir>/secret.key.
func OpenStore(ctx context.Context, dataDir, keyFile string) (*sqlite.DB, *store.Sealer, []byte, error) {
	if err := prepareDataDir(dataDir); err != nil {
		return nil, nil, nil, err
	}
	if keyFile == "" {
		keyFile = filepath.Join(dataDir, "secret.key")
	}
	key, err := store.LoadOrCreateKey(keyFile)
	if err != nil {
		return nil, nil, nil, err
	}
	sealer, err := store.NewSealer(key)
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "fdlstudio.db"), sqlite.WithSealer(sealer))
	if err != nil {
		return nil, nil, nil, err
	}
	return db, sealer, key, nil
}

// URL is the base URL the server answers on (http://127.0.0.1:PORT).
func (a *App) URL() string { return a.server.URL() }

// Server is the HTTP layer, for tests that look at its metrics or serve
// requests without a socket.
func (a *App) Server() *web.Server { return a.server }

// Serve answers requests until ctx is cancelled, shuts the server down
// gracefully (web.Server.Serve) and then releases everything Open
// acquired.
func (a *App) Serve(ctx context.Context) error {
	err := a.server.Serve(ctx)
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close releases what Open acquired, in reverse order. It is safe to
// call more than once.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}

// sessionCluster is the OSCAR cluster the request's user logged in to
// with the OSCAR basic login, so it shows among their clusters as on the
// OSCAR dashboard; none for other sessions.
func (a *App) sessionCluster(ctx context.Context) (store.Cluster, bool) {
	cred, ok, err := a.auth.OSCARCredentials(ctx)
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
func (a *App) oidcAccessToken() func(context.Context) (string, error) {
	if _, ok := a.auth.OIDCEnabled(); !ok {
		return nil
	}
	return a.auth.AccessToken
}

// sessionTokens is how handlers get, during a request, the access token
// of the request's session for work that goes on after it (the live
// hub polling for the user): each call reads the session again, so the
// work stops acting for the user when the session ends. nil when no OIDC
// provider is configured.
func (a *App) sessionTokens() func(context.Context) (func(context.Context) (string, error), error) {
	if _, ok := a.auth.OIDCEnabled(); !ok {
		return nil
	}
	return func(ctx context.Context) (func(context.Context) (string, error), error) {
		ts, err := a.auth.TokenSource(ctx)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (string, error) {
			tok, err := ts.TokenContext(ctx)
			if err != nil {
				return "", err
			}
			return tok.AccessToken, nil
		}, nil
	}
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
