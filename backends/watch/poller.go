package watch

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

// poller watches one Key. Only its goroutine reads the backend and
// changes the streams' content; subscribers read under mu.
type poller struct {
	hub *Hub
	key Key

	wake chan struct{} // poll now (capacity 1)
	push chan struct{} // poll soon, at most once per MinGap (capacity 1)
	stop chan struct{} // closed by halt
	once sync.Once
	done chan struct{} // closed when run returns

	mu      sync.Mutex
	subs    map[*Sub]struct{}
	streams map[string]*stream // "" is the job list, else a job's name
	// resolve is the resolver of the newest subscriber, kept after it
	// leaves only while the poller lingers (same Scope, same user).
	resolve Resolver
	jobs    map[string]backends.Job // the job list as last read
	idle    time.Time               // when the last subscriber left
}

// stream is one numbered event sequence with a bounded history.
type stream struct {
	gen     uint64
	seq     uint64
	history []Event // the newest len(history) events, oldest first
	ready   bool    // the first poll filled it, so a snapshot is meaningful
	subs    int
	idle    time.Time

	// A job's log, read up to offset; partial is an unterminated last
	// line held back until it ends.
	offset  int64
	partial string
	tail    []Line // the last TailLines lines
	lines   int    // lines emitted so far
	ended   bool   // read to its end: the job finished or is gone
	failed  string // the failure last announced, "" if none
}

func newPoller(h *Hub, key Key) *poller {
	return &poller{hub: h, key: key, wake: make(chan struct{}, 1), push: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		subs: map[*Sub]struct{}{}, streams: map[string]*stream{}, jobs: map[string]backends.Job{}}
}

func (p *poller) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *poller) pushed() {
	select {
	case p.push <- struct{}{}:
	default:
	}
}

func (p *poller) halt() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	subs := make([]*Sub, 0, len(p.subs))
	for s := range p.subs {
		subs = append(subs, s)
	}
	p.mu.Unlock()
	for _, s := range subs {
		s.end()
	}
}

// add registers a subscriber; the caller holds hub.mu.
func (p *poller) add(job string, resolve Resolver, after Cursor) *Sub {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[job]
	if st == nil {
		st = &stream{gen: p.hub.gen.Add(1)}
		p.streams[job] = st
	}
	st.subs++
	s := &Sub{p: p, job: job, c: make(chan struct{}, 1), ended: make(chan struct{})}
	if after.Gen == st.gen && after.Seq <= st.seq {
		s.next = after.Seq + 1
	} else {
		s.snapshot = true
	}
	p.subs[s] = struct{}{}
	p.resolve = resolve
	s.resolve = resolve
	if st.ready {
		s.signal()
	}
	return s
}

// drop unregisters a subscriber.
func (p *poller) drop(s *Sub) {
	p.mu.Lock()
	if _, ok := p.subs[s]; !ok {
		p.mu.Unlock()
		return
	}
	delete(p.subs, s)
	now := time.Now()
	if st := p.streams[s.job]; st != nil {
		st.subs--
		if st.subs == 0 {
			st.idle = now
		}
	}
	// Keep acting with a remaining subscriber's resolver.
	for o := range p.subs {
		p.resolve = o.resolve
		break
	}
	last := len(p.subs) == 0
	if last {
		p.idle = now
	}
	p.mu.Unlock()
	if last {
		p.poke()
	}
}

func (p *poller) run() {
	defer close(p.done)
	for {
		last := time.Now()
		p.poll()
		d, ok := p.next()
		var tick <-chan time.Time
		if ok {
			tick = p.hub.opts.After(d)
		}
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-tick:
		case <-p.push:
			if gap := p.hub.opts.MinGap - time.Since(last); gap > 0 {
				t := time.NewTimer(gap)
				select {
				case <-p.stop:
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		// With no subscriber left for Linger, stop.
		p.mu.Lock()
		gone := len(p.subs) == 0 && time.Since(p.idle) >= p.hub.opts.Linger
		p.mu.Unlock()
		if gone && p.hub.remove(p) {
			return
		}
	}
}

// next is the wait before the next poll, ok false for none.
func (p *poller) next() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.subs) == 0 {
		linger := p.hub.opts.Linger - time.Since(p.idle)
		return max(linger, 0), true
	}
	polling, active := false, false
	for job, st := range p.streams {
		if st.subs == 0 {
			continue
		}
		if job == "" {
			polling = true
			for _, j := range p.jobs {
				active = active || !finished(j.Status)
			}
			continue
		}
		if !st.ended {
			polling = true
			// A job not on the list's first page is old: slow.
			j, ok := p.jobs[job]
			active = active || ok && !finished(j.Status)
		}
	}
	switch {
	case !polling:
		return 0, false
	case active:
		return p.hub.opts.Fast, true
	default:
		return p.hub.opts.Slow, true
	}
}

func finished(s backends.JobStatus) bool {
	return s == backends.JobSucceeded || s == backends.JobFailed
}

// poll reads the job list and the new log bytes of the watched jobs, and
// turns what changed into events.
func (p *poller) poll() {
	p.mu.Lock()
	resolve := p.resolve
	now := time.Now()
	var logs []string
	needList := false
	for job, st := range p.streams {
		if st.subs == 0 && now.Sub(st.idle) >= p.hub.opts.Linger {
			delete(p.streams, job) // nobody has watched it for Linger
			continue
		}
		if job == "" {
			needList = true
		} else if !st.ended {
			needList = true
			logs = append(logs, job)
		}
	}
	p.mu.Unlock()
	if resolve == nil || (!needList && len(logs) == 0) {
		return
	}
	o := p.hub.opts
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	b, err := resolve(ctx)
	if err != nil {
		p.fail(err)
		return
	}
	p.hub.listCalls.Add(1)
	list, err := b.ListJobs(ctx, p.key.Service, "")
	if err != nil {
		p.fail(err)
		return
	}
	p.applyList(list)
	slices.Sort(logs)
	for _, job := range logs {
		p.mu.Lock()
		st := p.streams[job]
		var off int64
		if st != nil {
			off = st.offset
		}
		j, known := p.jobs[job]
		p.mu.Unlock()
		if st == nil {
			continue
		}
		p.hub.logCalls.Add(1)
		lctx, lcancel := context.WithTimeout(context.Background(), o.Timeout)
		text, next, err := b.JobLogFrom(lctx, p.key.Service, job, off)
		lcancel()
		gone := errors.Is(err, backends.ErrNotFound)
		if err != nil && !gone {
			p.failStream(job, err)
			continue
		}
		end := gone || (known && finished(j.Status))
		if p.applyLog(job, off, text, next, end) && o.Finished != nil && !gone {
			go o.Finished(p.key, j, resolve)
		}
	}
}

// applyList diffs a freshly read job list against the last one.
func (p *poller) applyList(list *backends.JobList) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fresh := make(map[string]backends.Job, len(list.Jobs))
	for _, j := range list.Jobs {
		fresh[j.Name] = j
	}
	for _, j := range list.Jobs {
		if old, ok := p.jobs[j.Name]; ok && old == j {
			continue
		}
		p.emitJob("", Event{Kind: JobChanged, Job: j})
		p.emitJob(j.Name, Event{Kind: JobChanged, Job: j})
	}
	// A job is gone only when the list is whole (a first page of a longer
	// list says nothing about the jobs beyond it).
	if list.NextPage == "" {
		for name, j := range p.jobs {
			if _, ok := fresh[name]; !ok {
				p.emitJob("", Event{Kind: JobGone, Job: backends.Job{Name: name}})
				p.emitJob(name, Event{Kind: JobGone, Job: j})
			}
		}
		p.jobs = fresh
	} else {
		for name, j := range fresh {
			p.jobs[name] = j
		}
	}
	if st := p.streams[""]; st != nil {
		if st.failed != "" {
			st.failed = ""
			p.emit(st, Event{Kind: Recovered})
		}
		p.markReady(st)
	}
}

// emitJob emits e on the stream named job, if watched and ready (before
// that, the stream's first snapshot carries the state).
func (p *poller) emitJob(job string, e Event) {
	st := p.streams[job]
	if st == nil || !st.ready {
		return
	}
	if job != "" && st.ended && e.Kind == JobChanged {
		e.Ended = true
	}
	p.emit(st, e)
}

// applyLog appends new log text to a job's stream, emitting the complete
// lines, and the held-back last line too when end is set. It reports
// whether the log just ended.
func (p *poller) applyLog(job string, off int64, text string, next int64, end bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[job]
	if st == nil || st.offset != off {
		return false
	}
	st.offset = next
	if st.failed != "" {
		st.failed = ""
		p.emit(st, Event{Kind: Recovered})
	}
	buf := st.partial + text
	var lines []Line
	for {
		i := strings.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		st.lines++
		lines = append(lines, Line{N: st.lines, Text: strings.TrimSuffix(buf[:i], "\r")})
		buf = buf[i+1:]
	}
	st.partial = buf
	if end && st.partial != "" {
		st.lines++
		lines = append(lines, Line{N: st.lines, Text: st.partial})
		st.partial = ""
	}
	st.tail = append(st.tail, lines...)
	if n := len(st.tail) - p.hub.opts.TailLines; n > 0 {
		st.tail = slices.Delete(st.tail, 0, n)
	}
	ended := end && !st.ended
	st.ended = st.ended || end
	if st.ready && (len(lines) > 0 || ended) {
		p.emit(st, Event{Kind: LogLines, Job: p.jobs[job], Lines: lines, Ended: st.ended})
	}
	p.markReady(st)
	return ended
}

// fail announces a failed poll on every stream.
func (p *poller) fail(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	p.hub.opts.Log.Warn("live monitoring: poll failed", "key", p.key.String(), "err", err)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.streams {
		p.failLocked(st, err)
	}
}

func (p *poller) failStream(job string, err error) {
	p.hub.opts.Log.Warn("live monitoring: log read failed", "key", p.key.String(), "job", job, "err", err)
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.streams[job]; st != nil {
		p.failLocked(st, err)
	}
}

func (p *poller) failLocked(st *stream, err error) {
	msg := err.Error()
	if st.failed == msg {
		return
	}
	st.failed = msg
	if st.ready {
		p.emit(st, Event{Kind: Failed, Err: msg})
	}
	p.markReady(st) // a new subscriber learns of the failure in its snapshot
}

// markReady makes a stream's snapshot available to waiting subscribers.
func (p *poller) markReady(st *stream) {
	if st.ready {
		return
	}
	st.ready = true
	p.notify(st)
}

// emit numbers e, keeps it in the stream's history and tells the
// stream's subscribers.
func (p *poller) emit(st *stream, e Event) {
	st.seq++
	e.Cursor = Cursor{Gen: st.gen, Seq: st.seq}
	if len(st.history) == p.hub.opts.History {
		st.history = slices.Delete(st.history, 0, 1)
	}
	st.history = append(st.history, e)
	p.notify(st)
}

func (p *poller) notify(st *stream) {
	for s := range p.subs {
		if p.streams[s.job] == st {
			s.signal()
		}
	}
}

// snapshot is the current state of the stream named job; the caller
// holds mu.
func (p *poller) snapshot(job string, st *stream) Event {
	e := Event{Cursor: Cursor{Gen: st.gen, Seq: st.seq}, Kind: Snapshot, Err: st.failed}
	if job == "" {
		e.Jobs = make([]backends.Job, 0, len(p.jobs))
		for _, j := range p.jobs {
			e.Jobs = append(e.Jobs, j)
		}
		slices.SortStableFunc(e.Jobs, func(a, b backends.Job) int {
			if c := b.CreationTime.Compare(a.CreationTime); c != 0 {
				return c
			}
			return strings.Compare(a.Name, b.Name)
		})
		return e
	}
	e.Job = p.jobs[job]
	e.Job.Name = job
	e.Lines = slices.Clone(st.tail)
	e.Ended = st.ended
	return e
}

// Sub is one subscriber of one stream.
type Sub struct {
	p       *poller
	job     string
	resolve Resolver
	c       chan struct{}
	ended   chan struct{}
	endOnce sync.Once

	// Guarded by p.mu.
	next     uint64 // the sequence number wanted next
	snapshot bool   // the next read starts with a snapshot
}

// C is signalled when Next has something new.
func (s *Sub) C() <-chan struct{} { return s.c }

// Ended is closed when the hub stops (Close); the subscriber should
// disconnect.
func (s *Sub) Ended() <-chan struct{} { return s.ended }

func (s *Sub) signal() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

func (s *Sub) end() { s.endOnce.Do(func() { close(s.ended) }) }

// Next returns the events since the last call, at most max (<= 0: no
// limit), oldest first: a snapshot first for a new subscriber or one
// that fell behind the stream's history. It returns nothing until the
// stream's first poll has completed.
func (s *Sub) Next(max int) []Event {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[s.job]
	if st == nil || !st.ready {
		return nil
	}
	oldest := st.seq + 1 - uint64(len(st.history))
	if !s.snapshot && s.next < oldest {
		s.snapshot = true
	}
	if s.snapshot {
		s.snapshot = false
		s.next = st.seq + 1
		return []Event{p.snapshot(s.job, st)}
	}
	if s.next > st.seq {
		return nil
	}
	evs := st.history[s.next-oldest:]
	if max > 0 && len(evs) > max {
		evs = evs[:max]
		s.signal() // more to read
	}
	s.next += uint64(len(evs))
	return slices.Clone(evs)
}

// Close unsubscribes; the poller stops Linger after its last subscriber
// leaves.
func (s *Sub) Close() { s.p.drop(s) }
