// Package backendstest holds the contract every backends.Backend must pass.
package backendstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

// RunContract runs the backend contract. newBackend must return a backend
// on a cluster where the test may create and delete services and buckets;
// every name the suite uses is unique to the run.
func RunContract(t *testing.T, newBackend func(t *testing.T) backends.Backend) {
	t.Run("Info", func(t *testing.T) { testInfo(t, newBackend(t)) })
	t.Run("ServicesCRUD", func(t *testing.T) { testServices(t, newBackend(t)) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, newBackend(t)) })
	t.Run("Run", func(t *testing.T) { testRun(t, newBackend(t)) })
	t.Run("Storage", func(t *testing.T) { testStorage(t, newBackend(t)) })
	t.Run("Deployments", func(t *testing.T) { testDeployments(t, newBackend(t)) })
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// uniqueName returns a DNS-safe name no other run uses.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// wantKind fails unless err is a *backends.Error of kind want.
func wantKind(t *testing.T, what string, err error, want *backends.Error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, want.Kind)
		return
	}
	var be *backends.Error
	if !errors.As(err, &be) {
		t.Errorf("%s: error %T %q is not a *backends.Error", what, err, err)
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: error kind %q (%v), want %q", what, be.Kind, err, want.Kind)
	}
}

func testService(name string) *backends.Service {
	return &backends.Service{
		Name: name, Image: "ghcr.io/grycap/cowsay", Script: "#!/bin/sh\necho \"hello $(cat $INPUT_FILE_PATH 2>/dev/null)\"\n",
		Memory: "256Mi", CPU: "0.2", LogLevel: "CRITICAL",
		Environment: &backends.Environment{Variables: map[string]string{"GREETING": "hi"}},
		Input:       []backends.StorageIOConfig{{StorageProvider: "minio.default", Path: name + "/in"}},
		Output:      []backends.StorageIOConfig{{StorageProvider: "minio.default", Path: name + "/out"}},
	}
}

func testInfo(t *testing.T, b backends.Backend) {
	ctx := ctxFor(t)
	info, err := b.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Version == "" {
		t.Error("Info: empty version")
	}
	if b.Name() == "" {
		t.Error("Name() is empty")
	}
}

func testServices(t *testing.T, b backends.Backend) {
	ctx := ctxFor(t)
	name := uniqueName("ct-svc")
	svc := testService(name)
	if err := b.CreateService(ctx, svc); err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	t.Cleanup(func() { _ = b.DeleteService(context.Background(), name) })

	got, err := b.GetService(ctx, name)
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	if got.Name != name || got.Image != svc.Image || got.Script != svc.Script {
		t.Errorf("GetService = {%q %q %q}, want {%q %q %q}", got.Name, got.Image, got.Script, name, svc.Image, svc.Script)
	}
	if got.Environment == nil || got.Environment.Variables["GREETING"] != "hi" {
		t.Errorf("GetService environment = %+v, want GREETING=hi", got.Environment)
	}
	list, err := b.ListServices(ctx)
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	if !slices.ContainsFunc(list, func(s backends.Service) bool { return s.Name == name }) {
		t.Errorf("ListServices does not contain %q", name)
	}

	wantKind(t, "CreateService twice", b.CreateService(ctx, testService(name)), backends.ErrConflict)
	wantKind(t, "CreateService without image", b.CreateService(ctx, &backends.Service{Name: uniqueName("ct-bad"), Script: "x"}), backends.ErrInvalid)

	got.Memory = "512Mi"
	got.Environment.Variables["GREETING"] = "bye"
	if err := b.UpdateService(ctx, got); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	again, err := b.GetService(ctx, name)
	if err != nil {
		t.Fatalf("GetService after update: %v", err)
	}
	if again.Memory != "512Mi" || again.Environment.Variables["GREETING"] != "bye" {
		t.Errorf("after update memory=%q GREETING=%q, want 512Mi and bye", again.Memory, again.Environment.Variables["GREETING"])
	}

	missing := uniqueName("ct-missing")
	_, err = b.GetService(ctx, missing)
	wantKind(t, "GetService(missing)", err, backends.ErrNotFound)
	wantKind(t, "UpdateService(missing)", b.UpdateService(ctx, testService(missing)), backends.ErrNotFound)

	if err := b.DeleteService(ctx, name); err != nil {
		t.Fatalf("DeleteService: %v", err)
	}
	_, err = b.GetService(ctx, name)
	wantKind(t, "GetService after delete", err, backends.ErrNotFound)
	wantKind(t, "DeleteService twice", b.DeleteService(ctx, name), backends.ErrNotFound)
}

func testJobs(t *testing.T, b backends.Backend) {
	ctx := ctxFor(t)
	name := uniqueName("ct-jobs")
	if err := b.CreateService(ctx, testService(name)); err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	t.Cleanup(func() { _ = b.DeleteService(context.Background(), name) })

	const n = 3
	var refs []backends.JobRef
	for i := range n {
		ref, err := b.SubmitJob(ctx, name, strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil {
			t.Fatalf("SubmitJob #%d: %v", i, err)
		}
		refs = append(refs, ref)
	}
	_, err := b.SubmitJob(ctx, uniqueName("ct-missing"), strings.NewReader("{}"))
	wantKind(t, "SubmitJob(missing service)", err, backends.ErrNotFound)

	jobs := listAllJobs(ctx, t, b, name, n)
	if len(jobs) != n {
		t.Fatalf("listed %d jobs, want %d: %v", len(jobs), n, jobs)
	}
	listed := map[string]bool{}
	for _, j := range jobs {
		if j.Name == "" || j.Status == "" {
			t.Errorf("job %+v has an empty name or status", j)
		}
		listed[j.Name] = true
	}
	checkJobRefs(t, refs, listed)
	if _, err := b.JobLog(ctx, name, jobs[0].Name, false); err != nil {
		t.Errorf("JobLog(%s): %v", jobs[0].Name, err)
	}
	_, err = b.JobLog(ctx, name, "no-such-job", false)
	wantKind(t, "JobLog(missing job)", err, backends.ErrNotFound)
	testJobLogFrom(ctx, t, b, name, jobs[0].Name)
	_, err = b.ListJobs(ctx, uniqueName("ct-missing"), "")
	wantKind(t, "ListJobs(missing service)", err, backends.ErrNotFound)

	// A backend whose job records cannot be deleted (AWS: CloudWatch Logs)
	// says so with KindUnsupported, for one job and for all.
	if err := b.DeleteJob(ctx, name, jobs[0].Name); errors.Is(err, backends.ErrUnsupported) {
		wantKind(t, "DeleteJobs on a backend without DeleteJob", b.DeleteJobs(ctx, name, true), backends.ErrUnsupported)
		return
	} else if err != nil {
		t.Fatalf("DeleteJob: %v", err)
	}
	wantKind(t, "DeleteJob twice", b.DeleteJob(ctx, name, jobs[0].Name), backends.ErrNotFound)
	if left := listAllJobs(ctx, t, b, name, 0); len(left) != n-1 {
		t.Errorf("after DeleteJob %d jobs left, want %d", len(left), n-1)
	}
	if err := b.DeleteJobs(ctx, name, true); err != nil {
		t.Fatalf("DeleteJobs(all): %v", err)
	}
	if left := listAllJobs(ctx, t, b, name, 0); len(left) != 0 {
		t.Errorf("after DeleteJobs(all) %d jobs left, want 0", len(left))
	}
	wantKind(t, "DeleteJobs(missing service)", b.DeleteJobs(ctx, uniqueName("ct-missing"), true), backends.ErrNotFound)
}

// checkJobRefs checks what SubmitJob said it started: an exact reference
// names a listed job, a different one per submission; a guess names a
// listed job or nothing.
func checkJobRefs(t *testing.T, refs []backends.JobRef, listed map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for i, ref := range refs {
		switch {
		case ref.Guess && ref.Name == "":
		case !ref.Guess && ref.Name == "":
			t.Errorf("SubmitJob #%d: an exact reference without a job name", i)
		case !listed[ref.Name]:
			t.Errorf("SubmitJob #%d: reference %+v names a job the service does not list", i, ref)
		case !ref.Guess && seen[ref.Name]:
			t.Errorf("SubmitJob #%d: exact reference %q was already returned for another submission", i, ref.Name)
		}
		seen[ref.Name] = true
	}
}

// testJobLogFrom reads a job's log from offsets: from 0 it is the whole
// log, from the middle its tail, from the end nothing; a negative offset
// is refused.
func testJobLogFrom(ctx context.Context, t *testing.T, b backends.Backend, service, job string) {
	t.Helper()
	whole, err := b.JobLog(ctx, service, job, false)
	if err != nil {
		t.Fatalf("JobLog: %v", err)
	}
	text, next, err := b.JobLogFrom(ctx, service, job, 0)
	if err != nil {
		t.Fatalf("JobLogFrom(0): %v", err)
	}
	// A running job's log may have grown between the two reads.
	if !strings.HasPrefix(text, whole) || next != int64(len(text)) {
		t.Errorf("JobLogFrom(0) = %q, next %d; want the whole log %q and its length", text, next, whole)
	}
	mid := next / 2
	tail, next2, err := b.JobLogFrom(ctx, service, job, mid)
	if err != nil {
		t.Fatalf("JobLogFrom(%d): %v", mid, err)
	}
	if !strings.HasPrefix(tail, text[mid:]) || next2 != mid+int64(len(tail)) {
		t.Errorf("JobLogFrom(%d) = %q, next %d; want %q and %d", mid, tail, next2, text[mid:], next)
	}
	rest, end, err := b.JobLogFrom(ctx, service, job, next2+1<<20)
	if err != nil || rest != "" || end < next2 {
		t.Errorf("JobLogFrom(past the end) = %q, %d, %v; want nothing and the end", rest, end, err)
	}
	_, _, err = b.JobLogFrom(ctx, service, job, -1)
	wantKind(t, "JobLogFrom(-1)", err, backends.ErrInvalid)
	_, _, err = b.JobLogFrom(ctx, service, "no-such-job", 0)
	wantKind(t, "JobLogFrom(missing job)", err, backends.ErrNotFound)
}

// listAllJobs follows NextPage to the end, waiting (up to 60 s) until at
// least want jobs are visible.
func listAllJobs(ctx context.Context, t *testing.T, b backends.Backend, service string, want int) []backends.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var all []backends.Job
		seen := map[string]bool{}
		token := ""
		for page := 0; ; page++ {
			if page > 100 {
				t.Fatal("ListJobs: more than 100 pages; NextPage never ends")
			}
			l, err := b.ListJobs(ctx, service, token)
			if err != nil {
				t.Fatalf("ListJobs(page %q): %v", token, err)
			}
			for _, j := range l.Jobs {
				if seen[j.Name] {
					t.Fatalf("ListJobs: job %q on two pages", j.Name)
				}
				seen[j.Name] = true
				all = append(all, j)
			}
			if l.NextPage == "" {
				break
			}
			token = l.NextPage
		}
		if len(all) >= want || time.Now().After(deadline) {
			return all
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func testRun(t *testing.T, b backends.Backend) {
	ctx := ctxFor(t)
	info, err := b.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	name := uniqueName("ct-run")
	if err := b.CreateService(ctx, testService(name)); err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	t.Cleanup(func() { _ = b.DeleteService(context.Background(), name) })
	body, err := b.Run(ctx, name, strings.NewReader("ping"))
	if !info.Capabilities.SyncInvocation {
		wantKind(t, "Run without a sync runtime", err, backends.ErrUnsupported)
		return
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		t.Fatalf("Run: read body: %v", err)
	}
	if len(out) == 0 {
		t.Error("Run returned an empty body")
	}
	_, err = b.Run(ctx, uniqueName("ct-missing"), strings.NewReader("x"))
	wantKind(t, "Run(missing service)", err, backends.ErrNotFound)
}

// patterned is a deterministic reader of n bytes that is not held in memory.
func patterned(seed uint64, n int64) io.Reader {
	r := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return io.LimitReader(readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return len(p), nil
	}), n)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func digest(t *testing.T, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func testStorage(t *testing.T, b backends.Backend) {
	ctx := ctxFor(t)
	bucket := uniqueName("ct-bucket")
	if err := b.CreateBucket(ctx, backends.Bucket{Name: bucket}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	t.Cleanup(func() { _ = b.DeleteBucket(context.Background(), bucket) })
	wantKind(t, "CreateBucket twice", b.CreateBucket(ctx, backends.Bucket{Name: bucket}), backends.ErrConflict)

	buckets, err := b.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	if !slices.ContainsFunc(buckets, func(x backends.Bucket) bool { return x.Name == bucket }) {
		t.Errorf("ListBuckets does not contain %q", bucket)
	}

	// A 20 MiB upload of known size crosses the 16 MiB part size (multipart);
	// a small one of unknown size (-1) streams too.
	const big = 20<<20 + 123
	if err := b.PutObject(ctx, bucket, "in/big.bin", patterned(1, big), big, "application/octet-stream"); err != nil {
		t.Fatalf("PutObject(big): %v", err)
	}
	if err := b.PutObject(ctx, bucket, "in/small.txt", strings.NewReader("hello"), -1, "text/plain"); err != nil {
		t.Fatalf("PutObject(unknown size): %v", err)
	}
	if err := b.PutObject(ctx, bucket, "other.txt", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatalf("PutObject(other): %v", err)
	}
	wantSum, _ := digest(t, patterned(1, big))
	rc, obj, err := b.GetObject(ctx, bucket, "in/big.bin")
	if err != nil {
		t.Fatalf("GetObject(big): %v", err)
	}
	gotSum, gotN := digest(t, rc)
	rc.Close()
	if gotSum != wantSum || gotN != big || obj.Size != big {
		t.Errorf("GetObject(big): %d bytes (stat %d) sha %s…, want %d bytes sha %s…", gotN, obj.Size, gotSum[:12], int64(big), wantSum[:12])
	}

	// Paging with a prefix, one object per page.
	var keys []string
	token := ""
	for range 10 {
		page, err := b.ListObjects(ctx, bucket, backends.ListObjectsOptions{Prefix: "in/", PageToken: token, Limit: 1})
		if err != nil {
			t.Fatalf("ListObjects: %v", err)
		}
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if token = page.NextPage; token == "" {
			break
		}
	}
	if want := []string{"in/big.bin", "in/small.txt"}; !slices.Equal(keys, want) {
		t.Errorf("ListObjects(prefix in/, 1 per page) keys = %v, want %v", keys, want)
	}

	_, _, err = b.GetObject(ctx, bucket, "no/such/key")
	wantKind(t, "GetObject(missing key)", err, backends.ErrNotFound)
	missingBucket := uniqueName("ct-nobucket")
	_, _, err = b.GetObject(ctx, missingBucket, "k")
	wantKind(t, "GetObject(missing bucket)", err, backends.ErrNotFound)
	wantKind(t, "PutObject(missing bucket)", b.PutObject(ctx, missingBucket, "k", strings.NewReader("x"), 1, ""), backends.ErrNotFound)
	_, err = b.ListObjects(ctx, missingBucket, backends.ListObjectsOptions{})
	wantKind(t, "ListObjects(missing bucket)", err, backends.ErrNotFound)

	testPresign(ctx, t, b, bucket)

	if err := b.DeleteObject(ctx, bucket, "in/small.txt"); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	_, _, err = b.GetObject(ctx, bucket, "in/small.txt")
	wantKind(t, "GetObject after DeleteObject", err, backends.ErrNotFound)
	wantKind(t, "DeleteObject(missing bucket)", b.DeleteObject(ctx, missingBucket, "k"), backends.ErrNotFound)

	if err := b.DeleteBucket(ctx, bucket); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	buckets, err = b.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	if slices.ContainsFunc(buckets, func(x backends.Bucket) bool { return x.Name == bucket }) {
		t.Errorf("ListBuckets still contains %q after DeleteBucket", bucket)
	}
	wantKind(t, "DeleteBucket twice", b.DeleteBucket(ctx, bucket), backends.ErrNotFound)
}

func testPresign(ctx context.Context, t *testing.T, b backends.Backend, bucket string) {
	hc := &http.Client{Timeout: 30 * time.Second}
	put, err := b.PresignObject(ctx, backends.PresignRequest{Bucket: bucket, Key: "presigned.txt", Method: http.MethodPut, Expires: time.Minute})
	if err != nil {
		t.Fatalf("PresignObject(PUT): %v", err)
	}
	if put.ExpiresAt.Before(time.Now()) || put.ExpiresAt.After(time.Now().Add(2*time.Minute)) {
		t.Errorf("presigned PUT expires at %s, want about a minute from now", put.ExpiresAt)
	}
	req, _ := http.NewRequestWithContext(ctx, put.Method, put.URL, bytes.NewReader([]byte("via presigned url")))
	for k, v := range put.Headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("PUT presigned URL: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT presigned URL: status %d", resp.StatusCode)
	}
	get, err := b.PresignObject(ctx, backends.PresignRequest{Bucket: bucket, Key: "presigned.txt", Method: http.MethodGet})
	if err != nil {
		t.Fatalf("PresignObject(GET): %v", err)
	}
	resp, err = hc.Get(get.URL)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "via presigned url" {
		t.Errorf("GET presigned URL = %d %q, want 200 %q", resp.StatusCode, body, "via presigned url")
	}
	// Tampering with the signature must be refused by the store.
	resp, err = hc.Get(strings.Replace(get.URL, "X-Amz-Signature=", "X-Amz-Signature=00", 1))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("GET with a tampered signature succeeded")
		}
	}
	_, err = b.PresignObject(ctx, backends.PresignRequest{Bucket: bucket, Key: "k", Method: "DELETE"})
	wantKind(t, "PresignObject(DELETE)", err, backends.ErrInvalid)
}

func testDeployments(t *testing.T, b backends.Backend) {
	ctx := ctxFor(t)
	info, err := b.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	name := uniqueName("ct-dep")
	svc := testService(name)
	svc.Expose = &backends.Expose{APIPort: []int{8080}, MinScale: 1, MaxScale: 1}
	if err := b.CreateService(ctx, svc); err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	t.Cleanup(func() { _ = b.DeleteService(context.Background(), name) })
	st, err := b.DeploymentStatus(ctx, name)
	if !info.Capabilities.Deployments {
		wantKind(t, "DeploymentStatus on a backend without deployments", err, backends.ErrUnsupported)
		return
	}
	if err != nil {
		t.Fatalf("DeploymentStatus: %v", err)
	}
	if st.ServiceName != name || st.State == "" {
		t.Errorf("DeploymentStatus = %+v, want service %q with a state", st, name)
	}
	if _, err := b.DeploymentLogs(ctx, name, 10, true); err != nil {
		t.Errorf("DeploymentLogs: %v", err)
	}
	_, err = b.DeploymentStatus(ctx, uniqueName("ct-missing"))
	wantKind(t, "DeploymentStatus(missing)", err, backends.ErrNotFound)
}
