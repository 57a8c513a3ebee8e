package local

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// runScript creates a service with script and env, runs one job, waits
// for it to end and returns its status and log.
func runScript(t *testing.T, a *api, name, script string, env map[string]string) (string, string) {
	t.Helper()
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{
		"name": name, "image": "alpine", "script": script,
		"environment": map[string]any{"variables": env},
	}))
	a.must(201, "POST", "/job/"+name, nil)
	job := a.lastHead.Get(jobNameHeader)
	r := a.waitJobs(name, 30*time.Second, func(r jobsResponse) bool {
		return r.Jobs[job].Status == StatusSucceeded || r.Jobs[job].Status == StatusFailed
	})
	return r.Jobs[job].Status, string(a.must(200, "GET", "/system/logs/"+name+"/"+job, nil))
}

// peekScript tries to read the local cluster's key file and this
// process's environment, and counts the processes it can see.
const peekScript = `if cat "$KEYFILE" >/dev/null 2>&1; then echo key=READABLE; else echo key=hidden; fi
if cat /proc/$SERVERPID/environ >/dev/null 2>&1; then echo environ=READABLE; else echo environ=hidden; fi
echo datadir=$(ls -A "$DATADIR" | tr '\n' ' ')
if test -e "$TMPMARKER"; then echo tmp=SHARED; else echo tmp=private; fi
`

func TestSandboxHidesDataDirAndServerEnvironment(t *testing.T) {
	dir := t.TempDir()
	marker, err := os.CreateTemp("/tmp", "fdlstudio-sandbox-marker-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	t.Cleanup(func() { os.Remove(marker.Name()) })
	env := map[string]string{
		"KEYFILE": filepath.Join(dir, credentialsFile), "DATADIR": dir, "SERVERPID": strconv.Itoa(os.Getpid()),
		"TMPMARKER": marker.Name(),
	}
	// Without the sandbox (single-user mode) the script sees it all: the
	// check below can fail.
	open := startCluster(t, Config{DataDir: filepath.Join(dir, "open")})
	env["KEYFILE"] = filepath.Join(dir, "open", credentialsFile)
	_, log := runScript(t, newAPI(t, open), "peek", peekScript, env)
	if !strings.Contains(log, "key=READABLE") || !strings.Contains(log, "environ=READABLE") || !strings.Contains(log, "tmp=SHARED") {
		t.Fatalf("without the sandbox the script should read the key file and the environment; log:\n%s", log)
	}

	env["KEYFILE"] = filepath.Join(dir, credentialsFile)
	c := startCluster(t, Config{DataDir: dir, Sandbox: true})
	status, log := runScript(t, newAPI(t, c), "peek", peekScript, env)
	if status != StatusSucceeded {
		t.Fatalf("sandboxed job %s; log:\n%s", status, log)
	}
	// Of the data dir, only the path down to the job's working dir exists.
	lines := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{"key=hidden", "environ=hidden", "datadir=work", "tmp=private"} {
		if !lines[want] {
			t.Errorf("sandboxed job's log lacks the line %q:\n%s", want, log)
		}
	}
}

func TestSandboxedJobHitsItsMemoryLimit(t *testing.T) {
	c := startCluster(t, Config{Sandbox: true, Limits: JobLimits{MemoryBytes: 256 << 20}})
	status, log := runScript(t, newAPI(t, c), "hog", `awk 'BEGIN { s = "a"; while (1) s = s s }'`+"\n", nil)
	if status != StatusFailed {
		t.Errorf("memory hog %s, want %s", status, StatusFailed)
	}
	if !strings.Contains(log, "hit its memory limit of 268435456 bytes") {
		t.Errorf("the log does not say the job hit its memory limit:\n%s", log)
	}
}

func TestSetsidGrandchildDiesWithItsJob(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		stop   bool // delete the job while it runs
	}{
		{"finished", "setsid sh -c 'echo $$ > \"$PIDFILE\"; exec sleep 600' &\nsleep 1\necho done\n", false},
		{"deleted", "setsid sh -c 'echo $$ > \"$PIDFILE\"; exec sleep 600' &\nsleep 600\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, Config{})
			a := newAPI(t, c)
			pidFile := filepath.Join(t.TempDir(), "pid")
			a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{
				"name": "daemon", "image": "alpine", "script": tc.script,
				"environment": map[string]any{"variables": map[string]string{"PIDFILE": pidFile}},
			}))
			a.must(201, "POST", "/job/daemon", nil)
			job := a.lastHead.Get(jobNameHeader)
			pid := readPID(t, pidFile)
			if sid := sessionOf(t, pid); sid != pid {
				t.Fatalf("grandchild %d is in session %d, want its own", pid, sid)
			}
			if tc.stop {
				a.must(204, "DELETE", "/system/logs/daemon/"+job, nil)
			} else {
				a.waitJobs("daemon", 15*time.Second, func(r jobsResponse) bool { return r.Jobs[job].Status == StatusSucceeded })
			}
			deadline := time.Now().Add(5 * time.Second)
			for alive(pid) {
				if time.Now().After(deadline) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("setsid grandchild %d still alive 5s after its job ended", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestSandboxNeedsBwrap(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := New(Config{DataDir: t.TempDir(), Sandbox: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "bubblewrap (bwrap) is not installed") {
		t.Errorf("New without bwrap: %v, want a refusal naming bubblewrap", err)
	}
}

// sessionOf reads a process's session id from /proc.
func sessionOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	sid, err := strconv.Atoi(f[3]) // state ppid pgrp session
	if err != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return sid
}
