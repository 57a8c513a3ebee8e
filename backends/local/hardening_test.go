package local

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// startIn starts a cluster on dir without closing it at the end of the
// test (the caller closes it), for restarts.
func startIn(t *testing.T, dir string, log *slog.Logger) *Cluster {
	t.Helper()
	c, err := New(Config{DataDir: dir}, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c
}

func TestEndpointsStayTheSameAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	c := startIn(t, dir, nil)
	first, err := ReadRuntime(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = startIn(t, dir, nil)
	second, err := ReadRuntime(dir)
	if err != nil {
		t.Fatal(err)
	}
	if second.Endpoint != first.Endpoint || second.S3Endpoint != first.S3Endpoint {
		t.Errorf("after a restart the endpoints are %s and %s, want the first run's %s and %s",
			second.Endpoint, second.S3Endpoint, first.Endpoint, first.S3Endpoint)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Someone took the API port meanwhile: the cluster still starts, on
	// another port, and says why.
	squatter, err := net.Listen("tcp", strings.TrimPrefix(first.Endpoint, "http://"))
	if err != nil {
		t.Fatalf("take the old API port: %v", err)
	}
	defer squatter.Close()
	var logs syncBuffer
	c = startIn(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
	defer c.Close()
	third, err := ReadRuntime(dir)
	if err != nil {
		t.Fatal(err)
	}
	if third.Endpoint == first.Endpoint {
		t.Fatalf("the API endpoint %s is the squatted one", third.Endpoint)
	}
	if third.S3Endpoint != first.S3Endpoint {
		t.Errorf("S3 endpoint %s changed though its port was free, want %s", third.S3Endpoint, first.S3Endpoint)
	}
	if !strings.Contains(logs.String(), "port of the last run is taken") {
		t.Errorf("no log line says the old port was taken:\n%s", logs.String())
	}
	a := newAPI(t, c)
	a.must(200, "GET", "/system/info", nil)
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestJobQueueIsBounded(t *testing.T) {
	c := startCluster(t, Config{MaxConcurrency: 1, MaxQueuedJobs: 2})
	a := newAPI(t, c)
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{
		"name": "slow", "image": "alpine", "script": "sleep 30\n",
		"input": []map[string]any{{"storage_provider": "minio.default", "path": "slow/in"}},
	}))
	// One job takes the only slot; two more may wait.
	a.must(201, "POST", "/job/slow", nil)
	first := a.lastHead.Get(jobNameHeader)
	a.waitJobs("slow", 10*time.Second, func(r jobsResponse) bool { return r.Jobs[first].Status == StatusRunning })
	a.must(201, "POST", "/job/slow", nil)
	a.must(201, "POST", "/job/slow", nil)
	status, body := a.do("POST", "/job/slow", nil)
	if status != 429 || !strings.Contains(string(body), "queue is full") || !strings.Contains(string(body), "MaxQueuedJobs 2") {
		t.Errorf("fourth job: %d %q, want 429 saying the queue is full", status, body)
	}
	if got := len(a.jobs("slow").Jobs); got != 3 {
		t.Errorf("%d jobs recorded, want 3: a refused job is not stored", got)
	}

	// An upload flood: events past the cap are dropped and counted, not
	// stored.
	s3 := a.s3Client()
	for i := range 5 {
		if _, err := s3.PutObject(context.Background(), "slow", "in/f"+string(rune('a'+i)), strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		queued, dropped := c.QueueStats()
		if dropped >= 6 {
			if queued != 2 {
				t.Errorf("%d jobs queued, want the cap 2", queued)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 uploads into a full queue, %d refused in all, want 6 (1 request + 5 events)", dropped)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := len(a.jobs("slow").Jobs); got != 3 {
		t.Errorf("%d jobs recorded after the flood, want 3", got)
	}
}
