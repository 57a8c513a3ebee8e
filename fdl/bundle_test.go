package fdl

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
)

func TestBundleRoundTrip(t *testing.T) {
	src := svc("      name: svc\n      image: img\n      script: scripts/run.sh\n") + "  - c1:\n      name: two\n      image: img\n      script: |\n        #!/bin/sh\n        echo inline\n"
	doc := mustParse(t, "flow.yaml", []byte(src))
	dir := fstest.MapFS{"scripts/run.sh": {Data: []byte("echo run\n")}}
	b, err := NewBundle(doc, dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := b.WriteZip(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBundle(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "flow.yaml" || string(got.FDL) != src || string(got.Scripts["scripts/run.sh"]) != "echo run\n" || len(got.Scripts) != 1 {
		t.Errorf("bundle = %+v", got)
	}
	d2 := mustParse(t, got.Name, got.FDL)
	if diags := d2.Validate(ValidateOptions{Scripts: got.FS(), RequireScripts: true}); len(diags) != 0 {
		t.Errorf("bundle validates with %v", diags)
	}
	if _, err := NewBundle(doc, fstest.MapFS{}); err == nil || !strings.Contains(err.Error(), "scripts/run.sh") {
		t.Errorf("missing script error = %v", err)
	}
}

func TestReadBundleRefuses(t *testing.T) {
	mk := func(files map[string]string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, content := range files {
			w, _ := zw.Create(name)
			w.Write([]byte(content))
		}
		zw.Close()
		return buf.Bytes()
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not zip", []byte("hello"), "not a zip"},
		{"zip slip", mk(map[string]string{"a.yaml": "functions: {}", "../evil.sh": "x"}), "unsafe path"},
		{"no fdl", mk(map[string]string{"run.sh": "x"}), "no FDL"},
		{"two fdl", mk(map[string]string{"a.yaml": "functions: {}", "b.yml": "functions: {}"}), "several FDL"},
	}
	for _, tt := range tests {
		if _, err := ReadBundle(tt.data); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}
