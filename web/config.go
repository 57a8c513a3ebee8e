package web

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/fdlstudio/fdlstudio/auth"
)

// Config is every setting of FDL Studio, built by cmd/fdlstudio from
// flags, environment and the config file, or directly by tests; the
// composition root (package app) and the HTTP layer read it.
type Config struct {
	// Addr is the host:port to listen on.
	Addr string
	// MetricsAddr, when set, is a second host:port that serves /metrics,
	// /readyz with details and /healthz for the operator's monitoring;
	// the main address then serves no /metrics. Empty: /metrics and the
	// /readyz details are served on Addr to administrators only.
	MetricsAddr string
	// DataDir holds the database, the secret key and local-cluster data.
	DataDir string
	// PublicURL is the URL users reach the server at (behind a proxy it
	// differs from Addr); https turns on Secure cookies and HSTS.
	PublicURL string
	// SecretKeyFile is the key that encrypts secrets at rest; generated
	// on first run when absent. Empty means <DataDir>/secret.key.
	SecretKeyFile string
	// LogFormat is "text" or "json"; LogLevel "debug", "info", "warn"
	// or "error". main builds the logger from them.
	LogFormat string
	LogLevel  string
	// MaxBodyBytes caps request bodies (uploads stream past it on their
	// own routes).
	MaxBodyBytes int64
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish after SIGINT/SIGTERM.
	ShutdownTimeout time.Duration
	// LiveMaxAge is how long a live-update WebSocket stays open before
	// the server closes it and the page reconnects (resuming where it
	// was), so that the session is checked again (default 10 minutes).
	LiveMaxAge time.Duration
	// LocalCluster runs the embedded local cluster: "auto" (in local
	// single-user mode only), "on" or "off". See app/clusters.go.
	LocalCluster string
	// AWSAccounts are the enabled ways to use AWS accounts: "user"
	// (users register access keys), "default-chain" (the server's own
	// credentials) and "operator" (AWSOperatorAccounts). Empty: no AWS
	// accounts.
	AWSAccounts []string
	// AWSOperatorAccounts are AWS accounts the operator provides (the
	// config file's "operator-aws-accounts"); used only when AWSAccounts
	// enables "operator".
	AWSOperatorAccounts []AWSAccountConfig
	// Clusters are OSCAR clusters the operator shares with every user.
	Clusters []ClusterConfig
	// ClusterHosts, when not empty, limits the cluster endpoints users may
	// register, so FDL Studio cannot be used to reach internal addresses.
	ClusterHosts []string
	// AllowPrivateEndpoints are networks (CIDRs or addresses) that
	// clusters users register, the MinIO those report and OSCAR logins
	// may reach although private; see app/guard.go.
	AllowPrivateEndpoints []string
	// Admins are the administrators: ISSUER#SUBJECT, or an e-mail address
	// that the provider marks verified (auth.AdminFormat). With a login
	// method, only they may use the embedded local cluster.
	Admins []string

	// OIDCPreset names a known provider whose issuer and scopes fill in
	// what OIDCIssuer and OIDCScopes leave empty ("egi").
	OIDCPreset string
	// OIDCIssuer, OIDCClientID and OIDCClientSecret are the OpenID Connect
	// provider and this installation's client registration at it. The
	// secret can instead be read from OIDCClientSecretFile.
	OIDCIssuer           string
	OIDCClientID         string
	OIDCClientSecret     string
	OIDCClientSecretFile string
	// OIDCScopes are the scopes asked for (empty: the preset's, or
	// "openid profile email offline_access").
	OIDCScopes []string
	// OIDCAllowedVOs restricts login to members of these VOs.
	OIDCAllowedVOs []string
	// OIDCVORoles are the entitlement roles that count as VO membership
	// (empty: auth.DefaultVORoles, "member").
	OIDCVORoles []string
	// OSCARLogin offers the OSCAR basic login (endpoint, user, password);
	// OSCARLoginHosts restricts the endpoints it accepts.
	OSCARLogin      bool
	OSCARLoginHosts []string
	// SessionIdleTimeout and SessionMaxAge end sessions after inactivity
	// and after a fixed time since login.
	SessionIdleTimeout time.Duration
	SessionMaxAge      time.Duration
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         "data",
		LogFormat:       "text",
		LogLevel:        "info",
		MaxBodyBytes:    10 << 20,
		ShutdownTimeout: 15 * time.Second,
		LiveMaxAge:      10 * time.Minute,
		LocalCluster:    "auto",

		SessionIdleTimeout: auth.DefaultIdleTimeout,
		SessionMaxAge:      auth.DefaultMaxAge,
	}
}

// AuthConfigured reports whether a login method is configured. Without
// one the server runs in local single-user mode, which is only allowed on
// a loopback address.
func (c Config) AuthConfigured() bool {
	return c.OIDCIssuer != "" || c.OIDCPreset != "" || c.OSCARLogin
}

// defaultScopes are asked of a provider without a preset.
var defaultScopes = []string{"openid", "profile", "email", "offline_access"}

// OIDC resolves the OpenID Connect settings: the preset fills in the
// issuer and scopes, the secret file is read. It returns nil when no
// provider is configured, and an error that names the setting when the
// configuration is incomplete.
func (c Config) OIDC() (*auth.OIDCConfig, error) {
	if c.OIDCIssuer == "" && c.OIDCPreset == "" {
		if c.OIDCClientID != "" {
			return nil, errors.New("--oidc-client-id is set but there is no --oidc-issuer or --oidc-preset")
		}
		return nil, nil
	}
	o := &auth.OIDCConfig{Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret,
		Scopes: c.OIDCScopes, AllowedVOs: c.OIDCAllowedVOs, VORoles: c.OIDCVORoles}
	if c.OIDCPreset != "" {
		p, ok := auth.Presets[c.OIDCPreset]
		if !ok {
			names := make([]string, 0, len(auth.Presets))
			for n := range auth.Presets {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("--oidc-preset %q: unknown preset (known: %s)", c.OIDCPreset, strings.Join(names, ", "))
		}
		o.Name = p.Name
		if o.Issuer == "" {
			o.Issuer = p.Issuer
		}
		if len(o.Scopes) == 0 {
			o.Scopes = p.Scopes
		}
	}
	if len(o.Scopes) == 0 {
		o.Scopes = defaultScopes
	}
	if o.ClientID == "" {
		return nil, fmt.Errorf("OpenID Connect login with issuer %s needs --oidc-client-id (the client registered at the provider)", o.Issuer)
	}
	if c.OIDCClientSecretFile != "" {
		if c.OIDCClientSecret != "" {
			return nil, errors.New("give --oidc-client-secret or --oidc-client-secret-file, not both")
		}
		data, err := os.ReadFile(c.OIDCClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		o.ClientSecret = strings.TrimSpace(string(data))
		if o.ClientSecret == "" {
			return nil, fmt.Errorf("--oidc-client-secret-file %s is empty", c.OIDCClientSecretFile)
		}
	}
	return o, nil
}

// AWSAccountConfig is an AWS account the operator provides to every user
// (or, with AdminsOnly, to the administrators): whoever uses it acts as
// its access key. The secret is read from a file or an environment
// variable, never given on the command line; it stays in the server's
// memory and is never stored or shown.
type AWSAccountConfig struct {
	Name            string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	AdminsOnly      bool
}

// LocalClusterName is the name under which the embedded local cluster
// appears in every user's cluster list.
const LocalClusterName = "local"

// ClusterConfig is an OSCAR cluster the operator configures for every
// user (the config file's "clusters" list). Without a username, each user
// reaches it with their own OIDC access token (as EGI's clusters accept);
// with a username and password (an OSCAR account, often the cluster's
// admin), only FDL Studio's administrators may use it, since whoever uses
// it acts as that account. Credentials stay on the server.
type ClusterConfig struct {
	Name        string
	Endpoint    string
	Username    string
	Password    string
	InsecureTLS bool
}
