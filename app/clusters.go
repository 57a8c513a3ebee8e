package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends/local"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/backends/scar"
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
				"with a login method configured it is only for administrators: name them with --admins, each as " + auth.AdminFormat)
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
	s.local = lc
	rec := localClusterRecord(lc)
	// In a multi-user deployment, scripts on this host are for admins.
	rec.AdminOnly = s.cfg.AuthConfigured()
	s.sharedClusters = append(s.sharedClusters, rec)
	s.ready = append(s.ready, web.ReadinessCheck{Name: "cluster " + web.LocalClusterName, Check: healthCheck(lc.Endpoint()+"/health", false)})
	s.log.Info("local cluster is running", slog.String("endpoint", lc.Endpoint()))
	return nil
}

// localClusterRecord is the registration of the embedded local cluster lc:
// shared, trusted (the dial guard does not apply), reached with its own
// credentials.
func localClusterRecord(lc *local.Cluster) store.Cluster {
	user, pass := lc.Credentials()
	return store.Cluster{
		Name: web.LocalClusterName, Kind: store.KindLocal, Endpoint: lc.Endpoint(), AuthKind: store.AuthBasic,
		Username: user, Password: pass, Shared: true, Trusted: true,
	}
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
	// The operator's AWS accounts: held here only (never stored), their
	// keys used on the server side alone.
	if slices.Contains(s.cfg.AWSAccounts, scar.WayOperator) {
		for _, a := range s.cfg.AWSOperatorAccounts {
			s.sharedClusters = append(s.sharedClusters, store.Cluster{
				Name: a.Name, Kind: store.KindAWS, Endpoint: a.Region, AuthKind: store.AuthAWSOperator,
				Username: a.AccessKeyID, Password: a.SecretAccessKey, Shared: true, Trusted: true, AdminOnly: a.AdminsOnly,
			})
		}
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

// isAdmin reports whether u is an administrator (auth.Manager.IsAdmin).
func (s *App) isAdmin(u *auth.User) bool { return s.auth.IsAdmin(u) }

// localTokenFile keeps the start token of local single-user mode in the
// data directory, so a bookmarked start URL keeps working across
// restarts. Deleting it makes the next start choose a new token, which
// locks out every browser that had the old one.
const localTokenFile = "local-token"

// loadOrCreateLocalToken returns the start token kept in dataDir,
// creating it (0600, 32 random bytes) on first use.
func loadOrCreateLocalToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, localTokenFile)
	data, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(data))
		if len(tok) < 32 {
			return "", fmt.Errorf("start token file %s is damaged (too short): delete it and FDL Studio makes a new one", path)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading the start token of local mode: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("saving the start token of local mode: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("saving the start token of local mode: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("saving the start token of local mode: %w", err)
	}
	return tok, nil
}

// OpenURL is the URL to open in local single-user mode, with the start
// token (auth.LocalURL); "" with a login method. main prints it once, in
// the start-up line meant for the person who started the server; it is
// never logged.
func (s *App) OpenURL() string {
	if s.localToken == "" {
		return ""
	}
	return auth.LocalURL(s.URL(), s.localToken)
}
