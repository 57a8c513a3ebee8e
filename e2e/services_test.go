package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fdlstudio/fdlstudio/web"
)

// localS3 connects to the S3 server of the app's embedded local cluster,
// as a user's own S3 tool would.
func localS3(t *testing.T, app *App) *minio.Client {
	t.Helper()
	sec, rt := localAccess(t, app.DataDir)
	u, err := url.Parse(rt.S3Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := minio.New(u.Host, &minio.Options{
		Creds: credentials.NewStaticV4(sec.S3AccessKey, sec.S3SecretKey, ""), Region: "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// TestSampleWorkflowRunsAndServicesPages is the newcomer's first minute:
// deploy the sample from the home page, upload a text file, see both
// services and their jobs, read a log, invoke a service, and delete one
// after the warning.
func TestSampleWorkflowRunsAndServicesPages(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	tab := newTab(t)

	tab.Visit(app.URL+"/", "home-with-sample")
	tab.DocScreenshot("screenshot-home")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="deploy-sample"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="services-table"]`)),
	)
	tab.Screenshot("services-after-deploy")
	for _, name := range []string{"local/wc-count", "local/wc-top10"} {
		if !Eval[bool](tab, `!!document.querySelector('tr[data-service="`+name+`"]')`) {
			t.Fatalf("services list lacks %s", name)
		}
	}

	// Upload a text file to stage one's input, as any S3 client would.
	mc := localS3(t, app)
	text := "the cat and the dog and the bird\nthe end\n"
	if _, err := mc.PutObject(context.Background(), "wordcount", "in/story.txt", strings.NewReader(text), int64(len(text)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// Stage two's output appears.
	deadline := time.Now().Add(30 * time.Second)
	var top string
	for time.Now().Before(deadline) && top == "" {
		for obj := range mc.ListObjects(context.Background(), "wordcount", minio.ListObjectsOptions{Prefix: "top10/", Recursive: true}) {
			if obj.Err == nil && !strings.HasSuffix(obj.Key, "/") {
				top = obj.Key
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if top == "" {
		t.Fatal("stage two wrote nothing to wordcount/top10 within 30 s")
	}

	// The list shows each service's last job as Succeeded.
	tab.Visit(app.URL+"/services?cluster=local", "services-list")
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`tr[data-service="local/wc-top10"] .job-succeeded`)))
	tab.DocScreenshot("screenshot-services")

	// Sorting by name descending puts wc-top10 first.
	tab.Visit(app.URL+"/services?sort=name&dir=desc", "services-sorted")
	if first := Eval[string](tab, `document.querySelector('[data-testid="services-table"] tbody tr').dataset.service`); first != "local/wc-top10" {
		t.Errorf("first row sorted by name descending = %q", first)
	}
	tab.Visit(app.URL+"/services?q=top10", "services-search")
	if n := Eval[int](tab, `document.querySelectorAll('[data-testid="services-table"] tbody tr').length`); n != 1 {
		t.Errorf("search for top10 shows %d rows", n)
	}

	// The service page: local notice, buckets, recent job, definition.
	tab.Visit(app.URL+"/services/local/wc-count", "service-page")
	if !strings.Contains(tab.Text(`[data-testid="local-notice"]`), "/bin/sh") {
		t.Error("the local service page does not say scripts run on this machine")
	}
	if got := tab.Text(`[data-testid="service-buckets"]`); !strings.Contains(got, "wordcount/in") || !strings.Contains(got, "wordcount/counts") {
		t.Errorf("buckets = %q", got)
	}
	if got := tab.Text(`[data-testid="service-definition"]`); !strings.Contains(got, "name: wc-count") || strings.Contains(got, "token:") {
		t.Errorf("definition = %q", got)
	}
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="reveal-token"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="service-token"]`)),
	)
	if tok := tab.Text(`[data-testid="service-token"]`); len(tok) < 16 {
		t.Errorf("revealed token = %q", tok)
	}

	// Open the job's log from the recent jobs.
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="recent-jobs"] tbody tr a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-log"]`)),
	)
	tab.Screenshot("job-log")
	if got := tab.Text(`[data-testid="job-status"]`); !strings.Contains(got, "Succeeded") {
		t.Errorf("job status = %q", got)
	}
	first := Eval[string](tab, `location.pathname`)

	// Re-run it with the same input: a new job reads in/story.txt again.
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="rerun"]`)))
	var again string
	for i := 0; i < 50 && (again == "" || again == first); i++ {
		time.Sleep(100 * time.Millisecond)
		again = Eval[string](tab, `location.pathname`)
	}
	if again == first || !strings.HasPrefix(again, "/services/local/wc-count/jobs/") {
		t.Fatalf("re-run landed on %s (first job %s)", again, first)
	}
	// The new job may still be starting: reload until its log is there.
	var log string
	for i := 0; i < 50 && !strings.Contains(log, "in/story.txt"); i++ {
		tab.Visit(app.URL+again, "rerun-log")
		log = Eval[string](tab, `(document.querySelector('[data-testid="job-log"]') || {}).innerText || ""`)
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(log, "in/story.txt") {
		t.Errorf("re-run log = %q, want it to read in/story.txt", log)
	}

	// Invoke synchronously: the single output file comes back and shows.
	tab.Visit(app.URL+"/services/local/wc-count/invoke", "invoke-sync")
	tab.Do(
		chromedp.SendKeys(chromedp.ID("payload"), "beta alpha beta gamma beta alpha"),
		chromedp.Click(chromedp.CSS(`[data-testid="run-sync"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="run-result"]`)),
	)
	tab.Screenshot("invoke-sync-result")
	if got := tab.Text(`[data-testid="run-result"]`); !strings.Contains(got, "3 beta") || !strings.Contains(got, "2 alpha") {
		t.Errorf("synchronous result = %q, want the word counts", got)
	}

	// Invoke asynchronously: lands on the new job's log.
	tab.Visit(app.URL+"/services/local/wc-count/invoke", "invoke")
	tab.Do(
		chromedp.SendKeys(chromedp.ID("payload"), "one two two three three three"),
		chromedp.Click(chromedp.CSS(`[data-testid="run-async"]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1.mono`)),
	)
	tab.Screenshot("async-job")
	loc := Eval[string](tab, `location.pathname`)
	if !strings.HasPrefix(loc, "/services/local/wc-count/jobs/") || strings.HasSuffix(loc, "/jobs") {
		t.Errorf("after submitting a job the page is %s, want the job's log", loc)
	}

	// The Jobs page shows the jobs of both stages.
	tab.Visit(app.URL+"/jobs?status=Succeeded", "recent-jobs")
	if got := tab.Text(`[data-testid="recent-jobs-table"]`); !strings.Contains(got, "wc-count") || !strings.Contains(got, "wc-top10") {
		t.Errorf("recent jobs = %q", got)
	}

	// Jobs list with the filter.
	tab.Visit(app.URL+"/services/local/wc-count/jobs?status=Succeeded", "jobs-succeeded")
	if n := Eval[int](tab, `document.querySelectorAll('[data-testid="jobs-table"] tbody tr').length`); n < 1 {
		t.Errorf("succeeded jobs shown: %d", n)
	}

	// Delete wc-top10: the warning names the bucket and wc-count, which
	// shares it; a wrong confirmation is refused.
	tab.Visit(app.URL+"/services/local/wc-top10/delete", "delete-warning")
	warning := tab.Text(`[data-testid="delete-warning"]`)
	if !strings.Contains(warning, "wordcount") || !strings.Contains(tab.Text(`[data-testid="shared-with"]`), "wc-count") {
		t.Errorf("delete warning = %q", warning)
	}
	tab.Do(
		chromedp.SendKeys(chromedp.ID("confirm"), "wc-top1"),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-delete"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-error")),
	)
	tab.Do(
		chromedp.SetValue(chromedp.ID("confirm"), "wc-top10"),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-delete"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	tab.Screenshot("after-delete")
	if Eval[bool](tab, `!!document.querySelector('tr[data-service="local/wc-top10"]')`) {
		t.Error("wc-top10 still listed after delete")
	}
	if p := tab.Problems("status of 422"); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}
