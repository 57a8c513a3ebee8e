package deploy_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/backends/scar/awstest"
	"github.com/fdlstudio/fdlstudio/store"
)

// awsAccount is an AWS account on the fake control plane (S3 data on a
// real S3 server), whose functions log what they are given. Images
// outside ECR deploy from an ECR mirror, so the reference examples deploy
// as written.
func awsAccount(t *testing.T) (*scar.Backend, *awstest.Fake) {
	t.Helper()
	srv := s3test.Start(t)
	fake := awstest.Start(t, srv.Endpoint, awstest.RuntimeFunc(func(_ context.Context, fn string, payload []byte) (awstest.Invocation, error) {
		return awstest.Invocation{Payload: []byte(`{"ok":true}`), Log: []string{fn + " got " + strings.TrimSpace(string(payload))}}, nil
	}))
	b, err := scar.New(scar.Config{Name: "lab",
		AWS: aws.Config{Region: awstest.Region, Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")},
		Defaults: scar.Defaults{Role: "arn:aws:iam::123456789012:role/scar-lambda",
			ImageMirror: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror"},
		Endpoints: fake.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	return b, fake
}

var maskScripts = fstest.MapFS{
	"blurry-faces.sh":  {Data: []byte("#!/bin/sh\necho blur\n")},
	"mask-detector.sh": {Data: []byte("#!/bin/sh\necho detect\n")},
}

// TestMixedOSCARAndAWSWorkflow: the SCAR mask-detector example (an OSCAR
// stage on the local cluster writing to the S3 folder an AWS Lambda
// function reads) plans and applies in one apply; deployed again with
// more memory it is an update of that one field; an upload to its input
// folder is an invocation with its log; rollback restores the memory;
// deleting the workflow removes every AWS resource but keeps a second
// function's notification on the same bucket.
//
// On the spec-checked OSCAR fake the example is deployed as written; the
// local cluster has only its own MinIO, so there the OSCAR stage's S3
// output is left out (and with it the order between the two).
func TestMixedOSCARAndAWSWorkflow(t *testing.T) {
	data, err := os.ReadFile("../../fdl/testdata/examples/mask-detector-workflow_scar-mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example := string(data)
	t.Run("fake", func(t *testing.T) {
		c, _ := fakeOSCAR(t, true)
		mixedWorkflow(t, c, example, true)
	})
	t.Run("local", func(t *testing.T) {
		s3out := "      - storage_provider: s3.my_s3\n        path: scar-mask-detector/intermediate\n"
		if !strings.Contains(example, s3out) {
			t.Fatal("the example changed: no S3 output in its OSCAR stage")
		}
		mixedWorkflow(t, localCluster(t), strings.Replace(example, s3out, "", 1), false)
	})
}

func mixedWorkflow(t *testing.T, cluster backends.Services, example string, ordered bool) {
	ctx := context.Background()
	local := &watched{Services: cluster}
	lab, fake := awsAccount(t)
	j, owner := journal(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": local, "lab": lab}), Journal: j}
	req := deploy.Request{OwnerID: owner, User: "Alice", Workflow: "mask", Version: 1,
		Doc: parseDoc(t, example), Scripts: maskScripts}

	// Unmapped, the AWS part asks for an account like any cluster id.
	p := mustPlan(t, e, req)
	if !slices.Equal(p.NeedsCluster, []string{"my_oscar", deploy.AWSCluster}) {
		t.Fatalf("needs cluster = %v, want my_oscar and aws", p.NeedsCluster)
	}
	// Mapped the wrong way round: refused before anything happens.
	req.Clusters = map[string]string{"my_oscar": "lab", deploy.AWSCluster: "mine"}
	var ie *deploy.InputError
	if _, err := e.Plan(ctx, req); !errors.As(err, &ie) || !strings.Contains(err.Error(), "not an AWS account") && !strings.Contains(err.Error(), "is an AWS account") {
		t.Errorf("plan with the kinds swapped: %v", err)
	}

	// 1. Deploy: both created, the Lambda after the OSCAR stage that
	// writes its input, with its bucket and notification shown first.
	req.Clusters = map[string]string{"my_oscar": "mine", deploy.AWSCluster: "lab"}
	p = mustPlan(t, e, req)
	if k := kinds(p); k["scar-mask-detector"] != deploy.ActionCreate || k["oscar-anon-and-split"] != deploy.ActionCreate || len(k) != 2 {
		t.Fatalf("first plan = %v, want two creates", k)
	}
	fn := action(t, p, "scar-mask-detector")
	if fn.Cluster != "lab" || fn.FDLCluster != deploy.AWSCluster || fn.Path != "functions.aws[0].lambda" {
		t.Errorf("AWS action = %+v", fn)
	}
	if ordered && (len(fn.After) != 1 || p.Actions[fn.After[0]].Name != "oscar-anon-and-split") {
		t.Errorf("the Lambda waits for %v, want the OSCAR stage writing its input", fn.After)
	}
	var said []string
	for _, ef := range p.Effects {
		if ef.Cluster == "lab" {
			said = append(said, ef.Kind+": "+ef.Message)
		}
	}
	for _, want := range []string{`storage: creates S3 bucket "scar-mask-detector" on lab`, `storage: creates folder "scar-mask-detector/intermediate" on lab`,
		`trigger: adds a notification to S3 bucket "scar-mask-detector" on lab: objects under "intermediate/"`} {
		if !slices.ContainsFunc(said, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("effects on lab %q lack %q", said, want)
		}
	}
	var events []deploy.Event
	r, err := e.Apply(ctx, p, func(ev deploy.Event) { events = append(events, ev) })
	if err != nil || r.Outcome != store.DeploymentApplied || r.Failed() {
		t.Fatalf("apply = %+v, %v", r, err)
	}
	if len(events) != 4 {
		t.Errorf("events = %+v", events)
	}
	got, err := lab.GetService(ctx, "scar-mask-detector")
	if err != nil || got.Memory != "1024Mi" || !strings.Contains(got.Script, "echo detect") {
		t.Fatalf("function on AWS = %+v, %v; want 1024 MB and its own init script", got, err)
	}
	if _, err := local.GetService(ctx, "oscar-anon-and-split"); err != nil {
		t.Errorf("the OSCAR stage on the local cluster: %v", err)
	}
	if ids := fake.NotificationIDs("scar-mask-detector"); len(ids) != 1 {
		t.Errorf("notification entries = %v, want one", ids)
	}

	// Changed outside FDL Studio: drift on that field; adopting writes
	// the account's entry as functions.aws; re-applying restores it.
	cur, err := lab.GetService(ctx, "scar-mask-detector")
	if err != nil {
		t.Fatal(err)
	}
	cur.Memory = "512Mi"
	if err := lab.UpdateService(ctx, cur); err != nil {
		t.Fatal(err)
	}
	drift, err := e.Drift(ctx, owner, r.Deployment)
	if err != nil {
		t.Fatal(err)
	}
	var fd deploy.FunctionDrift
	for _, d := range drift {
		if d.Name == "scar-mask-detector" {
			fd = d
		}
	}
	if len(fd.Changes) != 1 || fd.Changes[0] != (deploy.Change{Field: "aws.lambda.memory", From: "1024", To: "512"}) {
		t.Errorf("drift = %+v", drift)
	}
	if y, err := deploy.Adopt(fd); err != nil || !strings.Contains(string(y), "functions:\n  aws:\n") || !strings.Contains(string(y), "memory: 512") {
		t.Errorf("adopt = %s, %v", y, err)
	}
	if p = mustPlan(t, e, req); action(t, p, "scar-mask-detector").Kind != deploy.ActionUpdate {
		t.Fatalf("re-apply plan = %v", kinds(p))
	}
	mustApply(t, e, p)

	// 2. Again: nothing to do, no AWS call that changes anything.
	before := len(fake.Calls())
	if p = mustPlan(t, e, req); p.Changes() {
		t.Fatalf("second plan changes something: %+v", p.Actions)
	}
	mustApply(t, e, p)
	for _, c := range fake.Calls()[before:] {
		if !strings.Contains(c, "Get") && !strings.Contains(c, "List") && !strings.Contains(c, "Describe") {
			t.Errorf("a no-change apply called %s", c)
		}
	}

	// 3. More memory: an update of that field, not an error.
	req.Version = 2
	req.Doc = parseDoc(t, strings.Replace(example, "memory: 1024", "memory: 2048", 1))
	p = mustPlan(t, e, req)
	if k := kinds(p); k["scar-mask-detector"] != deploy.ActionUpdate || k["oscar-anon-and-split"] != deploy.ActionUnchanged {
		t.Fatalf("plan = %v", k)
	}
	if ch := action(t, p, "scar-mask-detector").Changes; len(ch) != 1 || ch[0] != (deploy.Change{Field: "aws.lambda.memory", From: "1024", To: "2048"}) {
		t.Errorf("changes = %+v, want aws.lambda.memory 1024 -> 2048 only", ch)
	}
	r = mustApply(t, e, p)
	if r.Failed() {
		t.Fatalf("update = %+v", r)
	}
	if got, _ := lab.GetService(ctx, "scar-mask-detector"); got.Memory != "2048Mi" {
		t.Errorf("memory after update = %q", got.Memory)
	}

	// 4. An upload to the input folder invokes it; the invocation is a
	// job with its log.
	if err := lab.PutObject(ctx, "scar-mask-detector", "intermediate/face.jpg", strings.NewReader("jpeg"), 4, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if inv := fake.Deliver("scar-mask-detector", "intermediate/face.jpg", 4); !slices.Equal(inv, []string{"scar-mask-detector"}) {
		t.Fatalf("the upload invoked %v", inv)
	}
	fake.Wait()
	jobs, err := lab.ListJobs(ctx, "scar-mask-detector", "")
	if err != nil || len(jobs.Jobs) != 1 || jobs.Jobs[0].Status != backends.JobSucceeded {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}
	log, err := lab.JobLog(ctx, "scar-mask-detector", jobs.Jobs[0].Name, false)
	if err != nil || !strings.Contains(log, "intermediate%2Fface.jpg") {
		t.Errorf("the invocation's log = %q, %v", log, err)
	}

	// 5. Rollback of the update: the memory it had before.
	if rb, err := e.Rollback(ctx, owner, r.Deployment, nil); err != nil || rb.Outcome != store.DeploymentRolledBack {
		t.Fatalf("rollback = %+v, %v", rb, err)
	}
	if got, _ := lab.GetService(ctx, "scar-mask-detector"); got.Memory != "1024Mi" {
		t.Errorf("memory after rollback = %q, want 1024Mi", got.Memory)
	}

	// 6. A second workflow puts another function on the same bucket,
	// another folder; deleting the first keeps its notification.
	other := deploy.Request{OwnerID: owner, User: "Alice", Workflow: "other", Version: 1, Clusters: map[string]string{deploy.AWSCluster: "lab"},
		Doc: parseDoc(t, `functions:
  aws:
  - lambda:
      name: other-reader
      container: {image: grycap/cowsay}
      input: [{storage_provider: s3, path: scar-mask-detector/other}]
`)}
	if r := mustApply(t, e, mustPlan(t, e, other)); r.Failed() {
		t.Fatalf("second workflow = %+v", r)
	}
	req.Delete = true
	p = mustPlan(t, e, req)
	if k := kinds(p); k["scar-mask-detector"] != deploy.ActionDelete || k["oscar-anon-and-split"] != deploy.ActionDelete || len(k) != 2 {
		t.Fatalf("delete plan = %v", k)
	}
	if !slices.ContainsFunc(p.Effects, func(ef deploy.Effect) bool {
		return ef.Kind == deploy.EffectTrigger && strings.Contains(ef.Message, "the buckets and their objects stay")
	}) {
		t.Errorf("delete effects = %+v", p.Effects)
	}
	if r := mustApply(t, e, p); r.Failed() {
		t.Fatalf("delete = %+v", r)
	}
	if fns := fake.Functions(); !slices.Equal(fns, []string{"other-reader"}) {
		t.Errorf("functions after delete = %v", fns)
	}
	if g := fake.LogGroups(); !slices.Equal(g, []string{"/aws/lambda/other-reader"}) {
		t.Errorf("log groups after delete = %v", g)
	}
	if ids := fake.NotificationIDs("scar-mask-detector"); len(ids) != 1 || !strings.Contains(ids[0], "other-reader") {
		t.Errorf("notification entries after delete = %v, want other-reader's only", ids)
	}
	if _, err := local.GetService(ctx, "oscar-anon-and-split"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("the OSCAR stage after delete: %v", err)
	}
}

// TestAWSRegionMustMatchTheAccount: an entry naming a region plans under
// its own FDL cluster id and is refused on an account in another region.
func TestAWSRegionMustMatchTheAccount(t *testing.T) {
	lab, _ := awsAccount(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"lab": lab})}
	doc := parseDoc(t, `functions:
  aws:
  - lambda: {name: f, region: eu-west-1, container: {image: grycap/cowsay}}
`)
	p := mustPlan(t, e, deploy.Request{Doc: doc})
	if !slices.Equal(p.NeedsCluster, []string{"aws-eu-west-1"}) {
		t.Errorf("needs cluster = %v", p.NeedsCluster)
	}
	_, err := e.Plan(context.Background(), deploy.Request{Doc: doc, Clusters: map[string]string{"aws-eu-west-1": "lab"}})
	var ie *deploy.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "region eu-west-1") || !strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("plan to an account in another region: %v", err)
	}
}

// TestAWSFunctionTheAccountCannotRun: a function the account cannot run
// as written (no container image: FDL Studio deploys image Lambdas only)
// is in the plan as unsupported, with the account's reason, before
// anything is sent; the rest of the workflow still applies.
func TestAWSFunctionTheAccountCannotRun(t *testing.T) {
	lab, fake := awsAccount(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"lab": lab})}
	p := mustPlan(t, e, deploy.Request{Clusters: map[string]string{deploy.AWSCluster: "lab"}, Doc: parseDoc(t, `functions:
  aws:
  - lambda: {name: zipped, run_script: a.sh}
  - lambda: {name: imaged, container: {image: grycap/cowsay}}
`)})
	a := action(t, p, "zipped")
	if a.Kind != deploy.ActionUnsupported || !strings.Contains(a.Reason, "lambda.container.image is missing") {
		t.Errorf("zipped = %+v, want unsupported with the reason", a)
	}
	if k := action(t, p, "imaged").Kind; k != deploy.ActionCreate {
		t.Errorf("imaged = %v, want create", k)
	}
	if r := mustApply(t, e, p); r.Failed() || len(r.Functions) != 1 {
		t.Errorf("apply = %+v", r)
	}
	if fns := fake.Functions(); !slices.Equal(fns, []string{"imaged"}) {
		t.Errorf("functions = %v", fns)
	}
}
