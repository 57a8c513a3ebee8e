package oscar_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
)

// newPair starts versitygw and a fake OSCAR and returns a client whose every
// request and accepted response is checked against the spec.
func newPair(t *testing.T, opts oscartest.Options, token bool) (*oscar.Client, *oscartest.Server) {
	t.Helper()
	if opts.S3Endpoint == "" {
		s3 := s3test.Start(t)
		opts.S3Endpoint, opts.S3AccessKey, opts.S3SecretKey = s3.Endpoint, s3.AccessKey, s3.SecretKey
	}
	srv := oscartest.NewServer(t, opts)
	cfg := oscar.Config{Name: "fake", Endpoint: srv.URL, Username: "oscar", Password: "oscar-pass",
		HTTPClient: &http.Client{Transport: srv.Checker.RoundTripper(t, http.DefaultTransport)}}
	if token {
		cfg.Username, cfg.Password, cfg.Token = "", "", opts.Token
	}
	c, err := oscar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestEveryOperationConforms calls every client method and then checks that
// every operation of oscar-openapi.yaml was exercised, each exchange having
// been validated on both sides.
func TestEveryOperationConforms(t *testing.T) {
	c, srv := newPair(t, oscartest.Options{Token: "oidc-token"}, false)
	ctx := t.Context()

	must(t, "Health", c.Health(ctx))
	info, err := c.Info(ctx)
	must(t, "Info", err)
	if info.Version != "v4.1.2" || !info.Capabilities.Federation || !info.Capabilities.SyncInvocation {
		t.Errorf("Info = %+v, want v4.1.2 with federation and sync", info)
	}
	cfg, err := c.UserConfig(ctx)
	must(t, "UserConfig", err)
	if cfg.MinIOProvider.SecretKey == "" || cfg.Redacted().MinIOProvider.SecretKey != "" || cfg.Redacted().MinIOProvider.AccessKey != "" {
		t.Error("UserConfig should carry keys and Redacted should drop them")
	}
	got, err := c.SetAllowedImageRepositories(ctx, []string{"ghcr.io/grycap"})
	must(t, "SetAllowedImageRepositories", err)
	if !slices.Equal(got.AllowedImageRepositories, []string{"ghcr.io/grycap"}) {
		t.Errorf("allowed repositories = %v", got.AllowedImageRepositories)
	}
	st, err := c.Status(ctx)
	must(t, "Status", err)
	if st.Cluster.NodesCount != 1 || len(st.Cluster.Nodes) != 1 || st.Cluster.Nodes[0].CPU.CapacityCores != 4 {
		t.Errorf("Status = %+v, want one node with 4 cores", st.Cluster)
	}
	logs, err := c.ManagerLogs(ctx, true, false)
	must(t, "ManagerLogs", err)
	if !strings.Contains(logs, "manager") {
		t.Errorf("ManagerLogs = %q", logs)
	}

	svc := &backends.Service{Name: "conf", Image: "img", Script: "echo",
		Expose: &backends.Expose{APIPort: []int{8080, 9090}},
		Input:  []backends.StorageIOConfig{{StorageProvider: "minio.default", Path: "conf/in"}},
		Extra:  map[string]json.RawMessage{"future": json.RawMessage(`{"x":1}`)}}
	must(t, "CreateService", c.CreateService(ctx, svc))
	must(t, "UpdateService", c.UpdateService(ctx, svc))
	list, err := c.ListServicesWith(ctx, oscar.ServiceQuery{IncludeDeployment: true})
	must(t, "ListServicesWith", err)
	if len(list) != 1 || list[0].Deployment == nil || list[0].Token == "" {
		t.Errorf("ListServicesWith(deployment) = %+v, want one service with deployment and token", list)
	}
	one, err := c.GetServiceWith(ctx, "conf", oscar.ServiceQuery{IncludeDeployment: true})
	must(t, "GetServiceWith", err)
	if !slices.Equal(one.Expose.APIPort, []int{8080, 9090}) || string(one.Extra["future"]) != `{"x":1}` {
		t.Errorf("service read back = ports %v extra %s, want [8080 9090] and the unknown key", one.Expose.APIPort, one.Extra["future"])
	}
	must(t, "CheckServiceAccess", c.CheckServiceAccess(ctx, "conf"))
	for name, f := range map[string]func(context.Context, string) (*backends.DeploymentStatus, error){
		"StartService": c.StartService, "StopService": c.StopService, "RestartService": c.RestartService, "DeploymentStatus": c.DeploymentStatus,
	} {
		d, err := f(ctx, "conf")
		must(t, name, err)
		if d.ServiceName != "conf" {
			t.Errorf("%s: service %q", name, d.ServiceName)
		}
	}
	dl, err := c.DeploymentLogs(ctx, "conf", 1, true)
	must(t, "DeploymentLogs", err)
	if len(dl.Entries) != 1 {
		t.Errorf("DeploymentLogs(tail 1) = %d entries", len(dl.Entries))
	}
	out, err := c.Run(ctx, "conf", strings.NewReader("hi"))
	must(t, "Run", err)
	body, _ := io.ReadAll(out)
	out.Close()
	if !strings.Contains(string(body), "hi") {
		t.Errorf("Run output = %q", body)
	}
	ref, err := c.SubmitJob(ctx, "conf", strings.NewReader(`{"Records":[]}`))
	must(t, "SubmitJob", err)
	jobs, err := c.ListJobs(ctx, "conf", "")
	must(t, "ListJobs", err)
	if len(jobs.Jobs) != 1 {
		t.Fatalf("ListJobs = %+v, want one job", jobs)
	}
	// OSCAR does not say which job /job started: the newest is a guess.
	if want := (backends.JobRef{Name: jobs.Jobs[0].Name, Guess: true}); ref != want {
		t.Errorf("SubmitJob = %+v, want %+v", ref, want)
	}
	lg, err := c.JobLog(ctx, "conf", jobs.Jobs[0].Name, true)
	must(t, "JobLog", err)
	if !strings.Contains(lg, "Records") {
		t.Errorf("JobLog = %q, want the event", lg)
	}
	must(t, "DeleteJob", c.DeleteJob(ctx, "conf", jobs.Jobs[0].Name))
	must(t, "DeleteJobs", c.DeleteJobs(ctx, "conf", false))

	must(t, "CreateBucket", c.CreateBucket(ctx, backends.Bucket{Name: "conf-b", Visibility: "private"}))
	must(t, "UpdateBucket", c.UpdateBucket(ctx, backends.Bucket{Name: "conf-b", Visibility: "restricted", AllowedUsers: []string{"u1"}}))
	bs, err := c.ListBuckets(ctx)
	must(t, "ListBuckets", err)
	if !slices.ContainsFunc(bs, func(b backends.Bucket) bool { return b.Name == "conf-b" && b.Visibility == "restricted" }) {
		t.Errorf("ListBuckets = %+v, want conf-b restricted", bs)
	}
	must(t, "PutObject", c.PutObject(ctx, "conf-b", "a.txt", strings.NewReader("abc"), 3, "text/plain"))
	det, err := c.BucketDetails(ctx, "conf-b", "")
	must(t, "BucketDetails", err)
	if len(det.Objects) != 1 || det.Objects[0].Key != "a.txt" || det.Objects[0].Size != 3 {
		t.Errorf("BucketDetails objects = %+v", det.Objects)
	}
	_, err = c.PresignObject(ctx, backends.PresignRequest{Bucket: "conf-b", Key: "a.txt", Method: "GET"})
	must(t, "PresignObject", err)
	must(t, "DeleteBucket", c.DeleteBucket(ctx, "conf-b"))

	_, err = c.CreateVolume(ctx, "vol1", "1Gi")
	must(t, "CreateVolume", err)
	_, err = c.CreateVolume(ctx, "vol1", "1Gi")
	if !errors.Is(err, backends.ErrConflict) {
		t.Errorf("CreateVolume twice: %v, want conflict", err)
	}
	vols, err := c.ListVolumes(ctx)
	must(t, "ListVolumes", err)
	if len(vols) != 1 {
		t.Errorf("ListVolumes = %d volumes", len(vols))
	}
	v, err := c.GetVolume(ctx, "vol1")
	must(t, "GetVolume", err)
	if v.Status.Phase != "Bound" {
		t.Errorf("volume phase %q", v.Status.Phase)
	}
	must(t, "DeleteVolume", c.DeleteVolume(ctx, "vol1"))

	member := []backends.Replica{{Type: "oscar", ClusterID: "c2", ServiceName: "conf"}}
	must(t, "AddFederationMembers", c.AddFederationMembers(ctx, "conf", oscar.FederationRequest{Members: member}))
	must(t, "UpdateFederationMembers", c.UpdateFederationMembers(ctx, "conf", oscar.FederationRequest{Members: member}))
	fed, err := c.GetFederation(ctx, "conf")
	must(t, "GetFederation", err)
	if len(fed.Members) != 1 || fed.Members[0].ClusterID != "c2" {
		t.Errorf("GetFederation = %+v", fed)
	}
	must(t, "DeleteFederationMembers", c.DeleteFederationMembers(ctx, "conf", oscar.FederationRequest{Members: member, Delete: true}))

	_, err = c.MetricsSummary(ctx, time.Now().Add(-time.Hour), time.Now())
	must(t, "MetricsSummary", err)
	_, err = c.ServiceMetrics(ctx, "conf", "", time.Time{}, time.Time{})
	must(t, "ServiceMetrics", err)
	_, err = c.MetricsBreakdown(ctx, "service", true, time.Time{}, time.Time{})
	must(t, "MetricsBreakdown", err)
	_, err = c.UserQuota(ctx, "user-1")
	must(t, "UserQuota", err)
	_, err = c.SetUserQuota(ctx, "user-1", map[string]any{"cpu": "2000"})
	must(t, "SetUserQuota", err)
	must(t, "DeleteService", c.DeleteService(ctx, "conf"))

	// /system/quotas/user is OIDC-only: exercise it with a bearer client.
	if _, err := c.OwnQuota(ctx); !errors.Is(err, backends.ErrUnauthorized) {
		t.Errorf("OwnQuota with basic credentials = %v, want unauthorized without a request", err)
	}
	oidc, _ := newPairOn(t, srv, "oidc-token")
	_, err = oidc.OwnQuota(ctx)
	must(t, "OwnQuota with a token", err)

	covered := srv.Checker.Covered()
	for _, op := range oscartest.LoadSpec(t).Operations() {
		if covered[op] == 0 {
			t.Errorf("operation %s was never exercised", op)
		}
	}
}

// newPairOn returns a bearer-token client for an existing fake.
func newPairOn(t *testing.T, srv *oscartest.Server, token string) (*oscar.Client, *oscartest.Server) {
	c, err := oscar.New(oscar.Config{Name: "fake-oidc", Endpoint: srv.URL, Token: token,
		HTTPClient: &http.Client{Transport: srv.Checker.RoundTripper(t, http.DefaultTransport)}})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func TestErrorsKeepOSCARText(t *testing.T) {
	c, _ := newPair(t, oscartest.Options{Token: "good"}, true)
	ctx := t.Context()
	_, err := c.GetService(ctx, "nope")
	if !errors.Is(err, backends.ErrNotFound) || !strings.Contains(backends.MessageOf(err), "does not exist") {
		t.Errorf("GetService(nope) = %v, want not found with OSCAR's text", err)
	}
	if !strings.Contains(err.Error(), `OSCAR cluster "fake"`) || !strings.Contains(err.Error(), `get service "nope"`) {
		t.Errorf("error %q should name the cluster and the operation", err)
	}
	err = c.CreateService(ctx, &backends.Service{Name: "x", Script: "s"})
	if !errors.Is(err, backends.ErrInvalid) && !strings.Contains(err.Error(), "Image") {
		t.Errorf("CreateService without image = %v, want invalid with the server's message", err)
	}
	// PUT /system/config is basic-auth only: a bearer gets 401.
	_, err = c.SetAllowedImageRepositories(ctx, nil)
	if !errors.Is(err, backends.ErrUnauthorized) {
		t.Errorf("SetAllowedImageRepositories with a bearer = %v, want unauthorized", err)
	}
	bad, _ := newPairOn(t, mustServer(t), "wrong")
	_, err = bad.ListServices(ctx)
	if !errors.Is(err, backends.ErrUnauthorized) {
		t.Errorf("wrong token = %v, want unauthorized", err)
	}
	_, err = c.GetService(ctx, "")
	if !errors.Is(err, backends.ErrInvalid) {
		t.Errorf("empty name = %v, want invalid", err)
	}
}

func mustServer(t *testing.T) *oscartest.Server {
	return oscartest.NewServer(t, oscartest.Options{Token: "right"})
}

func TestVersionGates(t *testing.T) {
	ctx := t.Context()
	t.Run("v3.5.0", func(t *testing.T) {
		c, srv := newPair(t, oscartest.Options{Version: "v3.5.0", NoServerless: true}, false)
		svc := &backends.Service{Name: "old", Image: "i", Script: "s",
			Environment: &backends.Environment{Variables: map[string]string{"K": "V"}},
			Expose:      &backends.Expose{APIPort: []int{8080}}}
		must(t, "CreateService on v3.5.0", c.CreateService(ctx, svc))
		got, err := c.GetService(ctx, "old")
		must(t, "GetService", err)
		if !slices.Equal(got.Expose.APIPort, []int{8080}) || got.Environment.Variables["K"] != "V" {
			t.Errorf("read back %+v %+v, want api_port [8080] and K=V", got.Expose, got.Environment)
		}
		svc.Environment.Secrets = map[string]string{"S": "x"}
		if err := c.UpdateService(ctx, svc); !errors.Is(err, backends.ErrUnsupported) {
			t.Errorf("secrets on v3.5.0 = %v, want unsupported", err)
		}
		for name, f := range map[string]func() error{
			"DeploymentStatus": func() error { _, err := c.DeploymentStatus(ctx, "old"); return err },
			"ListVolumes":      func() error { _, err := c.ListVolumes(ctx); return err },
			"GetFederation":    func() error { _, err := c.GetFederation(ctx, "old"); return err },
			"OwnQuota":         func() error { _, err := c.OwnQuota(ctx); return err },
			"UpdateBucket":     func() error { return c.UpdateBucket(ctx, backends.Bucket{Name: "b"}) },
			"ListJobs(page)":   func() error { _, err := c.ListJobs(ctx, "old", "tok"); return err },
			"Run":              func() error { _, err := c.Run(ctx, "old", strings.NewReader("")); return err },
		} {
			if err := f(); !errors.Is(err, backends.ErrUnsupported) {
				t.Errorf("%s on v3.5.0 = %v, want unsupported", name, err)
			}
		}
		_, err = c.SubmitJob(ctx, "old", strings.NewReader("{}"))
		must(t, "SubmitJob", err)
		jobs, err := c.ListJobs(ctx, "old", "")
		must(t, "ListJobs (bare map)", err)
		if len(jobs.Jobs) != 1 || jobs.NextPage != "" {
			t.Errorf("ListJobs on v3.5.0 = %+v, want one job, no paging", jobs)
		}
		// Files without the bucket API or /presign: straight to MinIO.
		must(t, "CreateBucket via MinIO", c.CreateBucket(ctx, backends.Bucket{Name: "old-b"}))
		p, err := c.PresignObject(ctx, backends.PresignRequest{Bucket: "old-b", Key: "k", Method: "PUT"})
		must(t, "PresignObject via MinIO", err)
		if !strings.Contains(p.URL, "X-Amz-Signature") {
			t.Errorf("presigned URL %q is not signed", p.URL)
		}
		if srv.Checker.Covered()["POST /system/buckets/{bucket}/presign"] != 0 {
			t.Error("the v3.5.0 client called /presign")
		}
	})
	t.Run("v4.0.0 ports", func(t *testing.T) {
		c, _ := newPair(t, oscartest.Options{Version: "v4.0.0"}, false)
		err := c.CreateService(ctx, &backends.Service{Name: "p", Image: "i", Script: "s", Expose: &backends.Expose{APIPort: []int{1, 2}}})
		if !errors.Is(err, backends.ErrUnsupported) {
			t.Errorf("two ports on v4.0.0 = %v, want unsupported", err)
		}
		must(t, "one port on v4.0.0", c.CreateService(ctx, &backends.Service{Name: "p", Image: "i", Script: "s", Expose: &backends.Expose{APIPort: []int{1}}}))
	})
}

// TestDownClusterFailsFast: a refused connection and a server that never
// answers both end as KindUnavailable within the budget.
func TestDownClusterFailsFast(t *testing.T) {
	if oscar.DefaultDialTimeout+oscar.DefaultDialTimeout > 10*time.Second || oscar.DefaultRequestTimeout > 10*time.Second {
		t.Fatalf("timeouts (dial %s, request %s) exceed the 10 s budget", oscar.DefaultDialTimeout, oscar.DefaultRequestTimeout)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	c, err := oscar.New(oscar.Config{Name: "down", Endpoint: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Info(t.Context())
	if !errors.Is(err, backends.ErrUnavailable) || time.Since(start) > 10*time.Second {
		t.Errorf("refused: err %v after %s, want unavailable quickly", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), `OSCAR cluster "down"`) {
		t.Errorf("error %q does not name the cluster", err)
	}

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(func() { close(hang); slow.Close() })
	c, err = oscar.New(oscar.Config{Name: "slow", Endpoint: slow.URL, RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = c.ListServices(t.Context())
	elapsed := time.Since(start)
	if !errors.Is(err, backends.ErrUnavailable) || elapsed > 3*time.Second {
		t.Errorf("hung server: err %v after %s, want unavailable after about 300ms", err, elapsed)
	}
	if !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("error %q should say how long it waited", err)
	}
}

func TestTLSVerifiedByDefault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"version":"v4.1.2"}`)
	}))
	t.Cleanup(srv.Close)
	c, _ := oscar.New(oscar.Config{Endpoint: srv.URL})
	if _, err := c.Info(t.Context()); !errors.Is(err, backends.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed cert with verification on: %v, want a certificate error", err)
	}
	c, _ = oscar.New(oscar.Config{Endpoint: srv.URL, InsecureSkipVerify: true})
	if _, err := c.Info(t.Context()); err != nil {
		t.Errorf("self-signed cert with the insecure switch: %v", err)
	}
}

func TestNewRejectsBadEndpoint(t *testing.T) {
	for _, ep := range []string{"", "ftp://h", "h:80", "http://"} {
		if _, err := oscar.New(oscar.Config{Endpoint: ep}); !errors.Is(err, backends.ErrInvalid) {
			t.Errorf("New(%q) = %v, want invalid", ep, err)
		}
	}
}
