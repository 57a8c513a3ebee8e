package fdl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// breakExample returns a reference example with line n (1-based) replaced by
// repl (none deletes it). old must be on that line, so the case notices when
// the fixture changes under it.
func breakExample(t *testing.T, file string, n int, old string, repl ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if !strings.Contains(lines[n-1], old) {
		t.Fatalf("%s:%d is %q, expected it to contain %q", file, n, lines[n-1], old)
	}
	var out []string
	out = append(out, lines[:n-1]...)
	for _, r := range repl {
		out = append(out, r+"\n")
	}
	out = append(out, lines[n:]...)
	return []byte(strings.Join(out, ""))
}

// TestSyntaxErrorPosition breaks the reference examples the way people do
// and checks that the refusal points at the token where the structure
// broke, not at the enclosing block or a comment.
func TestSyntaxErrorPosition(t *testing.T) {
	const (
		scar = "scar_fdl-example.yaml" // 249 lines, mostly comments
		mask = "mask-detector-workflow_mask-detector-workflow.yaml"
	)
	tests := []struct {
		name      string
		src       []byte
		line, col int
		msg       string
	}{
		{"mapping indented one space less, deep in a commented file",
			breakExample(t, scar, 229, "      region: us-east-1", "     region: us-east-1"), 229, 6, "indented by 5 spaces"},
		{"mapping indented one space more, deep in a commented file",
			breakExample(t, scar, 240, "      secret_key: mpass", "       secret_key: mpass"), 240, 8, "indented by 7 spaces"},
		{"tab indentation",
			breakExample(t, mask, 16, "      name: mask-detector", "\tname: mask-detector"), 16, 1, "tab"},
		{"unclosed quote",
			breakExample(t, mask, 6, "      cpu: '1.0'", "      cpu: '1.0"), 6, 12, "opened here with ' is not closed"},
		{"unclosed flow sequence",
			breakExample(t, scar, 207, "        suffix:", "        suffix: [wav, srt"), 207, 17, "[ is never closed"},
		{"key without colon",
			breakExample(t, mask, 5, "      memory: 2Gi", "      memory 2Gi"), 5, 7, `"memory 2Gi" has no ':'`},
		{"duplicate key",
			breakExample(t, mask, 5, "      memory: 2Gi", "      memory: 2Gi", "      memory: 4Gi"), 6, 7, `key "memory" appears twice in this mapping (first at line 5)`},
		{"stray list item in a mapping",
			breakExample(t, scar, 237, "      verify: True", "      - verify: True"), 237, 7, "list item"},
		{"second colon in a value",
			breakExample(t, mask, 7, "      image: grycap/blurry-faces", "      image: grycap/blurry-faces: latest"), 7, 33, "second ': '"},
		// More real-world breakages. Each of the next four was reported at
		// the wrong place or with the wrong words before.
		{"a quote inside a plain value with a second colon, under a list item",
			breakExample(t, mask, 4, "      name: anon-and-split", `      name: anon"and: split`), 4, 21, "second ': '"},
		{"tab after a list dash",
			breakExample(t, mask, 10, "      - storage_provider: minio", "      -\tstorage_provider: minio"), 10, 8, "a tab separates"},
		{"a value starting with @",
			breakExample(t, mask, 4, "      name: anon-and-split", "      name: @anon"), 4, 13, "cannot start with '@'"},
		{"no space after the colon",
			breakExample(t, mask, 17, "      memory: 1Gi", "      memory:1Gi"), 17, 7, `"memory:1Gi" has no space after ':'`},
		{"list item among the keys of a deeper mapping",
			breakExample(t, scar, 210, "          - srt", "          - srt", "        - oops"), 211, 9, "where the mapping of line 207 expects"},
		{"key indented under a value, deep in a commented file",
			breakExample(t, scar, 20, "      region: us-east-1", "        region: us-east-1"), 20, 9, "indented by 8 spaces"},
		{"list item indented between two blocks",
			breakExample(t, mask, 15, "  - my_oscar:", "   - my_oscar:"), 15, 4, "indented by 3 spaces"},
		{"unclosed double quote",
			breakExample(t, mask, 7, "      image: grycap/blurry-faces", `      image: "grycap/blurry-faces`), 7, 14, `opened here with " is never closed`},
		{"unclosed flow mapping",
			breakExample(t, scar, 20, "      region: us-east-1", "      region: {a: 1"), 20, 15, "{ is never closed"},
		{"duplicate key in a nested mapping far down",
			breakExample(t, scar, 240, "      secret_key: mpass", "      secret_key: mpass", "      endpoint: again"), 241, 7, `key "endpoint" appears twice in this mapping (first at line 236)`},
		{"tab indentation deep in a commented file",
			breakExample(t, scar, 248, "      token: mytoken", "\t  token: mytoken"), 248, 1, "tab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("broken.yaml", tt.src)
			var diags Diagnostics
			if !errors.As(err, &diags) || len(diags) != 1 {
				t.Fatalf("want one refusal diagnostic, got %v", err)
			}
			d := diags[0]
			if d.Line != tt.line || d.Col != tt.col || !strings.Contains(d.Message, tt.msg) || !strings.HasPrefix(d.Message, "not YAML: ") {
				t.Errorf("got %s\nwant broken.yaml:%d:%d with a message containing %q", d, tt.line, tt.col, tt.msg)
			}
			if lines := strings.Split(string(tt.src), "\n"); strings.HasPrefix(strings.TrimSpace(lines[d.Line-1]), "#") {
				t.Errorf("points at a comment line: %q", lines[d.Line-1])
			}
		})
	}
}

// A document too large to bisect cheaply is refused at the line the parser
// names (BenchmarkParseSyntaxError measures the cost of locating).
func TestSyntaxErrorLargeDocument(t *testing.T) {
	var b strings.Builder
	b.WriteString("functions:\n  oscar:\n")
	for b.Len() <= maxLocateBytes {
		b.WriteString("  - c1:\n      name: svc\n      image: img\n")
	}
	b.WriteString("     bad: x\n")
	_, err := Parse("big.yaml", []byte(b.String()))
	var diags Diagnostics
	if !errors.As(err, &diags) || !strings.Contains(diags[0].Message, "not YAML") || diags[0].Line < 1 || diags[0].Line > strings.Count(b.String(), "\n") {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkParseSyntaxError is the cost of refusing the 249-line commented
// reference example broken 229 lines down, located by bisection.
func BenchmarkParseSyntaxError(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "examples", "scar_fdl-example.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	broken := []byte(strings.Replace(string(data), "      region: us-east-1\n  # MinIO", "     region: us-east-1\n  # MinIO", 1))
	for b.Loop() {
		if _, err := Parse("broken.yaml", broken); err == nil {
			b.Fatal("accepted")
		}
	}
}
