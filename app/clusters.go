package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends/local"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/web"
)

// localClusterEnabled decides whether to run the embedded local cluster.
// It runs user scripts on this host, so it is on by default only in local
// single-user mode; with a login method configured it stays off unless
// the operator turns it on, and then only administrators see it.
func localClusterEnabled(cfg web.Config) (bool, error) {
	switch cfg.LocalCluster {
	case "", "auto":
		return !cfg.AuthConfigured(), nil
	case "off":
		return false, nil
	case "on":
		if cfg.AuthConfigured() && len(cfg.Admins) == 0 {
			return false, errors.New("--local-cluster on: the local cluster runs scripts on this host as the server's user; " +
				"with a login method configured it is only for administrators: name them with --admins (e-mails or OIDC subjects)")
		}
		return true, nil
	}
	return false, fmt.Errorf("--local-cluster %q: want auto, on or off", cfg.LocalCluster)
}

// startLocalCluster starts the embedded local cluster with its data under
// <data-dir>/local and registers it as the shared cluster "local". The
// cluster (and its S3 server child process) stops when the app closes.
func (s *App) startLocalCluster(ctx context.Context) error {
	// With a login method, several people share this host: jobs run in a
	// sandbox with limits (New refuses to start without bubblewrap).
	lc, err := local.New(local.Config{DataDir: filepath.Join(s.cfg.DataDir, "local"), Sandbox: s.cfg.AuthConfigured()}, s.log)
	if err != nil {
		return err
	}
	if err := lc.Start(ctx); err != nil {
		lc.Close()
		return err
	}
	s.closers = append(s.closers, lc.Close)
	user, pass := lc.Credentials()
	s.sharedClusters = append(s.sharedClusters, store.Cluster{
		Name: web.LocalClusterName, Kind: store.KindLocal, Endpoint: lc.Endpoint(), AuthKind: store.AuthBasic,
		Username: user, Password: pass, Shared: true, Trusted: true,
		// In a multi-user deployment, scripts on this host are for admins.
		AdminOnly: s.cfg.AuthConfigured(),
	})
	s.ready = append(s.ready, web.ReadinessCheck{Name: "cluster " + web.LocalClusterName, Check: healthCheck(lc.Endpoint()+"/health", false)})
	s.log.Info("local cluster is running", slog.String("endpoint", lc.Endpoint()))
	return nil
}

// addSharedClusters registers the operator's clusters and their health
// checks, which /metrics reports (not /readyz: a remote cluster being
// down does not mean this instance cannot serve).
func (s *App) addSharedClusters() error {
	for _, c := range s.cfg.Clusters {
		sc := store.Cluster{
			Name: c.Name, Kind: store.KindOSCAR, Endpoint: strings.TrimRight(c.Endpoint, "/"), AuthKind: store.AuthToken,
			InsecureTLS: c.InsecureTLS, Shared: true, Trusted: true,
		}
		if c.Username != "" {
			sc.AuthKind, sc.Username, sc.Password, sc.AdminOnly = store.AuthBasic, c.Username, c.Password, true
		} else if s.cfg.OIDCIssuer == "" && s.cfg.OIDCPreset == "" {
			return fmt.Errorf("cluster %q in the config file has no username, so users reach it with their OpenID Connect token, "+
				"but no OpenID Connect login is configured (--oidc-issuer or --oidc-preset); give it a username and password (admins only) or configure OIDC", c.Name)
		}
		s.sharedClusters = append(s.sharedClusters, sc)
		s.clusterHealth = append(s.clusterHealth, web.ReadinessCheck{Name: c.Name, Check: healthCheck(sc.Endpoint+"/health", c.InsecureTLS)})
	}
	return nil
}

// healthCheck returns a readiness check that GETs url and wants 200.
func healthCheck(url string, insecure bool) func(context.Context) error {
	client := oscar.NewHTTPClient(insecure)
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// isAdmin reports whether u is an administrator: in local single-user
// mode the one user is; otherwise users who logged in through OpenID
// Connect and are named in --admins by e-mail (any case) or subject. An
// OSCAR basic login never makes an admin: its user name is whatever the
// endpoint it was checked against accepts.
func (s *App) isAdmin(u *auth.User) bool {
	if u == nil {
		return false
	}
	if u.Mode == auth.ModeLocal {
		return true
	}
	if u.Mode != auth.ModeOIDC {
		return false
	}
	for _, a := range s.cfg.Admins {
		if (u.Email != "" && strings.EqualFold(a, u.Email)) || a == u.Subject {
			return true
		}
	}
	return false
}
