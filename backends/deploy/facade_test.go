package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// writeWorkflow writes an FDL file and the scripts into a new folder.
func writeWorkflow(t *testing.T, y string) string {
	t.Helper()
	dir := t.TempDir()
	for name, f := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "wf.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDeployCommand drives the function `fdlstudio deploy` calls: exit
// codes 0/1/2, --plan, --yes, the question, the remembered mapping,
// failure with rollback, --delete and bundles.
func TestDeployCommand(t *testing.T) {
	ctx := context.Background()
	c, _ := fakeOSCAR(t, true)
	w := &watched{Services: c}
	j, owner := journal(t)
	e := &deploy.Engine{Resolve: resolver(map[string]backends.Services{"mine": w}), Journal: j}
	secret := pipeline + "      - {storage_provider: s3.aws, path: archive/out}\nstorage_providers:\n  s3:\n    aws: {access_key: AK, secret_key: SK-NEVER-SHOWN}\n"
	path := writeWorkflow(t, secret)
	run := func(o deploy.DeployOptions) (int, string) {
		var out bytes.Buffer
		o.Out, o.OwnerID, o.Maps = &out, owner, j
		if o.Path == "" {
			o.Path = path
		}
		code := e.Deploy(ctx, o)
		if strings.Contains(out.String(), "SK-NEVER-SHOWN") {
			t.Errorf("a credential was printed:\n%s", out.String())
		}
		return code, out.String()
	}

	for _, bad := range []deploy.DeployOptions{
		{Path: filepath.Join(t.TempDir(), "missing.yaml"), Yes: true},
		{Clusters: []string{"edge"}, Yes: true},
		{Yes: true}, // edge is not mapped
	} {
		if code, out := run(bad); code != deploy.ExitBadInput || !strings.Contains(out, "error: ") {
			t.Errorf("%+v: exit %d, want 2:\n%s", bad, code, out)
		}
	}
	if code, out := run(deploy.DeployOptions{Yes: true}); !strings.Contains(out, `? needs a cluster: stage-a (FDL cluster "edge")`) || code != 2 {
		t.Errorf("unmapped: exit %d\n%s", code, out)
	}

	code, out := run(deploy.DeployOptions{Clusters: []string{"edge=mine"}, Plan: true})
	if code != deploy.ExitOK || !strings.Contains(out, "  + create     stage-a on mine (edge)\n") || !strings.Contains(out, "2 to create, 0 to update, 0 to delete, 0 unchanged.") {
		t.Errorf("--plan: exit %d\n%s", code, out)
	}
	if code, out := run(deploy.DeployOptions{Clusters: []string{"edge=mine"}}); code != deploy.ExitBadInput || !strings.Contains(out, "--yes") {
		t.Errorf("no one to ask and no --yes: exit %d\n%s", code, out)
	}
	if code, out := run(deploy.DeployOptions{Clusters: []string{"edge=mine"}, In: strings.NewReader("n\n")}); code != 0 || !strings.Contains(out, "Nothing was applied.") {
		t.Errorf("answered no: exit %d\n%s", code, out)
	}
	if m := w.mutations(); len(m) != 0 {
		t.Fatalf("the cluster changed before any apply: %v", m)
	}
	code, out = run(deploy.DeployOptions{Clusters: []string{"edge=mine"}, In: strings.NewReader("y\n")})
	if code != deploy.ExitOK || !strings.Contains(out, "[2/2] create stage-b on mine: done") || !strings.Contains(out, "Applied (deployment") {
		t.Errorf("apply: exit %d\n%s", code, out)
	}
	// The mapping is remembered: no --cluster needed, and nothing to do.
	if code, out := run(deploy.DeployOptions{Yes: true}); code != deploy.ExitOK || !strings.Contains(out, "Nothing to do.") {
		t.Errorf("re-apply: exit %d\n%s", code, out)
	}

	// A failing function: exit 1 with its message, and the rollback.
	v2 := strings.NewReplacer("      script: a.sh\n", "      script: b.sh\n",
		"storage_providers:\n", "  - edge:\n      name: stage-c\n      image: alpine\n      script: c.sh\nstorage_providers:\n").Replace(secret)
	if err := os.WriteFile(path, []byte(v2), 0o600); err != nil {
		t.Fatal(err)
	}
	w.fail = func(op, name string) error {
		if op == "create" && name == "stage-c" {
			return &backends.Error{Kind: backends.KindInvalid, Message: "quota exceeded"}
		}
		return nil
	}
	code, out = run(deploy.DeployOptions{In: strings.NewReader("y\ny\n")})
	if code != deploy.ExitFailed || !strings.Contains(out, "script: changed (2 lines → 2 lines)") || !strings.Contains(out, "failed: stage-c on mine: invalid: quota exceeded") || !strings.Contains(out, "Rolled back.") {
		t.Errorf("failure: exit %d\n%s", code, out)
	}
	if s, _ := c.GetService(ctx, "stage-a"); !strings.Contains(s.Script, "stage a") {
		t.Errorf("stage-a after the rollback: %q", s.Script)
	}
	w.fail = nil

	// --delete removes what the workflow created.
	code, out = run(deploy.DeployOptions{Delete: true, Yes: true})
	if code != deploy.ExitOK || !strings.Contains(out, "  - delete     stage-a on mine (edge)\n") || !strings.Contains(out, "deletes bucket") {
		t.Errorf("--delete: exit %d\n%s", code, out)
	}
	if _, err := c.GetService(ctx, "stage-b"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("stage-b after --delete: %v", err)
	}

	// A bundle deploys like the file it holds.
	doc, err := fdl.Parse("wf.yaml", []byte(pipeline))
	if err != nil {
		t.Fatal(err)
	}
	b, err := fdl.NewBundle(doc, scripts)
	if err != nil {
		t.Fatal(err)
	}
	var zip bytes.Buffer
	if err := b.WriteZip(&zip); err != nil {
		t.Fatal(err)
	}
	zpath := filepath.Join(t.TempDir(), "wf.zip")
	if err := os.WriteFile(zpath, zip.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := run(deploy.DeployOptions{Path: zpath, Clusters: []string{"edge=mine"}, Yes: true}); code != deploy.ExitOK {
		t.Errorf("bundle: exit %d\n%s", code, out)
	}
	if s, err := c.GetService(ctx, "stage-b"); err != nil || !strings.Contains(s.Script, "stage b") {
		t.Errorf("stage-b from the bundle: %v", err)
	}
}
