package fdl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync/atomic"

	"gopkg.in/yaml.v3"
)

// Incremental edits. The composer edits one function at a time in files of
// hundreds of functions; re-parsing the whole text after each line splice
// costs most of an edit's time. spliceItem re-parses only the list item of
// functions.oscar or functions.aws that the splice falls in and puts the
// new nodes in place of the old ones, sharing every other node with the
// previous document (or copying it with shifted line numbers when the edit
// added or removed lines). Like splice's full re-parse it applies the
// default limits. The result equals a full Parse of the new text:
// the same text, node tree (kinds, styles, tags, values, positions), model
// and diagnostics; FuzzIncrementalEdits checks that. Node comments (the
// HeadComment, LineComment and FootComment fields, which nothing in fdl
// reads) may be attached differently. Whenever an edit might parse
// differently in its item than in the whole file, spliceItem declines and
// splice parses the whole text.

// incrementalSplices counts the edits spliceItem applied (tests check
// that the incremental path is the one taken).
var incrementalSplices atomic.Int64

// spliceItem returns the document whose text is out, the text of d with
// src[start:end] replaced, or false when the edit is not confined to one
// function of a plain block list.
func (d *Document) spliceItem(start, end int, out []byte) (*Document, bool) {
	if !d.plain || bytes.IndexByte(d.src, '\r') >= 0 || len(out) > defaultLimits.MaxBytes {
		return nil, false
	}
	root := d.root
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 {
		return nil, false
	}
	fi := pairIndex(root, "functions")
	if fi < 0 {
		return nil, false
	}
	fns := root.Content[fi+1]
	if fns.Kind != yaml.MappingNode || fns.Style&yaml.FlowStyle != 0 {
		return nil, false
	}
	for li := 0; li+1 < len(fns.Content); li += 2 {
		lk, seq := fns.Content[li], fns.Content[li+1]
		if lk.Value != "oscar" && lk.Value != "aws" || seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
			continue
		}
		_, listEnd, err := d.pairRegion(lk, seq)
		if err != nil {
			return nil, false
		}
		for j := range seq.Content {
			rs := d.lines[d.dashLine(seq.Content[j])-1]
			re := listEnd
			if j+1 < len(seq.Content) {
				re = d.lines[d.dashLine(seq.Content[j+1])-1]
			}
			if start < rs || end > re {
				continue
			}
			items, ok := d.parseRegion(seq, j, rs, re, len(out)-len(d.src), out)
			if !ok {
				return nil, false
			}
			incrementalSplices.Add(1)
			return d.replaceItem(fi, li, j, rs, re, items, out), true
		}
	}
	return nil, false
}

// pairIndex is the index in m.Content of key, or -1.
func pairIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// parsedItems is what a region of item lines parsed to.
type parsedItems struct {
	nodes    []*yaml.Node
	line     int // position of the first dash (of the parsed list node)
	col      int
	oldSize  int // node count of the replaced item
	newSize  int
	oldLines int
	newLines int
}

// parseRegion parses the new text of item j of seq, which spanned
// src[rs:re] and changed length by grow, into list items. It declines when
// the text could parse differently on its own than within the file: a line
// that leaves the list, anchors or aliases, a syntax error (the full parse
// reports it at its place), or limits.
func (d *Document) parseRegion(seq *yaml.Node, j, rs, re, grow int, out []byte) (parsedItems, bool) {
	var p parsedItems
	region := out[rs : re+grow]
	if len(region) > 0 && region[len(region)-1] != '\n' && re+grow != len(out) {
		return p, false
	}
	dash := d.dashColumn(seq.Content[0]) - 1 // indent of the list's dashes
	for rest := region; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		t := bytes.TrimLeft(line, " ")
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		ind := len(line) - len(t)
		if ind > dash || ind == dash && (bytes.Equal(t, []byte("-")) || bytes.HasPrefix(t, []byte("- "))) {
			continue
		}
		return p, false
	}
	p.oldLines = bytes.Count(d.src[rs:re], []byte{'\n'})
	p.newLines = bytes.Count(region, []byte{'\n'})
	var file yaml.Node
	ok := func() (ok bool) {
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		dec := yaml.NewDecoder(bytes.NewReader(region))
		if err := dec.Decode(&file); err != nil {
			return errors.Is(err, io.EOF) // only comments or nothing: no items
		}
		var extra yaml.Node
		return errors.Is(dec.Decode(&extra), io.EOF)
	}()
	if !ok {
		return p, false
	}
	if file.Kind == yaml.DocumentNode && len(file.Content) == 1 {
		top := file.Content[0]
		if top.Kind != yaml.SequenceNode || top.Style&yaml.FlowStyle != 0 || top.Column != seq.Column {
			return p, false
		}
		// The list sits at depth 3 (document, top mapping, functions); its
		// items at 4.
		size, plain, err := checkSize(top, 3, defaultLimits)
		if err != nil || !plain {
			return p, false
		}
		if _, _, _, dup := duplicateKey(top); dup {
			return p, false
		}
		p.nodes, p.newSize = top.Content, size-1
		p.line, p.col = top.Line+d.lineOf(rs)-1, top.Column
		shift(p.nodes, d.lineOf(rs)-1)
	} else if file.Kind != 0 || j == 0 {
		// Removing the first item would move the list node to the next
		// dash; let the full parse place it.
		return p, false
	}
	old, _, _ := checkSize(seq.Content[j], 4, defaultLimits)
	p.oldSize = old
	if d.size-p.oldSize+p.newSize > defaultLimits.MaxNodes {
		return p, false
	}
	return p, true
}

// lineOf is the 1-based line of byte offset off (the start of a line).
func (d *Document) lineOf(off int) int {
	lo, hi := 0, len(d.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if d.lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1
}

// shift moves nodes (in place) down by delta lines.
func shift(nodes []*yaml.Node, delta int) {
	if delta == 0 {
		return
	}
	for _, n := range nodes {
		n.Line += delta
		shift(n.Content, delta)
	}
}

// shifted returns n, or a copy of it moved by delta lines; moved records
// each copy under its original.
func shifted(n *yaml.Node, delta int, moved map[*yaml.Node]*yaml.Node) *yaml.Node {
	if delta == 0 {
		return n
	}
	c := *n
	c.Line += delta
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, ch := range n.Content {
			c.Content[i] = shifted(ch, delta, moved)
		}
	}
	moved[n] = &c
	return &c
}

// replaceItem builds the document with item j of the list at
// root.functions.Content[li+1] replaced by items: new top, functions and
// list nodes, the nodes before the item shared, those after it shared or
// moved.
func (d *Document) replaceItem(fi, li, j, rs, re int, p parsedItems, out []byte) *Document {
	delta := p.newLines - p.oldLines
	moved := map[*yaml.Node]*yaml.Node{}
	root, fns := d.root, d.root.Content[fi+1]
	seq := fns.Content[li+1]

	nseq := *seq
	if j == 0 {
		nseq.Line, nseq.Column = p.line, p.col // a list is where its first dash is
	}
	nseq.Content = make([]*yaml.Node, 0, len(seq.Content)-1+len(p.nodes))
	nseq.Content = append(nseq.Content, seq.Content[:j]...)
	nseq.Content = append(nseq.Content, p.nodes...)
	for _, n := range seq.Content[j+1:] {
		nseq.Content = append(nseq.Content, shifted(n, delta, moved))
	}

	nfns := *fns
	nfns.Content = make([]*yaml.Node, len(fns.Content))
	copy(nfns.Content, fns.Content[:li+1])
	nfns.Content[li+1] = &nseq
	for i := li + 2; i < len(fns.Content); i++ {
		nfns.Content[i] = shifted(fns.Content[i], delta, moved)
	}

	nroot := *root
	nroot.Content = make([]*yaml.Node, len(root.Content))
	copy(nroot.Content, root.Content[:fi+1])
	nroot.Content[fi+1] = &nfns
	for i := fi + 2; i < len(root.Content); i++ {
		nroot.Content[i] = shifted(root.Content[i], delta, moved)
	}
	moved[seq], moved[fns], moved[root] = &nseq, &nfns, &nroot

	nd := &Document{name: d.name, src: out, root: &nroot, lines: lineStarts(out),
		size: d.size - p.oldSize + p.newSize, plain: true}
	if fns.Content[li].Value == "oscar" && (len(p.nodes) == 1 || j == len(seq.Content)-1) && len(d.model.oscarItems) == len(seq.Content)+1 {
		nd.model, nd.diags = d.updateModel(nd, j, p.nodes, delta, d.lineOf(re), moved)
	} else {
		nd.model, nd.diags = buildModel(nd)
	}
	return nd
}

// updateModel is buildModel for nd, the document d with item j of
// functions.oscar replaced by items, when no item after it changes index:
// only the new items are decoded; the rest of d's model is kept, its nodes
// swapped for their moved copies and the diagnostics after the item
// shifted by delta lines (from line after on).
func (d *Document) updateModel(nd *Document, j int, items []*yaml.Node, delta, after int, moved map[*yaml.Node]*yaml.Node) (*Model, []Diagnostic) {
	om := d.model
	m := &Model{AWS: om.AWS, StorageProviders: om.StorageProviders, Clusters: om.Clusters,
		nodes: make(map[string]*yaml.Node, len(om.nodes)), keys: make(map[string]*yaml.Node, len(om.keys))}
	ipath := fmt.Sprintf("functions.oscar[%d]", j)
	for _, c := range []struct{ from, to map[string]*yaml.Node }{{om.nodes, m.nodes}, {om.keys, m.keys}} {
		for p, n := range c.from {
			if strings.HasPrefix(p, ipath) && (len(p) == len(ipath) || p[len(ipath)] == '.' || p[len(ipath)] == '[') {
				continue
			}
			if mv, ok := moved[n]; ok {
				n = mv
			}
			c.to[p] = n
		}
	}
	from, to := om.oscarItems[j], om.oscarItems[j+1]
	m.Oscar = append(make([]*OscarEntry, 0, len(om.Oscar)+len(items)), om.Oscar[:from.entry]...)
	dc := &decoder{file: d.name, model: m, fields: map[reflect.Type]map[string]fieldInfo{}}
	dc.diags = append(make([]Diagnostic, 0, len(d.diags)), d.diags[:from.diag]...)
	m.oscarItems = append(make([]oscarItem, 0, len(om.oscarItems)+len(items)), om.oscarItems[:j]...)
	for k, item := range items {
		m.oscarItems = append(m.oscarItems, oscarItem{entry: len(m.Oscar), diag: len(dc.diags)})
		dc.oscarItem(item, "functions.oscar", j+k)
	}
	dEntry, dDiag := len(m.Oscar)-to.entry, len(dc.diags)-to.diag
	m.Oscar = append(m.Oscar, om.Oscar[to.entry:]...)
	for _, it := range om.oscarItems[j+1:] {
		m.oscarItems = append(m.oscarItems, oscarItem{entry: it.entry + dEntry, diag: it.diag + dDiag})
	}
	for _, dg := range d.diags[to.diag:] {
		if dg.Line >= after {
			dg.Line += delta
		}
		dc.diags = append(dc.diags, dg)
	}
	if len(dc.diags) == 0 {
		return m, nil // as buildModel
	}
	return m, dc.diags
}
