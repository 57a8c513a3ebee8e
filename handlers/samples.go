package handlers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/examples"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// samples are the workflows a newcomer can deploy with one click, by name:
// the FDL file inside examples.FS.
var samples = map[string]string{
	"wordcount": "wordcount/wordcount.yaml",
}

// DeploySample handles "POST /samples/:name/deploy": it deploys a sample
// workflow's services to the chosen cluster (the local one by default),
// creating them or updating them when they exist.
func (h *Handler) DeploySample(c echo.Context) error {
	file, ok := samples[c.Param("name")]
	if !ok {
		return notFound(fmt.Sprintf("There is no sample workflow called %q.", c.Param("name")), nil)
	}
	u, err := currentUser(c)
	if err != nil {
		return err
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
	b, err := h.backendFor(ctx, cl)
	if err != nil {
		return err
	}
	svcs, err := fdlServices(examples.FS, file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, backends.MutateTimeout)
	defer cancel()
	var names []string
	for _, s := range svcs {
		err := b.CreateService(ctx, s)
		if errors.Is(err, backends.ErrConflict) {
			err = b.UpdateService(ctx, s)
		}
		if err != nil {
			return err
		}
		names = append(names, s.Name)
	}
	return c.Redirect(http.StatusSeeOther, "/services?cluster="+urlQueryEscape(cl.Name)+"&notice="+urlQueryEscape(fmt.Sprintf(
		"Deployed %s to %s. Upload a text file to the bucket folder wordcount/in to start it.", strings.Join(names, " and "), cl.Name)))
}

// fdlServices reads an FDL file from fsys and returns its OSCAR services
// ready to deploy (deploy.Services: top-level storage providers and
// clusters merged in, scripts given as paths read from beside the file).
// The file must validate without errors.
func fdlServices(fsys fs.FS, file string) ([]*backends.Service, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	doc, err := fdl.Parse(file, data)
	if err != nil {
		return nil, err
	}
	dir, err := fs.Sub(fsys, path.Dir(file))
	if err != nil {
		return nil, err
	}
	for _, d := range doc.Validate(fdl.ValidateOptions{Scripts: dir, RequireScripts: true}) {
		if d.Severity == fdl.Error {
			return nil, fmt.Errorf("%s: %s", file, d.String())
		}
	}
	fns, err := deploy.Services(doc, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := make([]*backends.Service, len(fns))
	for i, f := range fns {
		out[i] = f.Service
	}
	return out, nil
}
