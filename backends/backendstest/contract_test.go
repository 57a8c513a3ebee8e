package backendstest_test

import (
	"net/http"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
)

// TestContractOSCARClient runs the contract against the OSCAR client talking
// to the spec-checked fake OSCAR (files on a real versitygw). Both sides are
// checked: the fake's middleware and the client's transport.
func TestContractOSCARClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts oscartest.Options
		cfg  func(*oscartest.Server) oscar.Config
	}{
		{name: "v4.1.2 basic auth", opts: oscartest.Options{}, cfg: func(s *oscartest.Server) oscar.Config {
			return oscar.Config{Name: "fake", Endpoint: s.URL, Username: "oscar", Password: "oscar-pass"}
		}},
		{name: "v4.1.2 OIDC token", opts: oscartest.Options{Token: "oidc-token"}, cfg: func(s *oscartest.Server) oscar.Config {
			return oscar.Config{Name: "fake", Endpoint: s.URL, Token: "oidc-token"}
		}},
		{name: "v3.6.0 no serverless", opts: oscartest.Options{Version: "v3.6.0", NoServerless: true}, cfg: func(s *oscartest.Server) oscar.Config {
			return oscar.Config{Name: "old", Endpoint: s.URL, Username: "oscar", Password: "oscar-pass"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s3 := s3test.Start(t)
			opts := tc.opts
			opts.S3Endpoint, opts.S3AccessKey, opts.S3SecretKey = s3.Endpoint, s3.AccessKey, s3.SecretKey
			srv := oscartest.NewServer(t, opts)
			backendstest.RunContract(t, func(t *testing.T) backends.Backend {
				cfg := tc.cfg(srv)
				cfg.HTTPClient = &http.Client{Transport: srv.Checker.RoundTripper(t, http.DefaultTransport)}
				c, err := oscar.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return c
			})
		})
	}
}
