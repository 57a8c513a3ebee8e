package fdl

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestComposeMaskDetector builds the two-stage mask-detector workflow from
// an empty document with the composer's operations and compares the model
// with the reference file's.
func TestComposeMaskDetector(t *testing.T) {
	doc, err := Parse("new.yaml", []byte("functions:\n"))
	if err != nil {
		t.Fatal(err)
	}
	step := func(d *Document, err error) *Document {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	doc = step(doc.AddFunction(NewFunction{Backend: "oscar", Cluster: "my_oscar", Name: "anon-and-split", Image: "grycap/blurry-faces", CPU: "1.0", Memory: "2Gi"}))
	doc = step(doc.AddFunction(NewFunction{Backend: "oscar", Cluster: "my_oscar", Name: "mask-detector", Image: "grycap/mask-detector-yolo:full", CPU: "1.0", Memory: "1Gi"}))
	a, m := Ref{Name: "anon-and-split"}, Ref{Name: "mask-detector"}
	doc = step(doc.Set(a, "script", "blurry-faces.sh"))
	doc = step(doc.Set(m, "script", "mask-detector.sh"))
	doc = step(doc.AddLink(a, "input", "minio", "mask-detector/input"))
	doc = step(doc.AddLink(a, "output", "minio", "mask-detector/intermediate"))
	doc = step(doc.AddLink(m, "input", "minio", "mask-detector/intermediate"))
	doc = step(doc.AddLink(m, "output", "minio", "mask-detector/result"))

	refData, err := os.ReadFile("testdata/examples/mask-detector-workflow_mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Parse("ref.yaml", refData)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Model().Oscar) != 2 {
		t.Fatalf("got %d services:\n%s", len(doc.Model().Oscar), doc.Bytes())
	}
	for i := range ref.Model().Oscar {
		got, want := doc.Model().Oscar[i], ref.Model().Oscar[i]
		if got.Cluster != want.Cluster || !reflect.DeepEqual(got.Service, want.Service) {
			t.Errorf("service %d:\n got %+v\nwant %+v\n%s", i, got.Service, want.Service, doc.Bytes())
		}
	}
	if g, w := doc.Graph(), ref.Graph(); !reflect.DeepEqual(g.Edges, w.Edges) {
		t.Errorf("edges %v, want %v", g.Edges, w.Edges)
	}
	if ds := doc.Validate(ValidateOptions{}); ds.HasErrors() {
		t.Errorf("built workflow does not validate: %v", ds)
	}
}

// TestComposeKeepsComments: a commented file edited (one field, one new
// link) changes only the edited lines.
func TestComposeKeepsComments(t *testing.T) {
	src := `# A commented workflow.
functions:
  # OSCAR services
  oscar:
  - my_oscar:
      name: stage-one   # first
      memory: 1Gi
      image: busybox
      input:
      # where files arrive
      - storage_provider: minio
        path: in/put
      output:
      - storage_provider: minio
        path: mid/dle # handed over
  # the second stage
  - my_oscar:
      name: stage-two
      image: busybox
      input:
      - storage_provider: minio
        path: mid/dle
# end
`
	doc, err := Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	doc, err = doc.Set(Ref{Name: "stage-one"}, "memory", "2Gi")
	if err != nil {
		t.Fatal(err)
	}
	doc, err = doc.AddLink(Ref{Name: "stage-two"}, "output", "minio", "out/put")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(src, "      memory: 1Gi\n", "      memory: 2Gi\n", 1)
	want = strings.Replace(want, "        path: mid/dle\n# end\n", "        path: mid/dle\n      output:\n      - storage_provider: minio\n        path: out/put\n# end\n", 1)
	if string(doc.Bytes()) != want {
		t.Errorf("got:\n%s\nwant:\n%s", doc.Bytes(), want)
	}
}

func TestComposeRemove(t *testing.T) {
	data, err := os.ReadFile("testdata/examples/mask-detector-workflow_mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse("m.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := doc.RemoveLink("functions.oscar[0].my_oscar.output[0]")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d2.Model().Oscar[0].Service.Output); got != 0 || d2.Model().Oscar[1].Service.Name != "mask-detector" {
		t.Errorf("after removing the link: %d outputs\n%s", got, d2.Bytes())
	}
	d3, err := doc.RemoveFunction(Ref{Name: "anon-and-split"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d3.Model().Oscar) != 1 || d3.Model().Oscar[0].Service.Name != "mask-detector" {
		t.Errorf("after removing the function:\n%s", d3.Bytes())
	}
	d4, err := d3.RemoveFunction(Ref{Name: "mask-detector"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d4.Model().Oscar) != 0 {
		t.Errorf("after removing both:\n%s", d4.Bytes())
	}
	if _, err := doc.AddLink(Ref{Name: "mask-detector"}, "input", "s3.x", "b/p"); err == nil || !strings.Contains(err.Error(), "cannot trigger") {
		t.Errorf("s3 input to OSCAR: %v", err)
	}
}
