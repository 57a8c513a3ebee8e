package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
)

// Event is the progress of one function during an apply or a rollback,
// sent as it happens (to the page, to the command line).
type Event struct {
	Cluster string     `json:"cluster"`
	Name    string     `json:"name"`
	Action  ActionKind `json:"action"`
	// State is store.FunctionStarted, FunctionDone, FunctionFailed,
	// FunctionRolledBack, or FunctionPlanned for a function an
	// interruption left unsent.
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	// Done and Total count the functions finished and to do.
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Outcome is how one function of an apply or a rollback ended.
type Outcome struct {
	Cluster    string     `json:"cluster"`
	FDLCluster string     `json:"fdl_cluster,omitempty"`
	Name       string     `json:"name"`
	Action     ActionKind `json:"action"`
	State      string     `json:"state"`
	// Message is the backend's message when it failed.
	Message string `json:"message,omitempty"`
}

// Result is how an apply or a rollback ended.
type Result struct {
	// Deployment is the record's id (0 without a journal).
	Deployment int64 `json:"deployment"`
	// Outcome is store.DeploymentApplied, DeploymentFailed,
	// DeploymentInterrupted or DeploymentRolledBack.
	Outcome   string    `json:"outcome"`
	Functions []Outcome `json:"functions"`
}

// Failed reports whether a function failed.
func (r *Result) Failed() bool {
	return slices.ContainsFunc(r.Functions, func(o Outcome) bool { return o.State == store.FunctionFailed })
}

// job is one backend change the runner makes.
type job struct {
	cluster, name string
	action        ActionKind
	after         []int // indexes of jobs that must end first
	run           func(ctx context.Context, s backends.Services) error
	// state is the journal state a success leaves.
	state string
}

// runJobs runs jobs with bounded parallelism per cluster, each after the
// jobs it waits for (whatever their outcome: a failure does not hide the
// others). begin and end record each job; progress reports it. A job not
// started when ctx ends stays planned.
func runJobs(ctx context.Context, cs *clusterSet, jobs []job, begin func(i int), end func(i int, state, msg string), progress func(Event)) []Outcome {
	out := make([]Outcome, len(jobs))
	done := make([]chan struct{}, len(jobs))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var mu sync.Mutex
	finished := 0
	emit := func(i int, state, msg string) {
		mu.Lock()
		defer mu.Unlock()
		if state != store.FunctionStarted {
			finished++
		}
		if progress != nil {
			progress(Event{Cluster: jobs[i].cluster, Name: jobs[i].name, Action: jobs[i].action, State: state, Message: msg, Done: finished, Total: len(jobs)})
		}
	}
	var wg sync.WaitGroup
	for i := range jobs {
		j := &jobs[i]
		out[i] = Outcome{Cluster: j.cluster, Name: j.name, Action: j.action, State: store.FunctionPlanned}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			for _, d := range j.after {
				select {
				case <-done[d]:
				case <-ctx.Done():
				}
			}
			started := false
			err := cs.do(ctx, j.cluster, func(s backends.Services) error {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				started = true
				begin(i)
				emit(i, store.FunctionStarted, "")
				return j.run(ctx, s)
			})
			switch {
			case !started && ctx.Err() != nil:
				out[i].Message = "not sent: the apply was interrupted"
			case err != nil:
				out[i].State, out[i].Message = store.FunctionFailed, err.Error()
			default:
				out[i].State = j.state
			}
			end(i, out[i].State, out[i].Message)
			emit(i, out[i].State, out[i].Message)
		}()
	}
	wg.Wait()
	return out
}

// Apply runs the plan: deletions, then creations and updates, each
// service after those whose output it reads, at most Parallel calls in
// flight per cluster. Every function is journaled (planned, started,
// done or failed, with the definition it had before) so that a rollback
// can restore it and an interrupted apply converges when planned and
// applied again. A failure on one function does not stop the others;
// each gets its outcome and the backend's message. The error is for
// what stops the apply as a whole: unmapped clusters (an *InputError)
// or a journal that cannot be written.
func (e *Engine) Apply(ctx context.Context, p *Plan, progress func(Event)) (*Result, error) {
	if len(p.NeedsCluster) > 0 {
		return nil, inputErr("no registered cluster is given for the FDL cluster(s) %q", p.NeedsCluster)
	}
	unlock, err := e.lock(p.OwnerID, p.Workflow)
	if err != nil {
		return nil, err
	}
	defer unlock()
	jctx := context.WithoutCancel(ctx) // the journal records an interruption too
	var lines []store.DeployedFunction
	var jobs []job
	jobOf := map[int]int{} // action index -> job index
	var clusters []string
	var unchanged []Outcome
	for i := range p.Actions {
		a := &p.Actions[i]
		if a.Cluster == "" || a.Kind == ActionNeedsCluster || a.Kind == ActionUnsupported {
			continue
		}
		if !slices.Contains(clusters, a.Cluster) {
			clusters = append(clusters, a.Cluster)
		}
		line := store.DeployedFunction{Cluster: a.Cluster, FDLCluster: a.FDLCluster, Name: a.Name, Action: string(a.Kind)}
		var err error
		if a.Service != nil && a.Kind != ActionDelete {
			if line.Applied, err = json.Marshal(Clean(a.Service)); err != nil {
				return nil, fmt.Errorf("service %q: %w", a.Name, err)
			}
			if creds := credentials(a.Service); len(creds) > 0 {
				if line.Credentials, err = json.Marshal(creds); err != nil {
					return nil, fmt.Errorf("service %q: %w", a.Name, err)
				}
			}
		}
		if a.Deployed != nil {
			if line.Previous, err = json.Marshal(Restorable(a.Deployed)); err != nil {
				return nil, fmt.Errorf("service %q: %w", a.Name, err)
			}
		}
		if a.Kind == ActionUnchanged {
			line.State = store.FunctionDone
			unchanged = append(unchanged, Outcome{Cluster: a.Cluster, FDLCluster: a.FDLCluster, Name: a.Name, Action: a.Kind, State: store.FunctionDone})
		} else {
			jobOf[i] = len(jobs)
			jobs = append(jobs, job{cluster: a.Cluster, name: a.Name, action: a.Kind, state: store.FunctionDone, run: applyFunc(a)})
		}
		lines = append(lines, line)
	}
	for i, a := range p.Actions {
		if j, ok := jobOf[i]; ok {
			for _, d := range a.After {
				if dj, ok := jobOf[d]; ok {
					jobs[j].after = append(jobs[j].after, dj)
				}
			}
		}
	}
	slices.Sort(clusters)
	var depID int64
	if e.Journal != nil {
		d, err := e.Journal.Begin(jctx, store.Deployment{OwnerID: p.OwnerID, User: p.User, Workflow: p.Workflow, Version: p.Version,
			Clusters: clusters, Functions: lines})
		if err != nil {
			return nil, fmt.Errorf("record the deployment: %w", err)
		}
		depID = d.ID
	}
	var jerrs []error
	var jmu sync.Mutex
	mark := func(i int, state, msg string) {
		if e.Journal == nil {
			return
		}
		if err := e.Journal.Mark(jctx, depID, jobs[i].cluster, jobs[i].name, state, msg, nil); err != nil {
			jmu.Lock()
			jerrs = append(jerrs, err)
			jmu.Unlock()
		}
	}
	outs := runJobs(ctx, newClusterSet(e), jobs,
		func(i int) { mark(i, store.FunctionStarted, "") },
		func(i int, state, msg string) { mark(i, state, msg) }, progress)
	res := &Result{Deployment: depID, Outcome: store.DeploymentApplied}
	for i, a := range p.Actions {
		if j, ok := jobOf[i]; ok {
			outs[j].FDLCluster = a.FDLCluster
			res.Functions = append(res.Functions, outs[j])
		}
	}
	res.Functions = append(res.Functions, unchanged...)
	switch {
	case ctx.Err() != nil && slices.ContainsFunc(outs, func(o Outcome) bool { return o.State != store.FunctionDone }):
		res.Outcome = store.DeploymentInterrupted
	case res.Failed():
		res.Outcome = store.DeploymentFailed
	}
	if e.Journal != nil {
		if err := e.Journal.Finish(jctx, depID, res.Outcome); err != nil {
			jerrs = append(jerrs, err)
		}
	}
	if len(jerrs) > 0 {
		return res, fmt.Errorf("the deployment's journal could not be written: %w", errors.Join(jerrs...))
	}
	return res, nil
}

// applyFunc is the backend call of an action. It converges from whatever
// the cluster has by then: a create finding the service updates it, an
// update not finding it creates it, a delete not finding it is done.
func applyFunc(a *Action) func(ctx context.Context, s backends.Services) error {
	svc, name := a.Service, a.Name
	switch a.Kind {
	case ActionCreate:
		return func(ctx context.Context, s backends.Services) error { return put(ctx, s, svc, true) }
	case ActionUpdate:
		return func(ctx context.Context, s backends.Services) error { return put(ctx, s, svc, false) }
	default: // delete
		return func(ctx context.Context, s backends.Services) error { return remove(ctx, s, name) }
	}
}

// put creates (first) or updates svc, falling back to the other when the
// cluster says the service does or does not exist.
func put(ctx context.Context, s backends.Services, svc *backends.Service, create bool) error {
	// The cluster generates the token (OSCAR ignores one on create and
	// keeps its own on update): one written in the file is not sent.
	if svc.Token != "" {
		c := *svc
		c.Token = ""
		svc = &c
	}
	if create {
		err := s.CreateService(ctx, svc)
		if errors.Is(err, backends.ErrConflict) {
			err = s.UpdateService(ctx, svc)
		}
		return err
	}
	err := s.UpdateService(ctx, svc)
	if errors.Is(err, backends.ErrNotFound) {
		err = s.CreateService(ctx, svc)
	}
	return err
}

// remove deletes a service; one already gone is no error.
func remove(ctx context.Context, s backends.Services, name string) error {
	if err := s.DeleteService(ctx, name); err != nil && !errors.Is(err, backends.ErrNotFound) {
		return err
	}
	return nil
}

// Restorable is a service as a cluster returned it, less what the cluster
// generates (token, owner, bucket list, namespace, status) and the
// minio.default it injects: what can be sent back to restore it. Secret
// values a cluster does not return stay blank (Rollback fills them from
// the journal). s is not changed.
func Restorable(s *backends.Service) *backends.Service {
	c := *s
	c.Token, c.Owner, c.BucketList, c.Namespace = "", "", nil, ""
	c.Deployment, c.VolumeStatus = nil, nil
	c.StorageProviders = WithoutDefaultMinIO(c.StorageProviders)
	return &c
}

// Rollback restores what deployment id (of ownerID) changed: a service it
// created is deleted, one it updated or deleted gets its previous
// definition back, with the credential values an earlier deployment of
// the workflow sent where the cluster returned them blank. Functions it did not change (unchanged, failed, never
// sent) are left alone. Each function's outcome is journaled and
// reported as for Apply; the deployment's outcome becomes rolled-back
// when every restore succeeded.
func (e *Engine) Rollback(ctx context.Context, ownerID, id int64, progress func(Event)) (*Result, error) {
	if e.Journal == nil {
		return nil, errors.New("rollback needs the deployment journal")
	}
	jctx := context.WithoutCancel(ctx)
	d, err := e.Journal.Get(ctx, ownerID, id)
	if err != nil {
		return nil, fmt.Errorf("deployment %d: %w", id, err)
	}
	unlock, err := e.lock(ownerID, d.Workflow)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The deployments before this one say which credential values were
	// sent before: a cluster returns secrets blank, and a restore must
	// not blank them.
	all, err := e.Journal.List(ctx, ownerID, d.Workflow)
	if err != nil {
		return nil, fmt.Errorf("read the deployments of workflow %q: %w", d.Workflow, err)
	}
	earlier := slices.DeleteFunc(all, func(o store.Deployment) bool { return o.ID >= id })
	var jobs []job
	var fns []store.DeployedFunction
	for _, f := range d.Functions {
		if f.State != store.FunctionDone && f.State != store.FunctionStarted {
			continue
		}
		j := job{cluster: f.Cluster, name: f.Name, action: ActionKind(f.Action), state: store.FunctionRolledBack}
		switch ActionKind(f.Action) {
		case ActionCreate:
			name := f.Name
			j.run = func(ctx context.Context, s backends.Services) error { return remove(ctx, s, name) }
		case ActionUpdate, ActionDelete:
			var prev backends.Service
			if err := json.Unmarshal(f.Previous, &prev); err != nil || prev.Name == "" {
				return nil, fmt.Errorf("deployment %d: no previous definition of %q on %q to restore", id, f.Name, f.Cluster)
			}
			if sent := lastSent(earlier, f.Cluster, f.Name); sent != nil {
				backends.EachCredential(&prev, func(c backends.Credential) {
					if v, ok := sent[c.Path]; ok && *c.Value == "" {
						*c.Value = v
					}
				})
			}
			j.run = func(ctx context.Context, s backends.Services) error { return put(ctx, s, &prev, false) }
		default:
			continue
		}
		jobs = append(jobs, j)
		fns = append(fns, f)
	}
	// Deletions first: they wipe buckets a restored service may use, and
	// the restore (re)creates its own.
	for i := range jobs {
		if jobs[i].action == ActionCreate {
			continue
		}
		for k := range jobs {
			if jobs[k].action == ActionCreate && jobs[k].cluster == jobs[i].cluster {
				jobs[i].after = append(jobs[i].after, k)
			}
		}
	}
	var jerrs []error
	var jmu sync.Mutex
	outs := runJobs(ctx, newClusterSet(e), jobs, func(int) {}, func(i int, state, msg string) {
		if state == store.FunctionPlanned {
			return
		}
		s := state
		if state == store.FunctionFailed {
			s, msg = fns[i].State, "rollback failed: "+msg
		}
		if err := e.Journal.Mark(jctx, id, fns[i].Cluster, fns[i].Name, s, msg, nil); err != nil {
			jmu.Lock()
			jerrs = append(jerrs, err)
			jmu.Unlock()
		}
	}, progress)
	res := &Result{Deployment: id, Outcome: store.DeploymentRolledBack}
	for i := range outs {
		outs[i].FDLCluster = fns[i].FDLCluster
	}
	res.Functions = outs
	if slices.ContainsFunc(outs, func(o Outcome) bool { return o.State != store.FunctionRolledBack }) {
		res.Outcome = d.Outcome
	}
	if res.Outcome == store.DeploymentRolledBack {
		if err := e.Journal.Finish(jctx, id, res.Outcome); err != nil {
			jerrs = append(jerrs, err)
		}
	}
	if len(jerrs) > 0 {
		return res, fmt.Errorf("the deployment's journal could not be written: %w", errors.Join(jerrs...))
	}
	return res, nil
}
