package serviceform

import (
	"io"
	"strings"
	"testing"
)

func TestReadScriptFile(t *testing.T) {
	open := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	tests := []struct {
		name, in, want, msg string
		size                int64
	}{
		{"crlf", "echo a\r\necho b", "echo a\necho b\n", "", 14},
		{"binary", "\x00\x01", "", "not UTF-8 text", 2},
		{"latin1", "caf\xe9", "", "not UTF-8 text", 4},
		{"too big", "x", "", "at most", maxScriptBytes + 1},
	}
	for _, tt := range tests {
		got, msg := ReadScriptFile(tt.size, open(tt.in))
		if got != tt.want || (tt.msg == "") != (msg == "") || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: got %q, %q; want %q, %q", tt.name, got, msg, tt.want, tt.msg)
		}
	}
}

const paneFDL = `# my service
functions:
  oscar:
  - edge: # the edge cluster
      name: s
      image: alpine # small
      memory: 256Mi
      script: |
        echo hi
      input:
      - storage_provider: minio.default
        path: s/in # in
`

// TestPaneEditsInPlace: the pane follows the form by editing the posted
// YAML, keeping its comments, and writes the service anew only when the
// posted YAML cannot be edited.
func TestPaneEditsInPlace(t *testing.T) {
	f := FromService("edge", mustParse(t, paneFDL))
	if f.Memory != "256Mi" || len(f.Inputs) != 1 {
		t.Fatalf("form = %+v", f)
	}
	f.Memory, f.Image = "1Gi", "debian"
	f.Inputs[0].Path = "s/input"
	text, diags, err := Pane(f, false, paneFDL)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("memory: 256Mi", "memory: 1Gi", "image: alpine #", "image: debian #", "path: s/in #", "path: s/input #").Replace(paneFDL)
	if text != want {
		t.Errorf("pane =\n%s\nwant\n%s", text, want)
	}
	for _, d := range diags {
		if d.Severity == "error" {
			t.Errorf("diagnostic %+v", d)
		}
	}

	// Another cluster: the item's key is renamed in place.
	f.Cluster = "cloud"
	if text, _, _ = Pane(f, false, want); text != strings.Replace(want, "- edge: #", "- cloud: #", 1) {
		t.Errorf("after a cluster change the pane is\n%s", text)
	}
	// Nothing usable posted: written anew.
	for _, prev := range []string{"", "not: [yaml", "functions: {oscar: []}\n"} {
		text, _, err := Pane(f, false, prev)
		if err != nil || !strings.Contains(text, "- cloud:\n        name: s\n") || strings.Contains(text, "#") {
			t.Errorf("prev %q: pane = %q, %v; want the service written anew", prev, text, err)
		}
	}
}

// TestApplyYAMLBlanksCredentialsInPlace: Apply YAML shows the user's text
// back with every credential in it blank and the rest as written; the
// form keeps the credentials (in its carry) for the save.
func TestApplyYAMLBlanksCredentialsInPlace(t *testing.T) {
	src := paneFDL + `storage_providers:
  minio:
    ext: # theirs
      endpoint: https://m.example.org
      access_key: AK-1 # keep me secret
      secret_key: "SK-2"
clusters:
  edge:
    endpoint: https://edge.example.org
    auth_user: oscar
    auth_password: PW-3
`
	f, pane, _, err := ApplyYAML(templatesForm(), []byte(src), false)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("access_key: AK-1 #", `access_key: "" #`, `secret_key: "SK-2"`, `secret_key: ""`, "auth_password: PW-3", `auth_password: ""`).Replace(src)
	if pane != want {
		t.Errorf("pane =\n%s\nwant\n%s", pane, want)
	}
	svc, errs := ToService(f, false)
	if len(errs) > 0 {
		t.Fatalf("errors %v", errs)
	}
	if svc.StorageProviders.MinIO["ext"].SecretKey != "SK-2" || svc.Clusters["edge"].AuthPassword != "PW-3" {
		t.Errorf("the form lost the credentials it was given: %+v %+v", svc.StorageProviders, svc.Clusters)
	}
}

// TestFieldKeys: diagnostics below the service land on the form control
// of their field, list items on the row they came from.
func TestFieldKeys(t *testing.T) {
	idx := rowIndex{"input": {0, 2}}
	for rest, want := range map[string]string{
		"memory": "memory", "expose.api_port[1]": "expose.api_port", "input[1].path": "input[2].path",
		"input[0]": "input[0].path", "mount": "mount.path", "kserve.type": "", "output[3].suffix": "output[3].suffix",
	} {
		if got := fieldKey(rest, idx); got != want {
			t.Errorf("fieldKey(%q) = %q, want %q", rest, got, want)
		}
	}
}

// TestToServiceErrors: what cannot be read is named per field, and the
// rest of the service is still built.
func TestToServiceErrors(t *testing.T) {
	f := templatesForm()
	f.Name, f.Memory, f.SyncMinScale = "Bad_Name", "2Gi", "two"
	f.Expose.APIPorts = "8080, 70000"
	s, errs := ToService(f, false)
	for _, k := range []string{"name", "synchronous.min_scale", "expose.api_port"} {
		if errs[k] == "" {
			t.Errorf("no error for %s (errors: %v)", k, errs)
		}
	}
	if s.Memory != "2Gi" || s.Image != "alpine" {
		t.Errorf("service = %+v", s)
	}
}
