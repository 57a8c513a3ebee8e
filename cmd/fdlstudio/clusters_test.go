package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunClustersImport(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(good, []byte(`oscar:
  prod:
    endpoint: https://oscar.egi.eu
    auth_user: oscar
    auth_password: TOPSECRET
    ssl_verify: false
  egi:
    endpoint: https://oscar2.egi.eu
    oidc_refresh_token: REFRESHSECRET
default: egi
`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("oscar:\n  x:\n    endpoint: file:///etc/passwd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
		notInOut []string
	}{
		{name: "import", args: []string{"import", good}, wantCode: 0,
			wantOut:  []string{"prod", "https://oscar.egi.eu", "basic (user oscar)", "NO", "egi", "refresh-token", "2 cluster(s)"},
			notInOut: []string{"TOPSECRET", "REFRESHSECRET"}},
		{name: "invalid endpoint", args: []string{"import", bad}, wantCode: 1, wantErr: `line 3: cluster "x"`},
		{name: "missing file", args: []string{"import", filepath.Join(dir, "nope.yaml")}, wantCode: 1, wantErr: "nope.yaml"},
		{name: "no args", args: nil, wantCode: 2, wantErr: "usage"},
		{name: "no file", args: []string{"import"}, wantCode: 2, wantErr: "exactly one FILE"},
		{name: "unknown", args: []string{"export"}, wantCode: 2, wantErr: `unknown command "export"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runClusters(t.Context(), tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.notInOut {
				if strings.Contains(out.String()+errb.String(), w) {
					t.Errorf("output leaks secret %q", w)
				}
			}
			if tt.wantErr != "" && !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errb.String(), tt.wantErr)
			}
		})
	}
}
