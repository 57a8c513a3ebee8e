package sqlite

import (
	"bytes"
	"context"
	"database/sql"
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
	db.SQL().QueryRowContext(ctx, "SELECT credentials_sealed FROM clusters WHERE id = ?", c.ID).Scan(&raw)
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
	db.SQL().QueryRowContext(ctx, "SELECT credentials_sealed FROM clusters WHERE id = ?", a.ID).Scan(&sealedA)
	db.SQL().ExecContext(ctx, "UPDATE clusters SET credentials_sealed = ? WHERE owner_id = ? AND name = 'b'", sealedA, alice.ID)
	if _, err := repo.Get(ctx, alice.ID, "b"); !errors.Is(err, store.ErrUnseal) {
		t.Fatalf("moved secret: %v, want ErrUnseal", err)
	}
}

func TestClusterCredentialsBoundToEndpoint(t *testing.T) {
	ctx := context.Background()
	db, repo, alice, _ := openClusters(t)
	c, err := repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "egi", Endpoint: "https://oscar.example",
		AuthKind: store.AuthBasic, Username: "oscar", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	// Whoever can write the database but not read the key points the row
	// at a host of theirs: the password must not open for it.
	if _, err := db.SQL().ExecContext(ctx, "UPDATE clusters SET endpoint = 'https://evil.example' WHERE id = ?", c.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := repo.Get(ctx, alice.ID, "egi"); !errors.Is(err, store.ErrUnseal) {
		t.Fatalf("credentials opened for another endpoint: %+v, %v; want ErrUnseal", got, err)
	}
	// An edit that keeps the password cannot carry it over either.
	keep := store.Cluster{OwnerID: alice.ID, Name: "egi", Endpoint: "https://evil.example", AuthKind: store.AuthBasic, Username: "oscar"}
	if err := repo.Update(ctx, "egi", keep); !errors.Is(err, store.ErrUnseal) {
		t.Fatalf("update keeping an unopenable password: %v, want ErrUnseal", err)
	}
	if _, err := db.SQL().ExecContext(ctx, "UPDATE clusters SET endpoint = 'https://oscar.example' WHERE id = ?", c.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := repo.Get(ctx, alice.ID, "egi"); err != nil || got.Password != "s3cret" || got.Username != "oscar" {
		t.Fatalf("back on its endpoint: %+v, %v", got, err)
	}
	// A row whose secret does not open can be repaired with a new one.
	if _, err := db.SQL().ExecContext(ctx, "UPDATE clusters SET endpoint = 'https://moved.example' WHERE id = ?", c.ID); err != nil {
		t.Fatal(err)
	}
	fix := store.Cluster{OwnerID: alice.ID, Name: "egi", Endpoint: "https://oscar.example", AuthKind: store.AuthBasic, Username: "oscar", Password: "new"}
	if err := repo.Update(ctx, "egi", fix); err != nil {
		t.Fatalf("repairing with a new password: %v", err)
	}
	if got, err := repo.Get(ctx, alice.ID, "egi"); err != nil || got.Password != "new" {
		t.Fatalf("after repair: %+v, %v", got, err)
	}
	// The username is a credential too: not stored in the clear.
	var raw string
	db.SQL().QueryRowContext(ctx, "SELECT credentials_sealed FROM clusters WHERE id = ?", c.ID).Scan(&raw)
	if strings.Contains(raw, "oscar") {
		t.Fatalf("credentials stored readable: %q", raw)
	}
}

func TestClusterKinds(t *testing.T) {
	ctx := context.Background()
	_, repo, alice, _ := openClusters(t)
	// No kind is an OSCAR cluster, as every registration before kinds.
	if _, err := repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "o", Endpoint: "https://o", AuthKind: store.AuthToken}); err != nil {
		t.Fatal(err)
	}
	if c, err := repo.Get(ctx, alice.ID, "o"); err != nil || c.Kind != store.KindOSCAR {
		t.Fatalf("Get = %+v, %v; want kind oscar", c, err)
	}
	if _, err := repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "l", Kind: store.KindLocal, Endpoint: "http://127.0.0.1:1",
		AuthKind: store.AuthBasic, Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if c, err := repo.Get(ctx, alice.ID, "l"); err != nil || c.Kind != store.KindLocal || c.Password != "p" {
		t.Fatalf("Get = %+v, %v; want kind local with its password", c, err)
	}
	// An update without a kind keeps the stored one.
	if err := repo.Update(ctx, "l", store.Cluster{OwnerID: alice.ID, Name: "l", Endpoint: "http://127.0.0.1:2", AuthKind: store.AuthBasic, Username: "u"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := repo.Get(ctx, alice.ID, "l"); c.Kind != store.KindLocal || c.Password != "p" {
		t.Fatalf("after update: %+v", c)
	}
	for _, tc := range []struct {
		c    store.Cluster
		want string
	}{
		{store.Cluster{Name: "x", Kind: "nomad", AuthKind: store.AuthToken}, `cluster "x": unknown kind "nomad"`},
		{store.Cluster{Name: "y", AuthKind: "aws"}, `cluster "y": a oscar cluster does not take auth kind "aws" (want basic or token)`},
		{store.Cluster{Name: "z", Kind: store.KindLocal, AuthKind: store.AuthToken}, `a local cluster does not take auth kind "token"`},
	} {
		tc.c.OwnerID, tc.c.Endpoint = alice.ID, "https://x"
		if _, err := repo.Create(ctx, tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}

// TestMigrationFromSchema3 opens a database made by the schema before
// kinds (migrations 1-3, a password sealed the old way) and checks that
// its rows come through with their credentials, re-sealed to the row
// and endpoint, and that the CHECK on auth kinds is gone.
func TestMigrationFromSchema3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fdlstudio.db")
	sealer, _ := store.NewSealer(bytes.Repeat([]byte{7}, store.KeySize))

	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	list, err := listMigrations()
	if err != nil {
		t.Fatal(err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
	for _, m := range list {
		if m.version > 3 {
			break
		}
		mustExec(m.sql)
		mustExec("INSERT INTO schema_migrations VALUES (?, ?, 0)", m.version, m.name)
	}
	mustExec(`INSERT INTO users (id, issuer, subject, name, email, created_at) VALUES (5, 'iss', 'alice', 'Alice', '', 0)`)
	pw, err := sealer.Seal([]byte("s3cret"), "cluster:5:egi:password")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(`INSERT INTO clusters (id, owner_id, name, endpoint, auth_kind, username, password_sealed, insecure_tls, created_at, updated_at)
		VALUES (11, 5, 'egi', 'https://oscar.example', 'basic', 'oscar', ?, 1, 100, 200),
		       (12, 5, 'tok', 'https://t.example', 'token', '', '', 0, 100, 200)`, pw)
	old.Close()

	// Without the key the re-sealing cannot happen: the migration fails,
	// saying why, and leaves the schema as it was.
	if db, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "needs the secret key") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open without sealer = %v, want a 'needs the secret key' error", err)
	}

	db, err := Open(ctx, path, WithSealer(sealer))
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer db.Close()
	repo := db.Clusters(sealer)
	list2, err := repo.List(ctx, 5)
	if err != nil || len(list2) != 2 {
		t.Fatalf("List = %+v, %v", list2, err)
	}
	egi, tok := list2[0], list2[1]
	if egi.ID != 11 || egi.Kind != store.KindOSCAR || egi.AuthKind != store.AuthBasic || egi.Username != "oscar" ||
		egi.Password != "s3cret" || egi.Endpoint != "https://oscar.example" || !egi.InsecureTLS || egi.CreatedAt.Unix() != 100 || egi.UpdatedAt.Unix() != 200 {
		t.Errorf("migrated basic row = %+v", egi)
	}
	if tok.ID != 12 || tok.Kind != store.KindOSCAR || tok.AuthKind != store.AuthToken || tok.Username != "" || tok.Password != "" {
		t.Errorf("migrated token row = %+v", tok)
	}
	var cols []string
	rows, err := db.SQL().QueryContext(ctx, "SELECT name FROM pragma_table_info('clusters')")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		cols = append(cols, n)
	}
	rows.Close()
	if got := strings.Join(cols, ","); strings.Contains(got, "legacy") || strings.Contains(got, "password") || !strings.Contains(got, "kind") {
		t.Errorf("columns after migration: %s", got)
	}
	// The old CHECK is gone: another auth kind is the store's (Go) call.
	if _, err := db.SQL().ExecContext(ctx, "UPDATE clusters SET auth_kind = 'aws-keys' WHERE id = 12"); err != nil {
		t.Errorf("auth kind still constrained by the schema: %v", err)
	}
}

func TestAWSAccountKeysSealedAndKept(t *testing.T) {
	ctx := context.Background()
	db, repo, alice, _ := openClusters(t)
	c, err := repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "aws", Kind: store.KindAWS, Endpoint: "eu-west-1",
		AuthKind: store.AuthAWSKeys, Username: "AKIAEXAMPLE", Password: "wJalrXUtnFEMI"})
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	db.SQL().QueryRowContext(ctx, "SELECT credentials_sealed FROM clusters WHERE id = ?", c.ID).Scan(&raw)
	if raw == "" || strings.Contains(raw, "wJalrXUtnFEMI") || strings.Contains(raw, "AKIAEXAMPLE") {
		t.Fatalf("stored keys %q are not sealed", raw)
	}
	got, err := repo.Get(ctx, alice.ID, "aws")
	if err != nil || got.Username != "AKIAEXAMPLE" || got.Password != "wJalrXUtnFEMI" || got.Kind != store.KindAWS {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	// An edit without the secret keeps it.
	got.Password = ""
	if err := repo.Update(ctx, "aws", got); err != nil {
		t.Fatal(err)
	}
	if again, _ := repo.Get(ctx, alice.ID, "aws"); again.Password != "wJalrXUtnFEMI" {
		t.Errorf("after an edit without the secret, secret = %q", again.Password)
	}
	// The default chain stores no keys; basic auth is not an AWS way.
	got.AuthKind, got.Username = store.AuthAWSDefaultChain, ""
	if err := repo.Update(ctx, "aws", got); err != nil {
		t.Fatal(err)
	}
	if again, _ := repo.Get(ctx, alice.ID, "aws"); again.Password != "" || again.Username != "" {
		t.Errorf("default-chain account kept keys %+v", again)
	}
	if _, err := repo.Create(ctx, store.Cluster{OwnerID: alice.ID, Name: "bad", Kind: store.KindAWS, Endpoint: "eu-west-1", AuthKind: store.AuthBasic}); err == nil || !strings.Contains(err.Error(), "keys or default-chain") {
		t.Errorf("aws with basic auth: %v", err)
	}
}
