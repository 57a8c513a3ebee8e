package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/html"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/handlers/serviceform"
	"github.com/fdlstudio/fdlstudio/store"
)

// noClusters is a user with no clusters of their own.
type noClusters struct{}

func (noClusters) List(context.Context, int64) ([]store.Cluster, error) { return nil, nil }
func (noClusters) Get(context.Context, int64, string) (store.Cluster, error) {
	return store.Cluster{}, store.ErrNotFound
}
func (noClusters) Create(_ context.Context, c store.Cluster) (store.Cluster, error) { return c, nil }
func (noClusters) Update(context.Context, string, store.Cluster) error              { return nil }
func (noClusters) Delete(context.Context, int64, string) error                      { return nil }

// formEnv is the service form's routes on an Echo instance, with the
// spec-checked OSCAR test server as the shared cluster "local".
type formEnv struct {
	t       *testing.T
	e       *echo.Echo
	cluster *oscartest.Server
	client  backends.Backend
	sealer  *store.Sealer
}

// seal seals a form carry as the server does for the test's user (ID 1).
func (env *formEnv) seal(carry []byte) string {
	env.t.Helper()
	s, err := env.sealer.Seal(carry, "service-form-carry:1")
	if err != nil {
		env.t.Fatal(err)
	}
	return s
}

func newFormEnv(t *testing.T) *formEnv {
	t.Helper()
	cl := oscartest.NewServer(t, oscartest.Options{})
	sealer, err := store.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := New(Deps{
		Sealer:   sealer,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clusters: noClusters{},
		Backends: oscartest.Registry(nil),
		SharedClusters: []store.Cluster{{
			Name: "local", Endpoint: cl.URL, AuthKind: store.AuthBasic, Username: "oscar", Password: "oscar-pass", Shared: true,
		}},
	})
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		status := http.StatusInternalServerError
		var hs interface{ HTTPStatus() int }
		var he *echo.HTTPError
		if errors.As(err, &hs) {
			status = hs.HTTPStatus()
		} else if errors.As(err, &he) {
			status = he.Code
		}
		_ = c.String(status, err.Error())
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := &auth.User{ID: 1, Name: "Tester", Mode: auth.ModeLocal}
			c.SetRequest(c.Request().WithContext(auth.WithUser(c.Request().Context(), u)))
			return next(c)
		}
	})
	e.GET("/services/new", h.ShowNewService)
	e.POST("/services", h.CreateService)
	e.POST("/services/preview", h.PreviewService)
	e.GET("/services/:cluster/:name/edit", h.ShowEditService)
	e.POST("/services/:cluster/:name", h.UpdateService)
	e.GET("/services/:cluster/:name", h.ShowService)
	e.GET("/services/:cluster/:name/fdl", h.DownloadServiceFDL)
	client, err := oscartest.Registry(nil).Backend(t.Context(), store.Cluster{Name: "local", Endpoint: cl.URL, AuthKind: store.AuthBasic, Username: "oscar", Password: "oscar-pass"}, backends.Acting{})
	if err != nil {
		t.Fatal(err)
	}
	return &formEnv{t: t, e: e, cluster: cl, client: client, sealer: sealer}
}

func (env *formEnv) do(method, target string, form url.Values, htmx bool) *httptest.ResponseRecorder {
	env.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	}
	if htmx {
		req.Header.Set("HX-Request", "true")
	}
	rec := httptest.NewRecorder()
	env.e.ServeHTTP(rec, req)
	return rec
}

// fullService sets every field a user may write.
func fullService() *backends.Service {
	return &backends.Service{
		Name: "full", Image: "ghcr.io/grycap/full:1.0", Script: "#!/bin/sh\necho hello\n",
		Memory: "1Gi", CPU: "0.5", TotalMemory: "4Gi", TotalCPU: "2", EphemeralStorageRequest: "2Gi",
		EnableGPU: true, EnableSGX: true, ImagePrefetch: true,
		Synchronous: &backends.Synchronous{MinScale: 1, MaxScale: 5},
		Expose: &backends.Expose{
			MinScale: 1, MaxScale: 3, APIPort: []int{8080, 9090}, CPUThreshold: 70, RewriteTarget: true,
			NodePort: []int{30080}, DefaultCommand: true, SetAuth: true, AuthType: "basic", HealthPath: "/health", ProbeMode: "direct",
		},
		LogLevel: "DEBUG", Alpine: true, FileStageIn: true,
		Input: []backends.StorageIOConfig{{StorageProvider: "minio.default", Path: "full/in", Prefix: []string{"img-"}, Suffix: []string{".jpg"}}},
		Output: []backends.StorageIOConfig{
			{StorageProvider: "minio.default", Path: "full/out", Suffix: []string{".png", ".txt"}},
			{StorageProvider: "s3.aws", Path: "results/full"},
		},
		Mount:            &backends.StorageIOConfig{StorageProvider: "minio.default", Path: "full/data", Options: "--read-only"},
		Volume:           &backends.VolumeConfig{Name: "vol", Size: "1Gi", MountPath: "/data", LifecyclePolicy: "retain"},
		ImagePullSecrets: []string{"regcred", "other"},
		Environment: &backends.Environment{
			Variables: map[string]string{"A": "1", "GREETING": "hello world"},
			Secrets:   map[string]string{"API_TOKEN": "s3cr3t-value"},
		},
		Annotations:       map[string]string{"example.org/owner": "team-a"},
		Labels:            map[string]string{"tier": "gold"},
		VO:                "vo.example.eu",
		Visibility:        "restricted",
		AllowedUsers:      []string{"u1@egi.eu", "u2@egi.eu"},
		IsolationLevel:    "USER",
		InterlinkNodeName: "vk-node",
		StorageProviders: &backends.StorageProviders{
			S3: map[string]backends.S3Provider{"aws": {AccessKey: "AKIA-S3-ACCESS", SecretKey: "s3-secret-key", Region: "eu-west-1"}},
		},
		Clusters: map[string]backends.ClusterRef{"other": {Endpoint: "https://oscar.example.org", AuthUser: "u", AuthPassword: "cluster-password", SSLVerify: true}},
		Federation: &backends.Federation{
			GroupID: "g1", Topology: "star", Delegation: "static", ReschedulerThreshold: 30,
			Members: []backends.Replica{{Type: "oscar", ClusterID: "other", ServiceName: "full", Priority: 1}},
		},
		Kserve: json.RawMessage(`{"type":"inference","storage_uri":"s3://models/m"}`),
		Extra:  map[string]json.RawMessage{"future_key": json.RawMessage(`{"x":1}`)},
	}
}

// fullForm is fullService as a browser posts the form (the parts without
// fields ride in the carry).
func (env *formEnv) fullForm() url.Values {
	s := fullService()
	carry, _ := json.Marshal(backends.Service{StorageProviders: s.StorageProviders, Clusters: s.Clusters, Federation: s.Federation, Kserve: s.Kserve, Extra: s.Extra})
	return url.Values{
		"cluster": {"local"}, "name": {"full"}, "image": {"ghcr.io/grycap/full:1.0"}, "script": {"#!/bin/sh\r\necho hello"},
		"log_level": {"DEBUG"}, "alpine": {"on"},
		"cpu": {"0.5"}, "memory": {"1Gi"}, "total_cpu": {"2"}, "total_memory": {"4Gi"}, "ephemeral_storage_request": {"2Gi"},
		"enable_gpu": {"on"}, "enable_sgx": {"on"}, "image_prefetch": {"on"},
		"synchronous.min_scale": {"1"}, "synchronous.max_scale": {"5"},
		"input.n": {"2"}, "input[0].storage_provider": {"minio.default"}, "input[0].path": {"full/in"}, "input[0].prefix": {"img-"}, "input[0].suffix": {".jpg"},
		"input[1].storage_provider": {""}, // a blank row added and left empty
		"output.n":                  {"2"}, "output[0].storage_provider": {"minio.default"}, "output[0].path": {"full/out"}, "output[0].suffix": {".png, .txt"},
		"output[1].storage_provider": {"s3.aws"}, "output[1].path": {"results/full"},
		"environment.variables.n": {"2"}, "environment.variables[0].key": {"A"}, "environment.variables[0].value": {"1"},
		"environment.variables[1].key": {"GREETING"}, "environment.variables[1].value": {"hello world"},
		"environment.secrets.n": {"1"}, "environment.secrets[0].key": {"API_TOKEN"}, "environment.secrets[0].value": {"s3cr3t-value"},
		"visibility": {"restricted"}, "allowed_users": {"u1@egi.eu\r\nu2@egi.eu\r\n"}, "vo": {"vo.example.eu"}, "isolation_level": {"USER"},
		"expose.api_port": {"8080, 9090"}, "expose.nodePort": {"30080"}, "expose.min_scale": {"1"}, "expose.max_scale": {"3"},
		"expose.cpu_threshold": {"70"}, "expose.rewrite_target": {"on"}, "expose.default_command": {"on"}, "expose.set_auth": {"on"},
		"expose.auth_type": {"basic"}, "expose.health_path": {"/health"}, "expose.probe_mode": {"direct"},
		"annotations.n": {"1"}, "annotations[0].key": {"example.org/owner"}, "annotations[0].value": {"team-a"},
		"labels.n": {"1"}, "labels[0].key": {"tier"}, "labels[0].value": {"gold"},
		"image_pull_secrets":     {"regcred, other"},
		"mount.storage_provider": {"minio.default"}, "mount.path": {"full/data"}, "mount.options": {"--read-only"},
		"volume.name": {"vol"}, "volume.size": {"1Gi"}, "volume.mount_path": {"/data"}, "volume.lifecycle_policy": {"retain"},
		"file_stage_in": {"on"}, "interlink_node_name": {"vk-node"},
		"carry": {env.seal(carry)},
	}
}

// canon compares services as the cluster reads them (JSON), ignoring key
// order inside raw blocks.
func canon(t *testing.T, s *backends.Service) any {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func withSecret(s *backends.Service, v string) *backends.Service {
	env := *s.Environment
	env.Secrets = map[string]string{"API_TOKEN": v}
	s.Environment = &env
	return s
}

func diffJSON(t *testing.T, got, want *backends.Service) string {
	g, w := canon(t, got), canon(t, want)
	if reflect.DeepEqual(g, w) {
		return ""
	}
	gb, _ := json.MarshalIndent(g, "", " ")
	wb, _ := json.MarshalIndent(w, "", " ")
	return "got:\n" + string(gb) + "\nwant:\n" + string(wb)
}

// elementByID parses page and returns the element with the given id.
func elementByID(t *testing.T, page, id string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var found *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if found == nil {
		t.Fatalf("no element #%s in:\n%s", id, page)
	}
	return found
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// formValues reads the controls of the form in page as a browser would
// submit them (no button pressed, no file chosen).
func formValues(t *testing.T, page string) url.Values {
	t.Helper()
	form := elementByID(t, page, "service-form")
	v := url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "name") != "" {
			name := attr(n, "name")
			switch n.Data {
			case "input":
				switch attr(n, "type") {
				case "submit", "button", "file":
				case "checkbox", "radio":
					if hasAttr(n, "checked") {
						v.Add(name, cmpOrValue(attr(n, "value"), hasAttr(n, "value"), "on"))
					}
				default:
					v.Add(name, attr(n, "value"))
				}
			case "textarea":
				v.Add(name, textOf(n))
			case "select":
				var first, sel string
				var gotFirst, gotSel bool
				var opts func(*html.Node)
				opts = func(o *html.Node) {
					if o.Type == html.ElementNode && o.Data == "option" {
						if !gotFirst {
							first, gotFirst = attr(o, "value"), true
						}
						if hasAttr(o, "selected") && !gotSel {
							sel, gotSel = attr(o, "value"), true
						}
					}
					for c := o.FirstChild; c != nil; c = c.NextSibling {
						opts(c)
					}
				}
				opts(n)
				if gotSel {
					v.Add(name, sel)
				} else {
					v.Add(name, first)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return v
}

func cmpOrValue(v string, has bool, def string) string {
	if has {
		return v
	}
	return def
}

// TestServiceFormToYAML: every field of the form lands in the YAML pane,
// which reads back as the same service; secret values never appear.
func TestServiceFormToYAML(t *testing.T) {
	env := newFormEnv(t)
	rec := env.do(http.MethodPost, "/services/preview", env.fullForm(), true)
	if rec.Code != http.StatusOK {
		t.Fatalf("preview: %d\n%s", rec.Code, rec.Body)
	}
	page := rec.Body.String()
	if strings.Contains(page, `id="service-form"`) {
		t.Error("the htmx preview answered with the whole form, want the YAML pane only")
	}
	text := textOf(elementByID(t, page, "sf-yaml-text"))
	if strings.Contains(text, "s3cr3t-value") || strings.Contains(page, "s3cr3t-value") {
		t.Errorf("the secret value is in the YAML pane:\n%s", text)
	}
	if !strings.Contains(text, "functions:\n  oscar:\n    - local:\n        name: full\n") {
		t.Errorf("YAML does not start with the service under functions.oscar[0].local:\n%s", text)
	}
	if !strings.Contains(text, "script: |\n          #!/bin/sh\n          echo hello\n") {
		t.Errorf("the script is not a literal block with LF line ends:\n%s", text)
	}
	cluster, got, diags, err := serviceform.ParseYAML([]byte(text))
	if err != nil {
		t.Fatalf("the pane's YAML does not read back: %v %v\n%s", err, diags, text)
	}
	if cluster != "local" {
		t.Errorf("cluster = %q, want local", cluster)
	}
	if d := diffJSON(t, got, backends.Redact(withSecret(fullService(), ""))); d != "" {
		t.Errorf("form → YAML → service differs:\n%s", d)
	}
	for _, v := range []string{"AKIA-S3-ACCESS", "s3-secret-key", "cluster-password"} {
		if strings.Contains(text, v) {
			t.Errorf("credential %q is in the YAML pane", v)
		}
	}
	if !strings.Contains(text, `secret_key: "" # never shown`) || !strings.Contains(text, `auth_password: "" # never shown`) {
		t.Errorf("the blank credentials are not shown as such:\n%s", text)
	}
	if !strings.Contains(page, `data-testid="sf-yaml-ok"`) {
		// Only warnings may remain (a secret, plain-text keys): list them.
		for _, d := range diags {
			if d.Severity.String() == "error" {
				t.Errorf("unexpected diagnostic: %v", d)
			}
		}
	}
}

// TestServiceYAMLToFormToCluster: "Apply YAML" fills every field of the
// form; the form as the browser then submits it creates the same service
// on the cluster, the secret typed earlier kept.
func TestServiceYAMLToFormToCluster(t *testing.T) {
	env := newFormEnv(t)
	y, err := deploy.FDL("local", fullService())
	if err != nil {
		t.Fatal(err)
	}
	// The form holds the secret and the keys typed earlier; the YAML shows
	// them blank.
	s := fullService()
	carry, _ := json.Marshal(backends.Service{StorageProviders: s.StorageProviders, Clusters: s.Clusters})
	post := url.Values{
		"cluster": {"local"}, "op": {"apply-yaml"}, "yaml": {string(y)}, "carry": {env.seal(carry)},
		"environment.secrets.n": {"1"}, "environment.secrets[0].key": {"API_TOKEN"}, "environment.secrets[0].value": {"s3cr3t-value"},
	}
	rec := env.do(http.MethodPost, "/services/preview", post, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("apply: %d\n%s", rec.Code, rec.Body)
	}
	page := rec.Body.String()
	if strings.Contains(page, `data-testid="sf-yaml-error"`) {
		t.Fatalf("the YAML was refused:\n%s", textOf(elementByID(t, page, "sf-diags")))
	}
	form := formValues(t, page)
	for key, want := range map[string]string{
		"memory": "1Gi", "cpu": "0.5", "expose.api_port": "8080, 9090", "output[1].storage_provider": "s3.aws",
		"visibility": "restricted", "allowed_users": "u1@egi.eu\nu2@egi.eu", "mount.options": "--read-only",
		"environment.variables[1].value": "hello world", "volume.lifecycle_policy": "retain",
	} {
		if got := form.Get(key); got != want {
			t.Errorf("form field %s = %q, want %q", key, got, want)
		}
	}
	rec = env.do(http.MethodPost, "/services", form, false)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/services/local/full" {
		t.Errorf("redirect to %q, want /services/local/full", loc)
	}
	got, err := env.client.GetService(context.Background(), "full")
	if err != nil {
		t.Fatal(err)
	}
	got.Token, got.Owner = "", ""
	if d := diffJSON(t, got, fullService()); d != "" {
		t.Errorf("YAML → form → cluster differs:\n%s", d)
	}
}

// TestServiceFormFieldErrors: mistakes are shown next to their field,
// with the YAML's line:col; nothing reaches the cluster.
func TestServiceFormFieldErrors(t *testing.T) {
	env := newFormEnv(t)
	form := env.fullForm()
	form.Set("memory", "lots")
	form.Set("expose.max_scale", "three")
	form.Set("output[1].storage_provider", "s3.undeclared")
	form.Set("environment.variables[1].key", "A")
	rec := env.do(http.MethodPost, "/services", form, false)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("create with mistakes: %d, want 422", rec.Code)
	}
	page := rec.Body.String()
	for id, want := range map[string]string{
		"sf-memory-error":                      `"lots" is not a Kubernetes quantity`,
		"sf-expose-max-scale-error":            `"three" is not a whole number`,
		"sf-output-1-storage-provider-error":   "s3.undeclared is not declared",
		"sf-environment-variables-1-key-error": `"A" is already set above`,
		"sf-yaml-text":                         "memory: lots",
		"sf-diags":                             "functions.oscar[0].local.memory",
	} {
		if got := textOf(elementByID(t, page, id)); !strings.Contains(got, want) {
			t.Errorf("#%s = %q, want it to contain %q", id, got, want)
		}
	}
	if in := elementByID(t, page, "sf-memory"); attr(in, "aria-invalid") != "true" || !strings.Contains(attr(in, "aria-describedby"), "sf-memory-error") {
		t.Errorf("memory input is not marked invalid for screen readers: %v", in.Attr)
	}
	// The diagnostic says where in the YAML, and links to the field.
	diags := textOf(elementByID(t, page, "sf-diags"))
	line := 1 + strings.Count(strings.Split(textOf(elementByID(t, page, "sf-yaml-text")), "memory: lots")[0], "\n")
	if want := strconv.Itoa(line) + ":17"; !strings.Contains(diags, want) {
		t.Errorf("diagnostics %q do not give memory's position %s", diags, want)
	}
	if !strings.Contains(page, `href="#sf-memory"`) {
		t.Error("the memory diagnostic does not link to its field")
	}
	if _, err := env.client.GetService(context.Background(), "full"); err == nil {
		t.Error("the service was created despite the errors")
	}
}

// TestServiceFormRowsWithoutJS: "Add" and "Remove" are submit buttons;
// without htmx they answer with the whole page, one row more or less,
// the new row focused; with htmx, the form body only.
func TestServiceFormRowsWithoutJS(t *testing.T) {
	env := newFormEnv(t)
	form := env.fullForm()
	form.Set("op", "add:output")
	rec := env.do(http.MethodPost, "/services/preview", form, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("add row: %d", rec.Code)
	}
	page := rec.Body.String()
	if !strings.Contains(page, "<html") {
		t.Error("without htmx the answer is not a whole page")
	}
	values := formValues(t, page)
	if values.Get("output.n") != "3" || values.Get("output[1].path") != "results/full" {
		t.Errorf("after add: output.n=%q output[1].path=%q", values.Get("output.n"), values.Get("output[1].path"))
	}
	if !hasAttr(elementByID(t, page, "sf-output-2-storage-provider"), "autofocus") {
		t.Error("the new row is not focused")
	}

	form = env.fullForm()
	form.Set("op", "remove:output:0")
	rec = env.do(http.MethodPost, "/services/preview", form, true)
	page = rec.Body.String()
	if strings.Contains(page, "<html") || !strings.Contains(page, `id="sf-body"`) {
		t.Error("with htmx the answer is not the form body")
	}
	values = formValues(t, `<form id="service-form">`+page+`</form>`)
	if values.Get("output.n") != "1" || values.Get("output[0].path") != "results/full" {
		t.Errorf("after remove: output.n=%q output[0].path=%q", values.Get("output.n"), values.Get("output[0].path"))
	}

	form.Set("op", "remove:output:x")
	if rec := env.do(http.MethodPost, "/services/preview", form, true); rec.Code != http.StatusBadRequest {
		t.Errorf("a made-up op answered %d, want 400", rec.Code)
	}
}

// TestServiceFormBadYAML: YAML that is not an FDL, or holds errors, is
// not applied; the form keeps what it had and the reason is shown.
func TestServiceFormBadYAML(t *testing.T) {
	env := newFormEnv(t)
	tests := []struct {
		name, yaml, want string
	}{
		{"not yaml", "functions: [\n", "not YAML"},
		{"not an fdl", "apiVersion: v1\nkind: Pod\n", "Kubernetes manifest"},
		{"two services", "functions:\n  oscar:\n    - local: {name: a, image: i, script: \"x\\n\"}\n    - local: {name: b, image: i, script: \"x\\n\"}\n", "exactly one service"},
		{"invalid", "functions:\n  oscar:\n    - local:\n        name: Bad_Name\n        image: i\n        script: |\n          echo\n", "must be lowercase"},
		{"other cluster", "functions:\n  oscar:\n    - elsewhere:\n        name: ok\n        image: i\n        script: |\n          echo\n", "not one of your clusters"},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nfunctions: {oscar: [{local: {name: x, image: *g, script: x}}]}\n", "aliases expand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := env.fullForm()
			form.Set("op", "apply-yaml")
			form.Set("yaml", tt.yaml)
			rec := env.do(http.MethodPost, "/services/preview", form, true)
			if rec.Code != http.StatusOK {
				t.Fatalf("apply: %d", rec.Code)
			}
			page := rec.Body.String()
			if got := textOf(elementByID(t, page, "sf-diags")); !strings.Contains(got, tt.want) {
				t.Errorf("diagnostics = %q, want %q", got, tt.want)
			}
			if got := textOf(elementByID(t, page, "sf-yaml-text")); got != tt.yaml {
				t.Errorf("the user's YAML was replaced by %q", got)
			}
			if got := attr(elementByID(t, page, "sf-memory"), "value"); got != "1Gi" {
				t.Errorf("the form changed: memory = %q", got)
			}
		})
	}
}

// TestServiceFormHostileYAMLShapes: functions.oscar written in a shape
// other than a one-item list of `cluster: service` is refused with a
// message (422 for a whole page; for htmx the form body with the message,
// as htmx swaps only 2xx answers), never a panic. A list reached through
// an alias is followed, as the fdl model follows it, and applied.
func TestServiceFormHostileYAMLShapes(t *testing.T) {
	env := newFormEnv(t)
	tests := []struct {
		name, yaml string
		applied    bool
	}{
		{"oscar is an alias", "x: &a [ {local: {name: s, image: i, script: s}} ]\nfunctions: {oscar: *a}\n", true},
		{"item and service are aliases", "s: &s {name: s, image: i, script: s}\ni: &i {local: *s}\nfunctions: {oscar: [*i]}\n", true},
		{"oscar is a mapping", "functions:\n  oscar:\n    local: {name: s, image: i, script: s}\n", false},
		{"item with two keys", "functions:\n  oscar:\n    - local: {name: s, image: i, script: s}\n      other: {name: t, image: i, script: s}\n", false},
		{"item is a scalar", "functions:\n  oscar:\n    - local\n", false},
		{"empty list", "functions:\n  oscar: []\n", false},
		{"service is an alias to a list", "x: &a [1, 2]\nfunctions:\n  oscar:\n    - local: *a\n", false},
		{"functions is an alias to a scalar", "x: &a hello\nfunctions: *a\n", false},
		{"merge key", "base: &b {oscar: [{local: {name: s, image: i, script: s}}]}\nfunctions:\n  <<: *b\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := env.fullForm()
			form.Set("op", "apply-yaml")
			form.Set("yaml", tt.yaml)
			rec := env.do(http.MethodPost, "/services/preview", form, false)
			page := rec.Body.String()
			if tt.applied {
				if rec.Code != http.StatusOK {
					t.Fatalf("apply: %d, want 200\n%s", rec.Code, page)
				}
				if got := formValues(t, page).Get("name"); got != "s" {
					t.Errorf("after apply the form's name is %q, want s", got)
				}
				return
			}
			if rec.Code != http.StatusUnprocessableEntity {
				t.Fatalf("apply: %d, want 422\n%s", rec.Code, page)
			}
			if msg := textOf(elementByID(t, page, "sf-diags")); !strings.Contains(msg, "not applied") {
				t.Errorf("refusal message = %q", msg)
			}
			if got := attr(elementByID(t, page, "sf-memory"), "value"); got != "1Gi" {
				t.Errorf("the form changed: memory = %q", got)
			}
			rec = env.do(http.MethodPost, "/services/preview", form, true)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "not applied") {
				t.Errorf("htmx apply: %d without the refusal", rec.Code)
			}
		})
	}
}

// credentialService is fullService with a provider of every kind, each
// with credentials, as a cluster returns it.
func credentialService() *backends.Service {
	s := fullService()
	s.StorageProviders = &backends.StorageProviders{
		MinIO:   map[string]backends.MinIOProvider{"ext": {Endpoint: "https://minio.example.org", Verify: true, AccessKey: "minio-access-1", SecretKey: "minio-secret-1", Region: "us-east-1"}},
		S3:      map[string]backends.S3Provider{"aws": {AccessKey: "AKIA-S3-ACCESS", SecretKey: "s3-secret-key", Region: "eu-west-1"}},
		Onedata: map[string]backends.OnedataProvider{"od": {OneproviderHost: "op.example.org", Token: "onedata-token-1", Space: "sp"}},
		WebDav:  map[string]backends.WebDavProvider{"dcache": {Hostname: "dcache.example.org", Login: "me", Password: "webdav-password-1"}},
		Rucio:   map[string]backends.RucioProvider{"r": {Host: "rucio.example.org", Account: "me", RSE: "RSE1", RefreshToken: "rucio-refresh-1", AuthHost: "auth.example.org"}},
	}
	return s
}

var credentialValues = []string{"minio-access-1", "minio-secret-1", "AKIA-S3-ACCESS", "s3-secret-key", "onedata-token-1",
	"webdav-password-1", "rucio-refresh-1", "cluster-password"}

// TestServiceFormEditHidesCredentials: the edit page of a service whose
// storage providers and clusters hold credentials shows none of them (in
// the YAML pane, the carry or anywhere else); saving the form unchanged,
// or after applying the pane's YAML as shown, keeps them on the cluster.
func TestServiceFormEditHidesCredentials(t *testing.T) {
	env := newFormEnv(t)
	want := credentialService()
	if err := env.client.CreateService(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	stored, err := env.client.GetService(context.Background(), "full")
	if err != nil {
		t.Fatal(err)
	}
	edit := func() (string, url.Values) {
		rec := env.do(http.MethodGet, "/services/local/full/edit", nil, false)
		if rec.Code != http.StatusOK {
			t.Fatalf("edit page: %d\n%s", rec.Code, rec.Body)
		}
		page := rec.Body.String()
		for _, v := range credentialValues {
			if strings.Contains(page, v) {
				t.Errorf("the edit page contains the credential %q", v)
			}
		}
		form := formValues(t, page)
		form.Set("environment.secrets[0].value", "s3cr3t-value")
		return page, form
	}
	keptAfter := func(what string, rec *httptest.ResponseRecorder) {
		t.Helper()
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", what, rec.Code, rec.Body)
		}
		got, err := env.client.GetService(context.Background(), "full")
		if err != nil {
			t.Fatal(err)
		}
		if d := diffJSON(t, &backends.Service{StorageProviders: got.StorageProviders, Clusters: got.Clusters},
			&backends.Service{StorageProviders: stored.StorageProviders, Clusters: stored.Clusters}); d != "" {
			t.Errorf("%s changed the stored credentials:\n%s", what, d)
		}
	}

	page, form := edit()
	yamlText := textOf(elementByID(t, page, "sf-yaml-text"))
	for _, k := range []string{"access_key", "secret_key", "token", "password", "refresh_token", "auth_password"} {
		if !strings.Contains(yamlText, k+`: "" # never shown`) {
			t.Errorf("the YAML pane does not show %s blank:\n%s", k, yamlText)
		}
	}
	keptAfter("saving unchanged", env.do(http.MethodPost, "/services/local/full", form, false))

	// The pane's YAML, as shown (credentials blank), applied then saved.
	_, form = edit()
	form.Set("op", "apply-yaml")
	form.Set("yaml", yamlText)
	rec := env.do(http.MethodPost, "/services/preview", form, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("apply: %d\n%s", rec.Code, textOf(elementByID(t, rec.Body.String(), "sf-diags")))
	}
	for _, v := range credentialValues {
		if strings.Contains(rec.Body.String(), v) {
			t.Errorf("after Apply YAML the page contains the credential %q", v)
		}
	}
	form = formValues(t, rec.Body.String())
	form.Set("environment.secrets[0].value", "s3cr3t-value")
	keptAfter("saving after Apply YAML", env.do(http.MethodPost, "/services/local/full", form, false))
}

// TestServiceCreateKeepsPastedCredentialsOffThePage: credentials a user
// pastes into the YAML pane of the new-service form reach the cluster, yet
// never come back to the browser in clear, not even in the form's hidden
// state; a tampered hidden state is refused.
func TestServiceCreateKeepsPastedCredentialsOffThePage(t *testing.T) {
	env := newFormEnv(t)
	yamlText := `functions:
  oscar:
  - local:
      name: withcreds
      image: alpine
      script: echo hi
      memory: 256Mi
      cpu: '0.5'
      input:
      - storage_provider: minio.ext
        path: withcreds/in
      output:
      - storage_provider: s3.aws
        path: bucket/out
storage_providers:
  minio:
    ext:
      endpoint: https://minio.example.org
      verify: true
      access_key: minio-access-1
      secret_key: minio-secret-1
      region: us-east-1
  s3:
    aws:
      access_key: AKIA-S3-ACCESS
      secret_key: s3-secret-key
      region: eu-west-1
`
	rec := env.do(http.MethodPost, "/services/preview", url.Values{"cluster": {"local"}, "op": {"apply-yaml"}, "yaml": {yamlText}}, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("apply: %d\n%s", rec.Code, rec.Body)
	}
	page := rec.Body.String()
	for _, v := range []string{"minio-access-1", "minio-secret-1", "AKIA-S3-ACCESS", "s3-secret-key"} {
		if strings.Contains(page, v) {
			t.Errorf("the form page holds the pasted credential %q", v)
		}
	}
	form := formValues(t, page)
	if form.Get("carry") == "" {
		t.Fatal("the form has no hidden state for the storage providers")
	}

	tampered := url.Values{}
	for k, v := range form {
		tampered[k] = v
	}
	c := []byte(form.Get("carry"))
	c[len(c)-2] ^= 1
	tampered.Set("carry", string(c))
	if rec := env.do(http.MethodPost, "/services", tampered, false); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "hidden state is damaged") {
		t.Errorf("a tampered hidden state: %d, want 422 saying it is damaged", rec.Code)
	}

	if rec := env.do(http.MethodPost, "/services", form, false); rec.Code != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", rec.Code, rec.Body)
	}
	got, err := env.client.GetService(context.Background(), "withcreds")
	if err != nil {
		t.Fatal(err)
	}
	if sp := got.StorageProviders; sp == nil || sp.MinIO["ext"].SecretKey != "minio-secret-1" || sp.S3["aws"].SecretKey != "s3-secret-key" {
		t.Errorf("the cluster did not get the pasted credentials: %+v", got.StorageProviders)
	}
}

// stubGetter answers GetService with a fixed service.
type stubGetter struct{ svc *backends.Service }

func (g stubGetter) GetService(context.Context, string) (*backends.Service, error) {
	c := *g.svc
	return &c, nil
}

// TestServiceFormKeepStoredCredentials: a blank credential is taken back
// from the stored service only for the same endpoint, host and user; when
// those changed the save is refused, naming the credential, rather than
// sending the key elsewhere or wiping it. A provider removed stays removed.
func TestServiceFormKeepStoredCredentials(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(s *backends.Service)
		wantMsg  string
		wantKept map[string]string // credential path → value sent
	}{
		{"unchanged", func(*backends.Service) {}, "", map[string]string{
			"storage_providers.minio.ext.secret_key": "minio-secret-1", "storage_providers.webdav.dcache.password": "webdav-password-1",
			"storage_providers.rucio.r.refresh_token": "rucio-refresh-1", "clusters.other.auth_password": "cluster-password",
			"storage_providers.onedata.od.token": "onedata-token-1", "storage_providers.s3.aws.access_key": "AKIA-S3-ACCESS",
		}},
		{"new key typed", func(s *backends.Service) {
			p := s.StorageProviders.MinIO["ext"]
			p.SecretKey = "typed-new"
			s.StorageProviders.MinIO["ext"] = p
		}, "", map[string]string{"storage_providers.minio.ext.secret_key": "typed-new", "storage_providers.minio.ext.access_key": "minio-access-1"}},
		{"minio endpoint changed", func(s *backends.Service) {
			p := s.StorageProviders.MinIO["ext"]
			p.Endpoint = "https://evil.example.net"
			s.StorageProviders.MinIO["ext"] = p
		}, "storage_providers.minio.ext.access_key, storage_providers.minio.ext.secret_key", nil},
		{"cluster endpoint changed", func(s *backends.Service) {
			r := s.Clusters["other"]
			r.Endpoint = "https://elsewhere.example.net"
			s.Clusters["other"] = r
		}, "clusters.other.auth_password", nil},
		{"provider removed", func(s *backends.Service) { s.StorageProviders.WebDav = nil }, "", map[string]string{
			"storage_providers.minio.ext.secret_key": "minio-secret-1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := credentialService()
			svc := backends.Redact(credentialService())
			tt.edit(svc)
			msg, err := serviceform.KeepStored(context.Background(), stubGetter{stored}, svc, serviceform.FromService("local", svc), map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			if (tt.wantMsg == "") != (msg == "") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("msg = %q, want one naming %q", msg, tt.wantMsg)
			}
			got := map[string]string{}
			backends.EachCredential(svc, func(c backends.Credential) { got[c.Path] = *c.Value })
			for path, want := range tt.wantKept {
				if got[path] != want {
					t.Errorf("%s = %q, want %q", path, got[path], want)
				}
			}
			if tt.name == "provider removed" && svc.StorageProviders.WebDav != nil {
				t.Error("the removed provider came back")
			}
		})
	}
}

// TestServiceEditKeepsSecretsHidden: the edit page never sends a stored
// secret to the browser. The test cluster gives the value back, so saving
// with it left empty sends the stored value again (OSCAR would store a
// blank one as empty), while the changed memory is saved.
func TestServiceEditKeepsSecretsHidden(t *testing.T) {
	env := newFormEnv(t)
	if err := env.client.CreateService(context.Background(), fullService()); err != nil {
		t.Fatal(err)
	}
	rec := env.do(http.MethodGet, "/services/local/full/edit", nil, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("edit page: %d\n%s", rec.Code, rec.Body)
	}
	page := rec.Body.String()
	if strings.Contains(page, "s3cr3t-value") {
		t.Fatal("the edit page contains the stored secret value")
	}
	if !strings.Contains(page, "stored; leave empty to keep") {
		t.Error("the secret row does not say its value is kept")
	}
	if in := elementByID(t, page, "sf-name"); !hasAttr(in, "readonly") {
		t.Error("the name can be changed when editing")
	}
	form := formValues(t, page)
	if form.Get("memory") != "1Gi" || form.Get("environment.secrets[0].key") != "API_TOKEN" {
		t.Fatalf("edit form: memory=%q secret=%q", form.Get("memory"), form.Get("environment.secrets[0].key"))
	}
	form.Set("memory", "2Gi")
	rec = env.do(http.MethodPost, "/services/local/full", form, false)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", rec.Code, rec.Body)
	}
	got, err := env.client.GetService(context.Background(), "full")
	if err != nil {
		t.Fatal(err)
	}
	if got.Memory != "2Gi" {
		t.Errorf("memory after update = %q, want 2Gi", got.Memory)
	}
	if v := got.Environment.Secrets["API_TOKEN"]; v != "s3cr3t-value" {
		t.Errorf("secret sent as %q, want the stored value kept", v)
	}
	got.Token, got.Owner, got.Memory = "", "", "1Gi"
	if d := diffJSON(t, got, fullService()); d != "" {
		t.Errorf("the edit changed more than memory:\n%s", d)
	}

	// An edit post for another address than its own is refused.
	if rec := env.do(http.MethodPost, "/services/local/other", form, false); rec.Code != http.StatusBadRequest {
		t.Errorf("mismatched edit answered %d, want 400", rec.Code)
	}
	// A new secret needs a value even when editing.
	form.Set("environment.secrets.n", "2")
	form.Set("environment.secrets[1].key", "NEW")
	rec = env.do(http.MethodPost, "/services/local/full", form, false)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(textOf(elementByID(t, rec.Body.String(), "sf-environment-secrets-1-value-error")), "value") {
		t.Errorf("new secret without value: %d", rec.Code)
	}
}

// TestServiceFormEditSecretOSCARBlanks: OSCAR answers GET with every
// secret value blank and replaces the secrets on update, so an empty value
// would wipe the stored one. The edit page does not offer "leave empty to
// keep" for such a secret, saving it empty is refused next to the field
// (the cluster is not called), and typing the value again saves it.
func TestServiceFormEditSecretOSCARBlanks(t *testing.T) {
	env := newFormEnv(t)
	// As OSCAR's GET returns it: the key with a blank value.
	if err := env.client.CreateService(context.Background(), withSecret(fullService(), "")); err != nil {
		t.Fatal(err)
	}
	rec := env.do(http.MethodGet, "/services/local/full/edit", nil, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("edit page: %d", rec.Code)
	}
	page := rec.Body.String()
	if strings.Contains(page, "leave empty to keep") {
		t.Error("the page offers to keep a secret the cluster did not give back")
	}
	form := formValues(t, page)
	form.Set("memory", "2Gi")
	// A forged "stored" flag does not make it keepable either.
	for _, stored := range []string{"", "1"} {
		form.Set("environment.secrets[0].stored", stored)
		rec = env.do(http.MethodPost, "/services/local/full", form, false)
		if rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("save with the secret empty (stored=%q): %d, want 422", stored, rec.Code)
		}
		if msg := textOf(elementByID(t, rec.Body.String(), "sf-environment-secrets-0-value-error")); !strings.Contains(msg, "does not give stored secrets back") {
			t.Errorf("stored=%q: message = %q", stored, msg)
		}
		if got, _ := env.client.GetService(context.Background(), "full"); got.Memory != "1Gi" {
			t.Fatalf("stored=%q: the refused save reached the cluster (memory %q)", stored, got.Memory)
		}
	}
	form.Del("environment.secrets[0].stored")
	form.Set("environment.secrets[0].value", "typed-again")
	if rec = env.do(http.MethodPost, "/services/local/full", form, false); rec.Code != http.StatusSeeOther {
		t.Fatalf("save with the secret typed: %d\n%s", rec.Code, rec.Body)
	}
	got, err := env.client.GetService(context.Background(), "full")
	if err != nil {
		t.Fatal(err)
	}
	if got.Memory != "2Gi" || got.Environment.Secrets["API_TOKEN"] != "typed-again" {
		t.Errorf("after save: memory %q, secret %q", got.Memory, got.Environment.Secrets["API_TOKEN"])
	}
}

// TestServiceCreateRefusedByCluster: the cluster's own message is shown
// beside the form, naming the cluster.
func TestServiceCreateRefusedByCluster(t *testing.T) {
	env := newFormEnv(t)
	if err := env.client.CreateService(context.Background(), fullService()); err != nil {
		t.Fatal(err)
	}
	rec := env.do(http.MethodPost, "/services", env.fullForm(), false)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate create: %d, want 422", rec.Code)
	}
	page := rec.Body.String()
	msg := textOf(elementByID(t, page, "service-form"))
	if !strings.Contains(msg, `OSCAR cluster "local"`) || !strings.Contains(msg, "already exists") {
		t.Errorf("refusal not shown: %q", msg)
	}
	// The typed secret is not lost on a refused submit.
	if got := formValues(t, page).Get("environment.secrets[0].value"); got != "s3cr3t-value" {
		t.Errorf("secret after refusal = %q", got)
	}
	form := env.fullForm()
	form.Set("cluster", "not-mine")
	form.Set("name", "other")
	rec = env.do(http.MethodPost, "/services", form, false)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(textOf(elementByID(t, rec.Body.String(), "sf-cluster-error")), "Choose one of your clusters") {
		t.Errorf("unknown cluster: %d", rec.Code)
	}
}

// TestNewServicePicksCluster: ?cluster= preselects one of the user's
// clusters; an unknown one falls back to the first.
func TestNewServicePicksCluster(t *testing.T) {
	env := newFormEnv(t)
	for _, q := range []string{"?cluster=local", "?cluster=nope", ""} {
		rec := env.do(http.MethodGet, "/services/new"+q, nil, false)
		if rec.Code != http.StatusOK {
			t.Fatalf("new%s: %d", q, rec.Code)
		}
		page := rec.Body.String()
		if got := formValues(t, page).Get("cluster"); got != "local" {
			t.Errorf("new%s: cluster = %q", q, got)
		}
		if strings.Contains(page, "sf-diag-error") || strings.Contains(page, `data-testid="form-errors"`) {
			t.Errorf("new%s: an untouched form shows errors", q)
		}
	}
}

// TestServiceFormScriptUpload: a script file replaces the script (htmx
// posts it on change; without JS it goes with the submit), CRLF becomes
// LF, and a binary file is refused next to its field.
func TestServiceFormScriptUpload(t *testing.T) {
	env := newFormEnv(t)
	post := func(op, content string, htmx bool) *httptest.ResponseRecorder {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, vs := range env.fullForm() {
			for _, v := range vs {
				mw.WriteField(k, v)
			}
		}
		if op != "" {
			mw.WriteField("op", op)
		}
		fw, _ := mw.CreateFormFile("script_file", "run.sh")
		io.WriteString(fw, content)
		mw.Close()
		target := "/services/preview"
		if op == "" {
			target = "/services"
		}
		req := httptest.NewRequest(http.MethodPost, target, &body)
		req.Header.Set(echo.HeaderContentType, mw.FormDataContentType())
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		rec := httptest.NewRecorder()
		env.e.ServeHTTP(rec, req)
		return rec
	}
	rec := post("script-file", "#!/bin/bash\r\necho uploaded\r\n", true)
	if got := textOf(elementByID(t, "<form id=\"service-form\">"+rec.Body.String()+"</form>", "sf-script")); got != "#!/bin/bash\necho uploaded\n" {
		t.Errorf("script after upload = %q", got)
	}
	rec = post("script-file", "\x7fELF\x00\x00", true)
	if got := textOf(elementByID(t, "<form id=\"service-form\">"+rec.Body.String()+"</form>", "sf-script-file-error")); !strings.Contains(got, "not UTF-8 text") {
		t.Errorf("binary upload error = %q", got)
	}
	// Without JS the file goes with the submit and is what is created.
	if rec := post("", "echo from file\n", false); rec.Code != http.StatusSeeOther {
		t.Fatalf("create with a script file: %d\n%s", rec.Code, rec.Body)
	}
	got, err := env.client.GetService(context.Background(), "full")
	if err != nil {
		t.Fatal(err)
	}
	if got.Script != "echo from file\n" {
		t.Errorf("created script = %q", got.Script)
	}
}
