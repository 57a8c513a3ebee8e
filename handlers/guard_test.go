package handlers

import (
	"errors"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends/clusters"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/backends/netguard/guardtest"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/store"
)

// invokeHandler runs handler h for user 7 with route params (name, value, ...).
func invokeHandler(t *testing.T, h echo.HandlerFunc, method, target string, params ...string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	return invokeHandlerAs(t, 7, h, httptest.NewRequest(method, target, nil), params...)
}

// invokeHandlerAs runs handler h for user id on req with route params.
func invokeHandlerAs(t *testing.T, id int64, h echo.HandlerFunc, req *http.Request, params ...string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	req = req.WithContext(auth.WithUser(req.Context(), &auth.User{ID: id, Mode: auth.ModeOIDC}))
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(req, rec)
	var names, values []string
	for i := 0; i+1 < len(params); i += 2 {
		names, values = append(names, params[i]), append(values, params[i+1])
	}
	c.SetParamNames(names...)
	c.SetParamValues(values...)
	return rec, h(c)
}

// The attack of issue 11: a user registers a cluster of their own that
// reports its MinIO at the cloud metadata address, then downloads
// through the Files routes. The guard refuses; the operator's cluster,
// trusted, is not guarded.
func TestFilesRefuseMinIOAtInternalAddress(t *testing.T) {
	canaryAddr, canaryHits := listenCanary(t)
	for i, minioEndpoint := range []string{"http://" + canaryAddr, "http://169.254.169.254", "http://10.0.0.1:9000"} {
		fake := oscartest.NewServer(t, oscartest.Options{ReportedS3Endpoint: minioEndpoint, S3AccessKey: "ak", S3SecretKey: "sk"})
		g, d := guardtest.New(t, nil, guardtest.HostPort(t, fake.URL))
		repo := memClusters{7: {{OwnerID: 7, Name: "mine", Kind: store.KindOSCAR, Endpoint: fake.URL, AuthKind: store.AuthBasic, Username: "oscar", Password: "oscar-pass"}}}
		h := New(Deps{Clusters: repo, Backends: oscartest.Registry(g)})
		_, err := invokeHandler(t, h.DownloadObject, http.MethodGet, "/files/mine/bucket/download?key=latest/meta-data/iam/info",
			"cluster", "mine", "bucket", "bucket")
		msg := Describe(err)
		if !errors.Is(err, netguard.ErrRefused) || !strings.Contains(msg, "MinIO storage") || !strings.Contains(msg, "private address") {
			t.Errorf("MinIO at %s: %v (the user reads %q), want a refusal", minioEndpoint, err, msg)
		}
		for _, a := range d.Asked() {
			if a != guardtest.HostPort(t, fake.URL) {
				t.Errorf("MinIO at %s: the dialer was asked for %s", minioEndpoint, a)
			}
		}
		if i == 0 && (canaryHits() != 0 || t.Failed()) {
			t.Fatal("the loopback canary was reached; not trying addresses outside loopback")
		}
	}
}

// The clusters page asks a user's cluster for its health: a name that
// resolves to loopback is refused, and a closed port reads as any other
// network failure.
func TestClusterHealthOfGuardedCluster(t *testing.T) {
	fake := oscartest.NewServer(t, oscartest.Options{})
	_, port, _ := net.SplitHostPort(guardtest.HostPort(t, fake.URL))
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	g, d := guardtest.New(t, map[string][]string{"localhost": {"127.0.0.1"}}, closedAddr)
	repo := memClusters{7: {
		{OwnerID: 7, Name: "rebound", Endpoint: "http://localhost:" + port, AuthKind: store.AuthBasic, Username: "oscar", Password: "oscar-pass"},
		{OwnerID: 7, Name: "closed", Endpoint: "http://" + closedAddr, AuthKind: store.AuthBasic, Username: "oscar", Password: "oscar-pass"},
	}}
	h := New(Deps{Clusters: repo, Backends: oscartest.Registry(g)})
	rec, err := invokeHandler(t, h.ShowClusterHealth, http.MethodGet, "/clusters/rebound/health", "name", "rebound")
	if err != nil || !strings.Contains(rec.Body.String(), "resolves to a private address") {
		t.Errorf("rebound: %v, body %q", err, rec.Body.String())
	}
	rec, err = invokeHandler(t, h.ShowClusterHealth, http.MethodGet, "/clusters/closed/health", "name", "closed")
	if body := rec.Body.String(); err != nil || !strings.Contains(body, "could not connect to the cluster") || strings.Contains(body, "refused") {
		t.Errorf("closed port: %v, body %q", err, body)
	}
	if got := d.Asked(); len(got) != 1 || got[0] != closedAddr {
		t.Errorf("dialer asked for %v, want only %s", got, closedAddr)
	}
	if n := len(fake.Checker.Covered()); n != 0 {
		t.Errorf("the fake cluster behind the refused name was reached on %d routes", n)
	}
}

// listenCanary is a loopback listener that counts connections.
func listenCanary(t *testing.T) (string, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	hits := make(chan struct{}, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits <- struct{}{}
			c.Close()
		}
	}()
	return ln.Addr().String(), func() int { return len(hits) }
}

// A cluster imported from an oscar-cli config is the user's own: the
// guard applies to it as to one registered by hand.
func TestImportedClusterIsGuarded(t *testing.T) {
	fake := oscartest.NewServer(t, oscartest.Options{})
	_, port, _ := net.SplitHostPort(guardtest.HostPort(t, fake.URL))
	config := "oscar:\n  imported:\n    endpoint: http://localhost:" + port + "\n    auth_user: oscar\n    auth_password: oscar-pass\n"
	regs, err := clusters.ParseOSCARCLIConfig([]byte(config), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	repo := memClusters{}
	if _, err := ImportClusters(t.Context(), repo, 7, regs, nil, false); err != nil {
		t.Fatal(err)
	}
	g, d := guardtest.New(t, map[string][]string{"localhost": {"127.0.0.1"}})
	h := New(Deps{Clusters: repo, Backends: oscartest.Registry(g)})
	rec, err := invokeHandler(t, h.ShowClusterHealth, http.MethodGet, "/clusters/imported/health", "name", "imported")
	if err != nil || !strings.Contains(html.UnescapeString(rec.Body.String()), `"localhost" resolves to a private address`) {
		t.Errorf("imported cluster at localhost: %v, body %q", err, rec.Body.String())
	}
	if len(d.Asked()) != 0 || len(fake.Checker.Covered()) != 0 {
		t.Errorf("the imported cluster was reached: dialer asked %v", d.Asked())
	}
}
