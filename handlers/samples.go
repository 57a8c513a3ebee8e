package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/examples"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
)

// samples are the workflows a newcomer can deploy with one click, by name:
// the FDL file inside examples.FS.
var samples = map[string]string{
	"wordcount": "wordcount/wordcount.yaml",
}

// sampleNames are the names sample workflows are saved under.
var sampleNames = map[string]string{
	"wordcount": "wordcount (local sample)",
}

// DeploySample handles "POST /samples/:name/deploy": it saves a sample
// workflow as a workflow of the user (once; the same one afterwards) and
// deploys it through the deploy engine to the chosen cluster (the local
// one by default), so that it has its deployment records and its
// monitor page like any workflow.
func (h *Handler) DeploySample(c echo.Context) error {
	name := c.Param("name")
	file, ok := samples[name]
	if !ok {
		return notFound(fmt.Sprintf("There is no sample workflow called %q.", name), nil)
	}
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	if h.deployRecords == nil || h.workflows == nil {
		return userError(http.StatusNotImplemented, "This server keeps no deployment records, so it cannot deploy the sample.", nil)
	}
	target := c.FormValue("cluster")
	if target == "" {
		target = localClusterName
	}
	ctx := c.Request().Context()
	cl, err := h.findCluster(ctx, u, target)
	if err != nil {
		return err
	}
	data, err := fs.ReadFile(examples.FS, file)
	if err != nil {
		return err
	}
	doc, err := fdl.Parse(path.Base(file), data)
	if err != nil {
		return err
	}
	scripts, err := fs.Sub(examples.FS, path.Dir(file))
	if err != nil {
		return err
	}
	w, err := h.sampleWorkflow(ctx, u.ID, sampleNames[name], doc, scripts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, backends.MutateTimeout)
	defer cancel()
	req := deploy.Request{OwnerID: u.ID, User: cmp.Or(u.Name, u.Email), Workflow: workflowKey(w.ID), Version: int64(w.Version),
		Doc: doc, Scripts: scripts, Clusters: map[string]string{}}
	for _, n := range doc.Graph().Nodes {
		if n.Kind == fdl.KindService {
			req.Clusters[n.Cluster] = cl.Name
		}
	}
	p, err := h.deploy.Plan(ctx, req)
	if err != nil {
		return err
	}
	res, err := h.deploy.Apply(ctx, p, nil)
	if err != nil && res == nil {
		return err
	}
	if err != nil {
		h.log.Warn("deploying the sample", "err", err)
	}
	var failed []string
	var names []string
	for _, f := range res.Functions {
		names = append(names, f.Name)
		if f.State == store.FunctionFailed {
			failed = append(failed, f.Name+": "+f.Message)
		}
	}
	if len(failed) > 0 {
		return userError(http.StatusBadGateway, fmt.Sprintf("The sample was not deployed to %s: %s", cl.Name, strings.Join(failed, "; ")), nil)
	}
	slices.Sort(names)
	return h.redirectNotice(c, "/services?cluster="+urlQueryEscape(cl.Name), fmt.Sprintf(
		"Deployed %s to %s as the workflow %q (its runs: Workflows, then Runs). Upload a text file to the bucket folder wordcount/in to start it.",
		strings.Join(names, " and "), cl.Name, w.Name))
}

// sampleWorkflow returns the user's workflow of a sample, saving it the
// first time.
func (h *Handler) sampleWorkflow(ctx context.Context, owner int64, name string, doc *fdl.Document, scripts fs.FS) (store.Workflow, error) {
	list, err := h.workflows.List(ctx, owner)
	if err != nil {
		return store.Workflow{}, err
	}
	for _, w := range list {
		if w.Name == name {
			return w, nil
		}
	}
	b, err := fdl.NewBundle(doc, scripts)
	if err != nil {
		return store.Workflow{}, err
	}
	files := map[string]string{}
	for p, s := range b.Scripts {
		files[p] = string(s)
	}
	pj, err := json.Marshal(positions{Nodes: canvasLayout(doc.Graph())})
	if err != nil {
		return store.Workflow{}, err
	}
	return h.workflows.Create(ctx, owner, name, string(doc.Bytes()), string(pj), files)
}
