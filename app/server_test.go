package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/static"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/web"
)

// newTestServer opens a server on a loopback port with a temporary data
// directory, its log captured in the returned buffer.
func newTestServer(t testing.TB, opts ...web.Option) (*App, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.MaxBodyBytes = 1024
	cfg.LocalCluster = "off"
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), WithWeb(opts...))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, &logs
}

// do serves req as the browser of the person who started the server:
// in local single-user mode it carries the cookie of the start token
// (see unlock).
func do(t *testing.T, srv *App, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	unlock(srv, req)
	rec := httptest.NewRecorder()
	srv.server.Handler().ServeHTTP(rec, req)
	return rec
}

// unlock addresses req to this machine as a browser on it would, and in
// local single-user mode gives it the cookie that the printed start URL
// sets, got the way a browser gets it.
func unlock(srv *App, req *http.Request) {
	if req.Host == "example.com" { // httptest's default
		req.Host = "127.0.0.1"
	}
	if srv.localToken == "" || req.URL.Query().Has(auth.LocalTokenParam) {
		return
	}
	start := httptest.NewRequest(http.MethodGet, "/?"+auth.LocalTokenParam+"="+srv.localToken, nil)
	start.Host = req.Host
	rec := httptest.NewRecorder()
	srv.server.Handler().ServeHTTP(rec, start)
	for _, ck := range rec.Result().Cookies() {
		if strings.HasPrefix(ck.Name, "fdlstudio_local_") {
			req.AddCookie(ck)
		}
	}
}

func TestHomeHasSecurityHeaders(t *testing.T) {
	srv, _ := newTestServer(t)
	rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rec.Code)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self' 'nonce-"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP %q allows %s", csp, bad)
		}
	}
	nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)[1]
	body := rec.Body.String()
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1)
	if len(scripts) == 0 {
		t.Fatal("page has no script tags")
	}
	for _, s := range scripts {
		if !strings.Contains(s, `nonce="`+nonce+`"`) {
			t.Errorf("script tag %s lacks the response's nonce", s)
		}
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
		"X-Frame-Options":        "DENY",
		"Cache-Control":          "no-store",
	} {
		if got := rec.Header().Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}

	// A second response gets a different nonce.
	rec2 := do(t, srv, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec2.Header().Get("Content-Security-Policy") == csp {
		t.Error("two responses share a CSP nonce")
	}
}

func TestStaticAssetsAreHashedAndImmutable(t *testing.T) {
	srv, _ := newTestServer(t)
	u := static.URL("css/app.css")
	if !regexp.MustCompile(`^/static/css/app\.[0-9a-f]{12}\.css$`).MatchString(u) {
		t.Fatalf("URL = %q, want a hashed name", u)
	}
	rec := do(t, srv, httptest.NewRequest(http.MethodGet, u, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d", u, rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/css") {
		t.Errorf("Content-Type = %q", got)
	}
	etag := rec.Header().Get("ETag")
	req := httptest.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("If-None-Match", etag)
	if rec := do(t, srv, req); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", rec.Code)
	}
	// The unhashed name and a stale hash are not served.
	for _, p := range []string{"/static/css/app.css", "/static/css/app.000000000000.css"} {
		if rec := do(t, srv, httptest.NewRequest(http.MethodGet, p, nil)); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
}

func TestPanicGivesErrorPageWithLoggedID(t *testing.T) {
	srv, logs := newTestServer(t, web.WithRoute(http.MethodGet, "/boom", func(echo.Context) error {
		panic("kaboom: secret detail")
	}))
	rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	m := regexp.MustCompile(`data-testid="error-id">([0-9a-f]+)<`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no error ID in page:\n%s", rec.Body.String())
	}
	if strings.Contains(rec.Body.String(), "secret detail") {
		t.Error("the page shows the panic's detail")
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "error_id="+m[1]) {
			line = l
		}
	}
	if !strings.Contains(line, "kaboom: secret detail") || !strings.Contains(line, "level=ERROR") {
		t.Errorf("log line for error %s = %q; want the panic detail at ERROR", m[1], line)
	}
}

func TestErrorsAnswerJSONWhenAsked(t *testing.T) {
	srv, _ := newTestServer(t)
	req := httptest.NewRequest(http.MethodGet, "/no/such/page", nil)
	req.Header.Set("Accept", "application/json")
	rec := do(t, srv, req)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status = %d", rec.Code)
	}
	var body struct {
		Error   string `json:"error"`
		ErrorID string `json:"error_id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.ErrorID == "" || body.Error == "" {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
}

func TestBodyLimit(t *testing.T) {
	srv, _ := newTestServer(t, web.WithRoute(http.MethodPost, "/echo", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, string(b))
	}))
	small := do(t, srv, withCSRF(t, srv, httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader("hi"))))
	if small.Code != http.StatusOK {
		t.Fatalf("small body = %d", small.Code)
	}
	big := do(t, srv, httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(strings.Repeat("x", 2048))))
	if big.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 KiB body with a 1 KiB limit = %d, want 413", big.Code)
	}
}

func TestReadyzReportsStore(t *testing.T) {
	srv, _ := newTestServer(t)
	if rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/readyz", nil)); rec.Code != http.StatusOK {
		t.Fatalf("readyz = %d %s", rec.Code, rec.Body)
	}
	srv.db.Close()
	rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"name":"store"`) {
		t.Fatalf("readyz with the store closed = %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/healthz", nil)); rec.Code != http.StatusOK {
		t.Fatalf("healthz = %d", rec.Code)
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	srv, _ := newTestServer(t)
	do(t, srv, httptest.NewRequest(http.MethodGet, "/", nil))
	do(t, srv, httptest.NewRequest(http.MethodGet, "/missing", nil))
	rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`fdlstudio_http_requests_total{method="GET",route="/",status="200"} 1`,
		`fdlstudio_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`fdlstudio_websocket_connections 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestOpenRefusals(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		mutate  func(*web.Config)
		wantErr string
	}{
		{"public address without login", func(c *web.Config) { c.Addr = "0.0.0.0:0" }, "without a login method"},
		{"all interfaces without login", func(c *web.Config) { c.Addr = ":0" }, "without a login method"},
		{"malformed address", func(c *web.Config) { c.Addr = "nonsense" }, "want host:port"},
		{"data dir under a file", func(c *web.Config) { c.DataDir = filepath.Join(c.DataDir, "file", "sub") }, "data directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := web.Defaults()
			cfg.Addr = "127.0.0.1:0"
			cfg.DataDir = t.TempDir()
			cfg.LocalCluster = "off"
			writeFile(t, filepath.Join(cfg.DataDir, "file"))
			tt.mutate(&cfg)
			srv, err := Open(context.Background(), cfg, log)
			if err == nil {
				srv.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q lacks %q", err, tt.wantErr)
			}
		})
	}
	// localhost and ::1 are loopback.
	for _, addr := range []string{"localhost:0", "[::1]:0"} {
		cfg := web.Defaults()
		cfg.Addr, cfg.DataDir = addr, t.TempDir()
		if err := web.CheckListenAddr(cfg); err != nil {
			t.Errorf("web.CheckListenAddr(%s) = %v", addr, err)
		}
	}
}

func TestSecondServerOnSameDataDirIsRefused(t *testing.T) {
	srv, _ := newTestServer(t)
	cfg := srv.cfg
	_, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open on the same data dir: %v", err)
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	srv, _ := newTestServer(t, web.WithRoute(http.MethodGet, "/slow", func(c echo.Context) error {
		close(started)
		<-release
		return c.String(http.StatusOK, "finished")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/slow", nil)
		unlock(srv, req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel() // SIGINT arrives while /slow is in flight
	close(release)
	if body := <-got; body != "finished" {
		t.Fatalf("in-flight request got %q, want it to finish", body)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The port is closed and the store released.
	if _, err := http.Get(srv.URL() + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
	if err := srv.db.Ping(context.Background()); err == nil {
		t.Error("store still open after shutdown")
	}
}

// TestRemoteClusterDownKeepsReadyAndShowsInMetrics: /readyz answers for
// this instance only (a remote cluster down must not take every replica
// out of a load balancer); each shared cluster's health is a gauge on
// /metrics.
func TestRemoteClusterDownKeepsReadyAndShowsInMetrics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("Ok"))
	}))
	defer up.Close()
	cfg := web.Defaults()
	cfg.Addr, cfg.DataDir, cfg.LocalCluster = "127.0.0.1:0", t.TempDir(), "off"
	cfg.Clusters = []web.ClusterConfig{
		{Name: "up", Endpoint: up.URL, Username: "u", Password: "p"},
		{Name: "down", Endpoint: "http://127.0.0.1:1", Username: "u", Password: "p"},
	}
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if len(srv.sharedClusters) != 2 || !srv.sharedClusters[0].Shared {
		t.Fatalf("shared clusters = %+v", srv.sharedClusters)
	}
	rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "down") {
		t.Fatalf("readyz with a remote cluster down = %d %s, want 200 about this instance only", rec.Code, rec.Body)
	}
	metrics := do(t, srv, httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	for _, want := range []string{`fdlstudio_cluster_up{cluster="up"} 1`, `fdlstudio_cluster_up{cluster="down"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestReadyzAndMetricsAreNotPublic: with a login method, an anonymous
// caller gets the readiness status without details and no metrics; with
// --metrics-addr, the operations listener serves both in full and the
// main one no /metrics.
func TestReadyzAndMetricsAreNotPublic(t *testing.T) {
	cfg := web.Defaults()
	cfg.Addr, cfg.DataDir, cfg.LocalCluster = "127.0.0.1:0", t.TempDir(), "off"
	cfg.OSCARLogin, cfg.OSCARLoginHosts = true, []string{"oscar.example.org"}
	srv, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"ready":true}` {
		t.Errorf("anonymous readyz = %d %s, want 200 {\"ready\":true}", rec.Code, rec.Body)
	}
	srv.db.Close()
	rec = do(t, srv, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "store") {
		t.Errorf("anonymous readyz, store closed = %d %s, want 503 without details", rec.Code, rec.Body)
	}
	if rec := do(t, srv, httptest.NewRequest(http.MethodGet, "/metrics", nil)); rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Errorf("anonymous metrics = %d, want 403", rec.Code)
	}

	cfg.DataDir, cfg.MetricsAddr = t.TempDir(), "127.0.0.1:0"
	ops, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ops.Serve(ctx) }()
	defer func() { cancel(); <-served }()
	if rec := do(t, ops, httptest.NewRequest(http.MethodGet, "/metrics", nil)); rec.Code != http.StatusNotFound {
		t.Errorf("main listener /metrics with --metrics-addr = %d, want 404", rec.Code)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(ops.Server().MetricsURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("ops /metrics = %d", code)
	}
	if code, body := get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"name":"store"`) {
		t.Errorf("ops /readyz = %d %s, want details", code, body)
	}
}

func TestLocalClusterEnabled(t *testing.T) {
	tests := []struct {
		mode   string
		auth   bool
		admins []string
		want   bool
		err    string
	}{
		{"auto", false, nil, true, ""},
		{"auto", true, nil, false, ""},
		{"off", false, nil, false, ""},
		{"on", false, nil, true, ""},
		{"on", true, nil, false, "--admins"},
		{"on", true, []string{"root@example.org"}, true, ""},
		{"maybe", false, nil, false, "want auto, on or off"},
	}
	for _, tt := range tests {
		cfg := web.Defaults()
		cfg.LocalCluster, cfg.Admins = tt.mode, tt.admins
		if tt.auth {
			cfg.OSCARLogin = true
		}
		got, err := localClusterEnabled(cfg)
		if got != tt.want || (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s auth=%v admins=%v: %v, %v; want %v, %q", tt.mode, tt.auth, tt.admins, got, err, tt.want, tt.err)
		}
	}
}

func TestLocalModeAnswersOnlyToLocalHostNames(t *testing.T) {
	srv, _ := newTestServer(t)
	for host, want := range map[string]int{
		"127.0.0.1:8080":        http.StatusOK,
		"localhost:8080":        http.StatusOK,
		"[::1]:8080":            http.StatusOK,
		"evil.example:8080":     http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io:8080": http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		if rec := do(t, srv, req); rec.Code != want {
			t.Errorf("Host %s: %d, want %d", host, rec.Code, want)
		}
	}
}

// TestMetricsCompressedOnce: /metrics asked for with gzip (as Prometheus
// and Go's client ask) is compressed once, by the HTTP layer, not twice.
func TestMetricsCompressedOnce(t *testing.T) {
	cfg := web.Defaults()
	cfg.Addr, cfg.DataDir, cfg.LocalCluster = "127.0.0.1:0", t.TempDir(), "off"
	srv, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := do(t, srv, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("metrics = %d, Content-Encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("once decompressed, /metrics is not the text format: %q", body[:min(len(body), 40)])
	}
}

// TestOperatorAWSAccountsAreSharedOnlyWhenEnabled: the config's operator
// AWS accounts become shared registrations (admins-only when asked) when
// --aws-accounts enables "operator", and are ignored otherwise; the
// clusters form is offered only the ways users register accounts with.
func TestOperatorAWSAccountsAreSharedOnlyWhenEnabled(t *testing.T) {
	open := func(ways ...string) *App {
		cfg := web.Defaults()
		cfg.Addr, cfg.DataDir, cfg.LocalCluster = "127.0.0.1:0", t.TempDir(), "off"
		cfg.AWSAccounts = ways
		cfg.AWSOperatorAccounts = []web.AWSAccountConfig{{Name: "lab", Region: "eu-west-1", AccessKeyID: "AKIAOP", SecretAccessKey: "op-secret", AdminsOnly: true}}
		srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		return srv
	}
	srv := open("user", "operator")
	if len(srv.sharedClusters) != 1 {
		t.Fatalf("shared clusters = %+v", srv.sharedClusters)
	}
	c := srv.sharedClusters[0]
	if c.Name != "lab" || c.Kind != store.KindAWS || c.AuthKind != store.AuthAWSOperator || c.Endpoint != "eu-west-1" || !c.Shared || !c.AdminOnly || c.Password != "op-secret" {
		t.Errorf("operator account = %+v", c)
	}
	if got := userAWSWays([]string{"user", "operator", "default-chain"}); !slices.Equal(got, []string{"user", "default-chain"}) {
		t.Errorf("ways offered to users = %v", got)
	}
	if srv := open("user"); len(srv.sharedClusters) != 0 {
		t.Errorf("operator way not enabled, shared clusters = %+v", srv.sharedClusters)
	}
}
