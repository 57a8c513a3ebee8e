package fdl

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const editSrc = `# workflow
functions:
  oscar:
  - c1:
      name: a   # first stage
      memory: 1Gi # keep me
      cpu: '1.0'
      image: "img:1"
      script: |
        echo hi
      expose:
        api_port: 8080
      environment:
        variables:
          K: v
      input:
      - storage_provider: minio
        path: a/in
  - c2:
      name: b
      image: img
      script: s.sh
  aws:
  - lambda:
      name: f
      memory: 512
      container:
        image: i
    batch:
      vcpus: 1
`

func TestSet(t *testing.T) {
	tests := []struct {
		name         string
		ref          Ref
		field, value string
		want         string // expected text replacing `from` in editSrc
		from         string
	}{
		{"plain keeps comment", Ref{Name: "a"}, "memory", "2Gi", "      memory: 2Gi # keep me\n", "      memory: 1Gi # keep me\n"},
		{"single quotes kept", Ref{Name: "a"}, "cpu", "2.0", "      cpu: '2.0'\n", "      cpu: '1.0'\n"},
		{"double quotes kept", Ref{Name: "a"}, "image", "img:2", "      image: \"img:2\"\n", "      image: \"img:1\"\n"},
		{"scalar to list", Ref{Name: "a"}, "expose.api_port", "[8080, 9090]", "        api_port: [8080, 9090]\n", "        api_port: 8080\n"},
		{"list item field", Ref{Name: "a"}, "input[0].path", "a/new", "        path: a/new\n", "        path: a/in\n"},
		{"block scalar replaced", Ref{Name: "a"}, "script", "run.sh", "      script: run.sh\n", "      script: |\n        echo hi\n"},
		{"add missing key", Ref{Name: "b"}, "memory", "1Gi", "      script: s.sh\n      memory: 1Gi\n", "      script: s.sh\n"},
		{"add nested chain", Ref{Name: "b"}, "expose.api_port", "[80]", "      script: s.sh\n      expose:\n        api_port: [80]\n", "      script: s.sh\n"},
		{"add map entry", Ref{Name: "a"}, "environment.variables.X", "y", "          K: v\n          X: y\n", "          K: v\n"},
		{"lambda field", Ref{Name: "f"}, "memory", "1024", "      memory: 1024\n", "      memory: 512\n"},
		{"aws block field", Ref{Name: "f"}, "batch.vcpus", "4", "      vcpus: 4\n", "      vcpus: 1\n"},
		{"cluster ref", Ref{Cluster: "c2", Name: "b"}, "image", "x", "      image: x\n      script: s.sh\n", "      image: img\n      script: s.sh\n"},
	}
	d := mustParse(t, "w.yaml", []byte(editSrc))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Set(tt.ref, tt.field, tt.value)
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if !strings.Contains(editSrc, tt.from) {
				t.Fatalf("test bug: %q not in source", tt.from)
			}
			want := strings.Replace(editSrc, tt.from, tt.want, 1)
			if string(got.Bytes()) != want {
				t.Errorf("got:\n%s\nwant:\n%s", got.Bytes(), want)
			}
			if string(d.Bytes()) != editSrc {
				t.Errorf("Set modified the original document")
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	d := mustParse(t, "w.yaml", []byte(editSrc))
	tests := []struct {
		ref          Ref
		field, value string
		want         string
	}{
		{Ref{Name: "zzz"}, "memory", "1", "no service or function"},
		{Ref{Name: "a"}, "memory", "[unclosed", "not valid YAML"},
		{Ref{Name: "a"}, "input[3].path", "x", "no list item 3"},
		{Ref{Name: "a"}, "memory.sub", "x", "not a mapping"},
		{Ref{Name: "a"}, "", "x", "empty part"},
	}
	for _, tt := range tests {
		if _, err := d.Set(tt.ref, tt.field, tt.value); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Set(%v, %q, %q) error = %v, want %q", tt.ref, tt.field, tt.value, err, tt.want)
		}
	}
}

func TestRemoveAndRoundTrip(t *testing.T) {
	d := mustParse(t, "w.yaml", []byte(editSrc))
	got, err := d.Remove(Ref{Name: "a"}, "expose")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(editSrc, "      expose:\n        api_port: 8080\n", "", 1)
	if string(got.Bytes()) != want {
		t.Errorf("Remove expose:\n%s", got.Bytes())
	}
	// Set then set back gives the original bytes.
	e1, err := d.Set(Ref{Name: "a"}, "memory", "8Gi")
	if err != nil {
		t.Fatal(err)
	}
	e2, err := e1.Set(Ref{Name: "a"}, "memory", "1Gi")
	if err != nil {
		t.Fatal(err)
	}
	if string(e2.Bytes()) != editSrc {
		t.Errorf("set and set back differs:\n%s", e2.Bytes())
	}
}

func TestSetCRLF(t *testing.T) {
	src := strings.ReplaceAll(svc(okSvc), "\n", "\r\n")
	d := mustParse(t, "w.yaml", []byte(src))
	got, err := d.Set(Ref{Name: "svc"}, "memory", "1Gi")
	if err != nil {
		t.Fatal(err)
	}
	if want := src + "      memory: 1Gi\r\n"; string(got.Bytes()) != want {
		t.Errorf("got %q, want %q", got.Bytes(), want)
	}
}

func TestMigrate(t *testing.T) {
	src := svc(okSvc + "      delegation: random\n      replicas:\n      - type: oscar\n        cluster_id: c2\n      expose:\n        port: 8080\n        nodePort: 30000\n      environment:\n        variables:\n          A: '1'\n        Variables:\n          A: old\n          B: '2'\n")
	d := mustParse(t, "w.yaml", []byte(src))
	m, changes, err := d.Migrate("v4.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) < 5 {
		t.Errorf("want at least 5 changes, got %v", changes)
	}
	s := m.Model().Oscar[0].Service
	if s.Federation == nil || s.Federation.Delegation != "random" || len(s.Federation.Members) != 1 || s.Federation.Members[0].ClusterID != "c2" {
		t.Errorf("federation = %+v", s.Federation)
	}
	if len(s.Replicas) != 0 || s.Delegation != "" {
		t.Errorf("legacy keys left: %+v %q", s.Replicas, s.Delegation)
	}
	if got := s.Expose.APIPort; len(got) != 1 || got[0] != 8080 || m.Model().Has(m.Model().Oscar[0].Path+".expose.port") {
		t.Errorf("expose.api_port = %v", got)
	}
	if n := m.Model().nodes[m.Model().Oscar[0].Path+".expose.nodePort"]; n == nil || n.Kind != yaml.SequenceNode {
		t.Errorf("nodePort not a list")
	}
	env := s.Environment
	if env.LegacyVariables != nil || env.Variables["A"] != "1" || env.Variables["B"] != "2" {
		t.Errorf("environment = %+v", env)
	}
	for _, diag := range m.Validate(ValidateOptions{}) {
		if strings.Contains(diag.Message, "migrate") {
			t.Errorf("legacy warning left after migrate: %s", diag)
		}
	}
	if _, _, err := d.Migrate("v5"); err == nil {
		t.Error("want error for unknown target")
	}
	clean := mustParse(t, "c.yaml", []byte(svc(okSvc)))
	if same, ch, _ := clean.Migrate("v4.1"); same != clean || len(ch) != 0 {
		t.Errorf("clean document changed: %v", ch)
	}
}
