package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/web"
)

// What oscar-cli (github.com/grycap/oscar-cli, module .../oscar-cli/v2,
// pkg/service/service.go and pkg/cluster/cluster.go, the versions built
// on github.com/grycap/oscar/v4/pkg/types) sends and decodes, written
// here from reading it, to check that what FDL Studio deploys is what
// oscar-cli expects of an OSCAR cluster:
//
//   - `service ls`: GET <endpoint>/system/services (path.Join on the
//     endpoint's path) with HTTP basic auth, 2xx expected, the body
//     decoded with encoding/json into []*types.Service; it prints Name,
//     Image, CPU and Memory.
//   - `service run NAME --text-input T`: GET /system/services/NAME with
//     basic auth for the service's token, then POST <endpoint>/run/NAME
//     with "Authorization: Bearer <token>" (the client's basic auth is
//     replaced), the input base64-encoded (StdEncoding) through a pipe,
//     so the body has no length; the response is base64-decoded, and
//     printed as it came when it does not decode.
//
// The structs below carry the field names and JSON types of OSCAR's
// types.Service that oscar-cli decodes into; a field FDL Studio's
// cluster sent with another JSON type would fail the decode as it fails
// oscar-cli.

type oscarCLIStorageIOConfig struct {
	Provider string   `json:"storage_provider"`
	Path     string   `json:"path"`
	Suffix   []string `json:"suffix,omitempty"`
	Prefix   []string `json:"prefix,omitempty"`
}

type oscarCLIExpose struct {
	MinScale       int32  `json:"min_scale"`
	MaxScale       int32  `json:"max_scale"`
	APIPort        int    `json:"api_port,omitempty"`
	CpuThreshold   int32  `json:"cpu_threshold"`
	RewriteTarget  bool   `json:"rewrite_target"`
	NodePort       int32  `json:"nodePort"`
	DefaultCommand bool   `json:"default_command"`
	SetAuth        bool   `json:"set_auth"`
	HealthPath     string `json:"health_path"`
	ProbeMode      string `json:"probe_mode,omitempty"`
}

type oscarCLIService struct {
	Name          string `json:"name"`
	ClusterID     string `json:"cluster_id"`
	Memory        string `json:"memory"`
	CPU           string `json:"cpu"`
	TotalMemory   string `json:"total_memory"`
	TotalCPU      string `json:"total_cpu"`
	EnableGPU     bool   `json:"enable_gpu"`
	EnableSGX     bool   `json:"enable_sgx"`
	ImagePrefetch bool   `json:"image_prefetch"`
	Synchronous   struct {
		MinScale int `json:"min_scale"`
		MaxScale int `json:"max_scale"`
	} `json:"synchronous"`
	Replicas             []map[string]any          `json:"replicas,omitempty"`
	Delegation           string                    `json:"delegation"`
	ReSchedulerThreshold int                       `json:"rescheduler_threshold"`
	LogLevel             string                    `json:"log_level"`
	Image                string                    `json:"image"`
	Alpine               bool                      `json:"alpine"`
	Token                string                    `json:"token"`
	FileStageIn          bool                      `json:"file_stage_in"`
	Input                []oscarCLIStorageIOConfig `json:"input"`
	Output               []oscarCLIStorageIOConfig `json:"output"`
	Script               string                    `json:"script,omitempty"`
	ImagePullSecrets     []string                  `json:"image_pull_secrets,omitempty"`
	Expose               oscarCLIExpose            `json:"expose"`
	Environment          struct {
		Vars    map[string]string `json:"variables"`
		Secrets map[string]string `json:"secrets"`
	} `json:"environment"`
	Annotations       map[string]string         `json:"annotations"`
	VO                string                    `json:"vo"`
	Labels            map[string]string         `json:"labels"`
	StorageProviders  map[string]map[string]any `json:"storage_providers,omitempty"`
	Clusters          map[string]map[string]any `json:"clusters,omitempty"`
	Owner             string                    `json:"owner"`
	Namespace         string                    `json:"namespace,omitempty"`
	InterLinkNodeName string                    `json:"interlink_node_name"`
	Visibility        string                    `json:"visibility"`
	AllowedUsers      []string                  `json:"allowed_users"`
	IsolationLevel    string                    `json:"isolation_level"`
	BucketList        []string                  `json:"bucket_list"`
	Mount             oscarCLIStorageIOConfig   `json:"mount"`
	Volume            *struct {
		Name            string `json:"name,omitempty"`
		Size            string `json:"size"`
		MountPath       string `json:"mount_path"`
		LifecyclePolicy string `json:"lifecycle_policy,omitempty"`
	} `json:"volume,omitempty"`
	VolumeStatus struct {
		Enabled bool   `json:"enabled"`
		Name    string `json:"name,omitempty"`
		Phase   string `json:"phase,omitempty"`
		Error   string `json:"error,omitempty"`
	} `json:"volume_status,omitempty"`
}

// oscarCLI is an oscar-cli cluster entry: endpoint, auth_user,
// auth_password (ssl_verify does not matter on http).
type oscarCLI struct {
	endpoint, user, password string
}

// client is oscar-cli's basic-auth client: 20 s timeout, the
// credentials set on every request.
func (o oscarCLI) client() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: basicAuth{o.user, o.password, http.DefaultTransport}}
}

type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Add("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func (o oscarCLI) url(p ...string) string {
	u, err := url.Parse(o.endpoint)
	if err != nil {
		panic(err)
	}
	u.Path = path.Join(append([]string{u.Path}, p...)...)
	return u.String()
}

// checkStatus is oscar-cli's reading of a response: 200–204 is success.
func checkStatus(res *http.Response) error {
	if res.StatusCode >= 200 && res.StatusCode <= 204 {
		return nil
	}
	body, _ := io.ReadAll(res.Body)
	return fmt.Errorf("%s: %s", res.Status, body)
}

// serviceLs is `oscar-cli service ls`.
func (o oscarCLI) serviceLs(ctx context.Context) ([]*oscarCLIService, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url("/system/services"), nil)
	if err != nil {
		return nil, err
	}
	res, err := o.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if err := checkStatus(res); err != nil {
		return nil, err
	}
	var list []*oscarCLIService
	return list, json.NewDecoder(res.Body).Decode(&list)
}

// getService is oscar-cli's GetService.
func (o oscarCLI) getService(ctx context.Context, name string) (*oscarCLIService, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url("/system/services", name), nil)
	if err != nil {
		return nil, err
	}
	res, err := o.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if err := checkStatus(res); err != nil {
		return nil, err
	}
	var svc *oscarCLIService
	return svc, json.NewDecoder(res.Body).Decode(&svc)
}

// serviceRun is `oscar-cli service run NAME --text-input text`: what it
// prints.
func (o oscarCLI) serviceRun(ctx context.Context, name, text string) (string, error) {
	svc, err := o.getService(ctx, name)
	if err != nil {
		return "", err
	}
	client := o.client()
	client.Transport = bearer{svc.Token, http.DefaultTransport}
	pr, pw := io.Pipe()
	go func() {
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		_, err := io.Copy(enc, strings.NewReader(text))
		enc.Close()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url("/run", name), pr)
	if err != nil {
		return "", err
	}
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if err := checkStatus(res); err != nil {
		return "", err
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if out, err := base64.StdEncoding.DecodeString(string(body)); err == nil {
		return string(out), nil
	}
	return string(body), nil
}

const oscarCLIWorkflow = `functions:
  oscar:
  - local:
      name: cli-upper
      image: debian:stable-slim
      memory: 128Mi
      cpu: '0.2'
      script: |
        #!/bin/sh
        tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/upper.txt"
      input:
      - storage_provider: minio.default
        path: oscarcli/in
      output:
      - storage_provider: minio.default
        path: oscarcli/mid
  - local:
      name: cli-words
      image: debian:stable-slim
      memory: 128Mi
      cpu: '0.2'
      script: |
        #!/bin/sh
        wc -w < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/words.txt"
      input:
      - storage_provider: minio.default
        path: oscarcli/mid
      output:
      - storage_provider: minio.default
        path: oscarcli/out
`

var (
	csrfRE        = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	fingerprintRE = regexp.MustCompile(`name="fingerprint" value="([0-9a-f]+)"`)
)

// browser is a cookie-keeping client of the FDL Studio server that does
// not follow redirects, posting forms with the page's CSRF token.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (b *browser) get(p string) (int, string) {
	b.t.Helper()
	res, err := b.hc.Get(b.base + p)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (b *browser) post(p string, form url.Values, page string) *http.Response {
	b.t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on the page before POST %s", p)
	}
	form.Set("csrf_token", m[1])
	res, err := b.hc.PostForm(b.base+p, form)
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestOscarCLISeesTheDeployedWorkflow deploys a two-stage workflow with
// FDL Studio's deploy pages to the embedded local cluster, then acts as
// oscar-cli with the endpoint, user and password `fdlstudio local
// credentials` prints: `service ls` lists both services with their
// image, CPU and memory, and `service run` runs each with its own script.
func TestOscarCLISeesTheDeployedWorkflow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LocalCluster = "on"
	cfg.ShutdownTimeout = 5 * time.Second
	logs := &lockedBuffer{}
	srv, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("starting FDL Studio: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("server shutdown: %v", err)
		}
	}()

	// The user opens the printed URL, imports the workflow and deploys it.
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: srv.URL(), hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if res, err := b.hc.Get(srv.OpenURL()); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	_, page := b.get("/workflows")
	res := b.post("/workflows", url.Values{"name": {"oscar-cli check"}, "source": {"paste"}, "paste": {oscarCLIWorkflow}}, page)
	wf := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(wf, "/workflows/") {
		t.Fatalf("creating the workflow: %s to %q", res.Status, wf)
	}
	code, plan := b.get(wf + "/deploy")
	if code != http.StatusOK || strings.Count(plan, `data-kind="create"`) != 2 {
		t.Fatalf("plan: %d\n%s", code, plan)
	}
	fp := fingerprintRE.FindStringSubmatch(plan)
	if fp == nil {
		t.Fatalf("no apply form on the plan:\n%s", plan)
	}
	res = b.post(wf+"/deploy", url.Values{"version": {"1"}, "fingerprint": {fp[1]}, "fdl_cluster": {"local"}, "cluster": {"local"}}, plan)
	dep := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(dep, "/deployments/") {
		t.Fatalf("confirming the plan: %s to %q", res.Status, dep)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, page := b.get(dep)
		if strings.Contains(page, `data-outcome="applied"`) {
			break
		}
		if strings.Contains(page, `data-outcome="failed"`) || time.Now().After(deadline) {
			t.Fatalf("the apply did not succeed:\n%s", page)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// `fdlstudio local credentials`, as the user would run it beside the server.
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"local", "credentials", "--data-dir", cfg.DataDir}, func(string) string { return "" }, &out, &errOut); code != 0 {
		t.Fatalf("local credentials: exit %d: %s", code, errOut.String())
	}
	printed := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			printed[k] = strings.TrimSpace(v)
		}
	}
	cli := oscarCLI{endpoint: printed["endpoint"], user: printed["user"], password: printed["password"]}
	if !strings.HasPrefix(cli.endpoint, "http://127.0.0.1:") || cli.user == "" || cli.password == "" {
		t.Fatalf("local credentials printed:\n%s", out.String())
	}

	list, err := cli.serviceLs(ctx)
	if err != nil {
		t.Fatalf("oscar-cli service ls: %v", err)
	}
	byName := map[string]*oscarCLIService{}
	for _, s := range list {
		byName[s.Name] = s
	}
	for _, name := range []string{"cli-upper", "cli-words"} {
		s := byName[name]
		if s == nil {
			t.Fatalf("oscar-cli service ls does not list %s (it lists %d services)", name, len(list))
		}
		if s.Image != "debian:stable-slim" || s.CPU != "0.2" || s.Memory != "128Mi" {
			t.Errorf("service ls row of %s: image %q, cpu %q, memory %q", name, s.Image, s.CPU, s.Memory)
		}
		if len(s.Input) != 1 || len(s.Output) != 1 || s.Input[0].Provider != "minio.default" {
			t.Errorf("%s: input %+v, output %+v", name, s.Input, s.Output)
		}
	}
	if got, err := cli.serviceRun(ctx, "cli-upper", "hello from oscar-cli\n"); err != nil || got != "HELLO FROM OSCAR-CLI\n" {
		t.Errorf("oscar-cli service run cli-upper printed %q (%v), want HELLO FROM OSCAR-CLI", got, err)
	}
	if got, err := cli.serviceRun(ctx, "cli-words", "one two three\n"); err != nil || strings.TrimSpace(got) != "3" {
		t.Errorf("oscar-cli service run cli-words printed %q (%v), want 3: each service runs its own script", got, err)
	}
	// Without the service's token the run is refused, as oscar-cli needs it.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cli.url("/run", "cli-upper"), strings.NewReader("aGk="))
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("run without a token: %s, want 401", res.Status)
		}
	}
	if t.Failed() {
		t.Logf("server log:\n%s", logs.String())
	}
}
