package handlers

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/handlers/serviceform"
	"github.com/fdlstudio/fdlstudio/templates"
)

// ShowNodePanel handles "POST /workflows/:id/panel": the side panel of
// one node of the composer's current text, with every field in the groups
// of the service form. Each field's name is its fdl field path, which the
// composer sends back in a "set" edit.
func (h *Handler) ShowNodePanel(c echo.Context) error {
	w, _, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	var req struct {
		YAML string `json:"yaml"`
		Node string `json:"node"`
		Held string `json:"held"`
		// Form and Op: a row button of the service form's groups
		// ("add:environment.variables"), with the groups as posted.
		Form string `json:"form"`
		Op   string `json:"op"`
	}
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, int64(fdl.DefaultLimits().MaxBytes)*2)).Decode(&req); err != nil {
		return c.JSON(http.StatusBadRequest, editError{Error: "the request is not valid JSON: " + err.Error()})
	}
	text := withCredentials(w.Name, req.YAML, h.openHeld(req.Held, w.OwnerID, w.ID))
	doc, err := fdl.Parse(w.Name, []byte(text))
	if err != nil {
		return c.JSON(http.StatusUnprocessableEntity, editError{Error: "The YAML is not a valid FDL.", Diagnostics: asDiagnostics(err)})
	}
	p, ok := nodePanel(doc, req.Node)
	if !ok {
		return notFound("There is no such node in the workflow.", nil)
	}
	if req.Op != "" && p.Service != nil {
		vals, err := url.ParseQuery(req.Form)
		if err != nil {
			return c.JSON(http.StatusBadRequest, editError{Error: "the form is not URL-encoded: " + err.Error()})
		}
		f, focus, ok := serviceform.RowOp(serviceform.Overlay(p.Service.Form, vals), req.Op)
		if !ok {
			return c.JSON(http.StatusBadRequest, editError{Error: fmt.Sprintf("unknown row operation %q", req.Op)})
		}
		p.Service.Form, p.Service.Focus = panelSecrets(f), focus
	}
	return Render(c, http.StatusOK, templates.NodePanel(p))
}

func nodePanel(doc *fdl.Document, id string) (templates.NodePanelProps, bool) {
	g := doc.Graph()
	var node *fdl.Node
	for i := range g.Nodes {
		if g.Nodes[i].ID == id {
			node = &g.Nodes[i]
		}
	}
	if node == nil {
		return templates.NodePanelProps{}, false
	}
	p := templates.NodePanelProps{Node: id}
	for _, e := range g.Edges {
		if e.From == id || e.To == id {
			p.Links = append(p.Links, e.Role+": "+e.From+" → "+e.To)
		}
	}
	txt := func(key, label, value, hint string) templates.PanelField {
		return templates.PanelField{Key: key, Label: label, Value: value, Kind: "text", Hint: hint}
	}
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	check := func(key, label string, v bool) templates.PanelField {
		return templates.PanelField{Key: key, Label: label, Value: strconv.FormatBool(v), Kind: "check"}
	}
	m := doc.Model()
	switch node.Kind {
	case fdl.KindStorage:
		p.Title = "Storage " + node.Provider + ":" + node.Path
		p.Groups = storageCredentialGroup(doc, node.Provider)
	case fdl.KindService:
		for i, e := range m.Oscar {
			if e.Path != node.YAMLPath {
				continue
			}
			s := e.Service
			p.Title = "OSCAR service " + s.Name + " (cluster " + e.Cluster + ")"
			p.Groups = []templates.PanelGroup{
				{Legend: "Basics", Fields: []templates.PanelField{
					txt("name", "Name", s.Name, "Up to 39 lowercase letters, digits and dashes."),
					txt("image", "Container image", s.Image, ""),
					{Key: "script", Label: "Script", Value: s.Script, Kind: "textarea"},
					txt("log_level", "Log level", s.LogLevel, "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
				}},
				{Legend: "Resources", Fields: []templates.PanelField{
					txt("cpu", "CPU", s.CPU, "e.g. 1.0 or 500m"),
					txt("memory", "Memory", s.Memory, "e.g. 1Gi or 512Mi"),
					txt("total_cpu", "Total CPU", s.TotalCPU, ""),
					txt("total_memory", "Total memory", s.TotalMemory, ""),
					check("enable_gpu", "Use a GPU", s.EnableGPU),
				}},
				{Legend: "Visibility", Fields: []templates.PanelField{
					txt("vo", "VO", s.VO, "virtual organisation, for OIDC clusters"),
				}},
			}
			if f, ok := panelServiceForm(doc, i); ok {
				p.Service = &templates.ServiceFormProps{Form: f, Providers: serviceform.Providers(f)}
			}
		}
	case fdl.KindFunction:
		for _, e := range m.AWS {
			if e.Path+".lambda" != node.YAMLPath || e.Lambda == nil {
				continue
			}
			l := e.Lambda
			img := ""
			if l.Container != nil {
				img = l.Container.Image
			}
			p.Title = "AWS Lambda function " + l.Name
			b := fdl.Batch{}
			if e.Batch != nil {
				b = *e.Batch
			}
			p.Groups = []templates.PanelGroup{
				{Legend: "Basics", Fields: []templates.PanelField{
					txt("name", "Name", l.Name, ""),
					txt("container.image", "Container image", img, ""),
					{Key: "init_script", Label: "Script", Value: l.InitScript, Kind: "textarea"},
				}},
				{Legend: "Resources", Fields: []templates.PanelField{
					txt("region", "Region", l.Region, "e.g. us-east-1"),
					txt("memory", "Memory (MB)", num(l.Memory), ""),
					txt("timeout", "Timeout (s)", num(l.Timeout), ""),
					txt("execution_mode", "Execution mode", l.ExecutionMode, "lambda, batch or lambda-batch"),
				}},
				{Legend: "Batch", Fields: []templates.PanelField{
					txt("batch.vcpus", "vCPUs", num(b.VCPUs), ""),
					txt("batch.memory", "Memory (MB)", num(b.Memory), ""),
					check("batch.enable_gpu", "Use a GPU", b.EnableGPU),
				}},
			}
		}
	}
	return p, true
}

// panelServiceForm is the service form of functions.oscar entry i of doc,
// read through the one FDL-to-service mapping (deploy.Services), as the
// side panel shows it: no secret value.
func panelServiceForm(doc *fdl.Document, i int) (templates.ServiceForm, bool) {
	fns, err := deploy.Services(doc, nil)
	if err != nil || i >= len(fns) {
		return templates.ServiceForm{}, false
	}
	return panelSecrets(serviceform.FromService(fns[i].Cluster, fns[i].Service)), true
}

// panelSecrets blanks every secret value of f: one that has a value is
// shown as stored, which a blank value keeps.
func panelSecrets(f templates.ServiceForm) templates.ServiceForm {
	out := make([]templates.ServiceFormSecret, len(f.Secrets))
	for i, s := range f.Secrets {
		out[i] = templates.ServiceFormSecret{Key: s.Key, Stored: s.Stored || s.Value != ""}
	}
	f.Secrets = out
	return f
}

// applyServiceForm is the "service-form" edit: the groups of the service
// form the side panel shows (environment, exposure, advanced), posted as
// form values, written into the service of node r through the service
// form's model (serviceform) and the one FDL mapping (deploy.Edit), then
// each secret value typed (deploy.Edit writes none). A secret left blank
// keeps the value the document holds; one with neither a value nor a
// stored one is not written until it has a value.
func applyServiceForm(doc *fdl.Document, r fdl.Ref, form string) (*fdl.Document, error) {
	vals, err := url.ParseQuery(form)
	if err != nil {
		return nil, fmt.Errorf("the form is not URL-encoded: %v", err)
	}
	path, backend, err := doc.FunctionPath(r)
	if err != nil {
		return nil, err
	}
	if backend != "oscar" {
		return nil, fmt.Errorf("%s is not an OSCAR service", r.Name)
	}
	i := slices.IndexFunc(doc.Model().Oscar, func(e *fdl.OscarEntry) bool { return e.Path == path })
	fns, err := deploy.Services(doc, nil)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(fns) {
		return nil, fmt.Errorf("there is no service %q in the workflow", r.Name)
	}
	held := fns[i].Service
	f := serviceform.Overlay(serviceform.FromService(fns[i].Cluster, held), vals)
	var secrets []templates.ServiceFormSecret
	for _, s := range f.Secrets {
		if s.Value == "" && held.Environment != nil {
			if v, ok := held.Environment.Secrets[s.Key]; ok && s.Key != "" {
				s.Value = v
			}
		}
		if s.Value == "" && s.Key != "" {
			continue // named, no value yet
		}
		secrets = append(secrets, s)
	}
	f.Secrets = secrets
	svc, errs := serviceform.ToService(f, false)
	for _, k := range []string{"name", "image", "script", "cluster"} {
		delete(errs, k) // fields of the other groups, set one by one
	}
	if len(errs) > 0 {
		keys := slices.Sorted(maps.Keys(errs))
		return nil, fmt.Errorf("%s: %s", keys[0], errs[keys[0]])
	}
	// Only the panel's groups change; the rest stays as the file has it
	// (the form would normalise it, e.g. the script's last line end).
	to := *held
	to.Environment, to.Expose, to.Annotations, to.Labels = svc.Environment, svc.Expose, svc.Annotations, svc.Labels
	to.ImagePullSecrets, to.Mount, to.Volume = svc.ImagePullSecrets, svc.Mount, svc.Volume
	to.FileStageIn, to.InterlinkNodeName = svc.FileStageIn, svc.InterlinkNodeName
	nd, err := deploy.Edit(doc, i, &to)
	if err != nil {
		return nil, err
	}
	if svc.Environment != nil {
		base := fns[i].Path
		for _, k := range slices.Sorted(maps.Keys(svc.Environment.Secrets)) {
			v := svc.Environment.Secrets[k]
			if held.Environment != nil && held.Environment.Secrets[k] == v {
				continue
			}
			q, _ := json.Marshal(v)
			if nd, err = nd.SetPath(base, []string{"environment", "secrets", k}, string(q)); err != nil {
				return nil, err
			}
		}
	}
	return nd, nil
}

// storageCredentialGroup is the credentials of a storage provider
// ("minio.store"), as the top-level storage_providers writes them: never
// their values; a field that has one says so.
func storageCredentialGroup(doc *fdl.Document, provider string) []templates.PanelGroup {
	typ, id := fdl.ParseProvider(provider)
	keys := backends.CredentialKeys(typ)
	if len(keys) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, c := range deploy.DocumentCredentials(doc) {
		if c.Base == "" && len(c.Segs) == 4 && c.Segs[0] == "storage_providers" && c.Segs[1] == typ && c.Segs[2] == id {
			set[c.Segs[3]] = c.Value != ""
		}
	}
	g := templates.PanelGroup{Legend: "Storage credentials (" + typ + "." + id + ")"}
	for _, k := range keys {
		hint := "not set"
		if set[k] {
			hint = "stored; leave empty to keep"
		}
		g.Fields = append(g.Fields, templates.PanelField{Key: k, Label: k, Kind: "secret", Hint: hint})
	}
	return []templates.PanelGroup{g}
}

// applyProviderCredential is the "provider" edit: one credential of a
// top-level storage provider. A blank value changes nothing (the stored
// one stays).
func applyProviderCredential(doc *fdl.Document, provider, field, value string) (*fdl.Document, error) {
	typ, id := fdl.ParseProvider(provider)
	if !slices.Contains(backends.CredentialKeys(typ), field) {
		return nil, fmt.Errorf("%q is not a credential of a %s provider", field, typ)
	}
	if value == "" {
		return doc, nil
	}
	q, _ := json.Marshal(value)
	return doc.SetPath("", []string{"storage_providers", typ, id, field}, string(q))
}
