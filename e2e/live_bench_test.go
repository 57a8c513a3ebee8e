package e2e

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/handlers"
)

// BenchmarkLiveLocalJob: 1,000 WebSocket viewers of one job running on
// the embedded local cluster (which pushes its changes to the hub), the
// whole server in this process. The job prints its clock every 20 ms;
// each viewer measures how long after being written each line arrived.
// Reported: p50/p99 of that latency, the process heap with the 1,000
// connections open (server and clients together: an upper bound for
// the server), and goroutines left after they all closed.
//
//	go test ./e2e -run '^$' -bench BenchmarkLiveLocalJob -benchtime 1x
func BenchmarkLiveLocalJob(b *testing.B) {
	for range b.N {
		benchLiveLocal(b, 1000)
	}
}

func benchLiveLocal(b *testing.B, viewers int) {
	b.StopTimer()
	appURL, openURL, dataDir := benchApp(b)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if openURL != "" {
		resp, err := hc.Get(openURL)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		hc.CloseIdleConnections()
	}
	u, _ := url.Parse(appURL)
	var cookies []string
	for _, c := range jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	sec, rt := localAccess(b, dataDir)
	cl, err := oscar.New(oscar.Config{Name: "local", Endpoint: rt.Endpoint, Username: sec.User, Password: sec.Password})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// 5 s for the viewers to connect, then 150 lines over about 3 s.
	script := "#!/bin/sh\nsleep 5\nfor i in $(seq 1 150); do echo \"t $(date +%s%N)\"; sleep 0.02; done\n"
	if err := cl.CreateService(ctx, &backends.Service{Name: "ticker", Image: "-", Script: script, Memory: "64Mi", CPU: "0.1"}); err != nil {
		b.Fatal(err)
	}
	ref, err := cl.SubmitJob(ctx, "ticker", strings.NewReader("{}"))
	if err != nil || ref.Name == "" {
		b.Fatalf("submitting: %v (job %q)", err, ref.Name)
	}
	hdr := http.Header{"Origin": {appURL}, "Cookie": {strings.Join(cookies, "; ")}}
	wsURL := "ws" + strings.TrimPrefix(appURL, "http") + "/services/local/ticker/jobs/" + ref.Name + "/live"

	// The baseline: the server with its poller and its connections to the
	// cluster warm, after one viewer came and went.
	warm, _, err := websocket.DefaultDialer.Dial(wsURL, hdr)
	if err != nil {
		b.Fatal(err)
	}
	var first handlers.LiveMessage
	if err := warm.ReadJSON(&first); err != nil {
		b.Fatal(err)
	}
	warm.Close()
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	base := runtime.NumGoroutine()
	var mu sync.Mutex
	var lat []time.Duration
	var wg, connected sync.WaitGroup
	conns := make([]*websocket.Conn, viewers)
	sem := make(chan struct{}, 32)
	for i := range conns {
		connected.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			c, _, err := websocket.DefaultDialer.Dial(wsURL, hdr)
			<-sem
			connected.Done()
			if err != nil {
				b.Error(err)
				return
			}
			conns[i] = c
			var mine []time.Duration
			for {
				var m handlers.LiveMessage
				if err := c.ReadJSON(&m); err != nil {
					break
				}
				now := time.Now().UnixNano()
				for _, l := range m.Lines {
					// "t <nanos>": the time the job wrote the line.
					f := strings.Fields(l.Text)
					if len(f) == 2 && f[0] == "t" {
						if at, err := strconv.ParseInt(f[1], 10, 64); err == nil {
							mine = append(mine, time.Duration(now-at))
						}
					}
				}
				if m.Ended {
					break
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	connected.Wait()
	var open runtime.MemStats
	runtime.ReadMemStats(&open)
	b.StartTimer()
	wg.Wait()
	b.StopTimer()
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	if len(lat) < viewers*100 {
		b.Fatalf("%d line arrivals for %d viewers of 150 lines", len(lat), viewers)
	}
	leftover := 0
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if leftover = runtime.NumGoroutine() - base; leftover <= 0 {
			break
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-line-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds())/1000, "p99-line-ms")
	b.ReportMetric(float64(open.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(max(leftover, 0)), "goroutines-left")
	if leftover > 0 {
		b.Errorf("%d goroutines more than before the viewers came", leftover)
	}
}
