package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// ShowDeployments handles "GET /workflows/:id/deployments": where each
// version of the workflow is deployed, drift (loaded after the page, as
// it asks every cluster), and every deployment with its outcome per
// function.
func (h *Handler) ShowDeployments(c echo.Context) error {
	if h.deploys == nil {
		return errNoDeploy
	}
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	ds, err := h.deploys.journal.List(c.Request().Context(), owner, workflowKey(w.ID))
	if err != nil {
		return err
	}
	deploymentsNewestFirst(ds)
	p := templates.DeploymentsProps{
		Chrome: h.Chrome(c, "Deployments of "+w.Name, "/workflows"), WorkflowID: w.ID, Workflow: w.Name, Latest: w.Version,
		Notice: h.notice(c),
	}
	for _, pl := range deploy.Where(ds) {
		p.Placements = append(p.Placements, templates.DeployPlacementRow{Cluster: pl.Cluster, Version: pl.Version, Deployment: pl.Deployment,
			At: pl.At.UTC().Format("2006-01-02 15:04:05")})
	}
	for _, d := range ds {
		p.Deployments = append(p.Deployments, h.deploymentRecord(w.ID, d))
	}
	return Render(c, http.StatusOK, templates.DeploymentsPage(p))
}

// ShowDrift handles "GET /workflows/:id/deployments/drift": for each
// cluster the workflow is deployed to, its services compared with what
// the deployment that put them there applied.
func (h *Handler) ShowDrift(c echo.Context) error {
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
	ctx := c.Request().Context()
	ds, err := h.deploys.journal.List(ctx, owner, workflowKey(w.ID))
	if err != nil {
		return err
	}
	p := templates.DriftProps{WorkflowID: w.ID, CSRF: auth.CSRFToken(c.Request().Context())}
	rctx := h.withResolver(ctx, u)
	done := map[int64]bool{}
	for _, pl := range deploy.Where(ds) {
		if done[pl.Deployment] {
			continue
		}
		done[pl.Deployment] = true
		fds, err := h.deploys.engine.Drift(rctx, owner, pl.Deployment)
		if err != nil {
			p.Errors = append(p.Errors, fmt.Sprintf("Deployment %d could not be compared with every cluster: %s", pl.Deployment, h.describePlanError(err)))
		}
		for _, fd := range fds {
			if fd.State == "" {
				continue // its cluster did not answer (reported above)
			}
			row := templates.DriftRow{Deployment: pl.Deployment, Version: pl.Version, Cluster: fd.Cluster, FDLCluster: fd.FDLCluster, Name: fd.Name, State: fd.State}
			for _, ch := range fd.Changes {
				row.Changes = append(row.Changes, templates.DeployChange{Field: ch.Field, From: ch.From, To: ch.To})
			}
			p.Rows = append(p.Rows, row)
		}
	}
	slices.SortStableFunc(p.Rows, func(a, b templates.DriftRow) int { return strings.Compare(a.Cluster+"/"+a.Name, b.Cluster+"/"+b.Name) })
	return Render(c, http.StatusOK, templates.DriftPanel(p))
}

// AdoptDrift handles "POST /workflows/:id/deployments/:dep/adopt": the
// cluster's version of a drifted service (form: cluster, name) becomes
// the workflow's, field by field (deploy.Edit), saved as a new version.
// That version is then recorded as deployed when the clusters already
// have all of it; otherwise its plan is shown.
func (h *Handler) AdoptDrift(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	w, d, err := h.ownDeployment(c)
	if err != nil {
		return err
	}
	cluster, name := c.FormValue("cluster"), c.FormValue("name")
	ctx := c.Request().Context()
	rctx := h.withResolver(ctx, u)
	fds, err := h.deploys.engine.Drift(rctx, d.OwnerID, d.ID)
	i := slices.IndexFunc(fds, func(fd deploy.FunctionDrift) bool { return fd.Cluster == cluster && fd.Name == name })
	if i < 0 {
		if err != nil {
			return userError(http.StatusBadGateway, "The cluster could not be read: "+h.describePlanError(err), err)
		}
		return notFound(fmt.Sprintf("Deployment %d did not deploy %q to %q.", d.ID, name, cluster), nil)
	}
	fd := fds[i]
	if fd.State != deploy.DriftChanged || fd.Current == nil {
		return userError(http.StatusConflict, fmt.Sprintf("%s on %s has not drifted (it is %s): there is nothing to adopt.", name, cluster, fd.State), nil)
	}
	doc, err := fdl.Parse(fileBase(w.Name)+".yaml", []byte(w.YAML))
	if err != nil {
		return userError(http.StatusUnprocessableEntity, "The workflow is not a valid FDL: "+describeFDLError(err), err)
	}
	fns, err := deploy.Services(doc, nil)
	if err != nil {
		return userError(http.StatusUnprocessableEntity, "The workflow cannot be read: "+err.Error(), err)
	}
	at := slices.IndexFunc(fns, func(f deploy.Function) bool { return f.Service.Name == name && f.Cluster == fd.FDLCluster })
	if at < 0 {
		return userError(http.StatusConflict, fmt.Sprintf("The latest version of %q has no service %q for FDL cluster %q to take the cluster's version into; deploy it again instead.", w.Name, name, fd.FDLCluster), nil)
	}
	edited, err := deploy.Edit(doc, at, fd.Current)
	if err != nil {
		return userError(http.StatusUnprocessableEntity, fmt.Sprintf("The cluster's version of %s cannot be written into the workflow: %v", name, err), err)
	}
	v, err := h.workflows.Save(ctx, d.OwnerID, w.ID, w.Version, w.Name, string(edited.Bytes()), w.Positions, fmt.Sprintf("Adopted %s from cluster %s", name, fd.Cluster))
	if errors.Is(err, store.ErrConflict) {
		return userError(http.StatusConflict, "The workflow was saved elsewhere meanwhile; reload and adopt again.", err)
	}
	if err != nil {
		return err
	}
	// Record the new version as deployed when nothing else differs: the
	// clusters already run it, so the apply only writes the record.
	w.Version, w.YAML = v, string(edited.Bytes())
	src, err := h.deploySource(c, w, d.OwnerID, "")
	if err != nil {
		return err
	}
	p, problems, err := h.plan(c, u, src, nil)
	if err != nil {
		return err
	}
	if len(problems) == 0 && len(p.NeedsCluster) == 0 && !p.Changes() {
		if id, err := h.deploys.apply(rctx, p); err == nil {
			// It makes no backend call: let it end before the page shows it.
			h.deploys.wait(ctx, id, 5*time.Second)
			return h.redirectNotice(c, fmt.Sprintf("/workflows/%d/deployments", w.ID),
				fmt.Sprintf("Adopted %s from %s as version %d, which is now recorded as deployed.", name, cluster, v))
		}
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/workflows/%d/deploy?version=%d", w.ID, v))
}
