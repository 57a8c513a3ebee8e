package local

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/yaml.v3"
)

// startCluster starts a cluster on a fresh data dir; it is closed when the
// test ends.
func startCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	level := slog.LevelWarn
	if os.Getenv("LOCAL_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	c, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// api is a tiny OSCAR API client for the tests.
type api struct {
	t        testing.TB
	base     string
	user     string
	pass     string
	bearer   string
	noAuth   bool
	lastHead http.Header
}

func newAPI(t testing.TB, c *Cluster) *api {
	u, p := c.Credentials()
	return &api{t: t, base: c.Endpoint(), user: u, pass: p}
}

// do sends a request and returns status and body.
func (a *api) do(method, path string, body []byte) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	switch {
	case a.noAuth:
	case a.bearer != "":
		req.Header.Set("Authorization", "Bearer "+a.bearer)
	default:
		req.SetBasicAuth(a.user, a.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	a.lastHead = resp.Header
	return resp.StatusCode, b
}

// must sends a request and fails the test unless the status is want.
func (a *api) must(want int, method, path string, body []byte) []byte {
	a.t.Helper()
	got, b := a.do(method, path, body)
	if got != want {
		a.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, got, want, b)
	}
	return b
}

func (a *api) service(name string) Service {
	a.t.Helper()
	var s Service
	if err := json.Unmarshal(a.must(200, "GET", "/system/services/"+name, nil), &s); err != nil {
		a.t.Fatal(err)
	}
	return s
}

func (a *api) jobs(svc string) jobsResponse {
	a.t.Helper()
	var r jobsResponse
	if err := json.Unmarshal(a.must(200, "GET", "/system/logs/"+svc, nil), &r); err != nil {
		a.t.Fatal(err)
	}
	return r
}

// waitJobs polls a service's job list until cond holds or the timeout.
func (a *api) waitJobs(svc string, timeout time.Duration, cond func(jobsResponse) bool) jobsResponse {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := a.jobs(svc)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("jobs of %s: condition not met within %s; last list: %+v", svc, timeout, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countStatus(r jobsResponse, status string) int {
	n := 0
	for _, j := range r.Jobs {
		if j.Status == status {
			n++
		}
	}
	return n
}

// s3Client builds a minio-go client from /system/config, as an OSCAR
// client would.
func (a *api) s3Client() *minio.Client {
	a.t.Helper()
	var cfg struct {
		MinIO struct {
			Endpoint  string `json:"endpoint"`
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
			Region    string `json:"region"`
		} `json:"minio_provider"`
	}
	if err := json.Unmarshal(a.must(200, "GET", "/system/config", nil), &cfg); err != nil {
		a.t.Fatal(err)
	}
	host := strings.TrimPrefix(cfg.MinIO.Endpoint, "http://")
	cl, err := minio.New(host, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.MinIO.AccessKey, cfg.MinIO.SecretKey, ""),
		Region: cfg.MinIO.Region,
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return cl
}

// loadFDL reads an FDL file the way oscar-cli does: each functions.oscar
// entry becomes a service whose script is the content of the file named
// relative to the FDL.
func loadFDL(t testing.TB, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Functions struct {
			OSCAR []map[string]map[string]any `yaml:"oscar"`
		} `yaml:"functions"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]any
	for _, entry := range doc.Functions.OSCAR {
		for clusterID, svc := range entry {
			script, err := os.ReadFile(filepath.Join(filepath.Dir(path), svc["script"].(string)))
			if err != nil {
				t.Fatal(err)
			}
			svc["script"] = string(script)
			svc["cluster_id"] = clusterID
			out = append(out, svc)
		}
	}
	return out
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitObject polls until an object exists and returns its content.
func waitObject(t testing.TB, cl *minio.Client, bucket, key string, timeout time.Duration) []byte {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		obj, err := cl.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
		if err == nil {
			b, err := io.ReadAll(obj)
			obj.Close()
			if err == nil {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("object %s/%s did not appear within %s (last error: %v)", bucket, key, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
