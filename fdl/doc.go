// Package fdl is the model of FDL (Functions Definition Language) files, the
// workflow files read by oscar-cli and SCAR.
//
// The original bytes and the gopkg.in/yaml.v3 node tree are the source of
// truth: comments, key order, block scalars, anchors and unknown keys are kept,
// and edits are applied as minimal line splices so that an unedited document
// is written back byte for byte. A typed view (Model) sits on top for
// validation and graph derivation.
//
// Typical use:
//
//	doc, err := fdl.Parse("workflow.yaml", data) // err lists refused input
//	diags := doc.Validate(fdl.ValidateOptions{})
//	g := doc.Graph()
//	pos := fdl.Layout(g)
//	doc2, err := doc.Set(fdl.Ref{Service: "darknet"}, "memory", "2Gi")
//	out := doc2.Bytes()
package fdl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits bound the work done on untrusted input.
type Limits struct {
	// MaxBytes is the largest accepted file.
	MaxBytes int
	// MaxDepth is the deepest accepted nesting of collections.
	MaxDepth int
	// MaxNodes is the largest accepted node count after alias expansion.
	MaxNodes int
}

// DefaultLimits are generous for real FDL files (the largest upstream example
// is 11 KB) and refuse hostile ones in milliseconds.
var defaultLimits = Limits{MaxBytes: 4 << 20, MaxDepth: 64, MaxNodes: 1 << 20}

// DefaultLimits returns the limits used by Parse.
func DefaultLimits() Limits { return defaultLimits }

// Document is one parsed FDL file.
type Document struct {
	name  string
	src   []byte
	root  *yaml.Node // the mapping at the top of the document
	lines []int      // byte offset of the start of each line (0-based index)
	model *Model
	diags []Diagnostic // found while building the typed view
	// size is the node count of the tree; plain is true when it has no
	// anchors or aliases. Together they let an edit inside one function
	// re-parse only that function (see spliceItem).
	size  int
	plain bool

	// Derived once, on first use.
	graphOnce sync.Once
	graph     *Graph
	validOnce sync.Once
	valid     Diagnostics
}

// Parse reads an FDL file with the default limits. name is used in
// diagnostics (usually the file path). When the input is refused (too large,
// not YAML, not an FDL, hostile) the error is a Diagnostics value listing
// where and why; otherwise the returned Document holds the typed view and
// Validate reports the remaining problems.
func Parse(name string, data []byte) (*Document, error) {
	return ParseWithLimits(name, data, defaultLimits)
}

// ParseWithLimits is Parse with explicit limits.
func ParseWithLimits(name string, data []byte, lim Limits) (doc *Document, err error) {
	fail := func(line, col int, format string, args ...any) error {
		return Diagnostics{{File: name, Line: line, Col: col, Severity: Error, Message: fmt.Sprintf(format, args...)}}
	}
	if len(data) > lim.MaxBytes {
		return nil, fail(1, 1, "file is %d bytes, larger than the %d byte limit for an FDL file", len(data), lim.MaxBytes)
	}
	var file yaml.Node
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fail(1, 1, "not YAML: the parser failed (%v)", r)
			}
		}()
		dec := yaml.NewDecoder(bytes.NewReader(data))
		if e := dec.Decode(&file); e != nil {
			if errors.Is(e, io.EOF) {
				err = fail(1, 1, "the file is empty; %s", fdlShape)
				return
			}
			line, col, msg := syntaxError(data, e)
			err = fail(line, col, "not YAML: %s", msg)
			return
		}
		var extra yaml.Node
		if e := dec.Decode(&extra); e == nil {
			err = fail(extra.Line, extra.Column, "the file holds more than one YAML document; an FDL file has exactly one")
		} else if !errors.Is(e, io.EOF) {
			line, col, msg := syntaxError(data, e)
			err = fail(line, col, "not YAML: %s", msg)
		}
	}()
	if err != nil {
		return nil, err
	}
	if file.Kind != yaml.DocumentNode || len(file.Content) == 0 {
		return nil, fail(1, 1, "the file is empty; %s", fdlShape)
	}
	size, plain, e := checkSize(&file, 0, lim)
	if e != nil {
		return nil, Diagnostics{{File: name, Line: e.line, Col: e.col, Severity: Error, Message: e.msg}}
	}
	if line, col, msg, dup := duplicateKey(&file); dup {
		return nil, fail(line, col, "not YAML: %s", msg)
	}
	doc = &Document{name: name, src: data, root: file.Content[0], lines: lineStarts(data), size: size, plain: plain}
	if d := checkShape(name, doc.root); d != nil {
		return nil, Diagnostics{*d}
	}
	doc.model, doc.diags = buildModel(doc)
	return doc, nil
}

const fdlShape = "an FDL file is a mapping with a top-level `functions:` key holding `oscar:` (a list of `<cluster-id>: {name, image, script, ...}` entries) and/or `aws:` (a list of `lambda: {...}` entries), plus optional `storage_providers:` and `clusters:`"

// Name returns the name given to Parse.
func (d *Document) Name() string { return d.name }

// Bytes returns the document text. Without edits it is the parsed input,
// byte for byte.
func (d *Document) Bytes() []byte { return d.src }

// Root returns the top-level mapping node. Callers must not modify it; use
// Set and Remove to edit.
func (d *Document) Root() *yaml.Node { return d.root }

// Model returns the typed view of the document.
func (d *Document) Model() *Model { return d.model }

// sizeError is a refusal found by checkSize.
type sizeError struct {
	line, col int
	msg       string
}

// checkSize refuses documents that nest too deeply or whose alias expansion
// would exceed the node budget (the "billion laughs" attack). Expanded sizes
// are memoised per node so the check is linear in the parsed tree. depth is
// that of n in its document. It returns the expanded node count and whether
// the tree has no anchors and no aliases.
func checkSize(n *yaml.Node, depth int, lim Limits) (size int, plain bool, err *sizeError) {
	memo := map[*yaml.Node]int{}
	plain = true
	var walk func(n *yaml.Node, depth int) (int, *sizeError)
	walk = func(n *yaml.Node, depth int) (int, *sizeError) {
		if depth > lim.MaxDepth {
			return 0, &sizeError{n.Line, n.Column, fmt.Sprintf("nesting deeper than %d levels; an FDL file never needs that many", lim.MaxDepth)}
		}
		if n.Anchor != "" {
			plain = false
		}
		if n.Kind == yaml.AliasNode {
			plain = false
			if n.Alias == nil {
				return 1, nil
			}
			if v, ok := memo[n.Alias]; ok {
				if v < 0 {
					return 0, &sizeError{n.Line, n.Column, "alias *" + n.Value + " refers to its own anchor"}
				}
				return v, nil
			}
			n = n.Alias
		}
		if v, ok := memo[n]; ok && v >= 0 {
			return v, nil
		}
		memo[n] = -1
		total := 1
		for _, c := range n.Content {
			s, err := walk(c, depth+1)
			if err != nil {
				return 0, err
			}
			total += s
			if total > lim.MaxNodes {
				return 0, &sizeError{n.Line, n.Column, fmt.Sprintf("aliases expand to more than %d nodes (an alias expansion bomb?); refusing the file", lim.MaxNodes)}
			}
		}
		memo[n] = total
		return total, nil
	}
	size, err = walk(n, depth)
	return size, plain, err
}

// checkShape tells apart an FDL from other YAML (Kubernetes manifests, the old
// SCAR `functions:` list format, plain values).
func checkShape(name string, root *yaml.Node) *Diagnostic {
	d := func(n *yaml.Node, path, msg string) *Diagnostic {
		return &Diagnostic{File: name, Line: n.Line, Col: n.Column, Path: path, Severity: Error, Message: msg}
	}
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		return d(root, "", fmt.Sprintf("not an FDL: the top level is a %s; %s", kindName(root), fdlShape))
	}
	if k, _ := lookup(root, "apiVersion"); k != nil {
		if _, kind := lookup(root, "kind"); kind != nil {
			return d(k, "apiVersion", fmt.Sprintf("not an FDL: this is a Kubernetes manifest (kind %q); %s", kind.Value, fdlShape))
		}
		return d(k, "apiVersion", "not an FDL: this looks like a Kubernetes manifest; "+fdlShape)
	}
	k, fns := lookup(root, "functions")
	if k == nil {
		return d(root, "", "not an FDL: there is no top-level `functions:` key; "+fdlShape)
	}
	fns = resolve(fns)
	switch fns.Kind {
	case yaml.SequenceNode:
		return d(fns, "functions", "not an FDL: `functions:` is a list, as in the old SCAR format; in an FDL it is a mapping with `oscar:` and/or `aws:` lists")
	case yaml.MappingNode:
	default:
		if fns.Tag == "!!null" {
			return nil // an empty workflow is a valid start for the composer
		}
		return d(fns, "functions", fmt.Sprintf("`functions:` is a %s; it must be a mapping with `oscar:` and/or `aws:` lists", kindName(fns)))
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null value"
		}
		return "scalar value"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// lookup finds key in a mapping node and returns the key and value nodes.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// lineStarts returns the byte offset of each line start.
func lineStarts(b []byte) []int {
	starts := make([]int, 1, bytes.Count(b, []byte{'\n'})+1)
	for i, c := range b {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offset converts a yaml.v3 position (1-based line, 1-based column counted in
// runes) into a byte offset in src.
func (d *Document) offset(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(d.lines) {
		return len(d.src)
	}
	off := d.lines[line-1]
	for c := 1; c < col && off < len(d.src); c++ {
		_, size := utf8.DecodeRune(d.src[off:])
		off += size
	}
	return off
}
