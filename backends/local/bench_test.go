package local

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// BenchmarkUploadBurst uploads 200 small files at once into a service's
// input and waits for all 200 jobs to finish. It reports jobs/s (first
// upload to last job finished), p50/p99 from upload to job start, and the
// peak resident memory of the test process and of the versitygw child.
func BenchmarkUploadBurst(b *testing.B) {
	const files = 200
	c := startCluster(b, Config{})
	a := newAPI(b, c)
	s3 := a.s3Client()
	ctx := context.Background()
	var lat []time.Duration
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("burst-%d", i)
		a.must(201, "POST", "/system/services", mustMarshal(b, map[string]any{
			"name": name, "image": "alpine",
			"script": "wc -c < \"$INPUT_FILE_PATH\" > \"$TMP_OUTPUT_DIR/size.txt\"",
			"input":  []map[string]any{{"path": name + "/in"}},
			"output": []map[string]any{{"path": name + "/out"}},
		}))
		b.StartTimer()
		start := time.Now()
		uploaded := make(map[string]time.Time, files)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for f := 0; f < files; f++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("in/file-%03d.txt", f)
				body := strings.Repeat("x", 100+f)
				t0 := time.Now()
				if _, err := s3.PutObject(ctx, name, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
					b.Errorf("upload %s: %v", key, err)
					return
				}
				mu.Lock()
				uploaded[key] = t0
				mu.Unlock()
			}()
		}
		wg.Wait()
		deadline := time.Now().Add(2 * time.Minute)
		var jobs []jobRecord
		for {
			jobs = c.jobs.all(name)
			if len(jobs) == files && allFinished(jobs) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d jobs finished within 2 minutes", len(jobs), files)
			}
			time.Sleep(10 * time.Millisecond)
		}
		var last time.Time
		for _, j := range jobs {
			if j.Status != StatusSucceeded {
				b.Fatalf("job %s is %s", j.Name, j.Status)
			}
			t0, ok := uploaded[j.Key]
			if !ok {
				b.Fatalf("job %s for unknown key %q", j.Name, j.Key)
			}
			lat = append(lat, j.Started.Sub(t0))
			if j.Finished.After(last) {
				last = j.Finished
			}
		}
		elapsed += last.Sub(start)
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))].Seconds() * 1000 }
	b.ReportMetric(float64(files*b.N)/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(pct(0.50), "p50-start-ms")
	b.ReportMetric(pct(0.99), "p99-start-ms")
	b.ReportMetric(float64(vmHWM(os.Getpid()))/1024, "peak-MiB")
	b.ReportMetric(float64(vmHWM(c.gw.pid()))/1024, "versitygw-peak-MiB")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
}

// vmHWM returns a process's peak resident set size in KiB (0 if unknown).
func vmHWM(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
