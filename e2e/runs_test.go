package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"

	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/web"
)

// noteGraph makes the monitor page record every state of the graph's
// function nodes and every status of its runs' stages it shows, and
// marks the document so that the test can tell it was never reloaded.
const noteGraph = `(() => {
  window.__notReloaded = true;
  window.__seen = new Set();
  const note = () => {
    document.querySelectorAll('[data-testid="workflow-graph"] [data-node]').forEach(n => {
      for (const k of ["pending", "running", "succeeded", "failed"]) {
        if (n.dataset[k] && n.dataset[k] !== "0") window.__seen.add(n.dataset.node + ":" + k);
      }
    });
    document.querySelectorAll('[data-testid="run-row"] td[data-stage] .job-status').forEach(b => {
      window.__seen.add("run:" + b.closest("td").dataset.stage + ":" + b.textContent.trim());
    });
  };
  note();
  new MutationObserver(note).observe(document.querySelector("main"), {subtree: true, childList: true, attributes: true});
  return true;
})()`

// noteRun records, on a run's page, every status each job shows and the
// number of log lines, and marks the document.
const noteRun = `(() => {
  window.__notReloaded = true;
  window.__seen = new Set();
  window.__lines = {};
  const note = () => {
    document.querySelectorAll('[data-testid="run-step"]').forEach(s => {
      const st = s.querySelector(".job-status");
      if (st) window.__seen.add(s.dataset.stage + ":" + st.textContent.trim());
      const n = s.querySelectorAll('[data-testid="run-step-log"] li').length;
      window.__lines[s.dataset.stage] = Math.max(window.__lines[s.dataset.stage] || 0, n);
      if (n > 0 && st && st.textContent.trim() === "Running") window.__seen.add(s.dataset.stage + ":lines-while-running");
    });
  };
  note();
  new MutationObserver(note).observe(document.querySelector("main"), {subtree: true, childList: true, attributes: true});
  return true;
})()`

// TestRunsFollowAnUpload: the sample workflow, deployed from the home
// page, has a monitor page. An upload to its input makes, without a
// reload, the run appear; both stages' jobs appear and change state in
// the run list and the graph's counts; the run's page shows both jobs
// change state, their log lines arrive while they run, the timeline and
// the outputs, which download.
func TestRunsFollowAnUpload(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	tab := newTab(t)
	tab.Visit(app.URL+"/", "home")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="deploy-sample"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="services-table"]`)),
	)

	// Slow both stages down (as a real workload would be), through the
	// cluster's OSCAR API, so that their states can be watched: each
	// prints a line every 0.3 s for 2 s before doing its work.
	sec, rt := localAccess(t, app.DataDir)
	cl, err := oscar.New(oscar.Config{Name: "local", Endpoint: rt.Endpoint, Username: sec.User, Password: sec.Password})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"wc-count", "wc-top10"} {
		svc, err := cl.GetService(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		svc.Script = strings.Replace(svc.Script, "set -eu\n", "set -eu\nfor i in 1 2 3 4 5 6 7; do echo \"warming up $i\"; sleep 0.3; done\n", 1)
		if err := cl.UpdateService(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}

	// The sample is a workflow of the user, with a Runs link in its
	// composer.
	tab.Visit(app.URL+"/workflows", "workflows")
	composer := Eval[string](tab, `([...document.querySelectorAll('main a[href^="/workflows/"]')].find(a => a.textContent.includes("wordcount (local sample)")) || {pathname: ""}).pathname`)
	if composer == "" {
		t.Fatal("the sample is not among the user's workflows")
	}
	// Its deployment is recorded under the workflow, where the deploy
	// pages look for it.
	tab.Visit(app.URL+composer+"/deployments", "deployments")
	if n := Eval[int](tab, `document.querySelectorAll('[data-testid="deployment"]').length`); n != 1 {
		t.Fatalf("the sample's deployments page lists %d deployments, want 1", n)
	}
	tab.Visit(app.URL+composer, "composer")
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="runs-link"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="workflow-graph"]`)))
	runsURL := Eval[string](tab, `location.href`)
	if !strings.HasSuffix(runsURL, "/runs") {
		t.Fatalf("the Runs link led to %s", runsURL)
	}
	waitLive(t, tab, "the live connection", `document.querySelector('[data-testid="live-state"]').dataset.state === "live"`, 10*time.Second)
	if n := Eval[int](tab, `document.querySelectorAll('[data-testid="workflow-graph"] [data-node]').length`); n != 2 {
		t.Fatalf("the graph has %d function nodes, want 2 (one per function)", n)
	}
	Eval[bool](tab, noteGraph)
	tab.Screenshot("monitor-empty")

	mc := localS3(t, app)
	text := "the cat and the dog and the bird\nthe end\n"
	if _, err := mc.PutObject(ctx, "wordcount", "in/story.txt", strings.NewReader(text), int64(len(text)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLive(t, tab, "the run to appear", `!!document.querySelector('[data-testid="run-row"]')`, 15*time.Second)
	tab.Screenshot("monitor-run-appeared")

	// The run's page, opened while the run goes on.
	runTab := newTab(t)
	runPath := Eval[string](tab, `document.querySelector('[data-testid="run-row"] a').pathname`)
	runTab.Visit(app.URL+runPath, "run-page-start")
	Eval[bool](runTab, noteRun)
	waitLive(t, runTab, "both stages to succeed on the run's page",
		`[...document.querySelectorAll('[data-testid="run-step"] .job-status')].filter(b => b.textContent.trim() === "Succeeded").length === 2`, 40*time.Second)
	waitLive(t, runTab, "the outputs on the run's page", `document.querySelectorAll('[data-testid="run-outputs"] a').length === 2`, 10*time.Second)
	runTab.Screenshot("run-page-done")
	if !Eval[bool](runTab, `window.__notReloaded === true`) {
		t.Fatal("the run's page was reloaded")
	}
	seen := Eval[[]string](runTab, `[...window.__seen]`)
	for _, want := range []string{"wc-count:Succeeded", "wc-top10:Running", "wc-top10:Succeeded", "wc-top10:lines-while-running"} {
		if !contains(seen, want) {
			t.Errorf("the run's page never showed %s (saw %q)", want, seen)
		}
	}
	lines := Eval[map[string]int](runTab, `window.__lines`)
	if lines["wc-count"] < 8 || lines["wc-top10"] < 8 {
		t.Errorf("log lines shown per stage = %v, want at least 8 each", lines)
	}
	if s := runTab.Text(`[data-testid="run-step"][data-stage="wc-top10"] [data-testid="run-step-log"]`); !strings.Contains(s, "Top 10 words of counts/story.counts") {
		t.Errorf("the second stage's log lacks its work line:\n%s", s)
	}
	if n := Eval[int](runTab, `document.querySelectorAll('[data-testid="run-timeline"] li').length`); n != 2 {
		t.Errorf("the timeline has %d rows, want one per job (2)", n)
	}
	if s := runTab.Text(`[data-testid="run-head"]`); !strings.Contains(s, "Succeeded") {
		t.Errorf("run status line = %q, want Succeeded", s)
	}
	if n := Eval[int](runTab, `document.querySelectorAll('[data-testid="workflow-graph"] .gnode-path').length`); n != 2 {
		t.Errorf("the run's path covers %d functions, want 2", n)
	}

	// The monitor page followed the run, without a reload.
	waitLive(t, tab, "the run to succeed on the monitor page", `!!document.querySelector('[data-testid="run-row"] > td:nth-child(2) .job-succeeded')`, 10*time.Second)
	waitLive(t, tab, "the outputs on the run list", `document.querySelectorAll('[data-testid="run-row"] [data-testid="run-outputs"] a').length === 2`, 10*time.Second)
	tab.Screenshot("monitor-run-done")
	if !Eval[bool](tab, `window.__notReloaded === true`) {
		t.Fatal("the monitor page was reloaded")
	}
	seen = Eval[[]string](tab, `[...window.__seen]`)
	for _, want := range []string{"wc-count:running", "wc-count:succeeded", "wc-top10:running", "wc-top10:succeeded", "run:wc-count:Running", "run:wc-top10:Running", "run:wc-top10:Succeeded"} {
		if !contains(seen, want) {
			t.Errorf("the monitor page never showed %s (saw %q)", want, seen)
		}
	}
	if got := Eval[[]int](tab, `["wc-count", "wc-top10"].map(n => +document.querySelector('[data-node="' + n + '"]').dataset.succeeded)`); len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Errorf("succeeded counts = %v, want 1 and 1", got)
	}
	outputs := Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="run-row"] [data-testid="run-outputs"] a')].map(a => a.textContent)`)
	if strings.Join(outputs, ",") != "wordcount/counts/story.counts,wordcount/top10/story.top10.txt" {
		t.Errorf("outputs on the run = %q", outputs)
	}
	// The output downloads from the Files pages.
	href := Eval[string](tab, `document.querySelectorAll('[data-testid="run-row"] [data-testid="run-outputs"] a')[1].href`)
	status, _, _, body := fetchBase64(tab, href)
	if status != 200 || !strings.HasPrefix(string(body), "4 the") {
		t.Errorf("downloading %s: %d %q", href, status, body)
	}
	if Eval[bool](tab, `!!document.querySelector('[data-testid="runs-guess-note"]')`) {
		t.Error("the local cluster's runs are exact, but the page says they are guessed")
	}

	// The jobs tables show each job's input object.
	tab.Visit(app.URL+"/services/local/wc-top10/jobs", "jobs-with-input")
	if s := tab.Text(`[data-testid="jobs-table"] tbody tr`); !strings.Contains(s, "wordcount/counts/story.counts") {
		t.Errorf("the job row lacks its input: %q", s)
	}

	// Both pages in both themes: no serious accessibility violation.
	for _, theme := range []string{"light", "dark"} {
		setTheme(tab, app.URL, theme)
		tab.Visit(runsURL, "monitor-"+theme)
		if vs := axeSerious(tab); len(vs) > 0 {
			t.Errorf("monitor page, %s theme:\n%s", theme, formatViolations(vs))
		}
		setTheme(runTab, app.URL, theme)
		runTab.Visit(app.URL+runPath, "run-"+theme)
		if vs := axeSerious(runTab); len(vs) > 0 {
			t.Errorf("run page, %s theme:\n%s", theme, formatViolations(vs))
		}
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %q", p)
	}
	if p := runTab.Problems(); len(p) > 0 {
		t.Errorf("browser problems on the run's page: %q", p)
	}
}

// TestAllJobsPageIsLive: the Jobs page shows a job appear and succeed
// without a reload.
func TestAllJobsPageIsLive(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	tab := newTab(t)
	tab.Visit(app.URL+"/", "home")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="deploy-sample"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="services-table"]`)),
	)
	tab.Visit(app.URL+"/jobs", "jobs-empty")
	waitLive(t, tab, "the live connection", `document.querySelector('[data-testid="live-state"]').dataset.state === "live"`, 10*time.Second)
	Eval[bool](tab, noteStates)
	// Notifications, opted into with the page's button: the browser's
	// Notification is replaced by one that records what it is asked to
	// show (headless Chromium shows none).
	Eval[bool](tab, `(() => {
  window.__notes = [];
  window.__asked = 0;
  window.Notification = class {
    constructor(title, o) { window.__notes.push(o.body); }
    static get permission() { return window.__asked ? "granted" : "default"; }
    static requestPermission() { window.__asked++; return Promise.resolve("granted"); }
  };
  return true;
})()`)
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="notify-toggle"]`)))
	waitLive(t, tab, "notifications to be on", `document.querySelector('[data-testid="notify-toggle"]').getAttribute("aria-pressed") === "true"`, 5*time.Second)
	text := "one two two\n"
	if _, err := localS3(t, app).PutObject(context.Background(), "wordcount", "in/jobs.txt", strings.NewReader(text), int64(len(text)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLive(t, tab, "both stages' jobs to succeed", `document.querySelectorAll('[data-testid="recent-jobs-table"] tbody .job-succeeded').length === 2`, 30*time.Second)
	if !Eval[bool](tab, `window.__notReloaded === true`) {
		t.Fatal("the Jobs page was reloaded")
	}
	inputs := Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="recent-jobs-table"] tbody tr td:nth-child(2)')].map(td => td.textContent.trim()).sort()`)
	if strings.Join(inputs, ",") != "wordcount/counts/jobs.counts,wordcount/in/jobs.txt" {
		t.Errorf("inputs on the Jobs page = %q", inputs)
	}
	waitLive(t, tab, "a notification per finished job", `window.__notes.length === 2`, 5*time.Second)
	notes := Eval[[]string](tab, `window.__notes.slice().sort()`)
	if !strings.HasPrefix(notes[0], "Job wc-count-") || !strings.HasSuffix(notes[0], " of wc-count succeeded") || !strings.HasSuffix(notes[1], " of wc-top10 succeeded") {
		t.Errorf("notifications = %q", notes)
	}
	if n := Eval[int](tab, `window.__asked`); n != 1 {
		t.Errorf("permission asked %d times, want once (on the click)", n)
	}
	tab.Screenshot("jobs-live")
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %q", p)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
