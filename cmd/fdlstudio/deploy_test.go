package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeployToTheLocalCluster runs `fdlstudio deploy` on the sample
// workflow against the embedded local cluster of a data directory: the
// plan changes nothing, the apply creates both stages, a second apply has
// nothing to do, a changed field is one update, --delete removes both,
// and bad input exits 2.
func TestDeployToTheLocalCluster(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"wordcount.yaml", "count.sh", "top10.sh"} {
		data, err := os.ReadFile(filepath.Join("../../examples/wordcount", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wf := filepath.Join(dir, "wordcount.yaml")
	data := t.TempDir()
	deploy := func(args ...string) (int, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"deploy", wf}, append(args, "--data-dir", data)...), func(string) string { return "" }, &out, &errOut)
		return code, out.String() + errOut.String()
	}

	if code, out := deploy("--plan"); code != 0 || !strings.Contains(out, "2 to create, 0 to update, 0 to delete, 0 unchanged.") {
		t.Fatalf("--plan: exit %d\n%s", code, out)
	}
	if code, out := deploy("--yes"); code != 0 || !strings.Contains(out, "wc-count") || !strings.Contains(out, "wc-top10") {
		t.Fatalf("--yes: exit %d\n%s", code, out)
	}
	if code, out := deploy("--yes"); code != 0 || !strings.Contains(out, "0 to create, 0 to update, 0 to delete, 2 unchanged.") {
		t.Fatalf("second apply: exit %d\n%s", code, out)
	}

	y, err := os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(y), "memory: 256Mi", "memory: 512Mi", 1)
	if err := os.WriteFile(wf, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := deploy("--plan")
	if code != 0 || !strings.Contains(out, "0 to create, 1 to update, 0 to delete, 1 unchanged.") || !strings.Contains(out, "memory") {
		t.Fatalf("plan after a change: exit %d\n%s", code, out)
	}

	if code, out := deploy("--delete", "--yes"); code != 0 || !strings.Contains(out, "delete") {
		t.Fatalf("--delete: exit %d\n%s", code, out)
	}
	if code, out := deploy("--plan"); code != 0 || !strings.Contains(out, "2 to create") {
		t.Fatalf("plan after --delete: exit %d\n%s", code, out)
	}

	for name, args := range map[string][]string{
		"bad mapping":  {"--cluster", "nonsense", "--plan"},
		"unknown flag": {"--frobnicate"},
	} {
		if code, out := deploy(args...); code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", name, code, out)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"deploy", filepath.Join(dir, "missing.yaml"), "--plan", "--data-dir", data}, func(string) string { return "" }, &stdout, &stderr); code != 2 {
		t.Errorf("a missing file: exit %d, want 2\n%s%s", code, stdout.String(), stderr.String())
	}
}
