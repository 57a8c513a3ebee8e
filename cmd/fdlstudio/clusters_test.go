package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
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
		{name: "dry run", args: []string{"import", "--dry-run", good}, wantCode: 0,
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

// TestClustersImportStores: the import stores the basic-auth cluster for
// the local user with its password sealed, and says why the OIDC one is
// skipped in local mode.
func TestClustersImportStores(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("oscar:\n  prod:\n    endpoint: https://oscar.example.org\n    auth_user: oscar\n    auth_password: TOPSECRET\n  egi:\n    endpoint: https://oscar2.example.org\n    oidc_refresh_token: R\n"), 0o600)
	data := filepath.Join(dir, "data")
	var out, errb bytes.Buffer
	if code := runClusters(t.Context(), []string{"import", "--data-dir", data, cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"skipped egi: it logs in with OpenID Connect", "1 cluster(s) stored"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// A second import skips what exists.
	out.Reset()
	runClusters(t.Context(), []string{"import", "--data-dir", data, cfg}, &out, &errb)
	if !strings.Contains(out.String(), "skipped prod: you already have a cluster of that name") {
		t.Errorf("second import:\n%s", out.String())
	}

	db, err := sqlite.Open(t.Context(), filepath.Join(data, "fdlstudio.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw, _ := os.ReadFile(filepath.Join(data, "fdlstudio.db"))
	if bytes.Contains(raw, []byte("TOPSECRET")) {
		t.Error("the password is stored in plain text")
	}
	key, err := store.LoadOrCreateKey(filepath.Join(data, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := store.NewSealer(key)
	u, err := db.UpsertUser(t.Context(), "local", "local", "Local user", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.Clusters(sealer).Get(t.Context(), u.ID, "prod")
	if err != nil || c.Password != "TOPSECRET" || c.Username != "oscar" || c.Endpoint != "https://oscar.example.org" {
		t.Fatalf("stored cluster = %+v, %v", c, err)
	}
}
