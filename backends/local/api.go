package local

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/minio/minio-go/v7"
)

// routes builds the OSCAR REST API (reference/oscar-openapi.yaml).
// /system/* needs basic auth; /job and /run take the service's token (or
// the basic credentials); /health is open.
func (c *Cluster) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Ok")
	})

	sys := http.NewServeMux()
	sys.HandleFunc("GET /system/info", c.handleInfo)
	sys.HandleFunc("GET /system/config", c.handleConfig)
	sys.HandleFunc("GET /system/status", c.handleStatus)
	sys.HandleFunc("GET /system/services", c.handleListServices)
	sys.HandleFunc("POST /system/services", c.handleCreateService)
	sys.HandleFunc("PUT /system/services", c.handleUpdateService)
	sys.HandleFunc("GET /system/services/{name}", c.handleReadService)
	sys.HandleFunc("DELETE /system/services/{name}", c.handleDeleteService)
	sys.HandleFunc("GET /system/logs/{svc}", c.handleListJobs)
	sys.HandleFunc("DELETE /system/logs/{svc}", c.handleDeleteJobs)
	sys.HandleFunc("GET /system/logs/{svc}/{job}", c.handleJobLog)
	sys.HandleFunc("DELETE /system/logs/{svc}/{job}", c.handleDeleteJob)
	c.bucketRoutes(sys)
	mux.Handle("/system/", c.requireBasic(sys))

	mux.HandleFunc("POST /job/{svc}", c.handleJob)
	mux.HandleFunc("POST /run/{svc}", c.handleRun)
	return mux
}

// requireBasic guards /system/* with the cluster's basic credentials, as
// OSCAR does when OIDC is off.
func (c *Cluster) requireBasic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.basicOK(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Authorization Required"`)
			textError(w, http.StatusUnauthorized, "Unauthorized: basic authentication with the local cluster's user and password is required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (c *Cluster) basicOK(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	// Evaluate both comparisons so timing does not reveal which one failed.
	uok := constantEq(u, c.secrets.User)
	pok := constantEq(p, c.secrets.Password)
	return ok && uok && pok
}

// serviceAuthOK accepts "Bearer <service token>" or the basic credentials.
func (c *Cluster) serviceAuthOK(r *http.Request, svc *Service) bool {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return svc.Token != "" && constantEq(strings.TrimSpace(tok), svc.Token)
	}
	return c.basicOK(r)
}

// textError writes a plain-text error body, as OSCAR does for every status.
func textError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ready reports 503 if storage is not up yet.
func (c *Cluster) ready(w http.ResponseWriter) bool {
	if c.store == nil {
		textError(w, http.StatusServiceUnavailable, errNotStarted.Error())
		return false
	}
	return true
}

func (c *Cluster) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"version":            c.cfg.Version,
		"git_commit":         "fdlstudio-local",
		"architecture":       runtime.GOARCH,
		"kubernetes_version": "",
		"serverless_backend": map[string]string{"name": "local", "version": c.cfg.Version},
	})
}

func (c *Cluster) handleConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"config": map[string]any{
			"name":                       "oscar-local",
			"namespace":                  "local",
			"services_namespace":         "local",
			"controller_service_account": "",
			"gpu_available":              false,
			"interLink_available":        false,
			"serverless_backend":         "local",
			"yunikorn_enable":            false,
			"kueue_enable":               false,
			"volume_enable":              false,
			"oidc_groups":                []string{},
			"minio_quota_enabled":        false,
		},
		// Basic-auth callers get the storage root keys, as on OSCAR.
		"minio_provider": map[string]any{
			"endpoint":   c.s3URL(),
			"verify":     c.s3Secure,
			"access_key": c.s3Access,
			"secret_key": c.s3Secret,
			"region":     c.s3Region,
		},
		"allowed_image_repositories": []string{},
	})
}

func (c *Cluster) handleStatus(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	states := map[string]int{}
	total := 0
	for _, svc := range c.jobs.services() {
		for _, j := range c.jobs.all(svc) {
			states[j.Status]++
			total++
		}
	}
	buckets, err := c.store.ListBuckets(r.Context())
	if err != nil {
		textError(w, http.StatusBadGateway, "list buckets on the local storage: "+err.Error())
		return
	}
	host, _ := os.Hostname()
	// CPU in millicores and memory in bytes, as OSCAR reports them. The
	// free CPU is what the job slots leave: each running job may use one.
	milli := int64(runtime.NumCPU()) * 1000
	running := int64(states["Running"])
	free := max(0, int64(cap(c.sem))-running) * 1000
	memTotal, memFree := meminfo("MemTotal:"), meminfo("MemAvailable:")
	writeJSON(w, http.StatusOK, map[string]any{
		"cluster": map[string]any{
			"nodes_count": 1,
			"metrics": map[string]any{
				"cpu": map[string]any{
					"total_free_cores": min(free, milli), "max_free_on_node_cores": min(free, milli),
					"total_schedulable_cores": milli, "total_schedulable_on_node_cores": milli,
				},
				"memory": map[string]any{
					"total_free_bytes": memFree, "max_free_on_node_bytes": memFree,
					"total_schedulable_bytes": memTotal, "max_schedulable_on_node_bytes": memTotal,
				},
				"gpu": map[string]any{"total_gpu": 0},
			},
			"nodes": []any{map[string]any{
				"name":   host,
				"status": "Ready",
				"cpu":    map[string]any{"capacity_cores": milli, "usage_cores": min(running*1000, milli)},
				"memory": map[string]any{"capacity_bytes": memTotal, "usage_bytes": memTotal - memFree},
				"gpu":    0,
			}},
		},
		"oscar": map[string]any{
			"deployment_name": "fdlstudio-local",
			"ready":           true,
			"jobs_count":      total,
			"pods":            map[string]any{"total": total, "states": states},
			"oidc":            map[string]any{"enabled": false},
		},
		"minio": map[string]any{"buckets_count": len(buckets)},
	})
}

// meminfo reads one field ("MemTotal:") of /proc/meminfo in bytes (0
// where unavailable).
func meminfo(field string) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}

func (c *Cluster) handleListServices(w http.ResponseWriter, r *http.Request) {
	list := c.services.list()
	out := make([]Service, 0, len(list))
	for _, s := range list {
		out = append(out, s.public())
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Cluster) handleReadService(w http.ResponseWriter, r *http.Request) {
	s, ok := c.services.get(r.PathValue("name"))
	if !ok {
		textError(w, http.StatusNotFound, fmt.Sprintf("The service %q does not exist", r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, s.public())
}

// decodeService reads a service definition from a request body.
func decodeService(r *http.Request) (*Service, error) {
	var s Service
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	if err := dec.Decode(&s); err != nil {
		return nil, badf("service definition is not valid JSON: %v", err)
	}
	if err := s.normalize(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (c *Cluster) serviceError(w http.ResponseWriter, err error) {
	var bad badRequest
	if errors.As(err, &bad) {
		textError(w, http.StatusBadRequest, bad.msg)
		return
	}
	textError(w, http.StatusInternalServerError, err.Error())
}

// withDefaults sets what OSCAR generates on create: the default storage
// provider (without keys) and the owner.
func (c *Cluster) withDefaults(s *Service) {
	if s.StorageProviders == nil {
		s.StorageProviders = &StorageProviders{}
	}
	if s.StorageProviders.MinIO == nil {
		s.StorageProviders.MinIO = map[string]*MinIOProvider{}
	}
	s.StorageProviders.MinIO["default"] = &MinIOProvider{Endpoint: c.s3URL(), Verify: c.s3Secure, Region: c.s3Region}
	if s.Owner == "" {
		s.Owner = "cluster_admin"
	}
	s.Namespace = "local"
}

func (c *Cluster) handleCreateService(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	s, err := decodeService(r)
	if err != nil {
		c.serviceError(w, err)
		return
	}
	if _, exists := c.services.get(s.Name); exists {
		textError(w, http.StatusConflict, fmt.Sprintf("A service with the name %q already exists", s.Name))
		return
	}
	s.Token = randomHex(32)
	s.Owner = ""
	c.withDefaults(s)
	if err := c.setupStorage(r.Context(), s); err != nil {
		textError(w, http.StatusInternalServerError, fmt.Sprintf("service %q: %v", s.Name, err))
		return
	}
	if err := c.services.put(s, true); err != nil {
		if errors.Is(err, errServiceExists) {
			textError(w, http.StatusConflict, fmt.Sprintf("A service with the name %q already exists", s.Name))
			return
		}
		textError(w, http.StatusInternalServerError, err.Error())
		return
	}
	c.log.Info("service created", "service", s.Name)
	w.WriteHeader(http.StatusCreated)
}

func (c *Cluster) handleUpdateService(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	s, err := decodeService(r)
	if err != nil {
		c.serviceError(w, err)
		return
	}
	old, ok := c.services.get(s.Name)
	if !ok {
		textError(w, http.StatusNotFound, fmt.Sprintf("The service %q does not exist", s.Name))
		return
	}
	// The token and owner are preserved (OSCAR PR #498). A blank secret
	// value (as GET hands them out) keeps the stored one.
	s.Token, s.Owner = old.Token, old.Owner
	for k, v := range s.Environment.Secrets {
		if v == "" {
			s.Environment.Secrets[k] = old.Environment.Secrets[k]
		}
	}
	c.withDefaults(s)
	if err := c.notify.unwatch(r.Context(), c.store, old); err != nil {
		textError(w, http.StatusInternalServerError, fmt.Sprintf("service %q: %v", s.Name, err))
		return
	}
	if err := c.setupStorage(r.Context(), s); err != nil {
		textError(w, http.StatusInternalServerError, fmt.Sprintf("service %q: %v", s.Name, err))
		return
	}
	if err := c.services.put(s, false); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			textError(w, http.StatusNotFound, fmt.Sprintf("The service %q does not exist", s.Name))
			return
		}
		textError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// setupStorage creates the service's input and output buckets and folders
// on the default provider, then arranges the input notifications.
func (c *Cluster) setupStorage(ctx context.Context, s *Service) error {
	c.bucketsMu.Lock()
	defer c.bucketsMu.Unlock()
	for _, io := range append(append([]StorageIOConfig{}, s.Input...), s.Output...) {
		if _, id := providerID(io.StorageProvider); id != "default" {
			continue
		}
		bp := parseBucketPath(io.Path)
		exists, err := c.store.BucketExists(ctx, bp.Bucket)
		if err != nil {
			return fmt.Errorf("check bucket %s: %w", bp.Bucket, err)
		}
		if !exists {
			if err := c.store.MakeBucket(ctx, bp.Bucket, minio.MakeBucketOptions{Region: c.s3Region}); err != nil {
				code := minio.ToErrorResponse(err).Code
				if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
					return fmt.Errorf("create bucket %s: %w", bp.Bucket, err)
				}
			}
		}
		if bp.Folder != "" {
			if _, err := c.store.PutObject(ctx, bp.Bucket, bp.Folder+"/", bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
				return fmt.Errorf("create folder %s: %w", bp, err)
			}
		}
	}
	if err := c.notify.watch(ctx, c.store, s); err != nil {
		return err
	}
	return nil
}

// keptBucketsHeader lists, on DELETE /system/services/{name}, the buckets
// OSCAR would have deleted with the service and the local cluster kept.
const keptBucketsHeader = "X-Fdlstudio-Kept-Buckets"

// deletedBucketsHeader lists the buckets removed with ?delete_buckets=true.
const deletedBucketsHeader = "X-Fdlstudio-Deleted-Buckets"

func (c *Cluster) handleDeleteService(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	name := r.PathValue("name")
	s, ok := c.services.get(name)
	if !ok {
		textError(w, http.StatusNotFound, fmt.Sprintf("The service %q does not exist", name))
		return
	}
	if err := c.notify.unwatch(r.Context(), c.store, s); err != nil {
		textError(w, http.StatusInternalServerError, fmt.Sprintf("service %q: %v", name, err))
		return
	}
	if err := c.services.remove(name); err != nil {
		textError(w, http.StatusInternalServerError, err.Error())
		return
	}
	// Its jobs go with it, as on OSCAR; running ones are killed.
	for _, j := range c.jobs.all(name) {
		c.cancelJob(j.Name, errJobDeleted)
		if err := c.jobs.remove(name, j.Name); err != nil {
			c.log.Warn("delete job of deleted service", "job", j.Name, "err", err)
		}
	}
	buckets := s.defaultBuckets()
	if r.URL.Query().Get("delete_buckets") == "true" {
		var deleted, kept []string
		for _, b := range buckets {
			if c.bucketInUse(b) {
				kept = append(kept, b)
				continue
			}
			if err := c.removeBucket(r.Context(), b); err != nil {
				textError(w, http.StatusInternalServerError, fmt.Sprintf("service %q deleted, but deleting bucket %s failed: %v", name, b, err))
				return
			}
			deleted = append(deleted, b)
		}
		w.Header().Set(deletedBucketsHeader, strings.Join(deleted, ","))
		w.Header().Set(keptBucketsHeader, strings.Join(kept, ","))
	} else {
		w.Header().Set(keptBucketsHeader, strings.Join(buckets, ","))
	}
	c.log.Info("service deleted", "service", name, "buckets", buckets)
	w.WriteHeader(http.StatusNoContent)
}

// bucketInUse reports whether a remaining service uses the bucket.
func (c *Cluster) bucketInUse(b string) bool {
	for _, s := range c.services.list() {
		for _, x := range s.defaultBuckets() {
			if x == b {
				return true
			}
		}
	}
	return false
}

func (c *Cluster) removeBucket(ctx context.Context, b string) error {
	for obj := range c.store.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		if err := c.store.RemoveObject(ctx, b, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	return c.store.RemoveBucket(ctx, b)
}

func (c *Cluster) handleListJobs(w http.ResponseWriter, r *http.Request) {
	svc := r.PathValue("svc")
	if _, ok := c.services.get(svc); !ok && len(c.jobs.all(svc)) == 0 {
		textError(w, http.StatusNotFound, fmt.Sprintf("The service %q does not exist", svc))
		return
	}
	resp, err := c.jobs.page(svc, r.URL.Query().Get("page"), c.cfg.JobListingLimit)
	if err != nil {
		c.serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (c *Cluster) handleDeleteJobs(w http.ResponseWriter, r *http.Request) {
	svc := r.PathValue("svc")
	if _, ok := c.services.get(svc); !ok && len(c.jobs.all(svc)) == 0 {
		textError(w, http.StatusNotFound, fmt.Sprintf("The service %q does not exist", svc))
		return
	}
	all := r.URL.Query().Get("all") == "true"
	for _, j := range c.jobs.all(svc) {
		if !all && j.Status != StatusSucceeded {
			continue
		}
		c.cancelJob(j.Name, errJobDeleted)
		if err := c.jobs.remove(svc, j.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			textError(w, http.StatusInternalServerError, fmt.Sprintf("delete job %s: %v", j.Name, err))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Cluster) handleJobLog(w http.ResponseWriter, r *http.Request) {
	svc, name := r.PathValue("svc"), r.PathValue("job")
	if _, ok := c.jobs.get(svc, name); !ok {
		textError(w, http.StatusNotFound, fmt.Sprintf("The job %q of service %q does not exist", name, svc))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	f, err := os.Open(c.jobs.logPath(svc, name))
	if errors.Is(err, fs.ErrNotExist) {
		w.WriteHeader(http.StatusOK) // not started yet: empty log
		return
	}
	if err != nil {
		textError(w, http.StatusInternalServerError, "open job log: "+err.Error())
		return
	}
	defer f.Close()
	copyLog(w, f, r.URL.Query().Get("timestamps") == "true")
}

func (c *Cluster) handleDeleteJob(w http.ResponseWriter, r *http.Request) {
	svc, name := r.PathValue("svc"), r.PathValue("job")
	if _, ok := c.jobs.get(svc, name); !ok {
		textError(w, http.StatusNotFound, fmt.Sprintf("The job %q of service %q does not exist", name, svc))
		return
	}
	c.cancelJob(name, errJobDeleted)
	if err := c.jobs.remove(svc, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		textError(w, http.StatusInternalServerError, fmt.Sprintf("delete job %s: %v", name, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// invocation reads the service and the body of a /job or /run request,
// answering 404, 401 or 413 itself.
func (c *Cluster) invocation(w http.ResponseWriter, r *http.Request) (*Service, []byte, bool) {
	if !c.ready(w) {
		return nil, nil, false
	}
	name := r.PathValue("svc")
	svc, ok := c.services.get(name)
	if !ok {
		textError(w, http.StatusNotFound, fmt.Sprintf("The service %q does not exist", name))
		return nil, nil, false
	}
	if !c.serviceAuthOK(r, svc) {
		textError(w, http.StatusUnauthorized, "Unauthorized: send the service's token as \"Authorization: Bearer <token>\"")
		return nil, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			textError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", c.cfg.MaxBodyBytes))
			return nil, nil, false
		}
		textError(w, http.StatusBadRequest, "read request body: "+err.Error())
		return nil, nil, false
	}
	return svc, body, true
}

// jobNameHeader carries the created job's name in the /job response (an
// addition; OSCAR answers 201 with an empty body).
const jobNameHeader = "X-Fdlstudio-Job-Name"

func (c *Cluster) handleJob(w http.ResponseWriter, r *http.Request) {
	svc, body, ok := c.invocation(w, r)
	if !ok {
		return
	}
	bucket, key, _ := parseS3Event(body)
	j, err := c.submit(svc.Name, body, bucket, key, JobID{})
	if errors.Is(err, ErrQueueFull) {
		w.Header().Set("Retry-After", "10")
		textError(w, http.StatusTooManyRequests, "create job: "+err.Error())
		return
	}
	if err != nil {
		textError(w, http.StatusInternalServerError, "create job: "+err.Error())
		return
	}
	w.Header().Set(jobNameHeader, j.Name)
	w.WriteHeader(http.StatusCreated)
}

// syncInput returns the input file of a sync invocation: the body as is if
// it is JSON, else its base64 decoding (as faas-supervisor does), else the
// raw body.
func syncInput(body []byte) []byte {
	if json.Valid(body) {
		return body
	}
	if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(body))); err == nil {
		return dec
	}
	return body
}

// handleRun runs the script synchronously. The response is, as on OSCAR,
// the base64 of the single output file, the base64 of a zip of several, or
// the script's stdout when there are none. A failing script answers 500
// with the end of its log.
func (c *Cluster) handleRun(w http.ResponseWriter, r *http.Request) {
	svc, body, ok := c.invocation(w, r)
	if !ok {
		return
	}
	select {
	case c.sem <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-c.sem }()

	work, err := os.MkdirTemp(c.workRoot(), svc.Name+"-run-")
	if err != nil {
		textError(w, http.StatusInternalServerError, "create working dir: "+err.Error())
		return
	}
	defer os.RemoveAll(work)
	logPath := filepath.Join(work, "run.log")
	lg, err := newLogWriter(logPath, c.cfg.MaxLogBytes)
	if err != nil {
		textError(w, http.StatusInternalServerError, err.Error())
		return
	}
	var stdout limitedBuffer
	stdout.max = c.cfg.MaxOutputBytes
	ctx, cancel := c.jobContext(r.Context())
	defer cancel()
	res, err := c.execute(ctx, filepath.Join(work, "job"), runSpec{
		svc: svc, jobName: jobName(svc.Name), event: body, input: syncInput(body), log: lg, stdout: &stdout,
	})
	if err == nil {
		err = c.upload(ctx, svc, "", res.outputs, lg) // a synchronous run is no job: no lineage
	}
	lg.Close()
	if err != nil {
		msg := err.Error()
		if errors.Is(err, errScriptFailed) {
			msg = fmt.Sprintf("the script exited with status %d", res.exitCode)
		}
		var logBuf bytes.Buffer
		if f, ferr := os.Open(logPath); ferr == nil {
			copyLog(&logBuf, f, false)
			f.Close()
		}
		tail := logBuf.Bytes()
		if len(tail) > 8<<10 {
			tail = tail[len(tail)-8<<10:]
		}
		textError(w, http.StatusInternalServerError, msg+"\n"+string(tail))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch len(res.outputs) {
	case 0:
		w.Write(stdout.Bytes())
	case 1:
		enc := base64.NewEncoder(base64.StdEncoding, w)
		f, err := os.Open(res.outputs[0].abs)
		if err != nil {
			textError(w, http.StatusInternalServerError, "read output: "+err.Error())
			return
		}
		defer f.Close()
		io.Copy(enc, f)
		enc.Close()
	default:
		enc := base64.NewEncoder(base64.StdEncoding, w)
		zw := zip.NewWriter(enc)
		for _, o := range res.outputs {
			if err := addToZip(zw, o); err != nil {
				c.log.Error("zip sync output", "service", svc.Name, "err", err)
				return
			}
		}
		zw.Close()
		enc.Close()
	}
}

func addToZip(zw *zip.Writer, o outputFile) error {
	f, err := os.Open(o.abs)
	if err != nil {
		return err
	}
	defer f.Close()
	dst, err := zw.Create(o.rel)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, f)
	return err
}

// limitedBuffer keeps at most max bytes and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int64
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - int64(b.Len()); room < int64(len(p)) {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
