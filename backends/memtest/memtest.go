// Package memtest is an in-memory backend kind for tests: services, jobs
// and objects kept in maps, no network. Handler tests register it through
// a backends.Registry beside OSCAR to show that the pages work with any
// backend kind, not only the OSCAR client. It offers none of the optional
// interfaces (FileRunner, Rerunner, ClusterDetails), so pages must say
// what it does not support.
package memtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
)

// Kind is the cluster kind this package serves.
const Kind = "memtest"

// Cluster is one in-memory cluster. Its methods are safe for concurrent
// use. Every backend the registry builds for the same Cluster shares it.
type Cluster struct {
	mu       sync.Mutex
	name     string
	services map[string]*backends.Service
	jobs     map[string][]*job // by service, oldest first
	buckets  map[string]map[string]*object
	seq      int
}

type job struct {
	backends.Job
	log string
}

type object struct {
	backends.Object
	data []byte
}

// New returns an empty cluster called name.
func New(name string) *Cluster {
	return &Cluster{name: name, services: map[string]*backends.Service{},
		jobs: map[string][]*job{}, buckets: map[string]map[string]*object{}}
}

// Register makes c the backend of every cluster record of kind Kind
// whose name is c's.
func Register(r *backends.Registry, clusters ...*Cluster) {
	byName := map[string]*Cluster{}
	for _, c := range clusters {
		byName[c.name] = c
	}
	r.Register(Kind, func(_ context.Context, rec store.Cluster, _ backends.Acting) (backends.Backend, error) {
		c, ok := byName[rec.Name]
		if !ok {
			return nil, &backends.Error{Kind: backends.KindNotFound, Backend: fmt.Sprintf("memtest cluster %q", rec.Name), Message: "no such in-memory cluster"}
		}
		return c, nil
	})
}

var _ backends.Backend = (*Cluster)(nil)

// Name implements backends.Backend.
func (c *Cluster) Name() string { return fmt.Sprintf("memtest cluster %q", c.name) }

func (c *Cluster) err(op string, kind backends.Kind, msg string) error {
	return &backends.Error{Kind: kind, Op: op, Backend: c.Name(), Message: msg}
}

func (c *Cluster) unsupported(op string) error {
	return c.err(op, backends.KindUnsupported, "the in-memory test backend does not do this")
}

// Info implements backends.Cluster.
func (c *Cluster) Info(context.Context) (*backends.ClusterInfo, error) {
	return &backends.ClusterInfo{Version: "memtest", Capabilities: backends.Capabilities{JobPaging: false}}, nil
}

// ListServices implements backends.Services.
func (c *Cluster) ListServices(context.Context) ([]backends.Service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]backends.Service, 0, len(c.services))
	for _, s := range c.services {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b backends.Service) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// GetService implements backends.Services.
func (c *Cluster) GetService(_ context.Context, name string) (*backends.Service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.services[name]
	if !ok {
		return nil, c.err(fmt.Sprintf("get service %q", name), backends.KindNotFound, "")
	}
	cp := *s
	return &cp, nil
}

// CreateService implements backends.Services.
func (c *Cluster) CreateService(_ context.Context, svc *backends.Service) error {
	op := fmt.Sprintf("create service %q", svc.Name)
	if svc.Name == "" || svc.Image == "" {
		return c.err(op, backends.KindInvalid, "a service needs a name and an image")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.services[svc.Name]; ok {
		return c.err(op, backends.KindConflict, "the service already exists")
	}
	cp := *svc
	c.services[svc.Name] = &cp
	c.jobs[svc.Name] = nil
	return nil
}

// UpdateService implements backends.Services.
func (c *Cluster) UpdateService(_ context.Context, svc *backends.Service) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.services[svc.Name]; !ok {
		return c.err(fmt.Sprintf("update service %q", svc.Name), backends.KindNotFound, "")
	}
	cp := *svc
	c.services[svc.Name] = &cp
	return nil
}

// DeleteService implements backends.Services.
func (c *Cluster) DeleteService(_ context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.services[name]; !ok {
		return c.err(fmt.Sprintf("delete service %q", name), backends.KindNotFound, "")
	}
	delete(c.services, name)
	delete(c.jobs, name)
	return nil
}

// Run implements backends.Invoker: there is no synchronous runtime.
func (c *Cluster) Run(_ context.Context, service string, _ io.Reader) (io.ReadCloser, error) {
	return nil, c.unsupported(fmt.Sprintf("run service %q", service))
}

// SubmitJob implements backends.Invoker: the job succeeds at once and
// its log is its event. The reference is exact.
func (c *Cluster) SubmitJob(_ context.Context, service string, event io.Reader) (backends.JobRef, error) {
	body, err := io.ReadAll(event)
	if err != nil {
		return backends.JobRef{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.services[service]; !ok {
		return backends.JobRef{}, c.err(fmt.Sprintf("submit job to service %q", service), backends.KindNotFound, "")
	}
	c.seq++
	now := time.Now().UTC()
	j := &job{Job: backends.Job{Name: fmt.Sprintf("%s-job-%d", service, c.seq), Status: backends.JobSucceeded,
		CreationTime: now, StartTime: now, FinishTime: now}, log: "event: " + string(body) + "\ndone\n"}
	c.jobs[service] = append(c.jobs[service], j)
	return backends.JobRef{Name: j.Name}, nil
}

// AddJob records a finished job with a given log and creation time, for
// tests that need jobs of known age.
func (c *Cluster) AddJob(service, name string, status backends.JobStatus, created time.Time, log string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jobs[service] = append(c.jobs[service], &job{Job: backends.Job{Name: name, Status: status, CreationTime: created}, log: log})
}

// UpdateJob changes a job as it runs: its status (when not "") and text
// appended to its log, for tests that watch jobs live.
func (c *Cluster) UpdateJob(service, name string, status backends.JobStatus, appendLog string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, j := range c.jobs[service] {
		if j.Name == name {
			if status != "" {
				j.Status = status
			}
			j.log += appendLog
		}
	}
}

func (c *Cluster) findJob(op, service, name string) (*job, error) {
	if _, ok := c.services[service]; !ok {
		return nil, c.err(op, backends.KindNotFound, fmt.Sprintf("no service %q", service))
	}
	for _, j := range c.jobs[service] {
		if j.Name == name {
			return j, nil
		}
	}
	return nil, c.err(op, backends.KindNotFound, fmt.Sprintf("no job %q", name))
}

// ListJobs implements backends.Jobs: one page, newest first.
func (c *Cluster) ListJobs(_ context.Context, service, pageToken string) (*backends.JobList, error) {
	op := fmt.Sprintf("list jobs of service %q", service)
	if pageToken != "" {
		return nil, c.err(op, backends.KindInvalid, "there is only one page")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.services[service]; !ok {
		return nil, c.err(op, backends.KindNotFound, "")
	}
	out := &backends.JobList{}
	for _, j := range slices.Backward(c.jobs[service]) {
		out.Jobs = append(out.Jobs, j.Job)
	}
	return out, nil
}

// JobLog implements backends.Jobs.
func (c *Cluster) JobLog(_ context.Context, service, name string, _ bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	j, err := c.findJob(fmt.Sprintf("read log of job %q", name), service, name)
	if err != nil {
		return "", err
	}
	return j.log, nil
}

// JobLogFrom implements backends.Jobs.
func (c *Cluster) JobLogFrom(ctx context.Context, service, name string, offset int64) (string, int64, error) {
	if offset < 0 {
		return "", 0, c.err(fmt.Sprintf("read log of job %q", name), backends.KindInvalid, "negative offset")
	}
	text, err := c.JobLog(ctx, service, name, false)
	if err != nil {
		return "", 0, err
	}
	rest, next := backends.LogFrom(text, offset)
	return rest, next, nil
}

// DeleteJob implements backends.Jobs.
func (c *Cluster) DeleteJob(_ context.Context, service, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	j, err := c.findJob(fmt.Sprintf("delete job %q", name), service, name)
	if err != nil {
		return err
	}
	c.jobs[service] = slices.DeleteFunc(c.jobs[service], func(x *job) bool { return x == j })
	return nil
}

// DeleteJobs implements backends.Jobs (every job here is finished).
func (c *Cluster) DeleteJobs(_ context.Context, service string, _ bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.services[service]; !ok {
		return c.err(fmt.Sprintf("delete jobs of service %q", service), backends.KindNotFound, "")
	}
	c.jobs[service] = nil
	return nil
}

// ListBuckets implements backends.Storage.
func (c *Cluster) ListBuckets(context.Context) ([]backends.Bucket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []backends.Bucket
	for name := range c.buckets {
		out = append(out, backends.Bucket{Name: name})
	}
	slices.SortFunc(out, func(a, b backends.Bucket) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CreateBucket implements backends.Storage.
func (c *Cluster) CreateBucket(_ context.Context, b backends.Bucket) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.buckets[b.Name]; ok {
		return c.err(fmt.Sprintf("create bucket %q", b.Name), backends.KindConflict, "the bucket exists")
	}
	c.buckets[b.Name] = map[string]*object{}
	return nil
}

// DeleteBucket implements backends.Storage.
func (c *Cluster) DeleteBucket(_ context.Context, bucket string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.buckets[bucket]; !ok {
		return c.err(fmt.Sprintf("delete bucket %q", bucket), backends.KindNotFound, "")
	}
	delete(c.buckets, bucket)
	return nil
}

func (c *Cluster) bucket(op, name string) (map[string]*object, error) {
	b, ok := c.buckets[name]
	if !ok {
		return nil, c.err(op, backends.KindNotFound, fmt.Sprintf("no bucket %q", name))
	}
	return b, nil
}

// ListObjects implements backends.Storage: keys in order; the page token
// is the last key of the previous page.
func (c *Cluster) ListObjects(_ context.Context, bucket string, opts backends.ListObjectsOptions) (*backends.ObjectList, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.bucket(fmt.Sprintf("list bucket %q", bucket), bucket)
	if err != nil {
		return nil, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = 1000
	}
	var keys []string
	for k := range b {
		if strings.HasPrefix(k, opts.Prefix) && k > opts.PageToken {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := &backends.ObjectList{}
	for i, k := range keys {
		if i == limit {
			out.NextPage = keys[i-1]
			break
		}
		out.Objects = append(out.Objects, b[k].Object)
	}
	return out, nil
}

// PutObject implements backends.Storage.
func (c *Cluster) PutObject(_ context.Context, bucket, key string, r io.Reader, _ int64, contentType string) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.bucket(fmt.Sprintf("put %s/%s", bucket, key), bucket)
	if err != nil {
		return err
	}
	b[key] = &object{Object: backends.Object{Key: key, Size: int64(len(data)), LastModified: time.Now().UTC(), ContentType: contentType}, data: data}
	return nil
}

// GetObject implements backends.Storage.
func (c *Cluster) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, *backends.Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	op := fmt.Sprintf("get %s/%s", bucket, key)
	b, err := c.bucket(op, bucket)
	if err != nil {
		return nil, nil, err
	}
	o, ok := b[key]
	if !ok {
		return nil, nil, c.err(op, backends.KindNotFound, "")
	}
	meta := o.Object
	return io.NopCloser(bytes.NewReader(o.data)), &meta, nil
}

// DeleteObject implements backends.Storage.
func (c *Cluster) DeleteObject(_ context.Context, bucket, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.bucket(fmt.Sprintf("delete %s/%s", bucket, key), bucket)
	if err != nil {
		return err
	}
	delete(b, key)
	return nil
}

// PresignObject implements backends.Storage: there is no URL to give.
func (c *Cluster) PresignObject(_ context.Context, req backends.PresignRequest) (*backends.PresignedURL, error) {
	return nil, c.unsupported(fmt.Sprintf("presign %s/%s", req.Bucket, req.Key))
}

// DeploymentStatus implements backends.Deployments.
func (c *Cluster) DeploymentStatus(_ context.Context, service string) (*backends.DeploymentStatus, error) {
	return nil, c.unsupported(fmt.Sprintf("read deployment of %q", service))
}

// DeploymentLogs implements backends.Deployments.
func (c *Cluster) DeploymentLogs(_ context.Context, service string, _ int, _ bool) (*backends.DeploymentLogs, error) {
	return nil, c.unsupported(fmt.Sprintf("read deployment logs of %q", service))
}
