package handlers

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/templates"
)

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

func TestSortServices(t *testing.T) {
	rows := []templates.ServiceRow{
		{Cluster: "b", Name: "zeta", Memory: "1Gi"},
		{Cluster: "a", Name: "Alpha", Memory: "2Gi"},
		{Cluster: "a", Name: "zeta", Memory: "512Mi"},
	}
	names := func() string {
		var s []string
		for _, r := range rows {
			s = append(s, r.Cluster+"/"+r.Name)
		}
		return strings.Join(s, " ")
	}
	tests := []struct {
		by   string
		desc bool
		want string
	}{
		{"", false, "a/Alpha a/zeta b/zeta"},
		{"name", true, "a/zeta b/zeta a/Alpha"},
		{"cluster", false, "a/Alpha a/zeta b/zeta"},
		{"memory", false, "a/zeta b/zeta a/Alpha"},
	}
	for _, tt := range tests {
		sortServices(rows, tt.by, tt.desc)
		if got := names(); got != tt.want {
			t.Errorf("sort by %q desc=%v = %s, want %s", tt.by, tt.desc, got, tt.want)
		}
	}
}

func TestLogLinesSearch(t *testing.T) {
	lines, total := logLines("start\nERROR disk full\nretry\nerror again\n", "error")
	if total != 4 || len(lines) != 2 || lines[0].N != 2 || lines[1].N != 4 {
		t.Fatalf("lines = %+v, total %d", lines, total)
	}
	if lines, _ := logLines("a\nb\n", ""); len(lines) != 2 {
		t.Fatalf("no query keeps every line: %+v", lines)
	}
}

func TestAttachmentHeaderIsSafe(t *testing.T) {
	got := attachmentHeader("we\"ird\r\nname/ü.txt")
	if strings.ContainsAny(got, "\r\n") || strings.Contains(got, `we"`) || !strings.Contains(got, "filename*=UTF-8''") {
		t.Fatalf("header = %q", got)
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
	if got := read(supervisorInput(strings.NewReader(`{"a":1}`))); got != `{"a":1}` {
		t.Errorf("JSON input sent as %q", got)
	}
	if got := read(supervisorInput(strings.NewReader("hello world"))); got != "aGVsbG8gd29ybGQ=" {
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
