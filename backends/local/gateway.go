package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// versitygwHint tells a user how to get the storage server binary.
const versitygwHint = "build it with `make bin/versitygw` (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0), or set FDLSTUDIO_VERSITYGW to its path"

// FindVersityGW locates the versitygw binary: explicit (if not empty), then
// $FDLSTUDIO_VERSITYGW, then ./bin/versitygw, then $PATH.
func FindVersityGW(explicit string) (string, error) {
	try := func(p, from string) (string, error) {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("versitygw from %s: %w; %s", from, err, versitygwHint)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("versitygw from %s: %s is not an executable file; %s", from, p, versitygwHint)
		}
		return filepath.Abs(p)
	}
	if explicit != "" {
		return try(explicit, "config")
	}
	if env := os.Getenv("FDLSTUDIO_VERSITYGW"); env != "" {
		return try(env, "FDLSTUDIO_VERSITYGW")
	}
	if _, err := os.Stat(filepath.Join("bin", "versitygw")); err == nil {
		return try(filepath.Join("bin", "versitygw"), "./bin")
	}
	// Beside the running program: `make run` builds both into bin/.
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "versitygw"); p != exe {
			if _, err := os.Stat(p); err == nil {
				return try(p, "the program's directory")
			}
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return filepath.Abs(p)
	}
	return "", fmt.Errorf("versitygw binary not found (looked at config, FDLSTUDIO_VERSITYGW, ./bin/versitygw, beside the program and PATH); %s", versitygwHint)
}

// gateway supervises a versitygw child process: it starts it, restarts it
// with back-off if it dies unexpectedly, and stops it on close (SIGTERM,
// then SIGKILL after stopTimeout).
type gateway struct {
	bin        string
	addr       string // 127.0.0.1:port
	dataDir    string // objects
	metaDir    string // sidecar metadata
	filterFile string
	webhookURL string
	accessKey  string
	secretKey  string
	log        *slog.Logger

	stopTimeout time.Duration

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	out     *lineLogger
	closing bool
	done    chan struct{} // closed when the supervise loop ends
}

// freeLoopbackPort asks the kernel for an unused loopback port.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start launches the child and the supervise loop. It returns once the
// process is started; readiness is checked by the caller.
func (g *gateway) start() error {
	for _, d := range []string{g.dataDir, g.metaDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create storage dir: %w", err)
		}
	}
	if err := writeFileAtomic(g.filterFile, []byte(`{"s3:ObjectCreated:*": true}`+"\n"), 0o600); err != nil {
		return fmt.Errorf("write versitygw event filter: %w", err)
	}
	return g.spawn()
}

// waitReady waits until the child accepts connections, failing early (with
// its last output lines) if it exits; then it starts supervising it.
func (g *gateway) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	g.mu.Lock()
	exited, out := g.exited, g.out
	g.mu.Unlock()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", g.addr)
		if err == nil {
			c.Close()
			g.done = make(chan struct{})
			go g.supervise()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited at startup: %s", out.tail())
		case <-ctx.Done():
			return fmt.Errorf("versitygw at %s did not accept connections within %s: %w; its output: %s", g.addr, timeout, err, out.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (g *gateway) spawn() error {
	args := []string{
		"--port", g.addr,
		"--region", "us-east-1",
		"--quiet",
		"--event-webhook-url", g.webhookURL,
		"--event-filter", g.filterFile,
		"posix", "--sidecar", g.metaDir, g.dataDir,
	}
	cmd := exec.Command(g.bin, args...)
	// Keys go through the environment, not argv, so `ps` does not show them.
	cmd.Env = append(gatewayEnv(), "ROOT_ACCESS_KEY="+g.accessKey, "ROOT_SECRET_KEY="+g.secretKey)
	cmd.SysProcAttr = childAttrs()
	out := &lineLogger{log: g.log}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw %s: %w", g.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		out.flush()
		g.mu.Lock()
		closing := g.closing
		g.mu.Unlock()
		if !closing {
			g.log.Error("versitygw exited unexpectedly", "err", err)
		}
		close(exited)
	}()
	g.mu.Lock()
	g.cmd, g.exited, g.out = cmd, exited, out
	g.mu.Unlock()
	g.log.Info("versitygw started", "pid", cmd.Process.Pid, "addr", g.addr)
	return nil
}

// gatewayEnv returns the only variables of this process's environment the
// versitygw child gets: PATH, HOME, TMPDIR and LANG, those that are set.
// Anything else may be a secret of the server (FDLSTUDIO_OIDC_CLIENT_SECRET,
// cloud keys) or configure versitygw behind the cluster's back (VGW_*,
// ROOT_*).
func gatewayEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// supervise restarts the child when it exits while the gateway is open.
func (g *gateway) supervise() {
	defer close(g.done)
	backoff := time.Second
	for {
		g.mu.Lock()
		exited := g.exited
		g.mu.Unlock()
		<-exited
		started := time.Now()
		for {
			g.mu.Lock()
			closing := g.closing
			g.mu.Unlock()
			if closing {
				return
			}
			time.Sleep(backoff)
			g.mu.Lock()
			closing = g.closing
			g.mu.Unlock()
			if closing {
				return
			}
			if err := g.spawn(); err != nil {
				g.log.Error("restart versitygw", "err", err)
				backoff = min(backoff*2, 30*time.Second)
				continue
			}
			break
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
	}
}

// close stops the child: SIGTERM to its process group, SIGKILL after the
// stop timeout.
func (g *gateway) close() error {
	g.mu.Lock()
	if g.closing || g.cmd == nil {
		g.closing = true
		g.mu.Unlock()
		return nil
	}
	g.closing = true
	cmd, exited := g.cmd, g.exited
	g.mu.Unlock()

	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	timeout := g.stopTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	select {
	case <-exited:
	case <-time.After(timeout):
		g.log.Warn("versitygw did not stop after SIGTERM; killing it", "pid", pid)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	if g.done != nil {
		<-g.done
	}
	return nil
}

// pid returns the process id of the current child (0 if none).
func (g *gateway) pid() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil || g.cmd.Process == nil {
		return 0
	}
	return g.cmd.Process.Pid
}

// lineLogger turns a child's output into log records, one per line.
type lineLogger struct {
	log  *slog.Logger
	mu   sync.Mutex
	buf  []byte
	last []string // the last few lines, for error messages
}

// tail returns the last lines written, joined.
func (l *lineLogger) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.last) == 0 {
		return "(no output)"
	}
	return strings.Join(l.last, " | ")
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.emit(string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *lineLogger) emit(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	l.log.Debug("versitygw", "line", line)
	if len(l.last) == 5 {
		l.last = l.last[1:]
	}
	l.last = append(l.last, line)
}

var _ io.Writer = (*lineLogger)(nil)

// errNotStarted is returned by API calls that need storage before Start.
var errNotStarted = errors.New("local cluster is not started")

func itoa(i int) string { return strconv.Itoa(i) }
