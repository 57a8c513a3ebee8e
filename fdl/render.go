package fdl

import (
	"fmt"
	"html"
	"io"
	"strconv"
)

func nodeLabel(n Node) string {
	if n.Kind == KindStorage {
		return n.Provider + ": " + n.Path
	}
	if n.Backend == "oscar" {
		return n.Name + " (" + n.Cluster + ")"
	}
	return n.Name + " (aws)"
}

// WriteDOT writes the graph in Graphviz DOT, left to right. Prefix links are
// dashed.
func WriteDOT(w io.Writer, g *Graph) error {
	pr := &errWriter{w: w}
	pr.printf("digraph fdl {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n")
	for _, n := range g.Nodes {
		shape := "box"
		if n.Kind == KindStorage {
			shape = "cylinder"
		}
		pr.printf("  %s [label=%s, shape=%s];\n", strconv.Quote(n.ID), strconv.Quote(nodeLabel(n)), shape)
	}
	for _, e := range g.Edges {
		pr.printf("  %s -> %s [label=%s];\n", strconv.Quote(e.From), strconv.Quote(e.To), strconv.Quote(e.Role))
	}
	for _, m := range g.MayTrigger {
		pr.printf("  %s -> %s [label=\"may trigger\", style=dashed];\n", strconv.Quote(m.From), strconv.Quote(m.To))
	}
	pr.printf("}\n")
	return pr.err
}

// WriteSVG draws the graph with the given layout as a standalone SVG.
func WriteSVG(w io.Writer, g *Graph, p *Positions) error {
	pr := &errWriter{w: w}
	const pad = 20.0
	pr.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="%g %g %g %g" font-family="sans-serif" font-size="12">`+"\n",
		p.Width+2*pad, p.Height+2*pad, -pad, -pad, p.Width+2*pad, p.Height+2*pad)
	pr.printf(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0L10,5L0,10z"/></marker></defs>` + "\n")
	line := func(from, to string, dash string) {
		a, ok1 := p.Nodes[from]
		b, ok2 := p.Nodes[to]
		if !ok1 || !ok2 {
			return
		}
		pr.printf(`<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#555"%s marker-end="url(#arrow)"/>`+"\n",
			a.X+NodeWidth, a.Y+NodeHeight/2, b.X, b.Y+NodeHeight/2, dash)
	}
	for _, e := range g.Edges {
		line(e.From, e.To, "")
	}
	for _, m := range g.MayTrigger {
		line(m.From, m.To, ` stroke-dasharray="4 3"`)
	}
	for _, n := range g.Nodes {
		pt := p.Nodes[n.ID]
		fill, rx := "#e8f0fe", 4
		if n.Kind == KindStorage {
			fill, rx = "#fef7e0", 16
		}
		label := nodeLabel(n)
		if r := []rune(label); len(r) > 28 {
			label = string(r[:27]) + "…"
		}
		pr.printf(`<g><title>%s</title><rect x="%g" y="%g" width="%g" height="%g" rx="%d" fill="%s" stroke="#333"/><text x="%g" y="%g" text-anchor="middle">%s</text></g>`+"\n",
			html.EscapeString(n.ID), pt.X, pt.Y, NodeWidth, NodeHeight, rx, fill, pt.X+NodeWidth/2, pt.Y+NodeHeight/2+4, html.EscapeString(label))
	}
	pr.printf("</svg>\n")
	return pr.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
