package local_test

import (
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest"
	"github.com/fdlstudio/fdlstudio/backends/local"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
)

// TestOSCARClientContract runs the backend contract through the OSCAR REST
// client against the local cluster, exactly as against a real OSCAR, and
// checks every exchange against the published OSCAR API spec.
func TestOSCARClientContract(t *testing.T) {
	c := local.StartForTest(t)
	user, pass := c.Credentials()
	checker := oscartest.NewChecker(oscartest.LoadSpec(t))
	// The cluster announces v3.6.4, so the client sends v3-shaped services
	// (e.g. a scalar expose.api_port) that the v4.1.2 spec would refuse.
	checker.Legacy = true
	backendstest.RunContract(t, func(t *testing.T) backends.Backend {
		hc := oscar.NewHTTPClient(false)
		hc.Transport = checker.RoundTripper(t, hc.Transport)
		cl, err := oscar.New(oscar.Config{Name: "local", Endpoint: c.Endpoint(), Username: user, Password: pass, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	})
}
