package fdl

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Edit operations of the composer. Like Set and Remove, each returns a new
// document and leaves d unchanged, and each changes only the lines of what
// it adds or removes: comments, order and the rest of the text stay.

// InputTriggers reports whether files arriving in a storage provider of
// type typ start a function of backend ("oscar" or "aws"): the rule the
// composer applies when a storage location is connected as an input, and
// that Validate reports on.
func InputTriggers(backend, typ string) bool {
	if backend == "aws" {
		return typ == "s3"
	}
	return typ == "minio" || typ == "webdav" || typ == "rucio"
}

// NewFunction describes a function added by AddFunction.
type NewFunction struct {
	Backend string // "oscar" or "aws"
	Cluster string // OSCAR cluster id (the key of the functions.oscar item)
	Name    string
	Image   string
	CPU     string // OSCAR only
	Memory  string // OSCAR: a quantity such as 1Gi; AWS: megabytes
	Region  string // AWS only
}

// AddFunction appends an OSCAR service or a Lambda function to the end of
// functions.oscar or functions.aws.
func (d *Document) AddFunction(f NewFunction) (*Document, error) {
	if strings.TrimSpace(f.Name) == "" {
		return nil, fmt.Errorf("a new function needs a name")
	}
	for _, e := range d.model.Oscar {
		if e.Service.Name == f.Name && (f.Backend != "oscar" || e.Cluster == f.Cluster) {
			return nil, fmt.Errorf("%s: a function named %q exists already", d.name, f.Name)
		}
	}
	for _, e := range d.model.AWS {
		if e.Lambda != nil && e.Lambda.Name == f.Name {
			return nil, fmt.Errorf("%s: a function named %q exists already", d.name, f.Name)
		}
	}
	pairs := func(kv ...string) *yaml.Node {
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				continue
			}
			v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[i+1]}
			if kv[i] == "memory" && f.Backend == "aws" {
				if _, err := strconv.Atoi(kv[i+1]); err == nil {
					v.Tag = "!!int"
				}
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[i]}, v)
		}
		return m
	}
	var item *yaml.Node
	var list string
	switch f.Backend {
	case "oscar":
		if f.Cluster == "" {
			f.Cluster = "oscar"
		}
		svc := pairs("name", f.Name, "image", f.Image, "cpu", f.CPU, "memory", f.Memory)
		item = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.Cluster}, svc}}
		list = "oscar"
	case "aws":
		lambda := pairs("name", f.Name, "region", f.Region, "memory", f.Memory)
		if f.Image != "" {
			lambda.Content = append(lambda.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "container"},
				pairs("image", f.Image))
		}
		item = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "lambda"}, lambda}}
		list = "aws"
	default:
		return nil, fmt.Errorf("unknown backend %q (oscar or aws)", f.Backend)
	}
	return d.appendItem("", []string{"functions", list}, item)
}

// RemoveFunction deletes the function selected by ref, with its whole list
// item.
func (d *Document) RemoveFunction(ref Ref) (*Document, error) {
	path, backend, err := d.FunctionPath(ref)
	if err != nil {
		return nil, err
	}
	if backend == "oscar" {
		path = parentPath(path) // functions.oscar[i].<cluster> → functions.oscar[i]
	}
	list, idx, err := splitIndex(path)
	if err != nil {
		return nil, err
	}
	return d.removeItem(list, idx)
}

// AddLink appends a storage location to the input (role "input") or
// output (role "output") list of the function selected by ref.
func (d *Document) AddLink(ref Ref, role, provider, path string) (*Document, error) {
	if role != "input" && role != "output" {
		return nil, fmt.Errorf("link role %q: must be input or output", role)
	}
	if strings.TrimSpace(provider) == "" || strings.Trim(path, " /") == "" {
		return nil, fmt.Errorf("a link needs a storage provider and a path")
	}
	base, backend, err := d.FunctionPath(ref)
	if err != nil {
		return nil, err
	}
	typ, _ := ParseProvider(provider)
	if role == "input" && !InputTriggers(backend, typ) {
		return nil, fmt.Errorf("files arriving in a %s location cannot trigger %s %q; connect it as an output, or use %s", typ, backendWord(backend), ref.Name, triggerWords(backend))
	}
	segs := []string{role}
	if backend == "aws" {
		segs = []string{"lambda", role}
	}
	for _, e := range d.linkList(base, segs) {
		if e.StorageProvider == provider && strings.Trim(e.Path, "/") == strings.Trim(path, "/") {
			return nil, fmt.Errorf("%s %q already has %s %s:%s", backendWord(backend), ref.Name, role, provider, path)
		}
	}
	item := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "storage_provider"}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: provider},
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "path"}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.Trim(path, " ")},
	}}
	return d.appendItem(base, segs, item)
}

// RemoveLink deletes the input or output entry at YAML path entry (as in
// Edge.YAMLPath, e.g. functions.oscar[0].c.input[1]).
func (d *Document) RemoveLink(entry string) (*Document, error) {
	list, idx, err := splitIndex(entry)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(list, ".input") && !strings.HasSuffix(list, ".output") {
		return nil, fmt.Errorf("%s: %s is not an input or output entry", d.name, entry)
	}
	return d.removeItem(list, idx)
}

// RenameFunction changes the name of the function selected by ref.
func (d *Document) RenameFunction(ref Ref, name string) (*Document, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("the name cannot be empty")
	}
	return d.Set(ref, "name", quoteIfNeeded(name))
}

func (d *Document) linkList(base string, segs []string) []StorageIO {
	path := base + "." + strings.Join(segs, ".")
	for _, e := range d.model.Oscar {
		if e.Path+".input" == path {
			return e.Service.Input
		}
		if e.Path+".output" == path {
			return e.Service.Output
		}
	}
	for _, e := range d.model.AWS {
		if e.Lambda != nil && e.Path+".lambda.input" == path {
			return e.Lambda.Input
		}
		if e.Lambda != nil && e.Path+".lambda.output" == path {
			return e.Lambda.Output
		}
	}
	return nil
}

func backendWord(b string) string {
	if b == "aws" {
		return "Lambda function"
	}
	return "OSCAR service"
}

func triggerWords(b string) string {
	if b == "aws" {
		return "an s3 location"
	}
	return "a minio, webdav or rucio location"
}

// quoteIfNeeded returns s as YAML text that reads back as the string s.
func quoteIfNeeded(s string) string {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err == nil && len(n.Content) == 1 && n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!str" && n.Content[0].Value == s && !strings.ContainsAny(s, "\n#") {
		return s
	}
	return strconv.Quote(s)
}

// splitIndex splits "a.b[3]" into "a.b" and 3.
func splitIndex(path string) (string, int, error) {
	i := strings.LastIndexByte(path, '[')
	if i < 0 || !strings.HasSuffix(path, "]") {
		return "", 0, fmt.Errorf("%s is not a list item", path)
	}
	n, err := strconv.Atoi(path[i+1 : len(path)-1])
	if err != nil {
		return "", 0, fmt.Errorf("%s is not a list item", path)
	}
	return path[:i], n, nil
}

// appendItem adds item at the end of the block list at base+segs, creating
// the list (and missing parents) when there is none.
func (d *Document) appendItem(base string, segs []string, item *yaml.Node) (*Document, error) {
	path := base
	for _, s := range segs {
		path = joinPath(path, s)
	}
	seq := resolve(d.model.nodes[path])
	k := d.model.keys[path]
	if seq == nil || k == nil || seq.Kind != yaml.SequenceNode || len(seq.Content) == 0 {
		if seq != nil && seq.Kind != yaml.SequenceNode && seq.Tag != "!!null" {
			return nil, fmt.Errorf("%s: %s is a %s, not a list", d.name, path, kindName(seq))
		}
		return d.newList(base, segs, path, k, seq, item)
	}
	if seq.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("%s:%d:%d: %s is a flow-style [...] list; adding to it is not supported", d.name, seq.Line, seq.Column, path)
	}
	_, end, err := d.pairRegion(k, seq)
	if err != nil {
		return nil, err
	}
	dash := d.dashColumn(seq.Content[0])
	body, err := render(&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}})
	if err != nil {
		return nil, err
	}
	indent := strings.Repeat(" ", dash-1)
	return d.insertLines(end, indent, body)
}

// newList writes the last key of segs with a one-item list holding item:
// in place of an empty or null value, or at the end of the parent mapping.
// The list is indented the way the document indents its lists.
func (d *Document) newList(base string, segs []string, path string, k, v, item *yaml.Node) (*Document, error) {
	body, err := render(&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}})
	if err != nil {
		return nil, err
	}
	key := segs[len(segs)-1]
	parent := d.model.nodes[parentPath(path)]
	if parentPath(path) == "" {
		parent = d.root
	}
	parent = resolve(parent)
	write := func(col int) string {
		pad := strings.Repeat(" ", col-1)
		seqPad := pad
		if !d.compactLists() {
			seqPad += "  "
		}
		var b strings.Builder
		b.WriteString(key + ":\n")
		for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
			b.WriteString(seqPad + l + "\n")
		}
		return b.String()
	}
	switch {
	case k != nil && v != nil && v.Style&yaml.FlowStyle == 0 && v.Kind != yaml.SequenceNode || k != nil && v != nil && v.Line == k.Line:
		// key: (null) or key: [] → rewrite the pair.
		_, end, err := d.pairRegion(k, v)
		if err != nil {
			return nil, err
		}
		start := d.offset(k.Line, k.Column)
		return d.splice(start, end, write(k.Column), start)
	case k == nil && parent != nil && parent.Kind == yaml.MappingNode && len(parent.Content) > 0 && parent.Style&yaml.FlowStyle == 0:
		lastK, lastV := parent.Content[len(parent.Content)-2], parent.Content[len(parent.Content)-1]
		_, end, err := d.pairRegion(lastK, lastV)
		if err != nil {
			return nil, err
		}
		text := strings.Repeat(" ", parent.Content[0].Column-1) + strings.TrimLeft(write(parent.Content[0].Column), " ")
		if end > 0 && d.src[end-1] != '\n' {
			text = "\n" + text
		}
		return d.splice(end, end, text, end)
	}
	// Missing parents too: let SetPath build the chain.
	return d.SetPath(base, segs, body)
}

// compactLists reports whether the document writes list dashes at the
// column of their key (the style of the FDL examples); true when it has no
// block list under a key.
func (d *Document) compactLists() bool {
	for p, v := range d.model.nodes {
		v = resolve(v)
		if k := d.model.keys[p]; k != nil && v != nil && v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
			return d.dashColumn(v.Content[0]) == k.Column
		}
	}
	return true
}

// dashColumn returns the 1-based column of the "-" that introduces item.
func (d *Document) dashColumn(item *yaml.Node) int {
	line := item.Line
	start := d.lines[line-1]
	off := d.offset(line, item.Column)
	for i := off - 1; i >= start; i-- {
		if d.src[i] == '-' {
			return i - start + 1
		}
	}
	return item.Column
}

// removeItem deletes item idx of the block list at path, with the lines it
// spans. Comment lines right above the next item stay (they describe it).
// Removing the last item removes the list's key.
func (d *Document) removeItem(path string, idx int) (*Document, error) {
	seq := resolve(d.model.nodes[path])
	k := d.model.keys[path]
	if seq == nil || seq.Kind != yaml.SequenceNode || idx < 0 || idx >= len(seq.Content) {
		return nil, fmt.Errorf("%s: no list item %s[%d]", d.name, path, idx)
	}
	if seq.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("%s:%d:%d: %s is a flow-style [...] list; removing from it is not supported", d.name, seq.Line, seq.Column, path)
	}
	if len(seq.Content) == 1 {
		if k == nil {
			return nil, fmt.Errorf("%s: %s has no key to remove", d.name, path)
		}
		parent, key := parentPath(path), path[strings.LastIndexByte(path, '.')+1:]
		if parent != "" && strings.HasSuffix(parent, "]") {
			return nil, fmt.Errorf("%s: %s: cannot remove the only item here", d.name, path)
		}
		if parent == "functions" {
			// Keep `functions:` an FDL: replace the list by an empty one.
			return d.SetPath(parent, []string{key}, "[]")
		}
		base, seg := parent, key
		return d.RemovePath(base, []string{seg})
	}
	item := seq.Content[idx]
	start := d.lines[d.dashLine(item)-1]
	var end int
	if idx+1 < len(seq.Content) {
		next := d.dashLine(seq.Content[idx+1])
		// Leave the comment lines just above the next item.
		ln := next
		for ln-1 > item.Line && d.isCommentLine(ln-1) {
			ln--
		}
		end = d.lines[ln-1]
	} else {
		_, e, err := d.pairRegion(k, seq)
		if err != nil {
			return nil, err
		}
		end = e
	}
	return d.splice(start, end, "", start)
}

// dashLine returns the line of the "-" of item (the item's own line, or
// the line above for a "-" alone on its line).
func (d *Document) dashLine(item *yaml.Node) int {
	line := item.Line
	start := d.lines[line-1]
	if strings.TrimSpace(string(d.src[start:d.offset(line, item.Column)])) == "" && line > 1 {
		prev := strings.TrimSpace(string(d.src[d.lines[line-2]:start]))
		if prev == "-" {
			return line - 1
		}
	}
	return line
}

func (d *Document) isCommentLine(line int) bool {
	if line < 1 || line > len(d.lines) {
		return false
	}
	end := len(d.src)
	if line < len(d.lines) {
		end = d.lines[line]
	}
	t := strings.TrimSpace(string(d.src[d.lines[line-1]:end]))
	return strings.HasPrefix(t, "#")
}

// StorageRef returns the storage_provider and path of the first input or
// output entry that refers to the storage node id of the graph, as written
// in the file (the graph's own fields are normalised), so that a new link
// to the same location is written the same way.
func (d *Document) StorageRef(id string) (provider, path string, ok bool) {
	for _, e := range d.sharedGraph().Edges {
		if e.From != id && e.To != id {
			continue
		}
		p, okP := d.model.nodes[e.YAMLPath+".storage_provider"]
		q, okQ := d.model.nodes[e.YAMLPath+".path"]
		if okP && okQ {
			return p.Value, q.Value, true
		}
	}
	return "", "", false
}
