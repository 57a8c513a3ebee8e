package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// ownDeployment returns the request's workflow and its deployment :dep.
func (h *Handler) ownDeployment(c echo.Context) (store.Workflow, store.Deployment, error) {
	if h.deploys == nil {
		return store.Workflow{}, store.Deployment{}, errNoDeploy
	}
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return w, store.Deployment{}, err
	}
	id, err := strconv.ParseInt(c.Param("dep"), 10, 64)
	if err != nil {
		return w, store.Deployment{}, notFound("There is no such deployment.", nil)
	}
	d, err := h.deploys.journal.Get(c.Request().Context(), owner, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && d.Workflow != workflowKey(w.ID) {
		return w, d, notFound(fmt.Sprintf("Workflow %q has no deployment %d.", w.Name, id), err)
	}
	return w, d, err
}

// deploymentRecord is the view of a deployment's record.
func (h *Handler) deploymentRecord(wf int64, d store.Deployment) templates.DeploymentRecord {
	v := templates.DeploymentRecord{
		ID: d.ID, WorkflowID: wf, User: d.User, Version: d.Version, Clusters: d.Clusters, Outcome: d.Outcome,
		Started: d.StartedAt.UTC().Format("2006-01-02 15:04:05"),
		Running: h.deploys.live(d.ID) != nil,
	}
	if !d.FinishedAt.IsZero() {
		v.FinishedAt = d.FinishedAt.UTC().Format("2006-01-02 15:04:05")
	}
	changed := false
	for _, f := range d.Functions {
		v.Functions = append(v.Functions, templates.DeployFunctionRow{
			Cluster: f.Cluster, FDLCluster: f.FDLCluster, Name: f.Name, Action: f.Action, State: f.State, Message: f.Message,
		})
		if f.Action == string(deploy.ActionUnchanged) {
			continue
		}
		v.Changes++
		if f.State != store.FunctionPlanned && f.State != store.FunctionStarted {
			v.Finished++
		}
		if f.State == store.FunctionDone || f.State == store.FunctionStarted {
			changed = true
		}
	}
	// Rollback restores what the apply changed; offered once it has
	// ended, while something it changed has not been restored.
	v.CanRollBack = changed && !v.Running && d.Outcome != store.DeploymentRolledBack
	return v
}

// ShowDeployment handles "GET /workflows/:id/deployments/:dep": one
// deployment's outcome per function, from its journal (so a reload while
// it runs shows how far it got), updated live while it runs.
func (h *Handler) ShowDeployment(c echo.Context) error {
	w, d, err := h.ownDeployment(c)
	if err != nil {
		return err
	}
	p := templates.DeployApplyProps{
		Chrome: h.Chrome(c, fmt.Sprintf("Deployment %d of %s", d.ID, w.Name), "/workflows"), WorkflowID: w.ID, Workflow: w.Name,
		D: h.deploymentRecord(w.ID, d),
	}
	if p.D.Running {
		p.LiveURL = fmt.Sprintf("/workflows/%d/deployments/%d/live", w.ID, d.ID)
	}
	return Render(c, http.StatusOK, templates.DeployApplyPage(p))
}

// LiveDeployment handles "GET /workflows/:id/deployments/:dep/live": the
// WebSocket of a deployment's page. At every progress event it sends the
// deployment's panel rendered again from the journal, in the message
// format of handlers/live.go that static/js/live.js applies; the last
// message, when the run has ended, says so.
func (h *Handler) LiveDeployment(c echo.Context) error {
	r := c.Request()
	if !websocket.IsWebSocketUpgrade(r) {
		return userError(http.StatusBadRequest, "This address is a WebSocket for live updates; open the page instead.", nil)
	}
	if !auth.CheckOrigin(r, h.publicURL) {
		return userError(http.StatusForbidden, "Live updates are only served to pages of this site (the Origin header does not match).", nil)
	}
	w, d, err := h.ownDeployment(c)
	if err != nil {
		return err
	}
	conn, err := liveUpgrader.Upgrade(c.Response(), r, nil)
	if err != nil {
		return nil // the upgrader has answered the handshake
	}
	defer conn.Close()
	if h.sockets != nil {
		h.sockets.Inc()
		defer h.sockets.Dec()
	}
	csrf := auth.CSRFToken(r.Context())
	run := h.deploys.live(d.ID)
	h.runLive(r.Context(), conn, &deployFeed{h: h, wf: w.ID, owner: d.OwnerID, id: d.ID, csrf: csrf, run: run, ended: run == nil})
	return nil
}

// deployFeed is the live feed of a deployment's page for runLive (the
// one writer loop): the panel first, then again at each progress event of
// its run, rendered from the journal.
type deployFeed struct {
	h             *Handler
	wf, owner, id int64
	csrf          string
	run           *liveRun
	sent, ended   bool
	seq           int
	changed       <-chan struct{}
}

// dueNow is an already-closed channel: the first message is due at once.
var dueNow = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (f *deployFeed) C() <-chan struct{} {
	switch {
	case !f.sent:
		return dueNow
	case f.ended:
		return nil // nothing more will come; stay until the page leaves
	}
	return f.changed
}

func (f *deployFeed) Ended() <-chan struct{} { return f.h.deploys.base.Done() }

func (f *deployFeed) next(ctx context.Context) (*LiveMessage, error) {
	if f.run != nil {
		f.seq, f.ended, f.changed = f.run.state()
	}
	f.sent = true
	d, err := f.h.deploys.journal.Get(ctx, f.owner, f.id)
	if err != nil {
		return nil, fmt.Errorf("live deployment %d: reading the journal: %w", f.id, err)
	}
	msg := &LiveMessage{Cursor: strconv.Itoa(f.seq), Ended: f.ended}
	v := &liveView{}
	if err := v.swap(ctx, msg, "deploy-progress", templates.DeployProgress(f.h.deploymentRecord(f.wf, d), f.csrf)); err != nil {
		return nil, err
	}
	return msg, nil
}

// RollbackDeployment handles "POST /workflows/:id/deployments/:dep/rollback":
// restore, in the background, the functions this deployment changed, and
// follow it on the deployment's page.
func (h *Handler) RollbackDeployment(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	w, d, err := h.ownDeployment(c)
	if err != nil {
		return err
	}
	if !h.deploymentRecord(w.ID, d).CanRollBack {
		return userError(http.StatusConflict, fmt.Sprintf("Deployment %d has nothing to roll back (it changed nothing, is still running, or was rolled back already).", d.ID), nil)
	}
	busy := func(err error) error {
		msg := "Another apply or rollback of this workflow is running; roll back when it has finished."
		if run := h.deploys.running(c.Request().Context(), d.OwnerID, d.Workflow); run != 0 {
			msg = fmt.Sprintf("Deployment %d of this workflow is running; roll back when it has finished.", run)
		}
		return userError(http.StatusConflict, msg, err)
	}
	if h.deploys.running(c.Request().Context(), d.OwnerID, d.Workflow) != 0 {
		return busy(deploy.ErrBusy)
	}
	err = h.deploys.rollback(h.withResolver(c.Request().Context(), u), d.OwnerID, d.ID)
	if errors.Is(err, deploy.ErrBusy) {
		return busy(err)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/workflows/%d/deployments/%d", w.ID, d.ID))
}

// deploymentsNewestFirst sorts a workflow's deployments for the history.
func deploymentsNewestFirst(ds []store.Deployment) {
	slices.SortFunc(ds, func(a, b store.Deployment) int {
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
}
