package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

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
		return store.Workflow{}, store.Deployment{}, userError(http.StatusNotImplemented, "Deploying is not enabled on this server.", nil)
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
	h.runDeployLive(r.Context(), conn, w.ID, d.OwnerID, d.ID, csrf)
	return nil
}

// runDeployLive writes the deployment's panel at each event of its run;
// a reader goroutine answers pings and notices the client leaving.
func (h *Handler) runDeployLive(ctx context.Context, conn *websocket.Conn, wf, owner, id int64, csrf string) {
	conn.SetReadLimit(liveReadLimit)
	conn.SetReadDeadline(time.Now().Add(livePongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(livePongWait)) })
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(livePingPeriod)
	defer ping.Stop()
	expire := time.NewTimer(h.liveMaxAge)
	defer expire.Stop()
	run := h.deploys.live(id)
	var changed <-chan struct{}
	seq, ended := 0, run == nil
	if run != nil {
		seq, ended, changed = run.state()
	}
	send := func() bool {
		d, err := h.deploys.journal.Get(ctx, owner, id)
		if err != nil {
			h.log.Error("live deployment: reading the journal", "deployment", id, "err", err)
			return false
		}
		msg := &LiveMessage{Cursor: strconv.Itoa(seq), Ended: ended}
		v := &liveView{}
		if err := v.swap(ctx, msg, "deploy-progress", templates.DeployProgress(h.deploymentRecord(wf, d), csrf)); err != nil {
			h.log.Error("live deployment: rendering", "err", err)
			return false
		}
		conn.SetWriteDeadline(time.Now().Add(liveWriteWait))
		return conn.WriteJSON(msg) == nil
	}
	if !send() {
		return
	}
	for {
		if ended {
			changed = nil // nothing more will come; stay until the page leaves
		}
		select {
		case <-gone:
			return
		case <-h.deploys.base.Done():
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
			return
		case <-expire.C:
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseServiceRestart, "reconnect"), time.Now().Add(time.Second))
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(liveWriteWait)); err != nil {
				return
			}
		case <-changed:
			seq, ended, changed = run.state()
			if !send() {
				return
			}
		}
	}
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
