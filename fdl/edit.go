package fdl

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Ref selects a function of the document: an OSCAR service or a Lambda
// function by name. Cluster narrows an OSCAR service to one cluster id when
// the same name is deployed to several clusters.
type Ref struct {
	Cluster string
	Name    string
}

// ParseRef reads "name" or "cluster/name".
func ParseRef(s string) Ref {
	if c, n, ok := strings.Cut(s, "/"); ok {
		return Ref{Cluster: c, Name: n}
	}
	return Ref{Name: s}
}

// awsBlocks are the keys of a functions.aws entry; other fields of a Lambda
// reference are relative to its `lambda:` block.
var awsBlocks = map[string]bool{"lambda": true, "iam": true, "api_gateway": true, "cloudwatch": true, "batch": true, "ecr": true, "s3": true}

// FunctionPath returns the YAML path of the function selected by ref (the
// service mapping for OSCAR, the entry mapping for AWS) and its backend.
func (d *Document) FunctionPath(ref Ref) (path, backend string, err error) {
	var matches []string
	var backends []string
	for _, e := range d.model.Oscar {
		if e.Service.Name == ref.Name && (ref.Cluster == "" || ref.Cluster == e.Cluster) {
			matches = append(matches, e.Path)
			backends = append(backends, "oscar")
		}
	}
	if ref.Cluster == "" {
		for _, e := range d.model.AWS {
			if e.Lambda != nil && e.Lambda.Name == ref.Name {
				matches = append(matches, e.Path)
				backends = append(backends, "aws")
			}
		}
	}
	switch len(matches) {
	case 0:
		return "", "", fmt.Errorf("%s: no service or function named %q", d.name, refString(ref))
	case 1:
		return matches[0], backends[0], nil
	}
	return "", "", fmt.Errorf("%s: %q names %d functions (%s); write cluster/name to pick one", d.name, ref.Name, len(matches), strings.Join(matches, ", "))
}

func refString(r Ref) string {
	if r.Cluster != "" {
		return r.Cluster + "/" + r.Name
	}
	return r.Name
}

// Set sets field of the function selected by ref to value and returns the
// edited document; d is unchanged. field is a dotted path such as "memory",
// "expose.api_port" or "input[0].path" (for AWS functions it is relative to
// the `lambda:` block unless it starts with iam, batch, ...). value is YAML
// text: "2Gi", "'1.0'", "[8080]". Only the lines of that field change; a
// missing field (and missing parent mappings) is added at the end of its
// mapping.
func (d *Document) Set(ref Ref, field, value string) (*Document, error) {
	base, backend, err := d.FunctionPath(ref)
	if err != nil {
		return nil, err
	}
	segs, err := splitField(field)
	if err != nil {
		return nil, err
	}
	if backend == "aws" && !awsBlocks[segs[0]] {
		segs = append([]string{"lambda"}, segs...)
	}
	return d.SetPath(base, segs, value)
}

// Remove deletes field of the function selected by ref (see Set).
func (d *Document) Remove(ref Ref, field string) (*Document, error) {
	base, backend, err := d.FunctionPath(ref)
	if err != nil {
		return nil, err
	}
	segs, err := splitField(field)
	if err != nil {
		return nil, err
	}
	if backend == "aws" && !awsBlocks[segs[0]] {
		segs = append([]string{"lambda"}, segs...)
	}
	return d.RemovePath(base, segs)
}

// splitField turns "a.b[0].c" into ["a", "b", "0", "c"].
func splitField(field string) ([]string, error) {
	var segs []string
	for _, part := range strings.Split(field, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name == "" && rest == "" {
			return nil, fmt.Errorf("field %q has an empty part", field)
		}
		if name != "" {
			segs = append(segs, name)
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			if _, err := strconv.Atoi(idx); !ok || err != nil {
				return nil, fmt.Errorf("field %q: bad index [%s", field, rest)
			}
			segs = append(segs, idx)
			rest = strings.TrimPrefix(after, "[")
		}
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("field is empty")
	}
	return segs, nil
}

// SetPath sets the value at base (a YAML path recorded by the model, e.g.
// "functions.oscar[0].my_oscar"; "" is the top level) followed by segs.
func (d *Document) SetPath(base string, segs []string, value string) (*Document, error) {
	var newVal yaml.Node
	if err := yaml.Unmarshal([]byte(value), &newVal); err != nil {
		return nil, fmt.Errorf("value %q is not valid YAML: %v", value, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	if len(newVal.Content) > 0 {
		val = newVal.Content[0]
	}
	singleLine := !strings.ContainsAny(strings.TrimSpace(value), "\n\r")
	m, err := d.baseNode(base)
	if err != nil {
		return nil, err
	}
	where := base
	for i, seg := range segs {
		m = resolve(m)
		where = joinPath(where, seg)
		if m.Kind == yaml.SequenceNode {
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 || idx >= len(m.Content) {
				return nil, fmt.Errorf("%s: %s: no list item %s (the list has %d)", d.name, where, seg, len(m.Content))
			}
			if i == len(segs)-1 {
				return nil, fmt.Errorf("%s: %s: replacing a whole list item is not supported; set its fields", d.name, where)
			}
			m = m.Content[idx]
			continue
		}
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: %s: the parent is a %s, not a mapping", d.name, where, kindName(m))
		}
		if m.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("%s: %s: editing inside a flow-style {...} mapping is not supported", d.name, where)
		}
		k, v := lookup(m, seg)
		if k == nil {
			// Missing: add seg (and the rest of the chain) at the end of m.
			return d.insertInto(m, segs[i:], val, value, singleLine)
		}
		if i == len(segs)-1 {
			return d.replaceValue(k, v, val, value, singleLine)
		}
		v = resolve(v)
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			chain := buildChain(segs[i+1:], val)
			return d.replacePair(k, chain)
		}
		m = v
	}
	return nil, fmt.Errorf("%s: nothing to set", d.name)
}

// RemovePath deletes the key at base followed by segs.
func (d *Document) RemovePath(base string, segs []string) (*Document, error) {
	m, err := d.baseNode(base)
	if err != nil {
		return nil, err
	}
	where := base
	for i, seg := range segs {
		m = resolve(m)
		where = joinPath(where, seg)
		if m.Kind == yaml.SequenceNode {
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 || idx >= len(m.Content) || i == len(segs)-1 {
				return nil, fmt.Errorf("%s: %s: cannot remove a list item this way", d.name, where)
			}
			m = m.Content[idx]
			continue
		}
		k, v := lookup(m, seg)
		if k == nil {
			return nil, fmt.Errorf("%s: %s: no such key", d.name, where)
		}
		if i < len(segs)-1 {
			m = v
			continue
		}
		start, end, err := d.pairRegion(k, v)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(string(d.src[d.lines[k.Line-1]:d.offset(k.Line, k.Column)])) != "" {
			return nil, fmt.Errorf("%s: %s: the key shares its line with a list dash or other content; remove the whole item instead", d.name, where)
		}
		return d.splice(d.lines[k.Line-1], end, "", start)
	}
	return nil, fmt.Errorf("%s: nothing to remove", d.name)
}

func joinPath(base, seg string) string {
	if _, err := strconv.Atoi(seg); err == nil {
		return base + "[" + seg + "]"
	}
	if base == "" {
		return seg
	}
	return base + "." + seg
}

// Has reports whether the file writes a value at the YAML path p (as
// "functions.oscar[0].c1.clusters").
func (d *Document) Has(p string) bool { return d.model.nodes[p] != nil }

func (d *Document) baseNode(base string) (*yaml.Node, error) {
	if base == "" {
		return d.root, nil
	}
	n := d.model.nodes[base]
	if n == nil {
		return nil, fmt.Errorf("%s: nothing at %s", d.name, base)
	}
	return n, nil
}

// buildChain wraps val in mappings for the keys of segs.
func buildChain(segs []string, val *yaml.Node) *yaml.Node {
	n := val
	for i := len(segs) - 1; i >= 0; i-- {
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: segs[i]}, n}}
	}
	return n
}

// replaceValue replaces the value v of key k. A single-line value written
// on the key line is replaced in place (keeping a trailing comment and the
// quoting style); anything else rewrites the key's lines.
func (d *Document) replaceValue(k, v, val *yaml.Node, text string, singleLine bool) (*Document, error) {
	if v.Anchor != "" || v.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("%s:%d:%d: the value carries an anchor or alias shared with other parts of the file; edit it where the anchor is defined", d.name, v.Line, v.Column)
	}
	if singleLine && v.Line == k.Line && (val.Kind == yaml.ScalarNode || val.Style&yaml.FlowStyle != 0) {
		if start, end, ok := d.inlineExtent(v); ok {
			text = strings.TrimSpace(text)
			old := d.src[start:end]
			// Keep the quoting style, but not that of an empty string: it
			// must be quoted, so its quotes say nothing of the author's style.
			if val.Kind == yaml.ScalarNode && val.Style == 0 && len(old) > 2 && (old[0] == '\'' || old[0] == '"') && !strings.ContainsAny(text, `'"\`) {
				text = string(old[0]) + text + string(old[0])
			}
			return d.splice(start, end, text, start)
		}
	}
	return d.replacePair(k, val)
}

// replacePair rewrites the lines of key k so that its value is val.
func (d *Document) replacePair(k, val *yaml.Node) (*Document, error) {
	_, v := d.valueOf(k)
	_, end, err := d.pairRegion(k, v)
	if err != nil {
		return nil, err
	}
	pair := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: k.Value}, val}}
	body, err := render(pair)
	if err != nil {
		return nil, err
	}
	// The key's own line keeps whatever precedes the key (indent or "- ").
	keyOff := d.offset(k.Line, k.Column)
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	indent := strings.Repeat(" ", k.Column-1)
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString(indent)
		}
		b.WriteString(l)
		b.WriteString("\n")
	}
	return d.splice(keyOff, end, b.String(), keyOff)
}

// valueOf finds the value node paired with key node k anywhere in the tree.
func (d *Document) valueOf(k *yaml.Node) (*yaml.Node, *yaml.Node) {
	var found *yaml.Node
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if found != nil || n == nil || depth > 200 {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i] == k {
					found = n.Content[i+1]
					return
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(d.root, 0)
	return k, found
}

// insertInto adds segs[0]: ... at the end of block mapping m.
func (d *Document) insertInto(m *yaml.Node, segs []string, val *yaml.Node, text string, singleLine bool) (*Document, error) {
	if len(m.Content) == 0 {
		return nil, fmt.Errorf("%s:%d:%d: cannot add a key to an empty {} mapping", d.name, m.Line, m.Column)
	}
	lastK, lastV := m.Content[len(m.Content)-2], m.Content[len(m.Content)-1]
	_, end, err := d.pairRegion(lastK, lastV)
	if err != nil {
		return nil, err
	}
	indent := strings.Repeat(" ", m.Content[0].Column-1)
	var body string
	if len(segs) == 1 && singleLine && (val.Kind == yaml.ScalarNode || val.Style&yaml.FlowStyle != 0) {
		body = segs[0] + ": " + strings.TrimSpace(text) + "\n"
	} else {
		body, err = render(buildChain(segs, val))
		if err != nil {
			return nil, err
		}
	}
	return d.insertLines(end, indent, body)
}

// render encodes n as block YAML with two-space indentation.
func render(n *yaml.Node) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", fmt.Errorf("rendering the new value: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// inlineExtent returns the byte range of a value written on one line: a
// plain or quoted scalar, or a flow collection.
func (d *Document) inlineExtent(v *yaml.Node) (start, end int, ok bool) {
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || v.Tag != "" && strings.HasPrefix(string(d.src[d.offset(v.Line, v.Column):]), "!") {
		return 0, 0, false
	}
	start = d.offset(v.Line, v.Column)
	lineEnd := len(d.src)
	if v.Line < len(d.lines) {
		lineEnd = d.lines[v.Line] // start of the next line
	}
	rest := d.src[start:lineEnd]
	if len(rest) == 0 {
		return 0, 0, false
	}
	switch rest[0] {
	case '\'':
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				return start, start + i + 1, true
			}
		}
		return 0, 0, false
	case '"':
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\\':
				i++
			case '"':
				return start, start + i + 1, true
			}
		}
		return 0, 0, false
	case '[', '{':
		depth := 0
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return start, start + i + 1, true
				}
			case '\'', '"':
				return 0, 0, false // quoted text inside: let the caller rewrite the lines
			}
		}
		return 0, 0, false
	}
	// Plain scalar: up to a comment or the end of the line.
	e := len(rest)
	for i := 0; i < len(rest); i++ {
		if rest[i] == '\n' || rest[i] == '\r' || (rest[i] == '#' && i > 0 && (rest[i-1] == ' ' || rest[i-1] == '\t')) {
			e = i
			break
		}
	}
	raw := strings.TrimRight(string(rest[:e]), " \t")
	if raw != v.Value {
		return 0, 0, false // continues on the next line, or escapes: not a one-line value
	}
	return start, start + len(raw), true
}

// pairRegion returns the byte range of a block mapping pair, from its key to
// the end of the last line of its value. Trailing blank and comment-only
// lines are left out: they usually describe what follows.
func (d *Document) pairRegion(k, v *yaml.Node) (start, end int, err error) {
	if k.Style&yaml.FlowStyle != 0 || v != nil && v.Kind != yaml.ScalarNode && v.Kind != yaml.AliasNode && v.Style&yaml.FlowStyle != 0 && v.Line != k.Line {
		return 0, 0, fmt.Errorf("%s:%d:%d: editing a multi-line flow collection is not supported", d.name, k.Line, k.Column)
	}
	keyIndent := k.Column - 1
	isSeq := v != nil && resolve(v) != nil && resolve(v).Kind == yaml.SequenceNode && v.Kind != yaml.AliasNode
	last := k.Line // 1-based, last line belonging to the pair
	for ln := k.Line + 1; ln <= len(d.lines); ln++ {
		lineStart := d.lines[ln-1]
		lineEnd := len(d.src)
		if ln < len(d.lines) {
			lineEnd = d.lines[ln]
		}
		text := strings.TrimRight(string(d.src[lineStart:lineEnd]), "\r\n")
		trimmed := strings.TrimLeft(text, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		ind := len(text) - len(trimmed)
		if ind > keyIndent || (ind == keyIndent && isSeq && (trimmed == "-" || strings.HasPrefix(trimmed, "- "))) {
			last = ln
			continue
		}
		break
	}
	start = d.offset(k.Line, k.Column)
	end = len(d.src)
	if last < len(d.lines) {
		end = d.lines[last]
	}
	return start, end, nil
}

// splice replaces src[start:end] with text and reparses: only the edited
// function when it can (spliceItem), else the whole text. at is the
// position reported if the result does not parse.
func (d *Document) splice(start, end int, text string, at int) (*Document, error) {
	if bytes.Contains(d.src, []byte("\r\n")) {
		text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	}
	out := make([]byte, 0, len(d.src)-(end-start)+len(text))
	out = append(out, d.src[:start]...)
	out = append(out, text...)
	out = append(out, d.src[end:]...)
	if nd, ok := d.spliceItem(start, end, out); ok {
		return nd, nil
	}
	nd, err := Parse(d.name, out)
	if err != nil {
		return nil, fmt.Errorf("%s: the edit at byte %d would break the document: %w", d.name, at, err)
	}
	return nd, nil
}

// renameKey rewrites a plain key in place.
func (d *Document) renameKey(k *yaml.Node, name string) (*Document, error) {
	start := d.offset(k.Line, k.Column)
	if k.Style != 0 || !bytes.HasPrefix(d.src[start:], []byte(k.Value)) {
		return nil, fmt.Errorf("%s:%d:%d: only plain keys can be renamed", d.name, k.Line, k.Column)
	}
	return d.splice(start, start+len(k.Value), name, start)
}

// insertLines inserts body at offset end (the end of a block), each of its
// lines indented by indent, starting on a line of its own.
func (d *Document) insertLines(end int, indent, body string) (*Document, error) {
	var b strings.Builder
	if end > 0 && d.src[end-1] != '\n' {
		b.WriteString("\n")
	}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		b.WriteString(indent)
		b.WriteString(l)
		b.WriteString("\n")
	}
	return d.splice(end, end, b.String(), end)
}
