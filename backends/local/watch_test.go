package local

import (
	"slices"
	"sync"
	"testing"
)

// Every change of a job reaches the watchers: created, each log line,
// its state, removed; a stopped watcher hears nothing more.
func TestWatchJobsHearsEveryChange(t *testing.T) {
	st, err := openJobStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{jobs: st}
	st.changed = c.events.notify
	var mu sync.Mutex
	var heard []string
	stop := c.WatchJobs(func(svc, job string) {
		mu.Lock()
		heard = append(heard, svc+"/"+job)
		mu.Unlock()
	})
	if err := st.add(&jobRecord{Service: "s", Name: "j", Status: StatusPending}); err != nil {
		t.Fatal(err)
	}
	if err := st.update("s", "j", func(j *jobRecord) { j.Status = StatusRunning }); err != nil {
		t.Fatal(err)
	}
	lg, err := newLogWriter(st.logPath("s", "j"), 0)
	if err != nil {
		t.Fatal(err)
	}
	lg.onLine = func() { c.events.notify("s", "j") }
	lg.Write([]byte("one\ntwo\nthr"))
	lg.Close() // flushes "thr"
	if err := st.remove("s", "j"); err != nil {
		t.Fatal(err)
	}
	want := slices.Repeat([]string{"s/j"}, 6) // add, update, 3 lines, remove
	if !slices.Equal(heard, want) {
		t.Fatalf("heard %q, want %q", heard, want)
	}
	stop()
	if err := st.add(&jobRecord{Service: "s", Name: "k", Status: StatusPending}); err != nil {
		t.Fatal(err)
	}
	if len(heard) != 6 {
		t.Fatalf("a stopped watcher heard %q", heard[6:])
	}
}
