package local

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readPID reads a process id a script wrote to a file, waiting for it.
func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if s := strings.TrimSpace(string(b)); err == nil && s != "" {
			pid, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("pid file %s holds %q: %v", path, s, err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid file %s not written within 10s (%v)", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// Field 3, after the parenthesised command name, is the state.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestBackgroundProcessDoesNotHoldTheJob(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)
	pidFile := filepath.Join(t.TempDir(), "pid")
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{
		"name": "bg", "image": "alpine",
		"script":      "sleep 600 &\necho $! > \"$PIDFILE\"\necho done\n",
		"environment": map[string]any{"variables": map[string]string{"PIDFILE": pidFile}},
	}))
	a.must(201, "POST", "/job/bg", nil)
	job := a.lastHead.Get(jobNameHeader)
	start := time.Now()
	r := a.waitJobs("bg", 8*time.Second, func(r jobsResponse) bool {
		return r.Jobs[job].Status != StatusPending && r.Jobs[job].Status != StatusRunning
	})
	if got := r.Jobs[job].Status; got != StatusSucceeded {
		t.Errorf("job status = %s, want %s", got, StatusSucceeded)
	}
	t.Logf("job finished in %s", time.Since(start))
	if log := string(a.must(200, "GET", "/system/logs/bg/"+job, nil)); !strings.Contains(log, "done") {
		t.Errorf("log does not contain the script's output %q:\n%s", "done", log)
	}
	pid := readPID(t, pidFile)
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("background process %d still alive 5s after its job finished", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDiskLimitsKillTheRunningJob(t *testing.T) {
	c := startCluster(t, Config{MaxOutputBytes: 1 << 20, MaxWorkDirBytes: 2 << 20})
	// Left alone, each script writes 100 MB over about 25 s.
	loop := func(file string) string {
		return "i=0\nwhile [ $i -lt 1000 ]; do head -c 100000 /dev/zero >> \"" + file + "\"; i=$((i+1)); sleep 0.02; done\necho finished\n"
	}
	tests := []struct {
		name   string
		script string
		want   string
	}{
		{"outputs", loop("$TMP_OUTPUT_DIR/big.bin"), "over the limit of 1048576 bytes (MaxOutputBytes)"},
		{"tmpfiles", loop("$TMPDIR/big.tmp"), "over the limit of 2097152 bytes (MaxWorkDirBytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, c)
			a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{"name": tt.name, "image": "alpine", "script": tt.script}))
			start := time.Now()
			a.must(201, "POST", "/job/"+tt.name, nil)
			job := a.lastHead.Get(jobNameHeader)
			r := a.waitJobs(tt.name, 8*time.Second, func(r jobsResponse) bool {
				return r.Jobs[job].Status != StatusPending && r.Jobs[job].Status != StatusRunning
			})
			t.Logf("job ended in %s", time.Since(start))
			if got := r.Jobs[job].Status; got != StatusFailed {
				t.Errorf("status = %s, want %s", got, StatusFailed)
			}
			log := string(a.must(200, "GET", "/system/logs/"+tt.name+"/"+job, nil))
			if !strings.Contains(log, tt.want) {
				t.Errorf("log does not say which limit was exceeded (%q):\n%s", tt.want, log)
			}
			if strings.Contains(log, "finished") {
				t.Errorf("the script ran to its end:\n%s", log)
			}
		})
	}
}

func TestStartRemovesStaleWorkDirs(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "work", "svc-0b5e1c1e-6d0e-4c4e-9a43-3f1c8e1d7a10-123456", "tmp")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "leftover.bin"), []byte("data of a job cut short"), 0o600); err != nil {
		t.Fatal(err)
	}
	startCluster(t, Config{DataDir: dir})
	entries, err := os.ReadDir(filepath.Join(dir, "work"))
	if err != nil {
		t.Fatalf("the work root is gone too, want it kept: %v", err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after Start, the work root still holds %v", names)
	}
}

func TestS3ServerGetsNoSecretOnCommandLineOrEnvironment(t *testing.T) {
	const secret = "oidc-secret-that-must-not-leak"
	t.Setenv("FDLSTUDIO_OIDC_CLIENT_SECRET", secret)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("VGW_ACCESS", "not-the-cluster-key")
	c := startCluster(t, Config{})
	pid := c.gw.pid()
	if pid == 0 {
		t.Fatal("the S3 server has no process")
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); len(got) != 2 || got[1] != gatewayCommand {
		t.Errorf("S3 server command line = %q, want this program and %q", got, gatewayCommand)
	}
	got := map[string]string{}
	for _, kv := range strings.Split(string(environ), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			got[k] = v
		}
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "TMPDIR": true, "LANG": true, gatewayChildEnv: true}
	for k, v := range got {
		if !allowed[k] {
			t.Errorf("S3 server environment has %s (value hidden); want only %v", k, allowed)
		}
		if strings.Contains(v, secret) {
			t.Errorf("S3 server environment variable %s carries the server's secret", k)
		}
	}
	_, access, secretKey := c.S3()
	hookSecret := strings.TrimPrefix(c.hookPath, "/events/")
	for name, s := range map[string]string{"S3 access key": access, "S3 secret key": secretKey, "event webhook secret": hookSecret} {
		if len(s) < 8 {
			t.Fatalf("%s %q is too short to be a secret", name, s)
		}
		if strings.Contains(string(cmdline), s) || strings.Contains(string(environ), s) {
			t.Errorf("the %s is on the S3 server's command line or in its environment", name)
		}
	}
	if got["PATH"] != os.Getenv("PATH") {
		t.Errorf("S3 server PATH = %q, want this process's %q", got["PATH"], os.Getenv("PATH"))
	}
}
