package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// UpsertUser returns the user identified by issuer and subject, creating
// it on first sight and refreshing its name and e-mail otherwise.
func (s *DB) UpsertUser(ctx context.Context, issuer, subject, name, email string) (store.User, error) {
	now := time.Now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (issuer, subject, name, email, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (issuer, subject) DO UPDATE SET name = excluded.name, email = excluded.email`,
		issuer, subject, name, email, now.Unix())
	if err != nil {
		return store.User{}, fmt.Errorf("saving user %s/%s: %w", issuer, subject, err)
	}
	return s.userBy(ctx, "issuer = ? AND subject = ?", issuer, subject)
}

// User returns the user with the given ID, or store.ErrNotFound.
func (s *DB) User(ctx context.Context, id int64) (store.User, error) {
	return s.userBy(ctx, "id = ?", id)
}

// SetUserEntitlements records the group entitlements the user with
// this issuer and subject had when their identity provider was last
// asked (at login, refused or not, or token refresh). Someone who is no
// user yet is not recorded (nothing is created).
func (s *DB) SetUserEntitlements(ctx context.Context, issuer, subject string, entitlements []string, at time.Time) error {
	if entitlements == nil {
		entitlements = []string{}
	}
	data, err := json.Marshal(entitlements)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE users SET entitlements = ?, entitlements_at = ? WHERE issuer = ? AND subject = ?",
		string(data), at.Unix(), issuer, subject); err != nil {
		return fmt.Errorf("recording the entitlements of user %s/%s: %w", issuer, subject, err)
	}
	return nil
}

// scanEntitlements fills u's entitlements from their stored columns.
func scanEntitlements(u *store.User, data string, at int64) error {
	if err := json.Unmarshal([]byte(data), &u.Entitlements); err != nil {
		return fmt.Errorf("reading the entitlements of user %d: %w", u.ID, err)
	}
	u.EntitlementsAt = timeOrZero(at)
	return nil
}

func (s *DB) userBy(ctx context.Context, where string, args ...any) (store.User, error) {
	var u store.User
	var created, entsAt int64
	var ents string
	err := s.db.QueryRowContext(ctx, "SELECT id, issuer, subject, name, email, created_at, entitlements, entitlements_at FROM users WHERE "+where, args...).
		Scan(&u.ID, &u.Issuer, &u.Subject, &u.Name, &u.Email, &created, &ents, &entsAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, err
	}
	u.CreatedAt = time.Unix(created, 0)
	return u, scanEntitlements(&u, ents, entsAt)
}
