package app

import (
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/web"
)

// localTraces is the causality the embedded local cluster records of its
// jobs (handlers.JobTracer): which object started each job, what it
// wrote, and which job wrote its input. Other clusters record none.
func (a *App) localTraces(cluster, service string) (map[string]watch.Traced, bool) {
	if a.local == nil || cluster != web.LocalClusterName {
		return nil, false
	}
	traces := a.local.JobTraces(service)
	out := make(map[string]watch.Traced, len(traces))
	for _, t := range traces {
		tr := watch.Traced{Input: watch.Object(t.Input)}
		if t.Cause.Job != "" {
			tr.Cause = watch.JobRef{Func: watch.Func{Cluster: cluster, Service: t.Cause.Service}, Job: t.Cause.Job}
		}
		for _, o := range t.Outputs {
			tr.Outputs = append(tr.Outputs, watch.Object(o))
		}
		out[t.Job] = tr
	}
	return out, true
}
