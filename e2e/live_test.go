package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/web"
)

// noteStates makes the page record every state its live connection goes
// through (live, offline, ended...) and marks the document, so that the
// test can tell the page was never reloaded.
const noteStates = `(() => {
  window.__notReloaded = true;
  window.__states = [];
  const el = document.querySelector('[data-testid="live-state"]');
  new MutationObserver(() => window.__states.push(el.dataset.state)).observe(el, {attributes: true, attributeFilter: ["data-state"]});
  return true;
})()`

// waitLive polls a JavaScript condition in the page.
func waitLive(t *testing.T, tab *Tab, what, cond string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !Eval[bool](tab, cond) {
		if time.Now().After(deadline) {
			tab.Screenshot("timeout")
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLiveJobsAndLogs: with the sample deployed and a file uploaded, the
// jobs page shows the new job appear and succeed without a reload; a
// job that prints slowly has its log lines arrive on its open log page,
// across connections the server closes, with no line lost or repeated;
// after the job is deleted its log is still readable.
func TestLiveJobsAndLogs(t *testing.T) {
	app := startApp(t, func(c *web.Config) {
		c.LocalCluster = "on"
		c.LiveMaxAge = 3 * time.Second // the server closes each socket after 3 s
	})
	tab := newTab(t)
	tab.Visit(app.URL+"/", "home")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="deploy-sample"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="services-table"]`)),
	)

	// Stage one's jobs page is open when the file is uploaded.
	tab.Visit(app.URL+"/services/local/wc-count/jobs", "wc-count-jobs-empty")
	waitLive(t, tab, "the live connection", `document.querySelector('[data-testid="live-state"]').dataset.state === "live"`, 10*time.Second)
	Eval[bool](tab, noteStates)
	mc := localS3(t, app)
	text := "the cat and the dog\n"
	if _, err := mc.PutObject(context.Background(), "wordcount", "in/live.txt", strings.NewReader(text), int64(len(text)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLive(t, tab, "the upload's job to appear and succeed", `!!document.querySelector('#jobs-panel tr[data-job] .job-succeeded')`, 30*time.Second)
	if !Eval[bool](tab, `window.__notReloaded === true`) {
		t.Fatal("the jobs page was reloaded")
	}
	tab.Screenshot("wc-count-jobs-live")

	// A service that prints 40 lines over 8 s, created as any OSCAR
	// client would, on the same local cluster.
	sec, rt := localAccess(t, app.DataDir)
	cl, err := oscar.New(oscar.Config{Name: "local", Endpoint: rt.Endpoint, Username: sec.User, Password: sec.Password})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	script := "#!/bin/sh\nfor i in $(seq 1 40); do echo \"line $i\"; sleep 0.2; done\n"
	if err := cl.CreateService(ctx, &backends.Service{Name: "slow-lines", Image: "-", Script: script, Memory: "64Mi", CPU: "0.1"}); err != nil {
		t.Fatal(err)
	}
	tab.Visit(app.URL+"/services/local/slow-lines/jobs", "slow-jobs-empty")
	waitLive(t, tab, "the live connection", `document.querySelector('[data-testid="live-state"]').dataset.state === "live"`, 10*time.Second)
	Eval[bool](tab, noteStates)
	ref, err := cl.SubmitJob(ctx, "slow-lines", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	waitLive(t, tab, "the job to appear while it runs", `!!document.querySelector('#jobs-panel tr[data-job] :is(.job-pending, .job-running)')`, 15*time.Second)
	job := Eval[string](tab, `document.querySelector('#jobs-panel tr[data-job]').dataset.job`)
	if ref.Name != "" && ref.Name != job {
		t.Fatalf("the row is job %q, the submission started %q", job, ref.Name)
	}

	// Its log page, in a second tab, while it runs.
	logTab := newTab(t)
	logTab.Visit(app.URL+"/services/local/slow-lines/jobs/"+job, "log-running")
	Eval[bool](logTab, noteStates)
	waitLive(t, logTab, "the job to end", `document.querySelector('[data-testid="live-state"]').dataset.state === "ended"`, 40*time.Second)
	logTab.Screenshot("log-ended")
	if !Eval[bool](logTab, `window.__notReloaded === true`) {
		t.Fatal("the log page was reloaded")
	}
	if !Eval[bool](logTab, `window.__states.includes("offline")`) {
		t.Fatalf("the connection was never dropped (states %v)", Eval[[]string](logTab, `window.__states`))
	}
	got := Eval[[]string](logTab, `[...document.querySelectorAll('#job-log li')].map(li => li.value + ":" + li.querySelector('.lt').textContent)`)
	// The local cluster's own first line, then the script's 40.
	want := []string{"1:[local] Running script of service 'slow-lines'"}
	for i := 1; i <= 40; i++ {
		want = append(want, fmt.Sprintf("%d:line %d", i+1, i))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("log lines after the drops =\n%q\nwant\n%q", got, want)
	}

	// The jobs page followed too.
	waitLive(t, tab, "the job to succeed on the jobs page", `!!document.querySelector('#jobs-panel tr[data-job="`+job+`"] .job-succeeded')`, 10*time.Second)
	if !Eval[bool](tab, `window.__notReloaded === true`) {
		t.Fatal("the jobs page was reloaded")
	}

	// Delete the job; its log stays readable.
	tab.Do(
		chromedp.Click(chromedp.CSS(`#jobs-panel tr[data-job="`+job+`"] button[aria-label^="Delete job"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if _, err := cl.JobLog(ctx, "slow-lines", job, false); err == nil {
		t.Fatal("the cluster still has the job")
	}
	tab.Visit(app.URL+"/services/local/slow-lines/jobs/"+job, "log-archived")
	if s := tab.Text(`[data-testid="job-status"]`); !strings.Contains(s, "archived") {
		t.Errorf("status line of a deleted job = %q", s)
	}
	if n := Eval[int](tab, `document.querySelectorAll('#job-log li').length`); n != len(want) {
		t.Errorf("archived log shows %d lines, want %d", n, len(want))
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %q", p)
	}
	if p := logTab.Problems(); len(p) > 0 {
		t.Errorf("browser problems on the log page: %q", p)
	}
}
