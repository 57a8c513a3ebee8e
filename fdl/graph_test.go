package fdl

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func edgeSet(g *Graph) map[string]bool {
	s := map[string]bool{}
	for _, e := range g.Edges {
		s[e.From+" -"+e.Role+"-> "+e.To] = true
	}
	return s
}

func TestGraphIdentity(t *testing.T) {
	src := `functions:
  oscar:
  - c1:
      name: a
      image: i
      script: s
      input:
      - storage_provider: minio
        path: ' /in/ '
      output:
      - storage_provider: s3.acct1
        path: shared/x
      - storage_provider: minio.ext1
        path: data/out
      - storage_provider: minio
        path: a/deep/out
  - c2:
      name: b
      image: i
      script: s
      input:
      - storage_provider: minio.ext2
        path: data/out
      - storage_provider: minio
        path: a/in
      - storage_provider: minio.c1
        path: a/deep
  aws:
  - lambda:
      name: f
      container: {image: i}
      input:
      - storage_provider: s3
        path: shared/x
storage_providers:
  s3:
    acct1: {region: us-east-1}
  minio:
    ext1: {endpoint: 'https://minio.example.org/'}
    ext2: {endpoint: 'http://MINIO.example.org'}
`
	g := mustParse(t, "g.yaml", []byte(src)).Graph()
	want := []string{
		// bare path gets the service name as bucket; spaces and slashes trimmed
		"storage:minio@c1:a/in -input-> oscar/c1/a",
		// s3 is global: s3.acct1 and bare s3 are the same bucket
		"oscar/c1/a -output-> storage:s3:shared/x",
		"storage:s3:shared/x -input-> aws/f",
		// two declared providers with the same endpoint are one store
		"oscar/c1/a -output-> storage:minio@minio.example.org:data/out",
		"storage:minio@minio.example.org:data/out -input-> oscar/c2/b",
		// minio.default on c2 is c2's MinIO: a/in there is not c1's a/in
		"storage:minio@c2:a/in -input-> oscar/c2/b",
		// minio.<cluster id> is that cluster's MinIO
		"storage:minio@c1:a/deep -input-> oscar/c2/b",
		"oscar/c1/a -output-> storage:minio@c1:a/deep/out",
	}
	got := edgeSet(g)
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing edge %s", w)
		}
	}
	if len(g.Edges) != len(want) {
		t.Errorf("got %d edges, want %d: %v", len(g.Edges), len(want), got)
	}
	// a/deep/out lands under b's input folder a/deep on the same MinIO.
	wantMT := MayTrigger{From: "storage:minio@c1:a/deep/out", Via: "storage:minio@c1:a/deep", To: "oscar/c2/b"}
	if len(g.MayTrigger) != 1 || g.MayTrigger[0] != wantMT {
		t.Errorf("may_trigger = %+v, want [%+v]", g.MayTrigger, wantMT)
	}
	for _, n := range g.Nodes {
		if n.ID == "storage:minio@minio.example.org:data/out" && (n.Provider != "minio.ext1" || n.Endpoint == "") {
			t.Errorf("declared store node = %+v", n)
		}
		if n.ID == "storage:minio@c2:a/in" && n.Cluster != "c2" {
			t.Errorf("cluster store node = %+v", n)
		}
	}
	if len(g.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", g.Warnings)
	}
}

// chainFDL builds a workflow of chains×length services on a few clusters,
// each stage reading the previous stage's output.
func chainFDL(chains, length int) []byte {
	var b bytes.Buffer
	b.WriteString("# generated workflow\nfunctions:\n  oscar:\n")
	for c := 0; c < chains; c++ {
		for s := 0; s < length; s++ {
			fmt.Fprintf(&b, "  - cluster-%d:\n      name: svc-%d-%d\n      image: ghcr.io/example/stage:%d\n      script: stage.sh\n      memory: 1Gi\n      cpu: '0.5'\n", c%3, c, s, s)
			fmt.Fprintf(&b, "      environment:\n        variables:\n          STAGE: \"%d\"\n", s)
			fmt.Fprintf(&b, "      input:\n      - storage_provider: minio\n        path: chain-%d/stage-%d\n", c, s)
			fmt.Fprintf(&b, "      output:\n      - storage_provider: minio\n        path: chain-%d/stage-%d\n", c, s+1)
		}
	}
	return b.Bytes()
}

func TestLayout(t *testing.T) {
	// Document order makes edges cross: x1 feeds y2, x2 feeds y1.
	src := `functions:
  oscar:
  - c: {name: x1, image: i, script: s, input: [{storage_provider: minio, path: b/i1}], output: [{storage_provider: minio, path: b/m2}]}
  - c: {name: x2, image: i, script: s, input: [{storage_provider: minio, path: b/i2}], output: [{storage_provider: minio, path: b/m1}]}
  - c: {name: y1, image: i, script: s, input: [{storage_provider: minio, path: b/m1}], output: [{storage_provider: minio, path: b/o1}]}
  - c: {name: y2, image: i, script: s, input: [{storage_provider: minio, path: b/m2}], output: [{storage_provider: minio, path: b/o2}]}
`
	g := mustParse(t, "l.yaml", []byte(src)).Graph()
	p := Layout(g)
	if len(p.Nodes) != len(g.Nodes) {
		t.Fatalf("positions for %d of %d nodes", len(p.Nodes), len(g.Nodes))
	}
	if c := Crossings(g, p); c != 0 {
		t.Errorf("crossings = %d, want 0", c)
	}
	for _, e := range g.Edges {
		if p.Nodes[e.From].X >= p.Nodes[e.To].X {
			t.Errorf("edge %s -> %s does not go left to right", e.From, e.To)
		}
	}
	seen := map[Point]string{}
	for id, pt := range p.Nodes {
		if other, dup := seen[pt]; dup {
			t.Errorf("%s and %s overlap at %v", id, other, pt)
		}
		seen[pt] = id
	}
	// Deterministic.
	p2 := Layout(g)
	for id, pt := range p.Nodes {
		if p2.Nodes[id] != pt {
			t.Errorf("layout not deterministic for %s", id)
		}
	}
	// A cycle still lays out.
	loop := mustParse(t, "c.yaml", []byte(`functions:
  oscar:
  - c: {name: a, image: i, script: s, input: [{storage_provider: minio, path: b/x}], output: [{storage_provider: minio, path: b/y}]}
  - c: {name: b, image: i, script: s, input: [{storage_provider: minio, path: b/y}], output: [{storage_provider: minio, path: b/x}]}
`)).Graph()
	if lp := Layout(loop); len(lp.Nodes) != 4 {
		t.Errorf("cycle layout has %d nodes", len(lp.Nodes))
	}
}

func TestSVGEscapes(t *testing.T) {
	g := &Graph{Nodes: []Node{{ID: "oscar/c/<b>", Kind: KindService, Name: "<b>&", Backend: "oscar", Cluster: "c"}}}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, g, Layout(g)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "<b>") {
		t.Errorf("SVG not escaped: %s", buf.String())
	}
}
