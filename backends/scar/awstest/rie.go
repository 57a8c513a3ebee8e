package awstest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvRIE names the environment variable that may point at aws-lambda-rie.
const EnvRIE = "FDLSTUDIO_AWS_LAMBDA_RIE"

// RIE is the AWS Lambda Runtime Interface Emulator running one function
// (which it calls "function"), used as the fake's Runtime: every
// function's invocations go to it, one at a time (the emulator runs one
// execution environment), and what the function printed becomes the
// invocation's log.
type RIE struct {
	URL string // the emulator's invoke API, http://127.0.0.1:PORT

	mu   sync.Mutex // one invocation at a time
	out  *lineBuffer
	hc   *http.Client
	quit chan struct{}
}

// StartRIE runs aws-lambda-rie with bootstrap as the function's runtime
// (a program speaking the Lambda Runtime API), both its invoke API and its
// Runtime API on loopback ports, and stops it when the test ends. It fails
// the test (never skips) when the emulator cannot be found or started.
func StartRIE(t testing.TB, bootstrap ...string) *RIE {
	t.Helper()
	bin, err := FindRIE()
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	api, rt := freeAddr(t), freeAddr(t)
	r := &RIE{URL: "http://" + api, out: &lineBuffer{}, hc: &http.Client{Timeout: time.Minute}, quit: make(chan struct{})}
	args := append([]string{"--log-level", "error", "--runtime-interface-emulator-address", api, "--runtime-api-address", rt}, bootstrap...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("awstest: start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", api, time.Second)
		if err == nil {
			c.Close()
			return r
		}
		select {
		case err := <-exited:
			t.Fatalf("awstest: aws-lambda-rie exited before answering (%v); output:\n%s", err, r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("awstest: aws-lambda-rie did not listen on %s within 15s; output:\n%s", api, r.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Invoke implements Runtime: POST the payload to the emulator, and take the
// lines the function printed during the invocation (the emulator's own
// START/END/REPORT lines are left out: the fake writes Lambda's).
func (r *RIE) Invoke(ctx context.Context, function string, payload []byte) (Invocation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mark := r.out.Len()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return Invocation{}, err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return Invocation{}, fmt.Errorf("aws-lambda-rie: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Invocation{}, fmt.Errorf("aws-lambda-rie: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Invocation{}, fmt.Errorf("aws-lambda-rie: status %d: %s", resp.StatusCode, body)
	}
	inv := Invocation{Payload: body}
	if bytes.Contains(body, []byte(`"errorType"`)) {
		inv.Error = "Unhandled"
	}
	// The emulator prints END and REPORT after the function's output; wait
	// (briefly) for its REPORT so the output is complete.
	var lines []string
	for wait := time.Now().Add(2 * time.Second); ; {
		lines = r.out.LinesFrom(mark)
		if containsPrefix(lines, "REPORT RequestId") || time.Now().After(wait) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "START RequestId") && !strings.HasPrefix(l, "END RequestId") && !strings.HasPrefix(l, "REPORT RequestId") {
			inv.Log = append(inv.Log, l)
		}
	}
	return inv, nil
}

func containsPrefix(lines []string, p string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// FindRIE locates aws-lambda-rie: $FDLSTUDIO_AWS_LAMBDA_RIE, then
// bin/aws-lambda-rie in the repository root, then $PATH.
func FindRIE() (string, error) {
	if p := os.Getenv(EnvRIE); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %v", EnvRIE, p, err)
		}
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, "bin", "aws-lambda-rie")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("aws-lambda-rie not found: set %s, or `make bin/aws-lambda-rie`", EnvRIE)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("awstest: pick a port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lineBuffer collects a process's output.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// LinesFrom returns the complete lines written after byte offset mark.
func (b *lineBuffer) LinesFrom(mark int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()[mark:]))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// EnvRuntimeAPI is the variable Lambda (and the emulator) sets for a
// runtime: the host:port of the Runtime API.
const EnvRuntimeAPI = "AWS_LAMBDA_RUNTIME_API"

// ServeRuntimeAPI is a minimal Lambda runtime: it fetches invocations from
// the Runtime API at $AWS_LAMBDA_RUNTIME_API, runs handler on each and
// posts the answer (or the error), until the API goes away. A test binary
// calls it from TestMain when started as the emulator's bootstrap.
func ServeRuntimeAPI(handler func(requestID string, payload []byte) ([]byte, error)) error {
	api := os.Getenv(EnvRuntimeAPI)
	if api == "" {
		return fmt.Errorf("%s is not set", EnvRuntimeAPI)
	}
	base := "http://" + api + "/2018-06-01/runtime/invocation/"
	hc := &http.Client{} // the next-invocation call blocks until there is one
	for {
		resp, err := hc.Get(base + "next")
		if err != nil {
			return err
		}
		payload, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		out, herr := handler(id, payload)
		url, ctype := base+id+"/response", "application/json"
		if herr != nil {
			url = base + id + "/error"
			out = []byte(fmt.Sprintf(`{"errorMessage":%q,"errorType":"HandlerError"}`, herr.Error()))
		}
		resp, err = hc.Post(url, ctype, bytes.NewReader(out))
		if err != nil {
			return err
		}
		resp.Body.Close()
	}
}
