// Package backends is the contract between FDL Studio and the systems that run
// its services: OSCAR clusters (backends/oscar) and the embedded local
// cluster (backends/local). backends/clusters reads cluster registrations
// from other tools' files; backends/backendstest is the contract suite every
// Backend passes.
//
// The Backend interface is split into small role interfaces (Services, Jobs,
// Storage, ...) so that a consumer can declare only the part it needs. Every
// method returns *Error values whose Kind says what went wrong; the method
// docs list the kinds a caller should expect. Any method may also return
// KindUnavailable (backend down, timed out or failing) and KindUnauthorized /
// KindForbidden (credentials rejected), so those are not repeated per method.
//
// A Registry turns a cluster record (store.Cluster) into the Backend of its
// kind; each kind registers a factory (backends/oscar serves OSCAR and the
// local cluster). Features only some backends have are optional
// interfaces (FileRunner, Rerunner, ClusterDetails) that a consumer
// detects with a type assertion, answering Unsupported otherwise.
// HTTPStatus is the one table from error kind to HTTP status.
package backends

import (
	"context"
	"io"
	"regexp"
	"time"
)

// Backend is everything FDL Studio does with one cluster, on behalf of one
// user (the credentials are bound when the Backend is built).
type Backend interface {
	// Name identifies the backend in messages, e.g. `OSCAR cluster "egi-prod"`.
	Name() string
	Cluster
	Services
	Invoker
	Jobs
	Storage
	Deployments
}

// Cluster describes the cluster itself.
type Cluster interface {
	// Info returns the backend's version and what it supports.
	Info(ctx context.Context) (*ClusterInfo, error)
}

// Services manages service definitions.
type Services interface {
	// ListServices returns the services the caller may see.
	ListServices(ctx context.Context) ([]Service, error)
	// GetService returns one service. KindNotFound if it does not exist.
	GetService(ctx context.Context, name string) (*Service, error)
	// CreateService creates a service. KindInvalid with the backend's message
	// if the definition is rejected; KindConflict if it already exists.
	CreateService(ctx context.Context, svc *Service) error
	// UpdateService replaces a service's definition (the name selects it).
	// KindNotFound if it does not exist; KindInvalid if rejected.
	UpdateService(ctx context.Context, svc *Service) error
	// DeleteService removes a service. On OSCAR this ALSO deletes the
	// service's input and output buckets with their contents.
	// KindNotFound if it does not exist.
	DeleteService(ctx context.Context, name string) error
}

// Invoker runs services.
type Invoker interface {
	// Run invokes a service synchronously and returns the response body
	// (which the caller must close). KindNotFound if the service does not
	// exist; KindUnsupported if the backend has no synchronous runtime.
	Run(ctx context.Context, service string, input io.Reader) (io.ReadCloser, error)
	// SubmitJob invokes a service asynchronously with the given event
	// payload and returns a reference to the job it started (see JobRef:
	// exact where the backend says which job it started, else a guess).
	// KindNotFound if the service does not exist. It is never retried: a
	// retry could start the job twice.
	SubmitJob(ctx context.Context, service string, event io.Reader) (JobRef, error)
}

// JobRef names the job a submission started.
type JobRef struct {
	// Name is the job's name; "" when the backend could not tell (the job
	// may still have started: look at the service's jobs).
	Name string
	// Guess is true when the backend did not say which job it started and
	// Name is the newest job created since the submission, which another
	// submission at the same moment could also have created.
	Guess bool
}

// Jobs reads and removes the asynchronous executions of a service.
type Jobs interface {
	// ListJobs returns one page of a service's jobs. pageToken is "" for the
	// first page and JobList.NextPage afterwards. KindNotFound if the service
	// does not exist; KindInvalid for a bad page token.
	ListJobs(ctx context.Context, service, pageToken string) (*JobList, error)
	// JobLog returns the whole log of one job. KindNotFound if the service or
	// job does not exist.
	JobLog(ctx context.Context, service, job string, timestamps bool) (string, error)
	// JobLogFrom returns the log of one job from byte offset on, and the
	// offset to ask for next time (the log's length as read). A backend
	// that can only read whole logs reads the whole log and slices it.
	// An offset past the end returns "" and the end (a log that was
	// replaced); a negative one is KindInvalid. KindNotFound if the
	// service or job does not exist.
	JobLogFrom(ctx context.Context, service, job string, offset int64) (text string, next int64, err error)
	// DeleteJob removes one job. KindNotFound if it does not exist.
	DeleteJob(ctx context.Context, service, job string) error
	// DeleteJobs removes a service's finished jobs, or every job (including
	// running ones, which are killed) when all is true. KindNotFound if the
	// service does not exist.
	DeleteJobs(ctx context.Context, service string, all bool) error
}

// Storage moves files in the backend's object store. Uploads and downloads
// stream; nothing is buffered whole.
type Storage interface {
	// ListBuckets returns the buckets the caller may see.
	ListBuckets(ctx context.Context) ([]Bucket, error)
	// CreateBucket creates a bucket. KindConflict if it exists; KindInvalid
	// for a bad name.
	CreateBucket(ctx context.Context, b Bucket) error
	// DeleteBucket removes a bucket and its objects. KindNotFound if absent.
	DeleteBucket(ctx context.Context, bucket string) error
	// ListObjects returns one page of objects. KindNotFound if the bucket
	// does not exist.
	ListObjects(ctx context.Context, bucket string, opts ListObjectsOptions) (*ObjectList, error)
	// PutObject streams size bytes from r into bucket/key (size -1 when
	// unknown; the upload is then multipart). KindNotFound if the bucket
	// does not exist.
	PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, contentType string) error
	// GetObject opens bucket/key for streaming; the caller closes the reader.
	// KindNotFound if the bucket or object does not exist.
	GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, *Object, error)
	// DeleteObject removes bucket/key. Deleting an absent object succeeds
	// (S3 semantics); KindNotFound if the bucket does not exist.
	DeleteObject(ctx context.Context, bucket, key string) error
	// PresignObject returns a short-lived URL with which a browser can GET or
	// PUT the object without credentials. KindInvalid for a bad method or
	// expiry.
	PresignObject(ctx context.Context, req PresignRequest) (*PresignedURL, error)
}

// Deployments reports on exposed (long-running) services.
type Deployments interface {
	// DeploymentStatus returns the state of a service's deployment.
	// KindNotFound if the service does not exist; KindUnsupported on
	// backends (or versions) without deployment visibility.
	DeploymentStatus(ctx context.Context, service string) (*DeploymentStatus, error)
	// DeploymentLogs returns the recent logs of a service's deployment
	// (tailLines <= 0 means the backend's default). Same errors as
	// DeploymentStatus.
	DeploymentLogs(ctx context.Context, service string, tailLines int, timestamps bool) (*DeploymentLogs, error)
}

// Timeouts for calls that take longer than a page read. Handlers bound
// their calls with these; a backend may bound its own requests tighter.
const (
	// LogTimeout bounds reading a job's log, which may be large.
	LogTimeout = 30 * time.Second
	// MutateTimeout bounds creating, changing or deleting things, which
	// a cluster may take a while to finish (images, buckets, pods).
	MutateTimeout = 60 * time.Second
)

// The optional interfaces below are offered by backends that can; a
// consumer checks with a type assertion and tells the user the backend
// does not support the feature otherwise (Unsupported builds that error).

// FileRunner runs a service synchronously on one input file and returns
// its output file (the single output, a zip of several, or the script's
// stdout when it wrote none), doing whatever encoding the backend's
// runtime wants on the wire (OSCAR's supervisor takes and answers
// base64). The caller closes the returned reader. Errors as Invoker.Run.
type FileRunner interface {
	RunFile(ctx context.Context, service string, input io.Reader) (io.ReadCloser, error)
}

// Rerunner starts a new job of a service with the input of an earlier
// one, as if its input file had been uploaded again. KindNotFound if the
// service or job does not exist; KindInvalid when the old job was not
// started by an upload (so its input is unknown).
type Rerunner interface {
	RerunJob(ctx context.Context, service, job string) (JobRef, error)
}

// ClusterDetails reports on the cluster's resources and configuration.
type ClusterDetails interface {
	// ClusterStatus returns the cluster's nodes and free resources.
	// KindUnsupported on versions without it.
	ClusterStatus(ctx context.Context) (*ClusterStatus, error)
	// ClusterConfig returns the configuration the cluster shows its
	// users, without any key or password.
	ClusterConfig(ctx context.Context) (*ClusterConfig, error)
}

// Unsupported is the error for a feature a backend does not offer.
func Unsupported(backend, op, feature string) error {
	return &Error{Kind: KindUnsupported, Op: op, Backend: backend, Message: feature + " is not supported by this backend"}
}

// ClusterStatus is a cluster's nodes and free resources.
type ClusterStatus struct {
	NodesCount      int
	FreeCores       int64 // millicores
	FreeMemoryBytes int64
	GPUs            int
	JobsCount       int
	BucketsCount    int
	Nodes           []NodeStatus
}

// NodeStatus is one node of a cluster.
type NodeStatus struct {
	Name                string
	Status              string
	UsageCores          int64 // millicores
	CapacityCores       int64 // millicores
	UsageMemoryBytes    int64
	CapacityMemoryBytes int64
	GPUs                int
}

// ClusterConfig is what a cluster tells its users about its
// configuration. It holds no credentials.
type ClusterConfig struct {
	Name              string
	Namespace         string
	ServicesNamespace string
	GPUAvailable      bool
	VolumesEnabled    bool
	StorageEndpoint   string // the cluster's object store (MinIO) URL
	OIDCGroups        []string
}

// ClusterInfo is what a backend says about itself.
type ClusterInfo struct {
	Version           string // e.g. "v4.1.2"
	GitCommit         string
	Architecture      string
	KubernetesVersion string
	ServerlessBackend string // e.g. "Knative"; "" when only async runs are possible
	ServerlessVersion string
	Capabilities      Capabilities
}

// Capabilities says which optional features a backend (at its version)
// offers. The UI hides what is false; calling it anyway returns
// KindUnsupported.
type Capabilities struct {
	SyncInvocation     bool // Run works (a serverless backend is configured)
	Status             bool // cluster status (nodes, CPU, memory, GPU), OSCAR v3.1.0+
	BucketAPI          bool // buckets managed by the backend (visibility), OSCAR v3.6.0+
	EnvironmentSecrets bool // environment.secrets, OSCAR v3.6.0+
	JobPaging          bool // ListJobs returns NextPage, OSCAR v3.6.4+
	Presign            bool // presigned URLs issued by the backend, OSCAR v3.6.4+
	Quotas             bool // OSCAR v3.7.0+
	Deployments        bool // DeploymentStatus/DeploymentLogs, OSCAR v4.0.0+
	Volumes            bool // managed volumes, OSCAR v4.0.0+
	Federation         bool // service federation, OSCAR v4.1.0+
	MultiplePorts      bool // expose.api_port with several ports, OSCAR v4.1.0+
}

// JobStatus is the phase of an asynchronous job.
type JobStatus string

// Job phases as OSCAR reports them (the Kubernetes pod phase, or Suspended
// when the Job has no pod yet).
const (
	JobPending   JobStatus = "Pending"
	JobRunning   JobStatus = "Running"
	JobSucceeded JobStatus = "Succeeded"
	JobFailed    JobStatus = "Failed"
	JobUnknown   JobStatus = "Unknown"
	JobSuspended JobStatus = "Suspended"
)

// Job is one asynchronous execution of a service.
type Job struct {
	Name         string
	Status       JobStatus
	CreationTime time.Time // zero when unknown
	StartTime    time.Time
	FinishTime   time.Time
}

// JobList is one page of jobs, newest first.
type JobList struct {
	Jobs []Job
	// NextPage is the token for the next page, "" on the last page.
	NextPage string
	// Remaining is how many jobs follow this page, when the backend says.
	Remaining int
}

// Bucket is a storage bucket.
type Bucket struct {
	Name         string
	Visibility   string // private | restricted | public ("" = backend default)
	AllowedUsers []string
	Owner        string
	Metadata     map[string]string
}

// Object describes one stored object.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
	ContentType  string
	ETag         string
}

// ListObjectsOptions selects a page of objects.
type ListObjectsOptions struct {
	Prefix    string // only keys starting with this
	PageToken string // "" for the first page, ObjectList.NextPage after
	Limit     int    // page size; <= 0 means the backend's default (1000)
}

// ObjectList is one page of objects in key order.
type ObjectList struct {
	Objects  []Object
	NextPage string // "" on the last page
}

// PresignRequest asks for a presigned URL.
type PresignRequest struct {
	Bucket      string
	Key         string
	Method      string        // "GET" (download) or "PUT" (upload)
	Expires     time.Duration // 0 means 15 minutes; at most 7 days
	ContentType string        // for PUT, the content type the browser will send
}

// PresignedURL is a URL a browser may use directly.
type PresignedURL struct {
	URL       string
	Method    string
	Headers   map[string]string // headers the caller must send with the request
	ExpiresAt time.Time
}

// DeploymentStatus is the state of an exposed service's deployment.
type DeploymentStatus struct {
	ServiceName        string
	Namespace          string
	State              string // e.g. "ready", "pending", "failed", "stopped"
	Reason             string
	ActiveInstances    int
	AffectedInstances  int
	ResourceKind       string
	LastTransitionTime string
}

// DeploymentLogs are the recent logs of an exposed service.
type DeploymentLogs struct {
	ServiceName string
	Available   bool
	Message     string
	Entries     []LogEntry
}

// LogEntry is one log line.
type LogEntry struct {
	Timestamp string
	Message   string
}

// LogFrom is JobLogFrom for a backend that can only read whole logs: the
// part of text from offset on, and the offset after it. offset must not be
// negative (the caller says so in its own words).
func LogFrom(text string, offset int64) (string, int64) {
	end := int64(len(text))
	if offset >= end {
		return "", end
	}
	return text[offset:], end
}

// inputLine is how OSCAR's supervisor (and the local cluster) log the
// object a job was started for. The key runs to the last quote of the
// line, so keys with quotes in them are read whole.
var inputLine = regexp.MustCompile(`(?m)Downloading item from bucket '([^']+)' with key '(.+)'\s*$`)

// JobInput finds, in a job's log, the bucket and key of the object whose
// upload started it: the one reading of that line, for re-runs and for
// following runs on clusters that do not record causality.
func JobInput(log string) (bucket, key string, ok bool) {
	m := inputLine.FindStringSubmatch(log)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
