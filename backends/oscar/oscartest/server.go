package oscartest

//lint:file-ignore ST1005 the fake answers with OSCAR's own error text, capitals and all

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
)

// Options configures a fake OSCAR server.
type Options struct {
	// Version is what /system/info reports (default "v4.1.2"). Routes and
	// shapes follow it: e.g. "v3.6.0" has no /presign and a bare job map.
	Version string
	// NoServerless removes the synchronous /run route (SERVERLESS_BACKEND unset).
	NoServerless bool
	// Username and Password are the basic-auth account (default oscar/oscar-pass).
	Username, Password string
	// Token is an accepted OIDC bearer token ("" = OIDC off).
	Token string
	// S3Endpoint, S3AccessKey and S3SecretKey locate the real S3 server that
	// holds the files (see backends/backendstest/s3test); it plays MinIO.
	S3Endpoint, S3AccessKey, S3SecretKey string
	// ReportedS3Endpoint, when set, is the MinIO endpoint /system/config
	// hands out instead of S3Endpoint (tests of the dial guard report
	// internal addresses this way; the fake itself never dials it).
	ReportedS3Endpoint string
	// JobPageSize is the job-list page size (JOB_LISTING_LIMIT; default 2 so
	// tests see paging).
	JobPageSize int
}

// Server is an in-memory OSCAR whose every exchange is checked against the
// spec. Services, jobs, volumes and federation live in memory; buckets and
// objects live in the S3 server.
type Server struct {
	URL     string
	Checker *Checker
	opts    Options
	s3      *minio.Client
	version [3]int

	mu        sync.Mutex
	services  map[string]map[string]json.RawMessage // name -> JSON object
	jobs      map[string][]*fakeJob                 // service -> jobs
	buckets   map[string]bucketMeta
	volumes   map[string]map[string]any
	repos     []string
	federated map[string]json.RawMessage
}

type fakeJob struct {
	name    string
	status  string
	created time.Time
	log     string
}

type bucketMeta struct {
	Visibility   string            `json:"visibility,omitempty"`
	AllowedUsers []string          `json:"allowed_users,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// NewServer starts a fake OSCAR for the test and closes it when it ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Version == "" {
		opts.Version = "v4.1.2"
	}
	if opts.Username == "" && opts.Password == "" {
		opts.Username, opts.Password = "oscar", "oscar-pass"
	}
	if opts.JobPageSize <= 0 {
		opts.JobPageSize = 2
	}
	s := &Server{
		opts:      opts,
		services:  map[string]map[string]json.RawMessage{},
		jobs:      map[string][]*fakeJob{},
		buckets:   map[string]bucketMeta{},
		volumes:   map[string]map[string]any{},
		federated: map[string]json.RawMessage{},
	}
	fmt.Sscanf(strings.TrimPrefix(opts.Version, "v"), "%d.%d.%d", &s.version[0], &s.version[1], &s.version[2])
	if opts.S3Endpoint != "" {
		u, err := url.Parse(opts.S3Endpoint)
		if err != nil {
			t.Fatalf("oscartest: S3 endpoint %q: %v", opts.S3Endpoint, err)
		}
		s.s3, err = minio.New(u.Host, &minio.Options{
			Creds: credentials.NewStaticV4(opts.S3AccessKey, opts.S3SecretKey, ""), Secure: u.Scheme == "https",
			Region: "us-east-1", BucketLookup: minio.BucketLookupPath,
		})
		if err != nil {
			t.Fatalf("oscartest: S3 client: %v", err)
		}
	}
	s.Checker = NewChecker(LoadSpec(t))
	s.Checker.Legacy = !s.atLeast(4, 1, 0)
	ts := httptest.NewServer(s.Checker.Middleware(t, s.routes()))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

func (s *Server) atLeast(maj, min, patch int) bool {
	v := s.version
	if v[0] != maj {
		return v[0] > maj
	}
	if v[1] != min {
		return v[1] > min
	}
	return v[2] >= patch
}

// SetJobStatus changes a job's status (tests use it to see paging and
// deletion rules).
func (s *Server) SetJobStatus(service, job, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs[service] {
		if j.name == job {
			j.status = status
		}
	}
}

// routes registers the handlers; gin answers an unknown route 404 "404 page
// not found", as here.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	sys := func(pattern string, min [3]int, h http.HandlerFunc) {
		if !s.atLeast(min[0], min[1], min[2]) {
			return
		}
		mux.HandleFunc(pattern, s.auth(h, false))
	}
	any3 := [3]int{0, 0, 0}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { text(w, 200, "Ok") })
	sys("GET /system/info", any3, s.info)
	sys("GET /system/config", any3, s.getConfig)
	mux.HandleFunc("PUT /system/config", s.auth(s.putConfig, true))
	sys("GET /system/status", [3]int{3, 1, 0}, s.status)
	sys("GET /system/services", any3, s.listServices)
	sys("POST /system/services", any3, s.createService)
	sys("PUT /system/services", any3, s.updateService)
	sys("GET /system/services/{name}", any3, s.getService)
	sys("DELETE /system/services/{name}", any3, s.deleteService)
	sys("GET /system/services/{name}/auth", [3]int{4, 0, 0}, s.serviceAuth)
	sys("GET /system/services/{name}/deployment", [3]int{4, 0, 0}, s.deployment)
	sys("GET /system/services/{name}/deployment/logs", [3]int{4, 0, 0}, s.deploymentLogs)
	for _, a := range []string{"start", "stop", "restart"} {
		sys("POST /system/services/{name}/"+a, [3]int{4, 0, 0}, s.lifecycle(a))
	}
	mux.HandleFunc("POST /job/{name}", s.invoke(false))
	if !s.opts.NoServerless {
		mux.HandleFunc("POST /run/{name}", s.invoke(true))
	}
	mux.HandleFunc("GET /system/logs", s.auth(func(w http.ResponseWriter, r *http.Request) { text(w, 200, "manager started\n") }, true))
	sys("GET /system/logs/{name}", any3, s.listJobs)
	sys("DELETE /system/logs/{name}", any3, s.deleteJobs)
	sys("GET /system/logs/{name}/{job}", any3, s.jobLog)
	sys("DELETE /system/logs/{name}/{job}", any3, s.deleteJob)
	sys("GET /system/buckets", [3]int{3, 6, 0}, s.listBuckets)
	sys("POST /system/buckets", [3]int{3, 6, 0}, s.createBucket)
	sys("PUT /system/buckets", [3]int{3, 6, 0}, s.updateBucket)
	sys("GET /system/buckets/{bucket}", [3]int{3, 6, 0}, s.bucketDetails)
	sys("DELETE /system/buckets/{bucket}", [3]int{3, 6, 0}, s.deleteBucket)
	sys("POST /system/buckets/{bucket}/presign", [3]int{3, 6, 4}, s.presign)
	sys("GET /system/volumes", [3]int{4, 0, 0}, s.listVolumes)
	sys("POST /system/volumes", [3]int{4, 0, 0}, s.createVolume)
	sys("GET /system/volumes/{vol}", [3]int{4, 0, 0}, s.getVolume)
	sys("DELETE /system/volumes/{vol}", [3]int{4, 0, 0}, s.deleteVolume)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		sys(m+" /system/federation/{name}", [3]int{4, 1, 0}, s.federation)
	}
	sys("GET /system/metrics", any3, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z",
			"totals": map[string]any{"services_count_total": len(s.services), "requests_count_total": 0}, "sources": []any{}})
	})
	sys("GET /system/metrics/breakdown", any3, func(w http.ResponseWriter, r *http.Request) {
		g := r.URL.Query().Get("group_by")
		if g != "service" && g != "user" && g != "country" {
			text(w, 400, "invalid group_by")
			return
		}
		writeJSON(w, 200, map[string]any{"group_by": g, "items": []any{}})
	})
	sys("GET /system/metrics/{name}", any3, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"service_name": r.PathValue("name"), "metrics": []any{}})
	})
	sys("GET /system/quotas/user", [3]int{3, 7, 0}, s.quota)
	sys("GET /system/quotas/user/{user}", [3]int{3, 7, 0}, s.quota)
	sys("PUT /system/quotas/user/{user}", [3]int{3, 7, 0}, s.quota)
	return mux
}

// auth checks basic credentials or (when OIDC is on and basicOnly is false)
// the OIDC bearer token, as OSCAR's GetAuthMiddleware does.
func (s *Server) auth(h http.HandlerFunc, basicOnly bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == s.opts.Username && p == s.opts.Password {
			h(w, r)
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && !basicOnly && s.opts.Token != "" && tok == s.opts.Token {
			h(w, r)
			return
		}
		text(w, http.StatusUnauthorized, "Unauthorized")
	}
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	sb := map[string]string{}
	if !s.opts.NoServerless {
		sb = map[string]string{"name": "Knative", "version": "1.15.0"}
	}
	writeJSON(w, 200, map[string]any{"version": s.opts.Version, "git_commit": "7ade09ee", "architecture": "amd64",
		"kubernetes_version": "v1.30.0", "serverless_backend": sb})
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	repos := append([]string{}, s.repos...)
	s.mu.Unlock()
	backend := "knative"
	if s.opts.NoServerless {
		backend = ""
	}
	writeJSON(w, 200, map[string]any{
		"config": map[string]any{"name": "oscar", "namespace": "oscar", "services_namespace": "oscar-svc",
			"gpu_available": false, "interLink_available": false, "serverless_backend": backend,
			"yunikorn_enable": false, "kueue_enable": true, "volume_enable": true, "oidc_groups": []string{"vo.example.eu"},
			"minio_quota_enabled": false},
		"minio_provider": map[string]any{"endpoint": orDefault(s.opts.ReportedS3Endpoint, s.opts.S3Endpoint), "verify": false,
			"access_key": s.opts.S3AccessKey, "secret_key": s.opts.S3SecretKey, "region": "us-east-1"},
		"allowed_image_repositories": repos,
	})
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Repos []string `json:"allowed_image_repositories"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		text(w, 400, "invalid body: "+err.Error())
		return
	}
	s.mu.Lock()
	s.repos = in.Repos
	s.mu.Unlock()
	s.getConfig(w, r)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{
		"cluster": map[string]any{"nodes_count": 1,
			"metrics": map[string]any{"cpu": map[string]any{"total_free_cores": 3, "max_free_on_node_cores": 3},
				"memory": map[string]any{"total_free_bytes": 8 << 30}, "gpu": map[string]any{"total_gpu": 0}},
			"nodes": []any{map[string]any{"name": "node-1", "status": "Ready", "gpu": 0,
				"cpu":    map[string]any{"capacity_cores": 4, "usage_cores": 1},
				"memory": map[string]any{"capacity_bytes": 16 << 30, "usage_bytes": 2 << 30}}}},
		"oscar": map[string]any{"deployment_name": "oscar", "ready": true, "jobs_count": 0,
			"pods": map[string]any{"total": 1, "states": map[string]int{"Running": 1}}},
		"minio": map[string]any{"buckets_count": len(s.buckets), "total_objects": 0},
	})
}

// --- services ---

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.services))
	for n := range s.services {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]map[string]json.RawMessage, 0, len(names))
	for _, n := range names {
		out = append(out, s.withDeployment(r, s.services[n]))
	}
	writeJSON(w, 200, out)
}

func (s *Server) withDeployment(r *http.Request, svc map[string]json.RawMessage) map[string]json.RawMessage {
	if r.URL.Query().Get("include") != "deployment" || !s.atLeast(4, 0, 0) {
		return svc
	}
	cp := make(map[string]json.RawMessage, len(svc)+1)
	for k, v := range svc {
		cp[k] = v
	}
	cp["deployment"] = json.RawMessage(`{"state":"ready","active_instances":1,"resource_kind":"Deployment"}`)
	return cp
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[r.PathValue("name")]
	if !ok {
		text(w, 404, "error getting service: the service does not exist")
		return
	}
	writeJSON(w, 200, s.withDeployment(r, svc))
}

// readService decodes a service body and checks the required fields as
// gin's binding does.
func readService(r *http.Request) (map[string]json.RawMessage, string, error) {
	var svc map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&svc); err != nil {
		return nil, "", fmt.Errorf("the service specification is not valid: %v", err)
	}
	var name, image, script string
	_ = json.Unmarshal(svc["name"], &name)
	_ = json.Unmarshal(svc["image"], &image)
	_ = json.Unmarshal(svc["script"], &script)
	// The messages copy the real server's (Gin's validator), capitals and all.
	switch {
	case name == "" || len(name) > 39:
		return nil, "", fmt.Errorf("Key: 'Service.Name' Error:Field validation for 'Name' failed")
	case image == "":
		return nil, "", fmt.Errorf("Key: 'Service.Image' Error:Field validation for 'Image' failed on the 'required' tag")
	case script == "":
		return nil, "", fmt.Errorf("Key: 'Service.Script' Error:Field validation for 'Script' failed on the 'required' tag")
	}
	return svc, name, nil
}

func (s *Server) createService(w http.ResponseWriter, r *http.Request) {
	svc, name, err := readService(r)
	if err != nil {
		text(w, 400, err.Error())
		return
	}
	if !s.atLeast(4, 1, 0) {
		if exp, ok := svc["expose"]; ok && bytes.Contains(exp, []byte(`"api_port":[`)) {
			text(w, 400, "json: cannot unmarshal array into Go struct field Expose.expose.api_port of type int")
			return
		}
	}
	s.mu.Lock()
	if _, exists := s.services[name]; exists {
		s.mu.Unlock()
		text(w, 409, "A service with the provided name already exists")
		return
	}
	svc["token"], _ = json.Marshal(randHex(32))
	svc["owner"], _ = json.Marshal("cluster_admin")
	s.services[name] = svc
	s.mu.Unlock()
	for _, b := range serviceBuckets(svc) {
		if s.s3 != nil {
			if err := s.s3.MakeBucket(r.Context(), b, minio.MakeBucketOptions{}); err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
				text(w, 500, "error creating bucket "+b+": "+err.Error())
				return
			}
		}
	}
	w.WriteHeader(http.StatusCreated)
}

// serviceBuckets returns the MinIO buckets of a service's inputs/outputs.
func serviceBuckets(svc map[string]json.RawMessage) []string {
	var ios []struct {
		Provider string `json:"storage_provider"`
		Path     string `json:"path"`
	}
	var all []string
	for _, k := range []string{"input", "output"} {
		ios = nil
		_ = json.Unmarshal(svc[k], &ios)
		for _, io := range ios {
			if strings.HasPrefix(io.Provider, "minio") || io.Provider == "" {
				b, _, _ := strings.Cut(strings.Trim(io.Path, "/ "), "/")
				if b != "" {
					all = append(all, b)
				}
			}
		}
	}
	return all
}

func (s *Server) updateService(w http.ResponseWriter, r *http.Request) {
	svc, name, err := readService(r)
	if err != nil {
		text(w, 400, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.services[name]
	if !ok {
		text(w, 404, "The service does not exist")
		return
	}
	svc["token"], svc["owner"] = old["token"], old["owner"] // token preserved (oscar#498)
	s.services[name] = svc
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteService(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	svc, ok := s.services[name]
	delete(s.services, name)
	delete(s.jobs, name)
	s.mu.Unlock()
	if !ok {
		text(w, 404, "The service does not exist")
		return
	}
	// As OSCAR does: the service's buckets go with it.
	for _, b := range serviceBuckets(svc) {
		s.removeBucket(r.Context(), b)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serviceExists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.services[name]
	return ok
}

func (s *Server) serviceAuth(w http.ResponseWriter, r *http.Request) {
	if !s.serviceExists(r.PathValue("name")) {
		w.WriteHeader(404)
		return
	}
	w.WriteHeader(200)
}

func (s *Server) deploymentStatus(name, state string) map[string]any {
	return map[string]any{"service_name": name, "namespace": "oscar-svc", "state": state, "reason": "",
		"active_instances": 1, "affected_instances": 0, "resource_kind": "Deployment", "last_transition_time": "2026-01-01T00:00:00Z"}
}

func (s *Server) deployment(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.serviceExists(name) {
		text(w, 404, "service not found")
		return
	}
	writeJSON(w, 200, s.deploymentStatus(name, "ready"))
}

func (s *Server) deploymentLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.serviceExists(name) {
		text(w, 404, "service not found")
		return
	}
	entries := []map[string]string{{"timestamp": "2026-01-01T00:00:00Z", "message": "listening on :8080"}, {"timestamp": "2026-01-01T00:00:01Z", "message": "ready"}}
	if n, err := strconv.Atoi(r.URL.Query().Get("tailLines")); err == nil && n > 0 && n < len(entries) {
		entries = entries[len(entries)-n:]
	}
	writeJSON(w, 200, map[string]any{"service_name": name, "available": true, "message": "", "entries": entries})
}

func (s *Server) lifecycle(action string) http.HandlerFunc {
	state := map[string]string{"start": "ready", "stop": "stopped", "restart": "ready"}[action]
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !s.serviceExists(name) {
			text(w, 404, "service not found")
			return
		}
		writeJSON(w, 200, s.deploymentStatus(name, state))
	}
}

// --- invocation and jobs ---

func (s *Server) invoke(sync bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		svc, ok := s.services[name]
		s.mu.Unlock()
		if !ok {
			text(w, 404, "service not found")
			return
		}
		var svcTok string
		_ = json.Unmarshal(svc["token"], &svcTok)
		if tok == "" || (tok != svcTok && (s.opts.Token == "" || tok != s.opts.Token)) {
			text(w, 401, "Unauthorized")
			return
		}
		body, _ := io.ReadAll(r.Body)
		if sync {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(200)
			_, _ = w.Write(append([]byte("ran "+name+": "), body...))
			return
		}
		s.mu.Lock()
		prefix := name
		if len(prefix) >= 25 {
			prefix = prefix[:16]
		}
		j := &fakeJob{name: prefix + "-" + randHex(8), status: "Succeeded", created: time.Now().UTC().Add(time.Duration(len(s.jobs[name])) * time.Second),
			log: "event: " + string(body) + "\ndone\n"}
		s.jobs[name] = append(s.jobs[name], j)
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[name]; !ok {
		text(w, 404, "service not found")
		return
	}
	jobs := append([]*fakeJob(nil), s.jobs[name]...)
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].name < jobs[k].name })
	info := func(j *fakeJob) map[string]string {
		t := j.created.Format(time.RFC3339)
		return map[string]string{"status": j.status, "creation_time": t, "start_time": t, "finish_time": t}
	}
	if !s.atLeast(3, 6, 4) { // bare map, no paging
		out := map[string]any{}
		for _, j := range jobs {
			out[j.name] = info(j)
		}
		writeJSON(w, 200, out)
		return
	}
	start := 0
	if p := r.URL.Query().Get("page"); p != "" {
		b, err := base64.RawURLEncoding.DecodeString(p)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(jobs) {
			text(w, 400, "invalid continue token")
			return
		}
		start = n
	}
	end := min(start+s.opts.JobPageSize, len(jobs))
	page := map[string]any{}
	for _, j := range jobs[start:end] {
		page[j.name] = info(j)
	}
	next := ""
	if end < len(jobs) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	writeJSON(w, 200, map[string]any{"jobs": page, "next_page": next, "remaining_jobs": len(jobs) - end})
}

func (s *Server) findJob(service, job string) *fakeJob {
	for _, j := range s.jobs[service] {
		if j.name == job {
			return j
		}
	}
	return nil
}

func (s *Server) jobLog(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.findJob(r.PathValue("name"), r.PathValue("job"))
	s.mu.Unlock()
	if j == nil {
		text(w, 404, "job not found")
		return
	}
	log := j.log
	if r.URL.Query().Get("timestamps") == "true" {
		log = j.created.Format(time.RFC3339Nano) + " " + strings.ReplaceAll(strings.TrimSuffix(log, "\n"), "\n", "\n"+j.created.Format(time.RFC3339Nano)+" ") + "\n"
	}
	text(w, 200, log)
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	name, job := r.PathValue("name"), r.PathValue("job")
	s.mu.Lock()
	defer s.mu.Unlock()
	jobs := s.jobs[name]
	for i, j := range jobs {
		if j.name == job {
			s.jobs[name] = append(jobs[:i:i], jobs[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	text(w, 404, "job not found")
}

func (s *Server) deleteJobs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	all := r.URL.Query().Get("all") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[name]; !ok {
		text(w, 404, "service not found")
		return
	}
	var keep []*fakeJob
	for _, j := range s.jobs[name] {
		if !all && j.status != "Succeeded" {
			keep = append(keep, j)
		}
	}
	s.jobs[name] = keep
	w.WriteHeader(http.StatusNoContent)
}

// --- buckets ---

func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request) {
	bs, err := s.s3.ListBuckets(r.Context())
	if err != nil {
		text(w, 500, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, b := range bs {
		m := s.buckets[b.Name]
		out = append(out, map[string]any{"bucket_name": b.Name, "visibility": orDefault(m.Visibility, "private"),
			"allowed_users": append([]string{}, m.AllowedUsers...), "owner": "cluster_admin", "metadata": orEmpty(m.Metadata)})
	}
	writeJSON(w, 200, out)
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (s *Server) readBucket(w http.ResponseWriter, r *http.Request) (string, bucketMeta, bool) {
	var in struct {
		Name string `json:"bucket_name"`
		bucketMeta
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
		text(w, 400, "invalid bucket definition")
		return "", bucketMeta{}, false
	}
	return in.Name, in.bucketMeta, true
}

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request) {
	name, meta, ok := s.readBucket(w, r)
	if !ok {
		return
	}
	if err := s.s3.MakeBucket(r.Context(), name, minio.MakeBucketOptions{}); err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			text(w, 409, "bucket "+name+" already exists")
		case "InvalidBucketName":
			text(w, 400, "invalid bucket name "+name)
		default:
			text(w, 500, err.Error())
		}
		return
	}
	s.mu.Lock()
	s.buckets[name] = meta
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) updateBucket(w http.ResponseWriter, r *http.Request) {
	name, meta, ok := s.readBucket(w, r)
	if !ok {
		return
	}
	if exists, _ := s.s3.BucketExists(r.Context(), name); !exists {
		text(w, 404, "bucket not found")
		return
	}
	s.mu.Lock()
	s.buckets[name] = meta
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) bucketDetails(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("bucket")
	if exists, _ := s.s3.BucketExists(r.Context(), name); !exists {
		text(w, 404, "bucket not found")
		return
	}
	objs := []map[string]any{}
	for o := range s.s3.ListObjects(r.Context(), name, minio.ListObjectsOptions{Recursive: true, StartAfter: r.URL.Query().Get("page")}) {
		if o.Err != nil {
			text(w, 500, o.Err.Error())
			return
		}
		objs = append(objs, map[string]any{"object_name": o.Key, "size_bytes": o.Size, "last_modified": o.LastModified.UTC().Format(time.RFC3339), "owner": "cluster_admin"})
	}
	s.mu.Lock()
	m := s.buckets[name]
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"bucket_name": name, "visibility": orDefault(m.Visibility, "private"), "owner": "cluster_admin",
		"objects": objs, "is_truncated": false, "next_page": "", "returned_items": len(objs)})
}

func (s *Server) removeBucket(ctx context.Context, name string) bool {
	if s.s3 == nil {
		return false
	}
	if exists, _ := s.s3.BucketExists(ctx, name); !exists {
		return false
	}
	for o := range s.s3.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err == nil {
			_ = s.s3.RemoveObject(ctx, name, o.Key, minio.RemoveObjectOptions{})
		}
	}
	_ = s.s3.RemoveBucket(ctx, name)
	s.mu.Lock()
	delete(s.buckets, name)
	s.mu.Unlock()
	return true
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *http.Request) {
	if !s.removeBucket(r.Context(), r.PathValue("bucket")) {
		text(w, 404, "bucket not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) presign(w http.ResponseWriter, r *http.Request) {
	bucket := r.PathValue("bucket")
	var in struct {
		Key         string `json:"object_key"`
		Operation   string `json:"operation"`
		ExpiresIn   int    `json:"expires_in"`
		ContentType string `json:"content_type"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Key == "" {
		text(w, 400, "object_key is required")
		return
	}
	if exists, _ := s.s3.BucketExists(r.Context(), bucket); !exists {
		text(w, 404, "bucket not found")
		return
	}
	exp := time.Duration(in.ExpiresIn) * time.Second
	if exp == 0 {
		exp = 15 * time.Minute
	}
	var u *url.URL
	var err error
	method := "GET"
	switch in.Operation {
	case "download":
		u, err = s.s3.PresignedGetObject(r.Context(), bucket, in.Key, exp, nil)
	case "upload":
		method = "PUT"
		u, err = s.s3.PresignedPutObject(r.Context(), bucket, in.Key, exp)
	default:
		text(w, 400, "operation must be upload or download")
		return
	}
	if err != nil {
		text(w, 500, err.Error())
		return
	}
	headers := map[string]string{}
	if in.ContentType != "" && method == "PUT" {
		headers["Content-Type"] = in.ContentType
	}
	writeJSON(w, 200, map[string]any{"url": u.String(), "method": method, "headers": headers,
		"expires_at": time.Now().Add(exp).UTC().Format(time.RFC3339), "object_key": in.Key, "operation": in.Operation})
}

// --- volumes, federation, quotas ---

func (s *Server) listVolumes(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, v := range s.volumes {
		out = append(out, v)
	}
	writeJSON(w, 200, out)
}

func (s *Server) createVolume(w http.ResponseWriter, r *http.Request) {
	var in struct{ Name, Size string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" || in.Size == "" {
		text(w, 400, "name and size are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.volumes[in.Name]; ok {
		text(w, 409, "volume already exists")
		return
	}
	v := map[string]any{"name": in.Name, "size": in.Size, "namespace": "oscar-svc", "pvc_name": "pvc-" + in.Name,
		"lifecycle_policy": "retain", "creation_mode": "api", "status": map[string]any{"phase": "Bound", "attachment_count": 0}}
	s.volumes[in.Name] = v
	writeJSON(w, 201, v)
}

func (s *Server) getVolume(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.volumes[r.PathValue("vol")]
	if !ok {
		text(w, 404, "volume not found")
		return
	}
	writeJSON(w, 200, v)
}

func (s *Server) deleteVolume(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.volumes[r.PathValue("vol")]; !ok {
		text(w, 404, "volume not found")
		return
	}
	delete(s.volumes, r.PathValue("vol"))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) federation(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.serviceExists(name) {
		text(w, 404, "service not found")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method == http.MethodGet {
		members := s.federated[name]
		if members == nil {
			members = json.RawMessage(`[]`)
		}
		writeJSON(w, 200, map[string]any{"topology": "star", "members": members})
		return
	}
	var in struct {
		Members json.RawMessage `json:"members"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		text(w, 400, "invalid federation request")
		return
	}
	if r.Method == http.MethodDelete {
		delete(s.federated, name)
	} else if in.Members != nil {
		s.federated[name] = in.Members
	}
	writeJSON(w, 200, "ok")
}

func (s *Server) quota(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	if user == "" {
		user = "self"
	}
	writeJSON(w, 200, map[string]any{"user_id": user, "cluster_queue": "cq-" + user,
		"resources": map[string]any{"cpu": map[string]int{"max": 4000, "used": 0}}})
}

// --- helpers ---

func text(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Registry returns a backend registry whose OSCAR and local kinds are the
// real OSCAR client (backends/oscar), for tests of code that reaches
// clusters through a registry and points it at a Server. g, when not nil,
// guards the connections to untrusted clusters.
func Registry(g *netguard.Guard) *backends.Registry {
	r := backends.NewRegistry()
	oscar.Register(r, oscar.Options{Guard: g})
	return r
}
