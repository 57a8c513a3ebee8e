package sqlite

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/store"
)

func openClusters(t *testing.T) (*DB, *Clusters, store.User, store.User) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "fdlstudio.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, _ := store.NewSealer(bytes.Repeat([]byte{1}, store.KeySize))
	alice, _ := db.UpsertUser(ctx, "iss", "alice", "Alice", "")
	bob, _ := db.UpsertUser(ctx, "iss", "bob", "Bob", "")
	return db, db.Clusters(sealer), alice, bob
}

func TestClustersCRUDAndSealing(t *testing.T) {
	ctx := context.Background()
	db, repo, alice, bob := openClusters(t)

	c, err := repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "egi", Endpoint: "https://oscar.example",
		AuthKind: store.AuthBasic, Username: "oscar", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == 0 {
		t.Fatal("no ID")
	}
	// At rest the password is sealed.
	var raw string
	db.SQL().QueryRowContext(ctx, "SELECT password_sealed FROM clusters WHERE id = ?", c.ID).Scan(&raw)
	if raw == "" || strings.Contains(raw, "s3cret") {
		t.Fatalf("stored password %q is not sealed", raw)
	}
	got, err := repo.Get(ctx, alice.ID, "egi")
	if err != nil || got.Password != "s3cret" || got.Username != "oscar" {
		t.Fatalf("Get = %+v, %v", got, err)
	}

	// Names are per owner: Bob can use "egi" too, and cannot see Alice's.
	if _, err := repo.Create(ctx, store.Cluster{OwnerID: bob.ID, Name: "egi", Endpoint: "https://b", AuthKind: store.AuthToken}); err != nil {
		t.Fatalf("Bob's egi: %v", err)
	}
	if _, err := repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "egi", Endpoint: "https://c", AuthKind: store.AuthToken}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v, want ErrConflict", err)
	}
	if list, _ := repo.List(ctx, bob.ID); len(list) != 1 || list[0].Endpoint != "https://b" {
		t.Fatalf("Bob's list = %+v", list)
	}
	if err := repo.Delete(ctx, bob.ID, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}

	// An update without a password keeps the stored one, across a rename.
	got.Name, got.Password, got.Endpoint = "egi-prod", "", "https://oscar2.example"
	if err := repo.Update(ctx, "egi", got); err != nil {
		t.Fatal(err)
	}
	renamed, err := repo.Get(ctx, alice.ID, "egi-prod")
	if err != nil || renamed.Password != "s3cret" || renamed.Endpoint != "https://oscar2.example" {
		t.Fatalf("after update: %+v, %v", renamed, err)
	}
	if _, err := repo.Get(ctx, alice.ID, "egi"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old name still found: %v", err)
	}
	// Bob cannot update or delete Alice's cluster.
	if err := repo.Update(ctx, "egi-prod", store.Cluster{OwnerID: bob.ID, Name: "x", Endpoint: "https://x", AuthKind: store.AuthToken}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Bob updating Alice's: %v", err)
	}
	if err := repo.Delete(ctx, bob.ID, "egi-prod"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Bob deleting Alice's: %v", err)
	}
	if err := repo.Delete(ctx, alice.ID, "egi-prod"); err != nil {
		t.Fatal(err)
	}

	// A sealed value moved to another row does not open.
	a, _ := repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "a", Endpoint: "https://a", AuthKind: store.AuthBasic, Username: "u", Password: "pa"})
	repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "b", Endpoint: "https://b", AuthKind: store.AuthBasic, Username: "u", Password: "pb"})
	var sealedA string
	db.SQL().QueryRowContext(ctx, "SELECT password_sealed FROM clusters WHERE id = ?", a.ID).Scan(&sealedA)
	db.SQL().ExecContext(ctx, "UPDATE clusters SET password_sealed = ? WHERE owner_id = ? AND name = 'b'", sealedA, alice.ID)
	if _, err := repo.Get(ctx, alice.ID, "b"); !errors.Is(err, store.ErrUnseal) {
		t.Fatalf("moved secret: %v, want ErrUnseal", err)
	}
}
