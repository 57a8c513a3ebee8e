package watch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

// fakeJobs is an in-memory backends.Jobs that counts its reads. Its
// JobLogFrom slices the whole log, as the OSCAR client does.
type fakeJobs struct {
	mu       sync.Mutex
	jobs     []backends.Job // newest first
	logs     map[string]string
	lists    int
	logReads int
}

func newFake() *fakeJobs { return &fakeJobs{logs: map[string]string{}} }

func (f *fakeJobs) addJob(name string, st backends.JobStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs = append([]backends.Job{{Name: name, Status: st, CreationTime: time.Unix(int64(1000+len(f.jobs)), 0)}}, f.jobs...)
	f.logs[name] = ""
}

func (f *fakeJobs) setStatus(name string, st backends.JobStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.jobs {
		if f.jobs[i].Name == name {
			f.jobs[i].Status = st
		}
	}
}

func (f *fakeJobs) write(name, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[name] += text
}

func (f *fakeJobs) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs = slices.DeleteFunc(f.jobs, func(j backends.Job) bool { return j.Name == name })
	delete(f.logs, name)
}

func (f *fakeJobs) counts() (lists, logs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists, f.logReads
}

func (f *fakeJobs) ListJobs(_ context.Context, _, _ string) (*backends.JobList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	return &backends.JobList{Jobs: slices.Clone(f.jobs)}, nil
}

func (f *fakeJobs) JobLog(_ context.Context, _, job string, _ bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.logs[job]
	if !ok {
		return "", &backends.Error{Kind: backends.KindNotFound, Message: "no job " + job}
	}
	return l, nil
}

func (f *fakeJobs) JobLogFrom(_ context.Context, _, job string, off int64) (string, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logReads++
	l, ok := f.logs[job]
	if !ok {
		return "", 0, &backends.Error{Kind: backends.KindNotFound, Message: "no job " + job}
	}
	if off > int64(len(l)) {
		return "", int64(len(l)), nil
	}
	return l[off:], int64(len(l)), nil
}

func (f *fakeJobs) DeleteJob(context.Context, string, string) error { return nil }
func (f *fakeJobs) DeleteJobs(context.Context, string, bool) error  { return nil }
func (f *fakeJobs) resolver() Resolver {
	return func(context.Context) (backends.Jobs, error) { return f, nil }
}
func (f *fakeJobs) String() string { return fmt.Sprint(f.jobs) }
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// clock drives the polls: the poller asks it for each wait (After), and
// the test fires the wait when it wants the next poll.
type clock struct {
	asked chan time.Duration
	fire  chan time.Time
}

func newClock() *clock {
	return &clock{asked: make(chan time.Duration, 100), fire: make(chan time.Time)}
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.asked <- d
	return c.fire
}

// settle waits until the poller is idle, waiting on the clock (no pending
// wake-up), and returns the last wait it asked for.
func (c *clock) settle(t *testing.T) time.Duration {
	t.Helper()
	var last time.Duration
	select {
	case last = <-c.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the poller never waited")
	}
	for {
		select {
		case last = <-c.asked:
		case <-time.After(50 * time.Millisecond):
			return last
		}
	}
}

// tick fires one wait and returns the next wait the poller asks for.
func (c *clock) tick(t *testing.T) time.Duration {
	t.Helper()
	select {
	case c.fire <- time.Now():
	case <-time.After(5 * time.Second):
		t.Fatal("the poller is not waiting")
	}
	select {
	case d := <-c.asked:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("the poller did not finish its poll")
	}
	return 0
}

var key = Key{Scope: "7", Cluster: "c", Service: "svc"}

func newHub(t *testing.T, c *clock, o Options) *Hub {
	o.After = c.After
	o.Fast, o.Slow = time.Second, 10*time.Second
	h := New(o)
	t.Cleanup(func() { h.Close() })
	return h
}

func subscribe(t *testing.T, h *Hub, f *fakeJobs, job string, after Cursor) *Sub {
	t.Helper()
	s, err := h.Subscribe(key, job, f.resolver(), after)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// read waits for a subscriber's next events.
func read(t *testing.T, s *Sub) []Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if evs := s.Next(0); len(evs) > 0 {
			return evs
		}
		select {
		case <-s.C():
		case <-deadline:
			t.Fatal("no event arrived")
		}
	}
}

func lineTexts(evs []Event) []string {
	var out []string
	for _, e := range evs {
		for _, l := range e.Lines {
			out = append(out, fmt.Sprintf("%d:%s", l.N, l.Text))
		}
	}
	return out
}

func TestOnePollPerIntervalForManyWatchers(t *testing.T) {
	f := newFake()
	f.addJob("j1", backends.JobRunning)
	f.write("j1", "start\n")
	c := newClock()
	h := newHub(t, c, Options{})
	var subs []*Sub
	for i := range 200 {
		job := ""
		if i%2 == 1 {
			job = "j1"
		}
		subs = append(subs, subscribe(t, h, f, job, Cursor{}))
	}
	if d := c.settle(t); d != time.Second {
		t.Fatalf("with a running job watched the poller waits %v, want the fast interval 1s", d)
	}
	for _, s := range subs {
		if evs := read(t, s); evs[0].Kind != Snapshot {
			t.Fatalf("first event is %v, want a snapshot", evs[0].Kind)
		}
	}
	lists0, logs0 := f.counts()
	for i := range 5 {
		f.write("j1", fmt.Sprintf("line %d\n", i))
		c.tick(t)
	}
	lists, logs := f.counts()
	if lists-lists0 != 5 || logs-logs0 != 5 {
		t.Fatalf("5 intervals with 200 watchers made %d job-list and %d log reads, want 5 and 5", lists-lists0, logs-logs0)
	}
	for _, s := range subs[1:2] {
		if got := lineTexts(read(t, s)); !slices.Equal(got, []string{"2:line 0", "3:line 1", "4:line 2", "5:line 3", "6:line 4"}) {
			t.Fatalf("a watcher got %q", got)
		}
	}
	if h.Pollers() != 1 {
		t.Fatalf("%d pollers for one service, want 1", h.Pollers())
	}
}

func TestSnapshotThenDeltas(t *testing.T) {
	f := newFake()
	f.addJob("old", backends.JobSucceeded)
	f.addJob("j1", backends.JobPending)
	f.write("j1", "a\nb\npart")
	c := newClock()
	h := newHub(t, c, Options{})
	list := subscribe(t, h, f, "", Cursor{})
	log := subscribe(t, h, f, "j1", Cursor{})
	c.settle(t)

	snap := read(t, list)
	if len(snap) != 1 || snap[0].Kind != Snapshot || len(snap[0].Jobs) != 2 || snap[0].Jobs[0].Name != "j1" {
		t.Fatalf("list snapshot = %+v, want both jobs, newest first", snap)
	}
	ls := read(t, log)
	if ls[0].Kind != Snapshot || ls[0].Job.Status != backends.JobPending || !slices.Equal(lineTexts(ls), []string{"1:a", "2:b"}) {
		t.Fatalf("log snapshot = %+v, want the pending job and its two complete lines", ls)
	}

	// The unterminated line arrives once it ends; the status change goes
	// to both streams.
	f.write("j1", "ial\nc\n")
	f.setStatus("j1", backends.JobRunning)
	c.tick(t)
	evs := read(t, log)
	if len(evs) != 2 || evs[0].Kind != JobChanged || evs[0].Job.Status != backends.JobRunning ||
		!slices.Equal(lineTexts(evs), []string{"3:partial", "4:c"}) {
		t.Fatalf("log events = %+v", evs)
	}
	if evs[1].Cursor.Seq != evs[0].Cursor.Seq+1 {
		t.Fatalf("sequence numbers %v then %v are not consecutive", evs[0].Cursor, evs[1].Cursor)
	}
	if evs := read(t, list); len(evs) != 1 || evs[0].Kind != JobChanged || evs[0].Job.Name != "j1" {
		t.Fatalf("list events = %+v", evs)
	}

	// The job ends with an unterminated line: it is flushed, the stream
	// ends and its log is no longer read.
	f.write("j1", "last")
	f.setStatus("j1", backends.JobSucceeded)
	c.tick(t)
	evs = read(t, log)
	if got := lineTexts(evs); !slices.Equal(got, []string{"5:last"}) || !evs[len(evs)-1].Ended {
		t.Fatalf("final events = %+v", evs)
	}
	_, logs0 := f.counts()
	if d := c.tick(t); d != 10*time.Second {
		t.Fatalf("with every job finished the poller waits %v, want the slow interval", d)
	}
	if _, logs := f.counts(); logs != logs0 {
		t.Fatal("the log of a finished job was read again")
	}

	if evs := read(t, list); len(evs) != 1 || evs[0].Job.Status != backends.JobSucceeded {
		t.Fatalf("list events = %+v", evs)
	}
	// Deleting a job removes it from the list.
	f.remove("old")
	c.tick(t)
	if evs := read(t, list); len(evs) != 1 || evs[0].Kind != JobGone || evs[0].Job.Name != "old" {
		t.Fatalf("after deleting a job the list got %+v", evs)
	}
}

func TestFinishedJobLogIsNotPolled(t *testing.T) {
	f := newFake()
	f.addJob("done", backends.JobFailed)
	f.write("done", "x\ny\n")
	var archived sync.WaitGroup
	archived.Add(1)
	c := newClock()
	h := newHub(t, c, Options{Finished: func(k Key, job backends.Job, _ Resolver) {
		if k != key || job.Name != "done" || job.Status != backends.JobFailed {
			t.Errorf("finished %v %+v", k, job)
		}
		archived.Done()
	}})
	s := subscribe(t, h, f, "done", Cursor{})
	select {
	case d := <-c.asked:
		t.Fatalf("the poller waits %v to poll a finished job's log again", d)
	case <-time.After(200 * time.Millisecond):
	}
	if evs := read(t, s); !evs[0].Ended || !slices.Equal(lineTexts(evs), []string{"1:x", "2:y"}) {
		t.Fatalf("snapshot = %+v", evs)
	}
	archived.Wait()
}

func TestResumeGetsExactlyWhatWasMissed(t *testing.T) {
	f := newFake()
	f.addJob("j1", backends.JobRunning)
	c := newClock()
	h := newHub(t, c, Options{History: 8, Linger: time.Hour})
	s := subscribe(t, h, f, "j1", Cursor{})
	c.settle(t)
	var seen []string
	var last Cursor
	consume := func(s *Sub) {
		for _, e := range s.Next(0) {
			seen = append(seen, lineTexts([]Event{e})...)
			last = e.Cursor
		}
	}
	n := 0
	write := func(k int) {
		for range k {
			n++
			f.write("j1", fmt.Sprintf("l%d\n", n))
			c.tick(t)
		}
	}
	read(t, s) // snapshot (empty log)
	write(3)
	consume(s)
	s.Close() // the connection drops
	c.settle(t)
	write(4) // lines written while away
	s = subscribe(t, h, f, "j1", last)
	c.settle(t)
	evs := read(t, s)
	if evs[0].Kind == Snapshot {
		t.Fatal("a subscriber resuming within the history got a snapshot")
	}
	for _, e := range evs {
		seen = append(seen, lineTexts([]Event{e})...)
		last = e.Cursor
	}
	write(2)
	consume(s)
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("%d:l%d", i, i))
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("lines seen across the reconnect = %q, want %q", seen, want)
	}

	// Too far behind the history (8 events): a snapshot instead.
	s.Close()
	c.settle(t)
	write(20)
	s = subscribe(t, h, f, "j1", last)
	c.settle(t)
	if evs := read(t, s); len(evs) != 1 || evs[0].Kind != Snapshot || len(evs[0].Lines) != n {
		t.Fatalf("a subscriber behind the history got %d events, first %v; want one snapshot of %d lines", len(evs), evs[0].Kind, n)
	}
	// A cursor of another stream (e.g. from before a restart): snapshot.
	s2 := subscribe(t, h, f, "j1", Cursor{Gen: 1, Seq: 3})
	if evs := read(t, s2); evs[0].Kind != Snapshot {
		t.Fatal("a cursor of another generation did not get a snapshot")
	}
}

func TestSlowSubscriberGetsSnapshotNotBacklog(t *testing.T) {
	f := newFake()
	f.addJob("j1", backends.JobRunning)
	c := newClock()
	h := newHub(t, c, Options{History: 4})
	slow := subscribe(t, h, f, "j1", Cursor{})
	c.settle(t)
	read(t, slow)
	for i := range 10 {
		f.write("j1", fmt.Sprintf("l%d\n", i))
		c.tick(t)
	}
	evs := read(t, slow)
	if len(evs) != 1 || evs[0].Kind != Snapshot || len(evs[0].Lines) != 10 {
		t.Fatalf("a subscriber 10 events behind a history of 4 got %d events", len(evs))
	}
}

func TestPollerStopsAfterLastWatcher(t *testing.T) {
	f := newFake()
	f.addJob("j1", backends.JobRunning)
	h := New(Options{Fast: 5 * time.Millisecond, Linger: -1})
	defer h.Close()
	var subs []*Sub
	for range 10 {
		subs = append(subs, subscribe(t, h, f, "", Cursor{}))
	}
	waitFor(t, "a few polls", func() bool { l, _ := f.counts(); return l >= 3 })
	for i, s := range subs {
		s.Close()
		if i < len(subs)-1 && h.Pollers() != 1 {
			t.Fatal("the poller stopped while watchers remain")
		}
	}
	waitFor(t, "the poller to stop", func() bool { return h.Pollers() == 0 })
	l0, _ := f.counts()
	time.Sleep(50 * time.Millisecond)
	if l, _ := f.counts(); l != l0 {
		t.Fatalf("%d polls after the last watcher left", l-l0)
	}
	// A new viewer starts it again.
	s := subscribe(t, h, f, "", Cursor{})
	if evs := read(t, s); evs[0].Kind != Snapshot {
		t.Fatal("no snapshot after restart")
	}
	s.Close()
}

func TestFailedPollIsAnnounced(t *testing.T) {
	c := newClock()
	h := newHub(t, c, Options{})
	var mu sync.Mutex
	down := true
	f := newFake()
	resolve := func(context.Context) (backends.Jobs, error) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return nil, &backends.Error{Kind: backends.KindUnavailable, Backend: `cluster "c"`, Message: "connection refused"}
		}
		return f, nil
	}
	s, err := h.Subscribe(key, "", resolve, Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	c.settle(t)
	if evs := read(t, s); evs[0].Kind != Snapshot || !strings.Contains(evs[0].Err, "connection refused") {
		t.Fatalf("snapshot while the cluster is down = %+v", evs)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	c.tick(t)
	if evs := read(t, s); evs[0].Kind != Recovered {
		t.Fatalf("after recovery got %+v", evs)
	}
}

func TestParseCursor(t *testing.T) {
	c, err := ParseCursor(Cursor{Gen: 12, Seq: 34}.String())
	if err != nil || c != (Cursor{12, 34}) {
		t.Fatalf("round trip = %v, %v", c, err)
	}
	if _, err := ParseCursor("12"); err == nil || !strings.Contains(err.Error(), "GEN.SEQ") {
		t.Fatalf("ParseCursor(12) err = %v", err)
	}
}

// Pushes (Wake, WakeService) poll before the interval is up, at most
// once per MinGap however many arrive, for every viewer of the service.
func TestWakePollsSoonButNotInALoop(t *testing.T) {
	f := newFake()
	f.addJob("j1", backends.JobRunning)
	h := New(Options{Fast: time.Hour, Slow: time.Hour, MinGap: 50 * time.Millisecond})
	defer h.Close()
	a := subscribe(t, h, f, "j1", Cursor{})
	other := key
	other.Scope = "8" // another user watching the same service
	b, err := h.Subscribe(other, "j1", f.resolver(), Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	read(t, a)
	read(t, b)
	f.write("j1", "pushed\n")
	start := time.Now()
	h.WakeService(key.Cluster, key.Service)
	for _, s := range []*Sub{a, b} {
		if got := lineTexts(read(t, s)); !slices.Equal(got, []string{"1:pushed"}) {
			t.Fatalf("after a push a viewer got %q", got)
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the push was not served before the (hour-long) interval")
	}
	lists0, _ := f.counts()
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		h.Wake(key)
		time.Sleep(time.Millisecond)
	}
	time.Sleep(60 * time.Millisecond)
	lists, _ := f.counts()
	if n := lists - lists0; n < 2 || n > 8 {
		t.Fatalf("300 ms of pushes with a 50 ms gap made %d polls, want about 6", n)
	}
}
