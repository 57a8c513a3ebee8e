package handlers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Deploying a workflow from the composer: the plan page, the apply with
// live progress (deploy_apply.go) and the deployments with drift
// (deploy_history.go). Everything is done by the deploy engine
// (backends/deploy); these handlers only gather the request, call it and
// show what it says.

// deployRunner owns the engine and the applies and rollbacks that run in
// the background of this server, so pages can follow them live.
type deployRunner struct {
	engine  *deploy.Engine
	journal deployRecords

	base   context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	begun map[string]chan int64 // owner/workflow -> the id of the apply it starts
	runs  map[int64]*liveRun    // deployment id -> what runs on it now
}

// liveRun is an apply or rollback under way: its followers wait on
// changed, which is closed and replaced at every progress event.
type liveRun struct {
	mu      sync.Mutex
	seq     int
	changed chan struct{}
	done    bool
}

func newLiveRun() *liveRun { return &liveRun{changed: make(chan struct{})} }

func (l *liveRun) bump(done bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	l.done = l.done || done
	close(l.changed)
	l.changed = make(chan struct{})
}

// state returns the number of events so far, whether the run ended, and
// a channel closed at the next event.
func (l *liveRun) state() (int, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.done, l.changed
}

// resolverKey carries, in the context of a plan, apply or drift, how the
// user doing it reaches a registered cluster: the engine is shared, the
// clusters are each user's.
type resolverKey struct{}

// newDeployRunner follows the applies of the handlers' engine, whose
// journal is r.journal: repo, telling r each deployment's id as soon as
// it is recorded.
func newDeployRunner(repo deployRecords) *deployRunner {
	r := &deployRunner{begun: map[string]chan int64{}, runs: map[int64]*liveRun{}}
	r.journal = beginHook{deployRecords: repo, r: r}
	r.base, r.cancel = context.WithCancel(context.Background())
	return r
}

// beginHook tells the runner the id of a deployment as soon as the engine
// records it, so the page can follow it while it runs.
type beginHook struct {
	deployRecords
	r *deployRunner
}

func (j beginHook) Begin(ctx context.Context, d store.Deployment) (store.Deployment, error) {
	d, err := j.deployRecords.Begin(ctx, d)
	if err == nil {
		j.r.mu.Lock()
		if ch, ok := j.r.begun[runKey(d.OwnerID, d.Workflow)]; ok {
			ch <- d.ID
		}
		j.r.mu.Unlock()
	}
	return d, err
}

func runKey(owner int64, workflow string) string { return fmt.Sprint(owner, "/", workflow) }

// Close cancels the applies and rollbacks under way (their journals say
// where they stopped, and the next apply converges) and waits for them.
func (r *deployRunner) Close() {
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// background is ctx's values (the user, the session, the cluster
// resolver) without its end: the run outlives the request, and ends with
// the server.
func (r *deployRunner) background(ctx context.Context) (context.Context, context.CancelFunc) {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(r.base, cancel)
	return bg, func() { stop(); cancel() }
}

// apply starts applying p in the background and returns the id of its
// deployment record once the engine has written it; an apply that
// cannot start (busy workflow, unmapped cluster, store failure) returns
// its error instead.
func (r *deployRunner) apply(ctx context.Context, p *deploy.Plan) (int64, error) {
	key := runKey(p.OwnerID, p.Workflow)
	begun := make(chan int64, 1)
	r.mu.Lock()
	if _, dup := r.begun[key]; dup {
		r.mu.Unlock()
		return 0, fmt.Errorf("workflow %q: %w", p.Workflow, deploy.ErrBusy)
	}
	r.begun[key] = begun
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.begun, key)
		r.mu.Unlock()
	}()
	run := newLiveRun()
	failed := make(chan error, 1)
	bg, cancel := r.background(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel()
		res, err := r.engine.Apply(bg, p, func(deploy.Event) { run.bump(false) })
		if res == nil {
			failed <- err // nothing was recorded
			return
		}
		r.finish(res.Deployment, run)
	}()
	select {
	case id := <-begun:
		r.mu.Lock()
		if !run.doneNow() {
			r.runs[id] = run
		}
		r.mu.Unlock()
		return id, nil
	case err := <-failed:
		return 0, err
	}
}

func (l *liveRun) doneNow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

// finish marks a run ended and forgets it (under r.mu, so apply never
// registers a run that has ended).
func (r *deployRunner) finish(id int64, run *liveRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run.bump(true)
	delete(r.runs, id)
}

// rollback starts restoring what deployment id changed, in the background.
func (r *deployRunner) rollback(ctx context.Context, owner, id int64) error {
	r.mu.Lock()
	if _, busy := r.runs[id]; busy {
		r.mu.Unlock()
		return deploy.ErrBusy
	}
	run := newLiveRun()
	r.runs[id] = run
	r.mu.Unlock()
	failed := make(chan error, 1)
	bg, cancel := r.background(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel()
		defer r.finish(id, run)
		_, err := r.engine.Rollback(bg, owner, id, func(deploy.Event) { run.bump(false) })
		failed <- err
	}()
	// Wait for the refusals that come at once (busy, nothing recorded);
	// the rollback itself goes on in the background.
	select {
	case err := <-failed:
		if err != nil && errors.Is(err, deploy.ErrBusy) {
			return err
		}
		return nil
	case <-time.After(200 * time.Millisecond):
		return nil
	}
}

// wait waits, at most d, for what runs on deployment id to end.
func (r *deployRunner) wait(ctx context.Context, id int64, d time.Duration) {
	limit := time.After(d)
	for {
		run := r.live(id)
		if run == nil {
			return
		}
		_, done, changed := run.state()
		if done {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-limit:
			return
		}
	}
}

// live returns what runs on deployment id now, or nil.
func (r *deployRunner) live(id int64) *liveRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[id]
}

// running returns the id of a deployment of the owner's workflow that
// runs now (0 if none), for the "busy" message.
func (r *deployRunner) running(ctx context.Context, owner int64, workflow string) int64 {
	r.mu.Lock()
	ids := make([]int64, 0, len(r.runs))
	for id := range r.runs {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		if d, err := r.journal.Get(ctx, owner, id); err == nil && d.Workflow == workflow {
			return id
		}
	}
	return 0
}

// errNoDeploy answers the deploy pages of a server built without the
// deploy engine.
var errNoDeploy = userError(http.StatusNotImplemented, "Deploying is not enabled on this server.", nil)

// workflowKey is how the deploy engine and its records name a composer
// workflow.
func workflowKey(id int64) string { return "workflow/" + strconv.FormatInt(id, 10) }

// withResolver returns ctx carrying how u reaches their clusters for the
// engine: any cluster u may use (shared, the session's, their own), with
// the credentials of its record or, for a cluster that takes the login
// token, the session's token source, which works after the request too.
func (h *Handler) withResolver(ctx context.Context, u *auth.User) context.Context {
	// The session's token source is taken now, during the request: an
	// apply goes on after it.
	var tokens func(context.Context) (string, error)
	var tokErr error
	if h.tokens != nil {
		tokens, tokErr = h.tokens(ctx)
	}
	resolve := deploy.ClusterResolver(func(ctx context.Context, name string) (backends.Services, error) {
		cl, err := h.findCluster(ctx, u, name)
		if err != nil {
			var ue *UserError
			if errors.As(err, &ue) {
				return nil, errors.New(ue.Message)
			}
			return nil, err
		}
		if cl.AuthKind != store.AuthToken || h.tokens == nil {
			return h.backendFor(ctx, cl)
		}
		if tokErr != nil {
			return nil, tokErr
		}
		return h.backends.Backend(ctx, cl, backends.Acting{AccessToken: tokens})
	})
	return context.WithValue(ctx, resolverKey{}, resolve)
}

// deploySource is the workflow version to deploy with its scripts.
type deploySource struct {
	w       store.Workflow
	version int
	doc     *fdl.Document
	scripts fs.FS
	// remove plans deleting what the workflow's deployments created
	// instead (as `fdlstudio deploy --delete`).
	remove bool
}

// deploySource reads version ?version= (default: the latest saved) of
// the request's workflow.
func (h *Handler) deploySource(c echo.Context, w store.Workflow, owner int64, version string) (*deploySource, error) {
	src := &deploySource{w: w, version: w.Version}
	text := w.YAML
	if version != "" {
		n, err := strconv.Atoi(version)
		if err != nil || n < 1 {
			return nil, userError(http.StatusBadRequest, fmt.Sprintf("The version %q is not a version number.", version), err)
		}
		if n != w.Version {
			v, err := h.workflowVersion(c, owner, w, n)
			if err != nil {
				return nil, err
			}
			text = v.YAML
		}
		src.version = n
	}
	doc, err := fdl.Parse(fileBase(w.Name)+".yaml", []byte(text))
	if err != nil {
		return nil, userError(http.StatusUnprocessableEntity, "Version "+strconv.Itoa(src.version)+" is not a valid FDL: "+describeFDLError(err), err)
	}
	files := map[string][]byte{}
	for p, s := range w.Scripts {
		files[p] = []byte(s)
	}
	src.doc, src.scripts = doc, (&fdl.Bundle{Scripts: files}).FS()
	return src, nil
}

// mappingFrom reads the fdl_cluster/cluster pairs a plan page sends.
func mappingFrom(c echo.Context) (map[string]string, bool) {
	ids, names := formList(c, "fdl_cluster"), formList(c, "cluster")
	if len(ids) == 0 {
		return nil, false
	}
	m := map[string]string{}
	for i, id := range ids {
		if i < len(names) && strings.TrimSpace(names[i]) != "" {
			m[id] = strings.TrimSpace(names[i])
		}
	}
	return m, true
}

func formList(c echo.Context, name string) []string {
	if c.Request().Method == http.MethodGet {
		return c.QueryParams()[name]
	}
	fp, err := c.FormParams()
	if err != nil {
		return nil
	}
	return fp[name]
}

// plan computes the plan of src with the mapping the page sent, or else
// the one remembered for the workflow. Problems that block the plan are
// returned as text for the page; err is for failures of the server.
func (h *Handler) plan(c echo.Context, u *auth.User, src *deploySource, sent map[string]string) (*deploy.Plan, []string, error) {
	ctx := c.Request().Context()
	var problems []string
	for _, d := range src.doc.Validate(fdl.ValidateOptions{Scripts: src.scripts, RequireScripts: true}) {
		if d.Severity == fdl.Error && !src.remove {
			problems = append(problems, fmt.Sprintf("line %d, column %d: %s", d.Line, d.Col, d.Message))
		}
	}
	if len(problems) > 0 {
		return nil, append([]string{"The workflow has errors; fix them in the composer first."}, problems...), nil
	}
	wf := workflowKey(src.w.ID)
	mapping := sent
	if mapping == nil {
		m, err := h.deploys.journal.ClusterMap(ctx, u.ID, wf)
		if err != nil {
			return nil, nil, err
		}
		mapping = m
	}
	p, err := h.deploys.engine.Plan(h.withResolver(ctx, u), deploy.Request{
		OwnerID: u.ID, User: apiActor(c, u), Workflow: wf, Version: int64(src.version),
		Doc: src.doc, Scripts: src.scripts, Clusters: mapping, Delete: src.remove,
	})
	if err != nil {
		var ie *deploy.InputError
		if errors.As(err, &ie) {
			return nil, []string{ie.Error()}, nil
		}
		return nil, []string{"The plan could not be made: " + h.describePlanError(err)}, nil
	}
	return p, nil, nil
}

// ShowDeployPlan handles "GET /workflows/:id/deploy": the plan of
// deploying the latest saved version (or ?version=N), with the cluster
// mapping the user chose (fdl_cluster/cluster pairs) or remembered.
func (h *Handler) ShowDeployPlan(c echo.Context) error {
	if h.deploys == nil {
		return errNoDeploy
	}
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	src, err := h.deploySource(c, w, owner, c.QueryParam("version"))
	if err != nil {
		return err
	}
	src.remove = c.QueryParam("remove") != ""
	sent, _ := mappingFrom(c)
	return h.renderPlan(c, http.StatusOK, src, sent, "")
}

func (h *Handler) renderPlan(c echo.Context, status int, src *deploySource, sent map[string]string, notice string) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, problems, err := h.plan(c, u, src, sent)
	if err != nil {
		return err
	}
	props := templates.DeployPlanProps{
		Chrome: h.Chrome(c, "Deploy "+src.w.Name, "/workflows"), WorkflowID: src.w.ID, Workflow: src.w.Name,
		Version: src.version, Latest: src.w.Version, Draft: src.w.Draft != "", Problems: problems, Notice: notice,
		Remove: src.remove,
	}
	clusters, err := h.userClusters(ctx, u)
	if err != nil {
		return err
	}
	for _, cl := range clusters {
		props.Clusters = append(props.Clusters, templates.DeployClusterOption{Name: cl.Name, Label: clusterOptionLabel(cl)})
	}
	if p != nil {
		planProps(&props, p)
	}
	if len(problems) > 0 && status == http.StatusOK {
		status = http.StatusUnprocessableEntity
	}
	return Render(c, status, templates.DeployPlanPage(props))
}

func clusterOptionLabel(cl store.Cluster) string {
	if cl.Endpoint != "" {
		return cl.Endpoint
	}
	return cl.Kind
}

// planProps fills the page from the plan: the mapping of every FDL
// cluster id the plan names (mapped or not, so any backend's ids show),
// the actions, what cannot be deployed yet and the side effects.
func planProps(props *templates.DeployPlanProps, p *deploy.Plan) {
	seen := map[string]bool{}
	counts := map[deploy.ActionKind]int{}
	for _, a := range p.Actions {
		counts[a.Kind]++
		if a.FDLCluster != "" && a.Kind != deploy.ActionDelete && !seen[a.FDLCluster] {
			seen[a.FDLCluster] = true
			sel := a.Cluster
			if a.Kind == deploy.ActionNeedsCluster {
				sel = ""
			}
			props.Mapping = append(props.Mapping, templates.DeployMappingRow{FDLCluster: a.FDLCluster, Selected: sel})
		}
		row := templates.DeployActionRow{Kind: string(a.Kind), Name: a.Name, FDLCluster: a.FDLCluster, Cluster: a.Cluster, Reason: a.Reason}
		for _, ch := range a.Changes {
			row.Changes = append(row.Changes, templates.DeployChange{Field: ch.Field, From: ch.From, To: ch.To})
		}
		if a.Kind == deploy.ActionUnsupported {
			props.Blocked = append(props.Blocked, row)
			continue
		}
		props.Actions = append(props.Actions, row)
	}
	for _, id := range p.NeedsCluster {
		if !seen[id] {
			seen[id] = true
			props.Mapping = append(props.Mapping, templates.DeployMappingRow{FDLCluster: id})
		}
	}
	slices.SortFunc(props.Mapping, func(a, b templates.DeployMappingRow) int { return strings.Compare(a.FDLCluster, b.FDLCluster) })
	for _, e := range p.Effects {
		props.Effects = append(props.Effects, templates.DeployEffectRow{Kind: e.Kind, Message: e.Message, UsedBy: e.UsedBy})
	}
	props.NeedCluster = len(p.NeedsCluster) > 0
	props.Changes = p.Changes()
	props.Fingerprint = Fingerprint(p)
	props.Summary = fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged.",
		counts[deploy.ActionCreate], counts[deploy.ActionUpdate], counts[deploy.ActionDelete], counts[deploy.ActionUnchanged])
	if n := counts[deploy.ActionUnsupported] + counts[deploy.ActionNeedsCluster]; n > 0 {
		props.Summary += fmt.Sprintf(" %d cannot be deployed as things stand.", n)
	}
}

// ConfirmDeploy handles "POST /workflows/:id/deploy": the user confirmed
// the plan. It is computed again with the same mapping; if it differs
// from the one shown, it is shown again instead of applied. The mapping
// is remembered, the apply starts in the background, and the browser
// goes to the deployment's page to follow it.
func (h *Handler) ConfirmDeploy(c echo.Context) error {
	if h.deploys == nil {
		return errNoDeploy
	}
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	src, err := h.deploySource(c, w, owner, c.FormValue("version"))
	if err != nil {
		return err
	}
	src.remove = c.FormValue("remove") != ""
	// Without mapping fields (a removal, a workflow naming no cluster)
	// the plan uses the remembered mapping, as the page did.
	sent, _ := mappingFrom(c)
	ctx := c.Request().Context()
	p, problems, err := h.plan(c, u, src, sent)
	if err != nil {
		return err
	}
	if len(problems) > 0 || len(p.NeedsCluster) > 0 {
		return h.renderPlan(c, http.StatusUnprocessableEntity, src, sent, "Nothing was applied: the plan cannot be applied as it stands.")
	}
	if Fingerprint(p) != c.FormValue("fingerprint") {
		return h.renderPlan(c, http.StatusConflict, src, sent, "Nothing was applied: the plan changed since you looked at it (a cluster or the workflow changed). Review it again.")
	}
	if !src.remove && sent != nil {
		if err := h.deploys.journal.SetClusterMap(ctx, u.ID, p.Workflow, sent); err != nil {
			return err
		}
	}
	id, err := h.deploys.apply(h.withResolver(ctx, u), p)
	if errors.Is(err, deploy.ErrBusy) {
		msg := "Nothing was applied: another apply or rollback of this workflow is running."
		if run := h.deploys.running(ctx, u.ID, p.Workflow); run != 0 {
			msg += fmt.Sprintf(" Follow it on deployment %d, and plan again when it has finished.", run)
		}
		return h.renderPlan(c, http.StatusConflict, src, sent, msg)
	}
	var ie *deploy.InputError
	if errors.As(err, &ie) {
		return h.renderPlan(c, http.StatusUnprocessableEntity, src, sent, "Nothing was applied: "+ie.Error())
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/workflows/%d/deployments/%d", w.ID, id))
}
