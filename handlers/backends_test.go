package handlers

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/memtest"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/store"
)

// twoKinds is a handler with two shared clusters of different kinds, both
// reached through the registry: "egi", the spec-checked fake OSCAR (files
// on a real versitygw), and "mem", the in-memory test backend.
type twoKinds struct {
	t    *testing.T
	e    *echo.Echo
	egi  backends.Backend
	mem  *memtest.Cluster
	fake *oscartest.Server
	s3   s3test.Server
}

func newTwoKinds(t *testing.T) *twoKinds {
	t.Helper()
	s3 := s3test.Start(t)
	fake := oscartest.NewServer(t, oscartest.Options{S3Endpoint: s3.Endpoint, S3AccessKey: s3.AccessKey, S3SecretKey: s3.SecretKey})
	reg := oscartest.Registry(nil)
	mem := memtest.New("mem")
	memtest.Register(reg, mem)
	egiRec := store.Cluster{Name: "egi", Kind: store.KindOSCAR, Endpoint: fake.URL, AuthKind: store.AuthBasic, Username: "oscar", Password: "oscar-pass", Shared: true}
	h := New(Deps{
		Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clusters:       noClusters{},
		Backends:       reg,
		SharedClusters: []store.Cluster{egiRec, {Name: "mem", Kind: memtest.Kind, Shared: true}},
	})
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		status, _ := backends.HTTPStatus(err)
		var hs interface{ HTTPStatus() int }
		var he *echo.HTTPError
		if errors.As(err, &hs) {
			status = hs.HTTPStatus()
		} else if errors.As(err, &he) {
			status = he.Code
		}
		_ = c.String(status, Describe(err))
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := &auth.User{ID: 1, Name: "Tester", Mode: auth.ModeLocal}
			c.SetRequest(c.Request().WithContext(auth.WithUser(c.Request().Context(), u)))
			return next(c)
		}
	})
	e.GET("/services", h.ShowServices)
	e.GET("/jobs", h.ShowRecentJobs)
	e.GET("/clusters/:name", h.ShowCluster)
	e.GET("/files/:cluster", h.ShowBuckets)
	e.GET("/files/:cluster/:bucket", h.ShowObjects)
	e.GET("/services/:cluster/:name/jobs/:job", h.ShowJobLog)
	e.POST("/services/:cluster/:name/jobs", h.SubmitJob)
	e.POST("/services/:cluster/:name/run", h.RunService)
	e.POST("/services/:cluster/:name/jobs/:job/rerun", h.RerunJob)
	egi, err := reg.Backend(t.Context(), egiRec, backends.Acting{})
	if err != nil {
		t.Fatal(err)
	}
	return &twoKinds{t: t, e: e, egi: egi, mem: mem, fake: fake, s3: s3}
}

func (k *twoKinds) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	k.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	}
	rec := httptest.NewRecorder()
	k.e.ServeHTTP(rec, req)
	return rec
}

// page GETs target and fails unless it answers 200 with every want.
func (k *twoKinds) page(target string, want ...string) string {
	k.t.Helper()
	rec := k.do(http.MethodGet, target, nil)
	if rec.Code != http.StatusOK {
		k.t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
	}
	for _, w := range want {
		if !strings.Contains(rec.Body.String(), w) {
			k.t.Errorf("GET %s: page lacks %q", target, w)
		}
	}
	return rec.Body.String()
}

// TestSecondBackendKindOnThePages: services, jobs and files of an
// in-memory cluster show beside those of an OSCAR cluster, each reached
// through the registry by its kind.
func TestSecondBackendKindOnThePages(t *testing.T) {
	k := newTwoKinds(t)
	ctx := t.Context()
	svc := func(name string) *backends.Service {
		return &backends.Service{Name: name, Image: "ghcr.io/grycap/cowsay", Script: "echo hi", Memory: "256Mi", CPU: "0.5"}
	}
	if err := k.egi.CreateService(ctx, svc("oscar-svc")); err != nil {
		t.Fatal(err)
	}
	if err := k.mem.CreateService(ctx, svc("mem-svc")); err != nil {
		t.Fatal(err)
	}
	if _, err := k.egi.SubmitJob(ctx, "oscar-svc", strings.NewReader(`{}`)); err != nil {
		t.Fatal(err)
	}
	k.mem.AddJob("mem-svc", "mem-svc-old", backends.JobFailed, time.Now().Add(-time.Minute), "boom\n")
	for _, b := range []backends.Storage{k.egi, k.mem} {
		if err := b.CreateBucket(ctx, backends.Bucket{Name: "shared-name"}); err != nil {
			t.Fatal(err)
		}
		if err := b.PutObject(ctx, "shared-name", "on-"+strings.Fields(b.(backends.Backend).Name())[0]+".txt", strings.NewReader("x"), 1, "text/plain"); err != nil {
			t.Fatal(err)
		}
	}

	k.page("/services", `href="/services/egi/oscar-svc"`, `href="/services/mem/mem-svc"`)
	jobs := k.page("/jobs", "mem-svc-old", `href="/services/egi/oscar-svc/jobs/`)
	if strings.Contains(jobs, "status-err") {
		t.Errorf("the jobs page reports a failure:\n%s", jobs)
	}
	k.page("/files/egi", "shared-name")
	k.page("/files/mem", "shared-name", `href="/files/mem/shared-name`)
	k.page("/files/mem/shared-name", "on-memtest.txt")
	k.page("/files/egi/shared-name", "on-OSCAR.txt")
}

// TestSubmitOpensTheJobTheBackendNamed: the job page opened after a
// submission is the job the backend said it started.
func TestSubmitOpensTheJobTheBackendNamed(t *testing.T) {
	k := newTwoKinds(t)
	if err := k.mem.CreateService(t.Context(), &backends.Service{Name: "echo", Image: "i", Script: "s"}); err != nil {
		t.Fatal(err)
	}
	rec := k.do(http.MethodPost, "/services/mem/echo/jobs", url.Values{"payload": {`{"hello":1}`}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/services/mem/echo/jobs/echo-job-1" {
		t.Fatalf("submit: %d to %q, want 303 to the job echo-job-1", rec.Code, rec.Header().Get("Location"))
	}
	k.page(rec.Header().Get("Location"), "echo-job-1", "{&#34;hello&#34;:1}")
}

// TestOptionalFeaturesSayUnsupported: a backend without the optional
// interfaces gets a clear "not supported" (501), never a panic or an OSCAR
// wire call, and the cluster page says so in its sections.
func TestOptionalFeaturesSayUnsupported(t *testing.T) {
	k := newTwoKinds(t)
	if err := k.mem.CreateService(t.Context(), &backends.Service{Name: "echo", Image: "i", Script: "s"}); err != nil {
		t.Fatal(err)
	}
	k.mem.AddJob("echo", "j1", backends.JobSucceeded, time.Now(), "done\n")
	for _, target := range []string{"/services/mem/echo/run", "/services/mem/echo/jobs/j1/rerun"} {
		rec := k.do(http.MethodPost, target, url.Values{"payload": {"x"}})
		if rec.Code != http.StatusNotImplemented || !strings.Contains(rec.Body.String(), "not supported by this backend") {
			t.Errorf("POST %s: %d %q, want 501 saying it is not supported", target, rec.Code, rec.Body)
		}
	}
	page := k.page("/clusters/mem", "memtest")
	if strings.Count(page, "not supported by this backend") != 2 {
		t.Errorf("the cluster page of an in-memory cluster should say twice (status, configuration) that they are not supported:\n%s", page)
	}
	// The OSCAR cluster's page has all three sections and no MinIO key.
	egi := k.page("/clusters/egi", "Free CPU", "Services namespace")
	if strings.Contains(egi, "not supported") {
		t.Errorf("the OSCAR cluster page says something is not supported:\n%s", egi)
	}
	if strings.Contains(egi, k.s3.AccessKey) || strings.Contains(egi, k.s3.SecretKey) {
		t.Error("the OSCAR cluster page shows a MinIO key")
	}
}
