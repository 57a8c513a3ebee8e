package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/memtest"
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
)

// countGauge is a Gauge that tests can read.
type countGauge struct{ n atomic.Int64 }

func (g *countGauge) Inc() { g.n.Add(1) }
func (g *countGauge) Dec() { g.n.Add(-1) }

// connListener remembers the server side of every connection, so a test
// can drop them as a failing server would.
type connListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *connListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *connListener) dropAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

type liveFixture struct {
	mem     *memtest.Cluster
	srv     *httptest.Server
	ln      *connListener
	sockets *countGauge
	hub     *watch.Hub
	db      *sqlite.DB
	user    int64

	sessionValid  atomic.Bool  // the session token source still works
	requestTokens atomic.Int64 // calls of the request-path token getter
	tokensSeen    sync.Map     // tokens the "oidc" cluster was called with
}

// tokenCluster is the in-memory cluster behind a login-token cluster.
type tokenCluster struct {
	*memtest.Cluster
	f     *liveFixture
	token func(context.Context) (string, error)
}

func (c tokenCluster) ListJobs(ctx context.Context, service, page string) (*backends.JobList, error) {
	tok, err := c.token(ctx)
	if err != nil {
		return nil, &backends.Error{Kind: backends.KindUnauthorized, Backend: "oidc", Message: err.Error()}
	}
	c.f.tokensSeen.Store(tok, true)
	return c.Cluster.ListJobs(ctx, service, page)
}

// get fetches path as the user.
func (f *liveFixture) get(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, nil)
	req.Header.Set("Cookie", "session=ok")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// newLiveFixture serves the live endpoints over a real socket, for the
// in-memory cluster "mem" with service "svc" and a running job "j1". A
// request is a user's when it carries the cookie session=ok (standing in
// for the session middleware, which the app tests exercise).
func newLiveFixture(t testing.TB) *liveFixture {
	return newLiveFixtureWith(t, watch.Options{Fast: 5 * time.Millisecond, Slow: 50 * time.Millisecond, Linger: time.Minute})
}

// newLiveFixtureWith is newLiveFixture with the hub's timing o.
func newLiveFixtureWith(t testing.TB, o watch.Options) *liveFixture {
	t.Helper()
	reg := backends.NewRegistry()
	mem := memtest.New("mem")
	memtest.Register(reg, mem)
	f := &liveFixture{mem: mem}
	// "oidc": the same in-memory cluster, taking the user's login token,
	// which it asks for on every job list as an OSCAR client would.
	reg.Register("tokmem", func(_ context.Context, _ store.Cluster, act backends.Acting) (backends.Backend, error) {
		return tokenCluster{Cluster: mem, f: f, token: act.AccessToken}, nil
	})
	f.sessionValid.Store(true)
	if err := mem.CreateService(t.Context(), &backends.Service{Name: "svc", Image: "img"}); err != nil {
		t.Fatal(err)
	}
	mem.AddJob("svc", "j1", backends.JobRunning, time.Now(), "line 1\n")
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "fdlstudio.db"), sqlite.WithSealer(workflowSealer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	user, err := db.UpsertUser(t.Context(), "local", "local", "Tester", "")
	if err != nil {
		t.Fatal(err)
	}
	o.Finished = ArchiveFinished(db, func(err error) { t.Errorf("archiving: %v", err) })
	hub := watch.New(o)
	t.Cleanup(func() { hub.Close() })
	g := &countGauge{}
	h := New(Deps{
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clusters: noClusters{},
		Backends: reg,
		SharedClusters: []store.Cluster{{Name: "mem", Kind: memtest.Kind, Shared: true},
			{Name: "oidc", Kind: "tokmem", AuthKind: store.AuthToken, Shared: true}},
		AccessToken: func(context.Context) (string, error) {
			f.requestTokens.Add(1)
			return "request-token", nil
		},
		SessionTokens: func(context.Context) (func(context.Context) (string, error), error) {
			return func(context.Context) (string, error) {
				if !f.sessionValid.Load() {
					return "", errors.New("session ended")
				}
				return "session-token", nil
			}, nil
		},
		Live:        hub,
		OpenSockets: g,
		JobLogs:     db,
		Workflows:   db.Workflows(),
		Deployments: db.Deployments(processSealer()),
	})
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var ue *UserError
		status, _ := backends.HTTPStatus(err)
		if errors.As(err, &ue) {
			status = ue.Status
		}
		_ = c.String(status, Describe(err))
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if ck, err := c.Cookie("session"); err != nil || ck.Value != "ok" {
				return c.String(http.StatusSeeOther, "log in first")
			}
			u := &auth.User{ID: user.ID, Name: "Tester", Mode: auth.ModeLocal}
			c.SetRequest(c.Request().WithContext(auth.WithUser(c.Request().Context(), u)))
			return next(c)
		}
	})
	e.GET("/services/:cluster/:name/live", h.LiveJobs)
	e.GET("/services/:cluster/:name/jobs/:job/live", h.LiveJobLog)
	e.GET("/services/:cluster/:name/jobs/:job", h.ShowJobLog)
	e.GET("/services/:cluster/:name/jobs/:job/log", h.DownloadJobLog)
	e.POST("/services/:cluster/:name/jobs/:job/delete", h.DeleteJob)
	e.GET("/services/:cluster/:name/jobs", h.ShowJobs)
	e.GET("/workflows/:id/runs", h.ShowRuns)
	e.GET("/workflows/:id/runs/live", h.LiveRuns)
	e.GET("/workflows/:id/runs/:run", h.ShowRun)
	e.GET("/workflows/:id/runs/:run/live", h.LiveRun)
	srv := httptest.NewUnstartedServer(e)
	ln := &connListener{Listener: srv.Listener}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	f.srv, f.ln, f.sockets, f.hub, f.db, f.user = srv, ln, g, hub, db, user.ID
	return f
}

func (f *liveFixture) dial(t testing.TB, path, origin string, session bool) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	if session {
		hdr.Set("Cookie", "session=ok")
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial("ws"+strings.TrimPrefix(f.srv.URL, "http")+path, hdr)
}

func readMsg(t testing.TB, c *websocket.Conn) (LiveMessage, error) {
	t.Helper()
	var m LiveMessage
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	err := c.ReadJSON(&m)
	return m, err
}

func TestLiveRefusesWithoutSessionOrFromAnotherSite(t *testing.T) {
	f := newLiveFixture(t)
	for _, tc := range []struct {
		name, origin string
		session      bool
		want         int
	}{
		{"no session", f.srv.URL, false, http.StatusSeeOther},
		{"foreign origin", "https://evil.example", true, http.StatusForbidden},
		{"no origin", "", true, http.StatusForbidden},
	} {
		c, resp, err := f.dial(t, "/services/mem/svc/jobs/j1/live", tc.origin, tc.session)
		if err == nil {
			c.Close()
			t.Fatalf("%s: the handshake succeeded", tc.name)
		}
		if resp == nil || resp.StatusCode != tc.want {
			t.Fatalf("%s: handshake answered %v, want %d", tc.name, resp, tc.want)
		}
	}
	if f.sockets.n.Load() != 0 || f.hub.Pollers() != 0 {
		t.Fatal("a refused handshake subscribed")
	}
	c, resp, err := f.dial(t, "/services/mem/svc/jobs/j1/live?after=bad", f.srv.URL, true)
	if err == nil {
		c.Close()
	}
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad cursor was answered %v", resp)
	}
}

// TestLiveLogResumesAfterServerDrop follows a log while a job writes 300
// lines; the server drops the connection twice mid-stream and the client
// resumes from its cursor: every line arrives exactly once, in order.
func TestLiveLogResumesAfterServerDrop(t *testing.T) {
	f := newLiveFixture(t)
	c, _, err := f.dial(t, "/services/mem/svc/jobs/j1/live", f.srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	first, err := readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Lines) != 1 || first.Lines[0].Text != "line 1" || len(first.Swap) != 1 || !strings.Contains(first.Swap[0].HTML, "Running") {
		t.Fatalf("first message (snapshot) = %+v", first)
	}
	if f.sockets.n.Load() != 1 {
		t.Fatalf("open sockets = %d, want 1", f.sockets.n.Load())
	}
	const total = 300
	go func() {
		for i := 2; i <= total; i++ {
			f.mem.UpdateJob("svc", "j1", "", "line "+strconv.Itoa(i)+"\n")
			if i%10 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
		}
		time.Sleep(20 * time.Millisecond)
		f.mem.UpdateJob("svc", "j1", backends.JobSucceeded, "")
	}()
	seen := []int{1}
	cursor := first.Cursor
	drops, nextDrop := 0, 100
	for {
		m, err := readMsg(t, c)
		if err != nil {
			if drops > 2 {
				t.Fatalf("reading: %v", err)
			}
			c.Close()
			c, _, err = f.dial(t, "/services/mem/svc/jobs/j1/live?after="+cursor, f.srv.URL, true)
			if err != nil {
				t.Fatal(err)
			}
			drops++
			continue
		}
		cursor = m.Cursor
		for _, l := range m.Lines {
			if l.Text != "line "+strconv.Itoa(l.N) {
				t.Fatalf("line %d is %q", l.N, l.Text)
			}
			seen = append(seen, l.N)
		}
		if len(seen) >= nextDrop {
			f.ln.dropAll() // the server drops the connection
			nextDrop += 100
		}
		if m.Ended {
			break
		}
	}
	c.Close()
	if drops < 2 {
		t.Fatalf("the server dropped the connection %d times, want 2", drops)
	}
	if len(seen) != total {
		t.Fatalf("received %d lines, want %d", len(seen), total)
	}
	for i, n := range seen {
		if n != i+1 {
			t.Fatalf("line %d arrived as number %d (lost or repeated lines)", i+1, n)
		}
	}
	waitUntil(t, "the socket count to drop", func() bool { return f.sockets.n.Load() == 0 })
}

func TestLiveJobsPageSwapsRowsAndPanel(t *testing.T) {
	f := newLiveFixture(t)
	c, _, err := f.dial(t, "/services/mem/svc/live", f.srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Swap) != 1 || m.Swap[0].ID != "jobs-panel" || !strings.Contains(m.Swap[0].HTML, `id="job-row-j1"`) {
		t.Fatalf("snapshot = %+v", m)
	}
	f.mem.AddJob("svc", "j2", backends.JobPending, time.Now(), "")
	m, err = readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Swap) != 1 || m.Swap[0].ID != "jobs-panel" || !strings.Contains(m.Swap[0].HTML, `id="job-row-j2"`) {
		t.Fatalf("after a new job: %+v", m)
	}
	f.mem.UpdateJob("svc", "j1", backends.JobFailed, "")
	m, err = readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Swap) != 1 || m.Swap[0].ID != "job-row-j1" || !strings.Contains(m.Swap[0].HTML, "Failed") {
		t.Fatalf("after a status change: %+v", m)
	}
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A watched job's log is archived when it ends; a job deleted through
// FDL Studio has its log archived first. Both logs stay readable (page
// and download) after the cluster has forgotten the jobs.
func TestJobLogsOutliveTheirJobs(t *testing.T) {
	f := newLiveFixture(t)
	c, _, err := f.dial(t, "/services/mem/svc/jobs/j1/live", f.srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := readMsg(t, c); err != nil {
		t.Fatal(err)
	}
	f.mem.UpdateJob("svc", "j1", backends.JobSucceeded, "line 2\nthe end\n")
	for {
		m, err := readMsg(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if m.Ended {
			break
		}
	}
	waitUntil(t, "the archive", func() bool {
		l, err := f.db.JobLog(t.Context(), f.user, "mem", "svc", "j1")
		return err == nil && l.Log == "line 1\nline 2\nthe end\n" && l.Status == "Succeeded"
	})
	if err := f.mem.DeleteJob(t.Context(), "svc", "j1"); err != nil {
		t.Fatal(err)
	}
	code, body := f.get(t, http.MethodGet, "/services/mem/svc/jobs/j1")
	if code != http.StatusOK || !strings.Contains(body, "archived log") || !strings.Contains(body, "the end") || strings.Contains(body, "data-live=") {
		t.Fatalf("log page of a deleted job: %d\n%s", code, body)
	}

	// Never watched, deleted through FDL Studio.
	f.mem.AddJob("svc", "j9", backends.JobFailed, time.Now(), "oops\n")
	if code, body := f.get(t, http.MethodPost, "/services/mem/svc/jobs/j9/delete"); code != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", code, body)
	}
	if _, err := f.mem.JobLog(t.Context(), "svc", "j9", false); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("the job was not deleted: %v", err)
	}
	if code, body := f.get(t, http.MethodGet, "/services/mem/svc/jobs/j9/log"); code != http.StatusOK || body != "oops\n" {
		t.Fatalf("download of a deleted job's log: %d %q", code, body)
	}
	// A job that never existed is still not found.
	if code, _ := f.get(t, http.MethodGet, "/services/mem/svc/jobs/nope"); code != http.StatusNotFound {
		t.Fatalf("absent job: %d, want 404", code)
	}
}

// On a cluster that takes the user's login token, the hub polls with the
// session's token source, not the request's token, and stops being able
// to when the session ends.
func TestLivePollsWithTheSessionTokenSource(t *testing.T) {
	f := newLiveFixture(t)
	c, _, err := f.dial(t, "/services/oidc/svc/live", f.srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if m.Error != "" || len(m.Swap) != 1 || !strings.Contains(m.Swap[0].HTML, "job-row-j1") {
		t.Fatalf("snapshot = %+v", m)
	}
	if _, ok := f.tokensSeen.Load("session-token"); !ok {
		t.Fatal("the poller did not use the session's token source")
	}
	if _, ok := f.tokensSeen.Load("request-token"); ok || f.requestTokens.Load() != 0 {
		t.Fatal("the poller used the request's token getter")
	}
	f.sessionValid.Store(false) // the user logs out
	for {
		m, err := readMsg(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.Error, "session ended") {
			break
		}
	}
}

// Under a status filter, a job that leaves the filter leaves the table.
func TestLiveJobsPageKeepsItsStatusFilter(t *testing.T) {
	f := newLiveFixture(t)
	c, _, err := f.dial(t, "/services/mem/svc/live?status=Running", f.srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Swap) != 1 || !strings.Contains(m.Swap[0].HTML, `id="job-row-j1"`) {
		t.Fatalf("snapshot = %+v", m)
	}
	f.mem.UpdateJob("svc", "j1", backends.JobSucceeded, "")
	m, err = readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Swap) != 1 || m.Swap[0].ID != "jobs-panel" || strings.Contains(m.Swap[0].HTML, "job-row-j1") {
		t.Fatalf("after the job left the filter: %+v", m)
	}
}
