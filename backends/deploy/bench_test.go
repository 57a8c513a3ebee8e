package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
)

// latency is added to every backend call in the benchmarks.
const latency = 100 * time.Millisecond

// twentyServices is a workflow of 20 independent services.
func twentyServices() string {
	var b strings.Builder
	b.WriteString("functions:\n  oscar:\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "  - edge:\n      name: svc-%02d\n      image: alpine\n      script: a.sh\n      input:\n      - {storage_provider: minio.default, path: bench-%02d/in}\n", i, i)
	}
	return b.String()
}

// sequentialApply is oscar-cli's apply: for each service in order, GET,
// then PUT if it exists or POST if not.
func sequentialApply(ctx context.Context, s backends.Services, fns []deploy.Function) error {
	for _, f := range fns {
		_, err := s.GetService(ctx, f.Service.Name)
		switch {
		case err == nil:
			err = s.UpdateService(ctx, f.Service)
		case backends.KindOf(err) == backends.KindNotFound:
			err = s.CreateService(ctx, f.Service)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkApplyVsSequential deploys 20 services to a cluster (the OSCAR
// fake through the client) with 100 ms added to every call, by a
// sequential GET-then-PUT/POST loop like oscar-cli's and by Plan+Apply
// (journaled), side by side in each iteration. ratio is the engine's wall
// time over the loop's (target <= 0.3).
func BenchmarkApplyVsSequential(b *testing.B) {
	ctx := context.Background()
	c, _ := fakeOSCAR(b, false)
	w := &watched{Services: c, noBuckets: true}
	j, owner := journal(b)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": w}), Journal: j}
	doc := parseDoc(b, twentyServices())
	fns, err := deploy.Services(doc, scripts)
	if err != nil {
		b.Fatal(err)
	}
	clear := func() {
		for _, f := range fns {
			_ = c.DeleteService(ctx, f.Service.Name)
		}
	}
	var seq, eng time.Duration
	for i := 0; b.Loop(); i++ {
		clear()
		w.delay = latency
		t0 := time.Now()
		if err := sequentialApply(ctx, w, fns); err != nil {
			b.Fatal(err)
		}
		seq += time.Since(t0)
		w.delay = 0
		clear()
		w.delay = latency
		t0 = time.Now()
		p, err := e.Plan(ctx, deploy.Request{OwnerID: owner, Workflow: fmt.Sprint("bench-", i), Doc: doc, Scripts: scripts, Clusters: map[string]string{"edge": "mine"}})
		if err != nil {
			b.Fatal(err)
		}
		if r, err := e.Apply(ctx, p, nil); err != nil || r.Failed() {
			b.Fatalf("apply = %+v, %v", r, err)
		}
		eng += time.Since(t0)
		w.delay = 0
	}
	b.ReportMetric(seq.Seconds()/float64(b.N), "seq-s/op")
	b.ReportMetric(eng.Seconds()/float64(b.N), "apply-s/op")
	b.ReportMetric(float64(eng)/float64(seq), "ratio")
}

// BenchmarkNoChangeReapply plans and applies the 20 deployed services
// again (nothing to change) with 100 ms added to every call.
func BenchmarkNoChangeReapply(b *testing.B) {
	ctx := context.Background()
	c, _ := fakeOSCAR(b, false)
	w := &watched{Services: c, noBuckets: true}
	j, owner := journal(b)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": w}), Journal: j}
	req := deploy.Request{OwnerID: owner, Workflow: "bench", Doc: parseDoc(b, twentyServices()), Scripts: scripts, Clusters: map[string]string{"edge": "mine"}}
	mustApply(b, e, mustPlan(b, e, req))
	w.delay = latency
	for b.Loop() {
		p, err := e.Plan(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if p.Changes() {
			b.Fatalf("the re-apply would change %+v", p.Actions)
		}
		if _, err := e.Apply(ctx, p, nil); err != nil {
			b.Fatal(err)
		}
	}
}
