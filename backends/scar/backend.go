package scar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/s3kind"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// Config is one AWS account as a backend.
type Config struct {
	Name     string // the registration's name, for messages
	AWS      aws.Config
	Defaults Defaults
	// Endpoints overrides service endpoints (tests: awstest.Fake.Endpoints).
	Endpoints map[string]string
}

// Backend is an AWS account seen as a backends.Backend: services are the
// Lambda functions tagged createdby=scar, jobs are their invocations as
// CloudWatch Logs records them, storage is S3.
type Backend struct {
	cfg   Config
	c     *Clients
	store *minio.Client
}

var (
	_ backends.Backend    = (*Backend)(nil)
	_ backends.FileRunner = (*Backend)(nil)
)

// New builds the backend of one account.
func New(cfg Config) (*Backend, error) {
	b := &Backend{cfg: cfg, c: NewClients(cfg.AWS, cfg.Endpoints)}
	endpoint := "https://s3." + cfg.AWS.Region + ".amazonaws.com"
	if u, ok := cfg.Endpoints["s3"]; ok {
		endpoint = u
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("S3 endpoint %q is not a URL", endpoint)
	}
	b.store, err = minio.New(u.Host, &minio.Options{
		Creds:        miniocreds.New(sdkCreds{cfg.AWS.Credentials}),
		Secure:       u.Scheme == "https",
		Region:       cfg.AWS.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Region is the account's AWS region; the deploy engine checks that an
// FDL's functions.aws entries go to an AWS account by it.
func (b *Backend) Region() string { return b.cfg.AWS.Region }

// Clients returns the account's SDK clients (for plan/apply).
func (b *Backend) Clients() *Clients { return b.c }

// Name implements backends.Backend.
func (b *Backend) Name() string { return fmt.Sprintf("AWS account %q", b.cfg.Name) }

func (b *Backend) fail(op string, kind backends.Kind, msg string) error {
	return &backends.Error{Kind: kind, Op: op, Backend: b.Name(), Message: msg}
}

func (b *Backend) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	e := awsError(op, err)
	var be *backends.Error
	if errors.As(e, &be) && be.Backend == "" {
		cp := *be
		cp.Backend = b.Name()
		return &cp
	}
	return e
}

// Info implements backends.Cluster: the caller's identity (STS), so that
// a wrong key or region shows as unreachable.
func (b *Backend) Info(ctx context.Context) (*backends.ClusterInfo, error) {
	id, err := b.c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, b.wrap("check the AWS account's credentials", err)
	}
	return &backends.ClusterInfo{
		Version:           fmt.Sprintf("AWS account %s, %s (Lambda API 2015-03-31)", aws.ToString(id.Account), b.cfg.AWS.Region),
		Architecture:      b.cfg.AWS.Region,
		ServerlessBackend: "AWS Lambda",
		Capabilities:      backends.Capabilities{SyncInvocation: true, JobPaging: true, Presign: true},
	}, nil
}

// ---- services ----

// ListServices implements backends.Services: the functions tagged
// createdby=scar (FDL Studio's and SCAR's own).
func (b *Backend) ListServices(ctx context.Context) ([]backends.Service, error) {
	const op = "list AWS functions"
	var out []backends.Service
	p := lambda.NewListFunctionsPaginator(b.c.Lambda, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.wrap(op, err)
		}
		for _, fc := range page.Functions {
			tags, err := b.c.Lambda.ListTags(ctx, &lambda.ListTagsInput{Resource: fc.FunctionArn})
			if err != nil {
				return nil, b.wrap(op, err)
			}
			if tags.Tags[TagCreatedBy] != CreatedBy {
				continue
			}
			out = append(out, *serviceOf(&fc, tags.Tags[TagOwner]))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GetService implements backends.Services.
func (b *Backend) GetService(ctx context.Context, name string) (*backends.Service, error) {
	got, err := b.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if err != nil {
		return nil, b.wrap(fmt.Sprintf("get AWS function %q", name), err)
	}
	return serviceOf(got.Configuration, got.Tags[TagOwner]), nil
}

// serviceOf reads a function back as a service, from its FDL variable
// when it has one.
func serviceOf(fc *ltypes.FunctionConfiguration, owner string) *backends.Service {
	s := &backends.Service{Name: aws.ToString(fc.FunctionName), Owner: owner}
	if m := aws.ToInt32(fc.MemorySize); m > 0 {
		s.Memory = fmt.Sprintf("%dMi", m)
	}
	var vars map[string]string
	if fc.Environment != nil {
		vars = fc.Environment.Variables
	}
	e, err := DecodeFDL(vars[EnvFDL])
	if err != nil || e.Lambda == nil {
		return s
	}
	if js, err := EntryJSON(e); err == nil {
		s.Extra = map[string]json.RawMessage{ExtraKey: js}
	}
	l := e.Lambda
	if l.Container != nil {
		s.Image = l.Container.Image
	}
	s.Script = l.InitScript
	if l.Environment != nil && len(l.Environment.Variables) > 0 {
		s.Environment = &backends.Environment{Variables: map[string]string{}}
		for k, v := range l.Environment.Variables {
			s.Environment.Variables[k] = v
		}
	}
	for _, io := range l.Input {
		s.Input = append(s.Input, backends.StorageIOConfig{StorageProvider: io.StorageProvider, Path: io.Path})
	}
	for _, io := range l.Output {
		s.Output = append(s.Output, backends.StorageIOConfig{StorageProvider: io.StorageProvider, Path: io.Path})
	}
	return s
}

// entryOf is the functions.aws entry of a service: its image, script (kept
// inline in init_script), memory, variables and s3 inputs and outputs.
// Inputs and outputs on other providers mean nothing on AWS and are left
// out.
func entryOf(s *backends.Service) (*fdl.AWSEntry, error) {
	l := &fdl.Lambda{Name: s.Name, InitScript: s.Script, Container: &fdl.Container{Image: s.Image}}
	if s.Memory != "" {
		mb, err := megabytes(s.Memory)
		if err != nil {
			return nil, err
		}
		l.Memory = mb
	}
	if s.Environment != nil && len(s.Environment.Variables) > 0 {
		l.Environment = &fdl.AWSEnvironment{Variables: s.Environment.Variables}
	}
	for _, io := range s.Input {
		if t, _ := fdl.ParseProvider(io.StorageProvider); t == "s3" {
			l.Input = append(l.Input, fdl.StorageIO{StorageProvider: io.StorageProvider, Path: io.Path})
		}
	}
	for _, io := range s.Output {
		if t, _ := fdl.ParseProvider(io.StorageProvider); t == "s3" {
			l.Output = append(l.Output, fdl.StorageIO{StorageProvider: io.StorageProvider, Path: io.Path})
		}
	}
	return &fdl.AWSEntry{Path: "service " + strconv.Quote(s.Name), Lambda: l}, nil
}

// overlay sets in l what the service s gives (o is s's own entry).
func overlay(l, o *fdl.Lambda, s *backends.Service) {
	if s.Image != "" {
		if l.Container == nil {
			l.Container = &fdl.Container{}
		}
		l.Container.Image = s.Image
	}
	if s.Memory != "" {
		l.Memory = o.Memory
	}
	if s.Script != "" {
		l.InitScript = s.Script
	}
	if s.Environment != nil {
		l.Environment = o.Environment
	}
	if len(s.Input) > 0 {
		l.Input = o.Input
	}
	if len(s.Output) > 0 {
		l.Output = o.Output
	}
}

// megabytes reads a Kubernetes-style memory size ("512Mi", "1Gi", "256M")
// as Lambda's MB.
func megabytes(q string) (int, error) {
	units := []struct {
		suffix string
		mb     float64
	}{{"Gi", 1024}, {"Mi", 1}, {"Ki", 1.0 / 1024}, {"G", 1000 * 1000 * 1000 / 1048576.0}, {"M", 1000 * 1000 / 1048576.0}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(q, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v <= 0 {
				break
			}
			return int(v*u.mb + 0.5), nil
		}
	}
	return 0, fmt.Errorf("memory %q is not a size like 512Mi or 1Gi", q)
}

// Check says whether s can be deployed to this account as it is: the
// checks of Prepare (an image Lambda can pull, an execution role, Batch
// settings), made before anything is sent.
func (b *Backend) Check(s *backends.Service) error {
	op := fmt.Sprintf("check AWS function %q", s.Name)
	e, err := b.entry(op, s)
	if err != nil {
		return err
	}
	_, err = Prepare(e, b.cfg.Defaults)
	return b.wrap(op, err)
}

func (b *Backend) deployService(ctx context.Context, op string, s *backends.Service) error {
	e, err := b.entry(op, s)
	if err != nil {
		return err
	}
	f, err := Prepare(e, b.cfg.Defaults)
	if err != nil {
		return b.wrap(op, err)
	}
	_, err = Deploy(ctx, b.c, f)
	return b.wrap(op, err)
}

// entry is the functions.aws entry s deploys: the one it carries, with
// what its OSCAR-shaped fields say over it, or one made of those fields.
func (b *Backend) entry(op string, s *backends.Service) (*fdl.AWSEntry, error) {
	if s.Name == "" {
		return nil, b.fail(op, backends.KindInvalid, "the service has no name")
	}
	e, err := EntryOf(s)
	switch {
	case err != nil:
		return nil, b.fail(op, backends.KindInvalid, err.Error())
	case e != nil && (e.Lambda == nil || e.Lambda.Name != s.Name):
		return nil, b.fail(op, backends.KindInvalid, fmt.Sprintf("the functions.aws entry it carries is not function %q", s.Name))
	case e == nil && s.Image == "":
		return nil, b.fail(op, backends.KindInvalid, "the service has no image")
	default:
		// The OSCAR-shaped fields (as the services pages edit them) win
		// over the entry the service was read with.
		o, err := entryOf(s)
		if err != nil {
			return nil, b.fail(op, backends.KindInvalid, err.Error())
		}
		if e == nil {
			e = o
		} else {
			overlay(e.Lambda, o.Lambda, s)
		}
	}
	return e, nil
}

// CreateService implements backends.Services.
func (b *Backend) CreateService(ctx context.Context, s *backends.Service) error {
	op := fmt.Sprintf("create AWS function %q", s.Name)
	if s.Name != "" {
		_, err := b.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &s.Name})
		var nf *ltypes.ResourceNotFoundException
		switch {
		case err == nil:
			return b.fail(op, backends.KindConflict, "the function already exists")
		case !errors.As(err, &nf):
			return b.wrap(op, err)
		}
	}
	return b.deployService(ctx, op, s)
}

// UpdateService implements backends.Services.
func (b *Backend) UpdateService(ctx context.Context, s *backends.Service) error {
	op := fmt.Sprintf("update AWS function %q", s.Name)
	if _, err := b.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &s.Name}); err != nil {
		return b.wrap(op, err)
	}
	return b.deployService(ctx, op, s)
}

// DeleteService implements backends.Services (see Delete: buckets stay).
func (b *Backend) DeleteService(ctx context.Context, name string) error {
	_, err := Delete(ctx, b.c, name)
	return b.wrap(fmt.Sprintf("delete AWS function %q", name), err)
}

// ---- invocation ----

// Run implements backends.Invoker: a synchronous Invoke. A function error
// (X-Amz-Function-Error) is KindInvalid with the function's answer.
func (b *Backend) Run(ctx context.Context, service string, input io.Reader) (io.ReadCloser, error) {
	op := fmt.Sprintf("invoke AWS function %q", service)
	payload, err := io.ReadAll(io.LimitReader(input, 6<<20+1))
	if err != nil {
		return nil, b.fail(op, backends.KindInvalid, "read the input: "+err.Error())
	}
	if len(payload) > 6<<20 {
		return nil, b.fail(op, backends.KindInvalid, "the input is larger than Lambda's 6 MB synchronous payload limit; upload it to the input bucket instead")
	}
	out, err := b.c.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: &service, Payload: payload, InvocationType: ltypes.InvocationTypeRequestResponse})
	if err != nil {
		return nil, b.wrap(op, err)
	}
	if fe := aws.ToString(out.FunctionError); fe != "" {
		return nil, b.fail(op, backends.KindInvalid, fe+": "+string(out.Payload))
	}
	return io.NopCloser(bytes.NewReader(out.Payload)), nil
}

// RunFile implements backends.FileRunner: the file's bytes are the
// invocation's payload (at most Lambda's 6 MB) and the function's answer
// is the output. Unlike OSCAR's supervisor, nothing is base64-encoded.
func (b *Backend) RunFile(ctx context.Context, service string, input io.Reader) (io.ReadCloser, error) {
	return b.Run(ctx, service, input)
}

// SubmitJob implements backends.Invoker: an asynchronous (Event) Invoke
// (for execution_mode batch, an AWS Batch job on the function's queue);
// the job is named by the request id, which Lambda logs it under.
func (b *Backend) SubmitJob(ctx context.Context, service string, event io.Reader) (backends.JobRef, error) {
	op := fmt.Sprintf("invoke AWS function %q asynchronously", service)
	payload, err := io.ReadAll(io.LimitReader(event, 1<<20+1))
	if err != nil || len(payload) > 1<<20 {
		return backends.JobRef{}, b.fail(op, backends.KindInvalid, "the event must be readable and at most Lambda's 1 MB asynchronous payload")
	}
	got, err := b.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &service})
	if err != nil {
		return backends.JobRef{}, b.wrap(op, err)
	}
	if executionMode(got.Configuration) == "batch" {
		return b.submitBatch(ctx, op, service, payload)
	}
	out, err := b.c.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: &service, Payload: payload, InvocationType: ltypes.InvocationTypeEvent})
	if err != nil {
		return backends.JobRef{}, b.wrap(op, err)
	}
	id, _ := middleware.GetRequestIDMetadata(out.ResultMetadata)
	return backends.JobRef{Name: id, Guess: id == ""}, nil
}

// ---- jobs from CloudWatch Logs ----

type invocation struct {
	job   backends.Job
	lines []logLine
	batch bool // an AWS Batch job: its lines are read on demand
}

type logLine struct {
	at   time.Time
	text string
}

// invocations reads a function's log group and groups it per request:
// Lambda writes START RequestId: ID, the function's lines, END and
// REPORT, one request at a time per log stream.
//
// For the batch and lambda-batch execution modes, the function's AWS
// Batch jobs are jobs too, with their status from Batch.
func (b *Backend) invocations(ctx context.Context, op, service string) ([]*invocation, error) {
	got, err := b.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &service})
	if err != nil {
		return nil, b.wrap(op, err)
	}
	order, err := b.lambdaInvocations(ctx, op, service)
	if err != nil {
		return nil, err
	}
	if isBatchMode(executionMode(got.Configuration)) {
		jobs, err := b.batchJobs(ctx, service)
		if err != nil {
			return nil, b.wrap(op, err)
		}
		order = append(order, jobs...)
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].job.CreationTime.After(order[j].job.CreationTime) })
	return order, nil
}

// lambdaInvocations reads the function's log group, grouped per request.
func (b *Backend) lambdaInvocations(ctx context.Context, op, service string) ([]*invocation, error) {
	byID := map[string]*invocation{}
	current := map[string]*invocation{} // stream -> open request
	var order []*invocation
	p := cloudwatchlogs.NewFilterLogEventsPaginator(b.c.Logs, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(LogGroup(service))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var nf *logtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, nil // no log group: no invocations
		}
		if err != nil {
			return nil, b.wrap(op, err)
		}
		for _, ev := range page.Events {
			msg := strings.TrimRight(aws.ToString(ev.Message), "\n")
			at := time.UnixMilli(aws.ToInt64(ev.Timestamp))
			stream := aws.ToString(ev.LogStreamName)
			id := requestID(msg)
			switch {
			case strings.HasPrefix(msg, "START RequestId: "):
				inv := &invocation{job: backends.Job{Name: id, Status: backends.JobRunning, CreationTime: at, StartTime: at}}
				byID[id], current[stream] = inv, inv
				order = append(order, inv)
				inv.lines = append(inv.lines, logLine{at, msg})
			case strings.HasPrefix(msg, "END RequestId: "), strings.HasPrefix(msg, "REPORT RequestId: "):
				inv := byID[id]
				if inv == nil {
					continue
				}
				inv.lines = append(inv.lines, logLine{at, msg})
				if strings.HasPrefix(msg, "REPORT") {
					inv.job.FinishTime = at
					if inv.job.Status == backends.JobRunning {
						inv.job.Status = backends.JobSucceeded
					}
					if strings.Contains(msg, "Status: error") || strings.Contains(msg, "Status: timeout") {
						inv.job.Status = backends.JobFailed
					}
					delete(current, stream)
				}
			default:
				if inv := current[stream]; inv != nil {
					inv.lines = append(inv.lines, logLine{at, msg})
					if strings.Contains(msg, `"errorType"`) || strings.Contains(msg, "Task timed out") {
						inv.job.Status = backends.JobFailed
					}
				}
			}
		}
	}
	return order, nil
}

// requestID reads the id after "RequestId: ".
func requestID(msg string) string {
	_, rest, ok := strings.Cut(msg, "RequestId: ")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// jobsPageSize is how many invocations one ListJobs page holds.
const jobsPageSize = 20

// ListJobs implements backends.Jobs: the invocations in the function's
// log group, newest first; the page token is the offset.
func (b *Backend) ListJobs(ctx context.Context, service, pageToken string) (*backends.JobList, error) {
	op := fmt.Sprintf("list invocations of AWS function %q", service)
	start := 0
	if pageToken != "" {
		n, err := strconv.Atoi(pageToken)
		if err != nil || n < 0 {
			return nil, b.fail(op, backends.KindInvalid, fmt.Sprintf("page token %q is not an offset", pageToken))
		}
		start = n
	}
	all, err := b.invocations(ctx, op, service)
	if err != nil {
		return nil, err
	}
	out := &backends.JobList{}
	for i := start; i < len(all) && i < start+jobsPageSize; i++ {
		out.Jobs = append(out.Jobs, all[i].job)
	}
	if end := start + jobsPageSize; end < len(all) {
		out.NextPage, out.Remaining = strconv.Itoa(end), len(all)-end
	}
	return out, nil
}

// JobLog implements backends.Jobs: one request's lines, START to REPORT.
func (b *Backend) JobLog(ctx context.Context, service, job string, timestamps bool) (string, error) {
	op := fmt.Sprintf("read the log of invocation %q of AWS function %q", job, service)
	all, err := b.invocations(ctx, op, service)
	if err != nil {
		return "", err
	}
	for _, inv := range all {
		if inv.job.Name != job {
			continue
		}
		if inv.batch {
			return b.batchLog(ctx, op, job, timestamps)
		}
		var sb strings.Builder
		for _, l := range inv.lines {
			if timestamps {
				sb.WriteString(l.at.UTC().Format(time.RFC3339Nano) + " ")
			}
			sb.WriteString(l.text + "\n")
		}
		return sb.String(), nil
	}
	return "", b.fail(op, backends.KindNotFound, "no such invocation in the function's log group")
}

// JobLogFrom implements backends.Jobs by slicing the whole log.
func (b *Backend) JobLogFrom(ctx context.Context, service, job string, offset int64) (string, int64, error) {
	if offset < 0 {
		return "", 0, b.fail(fmt.Sprintf("read the log of invocation %q", job), backends.KindInvalid, "negative offset")
	}
	text, err := b.JobLog(ctx, service, job, false)
	if err != nil {
		return "", 0, err
	}
	text, next := backends.LogFrom(text, offset)
	return text, next, nil
}

// DeleteJob implements backends.Jobs: unsupported, since CloudWatch Logs
// cannot delete one invocation's lines (its stream may hold others').
func (b *Backend) DeleteJob(ctx context.Context, service, job string) error {
	return &backends.Error{Kind: backends.KindUnsupported, Op: "delete invocation " + job, Backend: b.Name(),
		Message: "CloudWatch Logs cannot delete one invocation's log; logs expire with the log group's retention"}
}

// DeleteJobs implements backends.Jobs: unsupported, as DeleteJob.
func (b *Backend) DeleteJobs(ctx context.Context, service string, all bool) error {
	return &backends.Error{Kind: backends.KindUnsupported, Op: "delete the invocations of " + service, Backend: b.Name(),
		Message: "CloudWatch Logs cannot delete invocations; logs expire with the log group's retention"}
}

// ---- deployments ----

// DeploymentStatus implements backends.Deployments: Lambda has no
// exposed deployments.
func (b *Backend) DeploymentStatus(ctx context.Context, service string) (*backends.DeploymentStatus, error) {
	return nil, backends.Unsupported(b.Name(), "deployment status of "+service, "exposed deployments")
}

// DeploymentLogs implements backends.Deployments (unsupported).
func (b *Backend) DeploymentLogs(ctx context.Context, service string, tailLines int, timestamps bool) (*backends.DeploymentLogs, error) {
	return nil, backends.Unsupported(b.Name(), "deployment logs of "+service, "exposed deployments")
}

// ---- storage (S3, through minio-go as the OSCAR backend) ----

// sdkCreds hands the SDK's credentials (static, or the default chain's)
// to minio-go.
type sdkCreds struct{ p aws.CredentialsProvider }

func (s sdkCreds) Retrieve() (miniocreds.Value, error) {
	return s.RetrieveWithCredContext(nil)
}

func (s sdkCreds) RetrieveWithCredContext(_ *miniocreds.CredContext) (miniocreds.Value, error) {
	if s.p == nil {
		return miniocreds.Value{}, errors.New("no AWS credentials")
	}
	v, err := s.p.Retrieve(context.Background())
	if err != nil {
		return miniocreds.Value{}, err
	}
	return miniocreds.Value{AccessKeyID: v.AccessKeyID, SecretAccessKey: v.SecretAccessKey, SessionToken: v.SessionToken, Expiration: v.Expires, SignerType: miniocreds.SignatureV4}, nil
}

func (s sdkCreds) IsExpired() bool { return true } // the SDK caches and refreshes

func (b *Backend) s3err(op string, err error) error {
	if err == nil {
		return nil
	}
	kind, msg := s3kind.Of(err)
	return &backends.Error{Kind: kind, Op: op, Backend: b.Name(), Message: msg, Err: err}
}

// ListBuckets implements backends.Storage.
func (b *Backend) ListBuckets(ctx context.Context) ([]backends.Bucket, error) {
	list, err := b.store.ListBuckets(ctx)
	if err != nil {
		return nil, b.s3err("list S3 buckets", err)
	}
	out := make([]backends.Bucket, 0, len(list))
	for _, x := range list {
		out = append(out, backends.Bucket{Name: x.Name})
	}
	return out, nil
}

// CreateBucket implements backends.Storage.
func (b *Backend) CreateBucket(ctx context.Context, bk backends.Bucket) error {
	err := b.store.MakeBucket(ctx, bk.Name, minio.MakeBucketOptions{Region: b.cfg.AWS.Region})
	return b.s3err(fmt.Sprintf("create S3 bucket %q", bk.Name), err)
}

// DeleteBucket implements backends.Storage: the objects, then the bucket.
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	op := fmt.Sprintf("delete S3 bucket %q", bucket)
	objs := make(chan minio.ObjectInfo)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var listErr error
	go func() {
		defer close(objs)
		for o := range b.store.ListObjects(lctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				listErr = o.Err
				return
			}
			objs <- o
		}
	}()
	for r := range b.store.RemoveObjects(ctx, bucket, objs, minio.RemoveObjectsOptions{}) {
		if r.Err != nil {
			return b.s3err(op, r.Err)
		}
	}
	if listErr != nil {
		return b.s3err(op, listErr)
	}
	return b.s3err(op, b.store.RemoveBucket(ctx, bucket))
}

// ListObjects implements backends.Storage; the token is the last key.
func (b *Backend) ListObjects(ctx context.Context, bucket string, opts backends.ListObjectsOptions) (*backends.ObjectList, error) {
	op := fmt.Sprintf("list objects in S3 bucket %q", bucket)
	limit := opts.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &backends.ObjectList{}
	for o := range b.store.ListObjects(lctx, bucket, minio.ListObjectsOptions{Prefix: opts.Prefix, StartAfter: opts.PageToken, Recursive: true, MaxKeys: limit + 1}) {
		if o.Err != nil {
			return nil, b.s3err(op, o.Err)
		}
		if len(out.Objects) == limit {
			out.NextPage = out.Objects[limit-1].Key
			break
		}
		out.Objects = append(out.Objects, backends.Object{Key: o.Key, Size: o.Size, LastModified: o.LastModified, ContentType: o.ContentType, ETag: o.ETag})
	}
	return out, nil
}

// PutObject implements backends.Storage (multipart above 16 MiB).
func (b *Backend) PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, contentType string) error {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	_, err := b.store.PutObject(ctx, bucket, key, r, size, minio.PutObjectOptions{ContentType: contentType, PartSize: 16 << 20})
	return b.s3err(fmt.Sprintf("upload %q to S3 bucket %q", key, bucket), err)
}

// GetObject implements backends.Storage.
func (b *Backend) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, *backends.Object, error) {
	op := fmt.Sprintf("download %q from S3 bucket %q", key, bucket)
	obj, err := b.store.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, nil, b.s3err(op, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, nil, b.s3err(op, err)
	}
	return obj, &backends.Object{Key: st.Key, Size: st.Size, LastModified: st.LastModified, ContentType: st.ContentType, ETag: st.ETag}, nil
}

// DeleteObject implements backends.Storage.
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	op := fmt.Sprintf("delete %q from S3 bucket %q", key, bucket)
	ok, err := b.store.BucketExists(ctx, bucket)
	if err != nil {
		return b.s3err(op, err)
	}
	if !ok {
		return b.fail(op, backends.KindNotFound, fmt.Sprintf("bucket %q does not exist", bucket))
	}
	return b.s3err(op, b.store.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}))
}

// PresignObject implements backends.Storage, signed here with the
// account's keys (only the URL leaves the server).
func (b *Backend) PresignObject(ctx context.Context, pr backends.PresignRequest) (*backends.PresignedURL, error) {
	op := fmt.Sprintf("presign %s of %q in S3 bucket %q", pr.Method, pr.Key, pr.Bucket)
	expires := pr.Expires
	if expires == 0 {
		expires = 15 * time.Minute
	}
	if expires < time.Second || expires > 7*24*time.Hour {
		return nil, b.fail(op, backends.KindInvalid, fmt.Sprintf("expiry %s must be between 1s and 7 days", expires))
	}
	var u *url.URL
	var err error
	switch strings.ToUpper(pr.Method) {
	case http.MethodGet:
		u, err = b.store.PresignedGetObject(ctx, pr.Bucket, pr.Key, expires, nil)
	case http.MethodPut:
		u, err = b.store.PresignedPutObject(ctx, pr.Bucket, pr.Key, expires)
	default:
		return nil, b.fail(op, backends.KindInvalid, fmt.Sprintf("method %q must be GET or PUT", pr.Method))
	}
	if err != nil {
		return nil, b.s3err(op, err)
	}
	return &backends.PresignedURL{URL: u.String(), Method: strings.ToUpper(pr.Method), ExpiresAt: time.Now().Add(expires)}, nil
}
