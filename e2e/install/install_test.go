// Package install tests the one-binary promise: `go install` of the
// command into an empty GOPATH, then `fdlstudio serve` with nothing else on
// PATH runs the whole local stack (OSCAR API, S3 server, jobs).
package install

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.yaml.in/yaml/v3"
)

// repoRoot is the module root, two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", dir, err)
	}
	return dir
}

// goInstall installs ./cmd/fdlstudio into a fresh GOPATH's bin and
// returns the binary's path. go.mod is used as committed (-mod=readonly).
// In CI (CI set) the module cache is new and empty too, so every module
// comes from the module proxy as on a user's machine; elsewhere the
// shared cache is used offline (GOPROXY=off), to keep the run quick.
func goInstall(t *testing.T, root string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	env := func(k string) string {
		out, err := exec.Command(goBin, "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		return strings.TrimSpace(string(out))
	}
	gopath := filepath.Join(t.TempDir(), "gopath")
	gobin := filepath.Join(gopath, "bin")
	cmd := exec.Command(goBin, "install", "./cmd/fdlstudio")
	cmd.Dir = root
	modcache, proxy, flags := env("GOMODCACHE"), "off", "-mod=readonly -buildvcs=false"
	if os.Getenv("CI") != "" {
		// -modcacherw: the test's temporary dir can be removed after.
		// The module proxy only: no "direct" fallback to source hosts.
		proxy = strings.NewReplacer(",direct", "", "|direct", "").Replace(env("GOPROXY"))
		modcache, flags = filepath.Join(gopath, "pkg", "mod"), flags+" -modcacherw"
		t.Logf("go install with an empty module cache, modules from %s", proxy)
	}
	cmd.Env = []string{
		"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"),
		"GOPATH=" + gopath, "GOBIN=" + gobin,
		"GOMODCACHE=" + modcache, "GOCACHE=" + env("GOCACHE"),
		"GOPROXY=" + proxy, "GOFLAGS=" + flags, "GOTOOLCHAIN=local",
		"GONOSUMDB=" + os.Getenv("GONOSUMDB"), "GOSUMDB=" + env("GOSUMDB"),
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/fdlstudio: %v\n%s", err, out)
	}
	bin := filepath.Join(gobin, "fdlstudio")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("go install left no %s: %v", bin, err)
	}
	return bin
}

// cleanEnv is the environment of the installed program: its bin dir and
// the system's on PATH, where there is no versitygw.
func cleanEnv(t *testing.T, bin string) []string {
	t.Helper()
	path := filepath.Dir(bin) + ":/usr/bin:/bin"
	for _, d := range filepath.SplitList(path) {
		if _, err := os.Stat(filepath.Join(d, "versitygw")); err == nil {
			t.Fatalf("versitygw is in %s: the test needs a PATH without it", d)
		}
	}
	return []string{"PATH=" + path, "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serve starts `fdlstudio serve` and returns a function stopping it
// (SIGTERM, and waiting for it to exit).
func serve(t *testing.T, bin string, env []string, dataDir string, port int) (stop func()) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:"+strconv.Itoa(port), "--data-dir", dataDir)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fdlstudio serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("fdlstudio serve did not stop within 20s of SIGTERM; output:\n%s", out.String())
		}
	}
	t.Cleanup(stop)
	// Ready when the local cluster publishes its endpoints.
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("fdlstudio serve exited (%v); output:\n%s", err, out.String())
		default:
		}
		if c := localCredentials(t, bin, env, dataDir); strings.HasPrefix(c["endpoint"], "http://") {
			return stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("the local cluster did not start within 60s; output:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// localCredentials runs `fdlstudio local credentials` and parses its
// "name: value" lines.
func localCredentials(t *testing.T, bin string, env []string, dataDir string) map[string]string {
	t.Helper()
	cmd := exec.Command(bin, "local", "credentials", "--data-dir", dataDir)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

func TestGoInstallThenServeRunsTheSampleWithoutVersityGW(t *testing.T) {
	root := repoRoot(t)
	bin := goInstall(t, root)
	env := cleanEnv(t, bin)
	dataDir := filepath.Join(t.TempDir(), "data")
	port := freePort(t)
	stop := serve(t, bin, env, dataDir, port)
	creds := localCredentials(t, bin, env, dataDir)

	// Deploy the sample through the local cluster's OSCAR API, as
	// oscar-cli would with these credentials.
	dir := filepath.Join(root, "examples", "wordcount")
	for _, svc := range sampleServices(t, filepath.Join(dir, "wordcount.yaml")) {
		body, _ := json.Marshal(svc)
		status, msg := call(t, creds, "POST", "/system/services", body)
		if status != http.StatusCreated {
			t.Fatalf("create service %v: %d %s", svc["name"], status, msg)
		}
	}
	s3 := s3Client(t, creds)
	ctx := context.Background()
	text := "the fox and the dog and the cat\n"
	if _, err := s3.PutObject(ctx, "wordcount", "in/story.txt", strings.NewReader(text), int64(len(text)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("upload the input: %v", err)
	}
	var got string
	deadline := time.Now().Add(60 * time.Second)
	for {
		obj, err := s3.GetObject(ctx, "wordcount", "top10/story.top10.txt", minio.GetObjectOptions{})
		if err == nil {
			b, rerr := io.ReadAll(obj)
			obj.Close()
			if rerr == nil {
				got = string(b)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workflow's output top10/story.top10.txt did not appear within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if first, _, _ := strings.Cut(got, "\n"); first != "3 the" {
		t.Errorf("top10 starts with %q, want %q; whole output:\n%s", first, "3 the", got)
	}

	// A restart keeps the endpoints: an oscar-cli or S3 client configured
	// once keeps working.
	stop()
	serve(t, bin, env, dataDir, port)
	again := localCredentials(t, bin, env, dataDir)
	for _, k := range []string{"endpoint", "s3 endpoint"} {
		if again[k] != creds[k] {
			t.Errorf("after a restart `fdlstudio local credentials` prints %s %q, want %q as before", k, again[k], creds[k])
		}
	}
}

// sampleServices reads the sample FDL's OSCAR services, with their scripts
// inlined.
func sampleServices(t *testing.T, path string) []map[string]any {
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
		for _, svc := range entry {
			script, err := os.ReadFile(filepath.Join(filepath.Dir(path), fmt.Sprint(svc["script"])))
			if err != nil {
				t.Fatal(err)
			}
			svc["script"] = string(script)
			out = append(out, svc)
		}
	}
	if len(out) != 2 {
		t.Fatalf("%s has %d OSCAR services, want 2", path, len(out))
	}
	return out
}

func call(t *testing.T, creds map[string]string, method, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, creds["endpoint"]+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(creds["user"], creds["password"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func s3Client(t *testing.T, creds map[string]string) *minio.Client {
	t.Helper()
	host := strings.TrimPrefix(creds["s3 endpoint"], "http://")
	c, err := minio.New(host, &minio.Options{
		Creds:  credentials.NewStaticV4(creds["s3 access key"], creds["s3 secret key"], ""),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
