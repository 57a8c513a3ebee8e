package scar_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/backends/scar/awstest"
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// follow subscribes to a stream of the live hub and returns the events
// until cond holds on what was seen (or the test's patience ends).
func follow(t *testing.T, h *watch.Hub, b *scar.Backend, service, job string, cond func([]watch.Event) bool) []watch.Event {
	t.Helper()
	sub, err := h.Subscribe(watch.Key{Scope: "1", Cluster: "lab", Service: service}, job,
		func(context.Context) (backends.Jobs, error) { return b, nil }, watch.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var seen []watch.Event
	deadline := time.After(20 * time.Second)
	for !cond(seen) {
		select {
		case <-sub.C():
			seen = append(seen, sub.Next(100)...)
		case <-deadline:
			t.Fatalf("live events for %s/%q: %+v", service, job, seen)
		}
	}
	return seen
}

// TestLiveHubFollowsInvocationsAndBatchJobs: the live hub, unchanged,
// follows an AWS function's invocations (grouped per request from
// CloudWatch Logs) and a batch-mode function's AWS Batch jobs (status from
// Batch, output from /aws/batch/job) through ListJobs and JobLogFrom.
func TestLiveHubFollowsInvocationsAndBatchJobs(t *testing.T) {
	ctx := t.Context()
	b, fake := newBackend(t, echoRuntime())
	hub := watch.New(watch.Options{Fast: 50 * time.Millisecond, Linger: -1})
	defer hub.Close()

	// A Lambda function: an upload's invocation appears and ends with its log.
	if err := b.CreateService(ctx, &backends.Service{Name: "thumbs", Image: ecrImage,
		Input: []backends.StorageIOConfig{{StorageProvider: "s3", Path: "pics/in"}}}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Deliver("pics", "in/cat.jpg", 3); len(got) != 1 {
		t.Fatalf("delivery invoked %v", got)
	}
	var reqID string
	follow(t, hub, b, "thumbs", "", func(evs []watch.Event) bool {
		for _, e := range evs {
			for _, j := range append(e.Jobs, e.Job) {
				if j.Name != "" && j.Status == backends.JobSucceeded {
					reqID = j.Name
					return true
				}
			}
		}
		return false
	})
	lines := follow(t, hub, b, "thumbs", reqID, func(evs []watch.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Ended
	})
	var text []string
	for _, e := range lines {
		for _, l := range e.Lines {
			text = append(text, l.Text)
		}
	}
	if all := strings.Join(text, "\n"); !strings.Contains(all, "thumbs processing in%2Fcat.jpg") || !strings.HasPrefix(all, "START RequestId: "+reqID) {
		t.Errorf("the invocation's live log:\n%s", all)
	}

	// A batch-mode function: an asynchronous run is an AWS Batch job.
	doc, err := fdl.Parse("batch.yaml", []byte(`functions:
  aws:
  - lambda:
      name: heavy
      execution_mode: batch
      container: {image: `+ecrImage+`}
    batch:
      compute_resources:
        subnets: [subnet-1]
        security_group_ids: [sg-1]
        instance_role: arn:aws:iam::123456789012:instance-profile/ecsInstanceRole
`))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := scar.ServiceOf(doc.Model().AWS[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	ref, err := b.SubmitJob(ctx, "heavy", strings.NewReader(string(awstest.S3Event("data", "big/file.csv", 9))))
	if err != nil || ref.Name == "" {
		t.Fatalf("submit = %+v, %v", ref, err)
	}
	fake.Wait()
	evs := follow(t, hub, b, "heavy", ref.Name, func(evs []watch.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Ended
	})
	var status backends.JobStatus
	text = nil
	for _, e := range evs {
		if e.Job.Status != "" {
			status = e.Job.Status
		}
		for _, l := range e.Lines {
			text = append(text, l.Text)
		}
	}
	if status != backends.JobSucceeded || !hasLine(text, "heavy processing big%2Ffile.csv") {
		t.Errorf("the Batch job: status %q, log %q", status, text)
	}
	list, err := b.ListJobs(ctx, "heavy", "")
	if err != nil || len(list.Jobs) != 1 || list.Jobs[0].Name != ref.Name || list.Jobs[0].StartTime.IsZero() || list.Jobs[0].FinishTime.IsZero() {
		t.Errorf("heavy's jobs = %+v, %v", list, err)
	}
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
