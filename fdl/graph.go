package fdl

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Graph is the data flow of a workflow: FDL has no explicit edges, so a link
// exists when one function's output and another's input are the same storage
// location.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
	// MayTrigger lists outputs that land under another function's input
	// folder (a prefix, not an exact match): the upload fires that input.
	MayTrigger []MayTrigger `json:"may_trigger,omitempty"`
	// Warnings are problems of the flow itself, such as endless loops.
	Warnings []Diagnostic `json:"warnings,omitempty"`
}

// Node kinds and backends.
const (
	KindService  = "service"  // an OSCAR service
	KindFunction = "function" // an AWS Lambda function
	KindStorage  = "storage"  // a storage location (bucket and folder)
)

// Node is a function or a storage location.
type Node struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Functions.
	Name    string `json:"name,omitempty"`
	Backend string `json:"backend,omitempty"` // "oscar" or "aws"
	// Cluster is the OSCAR cluster id of a service, or of the cluster whose
	// own MinIO holds a storage location.
	Cluster string `json:"cluster,omitempty"`
	// Storage.
	Provider string `json:"provider,omitempty"` // normalised type.id
	Path     string `json:"path,omitempty"`     // normalised bucket/folder
	Endpoint string `json:"endpoint,omitempty"` // declared endpoint, if any
	// YAMLPath locates a function in the document (services and functions).
	YAMLPath string `json:"yaml_path,omitempty"`
}

// Edge links a storage location to a function (role "input") or a function
// to a storage location (role "output").
type Edge struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Role     string `json:"role"`
	YAMLPath string `json:"yaml_path,omitempty"` // the input/output entry
}

// MayTrigger says that files written by an output into storage node From
// land under the input folder Via of function To.
type MayTrigger struct {
	From string `json:"from"`
	Via  string `json:"via"`
	To   string `json:"to"`
}

// storageRef is a normalised input/output reference.
type storageRef struct {
	store    string // identity of the store without the path
	provider string // normalised type.id
	typ      string
	cluster  string
	endpoint string
	path     string
}

// ParseProvider splits a storage_provider reference into type and id; a
// bare type means id "default".
func ParseProvider(ref string) (typ, id string) {
	ref = strings.TrimSpace(ref)
	typ, id, ok := strings.Cut(ref, ".")
	if !ok || id == "" {
		id = "default"
	}
	return typ, id
}

// NormalizePath trims spaces and slashes like the OSCAR server does. For an
// OSCAR service (service != "") a minio or s3 path with no "/" gets the
// service name as bucket.
func NormalizePath(typ, path, service string) string {
	p := strings.Trim(path, " /")
	if service != "" && p != "" && !strings.Contains(p, "/") && (typ == "minio" || typ == "s3") {
		p = service + "/" + p
	}
	return p
}

// clusterIDs returns the OSCAR cluster ids known to the document.
func (m *Model) clusterIDs() map[string]bool {
	ids := map[string]bool{}
	for _, e := range m.Oscar {
		ids[e.Cluster] = true
	}
	for id := range m.Clusters {
		ids[id] = true
	}
	return ids
}

// resolveStorage applies the identity rules:
//   - s3 bucket names are global: any s3.<id> with the same path is one store;
//   - minio.default on an OSCAR service is its cluster's own MinIO, and so is
//     minio.<id> when <id> names an OSCAR cluster of this document;
//   - any other type.id is the declared provider, identified by its endpoint
//     when it has one (same endpoint → same store).
func (m *Model) resolveStorage(ref, path, cluster, service string, clusters map[string]bool) storageRef {
	typ, id := ParseProvider(ref)
	r := storageRef{typ: typ, provider: typ + "." + id, path: NormalizePath(typ, path, service)}
	switch {
	case typ == "s3":
		r.store = "s3"
	case typ == "minio" && id == "default" && cluster != "":
		r.store, r.cluster = "minio@"+cluster, cluster
	case typ == "minio" && clusters[id] && m.StorageProviders.MinIO[id].Endpoint == "":
		r.store, r.cluster = "minio@"+id, id
	default:
		r.endpoint = m.providerEndpoint(typ, id)
		if r.endpoint != "" {
			r.store = typ + "@" + normalizeEndpoint(r.endpoint)
		} else {
			r.store = r.provider
		}
	}
	return r
}

func (m *Model) providerEndpoint(typ, id string) string {
	sp := m.StorageProviders
	switch typ {
	case "minio":
		return sp.MinIO[id].Endpoint
	case "webdav":
		return sp.WebDAV[id].Hostname
	case "rucio":
		return sp.Rucio[id].Host
	case "onedata":
		if p, ok := sp.Onedata[id]; ok && p.OneproviderHost != "" {
			return p.OneproviderHost + "/" + p.Space
		}
	}
	return ""
}

func normalizeEndpoint(e string) string {
	e = strings.ToLower(strings.TrimSpace(e))
	e = strings.TrimPrefix(strings.TrimPrefix(e, "https://"), "http://")
	return strings.TrimRight(e, "/")
}

// Graph derives the data-flow graph. Nodes come in document order: each
// function followed by the storage locations it introduces. The graph is
// derived once per document (documents never change); each call returns
// its own copy, which the caller may modify.
func (d *Document) Graph() *Graph {
	g := *d.sharedGraph()
	g.Nodes = slices.Clone(g.Nodes)
	g.Edges = slices.Clone(g.Edges)
	g.MayTrigger = slices.Clone(g.MayTrigger)
	g.Warnings = slices.Clone(g.Warnings)
	return &g
}

// sharedGraph is the document's graph itself, for fdl's own reading.
func (d *Document) sharedGraph() *Graph {
	d.graphOnce.Do(func() { d.graph = d.deriveGraph() })
	return d.graph
}

func (d *Document) deriveGraph() *Graph {
	m := d.model
	g := &Graph{Nodes: []Node{}, Edges: []Edge{}}
	clusters := m.clusterIDs()
	storage := map[string]int{} // storage id → index in g.Nodes
	fnIDs := map[string]bool{}
	type ioRef struct {
		fn   string
		r    storageRef
		id   string
		path string // YAML path of the entry
	}
	var inputs, outputs []ioRef

	addFn := func(n Node) string {
		base := n.ID
		for i := 2; fnIDs[n.ID]; i++ {
			n.ID = fmt.Sprintf("%s#%d", base, i)
		}
		fnIDs[n.ID] = true
		g.Nodes = append(g.Nodes, n)
		return n.ID
	}
	addIO := func(fn, cluster, service string, list []StorageIO, path, role string) {
		for i, io := range list {
			r := m.resolveStorage(io.StorageProvider, io.Path, cluster, service, clusters)
			if r.path == "" || r.typ == "" {
				continue // reported by Validate
			}
			id := "storage:" + r.store + ":" + r.path
			if _, ok := storage[id]; !ok {
				storage[id] = len(g.Nodes)
				g.Nodes = append(g.Nodes, Node{ID: id, Kind: KindStorage, Provider: r.provider, Path: r.path, Cluster: r.cluster, Endpoint: r.endpoint})
			}
			ypath := fmt.Sprintf("%s.%s[%d]", path, role, i)
			ref := ioRef{fn: fn, r: r, id: id, path: ypath}
			if role == "input" {
				g.Edges = append(g.Edges, Edge{From: id, To: fn, Role: "input", YAMLPath: ypath})
				inputs = append(inputs, ref)
			} else {
				g.Edges = append(g.Edges, Edge{From: fn, To: id, Role: "output", YAMLPath: ypath})
				outputs = append(outputs, ref)
			}
		}
	}
	for _, e := range m.Oscar {
		s := &e.Service
		name := s.Name
		if name == "" {
			name = "(unnamed " + e.Path + ")"
		}
		id := addFn(Node{ID: "oscar/" + e.Cluster + "/" + name, Kind: KindService, Name: s.Name, Backend: "oscar", Cluster: e.Cluster, YAMLPath: e.Path})
		addIO(id, e.Cluster, s.Name, s.Input, e.Path, "input")
		addIO(id, e.Cluster, s.Name, s.Output, e.Path, "output")
	}
	for _, e := range m.AWS {
		if e.Lambda == nil {
			continue
		}
		l := e.Lambda
		name := l.Name
		if name == "" {
			name = "(unnamed " + e.Path + ")"
		}
		lpath := e.Path + ".lambda"
		id := addFn(Node{ID: "aws/" + name, Kind: KindFunction, Name: l.Name, Backend: "aws", YAMLPath: lpath})
		addIO(id, "", "", l.Input, lpath, "input")
		addIO(id, "", "", l.Output, lpath, "output")
	}

	// Prefix links and loops. Inputs are indexed by store and path so each
	// output costs one lookup per folder level.
	byFolder := map[string][]ioRef{}
	for _, in := range inputs {
		k := in.r.store + ":" + in.r.path
		byFolder[k] = append(byFolder[k], in)
	}
	seen := map[MayTrigger]bool{}
	for _, out := range outputs {
		p := out.r.path
		for {
			for _, in := range byFolder[out.r.store+":"+p] {
				exact := p == out.r.path
				if in.fn == out.fn {
					line, col := m.pos(out.path)
					how := "under"
					if exact {
						how = "in"
					}
					g.Warnings = append(g.Warnings, Diagnostic{File: d.name, Line: line, Col: col, Path: out.path, Severity: Warning,
						Message: fmt.Sprintf("%s writes its output %s its own input folder %q: every result triggers it again (an endless loop)", displayName(out.fn), how, in.r.path)})
					continue
				}
				if !exact {
					mt := MayTrigger{From: out.id, Via: in.id, To: in.fn}
					if !seen[mt] {
						seen[mt] = true
						g.MayTrigger = append(g.MayTrigger, mt)
					}
				}
			}
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	sort.SliceStable(g.MayTrigger, func(i, j int) bool {
		a, b := g.MayTrigger[i], g.MayTrigger[j]
		if a.From != b.From {
			return a.From < b.From
		}
		return a.To < b.To
	})
	return g
}

func displayName(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}
