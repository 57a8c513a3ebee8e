package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/backends/local"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
)

// A two-stage workflow: stage-b reads what stage-a writes.
const pipeline = `functions:
  oscar:
  - edge:
      name: stage-a
      image: alpine
      script: a.sh
      input:
      - storage_provider: minio.default
        path: wf-in/images
      output:
      - storage_provider: minio.default
        path: wf-mid/out
  - edge:
      name: stage-b
      image: alpine
      script: b.sh
      input:
      - storage_provider: minio.default
        path: wf-mid/out
      output:
      - storage_provider: minio.default
        path: wf-final/out
`

var scripts = fstest.MapFS{
	"a.sh": {Data: []byte("#!/bin/sh\necho stage a\n")},
	"b.sh": {Data: []byte("#!/bin/sh\necho stage b\n")},
	"c.sh": {Data: []byte("#!/bin/sh\necho stage c\n")},
}

func parseDoc(t testing.TB, y string) *fdl.Document {
	t.Helper()
	doc, err := fdl.Parse("wf.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// journal opens a fresh store with one user.
func journal(t testing.TB) (*sqlite.Deployments, int64) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fdlstudio.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := store.NewSealer(bytes.Repeat([]byte{7}, store.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.UpsertUser(ctx, "iss", "alice", "Alice", "")
	if err != nil {
		t.Fatal(err)
	}
	return db.Deployments(sealer), u.ID
}

// fakeOSCAR starts the spec-checked fake (with a real S3 server holding
// its buckets when s3 is true) and returns the OSCAR client for it.
func fakeOSCAR(t testing.TB, s3 bool) (*oscar.Client, *oscartest.Server) {
	t.Helper()
	var opts oscartest.Options
	if s3 {
		srv := s3test.Start(t)
		opts.S3Endpoint, opts.S3AccessKey, opts.S3SecretKey = srv.Endpoint, srv.AccessKey, srv.SecretKey
	}
	srv := oscartest.NewServer(t, opts)
	c, err := oscar.New(oscar.Config{Name: "fake", Endpoint: srv.URL, Username: "oscar", Password: "oscar-pass",
		HTTPClient: &http.Client{Transport: srv.Checker.RoundTripper(t, http.DefaultTransport)}})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// localCluster starts the embedded local cluster and returns the OSCAR
// client for it, as FDL Studio reaches it.
func localCluster(t testing.TB) *oscar.Client {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := local.New(local.Config{DataDir: t.TempDir()}, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	user, pass := c.Credentials()
	cl, err := oscar.New(oscar.Config{Name: "local", Endpoint: c.Endpoint(), Username: user, Password: pass, HTTPClient: oscar.NewHTTPClient(false)})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// watched wraps a cluster's services: it records every call, may add
// latency to each and may fail chosen ones.
type watched struct {
	backends.Services
	delay time.Duration
	// noBuckets hides ListBuckets (the fake without S3 has none).
	noBuckets bool
	// fail, when set, is asked before each call; an error it returns is
	// the call's.
	fail func(op, name string) error

	mu    sync.Mutex
	calls []string
	sent  []*backends.Service
}

func (w *watched) call(ctx context.Context, op, name string) error {
	w.mu.Lock()
	w.calls = append(w.calls, op+" "+name)
	f := w.fail
	w.mu.Unlock()
	if w.delay > 0 {
		select {
		case <-time.After(w.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f != nil {
		return f(op, name)
	}
	return nil
}

// mutations are the calls that change the cluster.
func (w *watched) mutations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(w.calls), func(c string) bool {
		return strings.HasPrefix(c, "get ") || strings.HasPrefix(c, "list ")
	})
}

func (w *watched) reset() {
	w.mu.Lock()
	w.calls, w.sent = nil, nil
	w.mu.Unlock()
}

func (w *watched) ListServices(ctx context.Context) ([]backends.Service, error) {
	if err := w.call(ctx, "list", "services"); err != nil {
		return nil, err
	}
	return w.Services.ListServices(ctx)
}

func (w *watched) GetService(ctx context.Context, name string) (*backends.Service, error) {
	if err := w.call(ctx, "get", name); err != nil {
		return nil, err
	}
	return w.Services.GetService(ctx, name)
}

func (w *watched) CreateService(ctx context.Context, s *backends.Service) error {
	if err := w.call(ctx, "create", s.Name); err != nil {
		return err
	}
	w.mu.Lock()
	w.sent = append(w.sent, s)
	w.mu.Unlock()
	return w.Services.CreateService(ctx, s)
}

func (w *watched) UpdateService(ctx context.Context, s *backends.Service) error {
	if err := w.call(ctx, "update", s.Name); err != nil {
		return err
	}
	w.mu.Lock()
	w.sent = append(w.sent, s)
	w.mu.Unlock()
	return w.Services.UpdateService(ctx, s)
}

func (w *watched) DeleteService(ctx context.Context, name string) error {
	if err := w.call(ctx, "delete", name); err != nil {
		return err
	}
	return w.Services.DeleteService(ctx, name)
}

func (w *watched) ListBuckets(ctx context.Context) ([]backends.Bucket, error) {
	bl, ok := w.Services.(interface {
		ListBuckets(context.Context) ([]backends.Bucket, error)
	})
	if !ok || w.noBuckets {
		return nil, backends.ErrUnsupported
	}
	if err := w.call(ctx, "list", "buckets"); err != nil {
		return nil, err
	}
	return bl.ListBuckets(ctx)
}

// resolver serves the given clusters by name.
func resolver(m map[string]backends.Services) deploy.ClusterResolver {
	return func(_ context.Context, name string) (backends.Services, error) {
		s, ok := m[name]
		if !ok {
			return nil, fmt.Errorf("no cluster %q is registered", name)
		}
		return s, nil
	}
}

func kinds(p *deploy.Plan) map[string]deploy.ActionKind {
	m := map[string]deploy.ActionKind{}
	for _, a := range p.Actions {
		m[a.Name] = a.Kind
	}
	return m
}

func action(t testing.TB, p *deploy.Plan, name string) deploy.Action {
	t.Helper()
	for _, a := range p.Actions {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("the plan has no action for %q: %+v", name, p.Actions)
	return deploy.Action{}
}

func mustPlan(t testing.TB, e *deploy.Engine, req deploy.Request) *deploy.Plan {
	t.Helper()
	p, err := e.Plan(context.Background(), req)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func mustApply(t testing.TB, e *deploy.Engine, p *deploy.Plan) *deploy.Result {
	t.Helper()
	r, err := e.Apply(context.Background(), p, nil)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return r
}
