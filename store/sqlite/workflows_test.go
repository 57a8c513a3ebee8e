package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fdlstudio/fdlstudio/store"
)

func TestWorkflowsVersionsConflictAndDrafts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fdlstudio.db")
	db, err := Open(ctx, path)
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
	v2, err := repo.Save(ctx, alice.ID, w.ID, 1, "masks", "functions: {}\n", "")
	if err != nil || v2 != 2 {
		t.Fatalf("Save = %d, %v", v2, err)
	}
	// A second tab still based on version 1 is refused.
	if _, err := repo.Save(ctx, alice.ID, w.ID, 1, "masks", "other\n", ""); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale save: %v, want ErrConflict", err)
	}
	if _, err := repo.Save(ctx, bob.ID, w.ID, 2, "x", "y", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Bob saves Alice's workflow: %v", err)
	}
	if err := repo.SaveDraft(ctx, alice.ID, w.ID, 2, "functions:\n  oscar: []\n", `{"a":1}`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// The draft survives a restart.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	repo = db.Workflows()
	got, err := repo.Get(ctx, alice.ID, w.ID)
	if err != nil || got.Draft != "functions:\n  oscar: []\n" || got.DraftBase != 2 || got.DraftPositions != `{"a":1}` || got.YAML != "functions: {}\n" || got.Scripts["a.sh"] != "echo" {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	vs, err := repo.Versions(ctx, alice.ID, w.ID)
	if err != nil || len(vs) != 2 || vs[0].Version != 2 || vs[1].YAML != "functions:\n" {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
	if list, _ := repo.List(ctx, bob.ID); len(list) != 0 {
		t.Fatalf("Bob's list = %+v", list)
	}
	if err := repo.Delete(ctx, alice.ID, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Versions(ctx, alice.ID, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("versions after delete: %v", err)
	}
}
