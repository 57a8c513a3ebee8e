package handlers

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/fdl"
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
	}
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, int64(fdl.DefaultLimits().MaxBytes)*2)).Decode(&req); err != nil {
		return c.JSON(http.StatusBadRequest, editError{Error: "the request is not valid JSON: " + err.Error()})
	}
	doc, err := fdl.Parse(w.Name, []byte(req.YAML))
	if err != nil {
		return c.JSON(http.StatusUnprocessableEntity, editError{Error: "The YAML is not a valid FDL.", Diagnostics: asDiagnostics(err)})
	}
	p, ok := nodePanel(doc, req.Node)
	if !ok {
		return notFound("There is no such node in the workflow.", nil)
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
		p.Groups = nil
	case fdl.KindService:
		for _, e := range m.Oscar {
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
				}},
				{Legend: "Resources", Fields: []templates.PanelField{
					txt("cpu", "CPU", s.CPU, "e.g. 1.0 or 500m"),
					txt("memory", "Memory", s.Memory, "e.g. 1Gi or 512Mi"),
					txt("total_cpu", "Total CPU", s.TotalCPU, ""),
					txt("total_memory", "Total memory", s.TotalMemory, ""),
					check("enable_gpu", "Use a GPU", s.EnableGPU),
				}},
				{Legend: "Advanced", Fields: []templates.PanelField{
					txt("log_level", "Log level", s.LogLevel, "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
					txt("vo", "VO", s.VO, ""),
				}},
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
