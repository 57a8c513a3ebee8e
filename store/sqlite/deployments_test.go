package sqlite

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/store"
)

func openDeployments(t *testing.T) (*DB, *Deployments, store.User) {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "fdlstudio.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, _ := store.NewSealer(bytes.Repeat([]byte{3}, store.KeySize))
	alice, _ := db.UpsertUser(context.Background(), "iss", "alice", "Alice", "")
	return db, db.Deployments(sealer), alice
}

// TestDeploymentsJournal: a deployment is recorded with its functions,
// marked as it goes, superseded when a new one of the same workflow
// begins, and kept per owner; previous definitions are sealed at rest.
func TestDeploymentsJournal(t *testing.T) {
	ctx := context.Background()
	db, repo, alice := openDeployments(t)
	bob, _ := db.UpsertUser(ctx, "iss", "bob", "Bob", "")

	prev := []byte(`{"name":"b","storage_providers":{"s3":{"x":{"secret_key":"TOP-SECRET"}}}}`)
	d, err := repo.Begin(ctx, store.Deployment{OwnerID: alice.ID, User: "Alice", Workflow: "wf", Version: 3, Clusters: []string{"one"},
		Functions: []store.DeployedFunction{
			{Cluster: "one", FDLCluster: "edge", Name: "a", Action: "create", Applied: []byte(`{"name":"a"}`)},
			{Cluster: "one", FDLCluster: "edge", Name: "b", Action: "update", Previous: prev, Credentials: []byte(`{"environment.secrets.K":"SENT-SECRET"}`)},
		}})
	if err != nil || d.ID == 0 || d.Outcome != store.DeploymentRunning {
		t.Fatalf("begin = %+v, %v", d, err)
	}
	var raw, creds string
	if err := db.SQL().QueryRowContext(ctx, "SELECT previous_sealed, credentials_sealed FROM deployment_functions WHERE name = 'b'").Scan(&raw, &creds); err != nil ||
		strings.Contains(raw, "TOP-SECRET") || raw == "" || strings.Contains(creds, "SENT-SECRET") || creds == "" {
		t.Errorf("at rest: previous %q, credentials %q, %v: want both sealed", raw, creds, err)
	}
	if err := repo.Mark(ctx, d.ID, "one", "a", store.FunctionFailed, "image not allowed", nil); err != nil {
		t.Fatal(err)
	}
	if err := repo.Mark(ctx, d.ID, "one", "nope", store.FunctionDone, "", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark of an unknown function: %v", err)
	}
	got, err := repo.Get(ctx, alice.ID, d.ID)
	if err != nil || got.Version != 3 || got.User != "Alice" || !slices.Equal(got.Clusters, []string{"one"}) || len(got.Functions) != 2 {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if f := got.Functions[0]; f.Name != "a" || f.State != store.FunctionFailed || f.Message != "image not allowed" || string(f.Applied) != `{"name":"a"}` {
		t.Errorf("function a = %+v", f)
	}
	if f := got.Functions[1]; f.State != store.FunctionPlanned || !bytes.Equal(f.Previous, prev) || !strings.Contains(string(f.Credentials), "SENT-SECRET") {
		t.Errorf("function b = %+v", f)
	}
	if _, err := repo.Get(ctx, bob.ID, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob reads alice's deployment: %v", err)
	}

	// A new apply of the same workflow supersedes the running one.
	d2, err := repo.Begin(ctx, store.Deployment{OwnerID: alice.ID, Workflow: "wf", Version: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Finish(ctx, d2.ID, store.DeploymentApplied); err != nil {
		t.Fatal(err)
	}
	list, err := repo.List(ctx, alice.ID, "wf")
	if err != nil || len(list) != 2 || list[0].ID != d2.ID || list[0].Outcome != store.DeploymentApplied || list[0].FinishedAt.IsZero() ||
		list[1].Outcome != store.DeploymentInterrupted {
		t.Errorf("list = %+v, %v", list, err)
	}
	if l, _ := repo.List(ctx, bob.ID, "wf"); len(l) != 0 {
		t.Errorf("bob's list = %+v", l)
	}
}

// TestWorkflowClusterMap: the mapping is remembered per owner and
// workflow, updated and forgotten id by id.
func TestWorkflowClusterMap(t *testing.T) {
	ctx := context.Background()
	_, repo, alice := openDeployments(t)
	if err := repo.SetClusterMap(ctx, alice.ID, "wf", map[string]string{"edge": "one", "cloud": "two"}); err != nil {
		t.Fatal(err)
	}
	if err := repo.SetClusterMap(ctx, alice.ID, "wf", map[string]string{"edge": "three", "cloud": ""}); err != nil {
		t.Fatal(err)
	}
	m, err := repo.ClusterMap(ctx, alice.ID, "wf")
	if err != nil || len(m) != 1 || m["edge"] != "three" {
		t.Errorf("map = %v, %v", m, err)
	}
	if m, _ := repo.ClusterMap(ctx, alice.ID, "other"); len(m) != 0 {
		t.Errorf("another workflow's map = %v", m)
	}
}
