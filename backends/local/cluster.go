package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Storage kinds.
const (
	StorageVersityGW = "versitygw"
	StorageMinIO     = "minio"
)

// Config configures a local cluster. Zero values get the documented
// defaults.
type Config struct {
	// DataDir holds everything: credentials, services, jobs and logs, and
	// (with versitygw) the objects under s3/. Required.
	DataDir string
	// Addr is the API listen address; it must be a loopback address.
	// Default "127.0.0.1:0": the port of the last run (saved in the data
	// dir), or a free one the first time or when that one is taken.
	Addr string
	// Storage selects and configures the S3 server.
	Storage StorageConfig
	// MaxConcurrency bounds the scripts running at once (async and sync
	// together). Default runtime.NumCPU().
	MaxConcurrency int
	// JobTimeout bounds one execution. Default 30 minutes.
	JobTimeout time.Duration
	// MaxOutputBytes bounds the total size of a job's output files; the
	// script is killed as soon as they go over it. Default 1 GiB.
	MaxOutputBytes int64
	// MaxWorkDirBytes bounds what a running job may add to its working
	// dir: temporary files and outputs (its input does not count). Like
	// MaxOutputBytes, it is checked every half second while the script
	// runs, which is killed when over. Default 8 GiB, or MaxOutputBytes if
	// that is larger.
	MaxWorkDirBytes int64
	// MaxLogBytes bounds a job's stored log. Default 16 MiB.
	MaxLogBytes int64
	// MaxBodyBytes bounds /job and /run request bodies. Default 64 MiB.
	MaxBodyBytes int64
	// MaxQueuedJobs bounds the jobs waiting for a worker slot: past it, a
	// /job request gets 429 and a storage event is dropped (logged, and
	// counted by QueueStats), so an event flood is not stored for ever.
	// Default 1000.
	MaxQueuedJobs int
	// JobListingLimit is the page size of job lists (OSCAR's
	// JOB_LISTING_LIMIT). Default 70.
	JobListingLimit int
	// Sandbox runs every script under bubblewrap (bwrap): new PID, IPC and
	// UTS namespaces, a private /tmp, the system dirs read-only and, of the
	// rest of the file system, only the job's working dir; so a script
	// sees neither the data dir (keys, database, credentials) nor the
	// server's or the S3 server's processes. Limits apply too. New fails
	// when bwrap is missing. For multi-user deployments; off, scripts run
	// as the server's user with its view of the machine.
	Sandbox bool
	// Limits are the resource limits of a sandboxed job. Zero fields get
	// defaults: CPU time JobTimeout, memory 4 GiB of address space per
	// process, 512 processes, files up to MaxWorkDirBytes.
	Limits JobLimits
	// Shell runs the scripts. Default /bin/sh.
	Shell string
	// Version is reported by /system/info. Default "v3.6.4": the newest
	// OSCAR release whose feature set this server implements in full
	// (services, async and sync jobs, paged job lists, buckets, presign).
	// Later releases add Kubernetes-only features (deployments, volumes,
	// quotas, federation) that clients gate on the version.
	Version string
}

// StorageConfig selects the S3 server. Kind "versitygw" (the default) runs
// versitygw, built into this program, as a child process; kind "minio"
// uses an existing MinIO server.
type StorageConfig struct {
	Kind string
	// Port is versitygw's loopback port. 0 (the default) keeps the port of
	// the last run (saved in the data dir), or picks a free one the first
	// time or when that one is taken.
	Port int

	// MinIO settings (kind "minio"). Endpoint is host:port.
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	Secure    bool
	// WebhookARN is the notification target the MinIO server was given for
	// this cluster (e.g. "arn:minio:sqs::fdlstudio:webhook", from
	// MINIO_NOTIFY_WEBHOOK_ENABLE_FDLSTUDIO=on and
	// MINIO_NOTIFY_WEBHOOK_ENDPOINT_FDLSTUDIO=http://<WebhookAddr>/events).
	WebhookARN string
	// WebhookAddr is where the event receiver listens for MinIO (loopback,
	// fixed so MinIO can be configured). Default "127.0.0.1:0".
	WebhookAddr string
	// WebhookToken, if set, must be sent by MinIO as "Bearer <token>"
	// (MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_<ID>).
	WebhookToken string
}

// Cluster is a running (or startable) local cluster.
type Cluster struct {
	cfg     Config
	log     *slog.Logger
	secrets Secrets
	events  jobEvents // watch.go
	writers writers   // lineage.go

	services *serviceStore
	jobs     *jobStore
	handler  http.Handler

	// set by Start
	store      *minio.Client
	s3Endpoint string // host:port
	s3Secure   bool
	s3Region   string
	s3Access   string
	s3Secret   string
	gw         *gateway
	notify     notifier
	apiLn      net.Listener
	apiSrv     *http.Server
	hookLn     net.Listener
	hookSrv    *http.Server
	hookPath   string
	endpoint   string
	ports      savedPorts // what this run listens on, saved for the next

	bwrap    string // bubblewrap's path when Config.Sandbox
	sem      chan struct{}
	queue    *jobQueue
	submitMu sync.Mutex   // makes the queue cap check and the push one step
	dropped  atomic.Int64 // jobs refused because the queue was full
	runMu    sync.Mutex
	running  map[string]context.CancelCauseFunc // job name → cancel
	baseCtx  context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup

	mu        sync.Mutex
	started   bool
	closed    bool
	bucketsMu sync.Mutex
}

// New checks cfg, prepares the data dir (generating the credentials on first
// use) and loads the persisted services and jobs. Nothing listens or runs
// until Start.
func New(cfg Config, logger *slog.Logger) (*Cluster, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("local cluster: Config.DataDir is required")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("local cluster: data dir %q: %w", cfg.DataDir, err)
	}
	cfg.DataDir = dir
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if err := checkLoopback(cfg.Addr); err != nil {
		return nil, fmt.Errorf("local cluster: Config.Addr: %w", err)
	}
	if cfg.Storage.Kind == "" {
		cfg.Storage.Kind = StorageVersityGW
	}
	switch cfg.Storage.Kind {
	case StorageVersityGW:
	case StorageMinIO:
		if cfg.Storage.Endpoint == "" || cfg.Storage.AccessKey == "" || cfg.Storage.SecretKey == "" {
			return nil, errors.New("local cluster: storage kind minio needs Storage.Endpoint, Storage.AccessKey and Storage.SecretKey")
		}
		if cfg.Storage.WebhookARN == "" {
			return nil, errors.New("local cluster: storage kind minio needs Storage.WebhookARN, the notification target configured on the MinIO server for this cluster")
		}
		if cfg.Storage.WebhookAddr == "" {
			cfg.Storage.WebhookAddr = "127.0.0.1:0"
		}
	default:
		return nil, fmt.Errorf("local cluster: Storage.Kind %q is not %q or %q", cfg.Storage.Kind, StorageVersityGW, StorageMinIO)
	}
	if cfg.Storage.Region == "" {
		cfg.Storage.Region = "us-east-1"
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = runtime.NumCPU()
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 30 * time.Minute
	}
	if cfg.MaxOutputBytes <= 0 {
		cfg.MaxOutputBytes = 1 << 30
	}
	if cfg.MaxWorkDirBytes <= 0 {
		cfg.MaxWorkDirBytes = max(8<<30, cfg.MaxOutputBytes)
	}
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = 16 << 20
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 20
	}
	if cfg.MaxQueuedJobs <= 0 {
		cfg.MaxQueuedJobs = 1000
	}
	if cfg.JobListingLimit <= 0 {
		cfg.JobListingLimit = 70
	}
	var bwrap string
	if cfg.Sandbox {
		if bwrap, err = FindBwrap(); err != nil {
			return nil, fmt.Errorf("local cluster: %w", err)
		}
		if _, err := exec.LookPath("prlimit"); err != nil {
			return nil, fmt.Errorf("local cluster: prlimit (util-linux) sets the limits of sandboxed jobs and is not installed: %w", err)
		}
		if cfg.Limits.CPUSeconds <= 0 {
			cfg.Limits.CPUSeconds = int64(max(cfg.JobTimeout/time.Second, 1))
		}
		if cfg.Limits.MemoryBytes <= 0 {
			cfg.Limits.MemoryBytes = 4 << 30
		}
		if cfg.Limits.Processes <= 0 {
			cfg.Limits.Processes = 512
		}
		if cfg.Limits.FileBytes <= 0 {
			cfg.Limits.FileBytes = cfg.MaxWorkDirBytes
		}
	}
	if cfg.Shell == "" {
		cfg.Shell = "/bin/sh"
	}
	if cfg.Version == "" {
		cfg.Version = "v3.6.4"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local cluster: create data dir: %w", err)
	}
	secrets, err := loadOrCreateSecrets(dir)
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	services, err := openServiceStore(filepath.Join(dir, "services"))
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	jobs, err := openJobStore(filepath.Join(dir, "jobs"))
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	c := &Cluster{
		cfg:      cfg,
		log:      logger.With("component", "local-cluster"),
		secrets:  secrets,
		services: services,
		jobs:     jobs,
		sem:      make(chan struct{}, cfg.MaxConcurrency),
		queue:    newJobQueue(),
		running:  map[string]context.CancelCauseFunc{},
		bwrap:    bwrap,
	}
	c.handler = c.routes()
	jobs.changed = c.events.notify
	return c, nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address; the local cluster runs scripts on this host and only listens on loopback", addr)
	}
	return nil
}

// Handler returns the OSCAR REST API handler (for tests; Start serves it).
func (c *Cluster) Handler() http.Handler { return c.handler }

// Endpoint returns the API base URL, e.g. "http://127.0.0.1:40123", once
// started.
func (c *Cluster) Endpoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endpoint
}

// Credentials returns the basic-auth user and password of the API.
func (c *Cluster) Credentials() (user, pass string) {
	return c.secrets.User, c.secrets.Password
}

// S3 returns the storage endpoint (host:port) and its keys, as
// /system/config hands them out.
func (c *Cluster) S3() (endpoint, accessKey, secretKey string) {
	return c.s3Endpoint, c.s3Access, c.s3Secret
}

// Start starts the event receiver, the storage server, the job workers and
// the API listener. On error everything already started is stopped.
func (c *Cluster) Start(ctx context.Context) (err error) {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("local cluster: already started")
	}
	c.started = true
	c.mu.Unlock()
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.baseCtx, c.stop = context.WithCancel(context.Background())
	c.ports = readPorts(c.cfg.DataDir)

	// 1. Event receiver: versitygw checks it at startup, so it comes first.
	hookAddr := "127.0.0.1:0"
	if c.cfg.Storage.Kind == StorageMinIO {
		hookAddr = c.cfg.Storage.WebhookAddr
		c.hookPath = "/events"
	} else {
		c.hookPath = "/events/" + randomHex(16)
	}
	c.hookLn, err = net.Listen("tcp", hookAddr)
	if err != nil {
		return fmt.Errorf("local cluster: listen for storage events on %s: %w", hookAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+c.hookPath, c.handleStorageEvent)
	c.hookSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.hookSrv.Serve(c.hookLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("storage event receiver stopped", "err", err)
		}
	}()

	// 2. Storage.
	if err := c.startStorage(ctx); err != nil {
		return err
	}

	// 3. Workers: requeue what was pending, fail what was cut short, and
	// remove the working dirs such jobs left behind.
	c.sweepWorkDirs()
	c.recoverJobs()
	c.wg.Add(1)
	go c.dispatch()

	// 4. API.
	c.apiLn, err = listenStable(c.cfg.Addr, c.ports.API, "local cluster's API", c.log)
	if err != nil {
		return fmt.Errorf("local cluster: listen on %s: %w", c.cfg.Addr, err)
	}
	c.ports.API = c.apiLn.Addr().(*net.TCPAddr).Port
	if c.cfg.Storage.Kind == StorageMinIO {
		c.ports.S3 = 0
	}
	if err := writePorts(c.cfg.DataDir, c.ports); err != nil {
		return fmt.Errorf("local cluster: save its ports: %w", err)
	}
	c.apiSrv = &http.Server{Handler: c.handler, ReadHeaderTimeout: 10 * time.Second}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.apiSrv.Serve(c.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("local cluster API stopped", "err", err)
		}
	}()
	c.mu.Lock()
	c.endpoint = "http://" + c.apiLn.Addr().String()
	c.mu.Unlock()
	info := RuntimeInfo{Endpoint: c.endpoint, S3Endpoint: c.s3URL(), PID: os.Getpid()}
	if err := writeFileAtomic(filepath.Join(c.cfg.DataDir, runtimeFile), mustJSON(info), 0o600); err != nil {
		return fmt.Errorf("local cluster: write runtime info: %w", err)
	}
	c.log.Info("local cluster started", "endpoint", c.endpoint, "storage", c.cfg.Storage.Kind, "s3", c.s3URL(), "workers", c.cfg.MaxConcurrency)
	return nil
}

func (c *Cluster) s3URL() string {
	if c.s3Secure {
		return "https://" + c.s3Endpoint
	}
	return "http://" + c.s3Endpoint
}

func (c *Cluster) startStorage(ctx context.Context) error {
	switch c.cfg.Storage.Kind {
	case StorageMinIO:
		sc := c.cfg.Storage
		c.s3Endpoint, c.s3Secure, c.s3Region = sc.Endpoint, sc.Secure, sc.Region
		c.s3Access, c.s3Secret = sc.AccessKey, sc.SecretKey
		c.notify = &minioNotifier{arn: sc.WebhookARN}
	default:
		port, err := stablePort("127.0.0.1", c.cfg.Storage.Port, c.ports.S3, "local cluster's S3 server", c.log)
		if err != nil {
			return fmt.Errorf("local cluster: %w", err)
		}
		c.ports.S3 = port
		c.s3Endpoint = "127.0.0.1:" + itoa(port)
		c.s3Region = "us-east-1"
		c.s3Access, c.s3Secret = c.secrets.S3AccessKey, c.secrets.S3SecretKey
		c.notify = globalNotifier{}
		c.gw = &gateway{
			addr:       c.s3Endpoint,
			dataDir:    filepath.Join(c.cfg.DataDir, "s3"),
			metaDir:    filepath.Join(c.cfg.DataDir, "objmeta"),
			filterFile: filepath.Join(c.cfg.DataDir, "versitygw-events.json"),
			webhookURL: "http://" + c.hookLn.Addr().String() + c.hookPath,
			accessKey:  c.s3Access,
			secretKey:  c.s3Secret,
			log:        c.log.With("component", "versitygw"),
		}
		if err := c.gw.start(); err != nil {
			return fmt.Errorf("local cluster: %w", err)
		}
		if err := c.gw.waitReady(ctx, 30*time.Second); err != nil {
			return fmt.Errorf("local cluster: %w", err)
		}
	}
	var err error
	c.store, err = minio.New(c.s3Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.s3Access, c.s3Secret, ""),
		Secure: c.s3Secure,
		Region: c.s3Region,
	})
	if err != nil {
		return fmt.Errorf("local cluster: storage client for %s: %w", c.s3Endpoint, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := c.store.ListBuckets(cctx); err != nil {
		return fmt.Errorf("local cluster: storage at %s does not answer with the configured keys: %w", c.s3Endpoint, err)
	}
	return nil
}

// Close stops the API, the event receiver, the running jobs (killed and
// marked Failed) and the storage child, and waits for all of it.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	started := c.started
	c.mu.Unlock()
	if !started {
		return nil
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if c.apiSrv != nil {
		if err := c.apiSrv.Shutdown(shutdownCtx); err != nil {
			c.apiSrv.Close()
		}
	}
	if c.stop != nil {
		c.stop()
	}
	c.queue.close()
	c.runMu.Lock()
	for _, cancel := range c.running {
		cancel(errClusterStopped)
	}
	c.runMu.Unlock()
	if c.hookSrv != nil {
		if err := c.hookSrv.Shutdown(shutdownCtx); err != nil {
			c.hookSrv.Close()
		}
	}
	c.wg.Wait()
	if c.gw != nil {
		if err := c.gw.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(filepath.Join(c.cfg.DataDir, runtimeFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var (
	errClusterStopped = errors.New("the local cluster stopped")
	errJobDeleted     = errors.New("the job was deleted")
)

// recoverJobs puts persisted Pending jobs back in the queue and marks jobs
// that were Running when the cluster last stopped as Failed.
func (c *Cluster) recoverJobs() {
	for _, svc := range c.jobs.services() {
		all := c.jobs.all(svc)
		for i := len(all) - 1; i >= 0; i-- {
			j := all[i]
			switch j.Status {
			case StatusPending:
				c.queue.push(jobRef{svc, j.Name})
			case StatusRunning:
				_ = c.jobs.update(svc, j.Name, func(r *jobRecord) {
					r.Status = StatusFailed
					r.Finished = time.Now()
					r.Reason = "the local cluster stopped while the job was running"
				})
				if lw, err := newLogWriter(c.jobs.logPath(svc, j.Name), 0); err == nil {
					lw.Printf("The local cluster stopped while the job was running; marked Failed")
					lw.Close()
				}
			}
		}
	}
}

// sweepWorkDirs removes what is left under the work root. A finished job
// or sync run removes its own working dir, so anything there at start was
// left by a run cut short by a crash or a kill, and no job of this cluster
// runs yet (like recoverJobs, this assumes one cluster per data dir).
func (c *Cluster) sweepWorkDirs() {
	root := c.workRoot()
	entries, err := os.ReadDir(root)
	if err != nil {
		c.log.Warn("list stale working dirs", "dir", root, "err", err)
		return
	}
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		if err := os.RemoveAll(p); err != nil {
			c.log.Warn("remove stale working dir", "dir", p, "err", err)
			continue
		}
		c.log.Info("removed stale working dir", "dir", p)
	}
}

// jobName builds an OSCAR-style job name: <svc>-<uuid4>, the service name
// cut to 16 characters when it is 25 or longer.
func jobName(svc string) string {
	prefix := svc
	if len(prefix) >= 25 {
		prefix = prefix[:16]
	}
	return prefix + "-" + uuid.NewString()
}

// ErrQueueFull is returned when MaxQueuedJobs jobs are already waiting.
var ErrQueueFull = errors.New("the local cluster's job queue is full")

// QueueStats reports how many jobs wait for a worker slot and how many were
// refused since the start because the queue was full.
func (c *Cluster) QueueStats() (queued int, dropped int64) {
	return c.queue.len(), c.dropped.Load()
}

// submit records a Pending job and queues it, unless MaxQueuedJobs jobs
// already wait (ErrQueueFull).
func (c *Cluster) submit(svc string, event []byte, bucket, key string, cause JobID) (jobRecord, error) {
	c.submitMu.Lock()
	defer c.submitMu.Unlock()
	if n := c.queue.len(); n >= c.cfg.MaxQueuedJobs {
		c.dropped.Add(1)
		return jobRecord{}, fmt.Errorf("%w: %d jobs are waiting (MaxQueuedJobs %d); try again when some have run", ErrQueueFull, n, c.cfg.MaxQueuedJobs)
	}
	j := jobRecord{
		Name:    jobName(svc),
		Service: svc,
		Status:  StatusPending,
		Created: time.Now(),
		Event:   string(event),
		Bucket:  bucket,
		Key:     key,
		Cause:   cause,
	}
	if err := c.jobs.add(&j); err != nil {
		return j, err
	}
	c.queue.push(jobRef{svc, j.Name})
	return j, nil
}

// dispatch starts queued jobs while a concurrency slot is free.
func (c *Cluster) dispatch() {
	defer c.wg.Done()
	for {
		// A slot first, then a job: a job stays in the queue (and counts
		// against MaxQueuedJobs) until a worker can take it.
		select {
		case c.sem <- struct{}{}:
		case <-c.baseCtx.Done():
			return
		}
		ref, ok := c.queue.pop(c.baseCtx)
		if !ok {
			<-c.sem
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer func() { <-c.sem }()
			c.runJob(ref)
		}()
	}
}

// runJob executes one queued job and records its outcome.
func (c *Cluster) runJob(ref jobRef) {
	ctx, cancel := context.WithCancelCause(c.baseCtx)
	defer cancel(nil)
	// Register before going Running so a delete can always find it.
	c.runMu.Lock()
	c.running[ref.name] = cancel
	c.runMu.Unlock()
	defer func() {
		c.runMu.Lock()
		delete(c.running, ref.name)
		c.runMu.Unlock()
	}()

	var rec jobRecord
	err := c.jobs.update(ref.svc, ref.name, func(j *jobRecord) {
		if j.Status != StatusPending {
			return
		}
		j.Status = StatusRunning
		j.Started = time.Now()
		rec = *j
	})
	if err != nil || rec.Name == "" {
		return // deleted while queued, or not pending any more
	}
	lg, err := newLogWriter(c.jobs.logPath(ref.svc, ref.name), c.cfg.MaxLogBytes)
	if err != nil {
		c.finish(ref, nil, -1, err)
		return
	}
	lg.onLine = func() { c.events.notify(ref.svc, ref.name) }
	defer lg.Close()
	svc, ok := c.services.get(ref.svc)
	if !ok {
		err := fmt.Errorf("service %q no longer exists", ref.svc)
		lg.Printf("%v", err)
		c.finish(ref, lg, -1, err)
		return
	}
	exit, err := c.runInWorkDir(ctx, svc, ref.name, rec.Event, lg)
	c.finish(ref, lg, exit, err)
}

// runInWorkDir runs an async job in a fresh working dir and uploads its
// outputs; the dir is removed before it returns, so a finished job never
// leaves one behind.
func (c *Cluster) runInWorkDir(ctx context.Context, svc *Service, name, event string, lg *logWriter) (int, error) {
	work, err := os.MkdirTemp(c.workRoot(), name+"-")
	if err != nil {
		return -1, fmt.Errorf("create working dir: %w", err)
	}
	defer os.RemoveAll(work)
	jctx, jcancel := c.jobContext(ctx)
	defer jcancel()
	res, err := c.execute(jctx, work, runSpec{svc: svc, jobName: name, event: []byte(event), log: lg})
	if err == nil {
		err = c.upload(jctx, svc, name, res.outputs, lg)
	}
	return res.exitCode, err
}

// finish records a job's final state and closing log line.
func (c *Cluster) finish(ref jobRef, lg *logWriter, exit int, err error) {
	status := StatusSucceeded
	reason := ""
	if err != nil {
		status = StatusFailed
		reason = err.Error()
		if errors.Is(err, errScriptFailed) {
			reason = fmt.Sprintf("the script exited with status %d", exit)
		}
	}
	if lg != nil {
		if err != nil && !errors.Is(err, errScriptFailed) {
			lg.Printf("Job failed: %s", reason)
		}
	}
	uerr := c.jobs.update(ref.svc, ref.name, func(j *jobRecord) {
		j.Status = status
		j.Finished = time.Now()
		j.Reason = reason
		if exit >= 0 {
			e := exit
			j.ExitCode = &e
		}
	})
	if uerr != nil && !errors.Is(uerr, fs.ErrNotExist) {
		c.log.Error("record job result", "job", ref.name, "err", uerr)
	}
	c.log.Debug("job finished", "service", ref.svc, "job", ref.name, "status", status)
}

// cancelJob kills a running job; it reports whether one was running.
func (c *Cluster) cancelJob(name string, cause error) bool {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	cancel, ok := c.running[name]
	if ok {
		cancel(cause)
	}
	return ok
}

func (c *Cluster) workRoot() string {
	d := filepath.Join(c.cfg.DataDir, "work")
	_ = os.MkdirAll(d, 0o700)
	return d
}

// jobRef names a queued job.
type jobRef struct{ svc, name string }

// jobQueue is a FIFO of jobs waiting for a worker slot, so that accepting
// a job never blocks on running ones; submit bounds it.
type jobQueue struct {
	mu     sync.Mutex
	items  []jobRef
	notify chan struct{}
	closed bool
}

func newJobQueue() *jobQueue { return &jobQueue{notify: make(chan struct{}, 1)} }

func (q *jobQueue) push(r jobRef) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, r)
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *jobQueue) pop(ctx context.Context) (jobRef, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return jobRef{}, false
		}
		if len(q.items) > 0 {
			r := q.items[0]
			q.items[0] = jobRef{}
			q.items = q.items[1:]
			q.mu.Unlock()
			return r, true
		}
		q.mu.Unlock()
		select {
		case <-q.notify:
		case <-ctx.Done():
			return jobRef{}, false
		}
	}
}

func (q *jobQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *jobQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// handleStorageEvent receives the storage server's notifications and
// starts a job for every service whose input covers the new object.
func (c *Cluster) handleStorageEvent(w http.ResponseWriter, r *http.Request) {
	if tok := c.cfg.Storage.WebhookToken; tok != "" && !constantEq(r.Header.Get("Authorization"), "Bearer "+tok) {
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "read event: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	for _, ev := range splitEvents(body) {
		if !strings.HasPrefix(ev.eventName, "s3:ObjectCreated:") || strings.HasSuffix(ev.key, "/") {
			continue
		}
		// The job that wrote the object, when one did, caused every job
		// the upload starts.
		cause, _ := c.writers.take(ObjectRef{Bucket: ev.bucket, Key: ev.key})
		for _, svc := range c.services.list() {
			for _, in := range svc.Input {
				if !parseBucketPath(in.Path).matches(ev.bucket, ev.key) {
					continue
				}
				if _, err := c.submit(svc.Name, ev.body, ev.bucket, ev.key, cause); errors.Is(err, ErrQueueFull) {
					c.log.Warn("storage event dropped: no job created for the upload", "service", svc.Name, "bucket", ev.bucket, "key", ev.key, "reason", err)
				} else if err != nil {
					c.log.Error("create job for upload", "service", svc.Name, "bucket", ev.bucket, "key", ev.key, "err", err)
				}
				break
			}
		}
	}
}
