package oscar

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

func first(r io.Reader, _ func()) io.Reader { return r }

func TestJobInputAndEvent(t *testing.T) {
	log := "[local] Downloading item from bucket 'wordcount' with key 'in/my story+1.txt'\n[local] Running\n"
	bucket, key, ok := jobInput(log)
	if !ok || bucket != "wordcount" || key != "in/my story+1.txt" {
		t.Fatalf("jobInput = %q %q %v", bucket, key, ok)
	}
	if _, key, _ := jobInput("[local] Downloading item from bucket 'b' with key 'in/it's here.txt'\n"); key != "in/it's here.txt" {
		t.Errorf("key with a quote = %q", key)
	}
	if _, _, ok := jobInput("hello\n"); ok {
		t.Fatal("jobInput found an input in a log without one")
	}
	ev, err := storageEvent(bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Key     string
		Records []struct {
			EventSource string `json:"eventSource"`
			S3          struct {
				Bucket struct{ Name string }
				Object struct{ Key string }
			} `json:"s3"`
		}
	}
	if err := json.Unmarshal(ev, &got); err != nil {
		t.Fatal(err)
	}
	if got.Key != "wordcount/in%2Fmy+story%2B1.txt" || got.Records[0].EventSource != "minio:s3" ||
		got.Records[0].S3.Bucket.Name != "wordcount" || got.Records[0].S3.Object.Key != "in%2Fmy+story%2B1.txt" {
		t.Fatalf("event = %s", ev)
	}
}

func TestSupervisorEncoding(t *testing.T) {
	read := func(r io.Reader) string {
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// Input: JSON as is, anything else in base64.
	if got := read(first(supervisorInput(strings.NewReader(`{"a":1}`)))); got != `{"a":1}` {
		t.Errorf("JSON input sent as %q", got)
	}
	if got := read(first(supervisorInput(strings.NewReader("hello world")))); got != "aGVsbG8gd29ybGQ=" {
		t.Errorf("text input sent as %q", got)
	}
	// Output: base64 of a file is decoded; stdout passes through.
	tests := []struct{ in, want string }{
		{"MyBiZXRhCjIgYWxwaGEKMSBnYW1tYQo=\n", "3 beta\n2 alpha\n1 gamma\n"},
		{"hello world\n", "hello world\n"},
		{"abc", "abc"},
	}
	for _, tt := range tests {
		out, err := supervisorOutput(strings.NewReader(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := read(out); got != tt.want {
			t.Errorf("output %q decoded to %q, want %q", tt.in, got, tt.want)
		}
	}
	// A long base64 answer streams through the decoder.
	long := strings.Repeat("0123456789abcdef", 1000)
	enc := base64.StdEncoding.EncodeToString([]byte(long))
	out, _ := supervisorOutput(strings.NewReader(enc))
	if got := read(out); got != long {
		t.Errorf("long base64 answer decoded to %d bytes, want %d", len(got), len(long))
	}
}

// TestRunFileEndsItsEncoder: when the request ends before the cluster
// reads the input (here /system/info fails, so /run is never sent), the
// goroutine that base64-encodes the input must end too. Without the pipe's
// read side being closed it blocks on its first write forever.
func TestRunFileEndsItsEncoder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	hc := NewHTTPClient(false)
	c, err := New(Config{Name: "down", Endpoint: srv.URL, Username: "u", Password: "p", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	settle := func() int {
		hc.CloseIdleConnections()
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()
	const calls = 20
	for range calls {
		_, err := c.RunFile(context.Background(), "svc", strings.NewReader("not JSON, so it is base64-encoded"))
		if !errors.Is(err, backends.ErrUnavailable) {
			t.Fatalf("RunFile on a failing cluster = %v, want unavailable", err)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := settle()
		if n < before+calls/2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before %d failed runs, %d after: the input encoders leak\n%s",
				before, calls, n, buf[:runtime.Stack(buf, true)])
		}
	}
}
