package deploy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
)

// Drift states of one function.
const (
	DriftNone    = "in-sync" // the cluster has what was deployed
	DriftChanged = "changed" // the service was changed outside FDL Studio
	DriftMissing = "missing" // the service is gone from the cluster
)

// FunctionDrift compares one recorded function with its cluster.
type FunctionDrift struct {
	Cluster    string   `json:"cluster"`
	FDLCluster string   `json:"fdl_cluster,omitempty"`
	Name       string   `json:"name"`
	State      string   `json:"state"`
	Changes    []Change `json:"changes,omitempty"`
	// Current is what the cluster has now (nil when missing): Adopt
	// writes it as FDL. Never written out.
	Current *backends.Service `json:"-"`
}

// Drift compares what deployment id (of ownerID) deployed with what its
// clusters have now, per function: Changes go from the recorded
// definition to the cluster's. Functions the deployment deleted, or did
// not get to deploy, are not compared. The choices are Adopt (take the
// cluster's version into the workflow) or re-apply (Plan and Apply the
// workflow version again).
func (e *Engine) Drift(ctx context.Context, ownerID, id int64) ([]FunctionDrift, error) {
	if e.Journal == nil {
		return nil, errors.New("drift needs the deployment journal")
	}
	d, err := e.Journal.Get(ctx, ownerID, id)
	if err != nil {
		return nil, fmt.Errorf("deployment %d: %w", id, err)
	}
	var out []FunctionDrift
	var recorded []*backends.Service
	for _, f := range d.Functions {
		if f.State != store.FunctionDone || ActionKind(f.Action) == ActionDelete || len(f.Applied) == 0 {
			continue
		}
		var s backends.Service
		if err := json.Unmarshal(f.Applied, &s); err != nil {
			return nil, fmt.Errorf("deployment %d: recorded definition of %q: %w", id, f.Name, err)
		}
		out = append(out, FunctionDrift{Cluster: f.Cluster, FDLCluster: f.FDLCluster, Name: f.Name})
		recorded = append(recorded, &s)
	}
	cs := newClusterSet(e)
	errs := make([]error, len(out))
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fd := &out[i]
			errs[i] = cs.do(ctx, fd.Cluster, func(s backends.Services) error {
				cur, err := s.GetService(ctx, fd.Name)
				switch {
				case errors.Is(err, backends.ErrNotFound):
					fd.State = DriftMissing
					return nil
				case err != nil:
					return fmt.Errorf("read service %q on cluster %q: %w", fd.Name, fd.Cluster, err)
				}
				fd.Current = cur
				// From the record to the cluster: what changed outside.
				if fd.Changes = Diff(cur, recorded[i]); len(fd.Changes) > 0 {
					fd.State = DriftChanged
				} else {
					fd.State = DriftNone
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Adopt writes the cluster's version of a drifted function as an FDL
// document (redacted, through FDL), for the workflow to take in, e.g.
// with Edit.
func Adopt(fd FunctionDrift) ([]byte, error) {
	if fd.Current == nil {
		return nil, fmt.Errorf("service %q is not on cluster %q: there is nothing to adopt", fd.Name, fd.Cluster)
	}
	return FDL(fd.FDLCluster, fd.Current)
}

// Placement says which version of a workflow a cluster has.
type Placement struct {
	Cluster    string    `json:"cluster"`
	Version    int64     `json:"version"`
	Deployment int64     `json:"deployment"`
	At         time.Time `json:"at"`
}

// Where says, for each cluster a workflow was deployed to, which version
// it has: that of the newest applied deployment on it (a failed,
// interrupted or rolled-back one did not take a version there). A
// cluster whose newest applied deployment only deleted is left out: the
// workflow is gone from it. deps are one workflow's deployments, any
// order; the result is by cluster name.
func Where(deps []store.Deployment) []Placement {
	sorted := slices.Clone(deps)
	slices.SortFunc(sorted, func(a, b store.Deployment) int { return cmp.Compare(b.ID, a.ID) })
	seen := map[string]bool{}
	var out []Placement
	for _, d := range sorted {
		if d.Outcome != store.DeploymentApplied {
			continue
		}
		for _, c := range d.Clusters {
			if seen[c] {
				continue
			}
			seen[c] = true
			if slices.ContainsFunc(d.Functions, func(f store.DeployedFunction) bool {
				return f.Cluster == c && ActionKind(f.Action) != ActionDelete
			}) {
				out = append(out, Placement{Cluster: c, Version: d.Version, Deployment: d.ID, At: d.StartedAt})
			}
		}
	}
	slices.SortFunc(out, func(a, b Placement) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}
