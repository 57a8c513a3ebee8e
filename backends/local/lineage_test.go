package local

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// The two-stage sample records its causality exactly: the upload starts
// wc-count, which writes counts/story.counts, whose upload starts
// wc-top10, which writes top10/story.top10.txt. A second upload of the
// same key by the user starts a run of its own.
func TestJobTracesFollowARun(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)
	for _, s := range loadFDL(t, filepath.Join("..", "..", "examples", "wordcount", "wordcount.yaml")) {
		a.must(201, "POST", "/system/services", mustMarshal(t, s))
	}
	s3 := a.s3Client()
	upload := func() {
		text := "a b b c c c\n"
		if _, err := s3.PutObject(context.Background(), "wordcount", "in/story.txt", strings.NewReader(text), int64(len(text)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("upload: %v", err)
		}
	}
	upload()
	a.waitJobs("wc-top10", 30*time.Second, func(r jobsResponse) bool { return countStatus(r, StatusSucceeded) == 1 })

	count := c.JobTraces("wc-count")
	top := c.JobTraces("wc-top10")
	if len(count) != 1 || len(top) != 1 {
		t.Fatalf("traces: %d of wc-count, %d of wc-top10; want 1 each", len(count), len(top))
	}
	first, second := count[0], top[0]
	if first.Input != (ObjectRef{"wordcount", "in/story.txt"}) || first.Cause != (JobID{}) {
		t.Errorf("first stage: input %+v cause %+v; want the upload, no cause", first.Input, first.Cause)
	}
	if len(first.Outputs) != 1 || first.Outputs[0] != (ObjectRef{"wordcount", "counts/story.counts"}) {
		t.Errorf("first stage outputs = %+v, want wordcount/counts/story.counts", first.Outputs)
	}
	if second.Cause != first.JobID || second.Input != first.Outputs[0] {
		t.Errorf("second stage: cause %+v input %+v; want %+v and %+v", second.Cause, second.Input, first.JobID, first.Outputs[0])
	}
	if len(second.Outputs) != 1 || second.Outputs[0].Key != "top10/story.top10.txt" {
		t.Errorf("second stage outputs = %+v", second.Outputs)
	}

	// The same key uploaded again from outside: a new run, no cause.
	upload()
	a.waitJobs("wc-count", 30*time.Second, func(r jobsResponse) bool { return len(r.Jobs) == 2 })
	for _, tr := range c.JobTraces("wc-count") {
		if tr.Cause != (JobID{}) {
			t.Errorf("%s: cause %+v, want none (uploaded by the user)", tr.Job, tr.Cause)
		}
	}
}
