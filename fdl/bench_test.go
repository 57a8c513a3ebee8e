package fdl

import (
	"runtime"
	"testing"
)

const benchServices = 1000

// benchFDL is a generated 1,000-service workflow: 100 chains of 10 stages
// over 3 clusters.
func benchFDL() []byte { return chainFDL(100, 10) }

// reportPerService reports allocated bytes per service per operation and
// the bytes a parsed document keeps alive per service.
func reportPerService(b *testing.B, start runtime.MemStats, retain func() any) {
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	b.ReportMetric(float64(end.TotalAlloc-start.TotalAlloc)/float64(b.N)/benchServices, "alloc-B/service")
	if retain != nil {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		keep := retain()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/benchServices, "retained-B/service")
	}
}

func BenchmarkParseValidateGraph(b *testing.B) {
	data := benchFDL()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var start runtime.MemStats
	runtime.ReadMemStats(&start)
	for b.Loop() {
		d, err := Parse("bench.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if diags := d.Validate(ValidateOptions{}); diags.HasErrors() {
			b.Fatal(diags)
		}
		if g := d.Graph(); len(g.Edges) != 2*benchServices {
			b.Fatalf("got %d edges", len(g.Edges))
		}
	}
	b.StopTimer()
	reportPerService(b, start, func() any {
		d, _ := Parse("bench.yaml", data)
		return d
	})
}

func BenchmarkLayout(b *testing.B) {
	d, err := Parse("bench.yaml", benchFDL())
	if err != nil {
		b.Fatal(err)
	}
	g := d.Graph()
	b.ReportAllocs()
	var start runtime.MemStats
	runtime.ReadMemStats(&start)
	var p *Positions
	for b.Loop() {
		p = Layout(g)
	}
	b.StopTimer()
	if len(p.Nodes) != len(g.Nodes) {
		b.Fatalf("laid out %d of %d nodes", len(p.Nodes), len(g.Nodes))
	}
	b.ReportMetric(float64(len(g.Nodes)), "nodes")
	reportPerService(b, start, nil)
}

// TestBenchFDLShape makes sure the benchmark input is what it claims.
func TestBenchFDLShape(t *testing.T) {
	d := mustParse(t, "bench.yaml", benchFDL())
	if n := len(d.Model().Oscar); n != benchServices {
		t.Fatalf("%d services, want %d", n, benchServices)
	}
	g := d.Graph()
	// 1,000 services + 100 chains × 11 folders.
	if len(g.Nodes) != benchServices+1100 {
		t.Errorf("%d nodes", len(g.Nodes))
	}
	if c := Crossings(g, Layout(g)); c != 0 {
		t.Errorf("independent chains laid out with %d crossings", c)
	}
}
