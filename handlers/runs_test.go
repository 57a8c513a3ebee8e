package handlers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
)

// twoStages is a two-stage workflow on the FDL cluster "c".
const twoStages = `functions:
  oscar:
  - c:
      name: count
      image: img
      script: echo
      input:
      - storage_provider: minio.default
        path: wc/in
      output:
      - storage_provider: minio.default
        path: wc/counts
  - c:
      name: top
      image: img
      script: echo
      input:
      - storage_provider: minio.default
        path: wc/counts
      output:
      - storage_provider: minio.default
        path: wc/top
`

func inputLog(key string) string {
	return fmt.Sprintf("Downloading item from bucket 'wc' with key '%s'\nworking\n", key)
}

// deployedWorkflow saves twoStages for the fixture's user and records
// its deployment to the cluster "mem".
func (f *liveFixture) deployedWorkflow(t *testing.T) int64 {
	t.Helper()
	ctx := t.Context()
	w, err := f.db.Workflows().Create(ctx, f.user, "two", twoStages, "{}", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"count", "top"} {
		if err := f.mem.CreateService(ctx, &backends.Service{Name: svc, Image: "img"}); err != nil {
			t.Fatal(err)
		}
	}
	deps := f.db.Deployments(processSealer())
	d, err := deps.Begin(ctx, store.Deployment{OwnerID: f.user, Workflow: workflowKey(w.ID), Version: 1, Clusters: []string{"mem"},
		Functions: []store.DeployedFunction{{Cluster: "mem", FDLCluster: "c", Name: "count", Action: "create"}, {Cluster: "mem", FDLCluster: "c", Name: "top", Action: "create"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"count", "top"} {
		if err := deps.Mark(ctx, d.ID, "mem", svc, store.FunctionDone, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := deps.Finish(ctx, d.ID, store.DeploymentApplied); err != nil {
		t.Fatal(err)
	}
	return w.ID
}

// On a cluster that records no causality, runs are put together from
// the input keys in the jobs' logs, and the pages say so; the monitor's
// socket sends the graph and the run list again when jobs change.
func TestRunsByObjectKey(t *testing.T) {
	f := newLiveFixture(t)
	id := f.deployedWorkflow(t)
	t0 := time.Now().Add(-time.Minute)
	f.mem.AddJob("count", "c1", backends.JobSucceeded, t0, inputLog("in/a.txt"))
	f.mem.AddJob("count", "c2", backends.JobSucceeded, t0.Add(time.Second), inputLog("in/b.txt"))
	f.mem.AddJob("top", "t2", backends.JobRunning, t0.Add(2*time.Second), inputLog("counts/b.counts"))

	status, page := f.get(t, "GET", fmt.Sprintf("/workflows/%d/runs", id))
	if status != 200 {
		t.Fatalf("runs page: %d %s", status, page)
	}
	for _, want := range []string{`data-node="count"`, `data-succeeded="2"`, `data-node="top"`, `data-running="1"`,
		`data-run="c1"`, `data-run="c2"`, "wc/in/b.txt", "guessed", `data-testid="runs-guess-note"`} {
		if !strings.Contains(page, want) {
			t.Errorf("runs page lacks %s", want)
		}
	}
	if strings.Contains(page, `data-run="t2"`) {
		t.Error("t2 is its own run; want it in c2's run")
	}

	// The inputs read from the logs show in the job tables.
	if _, jobs := f.get(t, "GET", "/services/mem/count/jobs"); !strings.Contains(jobs, "wc/in/a.txt") || !strings.Contains(jobs, "wc/in/b.txt") {
		t.Errorf("the jobs table lacks the jobs' inputs:\n%s", jobs)
	}

	status, page = f.get(t, "GET", fmt.Sprintf("/workflows/%d/runs/c2", id))
	if status != 200 {
		t.Fatalf("run page: %d %s", status, page)
	}
	for _, want := range []string{`data-job="c2"`, `data-job="t2"`, "wc/counts/b.counts", `data-testid="run-timeline"`, "working"} {
		if !strings.Contains(page, want) {
			t.Errorf("run page lacks %s", want)
		}
	}
	if status, _ := f.get(t, "GET", fmt.Sprintf("/workflows/%d/runs/nope", id)); status != 404 {
		t.Errorf("an unknown run: %d, want 404", status)
	}

	c, _, err := f.dial(t, fmt.Sprintf("/workflows/%d/runs/live", id), f.srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, err := readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if ids := swapIDs(msg); ids != "runs-graph,runs-list" {
		t.Fatalf("first message swaps %q, want the graph and the list", ids)
	}
	// t2 succeeds: the graph's counts and the run list change.
	f.mem.UpdateJob("top", "t2", backends.JobSucceeded, "done\n")
	f.hub.WakeService("mem", "top")
	msg, err = readMsg(t, c)
	if err != nil {
		t.Fatal(err)
	}
	var graph string
	for _, s := range msg.Swap {
		if s.ID == "runs-graph" {
			graph = s.HTML
		}
	}
	if !strings.Contains(graph, `data-node="top" data-state="" data-pending="0" data-running="0" data-succeeded="1"`) {
		t.Errorf("after t2 succeeded the graph is\n%s", graph)
	}
}

// A workflow never deployed says so.
func TestRunsOfAnUndeployedWorkflow(t *testing.T) {
	f := newLiveFixture(t)
	w, err := f.db.Workflows().Create(t.Context(), f.user, "two", twoStages, "{}", nil)
	if err != nil {
		t.Fatal(err)
	}
	status, page := f.get(t, "GET", fmt.Sprintf("/workflows/%d/runs", w.ID))
	if status != 200 || !strings.Contains(page, `data-testid="not-deployed"`) || !strings.Contains(page, "not deployed") {
		t.Errorf("undeployed workflow's runs page: %d\n%s", status, page)
	}
	if status, _ := f.get(t, "GET", "/workflows/999/runs"); status != 404 {
		t.Errorf("someone else's or no workflow: %d, want 404", status)
	}
}

func swapIDs(m LiveMessage) string {
	ids := make([]string, len(m.Swap))
	for i, s := range m.Swap {
		ids[i] = s.ID
	}
	return strings.Join(ids, ",")
}
