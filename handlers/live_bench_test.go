package handlers

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/watch"
)

// Live monitoring at scale: 1,000 WebSocket viewers (real gorilla clients
// over loopback, through the handler) of one running job. Run with
//
//	go test ./handlers -run '^$' -bench BenchmarkLive -benchtime 1x
//
// Reported: backend polls per interval (ListJobs calls / intervals
// elapsed), p99 latency from a log line written (or a status change) to
// its arrival at a viewer, in ms and as a multiple of the poll interval,
// the process heap while the 1,000 connections are open (server and
// clients together, an upper bound for the server), and the goroutines
// left over after every viewer disconnected.

const benchViewers = 1000

// BenchmarkLivePolled is a polled cluster (OSCAR-style): the hub reads
// the job list and the log once per Fast interval.
func BenchmarkLivePolled(b *testing.B) {
	for range b.N {
		benchLive(b, time.Second, false)
	}
}

// BenchmarkLivePushed is a cluster that says when a job wrote (as the
// local cluster can, through Hub.Wake): the hub polls on each push.
func BenchmarkLivePushed(b *testing.B) {
	for range b.N {
		benchLive(b, time.Second, true)
	}
}

type benchViewer struct {
	conn    *websocket.Conn
	lat     []time.Duration
	status  []time.Duration
	got     atomic.Bool
	done    chan struct{}
	readErr error
}

func benchLive(b *testing.B, interval time.Duration, push bool) {
	b.StopTimer()
	f := newLiveFixtureWith(b, watch.Options{Fast: interval, Slow: interval, Linger: -1, History: 4096})
	key := watch.Key{Scope: strconv.FormatInt(f.user, 10), Cluster: "mem", Service: "svc"}
	runtime.GC()
	baseGoroutines := runtime.NumGoroutine()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const lines = 400
	written := make([]atomic.Int64, lines+2) // unix nanos at which line n was written
	statusAt := make([]atomic.Int64, 16)     // when status change k was made

	viewers := make([]*benchViewer, benchViewers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range viewers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, _, err := f.dial(b, "/services/mem/svc/jobs/j1/live", f.srv.URL, true)
			if err != nil {
				b.Error(err)
				return
			}
			v := &benchViewer{conn: c, done: make(chan struct{})}
			viewers[i] = v
			go v.read(written, statusAt)
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	waitUntil(b, "every viewer's snapshot", func() bool {
		for _, v := range viewers {
			if !v.got.Load() {
				return false
			}
		}
		return true
	})
	var open runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&open)

	b.StartTimer()
	list0, _ := f.hub.Calls()
	start := time.Now()
	change := 0
	for n := 2; n <= lines+1; n++ {
		written[n].Store(time.Now().UnixNano())
		f.mem.UpdateJob("svc", "j1", "", "line "+strconv.Itoa(n)+"\n")
		if push {
			f.hub.Wake(key)
		}
		if n%40 == 0 && change < len(statusAt) {
			statusAt[change].Store(time.Now().UnixNano())
			f.mem.UpdateJob("svc", "j1", benchStatuses[change%2], "")
			change++
		}
		time.Sleep(13 * time.Millisecond)
	}
	time.Sleep(2 * interval)
	elapsed := time.Since(start)
	list1, _ := f.hub.Calls()
	b.StopTimer()

	for _, v := range viewers {
		v.conn.Close()
		<-v.done
	}
	var all, st []time.Duration
	for _, v := range viewers {
		if len(v.lat) != lines {
			b.Fatalf("a viewer received %d of %d lines", len(v.lat), lines)
		}
		all = append(all, v.lat...)
		st = append(st, v.status...)
	}
	leftover := -1
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		if leftover = runtime.NumGoroutine() - baseGoroutines; leftover <= 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	p99 := percentile(all, 99)
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-line-ms")
	b.ReportMetric(float64(percentile(all, 50).Microseconds())/1000, "p50-line-ms")
	if len(st) > 0 {
		sp := percentile(st, 99)
		b.ReportMetric(float64(sp.Microseconds())/1000, "p99-status-ms")
		b.ReportMetric(float64(sp)/float64(interval), "p99-status-intervals")
	}
	if !push {
		b.ReportMetric(float64(list1-list0)/(float64(elapsed)/float64(interval)), "polls/interval")
	} else {
		b.ReportMetric(float64(list1-list0)/float64(lines), "polls/line")
	}
	b.ReportMetric(float64(open.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(open.HeapInuse-before.HeapInuse)/(1<<20), "heap-growth-MB")
	b.ReportMetric(float64(max(leftover, 0)), "goroutines-left")
	if leftover > 0 {
		b.Errorf("%d goroutines more than before the viewers connected", leftover)
	}
}

// read records, for each line and status change it receives, how long
// after it was made it arrived.
func (v *benchViewer) read(written, statusAt []atomic.Int64) {
	defer close(v.done)
	seenStatus := 0
	for {
		var m LiveMessage
		if err := v.conn.ReadJSON(&m); err != nil {
			v.readErr = err
			return
		}
		now := time.Now().UnixNano()
		if !v.got.Load() {
			v.got.Store(true) // the snapshot: line 1, written before the viewer came
			continue
		}
		for _, l := range m.Lines {
			if l.N < len(written) {
				v.lat = append(v.lat, time.Duration(now-written[l.N].Load()))
			}
		}
		for _, s := range m.Swap {
			// The newest change this status line shows (changes made
			// within one poll arrive together, as the last one).
			for k := len(statusAt) - 1; k >= seenStatus; k-- {
				at := statusAt[k].Load()
				if at != 0 && s.ID == "job-status" && strings.Contains(s.HTML, ">"+string(benchStatuses[k%2])+"<") {
					v.status = append(v.status, time.Duration(now-at))
					seenStatus = k + 1
					break
				}
			}
		}
	}
}

var benchStatuses = []backends.JobStatus{backends.JobPending, backends.JobRunning}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
