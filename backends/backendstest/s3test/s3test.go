// Package s3test starts a real S3 server for tests: versitygw with its
// posix backend, the one the local cluster runs.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends/local"
)

// Server is a running S3 server.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Dir       string // the posix root: one directory per bucket
}

// Start runs the S3 server the local cluster uses (versitygw, built into
// this program, as a child process) on a free loopback port with fresh keys
// and an empty directory, waits until it answers, and stops it when the
// test ends. It fails the test (never skips) when it cannot start.
func Start(t testing.TB) Server {
	t.Helper()
	root := t.TempDir()
	s := Server{
		AccessKey: "AK" + randHex(8),
		SecretKey: randHex(20),
		Dir:       filepath.Join(root, "objects"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := local.StartS3Server(ctx, local.S3ServerConfig{
		DataDir: s.Dir, MetaDir: filepath.Join(root, "meta"),
		AccessKey: s.AccessKey, SecretKey: s.SecretKey,
	}, nil)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	s.Endpoint = srv.Endpoint
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
