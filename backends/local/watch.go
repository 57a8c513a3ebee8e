package local

import (
	"sync"
)

// jobEvents tells code in this process when jobs change, so that it can
// read them at once instead of polling the cluster's API (the live
// monitoring hub, backends/watch, is woken this way).
type jobEvents struct {
	mu   sync.Mutex
	next int
	fs   map[int]func(service, job string)
}

func (e *jobEvents) notify(svc, job string) {
	e.mu.Lock()
	fs := make([]func(string, string), 0, len(e.fs))
	for _, f := range e.fs {
		fs = append(fs, f)
	}
	e.mu.Unlock()
	for _, f := range fs {
		f(svc, job)
	}
}

// WatchJobs calls f whenever a job of the cluster is created, changes
// state, writes a log line or is removed, until stop is called. f runs on
// the cluster's own goroutines, sometimes under its locks: it must return
// at once and must not call the cluster (hand the news to a goroutine of
// its own, as Hub.WakeService does).
func (c *Cluster) WatchJobs(f func(service, job string)) (stop func()) {
	e := &c.events
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fs == nil {
		e.fs = map[int]func(string, string){}
	}
	id := e.next
	e.next++
	e.fs[id] = f
	return func() {
		e.mu.Lock()
		delete(e.fs, id)
		e.mu.Unlock()
	}
}
