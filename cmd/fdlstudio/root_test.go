package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasHelp walks the command tree: --help on every
// command exits 0 and documents the exit statuses.
func TestEveryCommandHasHelp(t *testing.T) {
	var walk func(c *cobra.Command, path []string)
	n := 0
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
		var out, errb bytes.Buffer
		code := run(context.Background(), append(path, "--help"), env(nil), &out, &errb)
		if code != 0 || !strings.Contains(out.String(), "Usage:") || !strings.Contains(out.String(), "Exit status: 0 success; 1 failure") {
			t.Errorf("fdlstudio %s --help: exit %d\n%s%s", strings.Join(path, " "), code, out.String(), errb.String())
		}
		n++
	}
	root := newRoot(env(nil))
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	walk(root, nil)
	if n < 10 {
		t.Errorf("walked %d commands, want the whole tree", n)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var out bytes.Buffer
		if code := run(context.Background(), []string{"completion", shell}, env(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "fdlstudio") {
			t.Errorf("completion %s: exit %d, %d bytes", shell, code, out.Len())
		}
	}
	// Completion knows the sub-commands.
	var out bytes.Buffer
	run(context.Background(), []string{"__complete", "fdl", ""}, env(nil), &out, &out)
	for _, want := range []string{"validate", "graph", "export", "set", "migrate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("completing 'fdl ' lacks %s:\n%s", want, out.String())
		}
	}
}

// TestFlagsAfterArguments: flags may follow the arguments in every
// command, the case issue 11 names among them.
func TestFlagsAfterArguments(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte("oscar:\n  prod:\n    endpoint: https://oscar.example.org\n    auth_user: oscar\n    auth_password: TOPSECRET\n"), 0o600)
	data := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"clusters", "import", cfg, "--data-dir", data}, env(nil), &out, &errb); code != 0 {
		t.Fatalf("clusters import FILE --data-dir D: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "1 cluster(s) stored for local in "+data) {
		t.Errorf("output:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(data, "fdlstudio.db")); err != nil {
		t.Errorf("the store is not in --data-dir: %v", err)
	}
	// And before.
	out.Reset()
	if code := run(t.Context(), []string{"clusters", "import", "--dry-run", "--data-dir", data, cfg}, env(nil), &out, &errb); code != 0 || !strings.Contains(out.String(), "1 cluster(s) found") {
		t.Errorf("flags before: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"local", "credentials", "--data-dir", data}, env(nil), &out, &errb); code != 1 {
		t.Errorf("local credentials without a local cluster: exit %d, want 1", code)
	}
}

func TestExitStatuses(t *testing.T) {
	file := filepath.Join(exampleDir, "video-process.yaml")
	if _, err := os.Stat(file); err != nil {
		matches, _ := filepath.Glob(filepath.Join(exampleDir, "*.yaml"))
		file = matches[0]
	}
	for _, tt := range []struct {
		args []string
		want int
		says string
	}{
		{[]string{"fdl", "validate", file}, 0, ""},
		{[]string{"fdl", "graph", file, "--format", "gif"}, 2, `unknown --format "gif"`},
		{[]string{"fdl", "graph", "--nope", file}, 2, "unknown flag: --nope"},
		{[]string{"fdl", "export"}, 2, "give exactly one FDL file"},
		{[]string{"local", "credentials", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"serve", "--log-level", "loud"}, 2, "flag --log-level"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"help", "fdl"}, 0, ""},
	} {
		var out, errb bytes.Buffer
		code := run(t.Context(), tt.args, env(nil), &out, &errb)
		if code != tt.want || !strings.Contains(errb.String(), tt.says) {
			t.Errorf("fdlstudio %s: exit %d, stderr %q; want %d saying %q", strings.Join(tt.args, " "), code, errb.String(), tt.want, tt.says)
		}
		if tt.want == 2 && !strings.Contains(errb.String(), "--help' for usage") {
			t.Errorf("fdlstudio %s: no pointer to --help in %q", strings.Join(tt.args, " "), errb.String())
		}
	}
}
