package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// TestAPITokenLifecycle: names are unique per user, a token is found by
// its hash with its user, last use is recorded, only its owner revokes
// it, and it goes with its user.
func TestAPITokenLifecycle(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	alice, _ := db.UpsertUser(ctx, "https://idp.example", "alice", "Alice", "alice@example.org")
	bob, _ := db.UpsertUser(ctx, "https://idp.example", "bob", "Bob", "")
	now := time.Unix(1_700_000_000, 0)
	tok := store.APIToken{UserID: alice.ID, Name: "laptop", Hash: "h1", Mode: "oidc", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	a, err := db.CreateAPIToken(ctx, tok)
	if err != nil || a.ID == 0 {
		t.Fatalf("create: %+v %v", a, err)
	}
	if _, err := db.CreateAPIToken(ctx, store.APIToken{UserID: alice.ID, Name: "laptop", Hash: "h2", Mode: "oidc", CreatedAt: now, ExpiresAt: now}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same name twice: %v", err)
	}
	if _, err := db.CreateAPIToken(ctx, store.APIToken{UserID: bob.ID, Name: "laptop", Hash: "h3", Mode: "oidc", CreatedAt: now, ExpiresAt: now}); err != nil {
		t.Errorf("another user's token of the same name: %v", err)
	}
	got, err := db.APITokenByHash(ctx, "h1")
	if err != nil || got.User.Subject != "alice" || got.Name != "laptop" || !got.ExpiresAt.Equal(now.Add(time.Hour)) || !got.LastUsedAt.IsZero() {
		t.Fatalf("by hash: %+v %v", got, err)
	}
	if err := db.TouchAPIToken(ctx, a.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err := db.APITokens(ctx, alice.ID)
	if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(now.Add(time.Minute)) || list[0].Hash != "" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := db.DeleteAPIToken(ctx, bob.ID, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob revoked alice's token: %v", err)
	}
	if err := db.DeleteAPIToken(ctx, alice.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.APITokenByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked token is found: %v", err)
	}
	if _, err := db.SQL().ExecContext(ctx, "DELETE FROM users WHERE id = ?", bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.APITokenByHash(ctx, "h3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted user's token is found: %v", err)
	}
}
