package app

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends/netguard"
)

// WithDialGuard makes FDL Studio dial user-supplied endpoints through g,
// in every mode. Tests give a guard whose resolver and dialer never leave
// loopback.
func WithDialGuard(g *netguard.Guard) Option {
	return func(a *App) { a.guard = g }
}

// setupDialGuard checks the settings of outbound connections and builds
// the guard for endpoints users chose (clusters they register or import,
// the MinIO those report, OSCAR logins). With a login method the guard is
// on; in local single-user mode the one user is the operator and none
// applies. Operator-configured clusters and the local cluster are
// Trusted and never guarded (handlers.Handler.httpClient).
func (s *App) setupDialGuard() error {
	cfg := s.cfg
	if cfg.OSCARLogin && len(cfg.OSCARLoginHosts) == 0 {
		return errors.New("--oscar-login needs --oscar-login-hosts: the hosts of the OSCAR clusters users may log in to " +
			"(e.g. oscar.example.org or *.example.org); without the list, anyone who reaches the login page could make this server connect anywhere")
	}
	allow, err := netguard.ParseAllow(cfg.AllowPrivateEndpoints)
	if err != nil {
		return err
	}
	switch {
	case s.guard != nil:
	case cfg.AuthConfigured():
		s.guard = netguard.New(netguard.Options{Allow: allow})
	default:
		s.log.Info("dial guard off: in local single-user mode the one user may register clusters at any address")
		return nil
	}
	attrs := []any{slog.String(strings.TrimPrefix(netguard.AllowSetting, "--"), strings.Join(cfg.AllowPrivateEndpoints, ","))}
	if len(cfg.ClusterHosts) == 0 {
		attrs = append(attrs, slog.String("cluster-hosts", "none set: users may register any host, but not one that resolves to a private address"))
	}
	s.log.Info("dial guard on: clusters users register, the MinIO they report and OSCAR logins may not reach loopback, link-local, private, CGNAT, multicast or unspecified addresses", attrs...)
	return nil
}
