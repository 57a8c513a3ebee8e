package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleDir = "../../fdl/testdata/examples"

func runFDLTest(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runFDL(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFDLValidateExitCodes(t *testing.T) {
	examples, _ := filepath.Glob(filepath.Join(exampleDir, "*.yaml"))
	if len(examples) == 0 {
		t.Fatal("no examples")
	}
	bad := writeFile(t, "bad.yaml", "functions:\n  oscar:\n  - c1:\n      name: Bad_Name\n      image: img\n      script: s.sh\n")
	notYAML := writeFile(t, "broken.yaml", "functions: [\n")
	// A mapping indented one space less, 20 lines into a commented file:
	// the refusal points at that line and its first character.
	deep := writeFile(t, "deep.yaml", "# workflow\n#\nfunctions:\n  oscar:\n  - c1:\n"+strings.Repeat("      # note\n", 15)+"      name: ok\n     image: img\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"examples have no errors", append([]string{"validate"}, examples...), 0, "warning:"},
		{"error with position", []string{"validate", bad}, 1, bad + ":4:13: error: service name \"Bad_Name\""},
		{"not YAML", []string{"validate", notYAML}, 1, "error: not YAML"},
		{"syntax error at its line", []string{"validate", deep}, 1, deep + ":22:6: error: not YAML: this line is indented by 5 spaces"},
		{"unreadable file", []string{"validate", filepath.Join(t.TempDir(), "missing.yaml")}, 2, ""},
		{"no files", []string{"validate"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runFDLTest(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d; out:\n%s", code, tt.wantCode, out)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, out)
			}
		})
	}
}

func TestFDLGraphFormats(t *testing.T) {
	file := filepath.Join(exampleDir, "video-process_video-process.yaml")
	code, out, errOut := runFDLTest(t, "graph", file, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var g struct {
		Nodes []struct{ ID, Kind string } `json:"nodes"`
		Edges []struct{ From, To, Role string }
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("graph JSON: %v", err)
	}
	if len(g.Nodes) != 5 || len(g.Edges) != 4 {
		t.Errorf("got %d nodes, %d edges; want 5 and 4", len(g.Nodes), len(g.Edges))
	}
	if _, out, _ := runFDLTest(t, "graph", "--format", "dot", file); !strings.Contains(out, `"oscar/oscar-cluster/split-video" -> "storage:minio@oscar-cluster:video-process/med"`) {
		t.Errorf("dot output lacks the split-video edge:\n%s", out)
	}
	if _, out, _ := runFDLTest(t, "graph", file, "--format", "svg"); !strings.HasPrefix(out, "<svg") || strings.Count(out, "<rect") != 5 {
		t.Errorf("svg output should have 5 boxes:\n%s", out)
	}
	if code, _, _ := runFDLTest(t, "graph", file, "--format", "png"); code != 2 {
		t.Errorf("unknown format exit = %d, want 2", code)
	}
}

func TestFDLExportSetMigrate(t *testing.T) {
	file := filepath.Join(exampleDir, "expose_services-jupyter_jupyter_expose_mount.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runFDLTest(t, "export", file); code != 0 || out != string(src) {
		t.Errorf("export exit %d; byte-identical = %v", code, out == string(src))
	}

	code, out, errOut := runFDLTest(t, "set", file, "--service", "jupyter", "--field", "memory", "--value", "4Gi")
	if code != 0 {
		t.Fatalf("set exit %d: %s", code, errOut)
	}
	want := strings.Replace(string(src), "memory: 2Gi", "memory: 4Gi", 1)
	if out != want {
		t.Errorf("set output:\n%s\nwant:\n%s", out, want)
	}
	if code, _, _ := runFDLTest(t, "set", file, "--service", "jupyter", "--field", "memory"); code != 2 {
		t.Errorf("set without --value exit = %d, want 2", code)
	}
	if code, _, errOut := runFDLTest(t, "set", file, "--service", "nope", "--field", "memory", "--value", "1Gi"); code != 1 || !strings.Contains(errOut, `no service or function named "nope"`) {
		t.Errorf("set unknown service exit = %d, stderr %q", code, errOut)
	}

	code, out, errOut = runFDLTest(t, "migrate", file, "--to", "v4.1")
	if code != 0 {
		t.Fatalf("migrate exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "api_port: [8888]") || !strings.Contains(out, "variables:") || !strings.Contains(errOut, "renamed environment.Variables") {
		t.Errorf("migrate output:\n%s\nstderr:\n%s", out, errOut)
	}
	if code, _, _ := runFDLTest(t, "migrate", file, "--to", "v3"); code != 2 {
		t.Errorf("migrate --to v3 exit = %d, want 2", code)
	}
}

func TestFDLUsage(t *testing.T) {
	if code, _, _ := runFDLTest(t); code != 2 {
		t.Errorf("no sub-command exit = %d, want 2", code)
	}
	if code, _, errOut := runFDLTest(t, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown sub-command exit = %d, stderr %q", code, errOut)
	}
}
