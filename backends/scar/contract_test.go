package scar_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/backends/scar/awstest"
)

// newBackend is an AWS account on the fake control plane, with S3 data on
// a real S3 server. The contract's images are on ghcr.io, so the account
// mirrors them into ECR (Defaults.ImageMirror).
func newBackend(t *testing.T, rt awstest.Runtime) (*scar.Backend, *awstest.Fake) {
	t.Helper()
	srv := s3test.Start(t)
	fake := awstest.Start(t, srv.Endpoint, rt)
	b, err := scar.New(scar.Config{
		Name: "test",
		AWS: aws.Config{
			Region:      awstest.Region,
			Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		},
		Defaults:  scar.Defaults{Role: role, ImageMirror: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror"},
		Endpoints: fake.Endpoints(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, fake
}

func TestContract(t *testing.T) {
	backendstest.RunContract(t, func(t *testing.T) backends.Backend {
		b, _ := newBackend(t, rie(t))
		return b
	})
}

// TestInvocationsOnTheRuntimeEmulator runs a function on the Lambda
// Runtime Interface Emulator: a synchronous run answers, an upload's
// invocation and a failing one are jobs with their logs and states.
func TestInvocationsOnTheRuntimeEmulator(t *testing.T) {
	ctx := t.Context()
	b, fake := newBackend(t, rie(t))
	svc := &backends.Service{Name: "resize", Image: "ghcr.io/grycap/imagemagick",
		Input: []backends.StorageIOConfig{{StorageProvider: "s3", Path: "photos/in"}}}
	if err := b.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	body, err := b.Run(ctx, "resize", strings.NewReader(`{"hello":1}`))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out, _ := io.ReadAll(body)
	body.Close()
	if string(out) != `{"bytes":11,"handled":0}` {
		t.Errorf("Run answered %s", out)
	}
	_, err = b.Run(ctx, "resize", strings.NewReader(`{"fail":true}`))
	if !errors.Is(err, backends.ErrInvalid) || !strings.Contains(err.Error(), "asked to fail") {
		t.Errorf("Run of a failing invocation: %v, want invalid with the function's error", err)
	}

	if err := b.PutObject(ctx, "photos", "in/cat.png", strings.NewReader("png"), 3, "image/png"); err != nil {
		t.Fatal(err)
	}
	if got := fake.Deliver("photos", "in/cat.png", 3); !slices.Equal(got, []string{"resize"}) {
		t.Fatalf("upload invoked %v", got)
	}
	fake.Wait()
	jobs, err := b.ListJobs(ctx, "resize", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Jobs) != 3 {
		t.Fatalf("jobs = %+v, want the two runs and the upload's", jobs.Jobs)
	}
	states := map[backends.JobStatus]int{}
	var uploadLog string
	for _, j := range jobs.Jobs {
		states[j.Status]++
		text, err := b.JobLog(ctx, "resize", j.Name, false)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "processing s3://photos/in%2Fcat.png") {
			uploadLog = text
		}
		if !strings.HasPrefix(text, "START RequestId: "+j.Name) || !strings.Contains(text, "REPORT RequestId: "+j.Name) {
			t.Errorf("log of %s is not one request's:\n%s", j.Name, text)
		}
	}
	if states[backends.JobSucceeded] != 2 || states[backends.JobFailed] != 1 {
		t.Errorf("job states = %v, want 2 succeeded and 1 failed", states)
	}
	if uploadLog == "" {
		t.Error("no job logged the uploaded object")
	}
}
