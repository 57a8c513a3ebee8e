package handlers

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/fdl"
)

const commented = `# Mask detection, two stages.
functions:
  # OSCAR services
  oscar:
  - my_oscar:
      name: anon-and-split   # blurs faces
      memory: 2Gi
      cpu: '1.0'
      image: grycap/blurry-faces
      script: blurry-faces.sh
      input:
      - storage_provider: minio
        path: mask-detector/input
      output:
      - storage_provider: minio
        path: mask-detector/intermediate
  # second stage
  - my_oscar:
      name: mask-detector
      memory: 1Gi
      cpu: '1.0'
      script: mask-detector.sh
      image: grycap/mask-detector-yolo:full
      input:
      - storage_provider: minio
        path: mask-detector/intermediate
# the end
`

func edit(t testing.TB, text string, pos positions, op editOp) *state {
	t.Helper()
	st, err := applyEdit("w.yaml", editRequest{YAML: text, Positions: pos, Op: op})
	if err != nil {
		t.Fatalf("%s: %v", op.Kind, err)
	}
	return st
}

// TestEditRoundTripKeepsComments: a commented file edited as the canvas
// does (one field, one new link) differs from the original only in the
// changed and added lines.
func TestEditRoundTripKeepsComments(t *testing.T) {
	st := edit(t, commented, positions{}, editOp{Kind: "none"})
	v := "3Gi"
	st = edit(t, st.YAML, st.Positions, editOp{Kind: "set", Node: "oscar/my_oscar/mask-detector", Field: "memory", Value: &v})
	// Drop a new MinIO location and connect it as mask-detector's output.
	st = edit(t, st.YAML, st.Positions, editOp{Kind: "add-storage", Provider: "minio", Path: "mask-detector/result"})
	st = edit(t, st.YAML, st.Positions, editOp{Kind: "connect", Node: "oscar/my_oscar/mask-detector", Role: "output", Storage: "loose:minio:mask-detector/result", Provider: "minio", Path: "mask-detector/result"})

	want := strings.Replace(commented, "      memory: 1Gi\n", "      memory: 3Gi\n", 1)
	want = strings.Replace(want, "        path: mask-detector/intermediate\n# the end\n",
		"        path: mask-detector/intermediate\n      output:\n      - storage_provider: minio\n        path: mask-detector/result\n# the end\n", 1)
	if st.YAML != want {
		t.Errorf("got:\n%s\nwant:\n%s\ndiff: %v", st.YAML, want, lineDiff(want, st.YAML))
	}
	if len(st.Positions.Loose) != 0 {
		t.Errorf("the connected location is still loose: %+v", st.Positions.Loose)
	}
	if _, ok := st.Positions.Nodes["storage:minio@my_oscar:mask-detector/result"]; !ok {
		t.Errorf("the new location has no position: %v", st.Positions.Nodes)
	}
}

// TestEditRefusals: refused edits say why and change nothing.
func TestEditRefusals(t *testing.T) {
	cases := []struct {
		op   editOp
		want string
	}{
		{editOp{Kind: "connect", Node: "oscar/my_oscar/mask-detector", Role: "input", Provider: "s3.x", Path: "b/in"}, "cannot trigger"},
		{editOp{Kind: "add-function", Backend: "oscar", Cluster: "my_oscar", Name: "mask-detector"}, "exists already"},
		{editOp{Kind: "yaml", Text: "functions:\n  oscar:\n  - c:\n      name: x\n    image: y\n"}, "exactly one key"},
		{editOp{Kind: "yaml", Text: "apiVersion: v1\nkind: Pod\n"}, "not an FDL"},
		{editOp{Kind: "yaml", Text: "functions:\n  oscar:\n  - c:\n      name: x\n"}, "script"},
		{editOp{Kind: "bogus"}, "unknown edit"},
	}
	for _, c := range cases {
		_, err := applyEdit("w.yaml", editRequest{YAML: commented, Op: c.op})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.op, err, c.want)
		}
	}
}

func TestLineDiff(t *testing.T) {
	d := lineDiff("a\nb\nc\n", "a\nB\nc\nd\n")
	var got []string
	for _, l := range d {
		got = append(got, l.Op+l.Text)
	}
	if strings.Join(got, "|") != " a|-b|+B| c|+d" {
		t.Errorf("diff = %q", got)
	}
}

// bigWorkflow is a chain of n OSCAR services linked through MinIO folders.
func bigWorkflow(n int) string {
	var b strings.Builder
	b.WriteString("# generated\nfunctions:\n  oscar:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - c:\n      name: f%d\n      image: busybox\n      cpu: '0.5'\n      memory: 256Mi\n      script: run.sh\n      input:\n      - storage_provider: minio\n        path: b/s%d\n      output:\n      - storage_provider: minio\n        path: b/s%d\n", i, i, i+1)
	}
	return b.String()
}

// BenchmarkCanvasEdit is the server time of one canvas edit (set a field,
// answer with text, graph, cards, positions and diagnostics) on a
// 200-function workflow; it reports the p99 too.
func BenchmarkCanvasEdit(b *testing.B) {
	st := edit(b, bigWorkflow(200), positions{}, editOp{Kind: "none"})
	text, pos := st.YAML, st.Positions
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := fmt.Sprintf("%dMi", 256+i%100)
		start := time.Now()
		st = edit(b, text, pos, editOp{Kind: "set", Node: fmt.Sprintf("oscar/c/f%d", i%200), Field: "memory", Value: &v})
		times = append(times, time.Since(start))
		text, pos = st.YAML, st.Positions
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
	_ = fdl.KindService
}
