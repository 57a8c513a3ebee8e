// Package watch is the live-monitoring hub: it turns the polled job lists
// and logs of a backend into numbered event streams that many viewers
// follow at once.
//
// There is one poller per Key (a user's view of one service of one
// cluster), however many viewers watch it: the first subscription starts
// it and it stops Linger after the last one leaves. Each poll reads the
// service's job list once and, for every job whose log is watched and has
// not been read to its end, the log's new bytes (backends.Jobs.JobLogFrom;
// for backends that only read whole logs JobLogFrom slices, so only what
// is new reaches the hub). Intervals adapt: Fast while some job is
// pending or running, Slow when everything watched is finished, and no
// poll at all when the only streams left are logs already read to their
// end.
//
// Every stream (the job list of a service, or one job's status and log)
// numbers its events. A subscriber gives the Cursor of the last event it
// saw and receives exactly the events after it; one that is new, or too
// far behind for the stream's bounded history, receives a snapshot
// first. Subscribers pull (Sub.Next) when notified, so the hub never
// waits for a slow one: a subscriber that falls behind the history is
// given one snapshot in place of everything it missed.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

// Key names what one poller watches: one service of one cluster as one
// user sees it. Scope is the identity whose credentials the poller uses
// (the user's ID), so viewers never share another user's credentials.
type Key struct {
	Scope   string
	Cluster string
	Service string
}

func (k Key) String() string { return k.Scope + "/" + k.Cluster + "/" + k.Service }

// Resolver returns the backend jobs to poll, acting for the subscriber
// that gave it. The hub calls it from its own goroutine, with a context
// bounded by Options.Timeout.
type Resolver func(ctx context.Context) (backends.Jobs, error)

// Options tune a Hub; zero fields take the defaults.
type Options struct {
	// Fast is the poll interval while a watched job is pending or running
	// (default 1s); Slow the interval otherwise (default 15s).
	Fast, Slow time.Duration
	// MinGap is the least time between two polls that Wake asks for
	// (default 50ms), so a chatty job does not turn pushes into a busy
	// loop; pushes within it are served by one poll.
	MinGap time.Duration
	// Linger keeps a poller and its streams' history after the last
	// subscriber leaves, so that a viewer who reconnects resumes instead of
	// starting over (default 10s; negative: stop at once).
	Linger time.Duration
	// History is the number of events each stream keeps for resuming
	// subscribers (default 256).
	History int
	// TailLines is the number of log lines a log snapshot carries
	// (default 2000); the whole log stays downloadable from the backend.
	TailLines int
	// Timeout bounds each backend call of a poll (default 20s).
	Timeout time.Duration
	// After is time.After; tests replace it to drive the polls.
	After func(time.Duration) <-chan time.Time
	// Finished, when set, is called once (in its own goroutine) for each
	// watched job whose log has been read to its end because the job
	// finished, e.g. to archive the log.
	Finished func(key Key, job backends.Job, resolve Resolver)
	// Log receives poll failures (default: slog.Default()).
	Log *slog.Logger
}

// Hub runs the pollers. Its methods are safe for concurrent use.
type Hub struct {
	opts    Options
	mu      sync.Mutex
	pollers map[Key]*poller
	closed  bool
	// gen numbers the streams the hub creates, so that cursors from a
	// stream that has since been dropped are recognised as stale.
	gen atomic.Uint64
	// listCalls and logCalls count backend ListJobs and JobLogFrom calls
	// (for tests and benchmarks).
	listCalls, logCalls atomic.Int64
}

// New returns a hub with no pollers.
func New(o Options) *Hub {
	if o.Fast <= 0 {
		o.Fast = time.Second
	}
	if o.Slow <= 0 {
		o.Slow = 15 * time.Second
	}
	if o.Linger == 0 {
		o.Linger = 10 * time.Second
	}
	if o.MinGap <= 0 {
		o.MinGap = 50 * time.Millisecond
	}
	if o.History <= 0 {
		o.History = 256
	}
	if o.TailLines <= 0 {
		o.TailLines = 2000
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	h := &Hub{opts: o, pollers: map[Key]*poller{}}
	h.gen.Store(uint64(time.Now().UnixMilli()))
	return h
}

// Calls reports how many ListJobs and JobLogFrom calls the hub has made.
func (h *Hub) Calls() (list, log int64) { return h.listCalls.Load(), h.logCalls.Load() }

// Pollers is the number of running pollers.
func (h *Hub) Pollers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pollers)
}

// Close stops every poller and refuses new subscriptions; subscribers
// see their streams end.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	ps := make([]*poller, 0, len(h.pollers))
	for k, p := range h.pollers {
		ps = append(ps, p)
		delete(h.pollers, k)
	}
	h.mu.Unlock()
	for _, p := range ps {
		p.halt()
	}
	return nil
}

// Wake asks key's poller, if there is one, to poll soon (at most once
// per MinGap): a backend that learns of changes itself (the local
// cluster) calls it instead of waiting for the next interval.
func (h *Hub) Wake(key Key) {
	h.mu.Lock()
	p := h.pollers[key]
	h.mu.Unlock()
	if p != nil {
		p.pushed()
	}
}

// WakeService is Wake for every viewer's poller of one service of one
// cluster, whoever watches it. It never blocks.
func (h *Hub) WakeService(cluster, service string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, p := range h.pollers {
		if k.Cluster == cluster && k.Service == service {
			p.pushed()
		}
	}
}

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("watch: the hub is closed")

// Subscribe follows one stream of key: the service's job list when job
// is "", else that job's status and log. after is the cursor of the last
// event the subscriber saw (the zero Cursor for none). resolve is how the
// poller reaches the backend for this subscriber while it is subscribed.
func (h *Hub) Subscribe(key Key, job string, resolve Resolver, after Cursor) (*Sub, error) {
	if resolve == nil {
		return nil, errors.New("watch: Subscribe needs a resolver")
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	p := h.pollers[key]
	if p == nil {
		p = newPoller(h, key)
		h.pollers[key] = p
		defer func() { go p.run() }()
	}
	s := p.add(job, resolve, after)
	h.mu.Unlock()
	p.poke()
	return s, nil
}

// remove is called by a poller that lingered with no subscriber.
func (h *Hub) remove(p *poller) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p.mu.Lock()
	idle := len(p.subs) == 0
	p.mu.Unlock()
	if !idle || h.pollers[p.key] != p {
		return false
	}
	delete(h.pollers, p.key)
	return true
}

// Cursor is a position in one stream: the stream's generation and the
// sequence number of the last event seen. The zero Cursor means nothing
// seen.
type Cursor struct {
	Gen, Seq uint64
}

// String is the cursor as a client sends it back: "gen.seq".
func (c Cursor) String() string {
	return strconv.FormatUint(c.Gen, 10) + "." + strconv.FormatUint(c.Seq, 10)
}

// ParseCursor reads a cursor written by String; "" is the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	g, q, ok := strings.Cut(s, ".")
	gen, err1 := strconv.ParseUint(g, 10, 64)
	seq, err2 := strconv.ParseUint(q, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return Cursor{}, fmt.Errorf("the cursor %q is not of the form GEN.SEQ (two decimal numbers)", s)
	}
	return Cursor{Gen: gen, Seq: seq}, nil
}

// Kind says what an Event is.
type Kind int

const (
	// Snapshot is the whole current state of a stream: Jobs for a job
	// list, Job and the last log Lines for a job.
	Snapshot Kind = iota + 1
	// JobChanged is a job that appeared or changed status (Job).
	JobChanged
	// JobGone is a job that was deleted (Job.Name).
	JobGone
	// LogLines are new complete lines of the job's log.
	LogLines
	// Failed says the last poll failed (Err).
	Failed
	// Recovered says a poll succeeded again after a Failed.
	Recovered
)

// Line is one log line and its number (from 1).
type Line struct {
	N    int
	Text string
}

// Event is one numbered change of a stream.
type Event struct {
	Cursor Cursor
	Kind   Kind
	// Jobs is a job list's snapshot, newest first.
	Jobs []backends.Job
	// Job is the job that changed; in a job's Snapshot, its state (Name
	// only when its status is not known yet).
	Job backends.Job
	// Lines are log lines (LogLines, or a job's Snapshot: the last
	// TailLines lines).
	Lines []Line
	// Ended is set on a job's events once its log has been read to its
	// end (the job finished or was deleted).
	Ended bool
	// Err is the failure of a Failed event.
	Err string
}
