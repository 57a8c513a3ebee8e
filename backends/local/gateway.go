package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// gatewayCommand is the hidden sub-command under which this program (or a
// test binary linking this package) runs the S3 server: os.Args[1] of the
// child. It is not a user command: the child also needs gatewayChildEnv
// set and its configuration on file descriptor gatewayConfigFD.
const gatewayCommand = "internal-s3-gateway"

// gatewayChildEnv marks the child's environment, so that nobody starts the
// S3 server by typing the hidden command by accident.
const gatewayChildEnv = "FDLSTUDIO_INTERNAL_CHILD"

// gatewayConfigFD is the file descriptor on which the child reads its
// configuration (a pipe). Secrets (the root keys and the event webhook URL,
// whose path is a secret) travel there, never on the command line or in the
// environment, so neither `ps` nor /proc/PID/cmdline or environ show them.
const gatewayConfigFD = 3

func init() {
	// The S3 server child: the same executable, re-run. This has to happen
	// before main (or a test binary's TestMain) parses its own flags.
	// gatewayChildEnv names which internal command the child is.
	if len(os.Args) == 2 && os.Args[1] == gatewayCommand && os.Getenv(gatewayChildEnv) == gatewayCommand {
		os.Exit(runGatewayChild(os.NewFile(gatewayConfigFD, "s3-gateway-config"), os.Stderr))
	}
	// The wrapper of a job's script (see jobWrapperCommand).
	if len(os.Args) > 2 && os.Args[1] == jobWrapperCommand && os.Getenv(gatewayChildEnv) == jobWrapperCommand {
		os.Exit(runJobWrapper(os.Args[2:]))
	}
}

// gatewayChildConfig is what the parent writes on the child's config pipe.
type gatewayChildConfig struct {
	Addr       string `json:"addr"`
	Region     string `json:"region"`
	AccessKey  string `json:"access_key"`
	SecretKey  string `json:"secret_key"`
	DataDir    string `json:"data_dir"`
	MetaDir    string `json:"meta_dir"`
	WebhookURL string `json:"webhook_url,omitempty"`
	FilterFile string `json:"filter_file,omitempty"`
}

// gateway supervises the S3 server child process: versitygw's posix
// backend, embedded in this program (github.com/versity/versitygw/embedgw)
// and run as a child because embedgw allows one gateway per process while a
// process (a test binary, say) may run several local clusters. It starts
// the child, restarts it with back-off if it dies unexpectedly, and stops
// it on close (SIGTERM, then SIGKILL after stopTimeout).
type gateway struct {
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
	if g.filterFile != "" {
		if err := writeFileAtomic(g.filterFile, []byte(`{"s3:ObjectCreated:*": true}`+"\n"), 0o600); err != nil {
			return fmt.Errorf("write the S3 server's event filter: %w", err)
		}
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
			return fmt.Errorf("the S3 server exited at startup: %s", out.tail())
		case <-ctx.Done():
			return fmt.Errorf("the S3 server at %s did not accept connections within %s: %w; its output: %s", g.addr, timeout, err, out.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (g *gateway) spawn() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start the S3 server: find this program's executable: %w", err)
	}
	conf, err := json.Marshal(gatewayChildConfig{
		Addr: g.addr, Region: "us-east-1", AccessKey: g.accessKey, SecretKey: g.secretKey,
		DataDir: g.dataDir, MetaDir: g.metaDir, WebhookURL: g.webhookURL, FilterFile: g.filterFile,
	})
	if err != nil {
		return fmt.Errorf("start the S3 server: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start the S3 server: config pipe: %w", err)
	}
	cmd := exec.Command(exe, gatewayCommand)
	cmd.Env = append(gatewayEnv(), gatewayChildEnv+"="+gatewayCommand)
	cmd.ExtraFiles = []*os.File{r} // fd 3 in the child
	cmd.SysProcAttr = childAttrs()
	out := &lineLogger{log: g.log}
	cmd.Stdout = out
	cmd.Stderr = out
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return fmt.Errorf("start the S3 server (%s %s): %w", exe, gatewayCommand, err)
	}
	// The config is far smaller than a pipe's buffer: this never blocks.
	_, werr := w.Write(conf)
	w.Close()
	if werr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("start the S3 server: write its config: %w", werr)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		out.flush()
		g.mu.Lock()
		closing := g.closing
		g.mu.Unlock()
		if !closing {
			g.log.Error("the S3 server exited unexpectedly", "err", err)
		}
		close(exited)
	}()
	g.mu.Lock()
	g.cmd, g.exited, g.out = cmd, exited, out
	g.mu.Unlock()
	g.log.Info("S3 server started", "pid", cmd.Process.Pid, "addr", g.addr)
	return nil
}

// gatewayEnv returns the only variables of this process's environment the
// S3 server child gets: PATH, HOME, TMPDIR and LANG, those that are set.
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
				g.log.Error("restart the S3 server", "err", err)
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
		g.log.Warn("the S3 server did not stop after SIGTERM; killing it", "pid", pid)
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
	l.log.Debug("s3 server", "line", line)
	if len(l.last) == 5 {
		l.last = l.last[1:]
	}
	l.last = append(l.last, line)
}

var _ io.Writer = (*lineLogger)(nil)

// errNotStarted is returned by API calls that need storage before Start.
var errNotStarted = errors.New("local cluster is not started")

func itoa(i int) string { return strconv.Itoa(i) }
