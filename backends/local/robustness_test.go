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
