package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fdlstudio/fdlstudio/store"
)

func TestWorkflowsVersionsConflictAndDrafts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fdlstudio.db")
	db, err := Open(ctx, path, WithSealer(testSealer))
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := db.UpsertUser(ctx, "iss", "alice", "Alice", "")
	bob, _ := db.UpsertUser(ctx, "iss", "bob", "Bob", "")
	repo := db.Workflows()

	w, err := repo.Create(ctx, alice.ID, "masks", "functions:\n", `{"nodes":{}}`, map[string]string{"a.sh": "echo"})
	if err != nil || w.Version != 1 || w.YAML != "functions:\n" {
		t.Fatalf("Create = %+v, %v", w, err)
	}
	if _, err := repo.Get(ctx, bob.ID, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Bob reads Alice's workflow: %v", err)
	}
	v2, err := repo.Save(ctx, alice.ID, w.ID, 1, "masks", "functions: {}\n", "", "empty the functions")
	if err != nil || v2 != 2 {
		t.Fatalf("Save = %d, %v", v2, err)
	}
	// A second tab still based on version 1 is refused.
	if _, err := repo.Save(ctx, alice.ID, w.ID, 1, "masks", "other\n", "", ""); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale save: %v, want ErrConflict", err)
	}
	if _, err := repo.Save(ctx, bob.ID, w.ID, 2, "x", "y", "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Bob saves Alice's workflow: %v", err)
	}
	if err := repo.SaveDraft(ctx, alice.ID, w.ID, 2, "functions:\n  oscar: []\n", `{"a":1}`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// The draft survives a restart.
	db, err = Open(ctx, path, WithSealer(testSealer))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	repo = db.Workflows()
	got, err := repo.Get(ctx, alice.ID, w.ID)
	if err != nil || got.Draft != "functions:\n  oscar: []\n" || got.DraftBase != 2 || got.DraftPositions != `{"a":1}` || got.YAML != "functions: {}\n" || got.Scripts["a.sh"] != "echo" {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	vs, err := repo.VersionList(ctx, alice.ID, w.ID)
	if err != nil || len(vs) != 2 {
		t.Fatalf("VersionList = %+v, %v", vs, err)
	}
	want := []store.WorkflowVersionInfo{
		{Version: 2, Author: "Alice", Message: "empty the functions", Size: len("functions: {}\n")},
		{Version: 1, Author: "Alice", Size: len("functions:\n")},
	}
	for i := range vs {
		if vs[i].CreatedAt.IsZero() {
			t.Errorf("version %d has no time", vs[i].Version)
		}
		vs[i].CreatedAt = want[i].CreatedAt
	}
	if !reflect.DeepEqual(vs, want) {
		t.Fatalf("VersionList = %+v, want %+v", vs, want)
	}
	if _, err := repo.VersionList(ctx, bob.ID, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Bob lists Alice's versions: %v", err)
	}
	if v, err := repo.Version(ctx, alice.ID, w.ID, 1); err != nil || v.YAML != "functions:\n" {
		t.Fatalf("Version 1 = %+v, %v", v, err)
	}
	if list, _ := repo.List(ctx, bob.ID); len(list) != 0 {
		t.Fatalf("Bob's list = %+v", list)
	}
	if err := repo.Delete(ctx, alice.ID, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.VersionList(ctx, alice.ID, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("versions after delete: %v", err)
	}
}

// TestVersionListBeforeAuthors: versions saved before migration 0012 have
// no author recorded; the list names the owner, and sizes count bytes.
func TestVersionListBeforeAuthors(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "fdlstudio.db"), WithSealer(testSealer))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	alice, _ := db.UpsertUser(ctx, "iss", "alice", "Alice", "")
	text := "functions:\n  oscar: [] # é\n"
	w, err := db.Workflows().Create(ctx, alice.ID, "old", text, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `UPDATE workflow_versions SET author_id = NULL`); err != nil {
		t.Fatal(err)
	}
	vs, err := db.Workflows().VersionList(ctx, alice.ID, w.ID)
	if err != nil || len(vs) != 1 || vs[0].Author != "Alice" || vs[0].Size != len(text) || vs[0].Message != "" {
		t.Fatalf("VersionList = %+v, %v", vs, err)
	}
}
