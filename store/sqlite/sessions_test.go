package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "fdlstudio.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	alice, err := db.UpsertUser(ctx, "https://idp.example", "alice", "Alice", "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	in := store.Session{
		IDHash: "h1", PublicID: "p1", UserID: alice.ID, Mode: "oidc",
		VOs: []string{"vo.access.egi.eu", "biomed"}, CSRFToken: "csrf", Secrets: "v1:sealed",
		TokenExpiry: now.Add(time.Hour), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour),
	}
	if err := db.CreateSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, in); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second CreateSession with the same ID: err = %v, want ErrConflict", err)
	}
	got, err := db.Session(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if got.User.Name != "Alice" || got.User.Email != "alice@example.org" || got.UserID != alice.ID {
		t.Errorf("session user = %+v", got.User)
	}
	if !slices.Equal(got.VOs, in.VOs) || got.CSRFToken != "csrf" || got.Secrets != "v1:sealed" || got.Mode != "oidc" {
		t.Errorf("session = %+v", got)
	}
	if !got.TokenExpiry.Equal(in.TokenExpiry) || !got.ExpiresAt.Equal(in.ExpiresAt) {
		t.Errorf("times: token %v expires %v", got.TokenExpiry, got.ExpiresAt)
	}

	later := now.Add(time.Minute)
	if err := db.TouchSession(ctx, "h1", later); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateSessionSecrets(ctx, "h1", "v1:new", later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Session(ctx, "h1")
	if !got.LastSeenAt.Equal(later) || got.Secrets != "v1:new" || !got.TokenExpiry.Equal(later.Add(time.Hour)) {
		t.Errorf("after touch and update: %+v", got)
	}

	if err := db.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session: err = %v, want ErrNotFound", err)
	}
	if err := db.TouchSession(ctx, "h1", later); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("touching a deleted session: err = %v", err)
	}
}

// TestAnotherUsersSessionIsRefused: ending a session by its public ID
// works only for its owner; for anyone else it does not exist.
func TestAnotherUsersSessionIsRefused(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	alice, _ := db.UpsertUser(ctx, "iss", "alice", "Alice", "")
	mallory, _ := db.UpsertUser(ctx, "iss", "mallory", "Mallory", "")
	now := time.Now()
	if err := db.CreateSession(ctx, store.Session{IDHash: "ha", PublicID: "pa", UserID: alice.ID, Mode: "oidc",
		CSRFToken: "x", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUserSession(ctx, mallory.ID, "pa"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mallory ending alice's session: err = %v, want ErrNotFound", err)
	}
	if _, err := db.Session(ctx, "ha"); err != nil {
		t.Errorf("alice's session after mallory's attempt: %v", err)
	}
	if list, _ := db.UserSessions(ctx, mallory.ID); len(list) != 0 {
		t.Errorf("mallory sees %d sessions, want 0", len(list))
	}
	if list, _ := db.UserSessions(ctx, alice.ID); len(list) != 1 || list[0].PublicID != "pa" {
		t.Errorf("alice's sessions = %+v", list)
	}
	if err := db.DeleteUserSession(ctx, alice.ID, "pa"); err != nil {
		t.Errorf("alice ending her own session: %v", err)
	}
}

func TestDeleteExpiredSessions(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	u, _ := db.UpsertUser(ctx, "iss", "u", "U", "")
	now := time.Unix(1_700_000_000, 0)
	for _, s := range []struct {
		id            string
		seen, expires time.Time
	}{
		{"live", now, now.Add(time.Hour)},
		{"past-absolute", now, now.Add(-time.Second)},
		{"idle", now.Add(-3 * time.Hour), now.Add(time.Hour)},
	} {
		if err := db.CreateSession(ctx, store.Session{IDHash: s.id, PublicID: s.id, UserID: u.ID, Mode: "oidc",
			CSRFToken: "x", CreatedAt: s.seen, LastSeenAt: s.seen, ExpiresAt: s.expires}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.DeleteExpiredSessions(ctx, now, now.Add(-2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2", n, err)
	}
	if _, err := db.Session(ctx, "live"); err != nil {
		t.Errorf("live session was deleted: %v", err)
	}
}
