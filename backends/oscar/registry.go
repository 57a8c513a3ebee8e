package oscar

import (
	"context"
	"fmt"
	"net/http"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/store"
)

// Options configure the OSCAR backend kind.
type Options struct {
	// Guard, when set, checks every connection to a cluster that is not
	// Trusted (users' registrations, the OSCAR-login cluster) and to the
	// MinIO it reports; nil connects anywhere.
	Guard *netguard.Guard
}

// Register makes this package the backend of OSCAR clusters and of the
// embedded local cluster, which speaks the OSCAR API on its endpoint.
func Register(r *backends.Registry, opts Options) {
	f := &factory{
		secure: NewHTTPClient(false), insecure: NewHTTPClient(true),
		guarded: NewGuardedHTTPClient(false, opts.Guard), guardedInsecure: NewGuardedHTTPClient(true, opts.Guard),
	}
	r.Register(store.KindOSCAR, f.backend)
	r.Register(store.KindLocal, f.backend)
}

// factory builds clients that share one HTTP client per TLS mode and
// trust, so connections to a cluster are reused across requests and
// users; the guarded pair is for clusters the operator did not configure.
type factory struct {
	secure, insecure         *http.Client
	guarded, guardedInsecure *http.Client
}

// httpClient picks the shared client for cluster c.
func (f *factory) httpClient(c store.Cluster) *http.Client {
	switch {
	case c.Trusted && c.InsecureTLS:
		return f.insecure
	case c.Trusted:
		return f.secure
	case c.InsecureTLS:
		return f.guardedInsecure
	default:
		return f.guarded
	}
}

// backend is the backends.Factory: a client for cluster c acting with the
// user's token on token-login clusters, the stored credentials otherwise.
func (f *factory) backend(ctx context.Context, c store.Cluster, act backends.Acting) (backends.Backend, error) {
	cfg := Config{
		Name:               c.Name,
		Endpoint:           c.Endpoint,
		InsecureSkipVerify: c.InsecureTLS,
		HTTPClient:         f.httpClient(c),
	}
	switch c.AuthKind {
	case store.AuthToken:
		if act.AccessToken == nil {
			return nil, &backends.Error{Kind: backends.KindUnauthorized, Backend: fmt.Sprintf("OSCAR cluster %q", c.Name),
				Message: "the cluster takes the user's login token, and there is none"}
		}
		tok, err := act.AccessToken(ctx)
		if err != nil {
			return nil, err
		}
		cfg.Token = tok
	default:
		cfg.Username, cfg.Password = c.Username, c.Password
	}
	return New(cfg)
}
