package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/chromedp/chromedp"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/backends/scar/awstest"
	"github.com/fdlstudio/fdlstudio/web"
)

// The user's own AWS account registered through the form: every field
// that could be secret holds a value of its own, searched for in every
// page, fragment and download afterwards.
const (
	ownKeyID  = "AKIAOWNKEYIDE2E77777"
	ownSecret = "OwnSecretAccessKey-e2e-8888"
)

// TestAWSFunctionsInTheBrowser: with an AWS account the operator provides
// (on the fake control plane, its S3 data on a real S3 server) beside the
// local cluster, an AWS function shows on the services page next to the
// OSCAR services, runs from its invoke page, and an upload to its input
// folder on the files page is an invocation that the live jobs page
// shows appear and succeed without a reload, with its log from
// CloudWatch Logs. No page, fragment or download holds an account's key
// id or secret.
func TestAWSFunctionsInTheBrowser(t *testing.T) {
	s3 := s3test.Start(t)
	fake := awstest.Start(t, s3.Endpoint, awstest.RuntimeFunc(func(_ context.Context, fn string, payload []byte) (awstest.Invocation, error) {
		var ev struct {
			Records []struct {
				S3 struct {
					Object struct{ Key string } `json:"object"`
				} `json:"s3"`
			}
		}
		_ = json.Unmarshal(payload, &ev)
		log := []string{fn + " started"}
		for _, r := range ev.Records {
			log = append(log, fn+" found a mask in "+r.S3.Object.Key)
		}
		return awstest.Invocation{Payload: []byte(`{"masks":1,"function":"` + fn + `"}`), Log: log}, nil
	}))
	fake.AutoDeliver()
	defaults := scar.Defaults{Role: "arn:aws:iam::123456789012:role/scar-lambda", ImageMirror: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror"}
	a := startAppWith(t, func(c *web.Config) {
		c.LocalCluster = "on"
		c.AWSAccounts = []string{scar.WayUser, scar.WayOperator}
		c.AWSOperatorAccounts = []web.AWSAccountConfig{{Name: "lab", Region: awstest.Region, AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey}}
	}, []app.Option{app.WithAWS(fake.Endpoints(), defaults)})
	secrets := []string{s3.AccessKey, s3.SecretKey, ownKeyID, ownSecret}

	// The function, as a deploy made it (the engine's own test covers the
	// deploy; here it is what the pages show).
	lab, err := scar.New(scar.Config{Name: "lab", Defaults: defaults, Endpoints: fake.Endpoints(),
		AWS: aws.Config{Region: awstest.Region, Credentials: credentials.NewStaticCredentialsProvider(s3.AccessKey, s3.SecretKey, "")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := lab.CreateService(ctx, &backends.Service{Name: "mask-detector", Image: "grycap/mask-detector-yolo:mini", Memory: "1Gi",
		Input: []backends.StorageIOConfig{{StorageProvider: "s3", Path: "masks/in"}}}); err != nil {
		t.Fatal(err)
	}

	tab := newTab(t)
	var pages []string
	look := func(url, shot string) {
		t.Helper()
		tab.Visit(url, shot)
		pages = append(pages, url)
		html := Eval[string](tab, `document.documentElement.outerHTML`)
		for _, s := range secrets {
			if strings.Contains(html, s) {
				t.Errorf("page %s shows a secret (%q)", url, s[:4]+"…")
			}
		}
	}

	// OSCAR services (the sample on the local cluster) and the AWS
	// function on one page.
	tab.Visit(a.URL+"/", "home")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="deploy-sample"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="services-table"]`)),
	)
	look(a.URL+"/services", "services-oscar-and-aws")
	for _, name := range []string{"local/wc-count", "local/wc-top10", "lab/mask-detector"} {
		if !Eval[bool](tab, `!!document.querySelector('tr[data-service="`+name+`"]')`) {
			t.Fatalf("the services page lacks %s", name)
		}
	}
	if got := tab.Text(`tr[data-service="lab/mask-detector"]`); !strings.Contains(got, "1024Mi") {
		t.Errorf("the AWS function's row = %q, want its memory", got)
	}
	look(a.URL+"/services/lab/mask-detector", "aws-function")

	// Invoke synchronously from its page.
	look(a.URL+"/services/lab/mask-detector/invoke", "aws-invoke")
	tab.Do(
		chromedp.SendKeys(chromedp.ID("payload"), `{"image":"face.jpg"}`),
		chromedp.Click(chromedp.CSS(`[data-testid="run-sync"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="run-result"]`)),
	)
	tab.Screenshot("aws-invoke-result")
	if got := tab.Text(`[data-testid="run-result"]`); !strings.Contains(got, `"function":"mask-detector"`) {
		t.Errorf("synchronous result = %q", got)
	}

	// The live jobs page is open when a file is dropped on the input
	// folder in the files page, in another tab.
	look(a.URL+"/services/lab/mask-detector/jobs", "aws-jobs-before")
	waitLive(t, tab, "the live connection", `document.querySelector('[data-testid="live-state"]').dataset.state === "live"`, 10*time.Second)
	Eval[bool](tab, noteStates)
	before := Eval[int](tab, `document.querySelectorAll('#jobs-panel tr[data-job]').length`)

	files := newTab(t)
	files.Visit(a.URL+"/files/lab", "aws-buckets")
	if !strings.Contains(files.Text("main"), "masks") {
		t.Fatalf("the files page of lab lacks the input bucket: %q", files.Text("main"))
	}
	files.Visit(a.URL+"/files/lab/masks?prefix=in/", "aws-input-folder")
	Eval[bool](files, `(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(["jpeg bytes"], "face.jpg", {type: "image/jpeg"}));
		const zone = document.querySelector('[data-testid="drop-zone"]');
		zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`)
	files.Do(chromedp.WaitVisible(chromedp.CSS(`tr[data-key="in/face.jpg"]`)))
	files.Screenshot("aws-uploaded")

	waitLive(t, tab, "the upload's invocation to appear and succeed",
		`document.querySelectorAll('#jobs-panel tr[data-job]').length > `+strconv.Itoa(before)+` && !!document.querySelector('#jobs-panel tr[data-job] .job-succeeded')`, 30*time.Second)
	if !Eval[bool](tab, `window.__notReloaded === true`) {
		t.Fatal("the jobs page was reloaded")
	}
	tab.Screenshot("aws-jobs-live")
	// The newest row is the upload's invocation (the synchronous run is
	// logged too).
	job := Eval[string](tab, `document.querySelector('#jobs-panel tr[data-job]').dataset.job`)

	// Its log page follows it to the end, lines from CloudWatch Logs.
	look(a.URL+"/services/lab/mask-detector/jobs/"+job, "aws-job-log")
	waitLive(t, tab, "the log to end", `document.querySelector('[data-testid="live-state"]').dataset.state === "ended"`, 20*time.Second)
	lines := Eval[[]string](tab, `[...document.querySelectorAll('#job-log li .lt')].map(e => e.textContent)`)
	joined := strings.Join(lines, "\n")
	if !strings.HasPrefix(joined, "START RequestId: "+job) || !strings.Contains(joined, "mask-detector found a mask in in%2Fface.jpg") || !strings.Contains(joined, "REPORT RequestId: "+job) {
		t.Errorf("the invocation's log =\n%s", joined)
	}
	tab.Screenshot("aws-job-log-ended")

	// Register an account of one's own with the form: the key id and
	// secret go in, and never come out.
	look(a.URL+"/clusters/new?kind=aws", "aws-account-form")
	tab.Do(
		chromedp.SendKeys(chromedp.ID("name"), "own"),
		chromedp.SendKeys(chromedp.ID("endpoint"), awstest.Region),
		chromedp.Click(chromedp.CSS(`input[name="auth_kind"][value="keys"]`)),
		chromedp.SendKeys(chromedp.ID("username"), ownKeyID),
		chromedp.SendKeys(chromedp.ID("password"), ownSecret),
		chromedp.Click(chromedp.CSS(`[data-testid="aws-account-form"] button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="aws-account-form"]`)),
	)
	for _, p := range []string{"/clusters", "/clusters/own", "/clusters/own/edit", "/clusters/lab", "/services", "/services?cluster=own",
		"/files", "/files/lab", "/files/own", "/jobs", "/services/lab/mask-detector/jobs"} {
		look(a.URL+p, "secrets"+strings.ReplaceAll(p, "/", "-"))
	}
	if got := tab.Text("main"); got == "" {
		t.Error("empty page")
	}

	// Fragments and downloads, fetched as the browser does.
	hc := unlockedClient(t, a.OpenURL, false)
	for _, p := range []string{"/clusters/lab/health", "/clusters/own/health", "/services/lab/mask-detector/fdl",
		"/services/lab/mask-detector/jobs/" + job + "/log", "/services/lab/mask-detector/last-job", "/files/lab/masks?prefix=in/",
		"/services/lab/mask-detector/edit"} {
		resp, err := hc.Get(a.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
		for _, s := range secrets {
			if strings.Contains(string(body), s) {
				t.Errorf("GET %s holds a secret (%q)", p, s[:4]+"…")
			}
		}
		if p == "/services/lab/mask-detector/fdl" && (!strings.Contains(string(body), "aws:") || !strings.Contains(string(body), "mask-detector")) {
			t.Errorf("the function's FDL download:\n%s", body)
		}
	}
	// Nor in the server's log, nor in any file of its data directory
	// (the store keeps the user's key sealed; the operator's is never
	// stored).
	for _, s := range secrets {
		if strings.Contains(a.Logs.String(), s) {
			t.Errorf("the server log holds a secret (%q)", s[:4]+"…")
		}
	}
	_ = filepath.WalkDir(a.DataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, string(filepath.Separator)+"local"+string(filepath.Separator)) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds a secret (%q) in the clear", path, s[:4]+"…")
			}
		}
		return nil
	})
	if p := tab.Problems("status of 422", "status of 502", "status of 503"); len(p) > 0 {
		t.Errorf("browser problems: %q", p)
	}
}

// mixedWorkflowFDL has an OSCAR stage for the local cluster whose output
// folder an AWS function reads (functions.aws, FDL cluster id "aws").
const mixedWorkflowFDL = `functions:
  oscar:
  - local:
      name: mix-split
      image: debian:stable-slim
      memory: 128Mi
      cpu: '0.1'
      script: |
        #!/bin/sh
        cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"
      input:
      - storage_provider: minio.default
        path: mix-e2e/in
      output:
      - storage_provider: minio.default
        path: mix-e2e/out
  aws:
  - lambda:
      name: mix-detect
      memory: 512
      container:
        image: grycap/mask-detector-yolo:mini
      input:
      - storage_provider: s3
        path: mix-detect/in
      output:
      - storage_provider: s3
        path: mix-detect/out
`

// TestDeployMixedWorkflowFromComposer: a workflow with an OSCAR stage and
// an AWS function deploys from the composer through one plan: the AWS
// part's FDL cluster id is mapped to an AWS account like any cluster id,
// the plan lists both creates and the S3 notification, and one apply
// puts the service on the local cluster and the function on AWS.
func TestDeployMixedWorkflowFromComposer(t *testing.T) {
	s3 := s3test.Start(t)
	fake := awstest.Start(t, s3.Endpoint, awstest.RuntimeFunc(func(_ context.Context, fn string, payload []byte) (awstest.Invocation, error) {
		return awstest.Invocation{Payload: []byte(`{}`), Log: []string{fn + " ran"}}, nil
	}))
	defaults := scar.Defaults{Role: "arn:aws:iam::123456789012:role/scar-lambda", ImageMirror: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror"}
	a := startAppWith(t, func(c *web.Config) {
		c.LocalCluster = "on"
		c.AWSAccounts = []string{scar.WayOperator}
		c.AWSOperatorAccounts = []web.AWSAccountConfig{{Name: "aws-lab", Region: awstest.Region, AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey}}
	}, []app.Option{app.WithAWS(fake.Endpoints(), defaults)})
	tab := newTab(t)

	importWorkflow(tab, a, "mixed deploy", mixedWorkflowFDL)
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="deploy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="plan-summary"]`)),
	)
	tab.Screenshot("mixed-plan-unmapped")
	if n := Eval[int](tab, `document.querySelectorAll('select[data-fdl-cluster="aws"]').length`); n != 1 {
		t.Fatalf("the plan offers no mapping for the AWS functions (%d selects)", n)
	}
	tab.Do(
		chromedp.SetValue(chromedp.CSS(`select[data-fdl-cluster="aws"]`), "aws-lab"),
		chromedp.Click(chromedp.CSS(`[data-testid="replan"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-deploy"]`)),
	)
	kinds := Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="plan-action"]')].map(r => r.dataset.name + ":" + r.dataset.kind)`)
	slices.Sort(kinds)
	if strings.Join(kinds, ",") != "mix-detect:create,mix-split:create" {
		t.Errorf("plan actions = %v, want both created", kinds)
	}
	if got := tab.Text(`[data-testid="plan-effects"]`); !strings.Contains(got, `adds a notification to S3 bucket "mix-detect"`) || !strings.Contains(got, "mix-e2e") {
		t.Errorf("side effects = %q, want the OSCAR bucket and the S3 notification", got)
	}
	tab.Screenshot("mixed-plan")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-deploy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="deploy-progress"]`)),
	)
	waitLive(t, tab, "both deployed", `[...document.querySelectorAll('[data-testid="deploy-function"]')].every(r => r.dataset.state === "done") && document.querySelector('[data-testid="deploy-outcome"]').textContent === "applied"`, 30*time.Second)
	tab.Screenshot("mixed-applied")
	if fns := fake.Functions(); !slices.Equal(fns, []string{"mix-detect"}) {
		t.Errorf("AWS functions after the apply = %v", fns)
	}
	if ids := fake.NotificationIDs("mix-detect"); len(ids) != 1 {
		t.Errorf("notifications on mix-detect = %v", ids)
	}
	if _, err := localClient(t, a.DataDir).GetService(tab.ctx, "mix-split"); err != nil {
		t.Errorf("the OSCAR stage on the local cluster: %v", err)
	}
	// The function now shows beside the OSCAR service.
	tab.Visit(a.URL+"/services", "mixed-services")
	for _, name := range []string{"local/mix-split", "aws-lab/mix-detect"} {
		if !Eval[bool](tab, `!!document.querySelector('tr[data-service="`+name+`"]')`) {
			t.Errorf("the services page lacks %s", name)
		}
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}
