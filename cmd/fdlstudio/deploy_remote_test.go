package main

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	deployPkg "github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/web"
)

// syncBuffer is a log sink the server writes to while the test reads.
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

// owner is the browser of the person who started a single-user server.
type owner struct {
	t    *testing.T
	base string
	c    *http.Client
}

// startServer runs FDL Studio in single-user mode with the embedded local
// cluster on a loopback port, and returns its owner's browser, unlocked
// with the printed start URL, and the server's log.
func startServer(t *testing.T) (*owner, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LocalCluster = "on"
	srv, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	jar, _ := cookiejar.New(nil)
	o := &owner{t: t, base: srv.URL(), c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	if resp, _ := o.get(srv.OpenURL()); resp.StatusCode != http.StatusOK {
		t.Fatalf("start URL: %d", resp.StatusCode)
	}
	return o, logs
}

func (o *owner) do(req *http.Request) (*http.Response, string) {
	o.t.Helper()
	resp, err := o.c.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (o *owner) get(u string) (*http.Response, string) {
	o.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return o.do(req)
}

var (
	csrfFieldRE  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	tokenValueRE = regexp.MustCompile(`value="([^"]+)" data-testid="token-value"`)
	revokeRE     = regexp.MustCompile(`action="(/tokens/\d+/revoke)"`)
)

// form posts a form of the tokens page with the page's CSRF token.
func (o *owner) form(path string, v url.Values) (*http.Response, string) {
	o.t.Helper()
	_, page := o.get(o.base + "/tokens")
	m := csrfFieldRE.FindStringSubmatch(page)
	if m == nil {
		o.t.Fatalf("no CSRF field on /tokens:\n%s", page)
	}
	v.Set("csrf_token", html.UnescapeString(m[1]))
	req, _ := http.NewRequest(http.MethodPost, o.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return o.do(req)
}

// makeToken makes an API token on the tokens page, as a person would.
func (o *owner) makeToken(name string) string {
	o.t.Helper()
	resp, page := o.form("/tokens", url.Values{"name": {name}, "days": {"30"}})
	m := tokenValueRE.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusCreated || m == nil || resp.Header.Get("Cache-Control") != "no-store" {
		o.t.Fatalf("make token: %d, Cache-Control %q\n%s", resp.StatusCode, resp.Header.Get("Cache-Control"), page)
	}
	// Shown once: the list shows its name, never the token.
	if _, list := o.get(o.base + "/tokens"); strings.Contains(list, m[1]) || !strings.Contains(list, name) {
		o.t.Fatalf("the tokens list shows the token, or not its name")
	}
	return html.UnescapeString(m[1])
}

// TestDeployThroughAServer runs `fdlstudio deploy --server` against a
// real FDL Studio (single-user mode, embedded local cluster) with a real
// API token made on its tokens page: plan, apply with per-function
// progress, a second apply that does nothing, bad input, a bad token, a
// revoked token, an unreachable server; a cookie-only request to /api/ is
// refused; the token never reaches the server's log.
func TestDeployThroughAServer(t *testing.T) {
	o, logs := startServer(t)
	token := o.makeToken("cli")

	dir := t.TempDir()
	for _, f := range []string{"wordcount.yaml", "count.sh", "top10.sh"} {
		data, err := os.ReadFile(filepath.Join("../../examples/wordcount", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wf := filepath.Join(dir, "wordcount.yaml")
	env := map[string]string{"FDLSTUDIO_TOKEN": token}
	deploy := func(args ...string) (int, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"deploy"}, args...), func(k string) string { return env[k] }, &out, &errOut)
		return code, out.String() + errOut.String()
	}

	code, out := deploy(wf, "--server", o.base, "--plan")
	if code != 0 || !strings.Contains(out, "Plan for "+wf+":") || !strings.Contains(out, "  + create     wc-count on local") ||
		!strings.Contains(out, "2 to create, 0 to update, 0 to delete, 0 unchanged.") {
		t.Fatalf("--plan: exit %d\n%s", code, out)
	}
	code, out = deploy(wf, "--server", o.base, "--yes")
	if code != 0 || !regexp.MustCompile(`\[1/2\] create wc-\w+ on local: done`).MatchString(out) ||
		!regexp.MustCompile(`\[2/2\] create wc-\w+ on local: done`).MatchString(out) || !strings.Contains(out, "Applied (deployment ") {
		t.Fatalf("--yes: exit %d\n%s", code, out)
	}
	code, out = deploy(wf, "--server", o.base, "--yes")
	if code != 0 || !strings.Contains(out, "0 to create, 0 to update, 0 to delete, 2 unchanged.") || !strings.Contains(out, "Nothing to do.") {
		t.Fatalf("second apply: exit %d\n%s", code, out)
	}

	// A changed field is one update, shown field by field.
	y, _ := os.ReadFile(wf)
	if err := os.WriteFile(wf, []byte(strings.Replace(string(y), "memory: 256Mi", "memory: 512Mi", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = deploy(wf, "--server", o.base, "--plan")
	if code != 0 || !strings.Contains(out, "0 to create, 1 to update, 0 to delete, 1 unchanged.") || !strings.Contains(out, "memory: 256Mi → 512Mi") {
		t.Fatalf("plan after a change: exit %d\n%s", code, out)
	}

	// Asked on a terminal: "no" applies nothing, "yes" applies the plan
	// shown; an apply of a plan that is not the one shown is refused.
	ask := func(answer string) (int, string) {
		var out bytes.Buffer
		code := remoteDeploy(context.Background(), remoteOptions{Server: o.base, Token: token, Path: wf,
			In: strings.NewReader(answer), Out: &out})
		return code, out.String()
	}
	if code, out := ask("n\n"); code != 0 || !strings.Contains(out, "Apply this plan? [y/N] Nothing was applied.") {
		t.Errorf("answered no: exit %d\n%s", code, out)
	}
	if code, out := ask("y\n"); code != 0 || !strings.Contains(out, "[1/1] update wc-count on local: done") {
		t.Errorf("answered yes: exit %d\n%s", code, out)
	}
	var bundle bytes.Buffer
	doc, scripts, _ := deployPkg.Load(wf)
	b, _ := fdl.NewBundle(doc, scripts)
	b.WriteZip(&bundle)
	req, _ := http.NewRequest(http.MethodPost, o.base+"/api/deploy/apply?"+url.Values{"workflow": {wf}, "expect": {"0123"}}.Encode(), &bundle)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusConflict {
		t.Errorf("apply of another plan: %v %v", resp.StatusCode, err)
	}

	// The token from a file only its owner reads works too; a file
	// others can read is refused.
	tf := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tf, []byte(token+"\n"), 0o600)
	env = map[string]string{}
	if code, out := deploy(wf, "--server", o.base, "--token-file", tf, "--plan"); code != 0 || !strings.Contains(out, "2 unchanged") {
		t.Errorf("--token-file: exit %d\n%s", code, out)
	}
	os.Chmod(tf, 0o644)
	if code, out := deploy(wf, "--server", o.base, "--token-file", tf, "--plan"); code != 2 || !strings.Contains(out, "chmod 600") {
		t.Errorf("a readable --token-file: exit %d\n%s", code, out)
	}
	if code, out := deploy(wf, "--server", o.base, "--plan"); code != 2 || !strings.Contains(out, "FDLSTUDIO_TOKEN") {
		t.Errorf("no token: exit %d\n%s", code, out)
	}
	if code, out := deploy(wf, "--server", o.base, "--token", token, "--plan"); code != 2 || !strings.Contains(out, "command line") {
		t.Errorf("--token: exit %d\n%s", code, out)
	}
	env = map[string]string{"FDLSTUDIO_TOKEN": token}

	// Bad input: an invalid workflow (with its line), a bad mapping, a
	// cluster that is not registered, a bad address.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("functions:\n  oscar:\n  - local:\n      name: Not_A_Name!\n      image: x\n      script: count.sh\n"), 0o600)
	if code, out := deploy(bad, "--server", o.base, "--plan"); code != 2 || !strings.Contains(out, "bad.yaml:") || !strings.Contains(out, "not a deployable workflow") {
		t.Errorf("invalid FDL: exit %d\n%s", code, out)
	}
	if code, out := deploy(wf, "--server", o.base, "--cluster", "nonsense", "--plan"); code != 2 {
		t.Errorf("bad mapping: exit %d\n%s", code, out)
	}
	if code, out := deploy(wf, "--server", o.base, "--cluster", "local=nowhere", "--plan"); code == 0 || !strings.Contains(out, "nowhere") {
		t.Errorf("an unregistered cluster: exit %d\n%s", code, out)
	}
	if code, out := deploy(wf, "--server", "ftp://"+strings.TrimPrefix(o.base, "http://"), "--plan"); code != 2 || !strings.Contains(out, "--server") {
		t.Errorf("a bad --server: exit %d\n%s", code, out)
	}

	// A wrong token is 401, said plainly; exit 2.
	env = map[string]string{"FDLSTUDIO_TOKEN": "fdls_not-a-token"}
	if code, out := deploy(wf, "--server", o.base, "--plan"); code != 2 || !strings.Contains(out, "refused the API token") || !strings.Contains(out, "not valid") {
		t.Errorf("a wrong token: exit %d\n%s", code, out)
	}

	// An unreachable server is named, within the connect timeout.
	start := time.Now()
	if code, out := deploy(wf, "--server", "http://127.0.0.1:1", "--plan"); code != 1 || !strings.Contains(out, "cannot reach the FDL Studio server at http://127.0.0.1:1: dial tcp") {
		t.Errorf("unreachable server: exit %d\n%s", code, out)
	}
	if d := time.Since(start); d > remoteConnectTimeout+5*time.Second {
		t.Errorf("unreachable server took %v", d)
	}

	// The browser's cookies do not open the API, even with its CSRF token.
	_, page := o.get(o.base + "/tokens")
	csrf := html.UnescapeString(csrfFieldRE.FindStringSubmatch(page)[1])
	req, _ = http.NewRequest(http.MethodPost, o.base+"/api/deploy/plan?workflow=x", strings.NewReader("x"))
	req.Header.Set("X-CSRF-Token", csrf)
	if resp, body := o.do(req); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
		t.Errorf("cookie-only POST /api/deploy/plan: %d %s", resp.StatusCode, body)
	}
	// And the token does not open pages.
	req, _ = http.NewRequest(http.MethodGet, o.base+"/clusters", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a page with only the token: %v %v", resp.StatusCode, err)
	}

	// Revoked on the tokens page: refused at once.
	_, page = o.get(o.base + "/tokens")
	m := revokeRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no revoke form:\n%s", page)
	}
	if resp, _ := o.form(m[1], url.Values{}); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/tokens" {
		t.Fatalf("revoke: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if code, out := deploy(wf, "--server", o.base, "--plan"); code != 2 || !strings.Contains(out, "revoked") {
		t.Errorf("a revoked token: exit %d\n%s", code, out)
	}

	// The token was sent on every request above and is in no log line.
	if l := logs.String(); strings.Contains(l, token) || !strings.Contains(l, "/api/deploy/plan") {
		t.Errorf("the server log holds the token, or no API request:\n%s", l)
	}
}

// TestDeployThroughAServerFailureAndRollback: a workflow over the local
// cluster and an OSCAR cluster (the spec-checked fake) that answers reads
// but refuses every change: the local function is applied, the other
// fails with the cluster's message, exit 1; answering yes to the rollback
// puts the local cluster back as it was.
func TestDeployThroughAServerFailureAndRollback(t *testing.T) {
	o, _ := startServer(t)
	token := o.makeToken("cli")

	s3 := s3test.Start(t)
	fake := oscartest.NewServer(t, oscartest.Options{S3Endpoint: s3.Endpoint, S3AccessKey: s3.AccessKey, S3SecretKey: s3.SecretKey})
	target, _ := url.Parse(fake.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "admission webhook denied the request: quota exceeded", http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(flaky.Close)
	if resp, page := o.form("/clusters", url.Values{"name": {"flaky"}, "endpoint": {flaky.URL}, "auth_kind": {"basic"},
		"username": {"oscar"}, "password": {"oscar-pass"}}); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/clusters/flaky" {
		t.Fatalf("register the cluster: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}

	dir := t.TempDir()
	wf := filepath.Join(dir, "two.yaml")
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o600)
	os.WriteFile(wf, []byte(`functions:
  oscar:
  - local:
      name: here
      image: debian:stable-slim
      memory: 128Mi
      cpu: '0.5'
      script: run.sh
  - flaky:
      name: there
      image: debian:stable-slim
      memory: 128Mi
      cpu: '0.5'
      script: run.sh
`), 0o600)
	var out bytes.Buffer
	code := remoteDeploy(context.Background(), remoteOptions{Server: o.base, Token: token, Path: wf,
		In: strings.NewReader("y\ny\n"), Out: &out})
	text := out.String()
	if code != 1 || !strings.Contains(text, "create here on local: done") || !strings.Contains(text, "create there on flaky: failed") ||
		!strings.Contains(text, "failed: there on flaky:") || !strings.Contains(text, "quota exceeded") ||
		!strings.Contains(text, "Roll back the functions this apply changed? [y/N]") || !strings.Contains(text, "Rolled back.") {
		t.Fatalf("exit %d\n%s", code, text)
	}
	// Rolled back: the local function is gone again.
	var again bytes.Buffer
	if code := remoteDeploy(context.Background(), remoteOptions{Server: o.base, Token: token, Path: wf, Plan: true, Out: &again}); code != 0 ||
		!strings.Contains(again.String(), "+ create     here on local") {
		t.Errorf("plan after the rollback: exit %d\n%s", code, again.String())
	}
}
