package scar_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/backends/scar/awstest"
	"github.com/fdlstudio/fdlstudio/fdl"
)

const (
	ecrImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mask-detector-yolo:mini"
	role     = "arn:aws:iam::123456789012:role/scar-lambda"
)

// env is a fake AWS control plane over a real S3 server, and SDK clients
// pointed at it.
type env struct {
	fake *awstest.Fake
	c    *scar.Clients
}

func newEnv(t *testing.T, rt awstest.Runtime) env {
	t.Helper()
	srv := s3test.Start(t)
	fake := awstest.Start(t, srv.Endpoint, rt)
	cfg := aws.Config{
		Region:      awstest.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	}
	return env{fake: fake, c: scar.NewClients(cfg, fake.Endpoints())}
}

// maskDetector is the AWS function of the SCAR mask-detector example.
func maskDetector(t *testing.T) *fdl.AWSEntry {
	t.Helper()
	data, err := os.ReadFile("../../fdl/testdata/examples/mask-detector-workflow_scar-mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := fdl.Parse("mask.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(doc.Model().AWS); n != 1 {
		t.Fatalf("example has %d aws functions, want 1", n)
	}
	return doc.Model().AWS[0]
}

// echoRuntime logs the key of each S3 record it gets and answers it.
func echoRuntime() awstest.Runtime {
	return awstest.RuntimeFunc(func(_ context.Context, fn string, payload []byte) (awstest.Invocation, error) {
		var ev struct {
			Records []struct {
				S3 struct {
					Object struct{ Key string } `json:"object"`
				} `json:"s3"`
			}
		}
		_ = json.Unmarshal(payload, &ev)
		var log []string
		for _, r := range ev.Records {
			log = append(log, fn+" processing "+r.S3.Object.Key)
		}
		return awstest.Invocation{Payload: payload, Log: log}, nil
	})
}

// rie is the Lambda Runtime Interface Emulator running this test binary
// as the function (see TestMain).
func rie(t *testing.T) awstest.Runtime {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return awstest.StartRIE(t, exe)
}

func TestPrepareRefusesImagesLambdaCannotPull(t *testing.T) {
	e := maskDetector(t)
	_, err := scar.Prepare(e, scar.Defaults{Role: role})
	if !errors.Is(err, backends.ErrInvalid) {
		t.Fatalf("Prepare with a Docker Hub image: %v, want invalid", err)
	}
	for _, want := range []string{"grycap/mask-detector-yolo:mini", "Amazon ECR", "lambda.container.image"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	e.Lambda.Container.Image = ecrImage
	if _, err := scar.Prepare(e, scar.Defaults{}); err == nil || !strings.Contains(err.Error(), "iam.role") {
		t.Errorf("Prepare without any role: %v, want a message about iam.role", err)
	}
	if _, err := scar.Prepare(e, scar.Defaults{Role: role}); err != nil {
		t.Errorf("Prepare with an ECR image and a role: %v", err)
	}
}

func TestDeployUpdateTriggerDelete(t *testing.T) {
	ctx := context.Background()
	ev := newEnv(t, rie(t))
	e := maskDetector(t)
	e.Lambda.Container.Image = ecrImage
	f, err := scar.Prepare(e, scar.Defaults{Role: role})
	if err != nil {
		t.Fatal(err)
	}

	// 1. Deploy: created, tagged, with the FDL variable, triggers in place.
	res, err := scar.Deploy(ctx, ev.c, f)
	if err != nil {
		t.Fatalf("first deploy: %v", err)
	}
	if !res.Created {
		t.Error("first deploy did not create the function")
	}
	got, err := ev.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("scar-mask-detector")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tags["createdby"] != "scar" || got.Tags["owner"] != awstest.User {
		t.Errorf("tags = %v, want createdby=scar owner=%s", got.Tags, awstest.User)
	}
	if m := aws.ToInt32(got.Configuration.MemorySize); m != 1024 {
		t.Errorf("memory = %d, want 1024", m)
	}
	back, err := scar.DecodeFDL(got.Configuration.Environment.Variables["FDL"])
	if err != nil || back.Lambda.Name != "scar-mask-detector" || back.Lambda.Input[0].Path != "scar-mask-detector/intermediate" {
		t.Errorf("FDL variable reads back as %+v, %v", back, err)
	}
	if ids := ev.fake.NotificationIDs("scar-mask-detector"); len(ids) != 1 {
		t.Errorf("notification entries = %v, want one", ids)
	}
	if p := ev.fake.Permissions("scar-mask-detector"); len(p) != 1 {
		t.Errorf("permissions = %v, want the S3 one", p)
	}
	groups, err := ev.c.Logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/")})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToInt32(groups.LogGroups[0].RetentionInDays) != 30 {
		t.Errorf("log groups = %+v, %v; want /aws/lambda/scar-mask-detector kept 30 days", groups, err)
	}
	for _, key := range []string{"intermediate/"} {
		if _, err := ev.c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("scar-mask-detector"), Key: aws.String(key)}); err != nil {
			t.Errorf("folder %s in the real S3 server: %v", key, err)
		}
	}
	wantOrder := []string{"sts:GetCallerIdentity", "lambda:GetFunction", "lambda:CreateFunction", "lambda:GetFunction",
		"logs:CreateLogGroup", "logs:PutRetentionPolicy", "lambda:AddPermission",
		"s3:GetBucketNotificationConfiguration", "s3:PutBucketNotificationConfiguration"}
	if calls := ev.fake.Calls(); !isSubsequence(wantOrder, calls) {
		t.Errorf("calls %v\ndo not contain, in order, %v", calls, wantOrder)
	}

	// 2. Deploy again with more memory: an update, not "already exists".
	e.Lambda.Memory = 2048
	if f, err = scar.Prepare(e, scar.Defaults{Role: role}); err != nil {
		t.Fatal(err)
	}
	res, err = scar.Deploy(ctx, ev.c, f)
	if err != nil {
		t.Fatalf("second deploy: %v", err)
	}
	if res.Created {
		t.Error("second deploy created instead of updating")
	}
	cfg, err := ev.c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("scar-mask-detector")})
	if err != nil || aws.ToInt32(cfg.MemorySize) != 2048 {
		t.Errorf("after update memory = %v, %v; want 2048", cfg, err)
	}
	if ids := ev.fake.NotificationIDs("scar-mask-detector"); len(ids) != 1 {
		t.Errorf("after update notification entries = %v, want still one", ids)
	}

	// 3. Upload to the input folder: S3 notifies, the function runs, logs.
	key := "intermediate/face.jpg"
	if _, err := ev.c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("scar-mask-detector"), Key: &key, Body: strings.NewReader("jpeg")}); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if other := ev.fake.Deliver("scar-mask-detector", "result/x.jpg", 1); len(other) != 0 {
		t.Errorf("an object outside the input folder invoked %v", other)
	}
	if inv := ev.fake.Deliver("scar-mask-detector", key, 4); !slices.Equal(inv, []string{"scar-mask-detector"}) {
		t.Fatalf("delivery invoked %v", inv)
	}
	ev.fake.Wait()
	logs, err := ev.c.Logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/scar-mask-detector")})
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, e := range logs.Events {
		text = append(text, aws.ToString(e.Message))
	}
	joined := strings.Join(text, "\n")
	if !strings.Contains(joined, "processing s3://scar-mask-detector/intermediate%2Fface.jpg") || !strings.HasPrefix(joined, "START RequestId:") {
		t.Errorf("log after upload:\n%s", joined)
	}

	// 4. Delete: function, permission, notification and log group gone.
	if _, err := scar.Delete(ctx, ev.c, "scar-mask-detector"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if fns := ev.fake.Functions(); len(fns) != 0 {
		t.Errorf("functions after delete: %v", fns)
	}
	if g := ev.fake.LogGroups(); len(g) != 0 {
		t.Errorf("log groups after delete: %v", g)
	}
	if ids := ev.fake.NotificationIDs("scar-mask-detector"); len(ids) != 0 {
		t.Errorf("notification entries after delete: %v", ids)
	}
	if _, err := scar.Delete(ctx, ev.c, "scar-mask-detector"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("second delete: %v, want not found", err)
	}
}

func TestSecondFunctionOnTheBucketKeepsTheFirstNotification(t *testing.T) {
	ctx := context.Background()
	ev := newEnv(t, echoRuntime())
	// A notification someone else configured (say an SQS queue) must stay too.
	if _, err := ev.c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	deploy := func(name, folder string) {
		t.Helper()
		doc, err := fdl.Parse("two.yaml", []byte(`functions:
  aws:
  - lambda:
      name: `+name+`
      container:
        image: `+ecrImage+`
      input:
      - storage_provider: s3
        path: shared/`+folder+`
`))
		if err != nil {
			t.Fatal(err)
		}
		f, err := scar.Prepare(doc.Model().AWS[0], scar.Defaults{Role: role})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := scar.Deploy(ctx, ev.c, f); err != nil {
			t.Fatalf("deploy %s: %v", name, err)
		}
	}
	deploy("first", "in-a")
	deploy("second", "in-b")
	ids := ev.fake.NotificationIDs("shared")
	if len(ids) != 2 {
		t.Fatalf("notification entries = %v, want both functions'", ids)
	}
	if got := ev.fake.Deliver("shared", "in-a/1.txt", 1); !slices.Equal(got, []string{"first"}) {
		t.Errorf("upload to in-a invoked %v, want [first]", got)
	}
	if got := ev.fake.Deliver("shared", "in-b/1.txt", 1); !slices.Equal(got, []string{"second"}) {
		t.Errorf("upload to in-b invoked %v, want [second]", got)
	}
	if _, err := scar.Delete(ctx, ev.c, "second"); err != nil {
		t.Fatal(err)
	}
	if ids := ev.fake.NotificationIDs("shared"); len(ids) != 1 || !strings.Contains(ids[0], "first") {
		t.Errorf("after deleting second, entries = %v, want first's only", ids)
	}
	ev.fake.Wait()
}

func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

var _ = time.Second

func TestDeployAPIGatewayAndBatchThenDeleteAll(t *testing.T) {
	ctx := context.Background()
	ev := newEnv(t, echoRuntime())
	doc, err := fdl.Parse("batch.yaml", []byte(`functions:
  aws:
  - lambda:
      name: heavy
      execution_mode: lambda-batch
      container:
        image: `+ecrImage+`
    api_gateway:
      name: heavy-api
    batch:
      vcpus: 2
      memory: 2048
      compute_resources:
        subnets: [subnet-1]
        security_group_ids: [sg-1]
        instance_role: arn:aws:iam::123456789012:instance-profile/ecsInstanceRole
`))
	if err != nil {
		t.Fatal(err)
	}
	e := doc.Model().AWS[0]
	f, err := scar.Prepare(e, scar.Defaults{Role: role})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second deploy finds everything and updates
		if _, err := scar.Deploy(ctx, ev.c, f); err != nil {
			t.Fatalf("deploy %d: %v", i+1, err)
		}
	}
	if apis := ev.fake.RestAPIs(); !slices.Equal(apis, []string{"heavy-api"}) {
		t.Errorf("REST APIs = %v, want one heavy-api", apis)
	}
	if uri := ev.fake.Integration("heavy-api"); !strings.Contains(uri, "function:heavy/invocations") {
		t.Errorf("integration URI = %q", uri)
	}
	if p := ev.fake.Permissions("heavy"); !slices.Equal(p, []string{"fdlstudio-apigateway"}) {
		t.Errorf("permissions = %v", p)
	}
	got, err := ev.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("heavy")})
	if err != nil || got.Configuration.Environment.Variables["API_GATEWAY_ID"] == "" {
		t.Errorf("API_GATEWAY_ID not in the environment: %v", err)
	}
	want := []string{"ce:heavy", "def:heavy:1", "def:heavy:2", "queue:heavy"}
	if b := ev.fake.BatchResources(); !slices.Equal(b, want) {
		t.Errorf("batch resources = %v, want %v", b, want)
	}
	if _, err := scar.Delete(ctx, ev.c, "heavy"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if b := ev.fake.BatchResources(); len(b) != 0 {
		t.Errorf("batch resources after delete: %v", b)
	}
	if apis := ev.fake.RestAPIs(); len(apis) != 0 {
		t.Errorf("REST APIs after delete: %v", apis)
	}
	if fns := ev.fake.Functions(); len(fns) != 0 {
		t.Errorf("functions after delete: %v", fns)
	}

	e.Batch.ComputeResources.Subnets = nil
	if _, err := scar.Prepare(e, scar.Defaults{Role: role}); err == nil || !strings.Contains(err.Error(), "batch.compute_resources") {
		t.Errorf("Prepare without subnets: %v", err)
	}
}

// TestPrepareRefusesAnEnvironmentLambdaWouldRefuse: the FDL entry kept in
// the FDL variable (with its init script) counts against Lambda's 4 KB of
// environment; too large is refused before anything is sent.
func TestPrepareRefusesAnEnvironmentLambdaWouldRefuse(t *testing.T) {
	e := maskDetector(t)
	e.Lambda.Container.Image = ecrImage
	e.Lambda.InitScript = "#!/bin/sh\n" + strings.Repeat("echo a line of the script\n", 200)
	_, err := scar.Prepare(e, scar.Defaults{Role: role})
	if !errors.Is(err, backends.ErrInvalid) || !strings.Contains(err.Error(), "AWS Lambda allows 4096") {
		t.Errorf("Prepare with a 5 KB init script: %v", err)
	}
	e.Lambda.InitScript = "#!/bin/sh\necho short\n"
	if _, err := scar.Prepare(e, scar.Defaults{Role: role}); err != nil {
		t.Errorf("Prepare with a short script: %v", err)
	}
}
