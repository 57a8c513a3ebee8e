package fdl

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files (review them before committing)")

// exampleFiles returns the reference FDL files copied from the OSCAR and
// SCAR repositories (../shared/reference/fdl-examples).
func exampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no reference examples in testdata/examples: %v", err)
	}
	return files
}

func mustParse(t testing.TB, name string, data []byte) *Document {
	t.Helper()
	d, err := Parse(name, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return d
}

// changedLines returns the lines that differ between a and b, which must
// have the same number of lines.
func changedLines(t *testing.T, a, b []byte) []string {
	t.Helper()
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	if len(la) != len(lb) {
		t.Fatalf("line count changed from %d to %d:\n%s", len(la), len(lb), b)
	}
	var diff []string
	for i := range la {
		if la[i] != lb[i] {
			diff = append(diff, la[i]+" => "+lb[i])
		}
	}
	return diff
}

func TestExamples(t *testing.T) {
	for _, f := range exampleFiles(t) {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d := mustParse(t, name, src)

			// Validates: warnings allowed, no errors.
			for _, diag := range d.Validate(ValidateOptions{}) {
				if diag.Severity == Error {
					t.Errorf("unexpected error: %s", diag)
				}
			}

			// Export is byte-identical.
			if !bytes.Equal(d.Bytes(), src) {
				t.Errorf("Bytes() differs from the input")
			}

			// Graph matches the reviewed golden file.
			got, err := json.MarshalIndent(d.Graph(), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".yaml")+".graph.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("golden file: %v (run go test -update and review it)", err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("graph differs from %s:\ngot:\n%s", golden, got)
			}

			// set changes exactly one line, and the model sees the new value.
			m := d.Model()
			var ref Ref
			var value string
			if len(m.Oscar) > 0 {
				ref, value = Ref{Cluster: m.Oscar[0].Cluster, Name: m.Oscar[0].Service.Name}, "3Gi"
			} else {
				ref, value = Ref{Name: m.AWS[0].Lambda.Name}, "2048"
			}
			edited, err := d.Set(ref, "memory", value)
			if err != nil {
				t.Fatalf("Set memory: %v", err)
			}
			diff := changedLines(t, src, edited.Bytes())
			if len(diff) != 1 || !strings.Contains(diff[0], value) {
				t.Errorf("Set memory=%s changed %d lines, want 1 containing the value: %q", value, len(diff), diff)
			}
			em := edited.Model()
			if len(m.Oscar) > 0 {
				if got := em.Oscar[0].Service.Memory; got != value {
					t.Errorf("memory after Set = %q, want %q", got, value)
				}
			} else if got := em.AWS[0].Lambda.Memory; got != 2048 {
				t.Errorf("lambda memory after Set = %d, want 2048", got)
			}
		})
	}
}
