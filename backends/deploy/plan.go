package deploy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
)

// ActionKind is what a plan does with one function.
type ActionKind string

// The actions of a plan.
const (
	ActionCreate    ActionKind = "create"
	ActionUpdate    ActionKind = "update"
	ActionUnchanged ActionKind = "unchanged"
	ActionDelete    ActionKind = "delete"
	// ActionNeedsCluster: the FDL cluster id is not mapped to a registered
	// cluster; the caller asks the user.
	ActionNeedsCluster ActionKind = "needs-cluster"
	// ActionUnsupported: the function cannot be deployed (no plan makes
	// it since functions.aws deploys to AWS accounts; kept for the pages
	// and journals that know it).
	ActionUnsupported ActionKind = "unsupported"
)

// ClusterResolver returns the services of a registered cluster (by its
// name) for the user deploying: the caller builds it from the backend
// registry. The returned value may also implement ListBuckets (as OSCAR
// clients do), which lets the plan tell buckets to create from buckets
// that exist.
type ClusterResolver func(ctx context.Context, cluster string) (backends.Services, error)

// Journal keeps deployment records and apply journals; store/sqlite's
// Deployments implements it.
type Journal interface {
	Begin(ctx context.Context, d store.Deployment) (store.Deployment, error)
	Mark(ctx context.Context, id int64, cluster, name, state, message string, previous []byte) error
	Finish(ctx context.Context, id int64, outcome string) error
	Get(ctx context.Context, ownerID, id int64) (store.Deployment, error)
	List(ctx context.Context, ownerID int64, workflow string) ([]store.Deployment, error)
}

// Engine plans, applies, records and rolls back deployments.
type Engine struct {
	Resolve ClusterResolver
	Journal Journal
	// Parallel bounds the backend calls in flight per cluster (default 4).
	Parallel int

	mu      sync.Mutex
	running map[string]bool // owner/workflow of the applies and rollbacks under way
}

// ErrBusy is returned by Apply and Rollback while another apply or
// rollback of the same workflow runs in this engine.
var ErrBusy = errors.New("another apply or rollback of this workflow is running")

// lock marks the owner's workflow busy; the returned func frees it.
func (e *Engine) lock(ownerID int64, workflow string) (func(), error) {
	if workflow == "" {
		return func() {}, nil
	}
	k := fmt.Sprint(ownerID, "/", workflow)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running[k] {
		return nil, fmt.Errorf("workflow %q: %w", workflow, ErrBusy)
	}
	if e.running == nil {
		e.running = map[string]bool{}
	}
	e.running[k] = true
	return func() {
		e.mu.Lock()
		delete(e.running, k)
		e.mu.Unlock()
	}, nil
}

func (e *Engine) parallel() int {
	if e.Parallel > 0 {
		return e.Parallel
	}
	return 4
}

// Request is a workflow to plan.
type Request struct {
	OwnerID int64
	User    string
	// Workflow identifies the workflow across versions (the composer's
	// id; for the command line, the file's path); Version is its version.
	Workflow string
	Version  int64
	Doc      *fdl.Document
	// Scripts is the FDL's folder or bundle, where script paths are read.
	Scripts fs.FS
	// Clusters maps the FDL's cluster ids to registered cluster names. An
	// id it leaves out goes to the registered cluster of the same name,
	// if the resolver knows one.
	Clusters map[string]string
	// Delete plans the removal of every function earlier deployments of
	// the workflow created, instead of deploying it.
	Delete bool
}

// Change is one field that differs, with both values as JSON (a string
// field as its text). Credentials never appear: a changed credential
// reads "(hidden)".
type Change struct {
	Field string `json:"field"`
	From  string `json:"from,omitempty"` // "" when the field is added
	To    string `json:"to,omitempty"`   // "" when the field is removed
}

// Action is what the plan does with one function.
type Action struct {
	Kind       ActionKind `json:"kind"`
	Name       string     `json:"name"`
	FDLCluster string     `json:"fdl_cluster,omitempty"`
	Cluster    string     `json:"cluster,omitempty"` // registered name
	// Path locates the function in the (migrated) document.
	Path    string   `json:"path,omitempty"`
	Changes []Change `json:"changes,omitempty"`
	// Reason says why a function cannot be deployed.
	Reason string `json:"reason,omitempty"`
	// After lists the indexes (in Plan.Actions) of the actions that must
	// finish first: producers before the services that read their output,
	// and a cluster's deletions before its creations.
	After []int `json:"after,omitempty"`
	// Service is what is sent (credentials included); Deployed what the
	// cluster has now. Neither is ever written out.
	Service  *backends.Service `json:"-"`
	Deployed *backends.Service `json:"-"`
}

// Key is the action's cluster and name, unique in a plan.
func (a *Action) Key() string { return a.Cluster + "/" + a.Name }

// Side effects a plan lists.
const (
	EffectStorage    = "storage"    // a bucket or folder will be created
	EffectWipe       = "wipe"       // a deletion removes a bucket with all its objects
	EffectVisibility = "visibility" // a service's visibility changes
	EffectLoop       = "loop"       // an output triggers its own service or closes a loop
	// EffectTrigger: an AWS function's S3 notification is added to, or
	// removed from, a bucket (the bucket's other notifications stay).
	EffectTrigger = "trigger"
)

// Effect is a consequence of a plan the user sees before anything happens.
type Effect struct {
	Kind     string `json:"kind"`
	Cluster  string `json:"cluster,omitempty"`
	Function string `json:"function,omitempty"`
	Bucket   string `json:"bucket,omitempty"`
	// UsedBy names the other services (cluster/name) that use a bucket a
	// deletion wipes.
	UsedBy  []string `json:"used_by,omitempty"`
	Message string   `json:"message"`
}

// Plan is what an apply would do, computed against the clusters.
type Plan struct {
	OwnerID  int64    `json:"-"`
	User     string   `json:"-"`
	Workflow string   `json:"workflow"`
	Version  int64    `json:"version"`
	Actions  []Action `json:"actions"`
	Effects  []Effect `json:"effects,omitempty"`
	// NeedsCluster lists the FDL cluster ids no registered cluster is
	// given for; Apply refuses while it is not empty.
	NeedsCluster []string `json:"needs_cluster,omitempty"`
}

// Changes reports whether applying the plan would change anything.
func (p *Plan) Changes() bool {
	for _, a := range p.Actions {
		if a.Kind == ActionCreate || a.Kind == ActionUpdate || a.Kind == ActionDelete {
			return true
		}
	}
	return false
}

// InputError is a problem with what the caller gave (the document, the
// cluster mapping), as opposed to a cluster that failed.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// Plan computes the actions, side effects and order of deploying req. It
// reads every service the workflow names from its cluster (in parallel,
// bounded per cluster) and the workflow's earlier deployments from the
// journal; it changes nothing.
func (e *Engine) Plan(ctx context.Context, req Request) (*Plan, error) {
	if req.Doc == nil {
		return nil, inputErr("no FDL document to deploy")
	}
	doc, _, err := req.Doc.Migrate("v4.1")
	if err != nil {
		return nil, &InputError{Err: err}
	}
	fns, err := Services(doc, req.Scripts)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	awsFns, err := AWSFunctions(doc, req.Scripts)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	fns = append(fns, awsFns...)
	p := &Plan{OwnerID: req.OwnerID, User: req.User, Workflow: req.Workflow, Version: req.Version}
	clusters := newClusterSet(e)
	// An FDL cluster id nobody mapped goes to the registered cluster of
	// the same name, if there is one; otherwise the caller asks.
	mapping := maps.Clone(req.Clusters)
	if mapping == nil {
		mapping = map[string]string{}
	}
	for _, f := range fns {
		if _, ok := mapping[f.Cluster]; !ok && !req.Delete {
			if _, err := clusters.get(ctx, f.Cluster); err == nil {
				mapping[f.Cluster] = f.Cluster
			} else {
				mapping[f.Cluster] = ""
			}
		}
	}
	seen := map[string]string{}
	missing := map[string]bool{}
	for _, f := range fns {
		a := Action{Name: f.Service.Name, FDLCluster: f.Cluster, Path: f.Path}
		if a.Name == "" {
			return nil, inputErr("%s: the service has no name", f.Path)
		}
		a.Cluster = mapping[f.Cluster]
		switch {
		case a.Cluster == "" && req.Delete:
			// The journal knows where the workflow's functions went.
		case a.Cluster == "":
			a.Kind, a.Reason = ActionNeedsCluster, fmt.Sprintf("no registered cluster is given for the FDL cluster %q", f.Cluster)
			if !missing[f.Cluster] {
				missing[f.Cluster] = true
				p.NeedsCluster = append(p.NeedsCluster, f.Cluster)
			}
		default:
			if other, dup := seen[a.Key()]; dup {
				return nil, inputErr("%s: service %q is already defined at %s for the same cluster %q", f.Path, a.Name, other, a.Cluster)
			}
			seen[a.Key()] = f.Path
			a.Service = ForCluster(f.Service)
		}
		p.Actions = append(p.Actions, a)
	}
	if err := checkKinds(ctx, clusters, p.Actions); err != nil {
		return nil, err
	}

	var deps []store.Deployment
	if e.Journal != nil && req.Workflow != "" {
		if deps, err = e.Journal.List(ctx, req.OwnerID, req.Workflow); err != nil {
			return nil, fmt.Errorf("read the deployments of workflow %q: %w", req.Workflow, err)
		}
	}
	// What the cluster has now, for each function of the workflow.
	if err := e.readDeployed(ctx, clusters, p.Actions); err != nil {
		return nil, err
	}
	for i := range p.Actions {
		a := &p.Actions[i]
		if a.Service == nil || a.Kind == ActionUnsupported {
			continue
		}
		switch {
		case req.Delete:
			// Only what an earlier deployment created is deleted; the
			// rest of the workflow is left out of the plan below.
		case a.Deployed == nil:
			a.Kind = ActionCreate
		default:
			if a.Changes = diffSent(a.Service, a.Deployed, lastSent(deps, a.Cluster, a.Name)); len(a.Changes) > 0 {
				a.Kind = ActionUpdate
			} else {
				a.Kind = ActionUnchanged
			}
		}
	}
	if err := e.planDeletes(ctx, clusters, req, deps, p); err != nil {
		return nil, err
	}
	if req.Delete {
		p.Actions = slices.DeleteFunc(p.Actions, func(a Action) bool { return a.Kind == "" })
	}
	order(doc, p.Actions)
	if err := e.effects(ctx, clusters, doc, p); err != nil {
		return nil, err
	}
	return p, nil
}

// clusterSet resolves each registered cluster once and bounds the calls
// in flight to each.
type clusterSet struct {
	e  *Engine
	mu sync.Mutex
	m  map[string]*clusterConn
}

type clusterConn struct {
	once sync.Once
	svcs backends.Services
	err  error
	sem  chan struct{}
}

func newClusterSet(e *Engine) *clusterSet { return &clusterSet{e: e, m: map[string]*clusterConn{}} }

func (cs *clusterSet) get(ctx context.Context, name string) (*clusterConn, error) {
	cs.mu.Lock()
	c, ok := cs.m[name]
	if !ok {
		c = &clusterConn{sem: make(chan struct{}, cs.e.parallel())}
		cs.m[name] = c
	}
	cs.mu.Unlock()
	c.once.Do(func() {
		if cs.e.Resolve == nil {
			c.err = errors.New("no cluster resolver")
			return
		}
		c.svcs, c.err = cs.e.Resolve(ctx, name)
		if c.err == nil && c.svcs == nil {
			c.err = errors.New("not available")
		}
		if c.err != nil {
			c.err = fmt.Errorf("cluster %q: %w", name, c.err)
		}
	})
	return c, c.err
}

// do runs f against cluster name within its bound.
func (cs *clusterSet) do(ctx context.Context, name string, f func(backends.Services) error) error {
	c, err := cs.get(ctx, name)
	if err != nil {
		return err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-c.sem }()
	return f(c.svcs)
}

// readDeployed sets Deployed of each action that has a cluster, reading
// them all in parallel; the first failure is returned.
func (e *Engine) readDeployed(ctx context.Context, cs *clusterSet, actions []Action) error {
	var wg sync.WaitGroup
	errs := make([]error, len(actions))
	for i := range actions {
		a := &actions[i]
		if a.Cluster == "" || a.Kind == ActionNeedsCluster || a.Kind == ActionUnsupported {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cs.do(ctx, a.Cluster, func(s backends.Services) error {
				got, err := s.GetService(ctx, a.Name)
				switch {
				case errors.Is(err, backends.ErrNotFound):
					return nil
				case err != nil:
					return fmt.Errorf("read service %q on cluster %q: %w", a.Name, a.Cluster, err)
				}
				a.Deployed = got
				return nil
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// planDeletes adds a delete for every function an earlier deployment of
// the workflow created that the workflow no longer has (all of them when
// req.Delete) and that its cluster still has.
func (e *Engine) planDeletes(ctx context.Context, cs *clusterSet, req Request, deps []store.Deployment, p *Plan) error {
	keep := map[string]bool{}
	if !req.Delete {
		for _, a := range p.Actions {
			if a.Cluster != "" {
				keep[a.Cluster+"/"+a.Name] = true
			}
		}
	}
	var dels []Action
	for _, f := range Created(deps) {
		k := f.Cluster + "/" + f.Name
		if keep[k] {
			continue
		}
		keep[k] = true
		dels = append(dels, Action{Kind: ActionDelete, Name: f.Name, FDLCluster: f.FDLCluster, Cluster: f.Cluster})
	}
	if err := e.readDeployed(ctx, cs, dels); err != nil {
		return err
	}
	if req.Delete {
		// The workflow's own actions say where a managed function is in it.
		for i := range dels {
			for j := range p.Actions {
				if p.Actions[j].Cluster == dels[i].Cluster && p.Actions[j].Name == dels[i].Name {
					dels[i].Path = p.Actions[j].Path
					p.Actions[j].Kind = "" // replaced by the delete
				}
			}
		}
	}
	for _, d := range dels {
		if d.Deployed != nil { // gone already: nothing to do
			p.Actions = append(p.Actions, d)
		}
	}
	return nil
}

// lastSent is the credentials the newest deployment in deps that sent
// cluster/name recorded, or nil.
func lastSent(deps []store.Deployment, cluster, name string) map[string]string {
	var best *store.DeployedFunction
	var bestID int64
	for i := range deps {
		for j := range deps[i].Functions {
			f := &deps[i].Functions[j]
			if f.Cluster == cluster && f.Name == name && f.State == store.FunctionDone &&
				ActionKind(f.Action) != ActionDelete && len(f.Credentials) > 0 && deps[i].ID > bestID {
				best, bestID = f, deps[i].ID
			}
		}
	}
	if best == nil {
		return nil
	}
	var m map[string]string
	if json.Unmarshal(best.Credentials, &m) != nil {
		return nil
	}
	return m
}

// Created returns the functions the deployments deps (of one workflow,
// any order) created and did not delete since: those a later deployment
// deletes when the workflow no longer has them. A create that was
// started but not confirmed counts (the backend may have done it).
func Created(deps []store.Deployment) []store.DeployedFunction {
	sorted := slices.Clone(deps)
	slices.SortFunc(sorted, func(a, b store.Deployment) int { return cmp.Compare(a.ID, b.ID) })
	created := map[string]store.DeployedFunction{}
	var keys []string
	for _, d := range sorted {
		for _, f := range d.Functions {
			k := f.Cluster + "/" + f.Name
			effective := f.State == store.FunctionDone || f.State == store.FunctionStarted
			switch {
			case f.Action == string(ActionCreate) && effective:
				if _, ok := created[k]; !ok {
					keys = append(keys, k)
				}
				created[k] = f
			case f.Action == string(ActionCreate) && f.State == store.FunctionRolledBack,
				f.Action == string(ActionDelete) && f.State == store.FunctionDone:
				delete(created, k)
			}
		}
	}
	var out []store.DeployedFunction
	for _, k := range keys {
		if f, ok := created[k]; ok {
			out = append(out, f)
		}
	}
	return out
}

// ForCluster is s as it is sent to its cluster: of the top-level
// clusters and storage_providers the mapping merged in, only the entries
// the service itself refers to (federation members' cluster_id; input,
// output and mount providers), so no cluster receives credentials it
// does not need. A federated service keeps every storage provider (its
// replicas may use them). s is not changed.
func ForCluster(s *backends.Service) *backends.Service {
	c := *s
	refs := map[string]bool{}
	if s.Federation != nil {
		for _, m := range s.Federation.Members {
			if m.ClusterID != "" {
				refs[m.ClusterID] = true
			}
		}
	}
	c.Clusters = nil
	for id, ref := range s.Clusters {
		if refs[id] {
			if c.Clusters == nil {
				c.Clusters = map[string]backends.ClusterRef{}
			}
			c.Clusters[id] = ref
		}
	}
	if s.StorageProviders != nil && s.Federation == nil {
		used := map[string]bool{}
		ios := append(slices.Clone(s.Input), s.Output...)
		if s.Mount != nil {
			ios = append(ios, *s.Mount)
		}
		for _, io := range ios {
			typ, id := fdl.ParseProvider(io.StorageProvider)
			if typ == "" {
				typ = "minio"
			}
			used[strings.ToLower(typ)+"."+id] = true
		}
		sp := &backends.StorageProviders{
			MinIO: usedOnly(s.StorageProviders.MinIO, "minio", used), S3: usedOnly(s.StorageProviders.S3, "s3", used),
			Onedata: usedOnly(s.StorageProviders.Onedata, "onedata", used), WebDav: usedOnly(s.StorageProviders.WebDav, "webdav", used),
			Rucio: usedOnly(s.StorageProviders.Rucio, "rucio", used),
		}
		if sp.MinIO == nil && sp.S3 == nil && sp.Onedata == nil && sp.WebDav == nil && sp.Rucio == nil {
			sp = nil
		}
		c.StorageProviders = sp
	}
	return &c
}

func usedOnly[V any](m map[string]V, typ string, used map[string]bool) map[string]V {
	var out map[string]V
	for id, v := range m {
		if used[typ+"."+id] {
			if out == nil {
				out = map[string]V{}
			}
			out[id] = v
		}
	}
	return out
}

// order fills each action's After: a service waits for the services
// whose output it reads (on any cluster, from the document's graph), and
// a cluster's creations and updates wait for its deletions (a deletion
// wipes buckets a new service may share). Links that would close a loop
// are dropped: a loop is reported as a side effect, not a deadlock.
func order(doc *fdl.Document, actions []Action) {
	byPath := map[string]int{}
	for i, a := range actions {
		if a.Path != "" && a.Kind != ActionDelete {
			byPath[a.Path] = i
		}
	}
	g := doc.Graph()
	fnIndex := map[string]int{}
	for _, n := range g.Nodes {
		if i, ok := byPath[n.YAMLPath]; ok && (n.Kind == fdl.KindService || n.Kind == fdl.KindFunction) {
			fnIndex[n.ID] = i
		}
	}
	producers := map[string][]int{}
	for _, ed := range g.Edges {
		if ed.Role == "output" {
			if i, ok := fnIndex[ed.From]; ok {
				producers[ed.To] = append(producers[ed.To], i)
			}
		}
	}
	deps := make([][]int, len(actions))
	link := func(consumer string, storage string) {
		c, ok := fnIndex[consumer]
		if !ok {
			return
		}
		for _, p := range producers[storage] {
			if p != c && !slices.Contains(deps[c], p) {
				deps[c] = append(deps[c], p)
			}
		}
	}
	for _, ed := range g.Edges {
		if ed.Role == "input" {
			link(ed.To, ed.From)
		}
	}
	for _, mt := range g.MayTrigger {
		link(mt.To, mt.From)
	}
	// Drop back edges (depth-first), so what is left has no cycle.
	state := make([]int, len(actions)) // 0 new, 1 on stack, 2 done
	var visit func(i int)
	visit = func(i int) {
		state[i] = 1
		kept := deps[i][:0]
		for _, d := range deps[i] {
			if state[d] == 1 {
				continue
			}
			if state[d] == 0 {
				visit(d)
			}
			kept = append(kept, d)
		}
		deps[i] = kept
		state[i] = 2
	}
	for i := range actions {
		if state[i] == 0 {
			visit(i)
		}
	}
	for i := range actions {
		a := &actions[i]
		if a.Kind != ActionCreate && a.Kind != ActionUpdate && a.Kind != ActionUnchanged {
			a.After = nil
			continue
		}
		var after []int
		for _, d := range deps[i] {
			if k := actions[d].Kind; k == ActionCreate || k == ActionUpdate || k == ActionUnchanged {
				after = append(after, d)
			}
		}
		if a.Kind != ActionUnchanged {
			for j, o := range actions {
				if o.Kind == ActionDelete && o.Cluster == a.Cluster {
					after = append(after, j)
				}
			}
		}
		slices.Sort(after)
		a.After = after
	}
}
