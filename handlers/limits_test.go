package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/store"
)

func statusAndMessage(err error) (int, string) {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue.Status, ue.Message
	}
	return 0, fmt.Sprint(err)
}

func TestLimiterPerUserAndGlobal(t *testing.T) {
	l := newTransferLimits(Limits{UploadsPerUser: 2, Uploads: 3}).uploads
	c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/", nil), httptest.NewRecorder())
	take := func(user int64) (func(), error) { return l.acquire(c, user) }
	r1, _ := take(1)
	r2, _ := take(1)
	if _, err := take(1); err == nil {
		t.Fatal("a third upload of the same user was let through")
	} else if st, msg := statusAndMessage(err); st != http.StatusTooManyRequests || !strings.Contains(msg, "Too many uploads at once: one user may run 2.") {
		t.Errorf("per-user limit: %d %q", st, msg)
	}
	r3, err := take(2)
	if err != nil {
		t.Fatalf("another user within the global limit: %v", err)
	}
	if _, err := take(3); err == nil {
		t.Fatal("a fourth upload was let through a global limit of 3")
	} else if st, msg := statusAndMessage(err); st != http.StatusTooManyRequests || !strings.Contains(msg, "at most 3 for all users") {
		t.Errorf("global limit: %d %q", st, msg)
	}
	if c.Response().Header().Get("Retry-After") == "" {
		t.Error("a 429 without Retry-After")
	}
	r1()
	r1() // a second release changes nothing
	if _, err := take(3); err != nil {
		t.Errorf("after a release: %v", err)
	}
	if _, err := take(2); err == nil {
		t.Error("the double release freed two slots")
	}
	r2()
	r3()
}

// pagedLister pages through n objects under every prefix, perPage at a
// time; with perPage 0 it returns empty pages that never end.
type pagedLister struct {
	n, perPage int
	calls      int
}

func (l *pagedLister) ListObjects(_ context.Context, _ string, o backends.ListObjectsOptions) (*backends.ObjectList, error) {
	l.calls++
	start := 0
	fmt.Sscan(o.PageToken, &start)
	out := &backends.ObjectList{}
	if l.perPage == 0 {
		out.NextPage = fmt.Sprint(start + 1)
		return out, nil
	}
	for i := start; i < l.n && i < start+l.perPage; i++ {
		out.Objects = append(out.Objects, backends.Object{Key: fmt.Sprintf("%s%05d", o.Prefix, i)})
	}
	if start+l.perPage < l.n {
		out.NextPage = fmt.Sprint(start + l.perPage)
	}
	return out, nil
}

func TestCollectKeysHasOneTotalCap(t *testing.T) {
	ctx := context.Background()
	// Each folder is under the cap, together they are over it: the old
	// per-folder cap let any number of folders through.
	l := &pagedLister{n: 6, perPage: 4}
	_, _, err := collectKeys(ctx, l, "b", nil, []string{"a/", "b/"}, 10)
	if st, msg := statusAndMessage(err); st != http.StatusUnprocessableEntity || !strings.Contains(msg, "more than 10 objects") {
		t.Errorf("two folders of 6 under a cap of 10: %d %q", st, msg)
	}
	// Keys count too.
	keys := []string{"k1", "k2", "k3", "k4", "k5"}
	if _, _, err := collectKeys(ctx, l, "b", keys, []string{"a/"}, 10); err == nil {
		t.Error("5 keys and a folder of 6 passed a cap of 10")
	}
	// A key given twice and a folder inside another are not repeated.
	all, counts, err := collectKeys(ctx, l, "b", []string{"a/00001", "a/00001"}, []string{"a/", "a/"}, 100)
	if err != nil || len(all) != 6 || len(counts) != 2 || counts[0] != 6 {
		t.Errorf("duplicates: %d keys, counts %v, %v; want the 6 objects once", len(all), counts, err)
	}
	// A backend that pages forever is stopped after maxListRounds calls.
	endless := &pagedLister{}
	_, _, err = collectKeys(ctx, endless, "b", nil, []string{"x/"}, 100)
	if st, msg := statusAndMessage(err); st != http.StatusUnprocessableEntity || !strings.Contains(msg, "listing calls") || endless.calls != maxListRounds {
		t.Errorf("endless paging: %d %q after %d calls", st, msg, endless.calls)
	}
	// The rounds are one budget over every folder.
	small := &pagedLister{n: 3, perPage: 1}
	folders := make([]string, maxListRounds/3+1)
	for i := range folders {
		folders[i] = fmt.Sprintf("f%d/", i)
	}
	if _, _, err := collectKeys(ctx, small, "b", nil, folders, 1<<20); err == nil || small.calls > maxListRounds {
		t.Errorf("%d folders of 3 one-object pages: %v after %d calls", len(folders), err, small.calls)
	}
}

// blockingS3 stands for a cluster's MinIO whose answers wait until
// released, so transfers stay in flight.
type blockingS3 struct {
	arrived chan string
	release chan struct{}
}

func newBlockingS3(t *testing.T) (*blockingS3, string) {
	b := &blockingS3{arrived: make(chan string, 100), release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.arrived <- r.Method + " " + r.URL.Path
		<-b.release
		switch r.Method {
		case http.MethodHead, http.MethodGet:
			w.Header().Set("Content-Length", "2")
			w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				w.Write([]byte("hi"))
			}
		default:
			w.Header().Set("ETag", `"x"`)
		}
	}))
	t.Cleanup(func() { srv.Close() })
	return b, srv.URL
}

func TestUploadsAndZipsOverTheLimitGet429(t *testing.T) {
	s3, s3URL := newBlockingS3(t)
	fake := oscartest.NewServer(t, oscartest.Options{ReportedS3Endpoint: s3URL, S3AccessKey: "ak", S3SecretKey: "sk"})
	h := New(Deps{
		Backends: oscartest.Registry(nil),
		SharedClusters: []store.Cluster{{Name: "c", Kind: store.KindOSCAR, Endpoint: fake.URL, AuthKind: store.AuthBasic,
			Username: "oscar", Password: "oscar-pass", Shared: true, Trusted: true}},
		Limits: Limits{UploadsPerUser: 1, Uploads: 2, ZipsPerUser: 1, Zips: 1},
	})
	upload := func(user int64) error {
		req := httptest.NewRequest(http.MethodPost, "/files/c/bucket/upload?path=a.txt", strings.NewReader("hi"))
		req.Header.Set(echo.HeaderContentType, "text/plain")
		_, err := invokeHandlerAs(t, user, h.UploadFiles, req, "cluster", "c", "bucket", "bucket")
		return err
	}
	zip := func(user int64) error {
		form := url.Values{"key": {"a.txt"}}
		req := httptest.NewRequest(http.MethodPost, "/files/c/bucket/zip", strings.NewReader(form.Encode()))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
		_, err := invokeHandlerAs(t, user, h.DownloadZip, req, "cluster", "c", "bucket", "bucket")
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	inFlight := func(f func(int64) error, user int64) {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- f(user) }()
		<-s3.arrived // it holds its slot now
	}
	released := false
	defer func() {
		if !released {
			close(s3.release)
		}
		wg.Wait()
	}()

	inFlight(upload, 7)
	if st, msg := statusAndMessage(upload(7)); st != http.StatusTooManyRequests || !strings.Contains(msg, "Too many uploads at once: one user may run 1.") {
		t.Errorf("second upload of one user: %d %q", st, msg)
	}
	inFlight(upload, 8)
	if st, msg := statusAndMessage(upload(9)); st != http.StatusTooManyRequests || !strings.Contains(msg, "at most 2 for all users") {
		t.Errorf("upload past the global limit: %d %q", st, msg)
	}
	inFlight(zip, 7)
	if st, msg := statusAndMessage(zip(8)); st != http.StatusTooManyRequests || !strings.Contains(msg, "Too many zip downloads at once on this server") {
		t.Errorf("zip past the global limit: %d %q", st, msg)
	}

	close(s3.release)
	released = true
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a transfer within the limits: %v", err)
		}
	}
	if err := upload(9); err != nil {
		t.Errorf("an upload after the others ended: %v", err)
	}
}
