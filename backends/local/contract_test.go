package local_test

import (
	"strings"
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

// TestSubmitJobNamesTheJob: the local cluster says which job /job started,
// so the OSCAR client's reference is exact, not the newest-job guess it
// makes on OSCAR.
func TestSubmitJobNamesTheJob(t *testing.T) {
	c := local.StartForTest(t)
	user, pass := c.Credentials()
	cl, err := oscar.New(oscar.Config{Name: "local", Endpoint: c.Endpoint(), Username: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	svc := &backends.Service{Name: "refs", Image: "-", Script: "#!/bin/sh\necho started\n", Memory: "64Mi", CPU: "0.1"}
	if err := cl.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	a, err := cl.SubmitJob(ctx, "refs", strings.NewReader(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cl.SubmitJob(ctx, "refs", strings.NewReader(`{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Guess || b.Guess || a.Name == "" || a.Name == b.Name {
		t.Fatalf("SubmitJob refs = %+v, %+v; want two exact, different job names", a, b)
	}
	list, err := cl.ListJobs(ctx, "refs", "")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, j := range list.Jobs {
		if j.Name == a.Name || j.Name == b.Name {
			found++
		}
	}
	if found != 2 {
		t.Errorf("jobs %+v do not include both %q and %q", list.Jobs, a.Name, b.Name)
	}
}
