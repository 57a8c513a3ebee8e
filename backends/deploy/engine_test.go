package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/store"
)

// TestDeployLifecycle deploys the two-stage workflow, applies it again,
// changes one field, removes a stage and reads the record, against the
// spec-checked OSCAR fake and the local cluster, both through the OSCAR
// client.
func TestDeployLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster func(t *testing.T) backends.Services
	}{
		{"fake", func(t *testing.T) backends.Services { c, _ := fakeOSCAR(t, true); return c }},
		{"local", func(t *testing.T) backends.Services { return localCluster(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := &watched{Services: tc.cluster(t)}
			j, owner := journal(t)
			e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": w}), Journal: j}
			req := deploy.Request{OwnerID: owner, User: "Alice", Workflow: "wf-1", Version: 1,
				Doc: parseDoc(t, pipeline), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}}

			// Deploy.
			p := mustPlan(t, e, req)
			if k := kinds(p); k["stage-a"] != deploy.ActionCreate || k["stage-b"] != deploy.ActionCreate || len(k) != 2 {
				t.Fatalf("first plan = %v, want two creates", k)
			}
			if b := action(t, p, "stage-b"); !slices.Equal(b.After, []int{0}) {
				t.Errorf("stage-b reads stage-a's output: After = %v, want [0]", b.After)
			}
			var buckets []string
			for _, ef := range p.Effects {
				if ef.Kind == deploy.EffectStorage && strings.HasPrefix(ef.Message, "creates bucket") {
					buckets = append(buckets, ef.Bucket)
				}
			}
			slices.Sort(buckets)
			buckets = slices.Compact(buckets)
			if !slices.Equal(buckets, []string{"wf-final", "wf-in", "wf-mid"}) {
				t.Errorf("buckets to create = %v; effects %+v", buckets, p.Effects)
			}
			var events []deploy.Event
			r, err := e.Apply(ctx, p, func(ev deploy.Event) { events = append(events, ev) })
			if err != nil || r.Outcome != store.DeploymentApplied || r.Failed() {
				t.Fatalf("apply = %+v, %v", r, err)
			}
			if len(events) != 4 || events[3].Done != 2 || events[3].Total != 2 {
				t.Errorf("events = %+v, want started and done for each of two", events)
			}
			for name, script := range map[string]string{"stage-a": "echo stage a", "stage-b": "echo stage b"} {
				got, err := w.GetService(ctx, name)
				if err != nil || !strings.Contains(got.Script, script) {
					t.Errorf("%s on the cluster: script %q, %v; want its own script", name, got.Script, err)
				}
			}

			// Apply twice: nothing the second time.
			w.reset()
			p = mustPlan(t, e, req)
			if p.Changes() {
				t.Fatalf("second plan changes something: %+v", p.Actions)
			}
			if r := mustApply(t, e, p); r.Outcome != store.DeploymentApplied {
				t.Errorf("second apply = %+v", r)
			}
			if m := w.mutations(); len(m) != 0 {
				t.Errorf("second apply changed the cluster: %v", m)
			}

			// One field changed: one update of one field.
			req.Version = 2
			req.Doc = parseDoc(t, strings.Replace(pipeline, "      script: b.sh\n", "      script: b.sh\n      memory: 512Mi\n", 1))
			p = mustPlan(t, e, req)
			if k := kinds(p); k["stage-a"] != deploy.ActionUnchanged || k["stage-b"] != deploy.ActionUpdate {
				t.Fatalf("plan = %v", k)
			}
			if ch := action(t, p, "stage-b").Changes; len(ch) != 1 || ch[0] != (deploy.Change{Field: "memory", From: "256Mi", To: "512Mi"}) {
				t.Errorf("changes = %+v, want memory 256Mi -> 512Mi only", ch)
			}
			mustApply(t, e, p)
			if got, _ := w.GetService(ctx, "stage-b"); got.Memory != "512Mi" {
				t.Errorf("memory on the cluster = %q", got.Memory)
			}

			// A stage removed: deleted, with the buckets it wipes and who
			// else uses them.
			req.Version = 3
			req.Doc = parseDoc(t, pipeline[:strings.Index(pipeline, "  - edge:\n      name: stage-b")])
			p = mustPlan(t, e, req)
			if k := kinds(p); k["stage-a"] != deploy.ActionUnchanged || k["stage-b"] != deploy.ActionDelete {
				t.Fatalf("plan = %v", k)
			}
			wipes := map[string][]string{}
			for _, ef := range p.Effects {
				if ef.Kind == deploy.EffectWipe {
					wipes[ef.Bucket] = ef.UsedBy
				}
			}
			if len(wipes) != 2 || !slices.Equal(wipes["wf-mid"], []string{"mine/stage-a"}) || wipes["wf-final"] != nil {
				t.Errorf("wipes = %v, want wf-mid (used by stage-a) and wf-final", wipes)
			}
			mustApply(t, e, p)
			if _, err := w.GetService(ctx, "stage-b"); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("stage-b after the delete: %v", err)
			}

			// The record: who, which version, where, and each outcome.
			deps, err := j.List(ctx, owner, "wf-1")
			if err != nil || len(deps) != 4 {
				t.Fatalf("deployments = %d, %v", len(deps), err)
			}
			last := deps[0]
			if last.Version != 3 || last.User != "Alice" || !slices.Equal(last.Clusters, []string{"mine"}) || last.Outcome != store.DeploymentApplied {
				t.Errorf("last deployment = %+v", last)
			}
			if len(last.Functions) != 2 || last.Functions[1].Name != "stage-b" || last.Functions[1].Action != "delete" || last.Functions[1].State != store.FunctionDone {
				t.Errorf("last deployment's functions = %+v", last.Functions)
			}
		})
	}
}

// TestInterruptedApplyConverges: an apply cut after its first function,
// and one whose backend starts failing, both converge when planned and
// applied again; what the cut apply created is still known as the
// workflow's.
func TestInterruptedApplyConverges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster func(t *testing.T) backends.Services
	}{
		{"fake", func(t *testing.T) backends.Services { c, _ := fakeOSCAR(t, true); return c }},
		{"local", func(t *testing.T) backends.Services { return localCluster(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) { interruptedApplyConverges(t, tc.cluster(t)) })
	}
}

func interruptedApplyConverges(t *testing.T, c backends.Services) {
	ctx := context.Background()
	w := &watched{Services: c}
	j, owner := journal(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": w}), Journal: j, Parallel: 1}
	req := deploy.Request{OwnerID: owner, Workflow: "wf", Doc: parseDoc(t, pipeline), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}}

	cctx, cancel := context.WithCancel(ctx)
	r, err := e.Apply(cctx, mustPlan(t, e, req), func(ev deploy.Event) {
		if ev.State == store.FunctionDone {
			cancel()
		}
	})
	cancel()
	if err != nil || r.Outcome != store.DeploymentInterrupted {
		t.Fatalf("cut apply = %+v, %v", r, err)
	}
	if _, err := c.GetService(ctx, "stage-b"); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("stage-b was sent after the cut: %v", err)
	}

	// Then the backend fails every change (reads still answer).
	w.fail = func(op, name string) error {
		if op == "get" || op == "list" {
			return nil
		}
		return &backends.Error{Kind: backends.KindUnavailable, Op: op + " " + name, Message: "connection reset"}
	}
	p := mustPlan(t, e, req)
	if k := kinds(p); k["stage-a"] != deploy.ActionUnchanged || k["stage-b"] != deploy.ActionCreate {
		t.Fatalf("plan after the cut = %v", k)
	}
	r = mustApply(t, e, p)
	if r.Outcome != store.DeploymentFailed || !r.Failed() {
		t.Fatalf("apply on a failing backend = %+v", r)
	}
	for _, o := range r.Functions {
		if o.Name == "stage-b" && (o.State != store.FunctionFailed || !strings.Contains(o.Message, "connection reset")) {
			t.Errorf("stage-b = %+v, want failed with the backend's message", o)
		}
	}

	w.fail = nil
	p = mustPlan(t, e, req)
	if r := mustApply(t, e, p); r.Outcome != store.DeploymentApplied {
		t.Fatalf("re-apply = %+v", r)
	}
	if p = mustPlan(t, e, req); p.Changes() {
		t.Errorf("not converged: %+v", p.Actions)
	}

	// Both were created by this workflow: removing them from it deletes
	// them, stage-a too (created by the cut apply). The journal knows
	// where they are: no mapping is needed.
	req.Delete, req.Clusters = true, nil
	p = mustPlan(t, e, req)
	if k := kinds(p); k["stage-a"] != deploy.ActionDelete || k["stage-b"] != deploy.ActionDelete || len(k) != 2 {
		t.Errorf("--delete plan = %v", k)
	}
}

// TestFailureOnOneClusterAndRollback: a create refused on one cluster
// (the OSCAR fake) leaves the other cluster's changes (the local cluster)
// applied, every function has its outcome, and the rollback restores the
// previous definitions.
func TestFailureOnOneClusterAndRollback(t *testing.T) {
	ctx := context.Background()
	c1 := localCluster(t)
	c2, _ := fakeOSCAR(t, true)
	w2 := &watched{Services: c2}
	j, owner := journal(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"one": c1, "two": w2}), Journal: j}
	twoClusters := strings.Replace(pipeline, "  - edge:\n      name: stage-b", "  - cloud:\n      name: stage-b", 1)
	req := deploy.Request{OwnerID: owner, Workflow: "wf", Version: 1, Doc: parseDoc(t, twoClusters), Scripts: scripts,
		Clusters: map[string]string{"edge": "one", "cloud": "two"}}
	mustApply(t, e, mustPlan(t, e, req))
	before, err := c1.GetService(ctx, "stage-a")
	if err != nil {
		t.Fatal(err)
	}

	v2 := strings.NewReplacer("      script: a.sh\n", "      script: a.sh\n      memory: 1Gi\n",
		"      script: b.sh\n", "      script: b.sh\n      cpu: \"2\"\n").Replace(twoClusters) +
		"  - cloud:\n      name: stage-c\n      image: alpine\n      script: c.sh\n"
	req.Version, req.Doc = 2, parseDoc(t, v2)
	w2.fail = func(op, name string) error {
		if op == "create" && name == "stage-c" {
			return &backends.Error{Kind: backends.KindInvalid, Op: "create service \"stage-c\"", Message: "image not allowed"}
		}
		return nil
	}
	p := mustPlan(t, e, req)
	if k := kinds(p); k["stage-a"] != deploy.ActionUpdate || k["stage-b"] != deploy.ActionUpdate || k["stage-c"] != deploy.ActionCreate {
		t.Fatalf("plan = %v", k)
	}
	r := mustApply(t, e, p)
	got := map[string]deploy.Outcome{}
	for _, o := range r.Functions {
		got[o.Name] = o
	}
	if r.Outcome != store.DeploymentFailed || got["stage-a"].State != store.FunctionDone || got["stage-b"].State != store.FunctionDone ||
		got["stage-c"].State != store.FunctionFailed || !strings.Contains(got["stage-c"].Message, "image not allowed") {
		t.Fatalf("apply = %+v", r)
	}
	if s, _ := c1.GetService(ctx, "stage-a"); s.Memory != "1Gi" {
		t.Errorf("the other cluster was not applied: memory %q", s.Memory)
	}

	var events []deploy.Event
	rb, err := e.Rollback(ctx, owner, r.Deployment, func(ev deploy.Event) { events = append(events, ev) })
	if err != nil || rb.Outcome != store.DeploymentRolledBack || len(rb.Functions) != 2 {
		t.Fatalf("rollback = %+v, %v", rb, err)
	}
	if s, _ := c1.GetService(ctx, "stage-a"); s.Memory != before.Memory || !strings.Contains(s.Script, "stage a") {
		t.Errorf("stage-a after rollback: memory %q script %q", s.Memory, s.Script)
	}
	if s, _ := c2.GetService(ctx, "stage-b"); s.CPU != "" {
		t.Errorf("stage-b after rollback: cpu %q", s.CPU)
	}
	if len(events) != 4 {
		t.Errorf("rollback events = %+v", events)
	}
	d, _ := j.Get(ctx, owner, r.Deployment)
	if d.Outcome != store.DeploymentRolledBack {
		t.Errorf("recorded outcome = %q", d.Outcome)
	}
	if p := mustPlan(t, e, deploy.Request{OwnerID: owner, Workflow: "wf", Doc: parseDoc(t, twoClusters), Scripts: scripts, Clusters: req.Clusters}); p.Changes() {
		t.Errorf("after rollback, version 1 is not what the clusters have: %+v", p.Actions)
	}
}

// TestCredentialsOnlyWhereNeeded: each cluster receives only the
// clusters (and storage providers) entries its own services refer to.
func TestCredentialsOnlyWhereNeeded(t *testing.T) {
	c1, _ := fakeOSCAR(t, true)
	c2, _ := fakeOSCAR(t, true)
	w1, w2 := &watched{Services: c1}, &watched{Services: c2}
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"one": w1, "two": w2})}
	doc := `functions:
  oscar:
  - edge:
      name: plain
      image: alpine
      script: a.sh
      output:
      - {storage_provider: s3.aws, path: results/out}
  - cloud:
      name: federated
      image: alpine
      script: b.sh
      federation:
        members:
        - {type: oscar, cluster_id: edge, service_name: plain}
clusters:
  edge: {endpoint: "https://edge.example", auth_user: u1, auth_password: PW-EDGE}
  cloud: {endpoint: "https://cloud.example", auth_user: u2, auth_password: PW-CLOUD}
storage_providers:
  s3:
    aws: {access_key: AK, secret_key: SK-AWS}
  minio:
    other: {endpoint: "https://other.example", access_key: AK2, secret_key: SK-OTHER}
`
	p := mustPlan(t, e, deploy.Request{Doc: parseDoc(t, doc), Scripts: scripts, Clusters: map[string]string{"edge": "one", "cloud": "two"}})
	mustApply(t, e, p)
	if len(w1.sent) != 1 || len(w2.sent) != 1 {
		t.Fatalf("sent %d and %d services", len(w1.sent), len(w2.sent))
	}
	plain, fed := w1.sent[0], w2.sent[0]
	if plain.Clusters != nil {
		t.Errorf("plain refers to no cluster but received %v", plain.Clusters)
	}
	if sp := plain.StorageProviders; sp == nil || sp.S3["aws"].SecretKey != "SK-AWS" || sp.MinIO != nil {
		t.Errorf("plain's providers = %+v, want s3.aws only", sp)
	}
	if len(fed.Clusters) != 1 || fed.Clusters["edge"].AuthPassword != "PW-EDGE" {
		t.Errorf("federated's clusters = %+v, want edge only", fed.Clusters)
	}
	for _, s := range append(w1.sent, w2.sent...) {
		if _, ok := s.Clusters["cloud"]; ok {
			t.Errorf("%s received the cloud cluster's credentials", s.Name)
		}
	}
}

// TestPlanUnmappedAWSAndLoops: unmapped cluster ids and AWS functions
// are listed, Apply refuses unmapped ones, and loops are side effects.
func TestPlanUnmappedAWSAndLoops(t *testing.T) {
	c, _ := fakeOSCAR(t, true)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": c})}
	doc := `functions:
  oscar:
  - edge:
      name: ping
      image: alpine
      script: a.sh
      input: [{storage_provider: minio.default, path: loop/ping}]
      output: [{storage_provider: minio.default, path: loop/pong}]
  - edge:
      name: pong
      image: alpine
      script: b.sh
      input: [{storage_provider: minio.default, path: loop/pong}]
      output: [{storage_provider: minio.default, path: loop/ping}]
  - mine:
      name: same-name
      image: alpine
      script: a.sh
  - elsewhere:
      name: self
      image: alpine
      script: c.sh
      input: [{storage_provider: minio.default, path: self/in}]
      output: [{storage_provider: minio.default, path: self/in/again}]
  aws:
  - lambda: {name: on-aws, run_script: a.sh, container: {image: alpine}}
`
	p := mustPlan(t, e, deploy.Request{Doc: parseDoc(t, doc), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}})
	k := kinds(p)
	if k["ping"] != deploy.ActionCreate || k["self"] != deploy.ActionNeedsCluster || k["on-aws"] != deploy.ActionNeedsCluster {
		t.Errorf("plan = %v", k)
	}
	if a := action(t, p, "same-name"); a.Kind != deploy.ActionCreate || a.Cluster != "mine" {
		t.Errorf("an FDL id that names a registered cluster goes to it: %+v", a)
	}
	if !slices.Equal(p.NeedsCluster, []string{"elsewhere", deploy.AWSCluster}) {
		t.Errorf("needs cluster = %v", p.NeedsCluster)
	}
	var loops []string
	for _, ef := range p.Effects {
		if ef.Kind == deploy.EffectLoop {
			loops = append(loops, ef.Message)
		}
	}
	if len(loops) != 2 || !strings.Contains(strings.Join(loops, "\n"), "ping → pong → ping") || !strings.Contains(strings.Join(loops, "\n"), "self") {
		t.Errorf("loops = %q", loops)
	}
	var ie *deploy.InputError
	if _, err := e.Apply(context.Background(), p, nil); !errors.As(err, &ie) || !strings.Contains(err.Error(), "elsewhere") {
		t.Errorf("apply with an unmapped cluster: %v", err)
	}
	if _, err := c.GetService(context.Background(), "ping"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("a refused apply changed the cluster: %v", err)
	}
}

// TestDriftAdoptOrReapply: a service changed outside FDL Studio shows as
// drift with its diff; adopting writes the cluster's version as FDL,
// re-applying restores the recorded one.
func TestDriftAdoptOrReapply(t *testing.T) {
	ctx := context.Background()
	c, _ := fakeOSCAR(t, true)
	j, owner := journal(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": c}), Journal: j}
	req := deploy.Request{OwnerID: owner, Workflow: "wf", Doc: parseDoc(t, pipeline), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}}
	r := mustApply(t, e, mustPlan(t, e, req))

	ds, err := e.Drift(ctx, owner, r.Deployment)
	if err != nil || len(ds) != 2 || ds[0].State != deploy.DriftNone || ds[1].State != deploy.DriftNone {
		t.Fatalf("drift right after deploying = %+v, %v", ds, err)
	}
	s, _ := c.GetService(ctx, "stage-a")
	s.Memory = "2Gi"
	if err := c.UpdateService(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteService(ctx, "stage-b"); err != nil {
		t.Fatal(err)
	}
	ds, err = e.Drift(ctx, owner, r.Deployment)
	if err != nil || ds[0].State != deploy.DriftChanged || ds[1].State != deploy.DriftMissing {
		t.Fatalf("drift = %+v, %v", ds, err)
	}
	if ch := ds[0].Changes; len(ch) != 1 || ch[0] != (deploy.Change{Field: "memory", From: "256Mi", To: "2Gi"}) {
		t.Errorf("drift changes = %+v", ch)
	}
	out, err := deploy.Adopt(ds[0])
	if err != nil || !strings.Contains(string(out), "memory: 2Gi") || !strings.Contains(string(out), "- edge:") || strings.Contains(string(out), "token") {
		t.Errorf("adopted FDL = %s, %v", out, err)
	}
	if _, err := deploy.Adopt(ds[1]); err == nil {
		t.Error("adopting a missing service should fail")
	}

	r = mustApply(t, e, mustPlan(t, e, req))
	if ds, err = e.Drift(ctx, owner, r.Deployment); err != nil || ds[0].State != deploy.DriftNone || ds[1].State != deploy.DriftNone {
		t.Errorf("drift after re-applying = %+v, %v", ds, err)
	}
}

// TestStartedCreateCountsAsCreated: a create the journal shows started
// but never confirmed (the server stopped mid-call) may have happened:
// when the workflow no longer has the function, the plan deletes it.
func TestStartedCreateCountsAsCreated(t *testing.T) {
	ctx := context.Background()
	c, _ := fakeOSCAR(t, true)
	j, owner := journal(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": c}), Journal: j}
	req := deploy.Request{OwnerID: owner, Workflow: "wf", Doc: parseDoc(t, pipeline), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}}
	p := mustPlan(t, e, req)
	// What a server stopped after sending stage-b's create leaves behind.
	if err := c.CreateService(ctx, action(t, p, "stage-b").Service); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Begin(ctx, store.Deployment{OwnerID: owner, Workflow: "wf", Clusters: []string{"mine"}, Functions: []store.DeployedFunction{
		{Cluster: "mine", FDLCluster: "edge", Name: "stage-a", Action: "create", State: store.FunctionPlanned},
		{Cluster: "mine", FDLCluster: "edge", Name: "stage-b", Action: "create", State: store.FunctionStarted},
	}}); err != nil {
		t.Fatal(err)
	}
	req.Doc = parseDoc(t, pipeline[:strings.Index(pipeline, "  - edge:\n      name: stage-b")])
	p = mustPlan(t, e, req)
	if k := kinds(p); k["stage-a"] != deploy.ActionCreate || k["stage-b"] != deploy.ActionDelete {
		t.Fatalf("plan = %v", k)
	}
	if r := mustApply(t, e, p); r.Outcome != store.DeploymentApplied {
		t.Fatalf("apply = %+v", r)
	}
	deps, _ := j.List(ctx, owner, "wf")
	if len(deps) != 2 || deps[1].Outcome != store.DeploymentInterrupted {
		t.Errorf("the stopped deployment is not marked interrupted: %+v", deps)
	}
}

// TestVisibilityChangeIsASideEffect: making a deployed service public is
// one changed field and a side effect said before applying.
func TestVisibilityChangeIsASideEffect(t *testing.T) {
	c, _ := fakeOSCAR(t, true)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": c})}
	req := deploy.Request{Doc: parseDoc(t, pipeline), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}}
	mustApply(t, e, mustPlan(t, e, req))
	req.Doc = parseDoc(t, strings.Replace(pipeline, "      script: a.sh\n", "      script: a.sh\n      visibility: public\n", 1))
	p := mustPlan(t, e, req)
	if ch := action(t, p, "stage-a").Changes; len(ch) != 1 || ch[0] != (deploy.Change{Field: "visibility", From: "private", To: "public"}) {
		t.Errorf("changes = %+v", ch)
	}
	var vis []string
	for _, ef := range p.Effects {
		if ef.Kind == deploy.EffectVisibility {
			vis = append(vis, ef.Message)
		}
	}
	if !slices.Equal(vis, []string{"stage-a on mine becomes public (was private)"}) {
		t.Errorf("visibility effects = %q", vis)
	}
}

// TestWhereEachVersionIs: a cluster has the version of its newest applied
// deployment; one that failed does not count, one that deleted
// everything takes the workflow away.
func TestWhereEachVersionIs(t *testing.T) {
	fn := func(cluster, action string) store.DeployedFunction {
		return store.DeployedFunction{Cluster: cluster, Name: "s", Action: action}
	}
	deps := []store.Deployment{
		{ID: 4, Version: 3, Outcome: store.DeploymentFailed, Clusters: []string{"one"}, Functions: []store.DeployedFunction{fn("one", "update")}},
		{ID: 1, Version: 1, Outcome: store.DeploymentApplied, Clusters: []string{"one", "two"}, Functions: []store.DeployedFunction{fn("one", "create"), fn("two", "create")}},
		{ID: 3, Version: 2, Outcome: store.DeploymentApplied, Clusters: []string{"three"}, Functions: []store.DeployedFunction{fn("three", "delete")}},
		{ID: 2, Version: 2, Outcome: store.DeploymentApplied, Clusters: []string{"two", "three"}, Functions: []store.DeployedFunction{fn("two", "update"), fn("three", "create")}},
	}
	got := deploy.Where(deps)
	var s []string
	for _, p := range got {
		s = append(s, fmt.Sprintf("%s=v%d#%d", p.Cluster, p.Version, p.Deployment))
	}
	if strings.Join(s, " ") != "one=v1#1 two=v2#2" {
		t.Errorf("where = %v", s)
	}
}

// TestChangedSecretIsAnUpdate: the local cluster, like OSCAR, returns
// secret values blank; a changed secret is still an update (compared
// with the value last sent, kept sealed in the journal), shown without
// its value, and an unchanged one is no change.
func TestChangedSecretIsAnUpdate(t *testing.T) {
	ctx := context.Background()
	c := localCluster(t)
	j, owner := journal(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": c}), Journal: j}
	withSecret := func(v string) string {
		return strings.Replace(pipeline, "      script: a.sh\n", "      script: a.sh\n      environment:\n        secrets: {API_TOKEN: "+v+"}\n", 1)
	}
	req := deploy.Request{OwnerID: owner, Workflow: "wf", Doc: parseDoc(t, withSecret("first-value")), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}}
	mustApply(t, e, mustPlan(t, e, req))
	if s, _ := c.GetService(ctx, "stage-a"); s.Environment == nil || s.Environment.Secrets["API_TOKEN"] != "" {
		t.Fatalf("the cluster returns the secret: %+v", s.Environment)
	}
	if p := mustPlan(t, e, req); p.Changes() {
		t.Fatalf("an unchanged secret is a change: %+v", p.Actions)
	}
	req.Doc = parseDoc(t, withSecret("second-value"))
	p := mustPlan(t, e, req)
	a := action(t, p, "stage-a")
	if a.Kind != deploy.ActionUpdate || len(a.Changes) != 1 || a.Changes[0] != (deploy.Change{Field: "environment.secrets.API_TOKEN", From: "(hidden)", To: "(hidden, changed)"}) {
		t.Fatalf("plan = %s %+v", a.Kind, a.Changes)
	}
	r := mustApply(t, e, p)
	if p := mustPlan(t, e, req); p.Changes() {
		t.Errorf("after applying the new secret: %+v", p.Actions)
	}

	// The rollback sends the first value again, not the blank the
	// cluster returned.
	w := &watched{Services: c}
	e.Resolve = resolver(map[string]backends.Services{"mine": w})
	if rb, err := e.Rollback(ctx, owner, r.Deployment, nil); err != nil || rb.Outcome != store.DeploymentRolledBack {
		t.Fatalf("rollback = %+v, %v", rb, err)
	}
	if len(w.sent) != 1 || w.sent[0].Environment == nil || w.sent[0].Environment.Secrets["API_TOKEN"] != "first-value" {
		t.Errorf("rollback sent %+v", w.sent)
	}
}

// TestOneApplyAtATime: while an apply of a workflow runs, another apply
// of it is refused rather than interleaved.
func TestOneApplyAtATime(t *testing.T) {
	c, _ := fakeOSCAR(t, true)
	entered, release := make(chan struct{}), make(chan struct{})
	w := &watched{Services: c, fail: func(op, name string) error {
		if op == "create" && name == "stage-a" {
			close(entered)
			<-release
		}
		return nil
	}}
	j, owner := journal(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": w}), Journal: j}
	req := deploy.Request{OwnerID: owner, Workflow: "wf", Doc: parseDoc(t, pipeline), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}}
	p := mustPlan(t, e, req)
	done := make(chan *deploy.Result)
	go func() {
		r, _ := e.Apply(context.Background(), p, nil)
		done <- r
	}()
	<-entered
	_, err := e.Apply(context.Background(), p, nil)
	close(release)
	if !errors.Is(err, deploy.ErrBusy) {
		t.Errorf("a second apply while one runs: %v", err)
	}
	if r := <-done; r == nil || r.Outcome != store.DeploymentApplied {
		t.Errorf("the first apply = %+v", r)
	}
	if _, err := e.Apply(context.Background(), mustPlan(t, e, req), nil); err != nil {
		t.Errorf("an apply after it: %v", err)
	}
}

// TestServiceTokenIsNotSent: OSCAR generates a service's token and
// ignores one given on create (fdl validate warns so); a token written in
// the file is a secret that no cluster needs, so no create or update
// carries it.
func TestServiceTokenIsNotSent(t *testing.T) {
	c, _ := fakeOSCAR(t, true)
	w := &watched{Services: c}
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"one": w})}
	doc := `functions:
  oscar:
  - edge:
      name: tokened
      image: alpine
      memory: 128Mi
      token: TOKEN-IN-THE-FILE
      script: a.sh
`
	mustApply(t, e, mustPlan(t, e, deploy.Request{Doc: parseDoc(t, doc), Scripts: scripts, Clusters: map[string]string{"edge": "one"}}))
	changed := strings.Replace(doc, "128Mi", "256Mi", 1)
	mustApply(t, e, mustPlan(t, e, deploy.Request{Doc: parseDoc(t, changed), Scripts: scripts, Clusters: map[string]string{"edge": "one"}}))
	if len(w.sent) != 2 {
		t.Fatalf("sent %d services, want a create and an update", len(w.sent))
	}
	for i, s := range w.sent {
		if s.Token != "" {
			t.Errorf("request %d carried the file's token %q", i, s.Token)
		}
	}
}
