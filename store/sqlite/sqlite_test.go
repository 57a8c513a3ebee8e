package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/store"
)

func TestOpenMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fdlstudio.db")

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	list, err := listMigrations()
	if err != nil {
		t.Fatal(err)
	}
	want := list[len(list)-1].version
	if got, err := db.SchemaVersion(ctx); err != nil || got != want {
		t.Fatalf("SchemaVersion = %d, %v; want %d", got, err, want)
	}
	var mode string
	if err := db.SQL().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var timeout int
	if err := db.SQL().QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil || timeout != 5000 {
		t.Fatalf("busy_timeout = %d, %v; want 5000", timeout, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening applies nothing twice.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != len(list) {
		t.Fatalf("schema_migrations rows = %d, %v; want %d", n, err, len(list))
	}
}

func TestOpenRefusesSecondProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fdlstudio.db")
	first, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	// A second open takes a new file description, which conflicts with
	// the first flock exactly as another process would.
	_, err = Open(ctx, path)
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open error = %v; want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("message %q should name the file and the way out", err)
	}
}

func TestOpenUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a path under a file
		// instead, which no user can create.
		file := filepath.Join(t.TempDir(), "plain-file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(context.Background(), filepath.Join(file, "sub", "fdlstudio.db"))
		if err == nil || !strings.Contains(err.Error(), "plain-file") {
			t.Fatalf("Open under a file: err = %v; want an error naming the path", err)
		}
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), filepath.Join(dir, "fdlstudio.db"))
	if err == nil {
		t.Fatal("Open in a read-only directory succeeded")
	}
}

func TestUpsertUser(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "fdlstudio.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.UpsertUser(ctx, "https://issuer", "alice", "Alice", "a@x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.UpsertUser(ctx, "https://issuer", "alice", "Alice Liddell", "alice@x")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || b.Name != "Alice Liddell" || b.Email != "alice@x" {
		t.Fatalf("second upsert = %+v, first %+v", b, a)
	}
	other, _ := db.UpsertUser(ctx, "https://other", "alice", "Alice", "")
	if other.ID == a.ID {
		t.Fatal("same subject at another issuer is the same user")
	}
	if _, err := db.User(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("User(9999) = %v; want ErrNotFound", err)
	}
}
