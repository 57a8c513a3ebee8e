package fdl

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// incrementalStarts are the documents edit sequences start from: the
// reference examples, a commented file and a generated chain.
func incrementalStarts(tb testing.TB) [][]byte {
	var out [][]byte
	for _, file := range exampleFiles(tb) {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	out = append(out, []byte(`# two stages
functions:
  # OSCAR services
  oscar:
  - my_oscar:
      name: first   # blurs faces
      memory: 2Gi
      script: a.sh
      image: img/a
      input:
      - storage_provider: minio
        path: b/in
      output:
      - storage_provider: minio
        path: b/mid
  # second stage
  - my_oscar:
      name: second
      memory: 1Gi
      script: b.sh
      image: img/b
      input:
      - storage_provider: minio
        path: b/mid
    # the last line of the list
  aws:
    - lambda:
        name: third
        region: us-east-1
        memory: 512
        input:
          - storage_provider: s3
            path: x/in
# the end
storage_providers:
  minio:
    default:
      endpoint: http://localhost:9000
`), chainFDL(3, 4))
	return out
}

// randomEdit applies one random composer edit to d; nil when it was
// refused (refusals are fine: the same edit is refused either way).
func randomEdit(r *rand.Rand, d *Document) *Document {
	var refs []Ref
	for _, e := range d.Model().Oscar {
		refs = append(refs, Ref{Cluster: e.Cluster, Name: e.Service.Name})
	}
	for _, e := range d.Model().AWS {
		if e.Lambda != nil {
			refs = append(refs, Ref{Name: e.Lambda.Name})
		}
	}
	pick := func() Ref {
		if len(refs) == 0 {
			return Ref{Name: "none"}
		}
		return refs[r.IntN(len(refs))]
	}
	var nd *Document
	var err error
	switch r.IntN(10) {
	case 0, 1:
		nd, err = d.Set(pick(), []string{"memory", "image", "cpu", "script"}[r.IntN(4)], fmt.Sprintf("v%d", r.IntN(1000)))
	case 2:
		nd, err = d.Set(pick(), []string{"environment.variables.K", "expose.api_port", "log_level", "alpine"}[r.IntN(4)],
			[]string{"x", "8080", "[1, 2]", "'quoted'", "|\n  two\n  lines\n"}[r.IntN(5)])
	case 3:
		nd, err = d.Remove(pick(), []string{"memory", "image", "cpu", "input", "output", "environment", "expose"}[r.IntN(7)])
	case 4:
		be := []string{"oscar", "aws"}[r.IntN(2)]
		nd, err = d.AddFunction(NewFunction{Backend: be, Cluster: "c" + fmt.Sprint(r.IntN(2)), Name: fmt.Sprintf("new-%d", r.IntN(1000)), Image: "img", Memory: "256"})
	case 5:
		ref := pick()
		nd, err = d.RemoveFunction(ref)
	case 6:
		prov := []string{"minio", "minio.default", "s3", "webdav.x"}[r.IntN(4)]
		nd, err = d.AddLink(pick(), []string{"input", "output"}[r.IntN(2)], prov, fmt.Sprintf("b/p%d", r.IntN(50)))
	case 7:
		if es := d.Graph().Edges; len(es) > 0 {
			nd, err = d.RemoveLink(es[r.IntN(len(es))].YAMLPath)
		}
	case 8:
		nd, err = d.RenameFunction(pick(), fmt.Sprintf("renamed-%d", r.IntN(1000)))
	case 9:
		nd, err = d.Set(pick(), "input[0].path", fmt.Sprintf("b/q%d", r.IntN(50)))
	}
	if err != nil {
		return nil
	}
	return nd
}

// sameTree reports the first difference between two node trees, ignoring
// comments.
func sameTree(a, b *yaml.Node, where string) string {
	if a == nil || b == nil {
		if a != b {
			return where + ": one is nil"
		}
		return ""
	}
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor ||
		a.Line != b.Line || a.Column != b.Column || len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: %+v != %+v", where, *a, *b)
	}
	for i := range a.Content {
		if s := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", where, i)); s != "" {
			return s
		}
	}
	return ""
}

// sameDocument fails t when got, the result of an edit, differs from a
// full parse of its text in tree, model, diagnostics, graph or layout.
func sameDocument(t *testing.T, got *Document) {
	t.Helper()
	want, err := Parse(got.Name(), got.Bytes())
	if err != nil {
		t.Fatalf("the edited text does not parse: %v\n%s", err, got.Bytes())
	}
	if s := sameTree(got.root, want.root, "root"); s != "" {
		t.Fatalf("trees differ at %s\n%s", s, got.Bytes())
	}
	if got.size != want.size || got.plain != want.plain || !reflect.DeepEqual(got.lines, want.lines) {
		t.Fatalf("size %d/%d, plain %v/%v, lines equal %v", got.size, want.size, got.plain, want.plain, reflect.DeepEqual(got.lines, want.lines))
	}
	gm, wm := got.Model(), want.Model()
	if !reflect.DeepEqual(gm.Oscar, wm.Oscar) || !reflect.DeepEqual(gm.AWS, wm.AWS) ||
		!reflect.DeepEqual(gm.StorageProviders, wm.StorageProviders) || !reflect.DeepEqual(gm.Clusters, wm.Clusters) {
		t.Fatalf("models differ\n%s", got.Bytes())
	}
	for _, m := range []struct{ got, want map[string]*yaml.Node }{{gm.nodes, wm.nodes}, {gm.keys, wm.keys}} {
		if len(m.got) != len(m.want) {
			t.Fatalf("model paths: %d, want %d", len(m.got), len(m.want))
		}
		for p, n := range m.want {
			if s := sameTree(m.got[p], n, p); s != "" {
				t.Fatalf("model node differs: %s", s)
			}
		}
	}
	if !reflect.DeepEqual(got.diags, want.diags) {
		t.Fatalf("diagnostics differ:\n%v\n%v", got.diags, want.diags)
	}
	if g, w := got.Validate(ValidateOptions{}), want.Validate(ValidateOptions{}); !reflect.DeepEqual(g, w) {
		t.Fatalf("validation differs:\n%v\n%v", g, w)
	}
	gg, wg := got.Graph(), want.Graph()
	if !reflect.DeepEqual(gg, wg) {
		t.Fatalf("graphs differ")
	}
	if !reflect.DeepEqual(Layout(gg), Layout(wg)) {
		t.Fatalf("layouts differ")
	}
}

// runEdits applies n random edits from start, checking each result
// against a full parse; it returns how many edits took the incremental
// path.
func runEdits(t *testing.T, start []byte, seed uint64, n int) (edits, incremental int) {
	d, err := Parse("w.yaml", start)
	if err != nil {
		return 0, 0
	}
	r := rand.New(rand.NewPCG(seed, seed>>32))
	for range n {
		before := incrementalSplices.Load()
		nd := randomEdit(r, d)
		if nd == nil {
			continue
		}
		edits++
		if incrementalSplices.Load() > before {
			incremental++
		}
		sameDocument(t, nd)
		d = nd
	}
	return edits, incremental
}

// TestIncrementalEditsEqualFullParse applies random edit sequences to
// every starting document; each result equals a full parse of its text,
// and most edits are incremental.
func TestIncrementalEditsEqualFullParse(t *testing.T) {
	var edits, incremental int
	for i, start := range incrementalStarts(t) {
		for seed := range uint64(8) {
			e, inc := runEdits(t, start, seed*7919+uint64(i), 40)
			edits += e
			incremental += inc
		}
	}
	t.Logf("%d edits, %d incremental", edits, incremental)
	if edits < 1000 || incremental*2 < edits {
		t.Fatalf("%d edits of which %d incremental: the test no longer exercises the incremental path", edits, incremental)
	}
}

// FuzzIncrementalEdits is TestIncrementalEditsEqualFullParse with
// fuzzed seeds and starting documents.
func FuzzIncrementalEdits(f *testing.F) {
	for _, s := range incrementalStarts(f) {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, start []byte, seed uint64) {
		runEdits(t, start, seed, 20)
	})
}

// TestIncrementalDeclines: edits that could parse differently on their
// own take the full parse, and the result is still right.
func TestIncrementalDeclines(t *testing.T) {
	anchored := "functions:\n  oscar:\n  - c:\n      name: a\n      image: &img busybox\n      script: s.sh\n  - c:\n      name: b\n      image: *img\n      script: s.sh\n"
	d := mustParse(t, "w.yaml", []byte(anchored))
	before := incrementalSplices.Load()
	nd, err := d.Set(Ref{Name: "b"}, "memory", "1Gi")
	if err != nil {
		t.Fatal(err)
	}
	if incrementalSplices.Load() != before {
		t.Error("a document with anchors was edited incrementally")
	}
	sameDocument(t, nd)

	// A value that breaks out of its item is refused as before.
	plain := "functions:\n  oscar:\n  - c:\n      name: a\n      image: busybox\n      script: s.sh\n"
	d = mustParse(t, "w.yaml", []byte(plain))
	if _, err := d.Set(Ref{Name: "a"}, "image", "\"unclosed"); err == nil {
		t.Error("an unclosed quote was accepted")
	}
	keys := make([]string, 0, len(d.Model().nodes))
	for k := range d.Model().nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !strings.Contains(strings.Join(keys, " "), "functions.oscar[0].c.image") {
		t.Errorf("paths: %v", keys)
	}
}
