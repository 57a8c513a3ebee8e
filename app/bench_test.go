package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/examples"
	"github.com/fdlstudio/fdlstudio/static"
	"github.com/fdlstudio/fdlstudio/web"
)

// cannedOSCAR answers /system/info and /system/services with n services,
// so the benchmark measures FDL Studio's work (the call, decoding,
// sorting, rendering), not a cluster's. The OSCAR client's exchanges are
// checked against the OpenAPI contract in backends/oscar.
func cannedOSCAR(tb testing.TB, n int) *httptest.Server {
	services := make([]backends.Service, n)
	for i := range services {
		services[i] = backends.Service{
			Name: fmt.Sprintf("svc-%04d", i), Image: "ghcr.io/grycap/cowsay:latest", CPU: "0.5", Memory: "512Mi",
			Visibility: "private", Owner: "alice@egi.eu", Script: "#!/bin/sh\necho hi\n",
			Input:  []backends.StorageIOConfig{{StorageProvider: "minio.default", Path: fmt.Sprintf("b%d/in", i)}},
			Output: []backends.StorageIOConfig{{StorageProvider: "minio.default", Path: fmt.Sprintf("b%d/out", i)}},
		}
	}
	list, _ := json.Marshal(services)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/system/info":
			w.Write([]byte(`{"version":"v4.1.2","git_commit":"x","architecture":"amd64","kubernetes_version":"v1.30","serverless_backend":{"name":"Knative","version":"1.15"}}`))
		case "/system/services":
			w.Header().Set("Content-Type", "application/json")
			w.Write(list)
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(ts.Close)
	return ts
}

// BenchmarkServicesPage1000 renders GET /services for a cluster with
// 1,000 services and reports the p50 and p99 server time.
func BenchmarkServicesPage1000(b *testing.B) {
	oscar := cannedOSCAR(b, 1000)
	cfg := web.Defaults()
	cfg.Addr, cfg.DataDir, cfg.LocalCluster = "127.0.0.1:0", b.TempDir(), "off"
	cfg.Clusters = []web.ClusterConfig{{Name: "big", Endpoint: oscar.URL, Username: "u", Password: "p"}}
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/services?sort=memory", nil)
		req.Host = "127.0.0.1"
		unlock(srv, req)
		start := time.Now()
		srv.server.Handler().ServeHTTP(rec, req)
		times = append(times, time.Since(start))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "svc-0999") {
			b.Fatalf("GET /services = %d", rec.Code)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/static/[^"]+\.(?:js|css))"`)

// pageWeight is the gzip size of the JS and CSS a page loads.
func pageWeight(t testing.TB, srv *App, path string) int {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = "127.0.0.1"
	unlock(srv, req)
	srv.server.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d", path, rec.Code)
	}
	total := 0
	for _, m := range assetRef.FindAllStringSubmatch(rec.Body.String(), -1) {
		a, ok := static.Lookup(strings.TrimPrefix(m[1], static.Prefix))
		if !ok {
			t.Fatalf("%s loads %s, which is not served", path, m[1])
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, 5) // the server's level
		zw.Write(a.Data)
		zw.Close()
		total += buf.Len()
	}
	return total
}

// weighedPages are the pages whose asset weight is budgeted (every page
// but the composer).
var weighedPages = []string{"/", "/clusters", "/clusters/new", "/services", "/jobs", "/files", "/services/new", "/workflows", "/tokens"}

// composerPage makes the local user a workflow (the sample) and returns
// its composer's path.
func composerPage(t testing.TB, srv *App) string {
	t.Helper()
	ctx := context.Background()
	u, err := CommandLineUser(ctx, srv.db, "local", "local")
	if err != nil {
		t.Fatal(err)
	}
	text, err := examples.FS.ReadFile("wordcount/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, err := srv.db.Workflows().Create(ctx, u.ID, "weighed", string(text), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("/workflows/%d", w.ID)
}

// TestComposerWeightBudget keeps the JS and CSS the composer loads before
// its script editor opens (CodeMirror comes only then) under 80 KB
// gzipped.
func TestComposerWeightBudget(t *testing.T) {
	srv, _ := newTestServer(t)
	p := composerPage(t, srv)
	if code, ok := servedGET(srv, p); !ok {
		t.Fatalf("GET %s: %d", p, code)
	}
	w := pageWeight(t, srv, p)
	t.Logf("composer %6d bytes of JS+CSS (gzip)", w)
	if w < 10<<10 {
		t.Errorf("the composer loads only %d bytes: its island is missing from the count", w)
	}
	if w > 80<<10 {
		t.Errorf("the composer loads %d bytes of JS+CSS gzipped, over the 80 KB budget", w)
	}
}

// TestPageWeightBudget keeps the JS and CSS every page loads under 60 KB
// gzipped.
func TestPageWeightBudget(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, p := range weighedPages {
		if _, ok := servedGET(srv, p); !ok {
			continue // a section this build does not serve
		}
		w := pageWeight(t, srv, p)
		t.Logf("%-16s %6d bytes of JS+CSS (gzip)", p, w)
		if w > 60<<10 {
			t.Errorf("%s loads %d bytes of JS+CSS gzipped, over the 60 KB budget", p, w)
		}
	}
}

// BenchmarkPageWeight reports the gzip bytes of JS and CSS per page.
func BenchmarkPageWeight(b *testing.B) {
	srv, _ := newTestServer(b)
	for _, p := range append(slices.Clip(weighedPages), composerPage(b, srv)) {
		if _, ok := servedGET(srv, p); !ok {
			continue
		}
		b.Run(strings.ReplaceAll(strings.Trim(p, "/"), "/", "_")+"_", func(b *testing.B) {
			var w int
			for b.Loop() {
				w = pageWeight(b, srv, p)
			}
			b.ReportMetric(float64(w)/1024, "gzip-KB")
		})
	}
}

func servedGET(srv *App, path string) (int, bool) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = "127.0.0.1"
	unlock(srv, req)
	srv.server.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Code == http.StatusOK
}
