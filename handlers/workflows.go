package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/examples"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// workflowRepo keeps users' workflows with their versions and drafts
// (store/sqlite.Workflows).
type workflowRepo interface {
	List(ctx context.Context, ownerID int64) ([]store.Workflow, error)
	Get(ctx context.Context, ownerID, id int64) (store.Workflow, error)
	Create(ctx context.Context, ownerID int64, name, yaml, positions string, scripts map[string]string) (store.Workflow, error)
	Save(ctx context.Context, ownerID, id int64, base int, name, yaml, positions, message string) (int, error)
	SaveDraft(ctx context.Context, ownerID, id int64, base int, yaml, positions string) error
	// VersionList lists the versions without their text; Version reads
	// one with its text.
	VersionList(ctx context.Context, ownerID, id int64) ([]store.WorkflowVersionInfo, error)
	Version(ctx context.Context, ownerID, id int64, version int) (store.WorkflowVersion, error)
	Delete(ctx context.Context, ownerID, id int64) error
}

// emptyWorkflow is the FDL of a new, blank workflow.
const emptyWorkflow = "functions:\n  oscar: []\n"

// galleryEntry is a starting point offered on the workflows page.
type galleryEntry struct {
	fsys    fs.FS
	file    string // the FDL inside fsys
	scripts bool   // scripts live beside the FDL in fsys
}

// gallery lists the starting points by name: the reference examples that
// fdl is tested against and the local sample workflow.
func gallery() map[string]galleryEntry {
	out := map[string]galleryEntry{"wordcount (local sample)": {fsys: examples.FS, file: samples["wordcount"], scripts: true}}
	names, _ := fs.Glob(fdl.Examples, "*.yaml")
	for _, n := range names {
		out[strings.TrimSuffix(n, ".yaml")] = galleryEntry{fsys: fdl.Examples, file: n}
	}
	return out
}

func galleryNames() []string {
	g := gallery()
	names := make([]string, 0, len(g))
	for n := range g {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ShowWorkflows handles "GET /workflows": the user's workflows and the
// ways to start a new one.
func (h *Handler) ShowWorkflows(c echo.Context) error {
	return h.renderWorkflows(c, http.StatusOK, templates.WorkflowNewForm{})
}

func (h *Handler) renderWorkflows(c echo.Context, status int, form templates.WorkflowNewForm) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	list, err := h.workflows.List(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	rows := make([]templates.WorkflowRow, len(list))
	for i, w := range list {
		rows[i] = templates.WorkflowRow{ID: w.ID, Name: w.Name, Version: w.Version, Updated: w.UpdatedAt.UTC().Format("2006-01-02 15:04"), Draft: w.Draft != ""}
	}
	return Render(c, status, templates.WorkflowsPage(templates.WorkflowsProps{
		Chrome: h.Chrome(c, "Workflows", "/workflows"), Workflows: rows, Gallery: galleryNames(), Form: form,
	}))
}

// CreateWorkflow handles "POST /workflows": a new workflow, blank, from
// the gallery, or imported from an FDL file, a zip bundle or pasted text.
// Input that is not an FDL is refused with fdl's message and position.
func (h *Handler) CreateWorkflow(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	form := templates.WorkflowNewForm{Name: strings.TrimSpace(c.FormValue("name")), Source: c.FormValue("source"), Paste: c.FormValue("paste"), Gallery: c.FormValue("gallery")}
	refuse := func(msg string) error {
		form.Error = msg
		return h.renderWorkflows(c, http.StatusUnprocessableEntity, form)
	}
	var data []byte
	fileName := "workflow.yaml"
	scripts := map[string]string{}
	switch form.Source {
	case "", "empty":
		data = []byte(emptyWorkflow)
	case "gallery":
		g, ok := gallery()[form.Gallery]
		if !ok {
			return refuse(fmt.Sprintf("There is no starting point called %q.", form.Gallery))
		}
		if data, err = fs.ReadFile(g.fsys, g.file); err != nil {
			return err
		}
		fileName = path.Base(g.file)
		if g.scripts {
			doc, err := fdl.Parse(fileName, data)
			if err != nil {
				return err
			}
			b, err := fdl.NewBundle(doc, subFS(g.fsys, path.Dir(g.file)))
			if err != nil {
				return err
			}
			for p, s := range b.Scripts {
				scripts[p] = string(s)
			}
		}
		if form.Name == "" {
			form.Name = form.Gallery
		}
	case "paste":
		// Browsers send a textarea's line breaks as CRLF; the text was
		// typed or pasted with the user's own, which a file would keep.
		data = []byte(strings.ReplaceAll(form.Paste, "\r\n", "\n"))
		if strings.TrimSpace(form.Paste) == "" {
			return refuse("Paste the FDL text into the box first.")
		}
	case "file":
		fh, err := c.FormFile("file")
		if err != nil {
			return refuse("Choose an FDL file (.yaml) or a zip bundle to import.")
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(io.LimitReader(f, int64(fdl.DefaultLimits().MaxBytes)*8+1))
		f.Close()
		if err != nil {
			return err
		}
		fileName = path.Base(fh.Filename)
		if bytes.HasPrefix(raw, []byte("PK\x03\x04")) {
			b, err := fdl.ReadBundle(raw)
			if err != nil {
				return refuse(fmt.Sprintf("%s: %v", fh.Filename, err))
			}
			data, fileName = b.FDL, b.Name
			for p, s := range b.Scripts {
				scripts[p] = string(s)
			}
		} else {
			data = raw
		}
		if form.Name == "" {
			form.Name = strings.TrimSuffix(strings.TrimSuffix(fileName, ".yaml"), ".yml")
		}
	default:
		return refuse("Choose how to start the workflow.")
	}
	name := form.Name // the form keeps what the user typed, should it come back
	if name == "" {
		name = "Untitled workflow"
	}
	// Parsed under the workflow's name, as the composer parses it: the
	// composer page it redirects to finds this parse in the cache.
	doc, err := parseCached(name, string(data))
	if err != nil {
		return refuse(describeFDLError(err))
	}
	pos := positions{Nodes: canvasLayout(doc.Graph())}
	pj, _ := json.Marshal(pos)
	w, err := h.workflows.Create(c.Request().Context(), u.ID, name, string(doc.Bytes()), string(pj), scripts)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/workflows/%d", w.ID))
}

func subFS(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		return f
	}
	return s
}

// describeFDLError turns fdl's refusal into lines for the user.
func describeFDLError(err error) string {
	var ds fdl.Diagnostics
	if errors.As(err, &ds) {
		parts := make([]string, len(ds))
		for i, d := range ds {
			parts[i] = fmt.Sprintf("line %d, column %d: %s", d.Line, d.Col, d.Message)
		}
		return strings.Join(parts, "\n")
	}
	return err.Error()
}

// positions is where the canvas draws nodes, kept beside the FDL. Loose
// storage nodes are locations put on the canvas that no function uses yet
// (an FDL has no place for them).
type positions struct {
	Nodes map[string]fdl.Point `json:"nodes"`
	Loose []looseStorage       `json:"loose,omitempty"`
}

type looseStorage struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Path     string `json:"path"`
}

func (h *Handler) ownWorkflow(c echo.Context) (store.Workflow, int64, error) {
	u, err := currentUser(c)
	if err != nil {
		return store.Workflow{}, 0, err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return store.Workflow{}, 0, notFound("There is no such workflow.", nil)
	}
	w, err := h.workflows.Get(c.Request().Context(), u.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return w, 0, notFound("There is no such workflow.", err)
	}
	return w, u.ID, err
}

// ShowComposer handles "GET /workflows/:id": the composer, opened on the
// draft when there is one.
func (h *Handler) ShowComposer(c echo.Context) error {
	w, _, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	text, pj, base := w.YAML, w.Positions, w.Version
	if w.Draft != "" {
		text, pj, base = w.Draft, w.DraftPositions, w.DraftBase
	}
	st, err := composerState(w.Name, []byte(text), pj)
	if err != nil {
		// A stored draft always parsed when it was written; fall back to
		// the saved version rather than fail.
		st, err = composerState(w.Name, []byte(w.YAML), w.Positions)
		if err != nil {
			return err
		}
	}
	st.Version = base
	st.Draft = w.Draft != ""
	h.redactState(st, heldCredentials{}, w.OwnerID, w.ID)
	vs, err := h.workflows.VersionList(c.Request().Context(), w.OwnerID, w.ID)
	if err != nil {
		return err
	}
	rows := make([]templates.WorkflowVersionRow, len(vs))
	for i, v := range vs {
		rows[i] = templates.WorkflowVersionRow{Version: v.Version, Saved: v.CreatedAt.UTC().Format("2006-01-02 15:04:05")}
	}
	return Render(c, http.StatusOK, templates.ComposerPage(templates.ComposerProps{
		Chrome: h.Chrome(c, w.Name, "/workflows"), ID: w.ID, Name: w.Name, Version: base, YAML: st.YAML,
		State: st, Versions: rows, Draft: w.Draft != "", Table: functionTable(st),
	}))
}

// state is what the composer draws: the FDL text, the graph with each
// node's card, the positions and the diagnostics.
type state struct {
	Name        string          `json:"name"`
	Version     int             `json:"version"`
	Draft       bool            `json:"draft,omitempty"`
	YAML        string          `json:"yaml"`
	Nodes       []stateNode     `json:"nodes"`
	Edges       []fdl.Edge      `json:"edges"`
	Positions   positions       `json:"positions"`
	Diagnostics fdl.Diagnostics `json:"diagnostics"`
	// Held is the credentials blanked in YAML, sealed (workflows_secrets.go).
	Held string `json:"held,omitempty"`
}

type stateNode struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Backend  string `json:"backend,omitempty"`
	Name     string `json:"name,omitempty"`
	Cluster  string `json:"cluster,omitempty"`
	Provider string `json:"provider,omitempty"`
	Path     string `json:"path,omitempty"`
	Image    string `json:"image,omitempty"`
	CPU      string `json:"cpu,omitempty"`
	Memory   string `json:"memory,omitempty"`
	Loose    bool   `json:"loose,omitempty"`
	HTML     string `json:"html"`
	Errors   int    `json:"errors"`
	Warnings int    `json:"warnings"`
}

// composerState parses text and derives everything the canvas shows.
func composerState(name string, text []byte, pj string) (*state, error) {
	doc, err := parseCached(name, string(text))
	if err != nil {
		return nil, err
	}
	var pos positions
	if pj != "" {
		_ = json.Unmarshal([]byte(pj), &pos) // positions are advisory; bad ones are re-laid out
	}
	return stateOf(doc, pos), nil
}

func stateOf(doc *fdl.Document, pos positions) *state {
	g := doc.Graph()
	diags := append(doc.Validate(fdl.ValidateOptions{}), g.Warnings...)
	if pos.Nodes == nil {
		pos.Nodes = map[string]fdl.Point{}
	}
	var missing bool
	for _, n := range g.Nodes {
		if _, ok := pos.Nodes[n.ID]; !ok {
			missing = true
		}
	}
	if missing && len(pos.Nodes) == 0 {
		pos.Nodes = canvasLayout(g)
	} else if missing {
		// New nodes go in a row below the drawing, so nothing overlaps.
		bottom := 0.0
		for _, p := range pos.Nodes {
			bottom = max(bottom, p.Y+canvasRowHeight)
		}
		i := 0
		for _, n := range g.Nodes {
			if _, ok := pos.Nodes[n.ID]; !ok {
				pos.Nodes[n.ID] = fdl.Point{X: float64(i) * canvasColumnWidth, Y: bottom}
				i++
			}
		}
	}
	// Drop positions of nodes that are gone; keep loose storage that is
	// still unused.
	live := map[string]bool{}
	for _, n := range g.Nodes {
		live[n.ID] = true
	}
	var loose []looseStorage
	for _, l := range pos.Loose {
		if !live[l.ID] {
			loose = append(loose, l)
			live[l.ID] = true
		}
	}
	pos.Loose = loose
	for id := range pos.Nodes {
		if !live[id] {
			delete(pos.Nodes, id)
		}
	}
	st := &state{Name: doc.Name(), YAML: string(doc.Bytes()), Edges: g.Edges, Positions: pos, Diagnostics: diags}
	if st.Diagnostics == nil {
		st.Diagnostics = fdl.Diagnostics{}
	}
	m := doc.Model()
	oscar := make(map[string]*fdl.OscarEntry, len(m.Oscar))
	for _, e := range m.Oscar {
		oscar[e.Path] = e
	}
	aws := make(map[string]*fdl.AWSEntry, len(m.AWS))
	for _, e := range m.AWS {
		aws[e.Path+".lambda"] = e
	}
	for _, n := range g.Nodes {
		card := templates.WorkflowCard{ID: n.ID, Kind: n.Kind, Backend: n.Backend, Name: n.Name, Provider: n.Provider, Path: n.Path}
		sn := stateNode{ID: n.ID, Kind: n.Kind, Backend: n.Backend, Name: n.Name, Cluster: n.Cluster, Provider: n.Provider, Path: n.Path}
		switch n.Kind {
		case fdl.KindService:
			if e := oscar[n.YAMLPath]; e != nil {
				card.Image, card.CPU, card.Memory, card.Place = e.Service.Image, e.Service.CPU, e.Service.Memory, "cluster "+e.Cluster
			}
		case fdl.KindFunction:
			if e := aws[n.YAMLPath]; e != nil && e.Lambda != nil {
				if e.Lambda.Container != nil {
					card.Image = e.Lambda.Container.Image
				}
				if e.Lambda.Memory > 0 {
					card.Memory = strconv.Itoa(e.Lambda.Memory) + " MB"
				}
				card.Place = "region " + orDefault(e.Lambda.Region, "us-east-1")
				if e.Batch != nil || e.Lambda.ExecutionMode == "batch" || e.Lambda.ExecutionMode == "lambda-batch" {
					card.Place += " · " + orDefault(e.Lambda.ExecutionMode, "lambda") + " mode"
				}
			}
		}
		if n.YAMLPath != "" {
			prefix := n.YAMLPath
			if n.Kind == fdl.KindFunction {
				prefix = strings.TrimSuffix(prefix, ".lambda")
			}
			for _, d := range diags {
				if d.Path == prefix || strings.HasPrefix(d.Path, prefix+".") || strings.HasPrefix(d.Path, prefix+"[") {
					if d.Severity == fdl.Error {
						card.Errors++
					} else {
						card.Warnings++
					}
					card.Messages = append(card.Messages, fmt.Sprintf("line %d: %s", d.Line, d.Message))
				}
			}
		}
		sn.Errors, sn.Warnings = card.Errors, card.Warnings
		if n.Kind == fdl.KindService {
			sn.Image, sn.CPU, sn.Memory = card.Image, card.CPU, card.Memory
		}
		sn.HTML = cardHTML(card)
		st.Nodes = append(st.Nodes, sn)
	}
	for _, l := range pos.Loose {
		typ, _ := fdl.ParseProvider(l.Provider)
		card := templates.WorkflowCard{ID: l.ID, Kind: fdl.KindStorage, Provider: l.Provider, Path: l.Path, Place: "not connected yet: not in the FDL", Backend: typ}
		st.Nodes = append(st.Nodes, stateNode{ID: l.ID, Kind: fdl.KindStorage, Provider: l.Provider, Path: l.Path, Loose: true, HTML: cardHTML(card)})
	}
	if st.Nodes == nil {
		st.Nodes = []stateNode{}
	}
	return st
}

// cards remembers rendered node cards by their content: an edit changes
// one or two cards of a workflow, and the others are not rendered again.
var cards = struct {
	sync.Mutex
	html map[string]string
}{html: map[string]string{}}

// cardsCacheSize bounds the remembered cards (a few 200-function
// workflows); when full, the cache starts again.
const cardsCacheSize = 2048

// cardHTML is the rendered WorkflowNodeCard of c.
func cardHTML(c templates.WorkflowCard) string {
	var k strings.Builder
	for _, f := range []string{c.ID, c.Kind, c.Backend, c.Name, c.Image, c.CPU, c.Memory, c.Place, c.Provider, c.Path, strconv.Itoa(c.Errors), strconv.Itoa(c.Warnings)} {
		k.WriteString(f)
		k.WriteByte(0)
	}
	for _, m := range c.Messages {
		k.WriteString(m)
		k.WriteByte(1)
	}
	key := k.String()
	cards.Lock()
	html, ok := cards.html[key]
	cards.Unlock()
	if ok {
		return html
	}
	html = renderString(templates.WorkflowNodeCard(c))
	cards.Lock()
	if len(cards.html) >= cardsCacheSize {
		clear(cards.html)
	}
	cards.html[key] = html
	cards.Unlock()
	return html
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func functionTable(st *state) []templates.WorkflowTableRow {
	names := map[string]string{}
	for _, n := range st.Nodes {
		if n.Kind == fdl.KindStorage {
			names[n.ID] = n.Provider + ":" + n.Path
		}
	}
	var rows []templates.WorkflowTableRow
	for _, n := range st.Nodes {
		if n.Kind == fdl.KindStorage {
			continue
		}
		r := templates.WorkflowTableRow{ID: n.ID, Name: n.Name, Backend: n.Backend}
		for _, e := range st.Edges {
			if e.To == n.ID && e.Role == "input" {
				r.Inputs = append(r.Inputs, names[e.From])
			}
			if e.From == n.ID && e.Role == "output" {
				r.Outputs = append(r.Outputs, names[e.To])
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// editRequest is one edit from the composer: the text it applies to (the
// composer's current state, so each tab edits its own), the positions, and
// the operation.
type editRequest struct {
	YAML      string    `json:"yaml"`
	Base      int       `json:"base"`
	Positions positions `json:"positions"`
	Op        editOp    `json:"op"`
	// Held is the sealed credentials of the last answer.
	Held string `json:"held,omitempty"`
}

type editOp struct {
	Kind string `json:"kind"`
	// add-function
	Backend string  `json:"backend,omitempty"`
	Cluster string  `json:"cluster,omitempty"`
	Name    string  `json:"name,omitempty"`
	Image   string  `json:"image,omitempty"`
	CPU     string  `json:"cpu,omitempty"`
	Memory  string  `json:"memory,omitempty"`
	Region  string  `json:"region,omitempty"`
	X       float64 `json:"x,omitempty"`
	Y       float64 `json:"y,omitempty"`
	// add-storage, connect: the storage location; connect: the function
	// node and the role.
	Provider string `json:"provider,omitempty"`
	Path     string `json:"path,omitempty"`
	Node     string `json:"node,omitempty"`
	Storage  string `json:"storage,omitempty"`
	Role     string `json:"role,omitempty"`
	// remove: node ids and edge YAML paths; set: field and value.
	Nodes []string `json:"nodes,omitempty"`
	Edges []string `json:"edges,omitempty"`
	Field string   `json:"field,omitempty"`
	Value *string  `json:"value,omitempty"`
	// yaml: the replacement text.
	Text string `json:"text,omitempty"`
	// service-form: the side panel's service form groups, URL-encoded.
	Form string `json:"form,omitempty"`
}

// editError is the answer to an edit that was not applied.
type editError struct {
	Error       string          `json:"error"`
	Diagnostics fdl.Diagnostics `json:"diagnostics,omitempty"`
}

// EditWorkflow handles "POST /workflows/:id/edit": it applies one edit
// through fdl (a minimal change of the text), autosaves the result as the
// draft, and answers with the new state. An edit that fails, or text that
// does not parse, is not applied: the answer is 422 with the reason.
func (h *Handler) EditWorkflow(c echo.Context) error {
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	var req editRequest
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, int64(fdl.DefaultLimits().MaxBytes)*2)).Decode(&req); err != nil {
		return c.JSON(http.StatusBadRequest, editError{Error: "the edit is not valid JSON: " + err.Error()})
	}
	held := h.openHeld(req.Held, owner, w.ID)
	req.YAML = withCredentials(w.Name, req.YAML, held)
	if req.Op.Kind == "yaml" || req.Op.Kind == "restore" {
		req.Op.Text = withCredentials(w.Name, req.Op.Text, held)
	}
	st, err := applyEdit(w.Name, req)
	if err != nil {
		var ds fdl.Diagnostics
		if errors.As(err, &ds) {
			return c.JSON(http.StatusUnprocessableEntity, editError{Error: "The YAML was not applied: it is not a valid FDL.", Diagnostics: ds})
		}
		return c.JSON(http.StatusUnprocessableEntity, editError{Error: err.Error()})
	}
	pj, _ := json.Marshal(st.Positions)
	if err := h.workflows.SaveDraft(c.Request().Context(), owner, w.ID, req.Base, st.YAML, string(pj)); err != nil {
		return err
	}
	st.Version = req.Base
	st.Draft = true
	h.redactState(st, held, owner, w.ID)
	return c.JSON(http.StatusOK, st)
}

// parsed remembers the last documents the composer produced: the next
// edit names the text of the previous answer, which then needs no second
// parse. Documents are immutable, so sharing them is safe.
var parsed = struct {
	sync.Mutex
	docs  map[string]*fdl.Document
	order []string
}{docs: map[string]*fdl.Document{}}

const parsedCacheSize = 32

func parseCached(name, text string) (*fdl.Document, error) {
	key := name + "\x00" + text
	parsed.Lock()
	doc := parsed.docs[key]
	parsed.Unlock()
	if doc != nil {
		return doc, nil
	}
	doc, err := fdl.Parse(name, []byte(text))
	if err != nil {
		return nil, err
	}
	remember(doc)
	return doc, nil
}

func remember(doc *fdl.Document) {
	key := doc.Name() + "\x00" + string(doc.Bytes())
	parsed.Lock()
	defer parsed.Unlock()
	if _, ok := parsed.docs[key]; ok {
		return
	}
	parsed.docs[key] = doc
	parsed.order = append(parsed.order, key)
	if len(parsed.order) > parsedCacheSize {
		delete(parsed.docs, parsed.order[0])
		parsed.order = parsed.order[1:]
	}
}

// applyEdit applies req's operation to its text.
func applyEdit(name string, req editRequest) (*state, error) {
	doc, err := parseCached(name, req.YAML)
	if err != nil {
		return nil, err
	}
	pos := req.Positions
	if pos.Nodes == nil {
		pos.Nodes = map[string]fdl.Point{}
	}
	op := req.Op
	ref := func(id string) (fdl.Ref, error) {
		for _, n := range doc.Graph().Nodes {
			if n.ID == id && n.Kind != fdl.KindStorage {
				return fdl.Ref{Cluster: n.Cluster, Name: n.Name}, nil
			}
		}
		return fdl.Ref{}, fmt.Errorf("there is no function %q in the workflow", id)
	}
	switch op.Kind {
	case "none":
	case "add-function":
		nf := fdl.NewFunction{Backend: op.Backend, Cluster: op.Cluster, Name: strings.TrimSpace(op.Name), Image: op.Image, CPU: op.CPU, Memory: op.Memory, Region: op.Region}
		doc, err = doc.AddFunction(nf)
		if err != nil {
			return nil, err
		}
		if op.X != 0 || op.Y != 0 {
			for _, n := range doc.Graph().Nodes {
				if n.Name == nf.Name && n.Kind != fdl.KindStorage {
					pos.Nodes[n.ID] = fdl.Point{X: op.X, Y: op.Y}
				}
			}
		}
	case "add-storage":
		typ, _ := fdl.ParseProvider(op.Provider)
		switch typ {
		case "minio", "s3", "onedata", "webdav", "rucio":
		default:
			return nil, fmt.Errorf("unknown storage provider type %q (minio, s3, onedata, webdav or rucio)", typ)
		}
		p := strings.Trim(op.Path, " /")
		if p == "" {
			return nil, fmt.Errorf("a storage location needs a path: a bucket and optional folder, e.g. my-bucket/input")
		}
		id := "loose:" + op.Provider + ":" + p
		for _, l := range pos.Loose {
			if l.ID == id {
				return nil, fmt.Errorf("%s:%s is on the canvas already", op.Provider, p)
			}
		}
		pos.Loose = append(pos.Loose, looseStorage{ID: id, Provider: op.Provider, Path: p})
		if op.X != 0 || op.Y != 0 {
			pos.Nodes[id] = fdl.Point{X: op.X, Y: op.Y}
		} else {
			bottom := 0.0
			for _, q := range pos.Nodes {
				bottom = max(bottom, q.Y+canvasRowHeight)
			}
			pos.Nodes[id] = fdl.Point{X: 0, Y: bottom}
		}
	case "connect":
		r, err := ref(op.Node)
		if err != nil {
			return nil, err
		}
		before := map[string]bool{}
		for _, e := range doc.Graph().Edges {
			before[e.YAMLPath] = true
		}
		if p, q, ok := doc.StorageRef(op.Storage); ok {
			op.Provider, op.Path = p, q // as the file already writes it
		}
		doc, err = doc.AddLink(r, op.Role, op.Provider, op.Path)
		if err != nil {
			return nil, err
		}
		// A loose storage node is now in the FDL: it keeps its place on the
		// canvas under its FDL id.
		var keep []looseStorage
		for _, l := range pos.Loose {
			if l.ID != op.Storage {
				keep = append(keep, l)
			}
		}
		pos.Loose = keep
		if p, ok := pos.Nodes[op.Storage]; ok {
			for _, e := range doc.Graph().Edges {
				if !before[e.YAMLPath] {
					sid := e.From
					if e.Role == "output" {
						sid = e.To
					}
					if _, has := pos.Nodes[sid]; !has {
						pos.Nodes[sid] = p
					}
				}
			}
		}
	case "remove":
		// Links first (by YAML path, last first so earlier paths stay
		// valid), then whole functions; storage nodes go with their links.
		g := doc.Graph()
		paths := append([]string(nil), op.Edges...)
		var fns []fdl.Ref
		for _, id := range op.Nodes {
			for _, e := range g.Edges {
				if (e.From == id || e.To == id) && strings.HasPrefix(id, "storage:") {
					paths = append(paths, e.YAMLPath)
				}
			}
			if strings.HasPrefix(id, "loose:") {
				var keep []looseStorage
				for _, l := range pos.Loose {
					if l.ID != id {
						keep = append(keep, l)
					}
				}
				pos.Loose = keep
				continue
			}
			if !strings.HasPrefix(id, "storage:") {
				r, err := ref(id)
				if err != nil {
					return nil, err
				}
				fns = append(fns, r)
			}
		}
		sort.Sort(sort.Reverse(byYAMLPath(paths)))
		seen := map[string]bool{}
		for _, p := range paths {
			if seen[p] {
				continue
			}
			seen[p] = true
			if doc, err = doc.RemoveLink(p); err != nil {
				return nil, err
			}
		}
		for _, r := range fns {
			if doc, err = doc.RemoveFunction(r); err != nil {
				return nil, err
			}
		}
	case "set":
		r, err := ref(op.Node)
		if err != nil {
			return nil, err
		}
		if op.Value == nil || *op.Value == "" {
			if doc.Model().Has(fieldPath(doc, r, op.Field)) {
				doc, err = doc.Remove(r, op.Field)
			}
		} else {
			doc, err = doc.Set(r, op.Field, yamlScalar(op.Field, *op.Value))
		}
		if err != nil {
			return nil, err
		}
		if op.Field == "name" {
			// The node's id changes with its name; keep its place.
			old := pos.Nodes[op.Node]
			for _, n := range doc.Graph().Nodes {
				if _, ok := pos.Nodes[n.ID]; !ok && n.Kind != fdl.KindStorage {
					pos.Nodes[n.ID] = old
				}
			}
		}
	case "service-form":
		r, err := ref(op.Node)
		if err != nil {
			return nil, err
		}
		if doc, err = applyServiceForm(doc, r, op.Form); err != nil {
			return nil, err
		}
	case "provider":
		v := ""
		if op.Value != nil {
			v = *op.Value
		}
		if doc, err = applyProviderCredential(doc, op.Provider, op.Field, v); err != nil {
			return nil, err
		}
	case "yaml":
		nd, err := fdl.Parse(name, []byte(op.Text))
		if err != nil {
			return nil, err
		}
		if ds := nd.Validate(fdl.ValidateOptions{}); ds.HasErrors() {
			var errs fdl.Diagnostics
			for _, d := range ds {
				if d.Severity == fdl.Error {
					errs = append(errs, d)
				}
			}
			return nil, errs
		}
		doc = nd
	case "restore":
		// Undo, redo and "keep theirs" go back to a text the composer had
		// before: it parsed then, and is not validated again.
		if doc, err = fdl.Parse(name, []byte(op.Text)); err != nil {
			return nil, err
		}
	case "layout":
		g := doc.Graph()
		pos.Nodes = canvasLayout(g)
		bottom := 0.0
		for _, p := range pos.Nodes {
			bottom = max(bottom, p.Y+canvasRowHeight)
		}
		for i, l := range pos.Loose {
			pos.Nodes[l.ID] = fdl.Point{X: float64(i) * canvasColumnWidth, Y: bottom}
		}
	default:
		return nil, fmt.Errorf("unknown edit %q", op.Kind)
	}
	remember(doc)
	return stateOf(doc, pos), nil
}

// The canvas draws cards larger than fdl.Layout's boxes; its layout is
// spread to a column and row of this size.
const (
	canvasColumnWidth = 300.0
	canvasRowHeight   = 120.0
)

// canvasLayout is fdl.Layout scaled to the composer's cards.
func canvasLayout(g *fdl.Graph) map[string]fdl.Point {
	lay := fdl.Layout(g)
	out := make(map[string]fdl.Point, len(lay.Nodes))
	colW, rowH := fdl.NodeWidth*1.45, fdl.NodeHeight*1.5 // fdl's column and row pitch
	for id, p := range lay.Nodes {
		out[id] = fdl.Point{X: p.X / colW * canvasColumnWidth, Y: p.Y / rowH * canvasRowHeight}
	}
	return out
}

// fieldPath is the YAML path of field of the function r.
func fieldPath(doc *fdl.Document, r fdl.Ref, field string) string {
	base, backend, err := doc.FunctionPath(r)
	if err != nil {
		return ""
	}
	if backend == "aws" && !strings.HasPrefix(field, "batch.") {
		return base + ".lambda." + field
	}
	return base + "." + field
}

// numericFields are written as YAML numbers or booleans, not strings.
var numericFields = map[string]bool{"memory_aws": true, "timeout": true, "batch.vcpus": true, "batch.memory": true, "enable_gpu": true, "batch.enable_gpu": true}

// yamlScalar writes a form value as YAML text: numbers and booleans of
// numeric fields as they are, anything else as a string (quoted when it
// would otherwise read as another type, e.g. cpu '1.0').
func yamlScalar(field, v string) string {
	if numericFields[field] {
		if _, err := strconv.ParseFloat(v, 64); err == nil || v == "true" || v == "false" {
			return v
		}
	}
	if field == "memory" {
		if _, err := strconv.Atoi(v); err == nil {
			return v // a Lambda's memory in MB
		}
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		return strconv.Quote(v)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// byYAMLPath orders paths with list indexes compared as numbers.
type byYAMLPath []string

func (p byYAMLPath) Len() int      { return len(p) }
func (p byYAMLPath) Swap(i, j int) { p[i], p[j] = p[j], p[i] }
func (p byYAMLPath) Less(i, j int) bool {
	a, b := p[i], p[j]
	for a != "" && b != "" {
		ia, ib := strings.IndexByte(a, '['), strings.IndexByte(b, '[')
		if ia < 0 || ib < 0 || a[:ia] != b[:ib] {
			return a < b
		}
		ea, eb := strings.IndexByte(a, ']'), strings.IndexByte(b, ']')
		na, _ := strconv.Atoi(a[ia+1 : ea])
		nb, _ := strconv.Atoi(b[ib+1 : eb])
		if na != nb {
			return na < nb
		}
		a, b = a[ea+1:], b[eb+1:]
	}
	return a < b
}

// saveRequest saves the composer's state as a new version of the one it
// was based on.
type saveRequest struct {
	YAML      string    `json:"yaml"`
	Base      int       `json:"base"`
	Positions positions `json:"positions"`
	Name      string    `json:"name"`
	Held      string    `json:"held,omitempty"`
	// Message, optional, says what the version changed.
	Message string `json:"message,omitempty"`
}

// maxVersionMessage bounds a version's message, in bytes.
const maxVersionMessage = 1000

// conflict is the answer to a save based on an old version: the newer
// text and the difference from the composer's.
type conflict struct {
	Error   string     `json:"error"`
	Version int        `json:"version"`
	Theirs  string     `json:"theirs"`
	Diff    []diffLine `json:"diff"`
}

// SaveWorkflow handles "POST /workflows/:id/save". The request names the
// version it was based on; when the workflow was saved since (another tab
// or device), nothing is written and the answer is 409 with the other
// text and the difference, for the user to choose (overwrite by saving
// again on the newer version, or reload).
func (h *Handler) SaveWorkflow(c echo.Context) error {
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	var req saveRequest
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, int64(fdl.DefaultLimits().MaxBytes)*2)).Decode(&req); err != nil {
		return c.JSON(http.StatusBadRequest, editError{Error: "the request is not valid JSON: " + err.Error()})
	}
	req.YAML = withCredentials(w.Name, req.YAML, h.openHeld(req.Held, owner, w.ID))
	if _, err := parseCached(w.Name, req.YAML); err != nil { // usually the last edit's answer, parsed then
		return c.JSON(http.StatusUnprocessableEntity, editError{Error: "The YAML is not a valid FDL; it was not saved.", Diagnostics: asDiagnostics(err)})
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = w.Name
	}
	pj, _ := json.Marshal(req.Positions)
	msg := strings.TrimSpace(req.Message)
	if len(msg) > maxVersionMessage {
		return c.JSON(http.StatusUnprocessableEntity, editError{Error: fmt.Sprintf("the version message is %d bytes; at most %d are kept", len(msg), maxVersionMessage)})
	}
	v, err := h.workflows.Save(c.Request().Context(), owner, w.ID, req.Base, name, req.YAML, string(pj), msg)
	if errors.Is(err, store.ErrConflict) {
		cur, gerr := h.workflows.Get(c.Request().Context(), owner, w.ID)
		if gerr != nil {
			return gerr
		}
		return c.JSON(http.StatusConflict, conflict{
			Error:   fmt.Sprintf("This workflow was saved elsewhere (version %d) after you opened version %d.", cur.Version, req.Base),
			Version: cur.Version, Theirs: redactText(w.Name, cur.YAML), Diff: lineDiff(redactText(w.Name, cur.YAML), redactText(w.Name, req.YAML)),
		})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"version": v})
}

func asDiagnostics(err error) fdl.Diagnostics {
	var ds fdl.Diagnostics
	if errors.As(err, &ds) {
		return ds
	}
	return fdl.Diagnostics{{Severity: fdl.Error, Line: 1, Col: 1, Message: err.Error()}}
}

// ExportWorkflow handles "GET /workflows/:id/export": the FDL text of the
// composer's draft (or the saved version), or with ?format=zip the bundle
// with its script files. ?version=N exports a saved version.
func (h *Handler) ExportWorkflow(c echo.Context) error {
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	text := w.YAML
	if w.Draft != "" && c.QueryParam("saved") == "" {
		text = w.Draft
	}
	if v := c.QueryParam("version"); v != "" {
		n, _ := strconv.Atoi(v)
		x, err := h.workflowVersion(c, owner, w, n)
		if err != nil {
			return err
		}
		text = x.YAML
	}
	text = redactText(w.Name, text) // no credential in a download
	base := fileBase(w.Name)
	if c.QueryParam("format") != "zip" {
		c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", base+".yaml"))
		return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", []byte(text))
	}
	doc, err := fdl.Parse(base+".yaml", []byte(text))
	if err != nil {
		return userError(http.StatusUnprocessableEntity, "The workflow is not a valid FDL: "+describeFDLError(err), err)
	}
	files := map[string][]byte{}
	for p, s := range w.Scripts {
		files[p] = []byte(s)
	}
	b, err := fdl.NewBundle(doc, (&fdl.Bundle{Scripts: files}).FS())
	if err != nil {
		return userError(http.StatusUnprocessableEntity, "The bundle cannot be made: "+err.Error()+". Import the workflow as a zip bundle with its scripts, or write the scripts inline.", err)
	}
	var buf bytes.Buffer
	if err := b.WriteZip(&buf); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", base+".zip"))
	return c.Blob(http.StatusOK, "application/zip", buf.Bytes())
}

func fileBase(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	if b.Len() == 0 {
		return "workflow"
	}
	return b.String()
}

// ShowWorkflowVersion handles "GET /workflows/:id/versions/:v": one saved
// version, with the difference from the one before it (or from ?to=N).
func (h *Handler) ShowWorkflowVersion(c echo.Context) error {
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	vs, err := h.workflows.VersionList(c.Request().Context(), owner, w.ID)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(c.Param("v"))
	other := n - 1
	if t := c.QueryParam("against"); t != "" {
		other, _ = strconv.Atoi(t)
	}
	var hasPrev bool
	for _, v := range vs {
		hasPrev = hasPrev || v.Version == other
	}
	// Only the two versions compared are read with their text.
	cur, err := h.workflowVersion(c, owner, w, n)
	if err != nil {
		return err
	}
	var prev *store.WorkflowVersion
	if hasPrev && other == n {
		prev = &cur
	} else if hasPrev {
		pv, err := h.workflowVersion(c, owner, w, other)
		if err != nil {
			return err
		}
		prev = &pv
	}
	p := templates.WorkflowVersionProps{Chrome: h.Chrome(c, w.Name+" version "+strconv.Itoa(n), "/workflows"), ID: w.ID, Name: w.Name, Version: n, YAML: redactText(w.Name, cur.YAML)}
	for _, v := range vs {
		p.All = append(p.All, v.Version)
	}
	if prev != nil {
		p.Against = prev.Version
		for _, d := range lineDiff(redactText(w.Name, prev.YAML), p.YAML) {
			p.Diff = append(p.Diff, templates.DiffLine{Op: d.Op, Text: d.Text})
		}
	}
	return Render(c, http.StatusOK, templates.WorkflowVersionPage(p))
}

// RestoreWorkflowVersion handles "POST /workflows/:id/versions/:v/restore":
// the version becomes the draft, to be looked at and saved as a new
// version.
func (h *Handler) RestoreWorkflowVersion(c echo.Context) error {
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(c.Param("v"))
	v, err := h.workflowVersion(c, owner, w, n)
	if err != nil {
		return err
	}
	if err := h.workflows.SaveDraft(c.Request().Context(), owner, w.ID, w.Version, v.YAML, v.Positions); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/workflows/%d", w.ID))
}

// workflowVersion reads version n of the owner's workflow w, or says it
// has no such version.
func (h *Handler) workflowVersion(c echo.Context, owner int64, w store.Workflow, n int) (store.WorkflowVersion, error) {
	v, err := h.workflows.Version(c.Request().Context(), owner, w.ID, n)
	if errors.Is(err, store.ErrNotFound) {
		return v, notFound(fmt.Sprintf("Workflow %q has no version %d.", w.Name, n), nil)
	}
	return v, err
}

// DeleteWorkflow handles "POST /workflows/:id/delete".
func (h *Handler) DeleteWorkflow(c echo.Context) error {
	w, owner, err := h.ownWorkflow(c)
	if err != nil {
		return err
	}
	if err := h.workflows.Delete(c.Request().Context(), owner, w.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/workflows")
}

// diffLine is one line of a difference: Op is " ", "-" or "+".
type diffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// lineDiff is a longest-common-subsequence line difference from a to b,
// with the common head and tail trimmed first so that the usual small
// change costs little.
func lineDiff(a, b string) []diffLine {
	al, bl := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	head := 0
	for head < len(al) && head < len(bl) && al[head] == bl[head] {
		head++
	}
	tail := 0
	for tail < len(al)-head && tail < len(bl)-head && al[len(al)-1-tail] == bl[len(bl)-1-tail] {
		tail++
	}
	x, y := al[head:len(al)-tail], bl[head:len(bl)-tail]
	var out []diffLine
	for _, l := range al[:head] {
		out = append(out, diffLine{" ", strings.TrimSuffix(l, "\n")})
	}
	if len(x)*len(y) > 4_000_000 {
		for _, l := range x {
			out = append(out, diffLine{"-", strings.TrimSuffix(l, "\n")})
		}
		for _, l := range y {
			out = append(out, diffLine{"+", strings.TrimSuffix(l, "\n")})
		}
	} else {
		lcs := make([][]int, len(x)+1)
		for i := range lcs {
			lcs[i] = make([]int, len(y)+1)
		}
		for i := len(x) - 1; i >= 0; i-- {
			for j := len(y) - 1; j >= 0; j-- {
				if x[i] == y[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(x) || j < len(y) {
			switch {
			case i < len(x) && j < len(y) && x[i] == y[j]:
				out = append(out, diffLine{" ", strings.TrimSuffix(x[i], "\n")})
				i++
				j++
			case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
				out = append(out, diffLine{"-", strings.TrimSuffix(x[i], "\n")})
				i++
			default:
				out = append(out, diffLine{"+", strings.TrimSuffix(y[j], "\n")})
				j++
			}
		}
	}
	for _, l := range al[len(al)-tail:] {
		out = append(out, diffLine{" ", strings.TrimSuffix(l, "\n")})
	}
	if n := len(out); n > 0 && out[n-1].Op == " " && out[n-1].Text == "" {
		out = out[:n-1]
	}
	return out
}

// renderString renders a component to a string (for HTML inside JSON).
func renderString(comp interface {
	Render(ctx context.Context, w io.Writer) error
}) string {
	var b strings.Builder
	if err := comp.Render(context.Background(), &b); err != nil {
		return ""
	}
	return b.String()
}
