package auth

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fdlstudio/fdlstudio/backends/netguard"
)

// Presets are well-known identity providers, filled in by --oidc-preset.
var Presets = map[string]OIDCConfig{
	// EGI Check-in, production. OSCAR clusters of the EGI federation
	// accept its access tokens (they list this issuer in OIDC_ISSUERS).
	"egi": {
		Name:   "EGI Check-in",
		Issuer: "https://aai.egi.eu/auth/realms/egi",
		Scopes: []string{"openid", "profile", "email", "offline_access", "eduperson_entitlement", "entitlements"},
	},
}

// OIDCConfig is one OpenID Connect provider and this installation's
// client registration at it.
type OIDCConfig struct {
	// Name is how the login button names the provider.
	Name   string
	Issuer string
	// ClientID and ClientSecret are the client's registration.
	ClientID     string
	ClientSecret string
	// Scopes asked for; "openid" is added when missing.
	Scopes []string
	// AllowedVOs restricts login to members of these VOs (from the
	// entitlement URNs); empty lets every user of the provider in.
	AllowedVOs []string
	// VORoles are the entitlement roles that count as membership of a VO
	// (the ":role=" part of urn:mace:egi.eu:group:...); empty means
	// DefaultVORoles ("member").
	VORoles []string
}

// Config is how the Manager authenticates users.
type Config struct {
	// OIDC is the OpenID Connect provider; nil when there is none.
	OIDC *OIDCConfig
	// OSCARLogin offers the OSCAR basic login (endpoint, user, password).
	OSCARLogin bool
	// OSCARHosts restricts the endpoints accepted by the OSCAR login (see
	// backends.ValidateEndpoint); empty accepts any http(s) host.
	OSCARHosts []string
	// OSCARGuard, when set, checks every address the OSCAR login connects
	// to (see backends/netguard).
	OSCARGuard *netguard.Guard
	// PublicURL is where users reach the server (the redirect URI is
	// PublicURL + "/auth/callback"). Empty: the request's own host, over
	// http, which is only right for a laptop.
	PublicURL string
	// Key is a 32-byte server secret; CSRF tokens of visitors without a
	// session are derived from it.
	Key []byte
	// IdleTimeout ends a session that has seen no request for this long;
	// MaxAge ends any session this long after login.
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// LocalUser, when set, is the one user of local single-user mode: no
	// login, every request is this user's.
	LocalUser *User
	// LocalToken is the start token that locks local single-user mode to
	// the person who started the server (see LocalURL); required with
	// LocalUser.
	LocalToken string
	// Admins are the administrators: ISSUER#SUBJECT or a verified e-mail
	// (see AdminFormat and Manager.IsAdmin).
	Admins []string
	Log    *slog.Logger
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
}

// Defaults for the session timeouts.
const (
	DefaultIdleTimeout = 8 * time.Hour
	DefaultMaxAge      = 7 * 24 * time.Hour
)

// withDefaults fills in what a caller left zero.
func (c Config) withDefaults() Config {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return c
}

func (o *OIDCConfig) check() error {
	switch {
	case o.Issuer == "":
		return fmt.Errorf("OIDC login needs an issuer (--oidc-issuer or --oidc-preset)")
	case o.ClientID == "":
		return fmt.Errorf("OIDC login with issuer %s needs --oidc-client-id", o.Issuer)
	}
	return nil
}

func (o *OIDCConfig) scopes() []string {
	for _, s := range o.Scopes {
		if s == "openid" {
			return o.Scopes
		}
	}
	return append([]string{"openid"}, o.Scopes...)
}

func (o *OIDCConfig) displayName() string {
	if o.Name != "" {
		return o.Name
	}
	return o.Issuer
}
