package local

import (
	"encoding/json"
	"strings"
	"testing"
)

func mustJSONDecode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func TestNormalizePaths(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"in", "svc/in"},
		{" /in/ ", "svc/in"},
		{"bucket/a/b/", "bucket/a/b"},
		{"/bucket/x", "bucket/x"},
	}
	for _, tt := range tests {
		s := Service{Name: "svc", Image: "i", Script: "s", Input: []StorageIOConfig{{StorageProvider: "minio", Path: tt.in}}}
		if err := s.normalize(); err != nil {
			t.Fatalf("path %q: %v", tt.in, err)
		}
		if got := s.Input[0].Path; got != tt.want {
			t.Errorf("path %q: got %q, want %q", tt.in, got, tt.want)
		}
		if got := s.Input[0].StorageProvider; got != "minio" {
			t.Errorf("provider rewritten to %q", got)
		}
	}
}

func TestOutputFilters(t *testing.T) {
	tests := []struct {
		name   string
		prefix []string
		suffix []string
		want   bool
	}{
		{"a.csv", nil, nil, true},
		{"a.csv", nil, []string{".txt", ".csv"}, true},
		{"a.csv", nil, []string{".txt"}, false},
		{"out-a.csv", []string{"out-"}, []string{".csv"}, true},
		{"a.csv", []string{"out-"}, []string{".csv"}, false},
	}
	for _, tt := range tests {
		if got := passes(tt.name, StorageIOConfig{Prefix: tt.prefix, Suffix: tt.suffix}); got != tt.want {
			t.Errorf("passes(%q, prefix %v, suffix %v) = %v, want %v", tt.name, tt.prefix, tt.suffix, got, tt.want)
		}
	}
}

func TestSplitEvents(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantBucket string
		wantKey    string
	}{
		{"versitygw raw key", `{"Records":[{"eventName":"s3:ObjectCreated:Put","eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"in/a b+c.txt"}}}]}`, "b", "in/a b+c.txt"},
		{"minio encoded key", `{"EventName":"s3:ObjectCreated:Put","Key":"b/in%2Fa+b.txt","Records":[{"eventName":"s3:ObjectCreated:Put","eventSource":"minio:s3","s3":{"bucket":{"name":"b"},"object":{"key":"in%2Fa+b.txt"}}}]}`, "b", "in/a b.txt"},
		{"test event", `{"Service":"S3","Event":"s3:TestEvent"}`, "", ""},
		{"garbage", `not json`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := splitEvents([]byte(tt.body))
			if tt.wantBucket == "" {
				if len(evs) != 0 {
					t.Fatalf("got %d events, want none", len(evs))
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("got %d events, want 1", len(evs))
			}
			if evs[0].bucket != tt.wantBucket || evs[0].key != tt.wantKey {
				t.Errorf("got %s/%s, want %s/%s", evs[0].bucket, evs[0].key, tt.wantBucket, tt.wantKey)
			}
			// The EVENT body reads back to the same object.
			b, k, ok := parseS3Event(evs[0].body)
			if !ok || b != tt.wantBucket || k != tt.wantKey {
				t.Errorf("EVENT %s parses to %s/%s (%v)", evs[0].body, b, k, ok)
			}
			if !strings.Contains(string(evs[0].body), `"eventSource":"minio:s3"`) {
				t.Errorf("EVENT is not MinIO-shaped: %s", evs[0].body)
			}
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "localhost:8080": true, "[::1]:1": true, "0.0.0.0:80": false, ":8080": false, "10.0.0.1:80": false} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}
