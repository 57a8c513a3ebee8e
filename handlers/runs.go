package handlers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Runs: the monitor page of a workflow shows its graph, one node per
// deployed function with the function's jobs by status, and the runs
// (watch.Correlate): each input object and the jobs it caused. A run's
// page shows its path through the graph, a timeline and the end of each
// job's log. Both follow the live hub: the page's socket subscribes to
// the job list of every function (and, on a run's page, to the logs of
// the run's jobs) and, when any changes, renders the page's fragments
// again and sends those that differ.

// JobTracer returns what a cluster records itself of its jobs' causality
// (the embedded local cluster does): per job name of the service, its
// input, its outputs and the job that wrote its input. ok is false for a
// cluster that records none; its runs are then followed by object key.
type JobTracer func(cluster, service string) (traces map[string]watch.Traced, ok bool)

// maxLogReads bounds the logs one rendering reads to find jobs' inputs
// on clusters that do not record them; the rest are read next time.
const maxLogReads = 20

// inputCache keeps the input objects read from jobs' logs, which never
// change, so each log is read once.
type inputCache struct {
	mu sync.Mutex
	m  map[string]watch.Object
}

// maxCachedInputs bounds the cache; when full it starts over.
const maxCachedInputs = 20000

func (c *inputCache) get(k string) (watch.Object, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.m[k]
	return o, ok
}

func (c *inputCache) put(k string, o watch.Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedInputs {
		c.m = map[string]watch.Object{}
	}
	c.m[k] = o
}

func inputKey(f watch.Func, job string) string { return f.Cluster + "\x00" + f.Service + "\x00" + job }

// traced adds to jobs what is known of their inputs, outputs and causes:
// the cluster's own record when it keeps one, else the input named in
// each job's log (read through logs, when not nil, at most maxLogReads
// of them).
func (h *Handler) traced(ctx context.Context, logs backends.Jobs, f watch.Func, jobs []backends.Job) []watch.Traced {
	out := make([]watch.Traced, len(jobs))
	var known map[string]watch.Traced
	exact := false
	if h.traces != nil {
		known, exact = h.traces(f.Cluster, f.Service)
	}
	reads := 0
	for i, j := range jobs {
		out[i] = watch.Traced{Func: f, Job: j}
		if exact {
			if t, ok := known[j.Name]; ok {
				t.Func, t.Job, t.Exact, t.OutputsKnown = f, j, true, true
				out[i] = t
			}
			continue
		}
		k := inputKey(f, j.Name)
		if o, ok := h.inputs.get(k); ok {
			out[i].Input = o
			continue
		}
		if logs == nil || reads >= maxLogReads || j.Status == backends.JobPending {
			continue
		}
		reads++
		lctx, cancel := context.WithTimeout(ctx, backends.LogTimeout)
		text, err := logs.JobLog(lctx, f.Service, j.Name, false)
		cancel()
		if err != nil {
			continue
		}
		if bucket, key, ok := backends.JobInput(text); ok {
			out[i].Input = watch.Object{Bucket: bucket, Key: key}
			h.inputs.put(k, out[i].Input)
		} else if j.Status == backends.JobSucceeded || j.Status == backends.JobFailed {
			h.inputs.put(k, watch.Object{}) // not started by an upload
		}
	}
	return out
}

// knownInputs returns the input objects of a service's jobs known
// without reading anything ("bucket/key" by job name), for job tables.
func (h *Handler) knownInputs(cluster, service string) func() map[string]string {
	return func() map[string]string {
		out := map[string]string{}
		if h.traces != nil {
			if m, ok := h.traces(cluster, service); ok {
				for name, t := range m {
					if t.Input != (watch.Object{}) {
						out[name] = t.Input.String()
					}
				}
				return out
			}
		}
		h.inputs.mu.Lock()
		defer h.inputs.mu.Unlock()
		prefix := inputKey(watch.Func{Cluster: cluster, Service: service}, "")
		for k, o := range h.inputs.m {
			if name, ok := strings.CutPrefix(k, prefix); ok && o != (watch.Object{}) {
				out[name] = o.String()
			}
		}
		return out
	}
}

// withInputs fills the Input of job rows from known.
func withInputs(rows []templates.JobRow, known map[string]string) []templates.JobRow {
	for i := range rows {
		rows[i].Input = known[rows[i].Name]
	}
	return rows
}

// monitor is a workflow as its monitor pages draw it: its graph, laid
// out, and its functions placed on clusters by its deployment records.
type monitor struct {
	id       int64
	name     string
	graph    *fdl.Graph
	pos      *fdl.Positions
	stages   []watch.Stage
	nodeFunc map[string]watch.Func // a function node's id → where it is deployed
	deployed bool
}

// loadMonitor reads the saved workflow's graph and where its functions
// were deployed: for each function, the newest deployment record that
// created, updated or kept it (none when the newest one deleted it).
func (h *Handler) loadMonitor(ctx context.Context, owner int64, w store.Workflow) (*monitor, error) {
	doc, err := fdl.Parse(w.Name+".yaml", []byte(w.YAML))
	if err != nil {
		return nil, userError(http.StatusUnprocessableEntity, "The saved workflow is not a valid FDL: "+describeFDLError(err), err)
	}
	m := &monitor{id: w.ID, name: w.Name, graph: doc.Graph(), nodeFunc: map[string]watch.Func{}}
	m.pos = fdl.Layout(m.graph)
	type fn struct{ cluster, name string }
	placed := map[fn]string{} // "" once deleted
	if h.deployRecords != nil {
		deps, err := h.deployRecords.List(ctx, owner, workflowKey(w.ID))
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			for _, f := range d.Functions {
				k := fn{f.FDLCluster, f.Name}
				if _, seen := placed[k]; seen || f.State != store.FunctionDone {
					continue
				}
				placed[k] = f.Cluster
				if f.Action == "delete" {
					placed[k] = ""
				}
			}
		}
	}
	storage := map[string]fdl.Node{}
	for _, n := range m.graph.Nodes {
		if n.Kind == fdl.KindStorage {
			storage[n.ID] = n
		}
	}
	for _, n := range m.graph.Nodes {
		if n.Kind == fdl.KindStorage {
			continue
		}
		cluster := placed[fn{n.Cluster, n.Name}]
		if cluster == "" {
			continue
		}
		f := watch.Func{Cluster: cluster, Service: n.Name}
		m.nodeFunc[n.ID] = f
		st := watch.Stage{Func: f, Label: n.Name}
		for _, e := range m.graph.Edges {
			switch {
			case e.To == n.ID && e.Role == "input":
				st.Inputs = append(st.Inputs, storage[e.From].Path)
			case e.From == n.ID && e.Role == "output":
				st.Outputs = append(st.Outputs, storage[e.To].Path)
			}
		}
		m.stages = append(m.stages, st)
	}
	m.deployed = len(m.stages) > 0
	return m, nil
}

// ownMonitor is the monitor of the request's workflow.
func (h *Handler) ownMonitor(c echo.Context) (*monitor, *auth.User, error) {
	w, _, err := h.ownWorkflow(c)
	if err != nil {
		return nil, nil, err
	}
	u, err := currentUser(c)
	if err != nil {
		return nil, nil, err
	}
	m, err := h.loadMonitor(c.Request().Context(), u.ID, w)
	return m, u, err
}

// readJobs reads the first page of jobs of every function, with what is
// known of them; a cluster or service that fails is named in failures.
func (h *Handler) readJobs(ctx context.Context, u *auth.User, m *monitor) (jobs []watch.Traced, failures []string) {
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	bs := map[string]backends.Backend{}
	for _, st := range m.stages {
		b, ok := bs[st.Cluster]
		if !ok {
			cl, err := h.findCluster(ctx, u, st.Cluster)
			if err == nil {
				b, err = h.backendFor(ctx, cl)
			}
			if err != nil {
				failures = append(failures, fmt.Sprintf("Cluster %s: %s", st.Cluster, h.describe(err)))
			}
			bs[st.Cluster] = b
		}
		if b == nil {
			continue
		}
		list, err := b.ListJobs(ctx, st.Service, "")
		if err != nil {
			failures = append(failures, fmt.Sprintf("Jobs of %s on %s: %s", st.Service, st.Cluster, h.describe(err)))
			continue
		}
		jobs = append(jobs, h.traced(ctx, b, st.Func, list.Jobs)...)
	}
	return jobs, failures
}

// graphView draws the graph with each function's counts, or, given a
// run, the run's status at each function on its path.
func (m *monitor) graphView(counts map[watch.Func]watch.Counts, run *watch.Run) templates.RunGraph {
	g := templates.RunGraph{Width: m.pos.Width, Height: m.pos.Height}
	on := map[string]bool{}
	for _, n := range m.graph.Nodes {
		p := m.pos.Nodes[n.ID]
		v := templates.GraphNode{ID: n.ID, X: p.X, Y: p.Y, W: fdl.NodeWidth, H: fdl.NodeHeight, Function: n.Kind != fdl.KindStorage}
		f, deployed := m.nodeFunc[n.ID]
		switch {
		case !v.Function:
			v.Label = n.Path
		case !deployed:
			v.Label, v.Undeployed, v.Dim = n.Name, true, true
		case run != nil:
			v.Label, v.Href = n.Name, jobsURL(f.Cluster, f.Service)
			v.State = string(run.StageStatus(f))
			v.OnPath, v.Dim = v.State != "", v.State == ""
		default:
			v.Label, v.Href = n.Name, jobsURL(f.Cluster, f.Service)
			c := counts[f]
			v.Counts = &templates.NodeCounts{Pending: c.Pending, Running: c.Running, Succeeded: c.Succeeded, Failed: c.Failed}
		}
		on[n.ID] = !v.Dim
		g.Nodes = append(g.Nodes, v)
	}
	edge := func(from, to string, dashed bool) {
		a, ok1 := m.pos.Nodes[from]
		b, ok2 := m.pos.Nodes[to]
		if !ok1 || !ok2 {
			return
		}
		g.Edges = append(g.Edges, templates.GraphEdge{X1: a.X + fdl.NodeWidth, Y1: a.Y + fdl.NodeHeight/2, X2: b.X, Y2: b.Y + fdl.NodeHeight/2,
			Dashed: dashed, Dim: run != nil && (!on[from] && !on[to])})
	}
	for _, e := range m.graph.Edges {
		edge(e.From, e.To, false)
	}
	for _, t := range m.graph.MayTrigger {
		edge(t.From, t.To, true)
	}
	return g
}

func objectLink(cluster string, o watch.Object) templates.ObjectLink {
	return templates.ObjectLink{Name: o.String(), Href: templates.ObjectDownloadURL(cluster, o.Bucket, o.Key)}
}

func runURL(id int64, run string) string {
	return "/workflows/" + strconv.FormatInt(id, 10) + "/runs/" + urlPathEscape(run)
}

// runRow is one run as the list shows it.
func (m *monitor) runRow(r watch.Run, now time.Time) templates.RunRow {
	row := templates.RunRow{ID: r.ID, Href: runURL(m.id, r.ID), Input: r.Input.String(), Status: string(r.Status), Guess: r.Guess,
		Created: r.Created, Duration: "—", Finished: !r.Finished.IsZero()}
	if !r.Created.IsZero() {
		row.Duration = templates.Span(r.Created, r.Created.Add(r.Duration(now)))
	}
	if r.Input == (watch.Object{}) {
		row.Input = "(not an upload) " + r.ID
	}
	for _, st := range m.stages {
		row.Stages = append(row.Stages, templates.StageCell{Label: st.Label, Status: string(r.StageStatus(st.Func))})
	}
	for _, j := range r.Jobs {
		for _, o := range j.Outputs {
			row.Outputs = append(row.Outputs, objectLink(j.Cluster, o))
		}
	}
	return row
}

// runsProps is the monitor page's content for jobs.
func (m *monitor) runsProps(jobs []watch.Traced, now time.Time) templates.RunsProps {
	p := templates.RunsProps{WorkflowID: m.id, Name: m.name, Deployed: m.deployed, Exact: true,
		Graph: m.graphView(watch.Count(jobs), nil)}
	for _, r := range watch.Correlate(m.stages, jobs, now) {
		p.Runs = append(p.Runs, m.runRow(r, now))
	}
	for _, j := range jobs {
		p.Exact = p.Exact && j.Exact
	}
	fed := map[watch.Func]bool{}
	for _, a := range m.stages {
		for _, b := range m.stages {
			if a.Func != b.Func && feedsStage(a, b) {
				fed[b.Func] = true
			}
		}
	}
	for _, st := range m.stages {
		if fed[st.Func] {
			continue
		}
		for _, in := range st.Inputs {
			bucket, folder, _ := strings.Cut(strings.Trim(in, "/"), "/")
			prefix := ""
			if folder != "" {
				prefix = folder + "/"
			}
			p.Uploads = append(p.Uploads, templates.ObjectLink{Name: in, Href: templates.BucketURL(st.Cluster, bucket, prefix)})
		}
	}
	return p
}

// feedsStage reports whether a's outputs are b's inputs.
func feedsStage(a, b watch.Stage) bool {
	for _, o := range a.Outputs {
		if slices.Contains(b.Inputs, o) {
			return true
		}
	}
	return false
}

// findRun returns the run called id among jobs' runs.
func (m *monitor) findRun(jobs []watch.Traced, id string, now time.Time) (watch.Run, bool) {
	for _, r := range watch.Correlate(m.stages, jobs, now) {
		if r.ID == id {
			return r, true
		}
	}
	return watch.Run{}, false
}

// runProps is a run's page content; logs are the end of each job's log.
func (m *monitor) runProps(r watch.Run, logs map[string][]watch.Line, now time.Time) templates.RunProps {
	p := templates.RunProps{WorkflowID: m.id, Name: m.name, Run: m.runRow(r, now), Graph: m.graphView(nil, &r)}
	start, end := r.Created, r.Finished
	if end.IsZero() {
		end = now
	}
	span := end.Sub(start)
	p.Span = templates.Span(start, end)
	at := func(t time.Time) float64 {
		if span <= 0 || t.IsZero() {
			return 0
		}
		return min(100, max(0, 100*float64(t.Sub(start))/float64(span)))
	}
	for _, j := range r.Jobs {
		s := templates.RunStep{Stage: j.Service, Cluster: j.Cluster, Service: j.Service, Job: j.Job.Name,
			Href: jobsURL(j.Cluster, j.Service) + "/" + urlPathEscape(j.Job.Name), Status: string(j.Job.Status), Depth: j.Depth,
			Created: j.Job.CreationTime, Started: j.Job.StartTime, Finished: j.Job.FinishTime}
		if j.Input != (watch.Object{}) {
			s.Input = j.Input.String()
		}
		for _, o := range j.Outputs {
			s.Outputs = append(s.Outputs, objectLink(j.Cluster, o))
		}
		for _, l := range logs[j.Job.Name] {
			s.Log = append(s.Log, templates.LogLine{N: l.N, Text: l.Text})
		}
		started, finished := j.Job.StartTime, j.Job.FinishTime
		if started.IsZero() {
			started = end
		}
		if finished.IsZero() {
			finished = end
		}
		s.QueueLeft = at(j.Job.CreationTime)
		s.QueueWidth = at(started) - s.QueueLeft
		s.RunLeft = at(started)
		if !j.Job.StartTime.IsZero() {
			s.RunWidth = at(finished) - s.RunLeft
		}
		p.Steps = append(p.Steps, s)
	}
	return p
}

// ShowRuns handles "GET /workflows/:id/runs": the workflow's graph with
// each function's job counts, and its runs.
func (h *Handler) ShowRuns(c echo.Context) error {
	m, u, err := h.ownMonitor(c)
	if err != nil {
		return err
	}
	jobs, failures := h.readJobs(c.Request().Context(), u, m)
	p := m.runsProps(jobs, time.Now())
	p.Chrome = h.Chrome(c, "Runs of "+m.name, "/workflows")
	p.Failures = failures
	return Render(c, http.StatusOK, templates.RunsPage(p))
}

// ShowRun handles "GET /workflows/:id/runs/:run": one run's path through
// the graph, its timeline, outputs and jobs with the end of their logs.
func (h *Handler) ShowRun(c echo.Context) error {
	m, u, err := h.ownMonitor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	jobs, failures := h.readJobs(ctx, u, m)
	now := time.Now()
	r, ok := m.findRun(jobs, c.Param("run"), now)
	if !ok {
		if len(failures) > 0 {
			return userError(http.StatusBadGateway, "The run cannot be shown: "+strings.Join(failures, "; "), nil)
		}
		return notFound(fmt.Sprintf("Workflow %s has no run %q among its functions' newest jobs.", m.name, c.Param("run")), nil)
	}
	logs := map[string][]watch.Line{}
	for _, j := range r.Jobs {
		logs[j.Job.Name] = h.logTail(ctx, u, j.Func, j.Job.Name)
	}
	p := m.runProps(r, logs, now)
	p.Chrome = h.Chrome(c, "Run of "+p.Run.Input, "/workflows")
	p.Failures = failures
	return Render(c, http.StatusOK, templates.RunPage(p))
}

// logTail reads the last lines of a job's log (none when it cannot).
func (h *Handler) logTail(ctx context.Context, u *auth.User, f watch.Func, job string) []watch.Line {
	cl, err := h.findCluster(ctx, u, f.Cluster)
	if err != nil {
		return nil
	}
	b, err := h.backendFor(ctx, cl)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, backends.LogTimeout)
	defer cancel()
	text, err := b.JobLog(ctx, f.Service, job, false)
	if err != nil {
		return nil
	}
	lines, _ := logLines(text, "")
	out := make([]watch.Line, 0, len(lines))
	for _, l := range lines {
		out = append(out, watch.Line{N: l.N, Text: l.Text})
	}
	return tailLines(out)
}

func tailLines(l []watch.Line) []watch.Line {
	if n := len(l) - templates.RunLogLines; n > 0 {
		return l[n:]
	}
	return l
}

// LiveRuns handles "GET /workflows/:id/runs/live": the monitor page's
// WebSocket.
func (h *Handler) LiveRuns(c echo.Context) error { return h.serveRunsLive(c, "") }

// LiveRun handles "GET /workflows/:id/runs/:run/live": a run page's
// WebSocket.
func (h *Handler) LiveRun(c echo.Context) error { return h.serveRunsLive(c, c.Param("run")) }

func (h *Handler) serveRunsLive(c echo.Context, run string) error {
	u, err := h.liveRequest(c)
	if err != nil {
		return err
	}
	m, _, err := h.ownMonitor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f, err := h.newMultiFeed(ctx, u)
	if err != nil {
		return err
	}
	defer f.close()
	for _, st := range m.stages {
		if err := f.subscribe(watch.JobRef{Func: st.Func}); err != nil {
			return err
		}
	}
	f.render = func(ctx context.Context, f *multiFeed) ([]liveFragment, error) {
		// Reading logs for inputs is bounded: the connection's writer
		// waits for it.
		rctx, cancel := context.WithTimeout(ctx, clusterTimeout)
		defer cancel()
		var jobs []watch.Traced
		for _, st := range m.stages {
			res, err := f.resolve(ctx, st.Cluster)
			if err != nil {
				continue
			}
			jobs = append(jobs, h.traced(rctx, res, st.Func, f.list(st.Func))...)
		}
		now := time.Now()
		if run == "" {
			p := m.runsProps(jobs, now)
			return []liveFragment{{"runs-graph", templates.WorkflowGraph("runs-graph", p.Graph)}, {"runs-list", templates.RunsList(p)}}, nil
		}
		r, ok := m.findRun(jobs, run, now)
		if !ok {
			return nil, nil
		}
		logs := map[string][]watch.Line{}
		for _, j := range r.Jobs {
			ref := watch.JobRef{Func: j.Func, Job: j.Job.Name}
			if err := f.subscribe(ref); err != nil {
				return nil, err
			}
			logs[j.Job.Name] = f.logs[ref]
		}
		p := m.runProps(r, logs, now)
		frags := []liveFragment{
			{"run-head", templates.RunHead(p.Run)},
			{"run-graph", templates.WorkflowGraph("run-graph", p.Graph)},
			{"run-timeline", templates.RunTimeline(p)},
			{"run-outputs", templates.RunOutputs(p.Run)},
		}
		// A new job of the run: the list of steps; else each step alone.
		ids := make([]string, len(p.Steps))
		for i, s := range p.Steps {
			ids[i] = s.Job
		}
		if steps := strings.Join(ids, "\x00"); steps != f.shape {
			f.shape = steps
			frags = append(frags, liveFragment{"run-steps", templates.RunSteps(p)})
			for _, s := range p.Steps {
				f.forget("run-step-" + s.Job)
			}
		} else {
			for _, s := range p.Steps {
				frags = append(frags, liveFragment{"run-step-" + s.Job, templates.RunStepPanel(s)})
			}
		}
		return frags, nil
	}
	conn, closeConn, ok := h.upgradeLive(c)
	if !ok {
		return nil
	}
	defer closeConn()
	h.runLive(ctx, conn, f)
	return nil
}

// liveFragment is one element of a page, by id, and what renders it.
type liveFragment struct {
	id string
	c  templ.Component
}

// multiFeed follows several streams of the hub and sends a page's
// fragments rendered from their state, those that changed since the
// last message. A new connection gets them all.
type multiFeed struct {
	h      *Handler
	user   *auth.User
	reqCtx context.Context // the WebSocket's request, for resolving clusters
	scope  string
	ctx    context.Context
	cancel context.CancelFunc
	notify chan struct{}
	ended  chan struct{}
	once   sync.Once

	mu       sync.Mutex // guards backends
	backends map[string]backends.Backend

	subs   map[watch.JobRef]*watch.Sub // Job "" is a function's job list
	jobs   map[watch.Func]map[string]backends.Job
	ready  map[watch.Func]bool
	failed map[watch.Func]string
	logs   map[watch.JobRef][]watch.Line
	render func(ctx context.Context, f *multiFeed) ([]liveFragment, error)
	sent   map[string]string
	shape  string // the render's own memory of what it last laid out
	errMsg string
}

func (h *Handler) newMultiFeed(ctx context.Context, u *auth.User) (*multiFeed, error) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &multiFeed{h: h, scope: strconv.FormatInt(u.ID, 10), ctx: fctx, cancel: cancel,
		notify: make(chan struct{}, 1), ended: make(chan struct{}), backends: map[string]backends.Backend{},
		subs: map[watch.JobRef]*watch.Sub{}, jobs: map[watch.Func]map[string]backends.Job{}, ready: map[watch.Func]bool{},
		failed: map[watch.Func]string{}, logs: map[watch.JobRef][]watch.Line{}, sent: map[string]string{}}
	f.user, f.reqCtx = u, ctx
	return f, nil
}

// resolve is the backend of a cluster, acting for the user.
func (f *multiFeed) resolve(ctx context.Context, cluster string) (backends.Backend, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.backends[cluster]; ok {
		return b, nil
	}
	cl, err := f.h.findCluster(f.reqCtx, f.user, cluster)
	if err != nil {
		return nil, err
	}
	b, err := f.h.backgroundBackend(f.reqCtx, cl)
	if err != nil {
		return nil, err
	}
	f.backends[cluster] = b
	return b, nil
}

// subscribe follows one stream, once.
func (f *multiFeed) subscribe(ref watch.JobRef) error {
	if _, ok := f.subs[ref]; ok {
		return nil
	}
	b, err := f.resolve(f.ctx, ref.Cluster)
	if err != nil {
		return err
	}
	key := watch.Key{Scope: f.scope, Cluster: ref.Cluster, Service: ref.Service}
	sub, err := f.h.live.Subscribe(key, ref.Job, func(context.Context) (backends.Jobs, error) { return b, nil }, watch.Cursor{})
	if err != nil {
		return err
	}
	f.subs[ref] = sub
	go func() {
		for {
			select {
			case <-f.ctx.Done():
				return
			case <-sub.Ended():
				f.once.Do(func() { close(f.ended) })
				return
			case <-sub.C():
				select {
				case f.notify <- struct{}{}:
				default:
				}
			}
		}
	}()
	return nil
}

func (f *multiFeed) close() {
	f.cancel()
	for _, s := range f.subs {
		s.Close()
	}
}

// forget makes the next message send the fragment id again.
func (f *multiFeed) forget(id string) { delete(f.sent, id) }

// list is a function's jobs as last heard.
func (f *multiFeed) list(fn watch.Func) []backends.Job {
	out := make([]backends.Job, 0, len(f.jobs[fn]))
	for _, j := range f.jobs[fn] {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b backends.Job) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (f *multiFeed) C() <-chan struct{}     { return f.notify }
func (f *multiFeed) Ended() <-chan struct{} { return f.ended }

func (f *multiFeed) next(ctx context.Context) (*LiveMessage, error) {
	refs := make([]watch.JobRef, 0, len(f.subs))
	for ref := range f.subs {
		refs = append(refs, ref)
	}
	for _, ref := range refs {
		for {
			evs := f.subs[ref].Next(liveBatch)
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				f.apply(ref, e)
			}
		}
	}
	for ref := range f.subs {
		if ref.Job == "" && !f.ready[ref.Func] {
			return nil, nil // wait for every function's first poll
		}
	}
	if f.render == nil {
		return nil, nil
	}
	frags, err := f.render(ctx, f)
	if err != nil {
		return nil, err
	}
	msg := &LiveMessage{}
	for _, fr := range frags {
		buf := templ.GetBuffer()
		if err := fr.c.Render(ctx, buf); err != nil {
			templ.ReleaseBuffer(buf)
			return nil, err
		}
		html := buf.String()
		templ.ReleaseBuffer(buf)
		if f.sent[fr.id] == html {
			continue
		}
		f.sent[fr.id] = html
		msg.Swap = append(msg.Swap, LiveSwap{ID: fr.id, HTML: html})
	}
	var fails []string
	for fn, e := range f.failed {
		if e != "" {
			fails = append(fails, fn.String()+": "+e)
		}
	}
	slices.Sort(fails)
	msg.Error = strings.Join(fails, "; ")
	if len(msg.Swap) == 0 && msg.Error == f.errMsg {
		return nil, nil
	}
	f.errMsg = msg.Error
	return msg, nil
}

// apply updates the feed's state with one event of ref's stream.
func (f *multiFeed) apply(ref watch.JobRef, e watch.Event) {
	if ref.Job != "" {
		switch e.Kind {
		case watch.Snapshot:
			f.logs[ref] = tailLines(e.Lines)
		case watch.LogLines:
			f.logs[ref] = tailLines(append(f.logs[ref], e.Lines...))
		}
		return
	}
	fn := ref.Func
	if f.jobs[fn] == nil {
		f.jobs[fn] = map[string]backends.Job{}
	}
	switch e.Kind {
	case watch.Snapshot:
		clear(f.jobs[fn])
		for _, j := range e.Jobs {
			f.jobs[fn][j.Name] = j
		}
		f.ready[fn] = true
		f.failed[fn] = e.Err
	case watch.JobChanged:
		f.jobs[fn][e.Job.Name] = e.Job
	case watch.JobGone:
		delete(f.jobs[fn], e.Job.Name)
	case watch.Failed:
		f.failed[fn] = e.Err
		f.ready[fn] = true
	case watch.Recovered:
		f.failed[fn] = ""
	}
}
