// Package s3test starts a real S3 server (versitygw with its posix backend)
// for tests.
package s3test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// EnvBinary names the environment variable that may point at versitygw.
const EnvBinary = "FDLSTUDIO_VERSITYGW"

// Server is a running versitygw.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Dir       string // the posix root: one directory per bucket
}

// Start runs versitygw on a free loopback port with fresh keys and an empty
// directory, waits until it answers, and stops it when the test ends. It
// fails the test (never skips) when versitygw cannot be found or started.
func Start(t testing.TB) Server {
	t.Helper()
	bin, err := FindBinary()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("s3test: pick a port: %v", err)
	}
	s := Server{
		Endpoint:  "http://127.0.0.1:" + port,
		AccessKey: "AK" + randHex(8),
		SecretKey: randHex(20),
		Dir:       t.TempDir(),
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", "127.0.0.1:"+port, "--quiet", "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("s3test: start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("s3test: versitygw exited before answering (%v); output:\n%s", err, out.String())
		default:
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("s3test: versitygw did not answer on %s within 15s: %v; output:\n%s", s.Endpoint, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FindBinary locates versitygw: $FDLSTUDIO_VERSITYGW, then bin/versitygw in
// the repository root (the directory with go.mod, searched upwards from the
// working directory), then $PATH.
func FindBinary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %v", EnvBinary, p, err)
		}
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, "bin", "versitygw")
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
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("versitygw not found: set %s, build it into ./bin/versitygw "+
		"(GOBIN=$PWD/bin go install github.com/versity/versitygw/cmd/versitygw@latest), or put it on PATH", EnvBinary)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
