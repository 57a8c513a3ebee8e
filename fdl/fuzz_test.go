package fdl

import (
	"os"
	"testing"
)

// FuzzParse checks that no input makes the parser, validator, graph or
// layout panic, and that an unedited document round-trips byte for byte.
func FuzzParse(f *testing.F) {
	for _, file := range exampleFiles(f) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("functions:\n  oscar:\n  - c: {name: x, script: |\n  a\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if string(d.Bytes()) != string(data) {
			t.Fatal("Bytes() differs from the input")
		}
		d.Validate(ValidateOptions{})
		Layout(d.Graph())
	})
}

// FuzzSet checks that edits never panic and, when they succeed, produce a
// document that parses and carries the new value.
func FuzzSet(f *testing.F) {
	for _, file := range exampleFiles(f) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "memory", "2Gi")
	}
	f.Add([]byte(editSrc), "expose.api_port", "[1, 2]")
	f.Add([]byte(editSrc), "environment.variables.NEW", "'x # y'")
	f.Fuzz(func(t *testing.T, data []byte, field, value string) {
		d, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		m := d.Model()
		var ref Ref
		switch {
		case len(m.Oscar) > 0 && m.Oscar[0].Service.Name != "":
			ref = Ref{Cluster: m.Oscar[0].Cluster, Name: m.Oscar[0].Service.Name}
		case len(m.AWS) > 0 && m.AWS[0].Lambda != nil && m.AWS[0].Lambda.Name != "":
			ref = Ref{Name: m.AWS[0].Lambda.Name}
		default:
			return
		}
		e, err := d.Set(ref, field, value)
		if err != nil {
			return
		}
		if _, err := Parse("fuzz.yaml", e.Bytes()); err != nil {
			t.Fatalf("edited document does not parse: %v", err)
		}
	})
}
