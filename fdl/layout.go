package fdl

import (
	"sort"
)

// Layout geometry, in pixels.
const (
	NodeWidth  = 180.0
	NodeHeight = 48.0
	gapX       = 80.0
	gapY       = 24.0
)

// Point is the top-left corner of a node box.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Positions is a layout of a graph. It is kept beside the FDL, never
// written into it.
type Positions struct {
	Nodes  map[string]Point `json:"nodes"`
	Width  float64          `json:"width"`
	Height float64          `json:"height"`
}

// Layout places the graph left to right in layers: longest-path layering
// (cycles are broken by ignoring DFS back edges), then barycenter sweeps to
// reduce edge crossings. It is deterministic for a given graph.
func Layout(g *Graph) *Positions {
	n := len(g.Nodes)
	index := make(map[string]int, n)
	for i, nd := range g.Nodes {
		index[nd.ID] = i
	}
	out := make([][]int, n)
	in := make([][]int, n)
	for _, e := range g.Edges {
		a, ok1 := index[e.From]
		b, ok2 := index[e.To]
		if ok1 && ok2 && a != b {
			out[a] = append(out[a], b)
		}
	}
	// Drop back edges found by an iterative DFS, leaving a DAG.
	state := make([]uint8, n) // 0 new, 1 on stack, 2 done
	type frame struct{ v, next int }
	for s := 0; s < n; s++ {
		if state[s] != 0 {
			continue
		}
		stack := []frame{{s, 0}}
		state[s] = 1
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next < len(out[f.v]) {
				w := out[f.v][f.next]
				switch state[w] {
				case 0:
					f.next++
					state[w] = 1
					stack = append(stack, frame{w, 0})
				case 1: // back edge: remove it
					out[f.v][f.next] = out[f.v][len(out[f.v])-1]
					out[f.v] = out[f.v][:len(out[f.v])-1]
				default:
					f.next++
				}
				continue
			}
			state[f.v] = 2
			stack = stack[:len(stack)-1]
		}
	}
	for a, ws := range out {
		for _, b := range ws {
			in[b] = append(in[b], a)
		}
	}
	// Longest-path layering in topological order.
	layer := make([]int, n)
	indeg := make([]int, n)
	for v := range in {
		indeg[v] = len(in[v])
	}
	queue := make([]int, 0, n)
	for v := 0; v < n; v++ {
		if indeg[v] == 0 {
			queue = append(queue, v)
		}
	}
	maxLayer := 0
	for i := 0; i < len(queue); i++ {
		v := queue[i]
		for _, w := range out[v] {
			if layer[v]+1 > layer[w] {
				layer[w] = layer[v] + 1
				maxLayer = max(maxLayer, layer[w])
			}
			if indeg[w]--; indeg[w] == 0 {
				queue = append(queue, w)
			}
		}
	}
	// A source placed far left of its only successor looks odd: pull
	// sources to just before their earliest successor.
	for v := 0; v < n; v++ {
		if len(in[v]) == 0 && len(out[v]) > 0 {
			m := 1 << 30
			for _, w := range out[v] {
				m = min(m, layer[w])
			}
			layer[v] = m - 1
		}
	}
	layers := make([][]int, maxLayer+1)
	for v := 0; v < n; v++ {
		layers[layer[v]] = append(layers[layer[v]], v)
	}
	pos := make([]float64, n) // order within the layer
	for _, l := range layers {
		for i, v := range l {
			pos[v] = float64(i)
		}
	}
	bary := make([]float64, n)
	sweep := func(l []int, nb [][]int) {
		for _, v := range l {
			if len(nb[v]) == 0 {
				bary[v] = pos[v]
				continue
			}
			s := 0.0
			for _, w := range nb[v] {
				s += pos[w]
			}
			bary[v] = s / float64(len(nb[v]))
		}
		sort.SliceStable(l, func(i, j int) bool { return bary[l[i]] < bary[l[j]] })
		for i, v := range l {
			pos[v] = float64(i)
		}
	}
	for iter := 0; iter < 8; iter++ {
		if iter%2 == 0 {
			for i := 1; i < len(layers); i++ {
				sweep(layers[i], in)
			}
		} else {
			for i := len(layers) - 2; i >= 0; i-- {
				sweep(layers[i], out)
			}
		}
	}
	p := &Positions{Nodes: make(map[string]Point, n)}
	tallest := 0
	for _, l := range layers {
		tallest = max(tallest, len(l))
	}
	for li, l := range layers {
		offset := float64(tallest-len(l)) * (NodeHeight + gapY) / 2
		for i, v := range l {
			p.Nodes[g.Nodes[v].ID] = Point{X: float64(li) * (NodeWidth + gapX), Y: offset + float64(i)*(NodeHeight+gapY)}
		}
	}
	if n > 0 {
		p.Width = float64(len(layers))*(NodeWidth+gapX) - gapX
		p.Height = float64(tallest)*(NodeHeight+gapY) - gapY
	}
	return p
}

// Crossings counts pairs of edges that cross between adjacent columns of a
// layout (a quality measure for tests and benchmarks).
func Crossings(g *Graph, p *Positions) int {
	type seg struct{ x, y1, y2 float64 }
	var segs []seg
	for _, e := range g.Edges {
		a, b := p.Nodes[e.From], p.Nodes[e.To]
		if b.X-a.X == NodeWidth+gapX {
			segs = append(segs, seg{a.X, a.Y, b.Y})
		}
	}
	c := 0
	for i := range segs {
		for j := i + 1; j < len(segs); j++ {
			s, t := segs[i], segs[j]
			if s.x == t.x && (s.y1-t.y1)*(s.y2-t.y2) < 0 {
				c++
			}
		}
	}
	return c
}
